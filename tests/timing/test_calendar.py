"""Business-time arithmetic of :mod:`socialflow.timing.calendar`, through its public API.

Concrete examples use DESIGN.md's ``uk_support`` calendar; the DST examples use
the 2026 transitions of Europe/London (29 March, 25 October) and
America/New_York (8 March, 1 November).  The property tests run random
calendars in zones with awkward transitions (at midnight, across midnight,
30 minutes, twice around Ramadan) and check them against a brute-force
minute-by-minute oracle.
"""

from __future__ import annotations

import bisect
import pickle
from datetime import UTC, date, datetime, time, timedelta, timezone
from functools import cache
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from socialflow.errors import SocialflowError, UsageError
from socialflow.timing.calendar import Calendar, CalendarProblem, OpeningHours

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
US = timedelta(microseconds=1)
H = timedelta(hours=1)
M = timedelta(minutes=1)


def hours_on(days: range | tuple[int, ...], start: time, end: time) -> list[OpeningHours]:
    return [OpeningHours(day, start, end) for day in days]


def uk_support() -> Calendar:
    return Calendar.build(
        "uk_support",
        "Europe/London",
        [*hours_on(range(5), time(9), time(18)), OpeningHours(5, time(10), time(14))],
        [date(2026, 12, 25), date(2026, 12, 26)],
    )


def london(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=LONDON)


def new_york(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=NEW_YORK)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# -- the uk_support examples ------------------------------------------------------------


def test_calendar_is_usable() -> None:
    assert uk_support().problems() == ()


def test_friday_evening_runs_into_saturday_hours() -> None:
    # 30 minutes on Friday, the other 30 when Saturday opens at 10:00.
    assert uk_support().add(london(2026, 11, 20, 17, 30), H) == london(2026, 11, 21, 10, 30)


def test_friday_evening_to_monday_without_saturday_hours() -> None:
    weekdays = Calendar.build("weekdays", "Europe/London", hours_on(range(5), time(9), time(18)))
    assert weekdays.add(london(2026, 11, 20, 17, 30), H) == london(2026, 11, 23, 9, 30)


def test_saturday_afternoon_to_monday_morning() -> None:
    assert uk_support().add(london(2026, 11, 21, 13, 30), H) == london(2026, 11, 23, 9, 30)


def test_closed_dates_are_skipped() -> None:
    # Thursday 24 December; Friday 25 and Saturday 26 are closed.
    assert uk_support().add(london(2026, 12, 24, 17, 30), H) == london(2026, 12, 28, 9, 30)
    assert not uk_support().is_open(london(2026, 12, 25, 12, 0))
    assert uk_support().next_open(london(2026, 12, 24, 18, 0)) == london(2026, 12, 28, 9, 0)


def test_deadline_exactly_at_closing_stays_there() -> None:
    cal = uk_support()
    deadline = cal.add(london(2026, 11, 23, 17, 0), H)
    assert deadline == london(2026, 11, 23, 18, 0)
    assert not cal.is_open(deadline)
    assert cal.is_open(deadline - US)
    assert cal.add(london(2026, 11, 21, 13, 0), H) == london(2026, 11, 21, 14, 0)
    # One microsecond more and the deadline moves to the next opening.
    assert cal.add(london(2026, 11, 23, 17, 0), H + US) == london(2026, 11, 24, 9, 0) + US


def test_clock_starts_at_the_next_opening() -> None:
    cal = uk_support()
    assert cal.add(london(2026, 11, 23, 7, 0), H) == london(2026, 11, 23, 10, 0)
    assert cal.add(london(2026, 11, 22, 12, 0), 2 * H) == london(2026, 11, 23, 11, 0)


def test_zero_duration_is_the_next_opening() -> None:
    cal = uk_support()
    inside = london(2026, 11, 23, 11, 15)
    assert cal.add(inside, timedelta(0)) == inside
    assert cal.add(london(2026, 11, 23, 18, 0), timedelta(0)) == london(2026, 11, 24, 9, 0)


