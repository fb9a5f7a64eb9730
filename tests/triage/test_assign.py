"""`assign CEL`: the assignee computed per message, through the API and the CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import socialflow as sf
from socialflow.cli import main

NOW = datetime(2026, 11, 23, 10, tzinfo=UTC)
RULES = """
ruleset assigning
schema Message { id: string, lang: string, account?: string, extra: map(string, dyn) }
input msg: Message
rule by_account {
  precedence 2
  when has(msg.account)
  then assign "accounts/" + msg.account
}
rule from_map { precedence 1 when "owner" in msg.extra then assign msg.extra["owner"] }
rule by_language { then assign msg.lang == "fr" ? "marie" : "alex" }
"""


def msg(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {"id": "m1", "lang": "en", "extra": {}}
    base.update(fields)
    return base


def test_the_expression_decides_per_message_and_the_literal_form_stays() -> None:
    b = sf.loads(RULES, "a.sf")
    assert b.triage(msg(lang="fr"), NOW).assign == "marie"
    assert b.triage(msg(), NOW).assign == "alex"
    d = b.triage(msg(account="acme"), NOW)
    assert d.assign == "accounts/acme"
    assert [(o.output, o.rule, o.value) for o in d.overrides] == [
        ("assign", "by_language", 'msg.lang == "fr" ? "marie" : "alex"')
    ]
    literal = sf.loads('rule r { then assign "bob" }', "l.sf")
    assert literal.triage({}, NOW).assign == "bob"


def test_a_dyn_value_that_is_not_a_string_is_an_error_like_set_and_a_later_rule_assigns() -> None:
    b = sf.loads(RULES, "a.sf")
    d = b.triage(msg(extra={"owner": 7}), NOW)
    assert d.assign == "alex"  # from_map left it unset; by_language set it
    assert [(e.rule, e.kind) for e in d.errors] == [("from_map", "invalid_value")]
    assert "needs a string, got `int`" in d.errors[0].message
    assert d.matched == ("from_map", "by_language")
    with pytest.raises(sf.EvalError) as info:
        b.triage(msg(extra={"owner": 7}), NOW, strict=True)
    assert info.value.kind == "invalid_value"
    assert b.triage(msg(extra={"owner": "zoe"}), NOW).assign == "zoe"


def test_an_expression_that_raises_is_recorded_with_its_rule() -> None:
    b = sf.loads(
        """
        schema Message { id: string, m: map(string, string) }
        input msg: Message
        rule r { then assign msg.m["who"]; tag "seen" }
        """,
        "r.sf",
    )
    d = b.triage({"id": "1", "m": {}}, NOW)
    assert d.assign is None and d.tags == ("seen",) and d.matched == ("r",)
    assert [(e.rule, e.kind) for e in d.errors] == [("r", "no_such_key")]
    explained = b.explain({"id": "1", "m": {}}, NOW)
    assert "raised no_such_key; not set" in str(explained)


def test_check_refuses_an_expression_that_is_not_a_string() -> None:
    with pytest.raises(sf.CheckError) as info:
        sf.loads(
            "schema M { id: string, n: int }\ninput msg: M\nrule r { then assign msg.n + 1 }",
            "x.sf",
        )
    (diagnostic,) = info.value.diagnostics
    assert diagnostic.code == "assign_not_string"
    assert diagnostic.help == "convert it: `assign string(msg.n + 1)`"
    assert str(diagnostic.span.location()) == "x.sf:3:22"


@given(lang=st.text(max_size=5), account=st.none() | st.text(max_size=8))
def test_the_assignee_is_what_the_expression_says(lang: str, account: str | None) -> None:
    fields: dict[str, object] = {"lang": lang}
    if account is not None:
        fields["account"] = account
    d = BUNDLE.triage(msg(**fields), NOW)
    expected = f"accounts/{account}" if account is not None else "marie" if lang == "fr" else "alex"
    assert d.assign == expected and d.errors == ()


BUNDLE = sf.loads(RULES, "a.sf")


def test_cli_triage_and_test_blocks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "a.sf"
    rules.write_text(
        RULES
        + """
        test "french goes to marie" {
          given msg = {"id": "1", "lang": "fr", "extra": {}}
          at "2026-11-23T10:00:00Z"
          expect assign "marie"
        }
        """,
        encoding="utf-8",
    )
    assert main(["test", str(rules)]) == 0
    lines = tmp_path / "in.jsonl"
    lines.write_text(
        "\n".join(json.dumps(m) for m in (msg(lang="fr"), msg(account="acme"))) + "\n",
        encoding="utf-8",
    )
    out = tmp_path / "out.jsonl"
    capsys.readouterr()
    assert (
        main(
            [
                "triage",
                str(rules),
                str(lines),
                "-o",
                str(out),
                "--now",
                "2026-11-23T10:00:00Z",
                "--no-progress",
                "--no-summary",
            ]
        )
        == 0
    )
    assert [json.loads(x)["assign"] for x in out.read_text().splitlines()] == [
        "marie",
        "accounts/acme",
    ]
