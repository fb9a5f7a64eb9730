"""Properties of the workflow engine on random event streams over the two
example workflows: replay, refusals, versions, duplicates, timers that split,
required approvals, and immutability."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import socialflow as sf
from socialflow.dsl.program import REFUSAL_REASONS

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "workflows"
BUNDLE = sf.load(EXAMPLES)
APPROVAL = BUNDLE.workflow("content_approval")
INCIDENT = BUNDLE.workflow("incident")
T0 = datetime(2026, 11, 23, 9, tzinfo=UTC)
ACTORS = ("ana", "lee", "hana", "pat")
REASONS = frozenset(REFUSAL_REASONS)

Step = tuple[str, str, int, dict[str, Any] | None]  # event, actor, minutes later, data

_publish_at = st.integers(-60, 20_000).map(lambda m: {"publish_in": m})
_postmortem = st.sampled_from(["", "short", "x" * 40, "y" * 250]).map(lambda t: {"postmortem": t})
_payloads = {
    "schedule": st.one_of(st.none(), _publish_at, _publish_at),
    "close": st.one_of(st.none(), _postmortem, _postmortem),
}


@st.composite
def _stream(draw: st.DrawFn, workflow: sf.Workflow) -> tuple[dict[str, Any], list[Step]]:
    """A subject and a stream of events, most of them allowed where the instance is
    when they arrive (found by running the workflow while drawing), the rest any
    event, including unknown ones."""
    subject = draw(subjects)
    steps: list[Step] = []
    for _ in range(draw(st.integers(0, 25))):
        replay = list(run(workflow, subject, steps))
        inst = replay[-1][1].instance if replay else workflow.start("item", subject=subject, now=T0)
        minutes = draw(st.sampled_from([0, 1, 30, 600, 3000, 11_000]))
        actor = draw(st.sampled_from(ACTORS))
        allowed = [
            name
            for name, ok, _ in workflow.available(
                inst, actor, subject=subject, now=T0, access=sf.ALLOW_ALL
            )
            if ok or name in ("schedule", "close")
        ]
        if allowed and draw(st.integers(0, 9)) < 8:
            name = draw(st.sampled_from(allowed))
        else:
            name = draw(st.sampled_from([*workflow.events, "bogus"]))
        payload = draw(_payloads.get(name, st.one_of(st.none(), _publish_at, _postmortem)))
        elapsed = sum(step[2] for step in steps) + minutes
        if payload is not None and "publish_in" in payload:  # relative to the event's time
            when = T0 + timedelta(minutes=elapsed + payload["publish_in"])
            payload = {"publish_at": sf.cel.format_timestamp(when)}
        steps.append((name, actor, minutes, payload))
    return subject, steps


subjects = st.fixed_dictionaries(
    {"id": st.just("item"), "account": st.just("acct-uk"), "author": st.sampled_from(ACTORS)},
    optional={"needs_legal": st.booleans()},
)
streams = st.sampled_from([APPROVAL, INCIDENT]).flatmap(
    lambda wf: st.tuples(st.just(wf), _stream(wf))
)


def run(
    workflow: sf.Workflow, subject: dict[str, Any], steps: list[Step]
) -> Iterator[tuple[sf.Instance, sf.StepResult, str]]:
    """Drive ``workflow`` as a host would: advance to each event's time, then step.
    Yields (instance before, result, kind) for every advance and step."""
    now = T0
    inst = workflow.start("item", subject=subject, now=T0)
    for k, (name, actor, minutes, data) in enumerate(steps):
        now += timedelta(minutes=minutes)
        before = inst
        advanced = workflow.advance(inst, now, subject=subject)
        yield before, advanced, "advance"
        inst = advanced.instance
        event = sf.Event(name, actor=actor, id=f"e{k}", data=data)
        result = workflow.step(inst, event, subject=subject, now=now, access=sf.ALLOW_ALL)
        yield inst, result, "step"
        inst = result.instance


@settings(max_examples=150, deadline=None)
@given(case=streams)
def test_replaying_the_same_events_gives_the_same_instances_and_effects(
    case: tuple[sf.Workflow, tuple[dict[str, Any], list[Step]]],
) -> None:
    which, (subject, steps) = case
    first = [(r.instance, r.effects, r.reason) for _, r, _ in run(which, subject, steps)]
    again = [(r.instance, r.effects, r.reason) for _, r, _ in run(which, subject, steps)]
    assert first == again


@settings(max_examples=150, deadline=None)
@given(case=streams)
def test_refusals_change_nothing_and_versions_count_steps(
    case: tuple[sf.Workflow, tuple[dict[str, Any], list[Step]]],
) -> None:
    which, (subject, steps) = case
    for before, result, kind in run(which, subject, steps):
        if not result.accepted:
            assert result.instance is before and result.effects == ()
            assert result.reason in REASONS and result.detail
            continue
        if kind == "step":
            assert result.instance.version == before.version + 1
        else:
            assert result.instance.version > before.version


@settings(max_examples=150, deadline=None)
@given(case=_stream(INCIDENT))
def test_every_fired_timer_counts_once(case: tuple[dict[str, Any], list[Step]]) -> None:
    # in the incident workflow every timer emits exactly one effect, and no
    # timer enters a state with enter effects: effects count fired timers
    subject, steps = case
    for before, result, kind in run(INCIDENT, subject, steps):
        if kind == "advance" and result.accepted:
            assert result.instance.version - before.version == len(result.effects)


@settings(max_examples=150, deadline=None)
@given(case=streams)
def test_a_duplicate_event_changes_nothing(
    case: tuple[sf.Workflow, tuple[dict[str, Any], list[Step]]],
) -> None:
    which, (subject, steps) = case
    for _, result, kind in run(which, subject, steps):
        if kind == "step" and result.accepted:
            inst = result.instance
            again = sf.Event("anything", actor="ana", id=inst.seen[-1])
            repeated = which.step(inst, again, subject=subject, now=T0, access=sf.ALLOW_ALL)
            assert (repeated.reason, repeated.instance) == ("duplicate_event", inst)
            assert repeated.instance is inst


@settings(max_examples=150, deadline=None)
@given(case=streams, gaps=st.tuples(st.integers(0, 20_000), st.integers(0, 20_000)))
def test_advance_splits(
    case: tuple[sf.Workflow, tuple[dict[str, Any], list[Step]]], gaps: tuple[int, int]
) -> None:
    which, (subject, steps) = case
    inst = which.start("item", subject=subject, now=T0)
    for _, result, _ in run(which, subject, steps):
        inst = result.instance
    base = inst.entered_at or T0
    t1 = base + timedelta(minutes=gaps[0])
    t2 = t1 + timedelta(minutes=gaps[1])
    whole = which.advance(inst, t2, subject=subject)
    first = which.advance(inst, t1, subject=subject)
    second = which.advance(first.instance, t2, subject=subject)
    assert whole.instance == second.instance
    assert whole.effects == first.effects + second.effects
    assert which.next_deadline(whole.instance) is None or which.next_deadline(whole.instance) > t2


@settings(max_examples=300, deadline=None)
@given(case=_stream(APPROVAL))
def test_nothing_is_published_without_the_required_approvals(
    case: tuple[dict[str, Any], list[Step]],
) -> None:
    subject, steps = case
    needs_legal = subject.get("needs_legal") is True
    for _, result, _ in run(APPROVAL, subject, steps):
        inst = result.instance
        if inst.state not in ("approved", "scheduled", "published"):
            continue
        approver = inst.data.get("approved_by")
        assert approver is not None and approver != subject["author"]
        if needs_legal:
            legal = inst.data.get("legal_approved_by")
            assert legal is not None and legal not in (subject["author"], approver)


@settings(max_examples=100, deadline=None)
@given(case=streams)
def test_instances_never_change_after_they_are_returned(
    case: tuple[sf.Workflow, tuple[dict[str, Any], list[Step]]],
) -> None:
    which, (subject, steps) = case
    seen: list[tuple[sf.Instance, bytes]] = []
    for _, result, _ in run(which, subject, steps):
        seen.append((result.instance, pickle.dumps(result.instance)))
    subject.clear()  # the host reusing its dict changes nothing either
    for instance, snapshot in seen:
        assert pickle.dumps(instance) == snapshot
        assert _frozen(instance.data)


def _frozen(value: Any) -> bool:
    if isinstance(value, (list, dict, set, bytearray)):
        return False
    if isinstance(value, tuple):
        return all(_frozen(v) for v in value)
    if isinstance(value, sf.cel.values.FrozenMap):
        return all(_frozen(v) for v in value.values())
    return True