def test_results_are_utc_whatever_the_zone_of_now() -> None:
    cal = uk_support()
    friday = london(2026, 11, 20, 17, 30)
    for now in (friday, friday.astimezone(NEW_YORK), friday.astimezone(timezone(H * 5))):
        deadline, opening = cal.add(now, H), cal.next_open(now)
        assert deadline.tzinfo is UTC
        assert opening.tzinfo is UTC
        assert deadline == utc(2026, 11, 21, 10, 30)
        assert opening == utc(2026, 11, 20, 17, 30)


def test_opening_and_closing_instants() -> None:
    cal = uk_support()
    assert cal.is_open(london(2026, 11, 23, 9, 0))
    assert not cal.is_open(london(2026, 11, 23, 9, 0) - US)
    assert not cal.is_open(london(2026, 11, 23, 18, 0))
    assert cal.next_open(london(2026, 11, 23, 12, 0)) == london(2026, 11, 23, 12, 0)
    assert cal.next_open(london(2026, 11, 23, 12, 0)).tzinfo is UTC


def test_open_time_between() -> None:
    cal = uk_support()
    # Friday 17:00-18:00, Saturday 10:00-14:00, Monday 09:00-10:00.
    assert cal.open_time_between(london(2026, 11, 20, 17), london(2026, 11, 23, 10)) == 6 * H
    assert cal.open_time_between(london(2026, 11, 22, 1), london(2026, 11, 22, 23)) == timedelta(0)
    same = london(2026, 11, 23, 12)
    assert cal.open_time_between(same, same) == timedelta(0)
    # A week of uk_support is 49 hours, the Christmas week 49 - 9 - 4.
    assert cal.open_time_between(london(2026, 11, 23), london(2026, 11, 30)) == 49 * H
    assert cal.open_time_between(london(2026, 12, 21), london(2026, 12, 28)) == 36 * H


def test_hours_ending_at_midnight_join_the_next_day() -> None:
    cal = Calendar.build(
        "nights",
        "Europe/London",
        [OpeningHours(0, time(22), time(0)), OpeningHours(1, time(0), time(2))],
    )
    monday = london(2026, 11, 23, 23, 0)
    assert cal.add(monday, 2 * H) == london(2026, 11, 24, 1, 0)
    assert cal.is_open(london(2026, 11, 24, 0, 0))
    assert cal.add(monday, 3 * H) == london(2026, 11, 24, 2, 0)
    assert cal.open_time_between(london(2026, 11, 23), london(2026, 11, 25)) == 4 * H


# -- DST ----------------------------------------------------------------------------------


def sunday_nights(zone: str) -> Calendar:
    return Calendar.build("sunday", zone, [OpeningHours(6, time(0), time(6))])


@pytest.mark.parametrize(
    ("zone", "day", "length"),
    [
        ("Europe/London", date(2026, 3, 29), 5 * H),
        ("Europe/London", date(2026, 3, 22), 6 * H),
        ("Europe/London", date(2026, 10, 25), 7 * H),
        ("America/New_York", date(2026, 3, 8), 5 * H),
        ("America/New_York", date(2026, 11, 1), 7 * H),
        ("America/New_York", date(2026, 11, 8), 6 * H),
    ],
)
def test_an_interval_spanning_a_transition_is_shorter_or_longer(
    zone: str, day: date, length: timedelta
) -> None:
    cal = sunday_nights(zone)
    tz = ZoneInfo(zone)
    start = datetime.combine(day, time(0), tzinfo=tz)
    assert cal.open_time_between(start - H, start + timedelta(days=1)) == length
    # The whole interval is exactly `length` of business time.
    assert cal.add(start, length) == datetime.combine(day, time(6), tzinfo=tz)
    assert cal.add(start, length + US) > start + timedelta(days=6)


def test_spring_forward_in_london() -> None:
    cal = sunday_nights("Europe/London")
    start = utc(2026, 3, 29, 0, 0)  # 00:00 GMT
    assert cal.add(start, H) == utc(2026, 3, 29, 1, 0)  # 02:00 BST: the gap is skipped
    assert cal.add(start, 5 * H) == utc(2026, 3, 29, 5, 0)  # 06:00 BST, the closing
    assert cal.is_open(london(2026, 3, 29, 2, 30))


