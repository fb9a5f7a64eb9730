"""The compiled backend's fast path agrees with the general code and the interpreter.

Expressions are drawn from the shapes the fast path covers (field reads,
comparisons, string tests, logic, ternaries, ``has``, ``size``, ``lowerAscii``,
``matches``) and evaluated on activations whose fields hold anything a host
might send: the expected types, other types, NaN, bools where ints are
expected, unsigned ints, huge ints, nested maps, missing keys, a message that
is not a map.  The fast path may only ever return what the general code
returns; everywhere else it must hand over, so errors stay the same.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import socialflow as sf
from socialflow.cel.compiler import compile_general
from socialflow.cel.fastpath import fast_path
from socialflow.cel.values import UInt

FIELDS = ["a", "b", "n", "x", "t"]

str_lit = st.text(alphabet="abAB é_-!", max_size=4).map(lambda s: '"' + s + '"')
int_lit = st.sampled_from(["0", "1", "-3", "9223372036854775807", "-9223372036854775808"])
float_lit = st.sampled_from(["0.0", "-0.3", "1.5", "1e300", "2.0"])
field = st.sampled_from([f"msg.{f}" for f in FIELDS] + ["msg.m.k", "other"])
literal = st.one_of(str_lit, int_lit, float_lit, st.sampled_from(["true", "false", "null"]))
operand = st.one_of(field, literal)


@st.composite
def boolean(draw: st.DrawFn, depth: int = 3) -> str:
    shapes = ["compare", "eq", "in", "scan", "any", "has", "field", "size", "lower", "matches"]
    if depth > 0:
        shapes += ["and", "or", "not", "ternary"] * 2
    shape = draw(st.sampled_from(shapes))
    if shape in ("and", "or"):
        op = "&&" if shape == "and" else "||"
        parts = draw(st.lists(boolean(depth - 1), min_size=2, max_size=3))
        return "(" + f" {op} ".join(parts) + ")"
    if shape == "not":
        return f"!{draw(boolean(depth - 1))}"
    if shape == "ternary":
        return f"({draw(boolean(depth - 1))} ? {draw(boolean(depth - 1))} : {draw(boolean(depth - 1))})"
    if shape == "compare":
        op = draw(st.sampled_from(["<", "<=", ">", ">="]))
        return f"{draw(operand)} {op} {draw(operand)}"
    if shape == "eq":
        return f"{draw(operand)} {draw(st.sampled_from(['==', '!=']))} {draw(operand)}"
    if shape == "in":
        words = draw(st.lists(str_lit, min_size=1, max_size=3))
        return f"{draw(field)} in [{', '.join(words)}]"
    if shape == "scan":
        fn = draw(st.sampled_from(["contains", "startsWith", "endsWith", "containsWord"]))
        return f"{draw(field)}.{fn}({draw(st.one_of(str_lit, field))})"
    if shape == "any":
        fn = draw(st.sampled_from(["containsAny", "containsAll", "containsAnyWord"]))
        words = draw(st.lists(str_lit, min_size=1, max_size=3))
        return f"{draw(field)}.{fn}([{', '.join(words)}])"
    if shape == "has":
        return f"has({draw(field)}.k)" if draw(st.booleans()) else "has(msg.a)"
    if shape == "size":
        return f"size({draw(field)}) {draw(st.sampled_from(['>', '==', '<=']))} {draw(int_lit)}"
    if shape == "lower":
        return f"{draw(field)}.lowerAscii().contains({draw(str_lit)})"
    if shape == "matches":
        return f'{draw(field)}.matches("^[a-b]+")'
    return draw(field)  # a field used as a bool


value = st.one_of(
    st.text(alphabet="abAB é_-!ß", max_size=5),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.integers(min_value=0, max_value=2**64 - 1).map(UInt),
    st.lists(st.integers(-3, 3), max_size=3),
    st.dictionaries(st.sampled_from(["k", "z"]), st.integers(-3, 3), max_size=2),
)
message = st.one_of(
    st.dictionaries(st.sampled_from([*FIELDS, "m"]), value, max_size=6),
    value,  # not a map at all
)


def _outcome(fn: Any, activation: dict[str, Any]) -> tuple[str, Any]:
    try:
        result = fn(activation)
    except sf.EvalError as e:
        return ("error", e.kind)
    if isinstance(result, float) and math.isnan(result):
        return ("nan", None)
    return (type(result).__name__, result)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=boolean(), msg=message, other=value)
def test_fast_path_agrees_with_general_code_and_interpreter(
    text: str, msg: Any, other: Any
) -> None:
    try:
        compiled = sf.cel.compile(text)
    except sf.SourceError:
        return  # not valid CEL (a literal out of range, say): nothing to compare
    fast_source = fast_path(compiled.ast, sf.cel.Limits())
    if fast_source is not None:  # shallow: it must compile, without warnings
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            compile(fast_source[0], "<fast path>", "exec")
    interpreted = sf.cel.compile(text, backend="interpreted")
    general = compile_general(compiled.ast, sf.cel.Limits(), "general")
    activation = {"msg": msg, "other": other}
    fast = _outcome(compiled.evaluate, activation)
    assert fast == _outcome(general, activation), compiled.source()
    assert fast == _outcome(interpreted.evaluate, activation)


@pytest.mark.parametrize(
    "text",
    [
        'msg.channel in ["twitter", "email"] && msg.text.contains(" refund ") && msg.sentiment < -0.3',
        "msg.followers >= 5000 || has(msg.vip)",
        'msg.text.lowerAscii().containsAny(["refund", "broken"])',
        'msg.text.containsAnyWord(["refund"]) && !(msg.lang == "de")',
        "msg.verified ? msg.score > 0.5 : size(msg.text) < 10",
    ],
)
def test_rules_as_authors_write_them_take_the_fast_path(text: str) -> None:
    program = sf.cel.compile(text)
    assert hasattr(program.evaluate, "__socialflow_general__"), "expected a fast path"
    # the general code is compiled only when the fast path cannot decide
    general = program.evaluate.__socialflow_general__
    assert not general.built
    msg = {
        "channel": "email", "text": " refund now ", "sentiment": -0.5, "followers": 10,
        "lang": "en", "verified": True, "score": 0.7,
    }  # fmt: skip
    program.evaluate({"msg": msg})
    assert not general.built
    with pytest.raises(sf.EvalError):
        program.evaluate({"msg": {**msg, "text": 1, "verified": 1, "followers": "x"}})
    assert general.built


@pytest.mark.parametrize(
    "text",
    ["msg.n + 1 > 2", "msg.tags.exists(t, t == 'a')", "msg.list[0] == 1", "[msg.a, 1].size() > 1"],
)
def test_expressions_outside_the_fast_path_compile_the_general_code_only(text: str) -> None:
    program = sf.cel.compile(text)
    assert not hasattr(program.evaluate, "__socialflow_general__")
    assert "_cnt" in program.source() or "_on_error" in program.evaluate.__globals__


def test_a_charged_call_too_long_for_its_share_of_the_budget_hands_over() -> None:
    # two lowerAscii calls may each take half the budget: a longer text goes to
    # the general code, which charges it exactly (and raises cost_limit when over)
    limits = sf.cel.Limits(max_cost=1000)
    program = sf.cel.compile(
        'msg.a.lowerAscii().contains("x") || msg.b.lowerAscii().contains("x")', limits=limits
    )
    assert "<= 500" in program.source()
    assert program.evaluate({"msg": {"a": "x" * 400, "b": ""}}) is True
    with pytest.raises(sf.LimitExceededError) as info:
        program.evaluate({"msg": {"a": "y" * 600, "b": "y" * 600}})
    assert info.value.kind == "cost_limit"


def test_nesting_too_deep_for_python_still_compiles() -> None:
    text = "(" * 150 + "msg.a == 1" + ")" * 150
    nested = " && ".join(["(msg.a == 1 || !(msg.b == 2))"] * 40)
    deep = "!" * 200 + "true"
    for t in (text, nested, deep):
        program = sf.cel.compile(t)
        assert program.evaluate({"msg": {"a": 1, "b": 2}}) in (True, False)
