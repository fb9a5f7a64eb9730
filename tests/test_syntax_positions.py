"""The parsers set node positions exactly as lark's ``propagate_positions`` does,
and their lean lexer gives lark's own tokens.

socialflow's parsers set positions with their own callbacks
(:func:`socialflow._syntax.lalr_parser`), which is faster; every span in
every error message comes from these positions, so they are compared, node
by node, with lark's own on every bundled rule file, every golden file and
grammar-generated CEL.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.lark import from_lark
from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedInput

from socialflow._syntax import grammar_text, lalr_parser, reference_parser
from socialflow.dsl.parser import normalise_text

ROOT = Path(__file__).resolve().parents[1]
RULE_FILES = sorted(
    [*ROOT.glob("examples/**/*.sf"), *ROOT.glob("tests/golden/*.sf"), *ROOT.glob("docs/**/*.sf")]
)


def _positions(tree: Tree[Any]) -> list[tuple[Any, ...]]:
    out = []
    for node in tree.iter_subtrees():
        meta = node.meta
        out.append(
            (
                node.data,
                meta.empty,
                getattr(meta, "start_pos", None),
                getattr(meta, "end_pos", None),
                getattr(meta, "container_start_pos", None),
                getattr(meta, "container_end_pos", None),
            )
        )
    return out


def _tokens(tree: Tree[Any]) -> list[tuple[Any, ...]]:
    return [
        (t.type, str(t), t.start_pos, t.end_pos)
        for t in tree.scan_values(lambda v: isinstance(v, Token))
    ]


def _error(e: UnexpectedInput) -> tuple[Any, ...]:
    token = getattr(e, "token", None)
    return (type(e), e.pos_in_stream, None if token is None else (token.type, str(token)))


def _same(grammar: str, text: str) -> None:
    """Our parser (lean lexer, lean positions) and lark's own give the same
    nodes, positions and tokens, or the same error at the same place."""
    failed = None
    try:
        ours = lalr_parser(grammar).parse(text)
    except UnexpectedInput as e:
        failed = _error(e)
    if failed is not None:
        with pytest.raises(UnexpectedInput) as theirs:
            reference_parser(grammar).parse(text)
        assert failed == _error(theirs.value)
        return
    reference = reference_parser(grammar).parse(text)
    assert _positions(ours) == _positions(reference)
    assert _tokens(ours) == _tokens(reference)


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_rule_files(path: Path) -> None:
    _same("socialflow.lark", normalise_text(path.read_text(encoding="utf-8")))


@pytest.mark.parametrize(
    "text",
    [
        'ruleset r\nrule a { when msg.x && then tag "t" }',
        'ruleset r\nrule a { when msg.x == "open then tag "t" }',
        "ruleset r\nrule a { when msg.x § 1 then stop }",
        "ruleset r\nrule rule { then stop }",
        "ruleset r\nrule a { when msg.rule == 1 && msg.when then stop }",
        'ruleset r\nqueue q\nrule a { then route q; tags "x" }',
        "ruleset r\nrule a { when (msg.x then stop }",
    ],
)
def test_broken_rule_files(text: str) -> None:
    _same("socialflow.lark", text)


def test_the_rule_files_are_found() -> None:
    assert len(RULE_FILES) >= 8


_CEL = Lark(grammar_text("cel.lark"), parser="lalr")
_ALL_CHECKS = list(HealthCheck)  # the lark strategy trips size/filter health checks


# hypothesis' lark strategy spends 0.25-1 s per example drawing: a few here, and
# many more from the cheap recursive strategy below
@settings(max_examples=10, deadline=None, suppress_health_check=_ALL_CHECKS)
@given(from_lark(_CEL))
def test_grammar_generated_cel(text: str) -> None:
    _same("cel.lark", text)


_leaf = st.sampled_from(["a", ".b", "1", "2.5", "3u", '"s"', "b'x'", "true", "null", "[]", "{}"])


def _wrap(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    two = st.tuples(inner, inner)
    return st.one_of(
        inner.map(lambda x: f"({x})"),
        inner.map(lambda x: f"!{x}"),
        inner.map(lambda x: f"-{x}"),
        inner.map(lambda x: f"{x}.f"),
        inner.map(lambda x: f"{x}.m({x}, )"),
        inner.map(lambda x: f"f({x})"),
        inner.map(lambda x: f"[{x}, ({x})]"),
        inner.map(lambda x: f"{{{x}: ({x})}}"),
        inner.map(lambda x: f"x.T{{f: {x}}}"),
        two.map(lambda p: f"{p[0]}[{p[1]}]"),
        two.map(lambda p: f"{p[0]} || {p[1]}"),
        two.map(lambda p: f"{p[0]} && ({p[1]})"),
        two.map(lambda p: f"{p[0]} <= {p[1]}"),
        two.map(lambda p: f"{p[0]} in {p[1]}"),
        two.map(lambda p: f"({p[0]}) * {p[1]} - {p[0]}"),
        st.tuples(inner, inner, inner).map(lambda p: f"{p[0]} ? {p[1]} : ({p[2]})"),
    )


@settings(max_examples=300, deadline=None)
@given(st.recursive(_leaf, _wrap, max_leaves=12))
def test_nested_cel(text: str) -> None:
    _same("cel.lark", text)


@pytest.mark.parametrize(
    "text",
    [
        "((a + b)) * c",
        "(a)",
        "f((x), [1, (2)], {(k): (v)})",
        "!(-(a.b[(c)]))",
        "a ? (b) : (c ? d : (e))",
        "[]",
        "{}",
        "x.y{}",
    ],
)
def test_parentheses_and_empty_brackets(text: str) -> None:
    _same("cel.lark", text)


@pytest.mark.parametrize("path", RULE_FILES[:6], ids=lambda p: str(p.relative_to(ROOT)))
def test_a_slice_parses_as_lark_parses_it(path: Path) -> None:
    """After a syntax error the DSL parser resumes at an offset of the text (a
    ``TextSlice``): positions there are the whole text's, as lark's own say."""
    from lark.utils import TextSlice

    text = normalise_text(path.read_text(encoding="utf-8"))
    start = next(
        (i + 1 for i, ch in enumerate(text) if ch == "\n" and text[i + 1 : i + 5] == "rule"), 0
    )
    failed = None
    try:
        ours = lalr_parser("socialflow.lark").parse(TextSlice(text, start, len(text)))
    except UnexpectedInput as e:
        failed = _error(e)
    if failed is not None:
        with pytest.raises(UnexpectedInput) as theirs:
            reference_parser("socialflow.lark").parse(TextSlice(text, start, len(text)))
        assert failed == _error(theirs.value)
        return
    reference = reference_parser("socialflow.lark").parse(TextSlice(text, start, len(text)))
    assert _positions(ours) == _positions(reference)
    assert _tokens(ours) == _tokens(reference)
