"""A syntax error stops only the declaration it is in: the rest of the file and
the other files of a bundle are still parsed and checked, and what only the
skipped declaration's absence causes is not reported."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import socialflow as sf
from socialflow.bundle import loads_many
from socialflow.dsl import ast
from socialflow.dsl.parser import parse_module, parse_module_recovering

HEADER = """ruleset recovery
schema Message { id: string, text: string, followers: int }
input msg: Message
queue care
"""


def codes(texts: list[tuple[str, str]]) -> list[tuple[str, str, int]]:
    """(file, code, line) of every diagnostic loading ``texts`` reports."""
    with pytest.raises(sf.SourceError) as caught:
        loads_many(texts)
    return [
        (d.span.source.name if d.span else "", d.code, d.span.line if d.span else 0)
        for d in caught.value.diagnostics
        if d.severity is sf.Severity.ERROR
    ]


def test_errors_of_every_file_are_reported_beside_a_syntax_error() -> None:
    broken = "rule a {\n  when msg.text ==\n  then route care\n}\n"
    wrong = 'rule b { when msg.followers > "1" then route care }\n'
    undeclared = "rule c { when true then route nowhere }\n"
    found = codes([("h.sf", HEADER), ("a.sf", broken), ("b.sf", wrong), ("c.sf", undeclared)])
    assert found == [
        ("a.sf", "syntax_error", 3),
        ("b.sf", "no_matching_overload", 1),
        ("c.sf", "undeclared_queue", 1),
    ]


def test_the_rest_of_the_file_is_checked_after_the_broken_declaration() -> None:
    text = HEADER + (
        "rule a { when msg.text == then route care }\n"
        "rule b { when msg.followers > 1 then route elsewhere }\n"
    )
    assert [c for _, c, _ in codes([("r.sf", text)])] == ["syntax_error", "undeclared_queue"]


@pytest.mark.parametrize(
    ("broken", "user"),
    [
        ('queue billing "Billing" "again"\n', "rule r { when true then route billing }"),
        ("queue billing (\n", "rule r { when true then route billing }"),
        ("sla fast { first_response }\n", "rule r { when true then route care; sla fast }"),
        ("escalation up { level }\n", "rule r { when true then route care; escalate up }"),
        ("rule other { when ( then route care }\n", 'test "t" { expect matched other }'),
    ],
)
def test_names_the_broken_declaration_declares_are_not_undeclared(broken: str, user: str) -> None:
    found = codes([("r.sf", HEADER + broken + user)])
    assert "undeclared" not in " ".join(c for _, c, _ in found)
    assert found[0][1] == "syntax_error"


def test_a_broken_schema_does_not_make_every_condition_wrong() -> None:
    text = (
        "ruleset s\nschema Message { id: string text: string }\ninput msg: Message\n"
        'queue care\nrule r { when msg.text.contains("x") then route care }\n'
    )
    assert [c for _, c, _ in codes([("s.sf", text)])] == ["syntax_error"]


def test_a_broken_input_does_not_make_every_condition_wrong() -> None:
    text = (
        "ruleset s\nschema Message { id: string }\ninput msg Message\n"
        'queue care\nrule r { when msg.id == "x" then route care }\n'
    )
    assert [c for _, c, _ in codes([("s.sf", text)])] == ["syntax_error"]


def test_an_indented_action_keyword_is_not_where_parsing_resumes() -> None:
    # `sla standard` at the start of a line inside the broken rule is an action
    text = HEADER + (
        "sla standard { first_response 1h }\n"
        "rule a {\n  when msg.text ==\n  then route care\n  sla standard\n}\n"
        "rule b { when true then route care }\n"
    )
    module, errors = parse_module_recovering(text, "r.sf")
    assert [d.code for d in errors] == ["syntax_error"]
    assert [getattr(d, "name", None) and d.name.text for d in module.decls][-1] == "b"


def test_without_errors_recovering_parses_as_the_plain_parser() -> None:
    text = HEADER + "rule r { when msg.followers > 10 then route care }\n"
    module, errors = parse_module_recovering(text, "r.sf")
    assert errors == ()
    assert module == parse_module(text, "r.sf")


def test_loading_still_fails_on_a_syntax_error() -> None:
    with pytest.raises(sf.ParseError):
        sf.loads(HEADER + "rule r { when then route care }\n", "r.sf")


def test_the_cli_reports_every_file(tmp_path: object, capsys: pytest.CaptureFixture[str]) -> None:
    from pathlib import Path

    from socialflow.cli import main

    folder = Path(str(tmp_path))
    (folder / "a.sf").write_text(HEADER + "rule r { when ( then route care }\n")
    (folder / "b.sf").write_text("rule s { when true then route missing }\n")
    assert main(["check", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "a.sf:5:" in err and "undeclared queue `missing`" in err
    assert err.rstrip().endswith("2 errors, 0 warnings")


_QUEUE_NAMES = st.lists(
    st.from_regex(r"q[a-z]{1,6}", fullmatch=True), min_size=2, max_size=8, unique=True
)


@settings(max_examples=60, deadline=None)
@given(names=_QUEUE_NAMES, data=st.data())
def test_every_declaration_but_the_broken_one_is_kept(
    names: list[str], data: st.DataObject
) -> None:
    broken = data.draw(st.sampled_from(names))
    garbage = data.draw(st.sampled_from([")", "{", "= 1", '"a" "b" "c"', "(", "}"]))
    lines = []
    for name in names:
        lines.append(f"queue {name}")
        lines.append(f"rule r_{name} {{ when true then route {name} }}")
        if name == broken:
            lines[-1] = f"rule r_{name} {{ when true then route {name} {garbage} }}"
    module, errors = parse_module_recovering("\n".join(lines) + "\n", "p.sf")
    assert errors and all(d.code == "syntax_error" for d in errors)
    kept = {d.name.text for d in module.decls if hasattr(d, "name")}
    assert kept >= set(names) | {f"r_{n}" for n in names if n != broken}


def _errors(*sources: tuple[str, str]) -> list[tuple[str, str, str]]:
    with pytest.raises(sf.SourceError) as caught:
        loads_many(list(sources))
    return [
        (d.code, d.span.location() if d.span else "", d.message)
        for d in caught.value.diagnostics
        if d.severity is sf.Severity.ERROR
    ]


def test_a_mistake_inside_a_closed_block_is_not_an_unclosed_bracket() -> None:
    """`then` forgotten on a line of its own: the block is closed further down,
    so the error is the word that came instead, not the `{`."""
    found = _errors(("t.sf", "queue q\nrule a {\n  when true\n  route q\n}\n"))
    assert found == [("syntax_error", "t.sf:4:3", "unexpected `route`")]
    stray = _errors(("t.sf", "queue q\nrule a { when true then route q ) }\n"))
    assert stray == [("syntax_error", "t.sf:2:33", "unexpected `)`")]
    really = _errors(
        ("t.sf", "queue q\nrule a {\n  when true then route q\n\nrule b { then route q }\n")
    )
    assert really[0][:2] == ("syntax_error", "t.sf:2:8") and "unclosed `{`" in really[0][2]


def test_a_declaration_after_an_unclosed_block_is_kept() -> None:
    found = _errors(
        (
            "t.sf",
            "queue q\nrule a { when true then route q\n"
            "sla standard { first_response 1h }\n"
            "rule b { when true then route q; sla standard }\n",
        )
    )
    assert [code for code, _, _ in found] == ["syntax_error"]


def test_parsing_does_not_resume_inside_a_string() -> None:
    text = (
        'queue q\nrule a { when msg == ) then respond """hi\n'
        'rule b { then route q }\n""" }\nrule b { then route q }\n'
    )
    module, errors = parse_module_recovering(text, "t.sf")
    assert [e.span.location() for e in errors if e.span] == ["t.sf:2:22"]
    assert [d.name.text for d in module.decls if isinstance(d, ast.RuleDecl)] == ["b"]


