"""The constant-condition lint skips probing only expressions the probe could not
prove constant: a property test against probing everything."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

import socialflow as sf
from socialflow.cel.interpreter import evaluate as interpret
from socialflow.dsl.check.lints import _may_be_constant

leaf = st.sampled_from(
    ["true", "false", "1", "msg.a", "x", "int", "type(1) == int", "[]", "[1, 2]", "msg.tags"]
)


def _combine(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    pair = st.tuples(children, children)
    return st.one_of(
        pair.map(lambda p: f"({p[0]} && {p[1]})"),
        pair.map(lambda p: f"({p[0]} || {p[1]})"),
        st.tuples(children, children, children).map(lambda p: f"({p[0]} ? {p[1]} : {p[2]})"),
        children.map(lambda c: f"!{c}"),
        pair.map(lambda p: f"({p[0]} == {p[1]})"),
        pair.map(lambda p: f"{p[0]}.all(x, {p[1]})"),
        pair.map(lambda p: f"{p[0]}.exists(y, {p[1]})"),
        children.map(lambda c: f"size({c}) > 0"),
    )


expressions = st.recursive(leaf, _combine, max_leaves=8)


@settings(max_examples=500, deadline=None)
@given(expressions)
@example("[].all(x, msg.a)")  # a constant range may never run the body
@example("msg.a || true")
@example("(msg.a && false) || msg.b")
@example("true ? 1 == 1 : msg.a")
@example("type(1) == int")  # type names are not variables
def test_skipped_expressions_are_never_constant(text: str) -> None:
    try:
        program = sf.cel.compile(text, backend="interpreted")
    except sf.SourceError:
        return
    if _may_be_constant(program.ast):
        return
    try:
        value = interpret(program.ast, {}, sf.cel.Limits())
    except sf.SocialflowError:
        return
    assert type(value) is not bool, (text, value)
