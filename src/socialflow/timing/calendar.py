"""Business-time arithmetic: opening hours, closed dates and DST.

In: a :class:`Calendar` (an IANA time zone, weekly :class:`OpeningHours` read
as local wall-clock times, and closed local dates), an aware ``now`` and,
for :meth:`Calendar.add`, a ``timedelta`` of business time.

Out: ``bool`` (:meth:`Calendar.is_open`), aware ``datetime`` values in UTC
(:meth:`Calendar.next_open`, :meth:`Calendar.add`) and ``timedelta`` values
(:meth:`Calendar.open_time_between`).  Definition problems (an unknown zone,
overlapping hours...) are returned as data by :meth:`Calendar.problems` so the
DSL checker can attach source positions; the arithmetic methods refuse a
calendar that has any.

How local hours become instants (the DST rules):

* Every opening interval is half-open, ``[opening, closing)``: a calendar is
  open at its opening instant and closed at its closing instant.
* A local wall-clock time maps to an instant with :mod:`zoneinfo`.  In a
  fall-back overlap (a wall time that happens twice) the first occurrence
  (``fold=0``) is used; a wall time inside a spring-forward gap (one that never
  happens) is moved forward to the first instant after the gap.  An interval
  that spans a transition therefore lasts one hour less or more that day, and
  an interval that lies wholly inside a gap does not open at all that day.
* ``end=time(0, 0)`` means midnight at the end of the day (24:00).

Business time is counted in whole microseconds, exactly: no float rounding.
The search for a deadline is bounded (:data:`HORIZON_DAYS`); a deadline that
lies further away raises :class:`~socialflow.errors.UsageError`.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs

from socialflow.errors import UsageError
from socialflow.timing._validate import aware_utc, string, tuple_of

__all__ = [
    "HORIZON_DAYS",
    "WEEKDAY_NAMES",
    "Calendar",
    "CalendarProblem",
    "OpeningHours",
]

#: Day names as the DSL writes them, indexed by ``date.weekday()`` (0 = Monday).
WEEKDAY_NAMES: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

#: How far (in local days) the search for an opening or a deadline may run past
#: ``now`` (or past the last closed date, whichever is later): 400 years.
HORIZON_DAYS: Final = 146_097

_US_PER_DAY: Final = 86_400_000_000
#: How many local days one calendar remembers the opening intervals of.
_DAY_MEMO: Final = 4096
_EPOCH_UTC: Final = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_NAIVE: Final = datetime(1970, 1, 1)
_EPOCH_ORDINAL: Final = _EPOCH_NAIVE.toordinal()
#: Local days the arithmetic supports: room on both sides for the +-1 day the
#: walks look around an instant, and for a UTC offset of up to a day.
_MIN_ORDINAL: Final = date.min.toordinal() + 3
_MAX_ORDINAL: Final = date.max.toordinal() - 3


def _td_us(value: timedelta) -> int:
    """``value`` in whole microseconds."""
    return (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds


def _time_us(value: time) -> int:
    return ((value.hour * 60 + value.minute) * 60 + value.second) * 1_000_000 + value.microsecond


def _format_time(value: time) -> str:
    text = f"{value.hour:02d}:{value.minute:02d}"
    if value.second or value.microsecond:
        text += f":{value.second:02d}"
    if value.microsecond:
        text += f".{value.microsecond:06d}"
    return text


def _to_us(value: datetime, name: str) -> int:
    """Microseconds since the Unix epoch of an aware ``value``."""
    return _td_us(aware_utc(value, name) - _EPOCH_UTC)


def _from_us(instant: int) -> datetime:
    try:
        return _EPOCH_UTC + timedelta(microseconds=instant)
    except OverflowError:
        raise UsageError("the result is outside the supported date range") from None


def _check_duration(value: object, name: str) -> int:
    if not isinstance(value, timedelta):
        raise UsageError(f"`{name}` must be a timedelta, got `{type(value).__name__}`")
    if value < timedelta(0):
        raise UsageError(f"`{name}` must not be negative, got `{value}`")
    return _td_us(value)


def _check_weekday(_instance: object, _attribute: object, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 6:
        raise UsageError(f"`weekday` must be an int from 0 (Monday) to 6 (Sunday), got `{value!r}`")


def _check_clock(_instance: object, attribute: attrs.Attribute[time], value: Any) -> None:
    if not isinstance(value, time):
        raise UsageError(
            f"`{attribute.name}` must be a datetime.time, got `{type(value).__name__}`"
        )
    if value.tzinfo is not None:
        raise UsageError(
            f"`{attribute.name}` must be a naive time: opening hours are read in the calendar's zone"
        )


@attrs.frozen(order=False)
class OpeningHours:
    """One weekly opening interval, in local wall-clock time.

    ``weekday`` is 0 (Monday) to 6 (Sunday).  The interval is ``[start, end)``;
    ``end=time(0, 0)`` means midnight at the end of the day (24:00), so
    ``start=time(0, 0), end=time(0, 0)`` is the whole day.  An ``end`` at or
    before ``start`` (other than midnight) is reported by
    :meth:`Calendar.problems` as ``empty_interval``.
    """

    weekday: int = attrs.field(validator=_check_weekday)
    start: time = attrs.field(validator=_check_clock)
    end: time = attrs.field(validator=_check_clock)

    @property
    def start_offset(self) -> timedelta:
        """Time from local midnight to the opening."""
        return timedelta(microseconds=_time_us(self.start))

    @property
    def end_offset(self) -> timedelta:
        """Time from local midnight to the closing (24 hours for ``time(0, 0)``)."""
        if self.end == time(0, 0):
            return timedelta(days=1)
        return timedelta(microseconds=_time_us(self.end))

    def __str__(self) -> str:
        end = "24:00" if self.end == time(0, 0) else _format_time(self.end)
        return f"{WEEKDAY_NAMES[self.weekday]} {_format_time(self.start)}-{end}"


def _hours_key(hours: OpeningHours) -> tuple[int, timedelta, timedelta]:
    return (hours.weekday, hours.start_offset, hours.end_offset)


def _normalise_hours(value: Iterable[OpeningHours]) -> tuple[OpeningHours, ...]:
    items: list[OpeningHours] = []
    for item in tuple_of(value, object, "hours"):
        if not isinstance(item, OpeningHours):
            raise UsageError(f"`hours` must hold OpeningHours values, got `{type(item).__name__}`")
        items.append(item)
    return tuple(sorted(items, key=_hours_key))


def _normalise_closed(value: Iterable[date]) -> tuple[date, ...]:
    items: set[date] = set()
    for item in tuple_of(value, object, "closed"):
        if not isinstance(item, date) or isinstance(item, datetime):
            raise UsageError(
                f"`closed` must hold datetime.date values, got `{type(item).__name__}`"
            )
        items.add(item)
    return tuple(sorted(items))


@attrs.frozen
class CalendarProblem:
    """A definition problem of a :class:`Calendar`, as data.

    ``code`` is one of ``unknown_timezone``, ``no_opening_hours``,
    ``empty_interval`` and ``overlapping_hours``.  ``index`` is the position in
    :attr:`Calendar.hours` of the offending entry (for ``overlapping_hours``,
    the later of the two), or ``None`` when the problem is the whole calendar's.
    """

    code: str
    message: str
    index: int | None = None


def _load_zone(key: str) -> ZoneInfo | None:
    # "localtime" names whatever zone the host is set to: not deterministic.
    if key.lower() == "localtime":
        return None
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def _find_problems(
    name: str, key: str, zone: ZoneInfo | None, hours: tuple[OpeningHours, ...]
) -> tuple[CalendarProblem, ...]:
    found: list[CalendarProblem] = []
    if zone is None:
        found.append(
            CalendarProblem(
                "unknown_timezone",
                f"unknown time zone `{key}` in calendar `{name}`: use an IANA name such as `Europe/London`",
            )
        )
    if not hours:
        found.append(CalendarProblem("no_opening_hours", f"calendar `{name}` has no opening hours"))
    # The latest-closing earlier interval of the same weekday, as (index, end).
    reach: dict[int, tuple[int, timedelta]] = {}
    for index, item in enumerate(hours):
        start, end = item.start_offset, item.end_offset
        if end <= start:
            found.append(
                CalendarProblem(
                    "empty_interval",
                    f"opening hours `{item}` are empty: the closing is not after the opening",
                    index,
                )
            )
            continue
        previous = reach.get(item.weekday)
        if previous is not None and previous[1] > start:
            found.append(
                CalendarProblem(
                    "overlapping_hours",
                    f"opening hours `{item}` overlap `{hours[previous[0]]}`",
                    index,
                )
            )
        if previous is None or end > previous[1]:
            reach[item.weekday] = (index, end)
    return tuple(found)


@attrs.frozen
class Calendar:
    """Opening hours and closed dates in one time zone; business-time arithmetic.

    The constructor (and :meth:`build`) sorts ``hours`` by weekday, opening
    and closing, and sorts and de-duplicates ``closed``, so two calendars with
    the same hours compare equal whatever order they were given in.  It never
    raises for a definition problem: see :meth:`problems`.

    Every method taking an instant requires an aware ``datetime`` (any zone)
    and returns aware ``datetime`` values in UTC.
    """

    name: str = attrs.field(validator=string)
    timezone: str = attrs.field(validator=string)
    hours: tuple[OpeningHours, ...] = attrs.field(converter=_normalise_hours)
    closed: tuple[date, ...] = attrs.field(default=(), converter=_normalise_closed)

    # Derived once from the fields above; not part of equality, repr or serde.
    _zone: ZoneInfo | None = attrs.field(init=False, eq=False, repr=False)
    _problems: tuple[CalendarProblem, ...] = attrs.field(init=False, eq=False, repr=False)
    #: Per weekday, the (opening, closing) wall-clock microseconds after midnight.
    _day_hours: tuple[tuple[tuple[int, int], ...], ...] = attrs.field(
        init=False, eq=False, repr=False
    )
    #: Open microseconds of a week without closed dates or clock changes.
    _week_us: int = attrs.field(init=False, eq=False, repr=False)
    _closed_ordinals: tuple[int, ...] = attrs.field(init=False, eq=False, repr=False)
    _closed_set: frozenset[int] = attrs.field(init=False, eq=False, repr=False)
    #: A memo of local day -> opening intervals (instants): a day's intervals
    #: depend only on the calendar, so every deadline on that day reuses them.
    #: Bounded; never part of equality, pickling or any result.
    _days: dict[int, tuple[tuple[int, int], ...]] = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        zone = _load_zone(self.timezone)
        problems = _find_problems(self.name, self.timezone, zone, self.hours)
        days: list[list[tuple[int, int]]] = [[] for _ in WEEKDAY_NAMES]
        for item in self.hours:
            start, end = _time_us(item.start), _td_us(item.end_offset)
            if start < end:
                days[item.weekday].append((start, end))
        ordinals = tuple(day.toordinal() for day in self.closed)
        object.__setattr__(self, "_zone", zone)
        object.__setattr__(self, "_problems", problems)
        object.__setattr__(self, "_day_hours", tuple(tuple(d) for d in days))
        object.__setattr__(self, "_week_us", sum(e - s for d in days for s, e in d))
        object.__setattr__(self, "_closed_ordinals", ordinals)
        object.__setattr__(self, "_closed_set", frozenset(ordinals))
        object.__setattr__(self, "_days", {})

    @classmethod
    def build(
        cls,
        name: str,
        timezone: str,
        hours: Iterable[OpeningHours],
        closed: Iterable[date] = (),
    ) -> Calendar:
        """A calendar from any iterables of hours and closed dates, normalised.

        Args:
            name: The calendar's name (used in messages).
            timezone: An IANA zone name such as ``"Europe/London"``.
            hours: Weekly opening intervals, in any order.
            closed: Local dates on which the calendar stays closed all day.

        Returns:
            The calendar; call :meth:`problems` before using it.
        """
        return cls(name, timezone, tuple(hours), tuple(closed))

    def problems(self) -> tuple[CalendarProblem, ...]:
        """Definition problems, in a stable order; empty when the calendar is usable."""
        return self._problems

    # -- public arithmetic -------------------------------------------------------------

    def is_open(self, now: datetime) -> bool:
        """Whether ``now`` lies in an opening interval (opening included, closing not)."""
        instant = _to_us(now, "now")
        walk = _Walk(self._usable(), self)
        first = walk.local_ordinal(instant)
        return any(
            start <= instant < end
            for ordinal in (first - 1, first, first + 1)
            for start, end in walk.intervals(ordinal)
        )

    def next_open(self, now: datetime) -> datetime:
        """``now`` (in UTC) if the calendar is open then, else the next opening instant.

        Raises:
            UsageError: ``now`` is naive, the calendar has problems, or it does
                not open within :data:`HORIZON_DAYS` days.
        """
        instant = _to_us(now, "now")
        walk = _Walk(self._usable(), self)
        return _from_us(walk.next_open(instant))

    def add(self, now: datetime, duration: timedelta) -> datetime:
        """The instant at which ``duration`` of open time has elapsed since ``now``.

        The clock runs only while the calendar is open; outside opening hours
        it starts at the next opening.  A deadline that falls exactly on a
        closing instant stays there (it does not move to the next opening).
        A zero ``duration`` gives :meth:`next_open`: the clock has not started
        before the calendar opens.

        Args:
            now: When the clock starts (aware, any zone).
            duration: Business time to add; not negative.

        Returns:
            The deadline, aware, in UTC.

        Raises:
            UsageError: bad arguments, a calendar with problems, or a deadline
                beyond :data:`HORIZON_DAYS` days or the year 9999.
        """
        instant = _to_us(now, "now")
        remaining = _check_duration(duration, "duration")
        walk = _Walk(self._usable(), self)
        if remaining == 0:
            return _from_us(walk.next_open(instant))
        return _from_us(walk.advance(instant, remaining))

    def add_business_days(self, now: datetime, days: int) -> datetime:
        """The deadline ``days`` business days after ``now``.

        A *business day* is a local date on which the calendar opens: a weekday
        with opening hours that is not a closed date (and whose hours do not lie
        wholly in a spring-forward gap).  The clock starts at :meth:`next_open`
        of ``now``, on its business day ``D``, having used ``k`` of ``D``'s open
        time (``k`` is the open time of ``D`` before that instant, summed over
        split intervals).  The deadline is on the ``days``-th business day after
        ``D``, when ``k`` of its open time has elapsed (the same business time of
        day); a business day with less open time than ``k`` (a half day) ends the
        count at its last closing.  Zero days gives :meth:`next_open`, as
        :meth:`add` does for a zero duration.

        The deadline is always in opening hours or on a closing instant, and it
        grows strictly with ``days``.

        Raises:
            UsageError: bad arguments, a calendar with problems, or a deadline
                beyond :data:`HORIZON_DAYS` days or the year 9999.
        """
        instant = _to_us(now, "now")
        if type(days) is not int or days < 0:  # a host may pass anything
            raise UsageError(f"`days` must be an int of zero or more, got `{days!r}`")
        walk = _Walk(self._usable(), self)
        return _from_us(walk.business_days(instant, days))

    def open_time_between(self, start: datetime, end: datetime) -> timedelta:
        """Open time in ``[start, end)``: the business time elapsed between two instants.

        ``open_time_between(now, add(now, d)) == d`` for every ``d``.

        Raises:
            UsageError: naive or out-of-order instants, or a calendar with problems.
        """
        first = _to_us(start, "start")
        last = _to_us(end, "end")
        if last < first:
            raise UsageError("`end` is before `start`")
        walk = _Walk(self._usable(), self)
        return timedelta(microseconds=walk.open_between(first, last))

    # -- internals ---------------------------------------------------------------------

    def _usable(self) -> ZoneInfo:
        if self._problems or self._zone is None:
            details = "; ".join(p.message for p in self._problems)
            raise UsageError(f"calendar `{self.name}` cannot be used: {details}")
        return self._zone


class _Walk:
    """One computation's walk over local days; holds only per-call memo state.

    Days are proleptic Gregorian ordinals of *local* dates; instants are
    microseconds since the Unix epoch.
    """

    __slots__ = ("_calendar", "_offsets", "_zone")

    def __init__(self, zone: ZoneInfo, calendar: Calendar) -> None:
        self._zone = zone
        self._calendar = calendar
        self._offsets: dict[int, int] = {}

    # -- time-zone lookups ---------------------------------------------------------------

    def local_ordinal(self, instant: int) -> int:
        """The local date (as an ordinal) of ``instant``."""
        try:
            ordinal = _from_us(instant).astimezone(self._zone).toordinal()
        except (OverflowError, UsageError):
            raise UsageError("the instant is outside the supported date range") from None
        if not _MIN_ORDINAL <= ordinal <= _MAX_ORDINAL:
            raise UsageError("the instant is outside the supported date range")
        return ordinal

    def midnight_offset(self, ordinal: int) -> int:
        """UTC offset (µs) of local midnight starting day ``ordinal``, with ``fold=0``."""
        offset = self._offsets.get(ordinal)
        if offset is None:
            moment = datetime.fromordinal(ordinal).replace(tzinfo=self._zone)
            offset = _td_us(moment.utcoffset() or timedelta(0))
            self._offsets[ordinal] = offset
        return offset

    def _instant_offset(self, instant: int) -> int:
        moment = (_EPOCH_UTC + timedelta(microseconds=instant)).astimezone(self._zone)
        return _td_us(moment.utcoffset() or timedelta(0))

    def resolve(self, wall: int) -> int:
        """The instant of local wall time ``wall`` (µs since the local epoch).

        Overlap: the first occurrence.  Gap: the first instant after the gap.
        """
        naive = _EPOCH_NAIVE + timedelta(microseconds=wall)
        early = naive.replace(tzinfo=self._zone)
        offset0 = _td_us(early.utcoffset() or timedelta(0))
        offset1 = _td_us(early.replace(fold=1).utcoffset() or timedelta(0))
        if offset0 >= offset1:
            # Unambiguous, or a fall-back overlap whose first occurrence is fold=0.
            return wall - offset0
        # A spring-forward gap: the transition T satisfies wall - offset1 < T <=
        # wall - offset0; before T the offset is offset0.  Bisect for T.
        low, high = wall - offset1, wall - offset0
        while high - low > 1:
            middle = (low + high) // 2
            if self._instant_offset(middle) == offset0:
                low = middle
            else:
                high = middle
        return high

    # -- opening intervals ---------------------------------------------------------------

    def intervals(self, ordinal: int) -> tuple[tuple[int, int], ...]:
        """The non-empty opening intervals (instants) of local day ``ordinal``, in order."""
        days = self._calendar._days
        found = days.get(ordinal)
        if found is None:
            if len(days) >= _DAY_MEMO:
                days.clear()  # a plain bound: deadlines cluster on recent days
            found = days[ordinal] = tuple(self._intervals(ordinal))
        return found

    def _intervals(self, ordinal: int) -> list[tuple[int, int]]:
        calendar = self._calendar
        hours = calendar._day_hours[(ordinal - 1) % 7]
        if not hours or ordinal in calendar._closed_set:
            return []
        base = (ordinal - _EPOCH_ORDINAL) * _US_PER_DAY
        offset = self.midnight_offset(ordinal)
        if offset == self.midnight_offset(ordinal + 1):
            # INVARIANT: no zone in tzdata has two transitions within 48 hours,
            # so equal offsets at both midnights mean the offset is constant all
            # day (a transition exactly at the next midnight maps 24:00 the same
            # way resolve() does).
            return [(base + start - offset, base + end - offset) for start, end in hours]
        found = []
        for start, end in hours:
            opening, closing = self.resolve(base + start), self.resolve(base + end)
            if opening < closing:
                found.append((opening, closing))
        return found

    def plain_week(self, monday: int) -> int | None:
        """The UTC offset of the week from local day ``monday`` if nothing in it
        differs from the nominal week (no closed date, one offset throughout),
        else ``None``."""
        calendar = self._calendar
        closed = calendar._closed_ordinals
        at = bisect.bisect_left(closed, monday)
        if at < len(closed) and closed[at] < monday + 7:
            return None
        offset = self.midnight_offset(monday)
        for day in range(monday + 1, monday + 8):
            if self.midnight_offset(day) != offset:
                return None
        return offset

    def limit(self, ordinal: int) -> int:
        """The last local day a search starting on day ``ordinal`` may look at."""
        closed = self._calendar._closed_ordinals
        last = max(ordinal, closed[-1]) if closed else ordinal
        return min(last + HORIZON_DAYS, _MAX_ORDINAL)

    def not_found(self, what: str, limit: int) -> UsageError:
        name = self._calendar.name
        if limit == _MAX_ORDINAL:
            return UsageError(f"{what} of calendar `{name}` is outside the supported date range")
        return UsageError(f"{what} of calendar `{name}` lies more than {HORIZON_DAYS} days ahead")

    # -- the three walks -----------------------------------------------------------------

    def next_open(self, instant: int) -> int:
        ordinal = self.local_ordinal(instant) - 1
        limit = self.limit(ordinal)
        while ordinal <= limit:
            for start, end in self.intervals(ordinal):
                if end > instant:
                    return max(start, instant)
            ordinal += 1
        raise self.not_found("the next opening", limit)

    def advance(self, instant: int, remaining: int) -> int:
        """The first instant at which ``remaining`` (> 0) open µs have elapsed."""
        week = self._calendar._week_us
        ordinal = self.local_ordinal(instant) - 1
        limit = self.limit(ordinal)
        if remaining > (limit + 2 - ordinal) * _US_PER_DAY:
            # More open time than there is time of any kind before the limit.
            raise self.not_found("the deadline", limit)
        while ordinal <= limit:
            if remaining > week and (ordinal - 1) % 7 == 0 and ordinal + 7 <= limit:
                offset = self.plain_week(ordinal)
                base = (ordinal - _EPOCH_ORDINAL) * _US_PER_DAY
                if offset is not None and base - offset >= instant:
                    # The deadline lies beyond this whole, ordinary week.
                    remaining -= week
                    ordinal += 7
                    continue
            for start, end in self.intervals(ordinal):
                if end <= instant:
                    continue
                start = max(start, instant)
                if remaining <= end - start:
                    return start + remaining
                remaining -= end - start
            ordinal += 1
        raise self.not_found("the deadline", limit)

    def business_days(self, instant: int, days: int) -> int:
        """The deadline ``days`` business days after ``instant`` (see
        :meth:`Calendar.add_business_days`)."""
        start = self.next_open(instant)
        ordinal = self.local_ordinal(start) - 1
        # the local day whose opening interval holds the start, and its open time so far
        used = -1
        while used < 0:
            for opening, closing in self.intervals(ordinal):
                if opening <= start < closing:
                    used = sum(min(e, start) - s for s, e in self.intervals(ordinal) if s < start)
                    break
            else:
                ordinal += 1
        if days == 0:
            return start
        limit = self.limit(ordinal)
        while days:
            ordinal += 1
            if ordinal > limit:
                raise self.not_found("the deadline", limit)
            if self.intervals(ordinal):
                days -= 1
        intervals = self.intervals(ordinal)
        for opening, closing in intervals:
            if used <= closing - opening:
                return opening + used
            used -= closing - opening
        return intervals[-1][1]

    def open_between(self, first: int, last: int) -> int:
        if first == last:
            return 0
        week = self._calendar._week_us
        ordinal = self.local_ordinal(first) - 1
        stop = self.local_ordinal(last) + 1
        total = 0
        while ordinal <= stop:
            if (ordinal - 1) % 7 == 0 and ordinal + 7 <= stop:
                offset = self.plain_week(ordinal)
                base = (ordinal - _EPOCH_ORDINAL) * _US_PER_DAY
                if (
                    offset is not None
                    and first <= base - offset <= base + 7 * _US_PER_DAY - offset <= last
                ):
                    total += week
                    ordinal += 7
                    continue
            for start, end in self.intervals(ordinal):
                start, end = max(start, first), min(end, last)
                if end > start:
                    total += end - start
            ordinal += 1
        return total
