"""Differential property test: socialflow's CEL vs. common-expression-language
(the Rust-backed peer, a dev extra), and interpreter vs. compiler.

Hypothesis generates expressions over ints, doubles, strings, bools, lists and
maps (literals and variables).  Both engines must return the same value with
the same CEL type, or both fail.  The peer's known deviations from the CEL
language definition are listed in ``PEER_BUGS`` with the reason and are
assumed away, never silently ignored.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import socialflow as sf

cel = pytest.importorskip("cel", reason="common-expression-language (dev extra) not installed")

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
SMALL_INT = st.integers(min_value=-1000, max_value=1000)
DOUBLE = st.floats(allow_nan=False, allow_infinity=False, width=64).filter(lambda x: abs(x) < 1e15)
TEXT = st.text(alphabet="abcxyz _-!é", max_size=8)


def _lit_int(n: int) -> str:
    return str(n) if n >= 0 else f"({n})"


def _lit_double(x: float) -> str:
    text = repr(float(x))
    if "e" in text or "inf" in text:
        text = f"{x:.17f}".rstrip("0")
        if text.endswith("."):
            text += "0"
    return text if not text.startswith("-") else f"({text})"


def _lit_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


ints = st.one_of(SMALL_INT.map(_lit_int), INT64.map(_lit_int), st.just("i"), st.just("j"))
doubles = st.one_of(DOUBLE.map(_lit_double), st.just("d"))
strings = st.one_of(TEXT.map(_lit_str), st.just("s"))
bools = st.one_of(st.sampled_from(["true", "false"]), st.just("b"))


@st.composite
def int_expr(draw: st.DrawFn, depth: int = 2) -> str:
    if depth == 0:
        return draw(ints)
    op = draw(st.sampled_from(["+", "-", "*", "/", "%", "leaf", "size", "neg", "cond", "int()"]))
    if op == "leaf":
        return draw(ints)
    if op == "size":
        return f"size({draw(st.one_of(strings, st.just('l'), st.just('m')))})"
    if op == "neg":
        return f"-({draw(int_expr(depth - 1))})"
    if op == "cond":
        return f"({draw(bool_expr(depth - 1))} ? {draw(int_expr(depth - 1))} : {draw(int_expr(depth - 1))})"
    if op == "int()":
        return f"int({draw(st.one_of(doubles, strings, ints))})"
    return f"({draw(int_expr(depth - 1))} {op} {draw(int_expr(depth - 1))})"


@st.composite
def double_expr(draw: st.DrawFn, depth: int = 2) -> str:
    if depth == 0:
        return draw(doubles)
    op = draw(st.sampled_from(["+", "-", "*", "/", "leaf", "double()"]))
    if op == "leaf":
        return draw(doubles)
    if op == "double()":
        return f"double({draw(st.one_of(ints, doubles))})"
    return f"({draw(double_expr(depth - 1))} {op} {draw(double_expr(depth - 1))})"


@st.composite
def string_expr(draw: st.DrawFn, depth: int = 2) -> str:
    if depth == 0:
        return draw(strings)
    op = draw(st.sampled_from(["+", "leaf", "string()"]))
    if op == "leaf":
        return draw(strings)
    if op == "string()":
        return f"string({draw(st.one_of(ints, strings, bools))})"
    return f"({draw(string_expr(depth - 1))} + {draw(string_expr(depth - 1))})"


@st.composite
def bool_expr(draw: st.DrawFn, depth: int = 2) -> str:
    if depth == 0:
        return draw(bools)
    kind = draw(
        st.sampled_from(["cmp", "eq", "logic", "not", "str", "in", "macro", "leaf", "mixed"])
    )
    if kind == "leaf":
        return draw(bools)
    if kind == "cmp":
        make = draw(st.sampled_from([int_expr, double_expr, string_expr]))
        op = draw(st.sampled_from(["<", "<=", ">", ">="]))
        return f"({draw(make(depth - 1))} {op} {draw(make(depth - 1))})"
    if kind == "mixed":
        op = draw(st.sampled_from(["==", "!=", "<", ">="]))
        return f"({draw(int_expr(depth - 1))} {op} {draw(double_expr(depth - 1))})"
    if kind == "eq":
        make = draw(st.sampled_from([int_expr, double_expr, string_expr, bool_expr]))
        op = draw(st.sampled_from(["==", "!="]))
        return f"({draw(make(depth - 1))} {op} {draw(make(depth - 1))})"
    if kind == "logic":
        op = draw(st.sampled_from(["&&", "||"]))
        return f"({draw(bool_expr(depth - 1))} {op} {draw(bool_expr(depth - 1))})"
    if kind == "not":
        return f"!({draw(bool_expr(depth - 1))})"
    if kind == "str":
        fn = draw(st.sampled_from(["contains", "startsWith", "endsWith"]))
        return f"{draw(string_expr(depth - 1))}.{fn}({draw(string_expr(depth - 1))})"
    if kind == "in":
        return draw(
            st.sampled_from([f"{draw(ints)} in l", f"{draw(strings)} in m", "i in [1, 2, 3]"])
        )
    macro = draw(st.sampled_from(["all", "exists", "exists_one"]))
    return f"l.{macro}(x, x {draw(st.sampled_from(['>', '<', '==']))} {draw(ints)})"


VARIABLES = st.fixed_dictionaries(
    {
        "i": SMALL_INT,
        "j": INT64,
        "d": DOUBLE,
        "s": TEXT,
        "b": st.booleans(),
        "l": st.lists(SMALL_INT, max_size=4),
        "m": st.dictionaries(TEXT, SMALL_INT, max_size=3),
    }
)

#: Known deviations of the peer (common-expression-language 0.10) from the CEL
#: language definition, each with a predicate on (expression, activation).
PEER_BUGS: dict[str, str] = {
    "overflow": "the peer does not always raise on 64-bit integer overflow",
    "string(double)": "the peer prints doubles in plain decimal (1e100 as 1 and 100 zeros, "
    "1e-6 as 0.000001); socialflow follows cel-go's shortest %g form (1e+100, 1e-06); the "
    "language definition leaves the format open",
    "string(bool)": "the peer has no `string(bool)` overload (langdef: string(bool) exists)",
    "size(non-ASCII)": "the peer's size(string) counts UTF-8 bytes, not code points (langdef)",
    "NaN ordering": "the peer raises `no such overload` when ordering NaN; langdef: false. "
    "Inside `&&`/`||` that error is not absorbed, so the peer reports the other operand's "
    "error instead (`(d / 0.0 < 0.0) && (i < 0 / 0)` is false; the peer: division by zero)",
}


def _kind(value: Any) -> str:
    return type(value).__name__


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    if isinstance(a, int) and isinstance(b, int):
        return int(a) == int(b) and (type(a) is sf.cel.UInt) == (type(b) is sf.cel.UInt)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def _peer(expr: str, activation: dict[str, Any]) -> tuple[bool, Any]:
    try:
        return True, cel.evaluate(expr, activation)
    except Exception as e:  # the peer raises its own error classes
        return False, e


def _ours(expr: str, activation: dict[str, Any], backend: str = "compiled") -> tuple[bool, Any]:
    try:
        return True, sf.cel.compile(expr, backend=backend).evaluate(activation)
    except sf.EvalError as e:
        return False, e


def _peer_bug(expr: str, peer: Any = None) -> str | None:
    if "string(" in expr and ("." in expr or "double" in expr):
        return "string(double)"
    if "string(" in expr and "Undefined variable or function: 'string'" in str(peer):
        return "string(bool)"
    return None


def _overflowish(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63


def _non_ascii(expr: str, activation: dict[str, Any]) -> bool:
    texts = [expr, activation["s"], *activation["m"]]
    return any(not t.isascii() for t in texts)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expr=st.one_of(bool_expr(), int_expr(), double_expr(), string_expr()), activation=VARIABLES)
def test_same_as_rust_cel(expr: str, activation: dict[str, Any]) -> None:
    assume(_peer_bug(expr) is None)
    assume(not ("size(" in expr and _non_ascii(expr, activation)))  # PEER_BUGS["size(non-ASCII)"]
    ok_peer, peer = _peer(expr, activation)
    ok_ours, ours = _ours(expr, activation)
    assume(_peer_bug(expr, peer) is None)
    if (
        not ok_peer
        and ok_ours
        and "/" in expr
        and ("No such overload" in str(peer) or "division by zero" in str(peer))
    ):
        assume(False)  # PEER_BUGS["NaN ordering"]: a division made a NaN (or inf) somewhere
    if ok_peer and _overflowish(peer):
        assume(False)  # PEER_BUGS["overflow"]
    if ok_peer and not ok_ours and ours.kind == "overflow":
        assume(False)  # PEER_BUGS["overflow"]: the peer wraps or saturates
    assert ok_peer == ok_ours, f"{expr!r} on {activation!r}: peer {peer!r}, socialflow {ours!r}"
    if ok_peer:
        assert _same(ours, peer), (
            f"{expr!r}: peer {peer!r} ({_kind(peer)}), socialflow {ours!r} ({_kind(ours)})"
        )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    expr=st.one_of(bool_expr(3), int_expr(3), double_expr(3), string_expr(3)), activation=VARIABLES
)
def test_interpreter_and_compiler_agree(expr: str, activation: dict[str, Any]) -> None:
    ok_c, compiled = _ours(expr, activation, "compiled")
    ok_i, interpreted = _ours(expr, activation, "interpreted")
    assert ok_c == ok_i, f"{expr!r}: compiled {compiled!r}, interpreted {interpreted!r}"
    if ok_c:
        assert _same(compiled, interpreted), expr
    else:
        assert compiled.kind == interpreted.kind, expr


@pytest.mark.slow
@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    expr=st.one_of(bool_expr(3), int_expr(3), double_expr(3), string_expr(3)), activation=VARIABLES
)
def test_same_as_rust_cel_many(expr: str, activation: dict[str, Any]) -> None:
    test_same_as_rust_cel.hypothesis.inner_test(expr, activation)  # type: ignore[attr-defined]