def test_fall_back_in_london() -> None:
    cal = sunday_nights("Europe/London")
    opening = utc(2026, 10, 24, 23, 0)  # 00:00 BST
    assert cal.next_open(utc(2026, 10, 24, 12, 0)) == opening
    assert cal.add(opening, 2 * H) == utc(2026, 10, 25, 1, 0)  # 01:00 GMT, second time round
    assert cal.add(opening, 7 * H) == utc(2026, 10, 25, 6, 0)


def test_new_york_weekday_hours_across_the_transitions() -> None:
    cal = Calendar.build("ny", "America/New_York", hours_on(range(5), time(9), time(17)))
    # Friday before spring forward, 16:30 EST + 1h -> Monday 09:30 EDT.
    deadline = cal.add(new_york(2026, 3, 6, 16, 30), H)
    assert deadline == new_york(2026, 3, 9, 9, 30)
    assert deadline == utc(2026, 3, 9, 13, 30)
    deadline = cal.add(new_york(2026, 10, 30, 16, 30), H)
    assert deadline == new_york(2026, 11, 2, 9, 30)
    assert deadline == utc(2026, 11, 2, 14, 30)
    # Both weeks hold exactly 40 business hours.
    assert cal.open_time_between(new_york(2026, 3, 2), new_york(2026, 3, 9)) == 40 * H
    assert cal.open_time_between(new_york(2026, 3, 9), new_york(2026, 3, 16)) == 40 * H


def test_an_interval_inside_the_gap_does_not_open_that_day() -> None:
    cal = Calendar.build("gap", "Europe/London", [OpeningHours(6, time(1, 15), time(1, 45))])
    assert cal.next_open(utc(2026, 3, 28, 12)) == london(2026, 4, 5, 1, 15)
    assert cal.open_time_between(utc(2026, 3, 28), utc(2026, 3, 30)) == timedelta(0)
    assert cal.open_time_between(utc(2026, 3, 21), utc(2026, 3, 23)) == 30 * M
    assert not cal.is_open(utc(2026, 3, 29, 1, 0))


def test_an_interval_starting_in_the_gap_opens_after_it() -> None:
    cal = Calendar.build("gap", "America/New_York", [OpeningHours(6, time(2, 30), time(3, 30))])
    # 02:30 does not exist on 8 March: the interval opens at 03:00 EDT.
    assert cal.next_open(utc(2026, 3, 7)) == new_york(2026, 3, 8, 3, 0)
    assert cal.add(utc(2026, 3, 7), 30 * M) == new_york(2026, 3, 8, 3, 30)
    assert cal.open_time_between(utc(2026, 3, 7), utc(2026, 3, 9)) == 30 * M


def test_an_interval_inside_the_overlap_uses_the_first_occurrence() -> None:
    cal = Calendar.build("overlap", "Europe/London", [OpeningHours(6, time(1, 10), time(1, 50))])
    # 01:10-01:50 happens twice on 25 October: BST (00:10-00:50 UTC) counts.
    assert cal.next_open(utc(2026, 10, 24)) == utc(2026, 10, 25, 0, 10)
    assert cal.is_open(utc(2026, 10, 25, 0, 20))
    assert not cal.is_open(utc(2026, 10, 25, 1, 20))  # 01:20 GMT, second occurrence
    assert cal.open_time_between(utc(2026, 10, 24), utc(2026, 10, 26)) == 40 * M


# -- definition problems -------------------------------------------------------------------


def test_overlapping_hours_are_reported_with_both_intervals() -> None:
    cal = Calendar.build(
        "x",
        "Europe/London",
        [OpeningHours(0, time(12), time(18)), OpeningHours(0, time(9), time(13))],
    )
    assert cal.problems() == (
        CalendarProblem(
            "overlapping_hours", "opening hours `mon 12:00-18:00` overlap `mon 09:00-13:00`", 1
        ),
    )
    with pytest.raises(UsageError, match="overlap"):
        cal.add(london(2026, 11, 23, 9), H)


