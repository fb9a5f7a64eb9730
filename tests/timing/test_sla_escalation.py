"""SLA deadlines (:mod:`socialflow.timing.sla`) and escalation plans
(:mod:`socialflow.timing.escalation`), through their public API.

The examples are DESIGN.md's ``standard``/``urgent`` SLAs and ``care_policy``.
"""

from __future__ import annotations

import pickle
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from socialflow.errors import UsageError
from socialflow.timing.calendar import Calendar, OpeningHours
from socialflow.timing.escalation import (
    MAX_PLAN_STEPS,
    EscalationLevel,
    EscalationPlan,
    EscalationPolicy,
    EscalationProblem,
    EscalationStep,
    EscalationTarget,
)
from socialflow.timing.sla import SlaDeadlines, SlaPolicy

LONDON = ZoneInfo("Europe/London")
H = timedelta(hours=1)
M = timedelta(minutes=1)
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def london(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=LONDON)


def uk_support() -> Calendar:
    return Calendar.build(
        "uk_support",
        "Europe/London",
        [
            *(OpeningHours(d, time(9), time(18)) for d in range(5)),
            OpeningHours(5, time(10), time(14)),
        ],
        [date(2026, 12, 25), date(2026, 12, 26)],
    )


STANDARD = SlaPolicy("standard", first_response=H, resolution=24 * H, calendar=uk_support())
URGENT = SlaPolicy("urgent", first_response=15 * M)

CUSTOMER_CARE = EscalationTarget("queue", "customer_care")
CARE_LEADS = EscalationTarget("queue", "care_leads")
PR_DIRECTOR = EscalationTarget("role", "pr_director")
PR_DESK = EscalationTarget("queue", "pr_desk")

CARE_POLICY = EscalationPolicy(
    "care_policy",
    (
        EscalationLevel(1, timedelta(0), (CUSTOMER_CARE,)),
        EscalationLevel(2, 30 * M, (CARE_LEADS,)),
        EscalationLevel(3, 2 * H, (PR_DIRECTOR, PR_DESK)),
    ),
    repeat=1,
)


# -- SLA --------------------------------------------------------------------------------


def test_standard_sla_counts_business_time() -> None:
    deadlines = STANDARD.deadlines(london(2026, 11, 20, 17, 30))
    # Friday 0.5 h, Saturday 4 h, Monday 9 h, Tuesday 9 h, Wednesday 1.5 h.
    assert deadlines == SlaDeadlines(
        "standard", london(2026, 11, 21, 10, 30), london(2026, 11, 25, 10, 30)
    )
    assert deadlines.first_response_at is not None
    assert deadlines.first_response_at.tzinfo is UTC


def test_urgent_sla_counts_elapsed_time_even_across_dst() -> None:
    # 00:50 GMT on 29 March; fifteen real minutes later it is 02:05 BST.
    deadlines = URGENT.deadlines(london(2026, 3, 29, 0, 50))
    assert deadlines == SlaDeadlines("urgent", datetime(2026, 3, 29, 1, 5, tzinfo=UTC), None)
    assert deadlines.first_response_at == london(2026, 3, 29, 2, 5)
    assert deadlines.first_response_at is not None
    assert deadlines.first_response_at.tzinfo is UTC
    # Wall-clock arithmetic in the zone would have said 01:05 GMT: wrong.
    assert deadlines.first_response_at != london(2026, 3, 29, 0, 50) + 15 * M


def test_sla_without_targets_gives_no_deadlines() -> None:
    assert SlaPolicy("none").deadlines(NOW) == SlaDeadlines("none", None, None)


def test_zero_duration_sla() -> None:
    saturday_night = london(2026, 11, 21, 22, 0)
    assert SlaPolicy("zero", first_response=timedelta(0)).deadlines(saturday_night) == SlaDeadlines(
        "zero", saturday_night, None
    )
    with_calendar = SlaPolicy("zero", first_response=timedelta(0), calendar=uk_support())
    assert with_calendar.deadlines(saturday_night).first_response_at == london(2026, 11, 23, 9, 0)