def test_a_broken_header_causes_no_layer_errors() -> None:
    hub = 'ruleset hub version "1"\nschema M { id: string }\ninput msg: M\nqueue q\n'
    layer = "ruleset uk extends hub\nrule x { then route q }\n"
    broken_hub = hub.replace('version "1"', "version 1.0")
    assert [c for c, _, _ in _errors(("hub.sf", broken_hub), ("uk.sf", layer))] == ["syntax_error"]
    broken_layer = "ruleset uk extends hub version 2.0\noverride rule x { then route q }\nrule y { then route q }\n"
    assert [c for c, _, _ in _errors(("hub.sf", hub), ("uk.sf", broken_layer))] == ["syntax_error"]


@pytest.mark.parametrize(
    ("written", "meant"), [("15min", "15m"), ("2 hours", "2h"), ("3 secs", "3s"), ("2ms", None)]
)
def test_a_duration_hint_names_only_a_unit_that_was_meant(written: str, meant: str | None) -> None:
    ((_, _, message),) = _errors(("t.sf", f"sla s {{ first_response {written} }}\n"))
    with pytest.raises(sf.ParseError) as caught:
        sf.loads(f"sla s {{ first_response {written} }}\n", "t.sf")
    help_text = caught.value.diagnostics[0].help or ""
    assert message == f"`{written}` is not a duration"
    if meant is None:
        assert "write `" not in help_text
    else:
        assert help_text == f"write `{meant}`"