def test_touching_hours_and_other_days_do_not_overlap() -> None:
    cal = Calendar.build(
        "x",
        "Europe/London",
        [
            OpeningHours(0, time(9), time(12)),
            OpeningHours(0, time(12), time(18)),
            OpeningHours(1, time(10), time(11)),
        ],
    )
    assert cal.problems() == ()
    assert cal.add(london(2026, 11, 23, 11), 2 * H) == london(2026, 11, 23, 13)


def test_an_interval_inside_another_is_an_overlap() -> None:
    cal = Calendar.build(
        "x",
        "UTC",
        [
            OpeningHours(2, time(8), time(20)),
            OpeningHours(2, time(9), time(10)),
            OpeningHours(2, time(11), time(12)),
        ],
    )
    assert [(p.code, p.index) for p in cal.problems()] == [
        ("overlapping_hours", 1),
        ("overlapping_hours", 2),
    ]
    assert "`wed 08:00-20:00`" in cal.problems()[1].message


@pytest.mark.parametrize("zone", ["Europe/Lndon", "Mars/Olympus", "", "../etc/passwd", "localtime"])
def test_unknown_zone_is_reported(zone: str) -> None:
    cal = Calendar.build("x", zone, hours_on(range(5), time(9), time(17)))
    assert [p.code for p in cal.problems()] == ["unknown_timezone"]
    assert cal.problems()[0].index is None
    with pytest.raises(UsageError, match="unknown time zone"):
        cal.is_open(utc(2026, 1, 1))


def test_empty_interval_and_no_hours_are_reported() -> None:
    cal = Calendar.build("x", "UTC", [OpeningHours(4, time(18), time(9))])
    assert cal.problems() == (
        CalendarProblem(
            "empty_interval",
            "opening hours `fri 18:00-09:00` are empty: the closing is not after the opening",
            0,
        ),
    )
    assert [p.code for p in Calendar.build("x", "UTC", []).problems()] == ["no_opening_hours"]
    with pytest.raises(UsageError):
        Calendar.build("x", "UTC", []).next_open(utc(2026, 1, 1))


def test_midnight_to_midnight_is_the_whole_day() -> None:
    cal = Calendar.build("x", "UTC", [OpeningHours(0, time(0), time(0))])
    assert cal.problems() == ()
    assert cal.open_time_between(utc(2026, 11, 23), utc(2026, 11, 30)) == timedelta(days=1)
    assert str(cal.hours[0]) == "mon 00:00-24:00"


def test_build_normalises() -> None:
    a = Calendar.build(
        "x",
        "UTC",
        [OpeningHours(3, time(9), time(10)), OpeningHours(1, time(9), time(10))],
        [date(2026, 2, 1), date(2026, 1, 1), date(2026, 2, 1)],
    )
    b = Calendar(
        "x",
        "UTC",
        (OpeningHours(1, time(9), time(10)), OpeningHours(3, time(9), time(10))),
        (date(2026, 1, 1), date(2026, 2, 1)),
    )
    assert a == b
    assert hash(a) == hash(b)
    assert [h.weekday for h in a.hours] == [1, 3]
    assert a.closed == (date(2026, 1, 1), date(2026, 2, 1))


def test_pickles() -> None:
    cal = uk_support()
    copy = pickle.loads(pickle.dumps(cal))
    assert copy == cal
    now = london(2026, 11, 20, 17, 30)
    assert copy.add(now, H) == cal.add(now, H)


# -- misuse --------------------------------------------------------------------------------


def test_naive_now_is_refused_by_name() -> None:
    cal = uk_support()
    naive = datetime(2026, 11, 23, 10)
    for call in (
        lambda: cal.is_open(naive),
        lambda: cal.next_open(naive),
        lambda: cal.add(naive, H),
    ):
        with pytest.raises(UsageError, match="`now` must be a timezone-aware datetime"):
            call()
    with pytest.raises(UsageError, match="`start`"):
        cal.open_time_between(naive, utc(2026, 11, 24))
    with pytest.raises(UsageError, match="`end`"):
        cal.open_time_between(utc(2026, 11, 24), naive)
    with pytest.raises(UsageError, match="`now`"):
        cal.is_open(date(2026, 11, 23))  # type: ignore[arg-type]  # misuse on purpose


