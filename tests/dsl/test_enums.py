"""`enum("a", "b")` fields: checked comparisons, host data refused, the index intact."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import socialflow as sf
from socialflow.cli import main
from socialflow.dsl.check.schemas import enum_problem
from socialflow.dsl.program import SchemaField

NOW = datetime(2026, 11, 23, 10, tzinfo=UTC)
KINDS = ("dm", "mention", "comment")
RULES = """
ruleset enums
schema Author { handle: string, kind: enum("person", "brand") }
schema Message { id: string, kind: enum("dm", "mention", "comment"), author: Author,
                 mood?: enum("calm", "angry") }
input msg: Message
queue dms
queue brands
rule private { when msg.kind == "dm" then route dms }
rule brand { when msg.author.kind == "brand" && msg.kind in ["mention", "comment"] then route brands }
rule angry { when has(msg.mood) && msg.mood == "angry" then priority high }
"""
BUNDLE = sf.loads(RULES, "enums.sf")


def msg(kind: str = "dm", author: str = "person", **more: object) -> dict[str, object]:
    return {"id": "m1", "kind": kind, "author": {"handle": "@a", "kind": author}, **more}


def test_values_in_the_set_triage_and_the_index_still_decides() -> None:
    assert BUNDLE.triage(msg(), NOW).route == "dms"
    assert BUNDLE.triage(msg("mention", "brand"), NOW).route == "brands"
    assert BUNDLE.triage(msg("comment", mood="angry"), NOW).priority == "high"
    assert BUNDLE.triage(msg("comment", mood=None), NOW).priority == "normal"
    described = BUNDLE.engine.index.describe()
    assert described["equal"], described  # enum fields index like strings


@pytest.mark.parametrize(
    ("message", "path"),
    [
        (msg("DM"), "$.msg.kind"),
        (msg(author="org"), "$.msg.author.kind"),
        (msg(mood="sad"), "$.msg.mood"),
    ],
)
def test_a_value_outside_the_set_is_a_host_data_error_naming_the_field(
    message: dict[str, object], path: str
) -> None:
    with pytest.raises(sf.InputError) as info:
        BUNDLE.triage(message, NOW)
    assert info.value.path == path
    assert "is not one of the values" in str(info.value)


@given(st.text(max_size=8))
def test_exactly_the_listed_strings_are_accepted(kind: str) -> None:
    if kind in KINDS:
        assert BUNDLE.triage(msg(kind), NOW).matched == (("private",) if kind == "dm" else ())
    else:
        with pytest.raises(sf.InputError):
            BUNDLE.triage(msg(kind), NOW)


@pytest.mark.parametrize(
    ("condition", "bad"),
    [
        ('msg.kind == "DM"', '"DM"'),
        ('"Mention" != msg.kind', '"Mention"'),
        ('msg.kind in ["dm", "post"]', '"post"'),
        ('msg.author.kind == "brnad"', '"brnad"'),
        ('[1].all(x, has(msg.mood) && msg.mood == "furious")', '"furious"'),
    ],
)
def test_check_reports_comparisons_outside_the_set(condition: str, bad: str) -> None:
    with pytest.raises(sf.CheckError) as info:
        sf.loads(RULES + f'rule bad {{ when {condition} then tag "x" }}', "enums.sf")
    (diagnostic,) = info.value.diagnostics
    assert diagnostic.code == "not_in_enum"
    assert diagnostic.span is not None and diagnostic.span.text() == bad


def test_a_loop_variable_named_like_the_input_is_not_the_input() -> None:
    sf.loads(RULES + 'rule loop { when ["DM"].exists(msg, msg == "DM") then tag "x" }', "e.sf")


def test_the_constant_check_other_checks_can_reuse() -> None:
    field = SchemaField("kind", "string", False, values=KINDS)
    assert enum_problem(field, "dm") is None
    assert enum_problem(field, 3) is None  # a type error is not this check's business
    assert enum_problem(SchemaField("text", "string", False), "anything") is None
    problem = enum_problem(field, "Dm", "msg.kind")
    assert problem == (
        '`"Dm"` is not a value of `msg.kind`: `enum("dm", "mention", "comment")`',
        "did you mean `dm`?",
    )


def test_cli_rejects_the_lines_with_a_bad_value_and_triages_the_others(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "enums.sf"
    rules.write_text(RULES, encoding="utf-8")
    lines = tmp_path / "in.jsonl"
    lines.write_text(
        "\n".join(json.dumps(m) for m in (msg(), msg("DM"), msg("comment", "brand"))) + "\n",
        encoding="utf-8",
    )
    out = tmp_path / "out.jsonl"
    args = ["triage", str(rules), str(lines), "-o", str(out), "--now", "2026-11-23T10:00:00Z"]
    assert main([*args, "--no-progress", "--no-summary"]) == 1
    assert "line 2: rejected" in capsys.readouterr().err
    assert [json.loads(x)["route"] for x in out.read_text().splitlines()] == ["dms", "brands"]
    (reject,) = [json.loads(x) for x in out.with_suffix(".rejects.jsonl").read_text().splitlines()]
    assert reject["line"] == 2 and "$.msg.kind" in json.dumps(reject)
    bad = tmp_path / "bad.sf"
    bad.write_text(RULES.replace('"dm" then', '"DM" then'), encoding="utf-8")
    assert main(["check", str(bad)]) == 2
    assert "error[not_in_enum]" in capsys.readouterr().err
