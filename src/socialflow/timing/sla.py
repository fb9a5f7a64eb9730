"""Response-time targets (SLAs) as absolute deadlines.

In: an :class:`SlaPolicy` (a first-response and/or a resolution duration and
an optional :class:`~socialflow.timing.calendar.Calendar`) and an aware ``now``.

Out: :class:`SlaDeadlines`, aware ``datetime`` values in UTC.  With a calendar
the durations are business time (:meth:`Calendar.add
<socialflow.timing.calendar.Calendar.add>`: the clock starts at the next opening, and
a deadline on a closing instant stays there); without one they are elapsed
time, ``now + duration``, whatever the zone of ``now`` (no wall-clock
arithmetic across a DST change).  A target may also be a number of
:class:`BusinessDays` of the calendar (:meth:`Calendar.add_business_days
<socialflow.timing.calendar.Calendar.add_business_days>`), which needs one.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import attrs

from socialflow.errors import UsageError
from socialflow.timing._validate import (
    aware_utc,
    instance_of,
    non_negative_duration,
    optional,
    string,
)
from socialflow.timing.calendar import Calendar

__all__ = ["BusinessDays", "SlaDeadlines", "SlaPolicy"]


def _days(_instance: object, _attribute: object, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise UsageError(f"`days` must be an int of zero or more, got `{value!r}`")


@attrs.frozen
class BusinessDays:
    """A target of ``days`` business days of the SLA's calendar (the DSL's
    ``2 business days``): the deadline falls at the same business time of day
    that many opening days later."""

    days: int = attrs.field(validator=_days)

    def __str__(self) -> str:
        return f"{self.days} business day{'' if self.days == 1 else 's'}"


def _target(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is None or isinstance(value, BusinessDays):
        return
    non_negative_duration(instance, attribute, value)


@attrs.frozen
class SlaDeadlines:
    """The deadlines one :class:`SlaPolicy` sets from one ``now`` (UTC, or ``None``
    for a target the policy does not set)."""

    policy: str
    first_response_at: datetime | None
    resolution_at: datetime | None


@attrs.frozen
class SlaPolicy:
    """A named pair of response-time targets, in business or elapsed time.

    ``first_response`` and ``resolution`` are non-negative durations,
    :class:`BusinessDays`, or ``None`` when the policy sets no such target.
    With a ``calendar`` durations count only open time (business hours);
    without one, elapsed time.  Business days need a calendar.
    """

    name: str = attrs.field(validator=string)
    first_response: timedelta | BusinessDays | None = attrs.field(default=None, validator=_target)
    resolution: timedelta | BusinessDays | None = attrs.field(default=None, validator=_target)
    calendar: Calendar | None = attrs.field(default=None, validator=optional(instance_of(Calendar)))

    def __attrs_post_init__(self) -> None:
        if self.calendar is None and (
            isinstance(self.first_response, BusinessDays)
            or isinstance(self.resolution, BusinessDays)
        ):
            raise UsageError(f"sla `{self.name}` counts business days but has no calendar")

    def deadlines(self, now: datetime) -> SlaDeadlines:
        """The absolute deadlines for an item received at ``now``.

        Args:
            now: When the clock starts; aware, any zone.

        Returns:
            The deadlines, aware, in UTC.

        Raises:
            UsageError: ``now`` is naive, the calendar has problems, or a
                deadline is out of range.
        """
        start = aware_utc(now, "now")
        return SlaDeadlines(
            self.name,
            self._deadline(start, self.first_response),
            self._deadline(start, self.resolution),
        )

    def _deadline(
        self, start: datetime, duration: timedelta | BusinessDays | None
    ) -> datetime | None:
        if duration is None:
            return None
        if isinstance(duration, BusinessDays):
            assert self.calendar is not None  # the constructor requires one
            return self.calendar.add_business_days(start, duration.days)
        if self.calendar is not None:
            return self.calendar.add(start, duration)
        try:
            return start + duration
        except OverflowError:
            raise UsageError(f"the deadline of sla `{self.name}` is out of range") from None