def test_bad_durations_and_order_are_refused() -> None:
    cal = uk_support()
    now = london(2026, 11, 23, 10)
    with pytest.raises(UsageError, match="negative"):
        cal.add(now, -H)
    with pytest.raises(UsageError, match="timedelta"):
        cal.add(now, 3600)  # type: ignore[arg-type]  # misuse on purpose
    with pytest.raises(UsageError, match="before"):
        cal.open_time_between(now, now - US)


def test_bad_fields_are_refused() -> None:
    with pytest.raises(UsageError, match="weekday"):
        OpeningHours(7, time(9), time(10))
    with pytest.raises(UsageError, match="weekday"):
        OpeningHours(True, time(9), time(10))
    with pytest.raises(UsageError, match="naive time"):
        OpeningHours(0, time(9, tzinfo=UTC), time(10))
    with pytest.raises(UsageError, match="hours"):
        Calendar.build("x", "UTC", ["mon 09:00-10:00"])  # type: ignore[list-item]  # misuse on purpose
    with pytest.raises(UsageError, match="closed"):
        Calendar.build("x", "UTC", [], [datetime(2026, 1, 1)])
    assert issubclass(UsageError, SocialflowError)


def test_search_is_bounded_and_fast() -> None:
    weekly = Calendar.build("weekly", "America/New_York", [OpeningHours(2, time(10), time(11))])
    now = utc(2026, 1, 1)
    deadline = weekly.add(now, 10_000 * H)
    assert deadline == new_york(2217, 8, 27, 11, 0)
    assert weekly.open_time_between(now, deadline) == 10_000 * H
    with pytest.raises(
        UsageError, match="the deadline of calendar `weekly` lies more than 146097 days ahead"
    ):
        weekly.add(now, 10_000_000 * H)
    with pytest.raises(UsageError):
        weekly.add(now, timedelta.max)
    with pytest.raises(UsageError, match="range"):
        weekly.add(datetime(9999, 12, 20, tzinfo=UTC), 1000 * H)


def test_many_closed_dates_are_skipped() -> None:
    closed = [date(2026, 1, 1) + timedelta(days=n) for n in range(3650)]
    cal = Calendar.build("x", "UTC", hours_on(range(7), time(9), time(17)), closed)
    assert cal.next_open(utc(2026, 1, 1)) == utc(2035, 12, 30, 9)
    assert cal.add(utc(2026, 1, 1), H) == utc(2035, 12, 30, 10)


# -- properties ---------------------------------------------------------------------------

ZONES = (
    "Europe/London",
    "America/New_York",
    "Australia/Lord_Howe",  # 30-minute DST
    "America/Havana",  # transitions at midnight
    "America/Santiago",  # falls back across midnight
    "Africa/Casablanca",  # transitions around Ramadan
    "Asia/Kolkata",  # no DST
)


@cache
def transitions(zone: str) -> tuple[datetime, ...]:
    """The 2026 offset changes of ``zone`` (all on the half hour), as UTC instants."""
    tz = ZoneInfo(zone)
    found = []
    moment = utc(2026, 1, 1)
    offset = moment.astimezone(tz).utcoffset()
    while moment.year < 2027:
        moment += 30 * M
        if moment.astimezone(tz).utcoffset() != offset:
            offset = moment.astimezone(tz).utcoffset()
            found.append(moment)
    return tuple(found)


