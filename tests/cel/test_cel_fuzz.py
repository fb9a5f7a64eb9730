"""Robustness: whatever text or data arrives, only socialflow's own errors come out.

- generated and mutated source strings make ``compile`` raise nothing but
  ``SourceError`` (``ParseError``/``CheckError``);
- evaluating any compiled expression on any activation raises nothing but
  ``EvalError``;
- Python internals are never reachable through field selection.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.lark import from_lark
from lark import Lark

import socialflow as sf

GRAMMAR = Path(__file__).resolve().parents[2] / "grammars" / "cel.lark"
SEEDS = [
    'msg.channel in ["twitter", "facebook"] && msg.sentiment < -0.3',
    'msg.text.containsAny(["refund", "broken"]) || size(msg.tags) > 2',
    "[1, 2, 3].map(x, x * 2).filter(y, y > 2).exists(z, z == 4)",
    '{"a": 1, "b": [true, null]}["b"][0] ? 1u : 2u',
    'timestamp("2026-01-01T00:00:00Z") + duration("1h") > now',
    "r'raw\\n' + b'\\x00'.size().string() + \"\\u00e9\"",
    "has(msg.author.verified) && !msg.author.verified",
]


class Odd:
    """A host object with attributes CEL must never reach."""

    secret = "leak"

    def __init__(self) -> None:
        self.x = 1


values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        st.text(max_size=5),
        st.binary(max_size=5),
        st.just(datetime(2026, 1, 1, tzinfo=UTC)),
        st.just(timedelta(seconds=5)),
        st.just(Odd()),
        st.just({1, 2}),
        st.just(object()),
        st.just(datetime(2026, 1, 1)),  # naive
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.text(max_size=3), inner, max_size=3),
        st.dictionaries(st.integers(), inner, max_size=2),
    ),
    max_leaves=8,
)
ACTIVATIONS = st.fixed_dictionaries(
    {"msg": values, "x": values, "now": values}, optional={"y": values}
)


def _mutate(text: str, data: st.DataObject) -> str:
    for _ in range(data.draw(st.integers(1, 4))):
        if not text:
            break
        i = data.draw(st.integers(0, len(text) - 1))
        op = data.draw(st.sampled_from(["delete", "insert", "replace", "swap"]))
        ch = data.draw(st.sampled_from(list("()[]{}.,:?!&|=<>+-*/%\"'\\ \nabcxyz019_`")))
        if op == "delete":
            text = text[:i] + text[i + 1 :]
        elif op == "insert":
            text = text[:i] + ch + text[i:]
        elif op == "replace":
            text = text[:i] + ch + text[i + 1 :]
        else:
            j = data.draw(st.integers(0, len(text) - 1))
            chars = list(text)
            chars[i], chars[j] = chars[j], chars[i]
            text = "".join(chars)
    return text


def _compile_only_source_errors(text: str, declarations: dict[str, str] | None = None) -> Any:
    try:
        return sf.cel.compile(text, declarations)
    except sf.SourceError:
        return None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_sources_raise_only_source_errors(data: st.DataObject) -> None:
    text = _mutate(data.draw(st.sampled_from(SEEDS)), data)
    _compile_only_source_errors(text)
    _compile_only_source_errors(text, {"msg": "dyn", "now": "timestamp"})


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(max_size=40))
def test_arbitrary_text_raises_only_source_errors(text: str) -> None:
    _compile_only_source_errors(text)


GRAMMAR_SOURCES = from_lark(
    Lark(GRAMMAR.read_text(encoding="utf-8"), parser="lalr", start="start"), start="start"
)
_ALL_CHECKS = list(HealthCheck)  # the lark strategy trips size/filter health checks


def _grammar_case(text: str, activation: dict[str, Any]) -> None:
    program = _compile_only_source_errors(text)
    if program is not None:
        with contextlib.suppress(sf.EvalError):
            program.evaluate(activation)


# hypothesis' lark strategy spends 0.25-1 s per example drawing; few here, more when slow
@settings(max_examples=15, deadline=None, suppress_health_check=_ALL_CHECKS)
@given(text=GRAMMAR_SOURCES, activation=ACTIVATIONS)
def test_grammar_generated_sources_and_any_activation(
    text: str, activation: dict[str, Any]
) -> None:
    _grammar_case(text, activation)


@pytest.mark.slow
@settings(max_examples=120, deadline=None, suppress_health_check=_ALL_CHECKS)
@given(text=GRAMMAR_SOURCES, activation=ACTIVATIONS)
def test_grammar_generated_sources_many(text: str, activation: dict[str, Any]) -> None:
    _grammar_case(text, activation)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), backend=st.sampled_from(["compiled", "interpreted"]))
def test_any_activation_raises_only_eval_errors(data: st.DataObject, backend: str) -> None:
    text = (
        _mutate(data.draw(st.sampled_from(SEEDS)), data)
        if data.draw(st.booleans())
        else data.draw(st.sampled_from(SEEDS))
    )
    try:
        program = sf.cel.compile(text, backend=backend)  # type: ignore[arg-type]
    except sf.SourceError:
        return
    with contextlib.suppress(sf.EvalError):
        program.evaluate(data.draw(ACTIVATIONS))


@pytest.mark.parametrize("backend", ["compiled", "interpreted"])
@pytest.mark.parametrize(
    "expr",
    [
        "msg.__class__",
        "msg.__dict__",
        "msg.__class__.__mro__",
        "x.__globals__",
        "''.__class__",
        "[].__class__",
        "msg.secret",
        "msg.x",
        "has(msg.__class__)",
        "msg['__class__']",
        "msg.get",
        "msg.keys",
    ],
)
@pytest.mark.parametrize("msg", [{}, Odd(), {"a": 1}])
def test_python_internals_are_unreachable(expr: str, backend: str, msg: Any) -> None:
    program = sf.cel.compile(expr, backend=backend)  # type: ignore[arg-type]
    if expr.startswith("has(") and isinstance(msg, dict):
        assert program.evaluate({"msg": msg, "x": Odd()}) is False  # a map without that key
        return
    with pytest.raises(sf.EvalError) as info:
        program.evaluate({"msg": msg, "x": Odd()})
    assert info.value.kind in (
        "no_such_key",
        "no_such_field",
        "no_matching_overload",
        "invalid_argument",
    )


def test_regex_is_linear_time() -> None:
    program = sf.cel.compile("text.matches('(a+)+$')")
    assert program.evaluate({"text": "a" * 50_000 + "b"}) is False


def test_limits() -> None:
    limits = sf.cel.Limits(max_iterations=1000, max_string_length=1000, max_nesting=20)
    with pytest.raises(sf.LimitExceededError) as info:
        sf.cel.compile("xs.map(x, xs.map(y, x)).size()", limits=limits).evaluate(
            {"xs": list(range(100))}
        )
    assert info.value.kind == "iteration_limit"
    with pytest.raises(sf.LimitExceededError) as info:
        sf.cel.compile("s + s + s + s + s + s", limits=limits).evaluate({"s": "x" * 300})
    assert info.value.kind == "size_limit"
    with pytest.raises(sf.ParseError) as parse_info:
        sf.cel.compile("-" * 5 + "(" + "[" * 30 + "1" + "]" * 30 + ")", limits=limits)
    assert isinstance(parse_info.value, sf.LimitExceededError)
    with pytest.raises(sf.SourceLimitError):
        sf.cel.compile("1 + " * 100 + "1", limits=sf.cel.Limits(max_source_length=50))
