"""Response-time targets (SLAs) as absolute deadlines.

In: an :class:`SlaPolicy` (a first-response and/or a resolution duration and
an optional :class:`~socialflow.timing.calendar.Calendar`) and an aware ``now``.

Out: :class:`SlaDeadlines`, aware ``datetime`` values in UTC.  With a calendar
the durations are business time (:meth:`Calendar.add
<socialflow.timing.calendar.Calendar.add>`: the clock starts at the next opening, and
a deadline on a closing instant stays there); without one they are elapsed
time, ``now + duration``, whatever the zone of ``now`` (no wall-clock
arithmetic across a DST change).
"""

from __future__ import annotations

from datetime import datetime, timedelta

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

__all__ = ["SlaDeadlines", "SlaPolicy"]


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

    ``first_response`` and ``resolution`` are non-negative durations, or
    ``None`` when the policy sets no such target.  With a ``calendar`` they
    count only open time; without one, elapsed time.
    """

    name: str = attrs.field(validator=string)
    first_response: timedelta | None = attrs.field(
        default=None, validator=optional(non_negative_duration)
    )
    resolution: timedelta | None = attrs.field(
        default=None, validator=optional(non_negative_duration)
    )
    calendar: Calendar | None = attrs.field(default=None, validator=optional(instance_of(Calendar)))

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

    def _deadline(self, start: datetime, duration: timedelta | None) -> datetime | None:
        if duration is None:
            return None
        if self.calendar is not None:
            return self.calendar.add(start, duration)
        try:
            return start + duration
        except OverflowError:
            raise UsageError(f"the deadline of sla `{self.name}` is out of range") from None