def quarter(n: int) -> time:
    return time(0) if n == 96 else time(n // 4, n % 4 * 15)


@st.composite
def calendars(draw: st.DrawFn, zone: str) -> Calendar:
    hours = []
    for weekday in range(7):
        marks = sorted(draw(st.lists(st.integers(0, 96), max_size=6, unique=True)))
        for start, end in zip(marks[0::2], marks[1::2], strict=False):
            hours.append(OpeningHours(weekday, quarter(start), quarter(end)))
    if not hours:
        hours.append(OpeningHours(draw(st.integers(0, 6)), time(9), time(17)))
    closed = draw(st.lists(st.dates(date(2025, 12, 1), date(2027, 1, 31)), max_size=12))
    return Calendar.build("random", zone, hours, closed)


@st.composite
def instants(draw: st.DrawFn, zone: str) -> datetime:
    """Mostly within three days of a transition of ``zone``; any zone of its own."""
    near = draw(st.booleans())
    if near and transitions(zone):
        base = draw(st.sampled_from(transitions(zone)))
        moment = base + draw(st.integers(-3 * 96, 3 * 96)) * 15 * M
    else:
        moment = draw(
            st.datetimes(datetime(2025, 12, 1), datetime(2027, 1, 31), timezones=st.just(UTC))
        )
    moment += draw(
        st.sampled_from([timedelta(0), timedelta(0), US, timedelta(seconds=7, microseconds=3)])
    )
    tz = draw(st.sampled_from([UTC, ZoneInfo(zone), timezone(-timedelta(hours=7))]))
    return moment.astimezone(tz)


durations = st.one_of(
    st.integers(0, 4 * 120).map(lambda n: n * 15 * M),
    st.timedeltas(timedelta(0), timedelta(hours=120)),
    st.just(timedelta(0)),
)


@st.composite
def cases(draw: st.DrawFn) -> tuple[Calendar, datetime]:
    zone = draw(st.sampled_from(ZONES))
    return draw(calendars(zone)), draw(instants(zone))


PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(cases(), durations)
def test_deadlines_never_fall_strictly_inside_closed_time(
    case: tuple[Calendar, datetime], duration: timedelta
) -> None:
    cal, now = case
    deadline = cal.add(now, duration)
    assert deadline.tzinfo is UTC
    assert deadline >= now + duration  # business time never runs faster than real time
    if duration:
        assert cal.is_open(deadline) or cal.is_open(deadline - US)
    else:
        assert cal.is_open(deadline)
        assert deadline == cal.next_open(now)


@PROPERTY
@given(cases(), durations)
def test_open_time_between_inverts_add(
    case: tuple[Calendar, datetime], duration: timedelta
) -> None:
    cal, now = case
    assert cal.open_time_between(now, cal.add(now, duration)) == duration


@PROPERTY
@given(cases(), durations, durations)
def test_add_is_strictly_monotonic_in_the_duration(
    case: tuple[Calendar, datetime], first: timedelta, second: timedelta
) -> None:
    cal, now = case
    shorter, longer = sorted((first, second))
    if shorter == longer:
        assert cal.add(now, shorter) == cal.add(now, longer)
    else:
        assert cal.add(now, shorter) < cal.add(now, longer)


@PROPERTY
@given(cases(), durations, durations)
def test_add_composes(case: tuple[Calendar, datetime], first: timedelta, second: timedelta) -> None:
    cal, now = case
    if second:
        assert cal.add(cal.add(now, first), second) == cal.add(now, first + second)


@PROPERTY
@given(cases(), st.integers(0, 4 * 96).map(lambda n: n * 15 * M), durations)
def test_add_is_monotonic_in_now(
    case: tuple[Calendar, datetime], later: timedelta, duration: timedelta
) -> None:
    cal, now = case
    assert cal.add(now, duration) <= cal.add(now.astimezone(UTC) + later, duration)


@PROPERTY
@given(
    cases(),
    st.integers(0, 4 * 96).map(lambda n: n * 15 * M),
    st.integers(0, 4 * 96).map(lambda n: n * 15 * M),
)
def test_open_time_is_additive_and_bounded(
    case: tuple[Calendar, datetime], first: timedelta, second: timedelta
) -> None:
    cal, now = case
    now = now.astimezone(UTC)
    middle, end = now + first, now + first + second
    whole = cal.open_time_between(now, end)
    assert whole == cal.open_time_between(now, middle) + cal.open_time_between(middle, end)
    assert timedelta(0) <= whole <= end - now


@PROPERTY
@given(cases())
def test_next_open_is_the_first_open_instant(case: tuple[Calendar, datetime]) -> None:
    cal, now = case
    opening = cal.next_open(now)
    assert opening >= now
    assert cal.is_open(opening)
    assert cal.open_time_between(now, opening) == timedelta(0)
    # In UTC: a local `now` in a fall-back overlap compares unequal to every
    # datetime of another zone (PEP 495).
    assert (opening == now.astimezone(UTC)) == cal.is_open(now)


@PROPERTY
@given(cases(), durations)
def test_results_are_deterministic(case: tuple[Calendar, datetime], duration: timedelta) -> None:
    cal, now = case
    again = Calendar.build(cal.name, cal.timezone, reversed(cal.hours), reversed(cal.closed))
    assert again == cal
    results = {
        (
            c.add(now, duration),
            c.next_open(now),
            c.is_open(now),
            c.open_time_between(now, now.astimezone(UTC) + duration),
        )
        for c in (cal, cal, again, pickle.loads(pickle.dumps(cal)))
    }
    assert len(results) == 1


# -- a brute-force oracle -------------------------------------------------------------------


def oracle_open_minutes(cal: Calendar, first: datetime, last: datetime) -> set[datetime]:
    """The UTC minutes in ``[first, last)`` the calendar is open, by brute force.

    A wall time maps to the first instant whose wall clock has reached it (the
    running maximum of the wall clock is monotonic): the first occurrence in
    an overlap, the end of a gap for a time inside it.
    """
    tz = ZoneInfo(cal.timezone)
    scan_from, scan_to = first - timedelta(days=2), last + timedelta(days=2)
    instants: list[datetime] = []
    reached: list[datetime] = []
    moment = scan_from
    while moment < scan_to:
        wall = moment.astimezone(tz).replace(tzinfo=None)
        instants.append(moment)
        reached.append(max(wall, reached[-1]) if reached else wall)
        moment += M

    def resolve(wall: datetime) -> datetime:
        return instants[bisect.bisect_left(reached, wall)]

    found: set[datetime] = set()
    day = first.astimezone(tz).date() - timedelta(days=1)
    while day <= last.astimezone(tz).date() + timedelta(days=1):
        for item in cal.hours:
            if item.weekday != day.weekday() or day in cal.closed:
                continue
            start = resolve(datetime.combine(day, item.start))
            end = resolve(datetime.combine(day, time(0)) + item.end_offset)
            while start < end:
                if first <= start < last:
                    found.add(start)
                start += M
        day += timedelta(days=1)
    return found


@pytest.mark.slow
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(ZONES).flatmap(
        lambda z: st.tuples(calendars(z), st.sampled_from(transitions(z) or (utc(2026, 6, 1),)))
    ),
    st.integers(-24, 24),
)
def test_agrees_with_a_brute_force_oracle(
    case: tuple[Calendar, datetime], shift_hours: int
) -> None:
    cal, transition = case
    first = transition + shift_hours * H - 24 * H
    last = first + 48 * H
    expected = oracle_open_minutes(cal, first, last)
    minutes = [first + n * M for n in range((last - first) // M)]
    assert {m for m in minutes if cal.is_open(m)} == expected
    assert cal.open_time_between(first, last) == len(expected) * M
    ordered = sorted(expected)
    for count in sorted({1, len(ordered) // 2, len(ordered)}):
        if 0 < count <= len(ordered):
            # The deadline is the end of the count-th open minute.
            assert cal.add(first, count * M) == ordered[count - 1] + M
    if ordered:
        assert cal.next_open(first) == ordered[0]


def test_a_skipped_day_has_no_opening_hours() -> None:
    # Samoa skipped Friday 30 December 2011 (from -10 to +14 hours).
    cal = Calendar.build("apia", "Pacific/Apia", hours_on(range(7), time(9), time(17)))
    apia = ZoneInfo("Pacific/Apia")
    start = datetime(2011, 12, 29, tzinfo=apia)
    end = datetime(2012, 1, 1, tzinfo=apia)
    assert cal.open_time_between(start, end) == 16 * H
    assert cal.add(datetime(2011, 12, 29, 16, tzinfo=apia), 2 * H) == datetime(
        2011, 12, 31, 10, tzinfo=apia
    )
