"""Triage through the public API and the CLI: rule semantics, errors, explain."""

from __future__ import annotations

import copy
import json
import pickle
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import socialflow as sf
from socialflow.cli import main

NOW = datetime(2026, 11, 23, 10, tzinfo=UTC)
HEADER = """
ruleset t hit {hit}
schema Author {{ handle: string, followers: int }}
schema Message {{ id: string, channel: string, text: string, sentiment: double, author: Author, nick?: string }}
input msg: Message
queue care
queue pr
queue billing
sla quick {{ first_response 30m }}
escalation esc {{
  level 1 notify queue care
  level 2 after 10m notify role "lead"
}}
"""


def bundle(rules: str, hit: str = "all") -> sf.Bundle:
    return sf.loads(HEADER.format(hit=hit) + rules, "t.sf")


def message(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "m1",
        "channel": "twitter",
        "text": "hello",
        "sentiment": 0.0,
        "author": {"handle": "@a", "followers": 10},
    }
    base.update(fields)
    return base


def test_precedence_then_source_order_and_first_setter_wins() -> None:
    b = bundle("""
    rule low { when true then route care; priority low; tag "x" }
    rule high { precedence 5 when true then route pr; tag "y", "x" }
    rule also { when true then route billing; tag "z" }
    """)
    d = b.triage(message(), NOW)
    assert d.matched == ("high", "low", "also")
    assert d.route == "pr"
    assert d.priority == "low"
    assert d.tags == ("y", "x", "z")
    assert [(o.output, o.rule, o.kept) for o in d.overrides] == [
        ("route", "low", "high"),
        ("route", "also", "high"),
    ]


def test_stop_ends_evaluation_under_hit_all() -> None:
    b = bundle("""
    rule a { precedence 2 when msg.text.contains("spam") then ignore "spam"; stop }
    rule b { when true then route care; respond }
    """)
    d = b.triage(message(text="spam spam"), NOW)
    assert d.matched == ("a",)
    assert d.response == "ignore" and d.response_text == "spam"
    assert b.triage(message(), NOW).matched == ("b",)


def test_hit_first_applies_only_the_first_match() -> None:
    b = bundle(
        """
    rule a { when msg.sentiment < 0.0 then route care }
    rule b { when true then route pr; tag "b" }
    """,
        hit="first",
    )
    assert b.triage(message(sentiment=-0.5), NOW).matched == ("a",)
    assert b.triage(message(sentiment=0.5), NOW).matched == ("b",)


def test_set_values_sla_and_escalation() -> None:
    b = bundle("""
    rule r { when true then set score = msg.author.followers * 2; set label = "x" + msg.channel
             sla quick; escalate esc; assign "kim" }
    """)
    d = b.triage(message(), NOW)
    assert d.attributes == {"score": 20, "label": "xtwitter"}
    assert d.sla is not None and d.sla.first_response_at == datetime(
        2026, 11, 23, 10, 30, tzinfo=UTC
    )
    assert d.escalation is not None
    assert [(s.level, s.at.minute) for s in d.escalation.steps] == [(1, 0), (2, 10)]
    assert d.assign == "kim"


def test_condition_errors_are_recorded_not_matched_and_strict_raises() -> None:
    b = bundle("""
    rule bad { when msg.author.followers / 0 > 1 then route pr }
    rule good { when true then route care }
    """)
    d = b.triage(message(), NOW)
    assert d.matched == ("good",)
    assert [(e.rule, e.kind) for e in d.errors] == [("bad", "division_by_zero")]
    assert d.errors[0].location is not None and d.errors[0].location.startswith("t.sf:15:")
    with pytest.raises(sf.EvalError):
        b.triage(message(), NOW, strict=True)


def test_bad_input_names_the_field() -> None:
    b = bundle("rule r { when true then route care }")
    with pytest.raises(sf.InputError) as info:
        b.triage(message(author={"handle": "@a", "followers": "many"}), NOW)
    assert info.value.path == "$.msg.author.followers"
    with pytest.raises(sf.InputError) as info:
        b.triage({k: v for k, v in message().items() if k != "text"}, NOW)
    assert info.value.path == "$.msg.text"
    with pytest.raises(sf.InputError):
        b.triage(message(sentiment=True), NOW)  # bool is not a number
    assert b.triage(message(nick=None), NOW).matched == ("r",)  # optional field
    with pytest.raises(sf.UsageError):
        b.triage(message(), datetime(2026, 11, 23))  # naive now


def test_engine_never_mutates_input_and_ignores_key_order() -> None:
    b = bundle("""
    rule r { when msg.text.containsAnyWord(["refund"]) && msg.channel in ["twitter"] then route care; tag "r" }
    rule s { when msg.author.followers > 5 then tag "s" }
    """)
    msg = message(text="a REFUND please", sentiment=1)  # int for a double field is converted
    before = copy.deepcopy(msg)
    d = b.triage(msg, NOW)
    assert msg == before
    reordered = dict(reversed(list(msg.items())))
    reordered["author"] = dict(reversed(list(msg["author"].items())))
    assert sf.serde.dumps(b.triage(reordered, NOW)) == sf.serde.dumps(d)


