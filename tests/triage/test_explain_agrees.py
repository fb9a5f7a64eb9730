"""``bundle.explain`` and ``bundle.triage`` apply rules through one code path:
on every message, the explanation's decision is the triage decision, and its
trace agrees with it rule by rule."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import socialflow as sf

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "triage"
NOW = datetime(2026, 11, 23, 10, tzinfo=UTC)

HEADER = """
ruleset agree hit {hit}
schema Author { handle: string, followers: int }
schema Message { id: string, channel: string, text: string, sentiment: double, author: Author }
input msg: Message
queue care
queue pr
queue billing
sla quick { first_response 30m }
escalation esc { level 1 notify queue care }
rule spam { precedence 9 when msg.text.contains("FREE") then ignore "spam"; stop }
rule press { precedence 5 when msg.author.followers > 1000 && msg.channel == "twitter"
             then route pr; priority high; sla quick }
rule refund { precedence 5 when msg.text.containsWord("refund") then route billing; tag "refund"
              set share = msg.sentiment / double(msg.author.followers) }
rule angry { when msg.sentiment < -0.5 then priority urgent; escalate esc; tag "angry", "refund" }
rule broken { when msg.text.size() / (msg.author.followers - 7) > 1 then tag "odd" }
rule fallback { precedence -1 when true then route care; respond "ack" }
"""

_texts = st.sampled_from(
    ["hello", "refund please", "FREE refund", "I want a REFUND now", "refunded", "meh", ""]
)
messages = st.fixed_dictionaries(
    {
        "id": st.text(max_size=3),
        "channel": st.sampled_from(["twitter", "facebook", "x"]),
        "text": _texts,
        "sentiment": st.floats(-1, 1),
        "author": st.fixed_dictionaries(
            {"handle": st.just("@a"), "followers": st.sampled_from([1, 7, 10, 5000])}
        ),
    }
)


def _agrees(bundle: sf.Bundle, message: Any, now: datetime) -> None:
    decision = bundle.triage(message, now)
    explanation = bundle.explain(message, now)
    assert explanation.decision == decision
    matched = tuple(t.rule for t in explanation.rules if t.status == "matched")
    assert matched == decision.matched
    errored = [t.rule for t in explanation.rules if t.status == "error"]
    assert errored == [e.rule for e in decision.errors if e.rule in errored]
    overridden = [(o, r.rule) for r in explanation.rules for (o, _v, _k) in r.overridden]
    assert overridden == [(o.output, o.rule) for o in decision.overrides]


@settings(max_examples=300, deadline=None)
@given(message=messages, hit=st.sampled_from(["all", "first"]))
def test_explain_agrees_with_triage_on_generated_messages(message: Any, hit: str) -> None:
    _agrees(sf.loads(HEADER.replace("{hit}", hit), "agree.sf"), message, NOW)


def test_explain_agrees_with_triage_on_the_example_messages() -> None:
    bundle = sf.load(EXAMPLES)
    checked = 0
    for line in (EXAMPLES / "messages.jsonl").read_text(encoding="utf-8").splitlines():
        try:
            message = json.loads(line)
            now = sf.cel.parse_timestamp(message["received_at"])
            bundle.triage(message, now)
        except (ValueError, KeyError, sf.InputError):
            continue  # the three deliberately broken lines
        _agrees(bundle, message, now)
        checked += 1
    assert checked >= 390


@pytest.mark.parametrize("status", ["matched", "not_matched", "error", "skipped", "filtered"])
def test_statuses_are_snake_case_codes(status: str) -> None:
    bundle = sf.loads(HEADER.replace("{hit}", "all"), "agree.sf")
    message = {
        "id": "m",
        "channel": "twitter",
        "text": "FREE refund",
        "sentiment": -0.9,
        "author": {"handle": "@a", "followers": 7},
    }
    seen = {t.status for t in bundle.explain(message, NOW).rules}
    other = {
        "id": "m",
        "channel": "facebook",
        "text": "refund",
        "sentiment": 0.1,
        "author": {"handle": "@a", "followers": 7},
    }
    seen |= {t.status for t in bundle.explain(other, NOW).rules}
    assert status in seen