def test_sla_misuse() -> None:
    with pytest.raises(UsageError, match="`now`"):
        URGENT.deadlines(datetime(2026, 11, 23, 10))
    with pytest.raises(UsageError, match="negative"):
        SlaPolicy("bad", first_response=-H)
    with pytest.raises(UsageError, match="`resolution`"):
        SlaPolicy("bad", resolution=3600)  # type: ignore[arg-type]  # misuse on purpose
    with pytest.raises(UsageError, match="`calendar`"):
        SlaPolicy("bad", calendar="uk_support")  # type: ignore[arg-type]  # misuse on purpose
    broken = SlaPolicy("broken", first_response=H, calendar=Calendar.build("c", "Nowhere/City", []))
    with pytest.raises(UsageError, match="cannot be used"):
        broken.deadlines(NOW)
    with pytest.raises(UsageError, match="out of range"):
        URGENT.deadlines(datetime.max.replace(tzinfo=UTC))


@settings(deadline=None)
@given(
    st.datetimes(datetime(2025, 1, 1), datetime(2028, 1, 1), timezones=st.just(LONDON)),
    st.timedeltas(timedelta(0), timedelta(days=30)),
)
def test_sla_deadlines_match_the_calendar(now: datetime, duration: timedelta) -> None:
    elapsed = SlaPolicy("e", first_response=duration, resolution=2 * duration).deadlines(now)
    assert elapsed.first_response_at is not None
    assert elapsed.first_response_at - now == duration
    business = SlaPolicy("b", duration, 2 * duration, uk_support()).deadlines(now)
    assert business.first_response_at == uk_support().add(now, duration)
    assert business.resolution_at == uk_support().add(now, 2 * duration)


# -- escalation plans ------------------------------------------------------------------------


def test_care_policy_plan() -> None:
    plan = CARE_POLICY.plan(NOW)
    assert plan.policy == "care_policy"
    assert plan.acknowledged_at is None
    assert [(s.at - NOW, s.level, s.round) for s in plan.steps] == [
        (timedelta(0), 1, 1),
        (30 * M, 2, 1),
        (2 * H + 30 * M, 3, 1),
        # repeat 1 without `after`: restart the last level's own delay (2 h) later
        (4 * H + 30 * M, 1, 2),
        (5 * H, 2, 2),
        (7 * H, 3, 2),
    ]
    assert plan.steps[2].targets == (PR_DIRECTOR, PR_DESK)
    assert all(s.at.tzinfo is UTC for s in plan.steps)


def test_repeat_after_and_no_repeat() -> None:
    policy = EscalationPolicy("p", CARE_POLICY.levels, repeat=2, repeat_after=H)
    assert [s.at - NOW for s in policy.plan(NOW).steps] == [
        timedelta(0), 30 * M, 150 * M,
        210 * M, 240 * M, 360 * M,
        420 * M, 450 * M, 570 * M,
    ]  # fmt: skip
    assert [s.round for s in policy.plan(NOW).steps] == [1, 1, 1, 2, 2, 2, 3, 3, 3]
    once = EscalationPolicy("p", CARE_POLICY.levels)
    assert [s.at - NOW for s in once.plan(NOW).steps] == [timedelta(0), 30 * M, 150 * M]


def test_single_level_repeat_needs_an_after() -> None:
    level = EscalationLevel(1, timedelta(0), (CUSTOMER_CARE,))
    implicit = EscalationPolicy("p", (level,), repeat=2)
    assert [p.code for p in implicit.problems()] == ["repeat_without_delay"]
    assert "`repeat 2 after D`" in implicit.problems()[0].message
    with pytest.raises(UsageError, match="cannot be used"):
        implicit.plan(NOW)
    spaced = EscalationPolicy("p", (level,), repeat=2, repeat_after=15 * M)
    assert [s.at - NOW for s in spaced.plan(NOW).steps] == [timedelta(0), 15 * M, 30 * M]
    explicit_zero = EscalationPolicy("p", (level,), repeat=1, repeat_after=timedelta(0))
    assert [s.at for s in explicit_zero.plan(NOW).steps] == [NOW, NOW]
    assert EscalationPolicy("p", (level,)).plan(NOW).steps == (
        EscalationStep(NOW, 1, 1, (CUSTOMER_CARE,)),
    )


def test_escalation_delays_are_elapsed_time() -> None:
    policy = EscalationPolicy(
        "p",
        (EscalationLevel(1, timedelta(0), (CUSTOMER_CARE,)), EscalationLevel(2, H, (CARE_LEADS,))),
    )
    steps = policy.plan(london(2026, 3, 29, 0, 30)).steps
    assert steps[1].at == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # 02:30 BST


