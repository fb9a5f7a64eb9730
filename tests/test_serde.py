"""The one JSON mapping (``sf.serde``): what JSON cannot hold is an error, never
invalid JSON or a lost entry; records round-trip with a schema tag."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

import socialflow as sf
from socialflow.cel import Type, UInt
from socialflow.timing.escalation import EscalationPlan, EscalationStep, EscalationTarget
from socialflow.timing.sla import SlaDeadlines

NOW = datetime(2026, 11, 23, 10, tzinfo=UTC)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_doubles_are_an_error_not_invalid_json(value: float) -> None:
    # regression: sf.serde.dumps used to write the bare token NaN, which is not JSON
    decision = sf.Decision(ruleset="r", now=NOW, values=(("ratio", value),))
    with pytest.raises(sf.SerializationError, match="has no JSON form"):
        sf.serde.dumps(decision)
    with pytest.raises(ValueError, match="has no JSON form"):  # also a ValueError
        sf.serde.to_json_value([1.0, value])


def test_colliding_map_keys_are_an_error_not_a_lost_entry() -> None:
    # regression: {1: "a", "1": "b"} used to be written with one of the two entries
    decision = sf.Decision(ruleset="r", now=NOW, values=(("m", {1: "a", "1": "b"}),))
    with pytest.raises(sf.SerializationError, match="collide"):
        sf.serde.dumps(decision)
    with pytest.raises(sf.SerializationError, match="collide"):
        sf.serde.to_json_value({True: 1, "true": 2})


def test_the_mapping_of_cel_values() -> None:
    value = {
        "t": datetime(2026, 11, 23, 10, 0, 0, 500000, tzinfo=UTC),
        "d": timedelta(minutes=-1),
        "u": UInt(7),
        "k": Type("bool"),
        "b": b"hi",
        "l": (1, 2.5, None, True),
        "m": {1: "one", False: "no"},
    }
    assert sf.serde.to_json_value(value) == {
        "t": "2026-11-23T10:00:00.5Z",
        "d": "-60s",
        "u": 7,
        "k": "bool",
        "b": "aGk=",
        "l": [1, 2.5, None, True],
        "m": {"1": "one", "false": "no"},
    }
    with pytest.raises(sf.SerializationError, match="no JSON form"):
        sf.serde.to_json_value(object())


def test_decision_round_trip_and_valid_json() -> None:
    bundle = sf.loads(
        """
        ruleset rt
        schema M { id: string, text: string }
        input msg: M
        queue care
        sla quick { first_response 30m }
        escalation esc { level 1 notify queue care  level 2 after 5m notify role "lead" }
        rule r { when true then route care; sla quick; escalate esc; tag "a"
                 set n = {"x": [1, 2.5], "y": duration("90s")} }
        """,
        "rt.sf",
    )
    decision = bundle.triage({"id": "m1", "text": "hi"}, NOW)
    text = sf.serde.dumps(decision)
    data = json.loads(text)
    assert data["schema"] == "socialflow.decision/1"
    assert data["values"] == {"n": {"x": [1, 2.5], "y": "90s"}}
    back = sf.serde.loads(text, sf.Decision)
    assert back.sla == decision.sla and back.escalations == decision.escalations
    assert back.route == "care" and back.matched == ("r",)


def test_structure_names_the_field_and_checks_the_tag() -> None:
    with pytest.raises(sf.InputError) as e:
        sf.serde.structure({"schema": "socialflow.explanation/1"}, sf.Decision)
    assert e.value.path == "$.schema"
    with pytest.raises(sf.InputError, match="cannot read a decision"):
        sf.serde.structure({"ruleset": "r", "now": "yesterday"}, sf.Decision)
    with pytest.raises(sf.InputError, match="not valid JSON"):
        sf.serde.loads("{", sf.Decision)


def test_the_fast_decision_writer_equals_the_generic_one() -> None:
    import json
    from pathlib import Path

    examples = Path(__file__).resolve().parents[1] / "examples" / "triage"
    bundle = sf.load(examples)
    seen = 0
    for line in (examples / "messages.jsonl").read_text(encoding="utf-8").splitlines():
        try:
            message = json.loads(line)
            decision = bundle.triage(message, sf.cel.parse_timestamp(message["received_at"]))
        except (ValueError, KeyError, sf.InputError):
            continue
        assert sf.serde.converter.unstructure(decision) == sf.serde.generic_unstructure(decision)
        assert sf.serde.dumps(decision) == sf.serde.generic_dumps(decision)
        seen += 1
    assert seen > 300
    odd = sf.Decision(
        ruleset="r",
        now=NOW,
        values=(("t", datetime(2026, 1, 1, 0, 0, 0, 500, tzinfo=UTC)), ("m", {1: "x"})),
        errors=(sf.ConditionError("a", "range", "m", None),),
    )
    assert sf.serde.converter.unstructure(odd) == sf.serde.generic_unstructure(odd)
    assert sf.serde.dumps(odd) == sf.serde.generic_dumps(odd)


_text = st.text(st.characters(codec=None), max_size=8)  # quotes, controls, surrogates
_maybe_text = st.none() | _text
_times = st.datetimes(
    min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
)
_targets = st.lists(
    st.builds(EscalationTarget, st.sampled_from(["queue", "role", "user"]), _text), max_size=2
)
_steps = st.lists(
    st.builds(EscalationStep, _times, st.integers(1, 9), st.integers(1, 9), _targets), max_size=3
)


@given(
    st.builds(
        sf.Decision,
        ruleset=_text,
        now=_times,
        matched=st.lists(_text, max_size=3).map(tuple),
        route=_maybe_text,
        assign=_maybe_text,
        priority=_text,
        tags=st.lists(_text, max_size=3).map(tuple),
        response=_maybe_text,
        response_text=_maybe_text,
        values=st.lists(st.tuples(_text, st.integers() | _text | st.booleans()), max_size=3).map(
            lambda pairs: tuple(dict(pairs).items())
        ),
        sla=st.none() | st.builds(SlaDeadlines, _text, st.none() | _times, st.none() | _times),
        escalations=st.lists(
            st.builds(EscalationPlan, _text, _steps, st.none() | _times), max_size=2
        ).map(tuple),
        errors=st.lists(
            st.builds(sf.ConditionError, _text, _text, _text, _maybe_text), max_size=2
        ).map(tuple),
        overrides=st.lists(st.builds(sf.Override, _text, _text, _text, _text), max_size=2).map(
            tuple
        ),
        message_id=_maybe_text | st.integers(-(2**63), 2**63 - 1),
        ruleset_version=_maybe_text,
    )
)
def test_the_decision_text_writer_equals_the_generic_one(decision: sf.Decision) -> None:
    assert sf.serde.dumps(decision) == sf.serde.generic_dumps(decision)
