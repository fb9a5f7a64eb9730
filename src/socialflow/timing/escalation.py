"""Escalation policies and the plans they yield, as data.

In: an :class:`EscalationPolicy` (numbered :class:`EscalationLevel` values,
each with a delay and the :class:`EscalationTarget` values to notify, plus an
optional repeat) and an aware ``now``.

Out: an :class:`EscalationPlan`, the time-ordered :class:`EscalationStep`
values the host should carry out (times in UTC), which it can query
(:meth:`EscalationPlan.due`, :meth:`EscalationPlan.next_step`) and stop
(:meth:`EscalationPlan.acknowledge`).  Definition problems come back as data
from :meth:`EscalationPolicy.problems`; :meth:`EscalationPolicy.plan` refuses a
policy that has any.

Semantics (DESIGN.md):

* Level 1 fires at ``now``; ``level k after D`` fires ``D`` after level k-1.
* Then the whole policy runs again ``repeat`` times.  ``repeat N after D``
  restarts at level 1 ``D`` after the last level; without ``after``, ``D`` is
  the last level's own delay.  Rounds are numbered from 1 (the first pass) to
  ``repeat + 1``.
* A repeat whose delay would be that implicit zero (a single-level policy, or
  a last level with no delay, and no ``after`` on the repeat) would fire every
  round at the same instant as the step before it; :meth:`problems` reports
  it as ``repeat_without_delay`` rather than planning duplicate notifications.
  An explicit ``repeat N after 0s`` is taken at its word.
* Delays are elapsed time, not business time.
* An acknowledgement stops the plan: only the steps strictly before it remain.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, Final

import attrs

from socialflow._records import fast_constructor
from socialflow.errors import UsageError
from socialflow.timing._validate import aware_utc, duration, integer, optional, string, tuple_of

__all__ = [
    "MAX_PLAN_STEPS",
    "TARGET_KINDS",
    "EscalationLevel",
    "EscalationPlan",
    "EscalationPolicy",
    "EscalationProblem",
    "EscalationStep",
    "EscalationTarget",
]

#: The kinds of recipient a level can notify.
TARGET_KINDS: Final = ("queue", "role", "user")

#: The most steps one plan may hold (levels times rounds); more is a problem.
MAX_PLAN_STEPS: Final = 10_000


def _check_kind(_instance: object, _attribute: object, value: Any) -> None:
    if value not in TARGET_KINDS:
        raise UsageError(f"`kind` must be one of `queue`, `role`, `user`, got `{value!r}`")


def _to_targets(value: Iterable[EscalationTarget]) -> tuple[EscalationTarget, ...]:
    return tuple_of(value, EscalationTarget, "targets")


def _to_levels(value: Iterable[EscalationLevel]) -> tuple[EscalationLevel, ...]:
    return tuple_of(value, EscalationLevel, "levels")


def _utc(value: datetime) -> datetime:
    return aware_utc(value, "at")


def _utc_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else aware_utc(value, "acknowledged_at")


@attrs.frozen
class EscalationTarget:
    """Who a level notifies: ``kind`` is ``queue``, ``role`` or ``user``."""

    kind: str = attrs.field(validator=_check_kind)
    name: str = attrs.field(validator=string)

    def __str__(self) -> str:
        return f"{self.kind} {self.name}"


@attrs.frozen
class EscalationLevel:
    """Level ``level`` notifies ``targets`` ``after`` the previous level (level 1: at once)."""

    level: int = attrs.field(validator=integer)
    after: timedelta = attrs.field(default=timedelta(0), validator=duration)
    targets: tuple[EscalationTarget, ...] = attrs.field(default=(), converter=_to_targets)


@attrs.frozen
class EscalationProblem:
    """A definition problem of an :class:`EscalationPolicy`, as data.

    ``code`` is one of ``no_levels``, ``level_numbering``, ``first_level_delay``,
    ``negative_delay``, ``no_targets``, ``negative_repeat``,
    ``repeat_without_delay`` and ``too_many_steps``.  ``index`` is the position
    in :attr:`EscalationPolicy.levels` of the offending level, or ``None`` when
    the problem is the whole policy's (or its ``repeat``'s).
    """

    code: str
    message: str
    index: int | None = None


@attrs.frozen(weakref_slot=False)
class EscalationStep:
    """One notification of a plan: at ``at`` (UTC), level ``level`` of round ``round``."""

    at: datetime = attrs.field(converter=_utc)
    level: int = attrs.field(validator=integer)
    round: int = attrs.field(validator=integer)
    targets: tuple[EscalationTarget, ...] = attrs.field(converter=_to_targets)


#: ``EscalationStep`` without conversion, for :meth:`EscalationPolicy.plan`'s own values.
_make_step = fast_constructor(EscalationStep)


def _step_key(step: EscalationStep) -> tuple[datetime, int, int]:
    return (step.at, step.round, step.level)


def _sorted_steps(value: Iterable[EscalationStep]) -> tuple[EscalationStep, ...]:
    items: tuple[EscalationStep, ...] = tuple_of(value, EscalationStep, "steps")
    return tuple(sorted(items, key=_step_key))


@attrs.frozen
class EscalationPlan:
    """The steps one policy schedules from one ``now``, in time order.

    ``steps`` is sorted by time, then round, then level.  ``acknowledged_at``
    is set once the plan has been stopped by :meth:`acknowledge`.
    """

    policy: str = attrs.field(validator=string)
    steps: tuple[EscalationStep, ...] = attrs.field(converter=_sorted_steps)
    acknowledged_at: datetime | None = attrs.field(default=None, converter=_utc_or_none)

    def acknowledge(self, now: datetime) -> EscalationPlan:
        """The plan stopped by an acknowledgement at ``now``.

        Only the steps strictly before ``now`` remain (a step at the very
        instant of the acknowledgement is not sent).  The earliest
        acknowledgement wins: acknowledging again later changes nothing.
        """
        at = aware_utc(now, "now")
        if self.acknowledged_at is not None and self.acknowledged_at <= at:
            return self
        return EscalationPlan(self.policy, tuple(s for s in self.steps if s.at < at), at)

    def due(self, now: datetime) -> tuple[EscalationStep, ...]:
        """The steps at or before ``now``, in order."""
        at = aware_utc(now, "now")
        return self.steps[: bisect.bisect_right(self.steps, at, key=lambda s: s.at)]

    def next_step(self, now: datetime) -> EscalationStep | None:
        """The first step strictly after ``now``, or ``None`` when none is left."""
        at = aware_utc(now, "now")
        index = bisect.bisect_right(self.steps, at, key=lambda s: s.at)
        return self.steps[index] if index < len(self.steps) else None


@attrs.frozen
class EscalationPolicy:
    """Numbered levels of notification, optionally repeated.

    ``repeat`` is how many times the whole policy runs again after its first
    pass; ``repeat_after`` the delay from the last level to the restart at
    level 1 (``None``: the last level's own delay).  ``repeat_after`` is
    ignored when ``repeat`` is 0.
    """

    name: str = attrs.field(validator=string)
    levels: tuple[EscalationLevel, ...] = attrs.field(converter=_to_levels)
    repeat: int = attrs.field(default=0, validator=integer)
    repeat_after: timedelta | None = attrs.field(default=None, validator=optional(duration))

    @property
    def restart_delay(self) -> timedelta:
        """The delay from the last level of a round to level 1 of the next."""
        if self.repeat_after is not None:
            return self.repeat_after
        return self.levels[-1].after if self.levels else timedelta(0)

    def problems(self) -> tuple[EscalationProblem, ...]:
        """Definition problems, in a stable order; empty when the policy is usable."""
        found: list[EscalationProblem] = []
        name = self.name
        if not self.levels:
            found.append(EscalationProblem("no_levels", f"escalation `{name}` has no levels"))
        for index, level in enumerate(self.levels):
            if level.level != index + 1:
                found.append(
                    EscalationProblem(
                        "level_numbering",
                        f"expected level {index + 1} in escalation `{name}`, found level {level.level}",
                        index,
                    )
                )
            if index == 0 and level.after != timedelta(0):
                found.append(
                    EscalationProblem(
                        "first_level_delay",
                        f"level 1 of escalation `{name}` fires at once and takes no delay",
                        index,
                    )
                )
            if level.after < timedelta(0):
                found.append(
                    EscalationProblem(
                        "negative_delay",
                        f"level {level.level} of escalation `{name}` has a negative delay",
                        index,
                    )
                )
            if not level.targets:
                found.append(
                    EscalationProblem(
                        "no_targets",
                        f"level {level.level} of escalation `{name}` notifies no one",
                        index,
                    )
                )
        if self.repeat < 0:
            found.append(
                EscalationProblem(
                    "negative_repeat",
                    f"`repeat` of escalation `{name}` must be 0 or more, got {self.repeat}",
                )
            )
        if self.repeat_after is not None and self.repeat_after < timedelta(0):
            found.append(
                EscalationProblem(
                    "negative_delay", f"the `repeat` delay of escalation `{name}` is negative"
                )
            )
        if (
            self.repeat > 0
            and self.repeat_after is None
            and self.levels
            and self.levels[-1].after == timedelta(0)
        ):
            found.append(
                EscalationProblem(
                    "repeat_without_delay",
                    f"`repeat {self.repeat}` of escalation `{name}` has no `after` and the last "
                    "level has no delay, so each round would fire at once: write "
                    f"`repeat {self.repeat} after D`",
                )
            )
        if (max(self.repeat, 0) + 1) * len(self.levels) > MAX_PLAN_STEPS:
            found.append(
                EscalationProblem(
                    "too_many_steps",
                    f"escalation `{name}` would plan more than {MAX_PLAN_STEPS} steps",
                )
            )
        return tuple(found)

    def plan(self, now: datetime) -> EscalationPlan:
        """The plan of an escalation that starts at ``now``.

        Returns:
            Every step of every round, in time order, times in UTC.

        Raises:
            UsageError: ``now`` is naive, the policy has problems, or a step
                falls outside the supported date range.
        """
        at = aware_utc(now, "now")
        problems = self.problems()
        if problems:
            details = "; ".join(p.message for p in problems)
            raise UsageError(f"escalation `{self.name}` cannot be used: {details}")
        steps: list[EscalationStep] = []
        try:
            for round_number in range(1, self.repeat + 2):
                if round_number > 1:
                    at += self.restart_delay
                for index, level in enumerate(self.levels):
                    if index > 0:
                        at += level.after
                    # at: aware UTC plus durations; targets: the level's checked tuple
                    steps.append(_make_step(at, level.level, round_number, level.targets))
        except OverflowError:
            raise UsageError(
                f"a step of escalation `{self.name}` is outside the supported date range"
            ) from None
        return EscalationPlan(self.name, tuple(steps))