def test_policy_problems() -> None:
    def problems(policy: EscalationPolicy) -> list[tuple[str, int | None]]:
        return [(p.code, p.index) for p in policy.problems()]

    level = EscalationLevel
    assert CARE_POLICY.problems() == ()
    assert problems(EscalationPolicy("p", ())) == [("no_levels", None)]
    assert problems(
        EscalationPolicy(
            "p", (level(1, timedelta(0), (CUSTOMER_CARE,)), level(3, H, (CARE_LEADS,)))
        )
    ) == [("level_numbering", 1)]
    assert problems(EscalationPolicy("p", (level(1, H, (CUSTOMER_CARE,)),))) == [
        ("first_level_delay", 0)
    ]
    assert problems(
        EscalationPolicy(
            "p", (level(1, timedelta(0), (CUSTOMER_CARE,)), level(2, -H, (CARE_LEADS,)))
        )
    ) == [("negative_delay", 1)]
    assert problems(EscalationPolicy("p", (level(1, timedelta(0), ()),))) == [("no_targets", 0)]
    assert problems(EscalationPolicy("p", CARE_POLICY.levels, repeat=-1)) == [
        ("negative_repeat", None)
    ]
    assert problems(EscalationPolicy("p", CARE_POLICY.levels, repeat=1, repeat_after=-H)) == [
        ("negative_delay", None)
    ]
    assert problems(EscalationPolicy("p", CARE_POLICY.levels, repeat=MAX_PLAN_STEPS)) == [
        ("too_many_steps", None)
    ]
    assert EscalationPolicy("p", (level(1, timedelta(0), ()),)).problems() == (
        EscalationProblem("no_targets", "level 1 of escalation `p` notifies no one", 0),
    )


def test_escalation_misuse() -> None:
    with pytest.raises(UsageError, match="`kind`"):
        EscalationTarget("team", "x")
    with pytest.raises(UsageError, match="`targets`"):
        EscalationLevel(1, timedelta(0), ("queue customer_care",))  # type: ignore[arg-type]  # misuse on purpose
    with pytest.raises(UsageError, match="`now`"):
        CARE_POLICY.plan(datetime(2026, 11, 23, 10))
    with pytest.raises(UsageError, match="`now`"):
        CARE_POLICY.plan(NOW).due(datetime(2026, 11, 23, 10))
    with pytest.raises(UsageError, match="range"):
        CARE_POLICY.plan(datetime.max.replace(tzinfo=UTC) - H)


# -- acknowledging and querying a plan ---------------------------------------------------------


def test_acknowledge_keeps_only_steps_strictly_before() -> None:
    plan = CARE_POLICY.plan(NOW)
    stopped = plan.acknowledge(NOW + H)
    assert [s.level for s in stopped.steps] == [1, 2]
    assert stopped.acknowledged_at == NOW + H
    assert stopped.acknowledged_at is not None
    assert stopped.acknowledged_at.tzinfo is UTC
    # A step at the very instant of the acknowledgement is not sent.
    assert [s.level for s in plan.acknowledge(NOW + 30 * M).steps] == [1]
    assert plan.acknowledge(NOW).steps == ()
    assert plan.steps == CARE_POLICY.plan(NOW).steps  # the original is unchanged


def test_the_first_acknowledgement_wins() -> None:
    plan = CARE_POLICY.plan(NOW)
    first = plan.acknowledge(NOW + H)
    assert first.acknowledge(NOW + 5 * H) == first
    earlier = first.acknowledge((NOW + 10 * M).astimezone(LONDON))
    assert earlier == plan.acknowledge(NOW + 10 * M)
    assert earlier.acknowledged_at == NOW + 10 * M


def test_due_and_next_step() -> None:
    plan = CARE_POLICY.plan(NOW)
    assert plan.due(NOW - M) == ()
    assert plan.next_step(NOW - M) == plan.steps[0]
    assert plan.due(NOW) == plan.steps[:1]
    assert plan.due(NOW + 30 * M) == plan.steps[:2]  # at or before
    assert plan.next_step(NOW + 30 * M) == plan.steps[2]
    assert plan.due(NOW + 24 * H) == plan.steps
    assert plan.next_step(NOW + 7 * H) is None
    stopped = plan.acknowledge(NOW + H)
    assert stopped.next_step(NOW + H) is None
    assert stopped.due(NOW + 24 * H) == plan.steps[:2]


