"""The commands and several escalation plans, the ruleset version and message ids:
``triage`` (its JSON lines and summary), ``explain`` and ``test``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import socialflow as sf
from socialflow import cli

RULES = """
ruleset brand version "7" hit all
schema Message { id?: int, text: string, received_at: timestamp }
input msg: Message
queue care
queue pr
sla quick { first_response 30m }
escalation fraud { level 1 notify queue care }
escalation viral { level 1 notify queue pr  level 2 after 30m notify role "pr_director" }
rule fraud { precedence 10 when msg.text.contains("scam") then route care; escalate fraud; sla quick }
rule viral { when msg.text.contains("viral") then route pr; escalate viral; set reach = 2 }

test "a viral scam reaches PR too" {
  given msg = {"id": 1, "text": "viral scam", "received_at": "2026-11-23T10:00:00Z"}
  expect escalate fraud
  expect escalate viral
}
"""

MESSAGES = [
    {"id": 1, "text": "viral scam", "received_at": "2026-11-23T10:00:00Z"},
    {"id": 2, "text": "scam", "received_at": "2026-11-23T10:00:00Z"},
    {"text": "viral", "received_at": "2026-11-23T10:00:00Z"},
    {"id": 4, "text": "hello", "received_at": "2026-11-23T10:00:00Z"},
]


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    path = tmp_path / "brand.sf"
    path.write_text(RULES, encoding="utf-8")
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_triage_writes_every_plan_the_version_and_typed_ids(
    capsys: pytest.CaptureFixture[str], rules: Path, tmp_path: Path
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(m) + "\n" for m in MESSAGES), encoding="utf-8")
    status, out, err = run(capsys, "triage", str(rules), str(source), "--no-progress")
    assert status == 0, err
    lines = out.splitlines()
    decisions = [json.loads(line) for line in lines]
    assert [[p["policy"] for p in d["escalations"]] for d in decisions] == [
        ["fraud", "viral"], ["fraud"], ["viral"], []
    ]  # fmt: skip
    assert [d["message_id"] for d in decisions] == [1, 2, None, 4]
    assert {(d["ruleset"], d["ruleset_version"]) for d in decisions} == {("brand", "7")}
    # each line is the library's own JSON text for the decision
    bundle = sf.load(rules)
    for message, line in zip(MESSAGES, lines, strict=True):
        now = sf.serde.structure({"ruleset": "x", "now": message["received_at"]}, sf.Decision).now
        assert bundle.triage(message, now).to_json() == line
    # the summary counts the messages each policy planned for
    table = err[err.index("escalation plans") :]
    assert table.splitlines()[1:3] == [
        f"  {'fraud':<22} {2:>8}",
        f"  {'viral':<22} {2:>8}",
    ]


def test_the_summary_has_no_plans_table_without_plans(
    capsys: pytest.CaptureFixture[str], rules: Path, tmp_path: Path
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps(MESSAGES[3]) + "\n", encoding="utf-8")
    status, _, err = run(capsys, "triage", str(rules), str(source), "--no-progress")
    assert status == 0 and "escalation plans" not in err and "route" in err


def test_explain_shows_deadlines_plans_and_values(
    capsys: pytest.CaptureFixture[str], rules: Path
) -> None:
    status, out, err = run(capsys, "explain", str(rules), "--message", json.dumps(MESSAGES[0]))
    assert (status, err) == (0, "")
    decision_part = out[out.index("decision:") :]
    assert decision_part.splitlines()[6:] == [
        "  sla: quick (first response by 2026-11-23T10:30:00Z)",
        "  escalate fraud: 1 step(s)",
        "    2026-11-23T10:00:00Z round 1 level 1: queue care",
        "  escalate viral: 2 step(s)",
        "    2026-11-23T10:00:00Z round 1 level 1: queue pr",
        "    2026-11-23T10:30:00Z round 1 level 2: role pr_director",
        "  set reach: 2",
    ]
    status, out, _ = run(
        capsys, "explain", str(rules), "--message", json.dumps(MESSAGES[0]), "--json"
    )
    data = json.loads(out)["decision"]
    assert [p["policy"] for p in data["escalations"]] == ["fraud", "viral"]
    assert (data["message_id"], data["ruleset_version"]) == (1, "7")


def test_expect_escalate_passes_for_any_planned_policy(
    capsys: pytest.CaptureFixture[str], rules: Path
) -> None:
    status, out, _ = run(capsys, "test", str(rules))
    assert status == 0 and "a viral scam reaches PR too PASSED" in out
    rules.write_text(RULES.replace("expect escalate viral", "expect escalate nobody_planned")
                     .replace("escalation viral {", "escalation nobody_planned { level 1 notify queue pr }\nescalation viral {"),
                     encoding="utf-8")  # fmt: skip
    status, out, _ = run(capsys, "test", str(rules))
    assert status == 1
    assert "expected an escalation plan of nobody_planned; planned: ['fraud', 'viral']" in out
