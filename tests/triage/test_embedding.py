"""Several escalation plans per decision, and what an embedding host relies on:
the ruleset's name and version in every decision, message ids that keep their
JSON type, ``Decision.to_json``, ``sf.loads_many``, sharing a bundle between
threads and ``explain`` showing SLA, escalation and ``set`` values."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import socialflow as sf
from socialflow.triage.decision import DecisionWriter, decision_writer

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 23, 10, tzinfo=UTC)
HEADER = """
ruleset esc{version} hit {hit}
schema Message {{ id: string, text: string }}
input msg: Message
queue care
queue pr
escalation fraud {{ level 1 notify queue care }}
escalation viral {{ level 1 notify queue pr  level 2 after 30m notify role "pr_director" }}
escalation legal {{ level 1 notify role "counsel" }}
"""


def bundle(rules: str, hit: str = "all", version: str = "") -> sf.Bundle:
    return sf.loads(HEADER.format(hit=hit, version=version) + rules, "esc.sf")


FRAUD_AND_VIRAL = """
rule fraud { precedence 10 when msg.text.contains("scam") then route care; escalate fraud }
rule viral { precedence 5 when msg.text.contains("viral") then route pr; escalate viral }
rule legal { when msg.text.contains("lawyer") then escalate legal; escalate fraud }
"""


def policies(decision: sf.Decision) -> list[str]:
    return [plan.policy for plan in decision.escalations]


# -- several escalation plans -------------------------------------------------------------


def test_a_post_both_fraud_and_viral_gets_both_plans_in_applied_order() -> None:
    b = bundle(FRAUD_AND_VIRAL)
    d = b.triage({"id": "m1", "text": "viral scam"}, NOW)
    assert d.matched == ("fraud", "viral")
    assert policies(d) == ["fraud", "viral"]
    assert d.route == "care"  # route stays single-valued: the first rule wins
    # the plans are the policies' own plans at `now`
    assert d.escalations[1] == b.program.escalations["viral"].plan(NOW)
    # `escalation` is the first plan, kept for hosts written for one plan
    assert d.escalation == d.escalations[0]
    # a second plan is not an override; the second route is
    assert [(o.output, o.rule) for o in d.overrides] == [("route", "viral")]


def test_each_policy_once_first_applied_rule_keeps_it() -> None:
    d = bundle(FRAUD_AND_VIRAL).triage({"id": "m1", "text": "scam, viral, lawyer"}, NOW)
    # `legal` names legal then fraud; fraud was already planned by rule `fraud`
    assert policies(d) == ["fraud", "viral", "legal"]
    assert not any(o.output.startswith("escalat") for o in d.overrides)


def test_one_rule_can_name_several_policies() -> None:
    d = bundle(FRAUD_AND_VIRAL).triage({"id": "m1", "text": "my lawyer"}, NOW)
    assert policies(d) == ["legal", "fraud"]


def test_no_plan_gives_an_empty_tuple_and_no_first_plan() -> None:
    d = bundle(FRAUD_AND_VIRAL).triage({"id": "m1", "text": "hello"}, NOW)
    assert d.escalations == () and d.escalation is None


def test_stop_ends_the_plans_with_the_stopping_rule() -> None:
    rules = FRAUD_AND_VIRAL.replace(
        "route care; escalate fraud", "route care; escalate fraud; stop"
    )
    d = bundle(rules).triage({"id": "m1", "text": "viral scam"}, NOW)
    assert d.matched == ("fraud",) and policies(d) == ["fraud"]


def test_hit_first_plans_only_the_first_matching_rule() -> None:
    b = bundle(FRAUD_AND_VIRAL, hit="first")
    assert policies(b.triage({"id": "m1", "text": "viral scam"}, NOW)) == ["fraud"]
    # the one rule that applies may still name several policies
    assert policies(b.triage({"id": "m1", "text": "viral lawyer"}, NOW)) == ["viral"]
    assert policies(b.triage({"id": "m1", "text": "lawyer"}, NOW)) == ["legal", "fraud"]


def test_check_does_not_call_two_escalations_a_conflict() -> None:
    rules = """
    rule a { when msg.text.contains("x") then escalate fraud; escalate viral }
    rule b { when msg.text.contains("y") then escalate legal }
    """
    codes = [w.code for w in bundle(rules).warnings]
    assert "conflicting_rules" not in codes and "duplicate_action" not in codes


def test_a_plan_out_of_range_is_an_error_of_the_rule_that_named_it() -> None:
    late = datetime(9999, 12, 31, 23, 50, tzinfo=UTC)
    d = bundle(FRAUD_AND_VIRAL).triage({"id": "m1", "text": "viral scam"}, late)
    # fraud's one step is at `now`; viral's second step is beyond year 9999
    assert policies(d) == ["fraud"]
    assert [(e.rule, e.kind) for e in d.errors] == [("viral", "range")]
    with pytest.raises(sf.EvalError, match="range"):
        bundle(FRAUD_AND_VIRAL).triage({"id": "m1", "text": "viral"}, late, strict=True)


def test_expect_escalate_means_among_the_plans() -> None:
    tests = """
    test "both plans" {
      given msg = {"id": "t1", "text": "viral scam"}
      at "2026-11-23T10:00:00Z"
      expect escalate viral
      expect escalate fraud
    }
    test "not planned" {
      given msg = {"id": "t2", "text": "viral"}
      at "2026-11-23T10:00:00Z"
      expect escalate fraud
    }
    """
    results = sf.run_tests(bundle(FRAUD_AND_VIRAL + tests))
    assert [r.passed for r in results] == [True, False]
    assert "expected an escalation plan of fraud; planned: ['viral']" in results[1].failures[0]


# a rule: whether it matches, and the policies it names (in action order)
_RULES = st.lists(
    st.tuples(st.booleans(), st.lists(st.sampled_from(["fraud", "viral", "legal"]), max_size=3)),
    min_size=1,
    max_size=5,
)


@settings(max_examples=40, deadline=None)
@given(_RULES, st.sampled_from(["all", "first"]))
def test_plans_are_the_applied_rules_policies_each_once_in_order(
    rules: list[tuple[bool, list[str]]], hit: str
) -> None:
    text = "".join(
        f'rule r{i} {{ when {"true" if on else "false"} then tag "r{i}"'
        + "".join(f"; escalate {p}" for p in named)
        + " }\n"
        for i, (on, named) in enumerate(rules)
    )
    d = bundle(text, hit=hit).triage({"id": "m1", "text": ""}, NOW)
    applied = [named for on, named in rules if on][: 1 if hit == "first" else None]
    expected = list(dict.fromkeys(p for named in applied for p in named))
    assert policies(d) == expected
    assert [p["policy"] for p in json.loads(d.to_json())["escalations"]] == expected


# -- the ruleset in every decision --------------------------------------------------------


def test_every_decision_carries_the_ruleset_name_and_version() -> None:
    b = bundle(FRAUD_AND_VIRAL, version=' version "2026.11.1"')
    for text in ("viral scam", "nothing at all"):
        d = b.triage({"id": "m1", "text": text}, NOW)
        assert (d.ruleset, d.ruleset_version) == ("esc", "2026.11.1")
        data = json.loads(d.to_json())
        assert (data["ruleset"], data["ruleset_version"]) == ("esc", "2026.11.1")
    d = bundle(FRAUD_AND_VIRAL).triage({"id": "m1", "text": "x"}, NOW)
    assert d.ruleset_version is None and json.loads(d.to_json())["ruleset_version"] is None


# -- message ids keep their JSON type -----------------------------------------------------

_ANY_ID = """
ruleset ids
schema Message { text: string }
input msg: Message
rule r { when true then tag "seen" }
"""


@pytest.mark.parametrize(
    ("given_id", "kept"),
    [("m-1", "m-1"), (42, 42), (-7, -7), (2**63 - 1, 2**63 - 1), (True, None), (1.5, None),
     (None, None), ([1], None)],
)  # fmt: skip
def test_message_ids_keep_their_json_type(given_id: Any, kept: Any) -> None:
    d = sf.loads(_ANY_ID).triage({"id": given_id, "text": "hi"}, NOW)
    assert d.message_id == kept and type(d.message_id) is type(kept)
    data = json.loads(d.to_json())
    assert data["message_id"] == kept and type(data["message_id"]) is type(kept)
    assert sf.serde.loads(d.to_json(), sf.Decision) == d


def test_a_uint_id_is_written_as_a_plain_int() -> None:
    b = sf.loads(_ANY_ID.replace("{ text: string }", "{ id: uint, text: string }"))
    d = b.triage({"id": 9, "text": "hi"}, NOW)
    assert type(d.message_id) is int and d.to_json() == sf.serde.generic_dumps(d)


def test_an_id_of_another_type_cannot_be_read_back() -> None:
    data = sf.serde.unstructure(sf.loads(_ANY_ID).triage({"id": 3, "text": "hi"}, NOW))
    with pytest.raises(sf.InputError, match=r"\$\.message_id"):
        sf.serde.structure({**data, "message_id": 2.5}, sf.Decision)


# -- JSON text ----------------------------------------------------------------------------


def _example_decisions() -> list[sf.Decision]:
    b = sf.load(ROOT / "examples" / "triage")
    out = []
    for line in (ROOT / "examples" / "triage" / "messages.jsonl").read_text().splitlines()[:120]:
        try:
            message = json.loads(line)
            out.append(b.triage(message, NOW))
        except (ValueError, sf.InputError):
            continue
    return out


def test_to_json_is_serde_dumps_and_reads_back() -> None:
    decisions = _example_decisions()
    assert any(len(d.escalations) > 1 for d in decisions)
    for d in decisions:
        text = d.to_json()
        assert text == sf.serde.dumps(d) == sf.serde.generic_dumps(d)
        assert sf.serde.loads(text, sf.Decision) == d


def test_the_per_ruleset_writer_writes_what_serde_dumps_writes() -> None:
    decisions = _example_decisions()
    write = decision_writer("acme_inbound", "2026.11.1")
    other = decision_writer("another", None)
    for d in decisions:
        assert write(d) == other(d) == sf.serde.generic_dumps(d)


def test_the_writers_kept_fragments_never_change_its_text() -> None:
    """The writer keeps the text of each outcome (matched rules, overrides,
    route...) and of each escalation's targets: written again, with a full
    cache (capacity 1) or with the decisions in another order, every line is
    still serde.dumps's."""
    decisions = _example_decisions()
    for capacity in (1, 4096):
        write = DecisionWriter("acme_inbound", "2026.11.1", capacity)
        for d in decisions + decisions[::-1]:
            assert write(d) == sf.serde.generic_dumps(d)
    # ids of other JSON types, in decisions a host builds by hand
    for odd in (True, False, 10**30, "ü\u2028"):
        d = attrs.evolve(decisions[0], message_id=odd)
        assert write(d) == sf.serde.dumps(d) == sf.serde.generic_dumps(d)