def test_plans_pickle_and_sort_their_steps() -> None:
    plan = CARE_POLICY.plan(NOW).acknowledge(NOW + 3 * H)
    assert pickle.loads(pickle.dumps(plan)) == plan
    shuffled = EscalationPlan("care_policy", tuple(reversed(CARE_POLICY.plan(NOW).steps)))
    assert shuffled == CARE_POLICY.plan(NOW)


# -- properties ---------------------------------------------------------------------------------

targets = st.lists(
    st.builds(
        EscalationTarget, st.sampled_from(["queue", "role", "user"]), st.text("abc", min_size=1)
    ),
    min_size=1,
    max_size=3,
).map(tuple)


@st.composite
def policies(draw: st.DrawFn) -> EscalationPolicy:
    delays = draw(st.lists(st.integers(0, 600).map(lambda n: n * M), max_size=5))
    levels = [EscalationLevel(1, timedelta(0), draw(targets))]
    levels += [EscalationLevel(i, d, draw(targets)) for i, d in enumerate(delays, 2)]
    repeat = draw(st.integers(0, 4))
    repeat_after = draw(st.one_of(st.none(), st.integers(0, 600).map(lambda n: n * M)))
    if repeat and repeat_after is None and levels[-1].after == timedelta(0):
        repeat_after = H
    return EscalationPolicy("p", tuple(levels), repeat, repeat_after)


instants = st.datetimes(
    datetime(2025, 1, 1), datetime(2028, 1, 1), timezones=st.sampled_from([UTC, LONDON])
)


@settings(deadline=None)
@given(policies(), instants)
def test_plans_are_ordered_and_complete(policy: EscalationPolicy, now: datetime) -> None:
    assert policy.problems() == ()
    plan = policy.plan(now)
    steps = plan.steps
    assert len(steps) == (policy.repeat + 1) * len(policy.levels)
    # Compared in UTC: an imaginary local `now` (in a DST gap) compares unequal
    # to every datetime of another zone (PEP 495).
    assert steps[0].at == now.astimezone(UTC)
    assert [s.at for s in steps] == sorted(s.at for s in steps)
    assert all(s.at.tzinfo is UTC for s in steps)
    rounds = [[s for s in steps if s.round == r] for r in range(1, policy.repeat + 2)]
    for number, round_steps in enumerate(rounds, 1):
        assert sorted(s.level for s in round_steps) == list(range(1, len(policy.levels) + 1))
        if number > 1:
            previous_end = max(s.at for s in rounds[number - 2])
            first = min(s.at for s in round_steps if s.level == 1)
            assert first - previous_end == policy.restart_delay
    assert policy.plan(now) == plan  # deterministic


@settings(deadline=None)
@given(policies(), instants, st.integers(-60, 3000).map(lambda n: n * M))
def test_acknowledge_due_and_next_step_agree(
    policy: EscalationPolicy, now: datetime, offset: timedelta
) -> None:
    plan = policy.plan(now)
    moment = now.astimezone(UTC) + offset
    due = plan.due(moment)
    assert due == tuple(s for s in plan.steps if s.at <= moment)
    assert plan.next_step(moment) == (plan.steps[len(due)] if len(due) < len(plan.steps) else None)
    stopped = plan.acknowledge(moment)
    assert stopped.steps == tuple(s for s in plan.steps if s.at < moment)
    assert stopped.acknowledge(moment) == stopped
    assert stopped.acknowledge(moment + H) == stopped
    assert stopped.next_step(moment) is None


def test_escalation_field_types_are_checked() -> None:
    with pytest.raises(UsageError, match="`after`"):
        EscalationLevel(2, None, (CARE_LEADS,))  # type: ignore[arg-type]  # misuse on purpose
    with pytest.raises(UsageError, match="`repeat_after`"):
        EscalationPolicy("p", CARE_POLICY.levels, 1, 3600)  # type: ignore[arg-type]  # misuse on purpose
    with pytest.raises(UsageError, match="`repeat`"):
        EscalationPolicy("p", CARE_POLICY.levels, True)
    with pytest.raises(UsageError, match="`levels`"):
        EscalationPolicy("p", CARE_POLICY.levels[0])  # type: ignore[arg-type]  # misuse on purpose