def test_index_agrees_with_evaluating_every_rule() -> None:
    rules = "\n".join(
        f'rule r{i} {{ when msg.channel in ["c{i % 3}", "c{(i + 1) % 3}"] '
        f'&& msg.text.containsAny([" k{i % 5} ", " k{(i * 7) % 5} "]) && msg.sentiment < {i / 10 - 1} '
        f'then tag "r{i}" }}'
        for i in range(30)
    )
    b = bundle(rules)
    conditions = [
        (r.name, sf.cel.compile(r.condition.text)) for r in b.program.rules if r.condition
    ]

    @settings(max_examples=200, deadline=None)
    @given(
        channel=st.sampled_from(["c0", "c1", "c2", "other"]),
        words=st.lists(st.sampled_from(["k0", "k1", "k2", "k3", "k4", "zz", "K1"]), max_size=5),
        sentiment=st.floats(-1, 1),
    )
    def check(channel: str, words: list[str], sentiment: float) -> None:
        msg = message(channel=channel, text=" " + " ".join(words) + " ", sentiment=sentiment)
        expected = tuple(n for n, p in conditions if p.evaluate({"msg": msg, "now": NOW}) is True)
        assert b.triage(msg, NOW).matched == expected

    check()


def test_explain_lists_every_rule_and_why() -> None:
    b = bundle("""
    rule press { precedence 3 when msg.author.followers > 1000 && msg.channel == "twitter" then route pr }
    rule refund { precedence 2 when msg.text.containsWord("refund") then route care; priority high }
    rule fallback { when true then route billing }
    rule broken { when msg.sentiment / 0.0 > int("x") then tag "never" }
    """)
    explanation = b.explain(message(text="refund please"), NOW)
    assert explanation.decision == b.triage(message(text="refund please"), NOW)
    text = str(explanation)
    assert "[not_matched] press" in text and "failed: msg.author.followers > 1000" in text
    assert "[matched] refund" in text and "priority: high" in text
    assert "overridden route: billing (`refund` set it first)" in text
    assert "[error] broken" in text


def test_decisions_serialise_and_pickle() -> None:
    b = bundle("rule r { when true then route care; sla quick; escalate esc; set x = [1, 2] }")
    d = b.triage(message(), NOW)
    again = sf.serde.loads(sf.serde.dumps(d), sf.Decision)
    assert again == d
    assert pickle.loads(pickle.dumps(d)) == d
    assert pickle.loads(pickle.dumps(b)).triage(message(), NOW) == d


def test_a_folder_is_one_bundle(tmp_path: Path) -> None:
    (tmp_path / "a.sf").write_text(HEADER.format(hit="all"), encoding="utf-8")
    (tmp_path / "b.sf").write_text("rule r { when true then route care }", encoding="utf-8")
    assert sf.load(tmp_path).triage(message(), NOW).route == "care"
    (tmp_path / "c.sf").write_text("queue care", encoding="utf-8")
    with pytest.raises(sf.CheckError) as info:
        sf.load(tmp_path)
    assert "duplicate_declaration" in [d.code for d in info.value.diagnostics]


def test_cli_test_triage_and_explain(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "r.sf"
    rules.write_text(
        HEADER.format(hit="all")
        + """
    rule r { when msg.text.contains("refund") then route billing }
    test "refunds go to billing" {
      given msg = {"id": "1", "channel": "x", "text": "refund", "sentiment": 0.0,
                   "author": {"handle": "@a", "followers": 1}}
      at "2026-11-23T10:00:00Z"
      expect route billing
    }
    test "a failing expectation" {
      given msg = {"id": "1", "channel": "x", "text": "hi", "sentiment": 0.0,
                   "author": {"handle": "@a", "followers": 1}}
      at "2026-11-23T10:00:00Z"
      expect route billing
    }
    """,
        encoding="utf-8",
    )
    assert main(["test", str(rules)]) == 1
    out = capsys.readouterr().out
    assert "1 passed, 1 failed" in out and "expected route billing, got None" in out

    good = json.dumps(message(text="refund", received_at="2026-11-23T10:00:00Z"))
    lines = tmp_path / "in.jsonl"
    lines.write_text(good + "\n{not json\n" + json.dumps({"id": "x"}) + "\n", encoding="utf-8")
    out_file = tmp_path / "out.jsonl"
    assert main(["triage", str(rules), str(lines), "-o", str(out_file), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "line 2: rejected" in err and "line 3: rejected" in err
    decisions = [json.loads(x) for x in out_file.read_text(encoding="utf-8").splitlines()]
    assert [d["route"] for d in decisions] == ["billing"]
    rejects = [
        json.loads(x) for x in out_file.with_suffix(".rejects.jsonl").read_text().splitlines()
    ]
    assert [r["line"] for r in rejects] == [2, 3]
    assert (
        main(
            [
                "triage",
                str(rules),
                str(lines),
                "-o",
                str(out_file),
                "--allow-rejects",
                "--no-summary",
                "--now",
                "2026-11-23T12:00:00Z",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["explain", str(rules), "--message", good]) == 0
    assert "[matched] r" in capsys.readouterr().out