# -- loads_many ---------------------------------------------------------------------------


def test_loads_many_is_exported_and_names_each_text() -> None:
    stored = [
        ("db:decl", HEADER.format(hit="all", version="")),
        ("db:rules", FRAUD_AND_VIRAL),
    ]
    b = sf.loads_many(stored)
    assert policies(b.triage({"id": "m", "text": "viral scam"}, NOW)) == ["fraud", "viral"]
    with pytest.raises(sf.CheckError) as e:
        sf.loads_many([*stored, ("db:broken", "rule x { then route nowhere }")])
    assert "db:broken:1:" in str(e.value)


# -- threads ------------------------------------------------------------------------------


def test_a_bundle_is_safe_to_share_between_threads() -> None:
    b = sf.load(ROOT / "examples" / "triage")
    messages = []
    for line in (ROOT / "examples" / "triage" / "messages.jsonl").read_text().splitlines():
        try:
            messages.append(json.loads(line))
        except ValueError:
            continue

    def triage_all(_: int) -> list[str]:
        out = []
        for m in messages:
            try:
                out.append(b.triage(m, NOW).to_json())
            except sf.InputError as e:
                out.append(f"rejected: {e}")
        return out

    sequential = triage_all(0)
    start = threading.Barrier(8)

    def in_thread(i: int) -> list[str]:
        start.wait()
        return triage_all(i)

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(in_thread, range(8)))
    assert all(r == sequential for r in results)
    assert len(sequential) == len(messages) > 300


# -- explain ------------------------------------------------------------------------------


def test_explain_shows_sla_plans_and_set_values() -> None:
    rules = """
    sla quick { first_response 30m, resolution 4h }
    rule fraud { when msg.text.contains("scam") then sla quick; escalate fraud; escalate viral
                 set score = 3; set why = "scam" }
    """
    b = bundle(rules)
    explanation = b.explain({"id": "m1", "text": "scam"}, NOW)
    assert explanation.decision == b.triage({"id": "m1", "text": "scam"}, NOW)
    text = str(explanation)
    assert "      escalate: fraud\n      escalate: viral\n" in text
    assert text.endswith(
        "  sla: quick (first response by 2026-11-23T10:30:00Z, "
        "resolution by 2026-11-23T14:00:00Z)\n"
        "  escalate fraud: 1 step(s)\n"
        "    2026-11-23T10:00:00Z round 1 level 1: queue care\n"
        "  escalate viral: 2 step(s)\n"
        "    2026-11-23T10:00:00Z round 1 level 1: queue pr\n"
        "    2026-11-23T10:30:00Z round 1 level 2: role pr_director\n"
        "  set score: 3\n"
        '  set why: "scam"'
    )


def test_explain_lists_at_most_ten_steps_of_a_plan() -> None:
    rules = """
    escalation nag { level 1 notify queue care  repeat 20 after 1h }
    rule r { then escalate nag; assign "sam" }
    """
    text = str(bundle(rules).explain({"id": "m1", "text": ""}, NOW))
    assert "  assign: sam\n  escalate nag: 21 step(s)\n" in text
    assert text.count("round ") == 10 and text.endswith("    ... and 11 more")
