"""Business days and business hours on a calendar: the arithmetic, the SLA, the DSL."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

import socialflow as sf
from socialflow.cli import main
from socialflow.errors import UsageError
from socialflow.timing.calendar import Calendar, OpeningHours
from socialflow.timing.sla import BusinessDays, SlaDeadlines
from tests.timing.test_calendar import PROPERTY, US, cases

LONDON = ZoneInfo("Europe/London")
H = timedelta(hours=1)


def london(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=LONDON)


def split_days() -> Calendar:
    """Mon-Fri 09-12 and 13-17 (7 open hours), Saturday 10-12, Christmas closed."""
    hours = [OpeningHours(d, time(9), time(12)) for d in range(5)]
    hours += [OpeningHours(d, time(13), time(17)) for d in range(5)]
    hours.append(OpeningHours(5, time(10), time(12)))
    return Calendar.build("uk", "Europe/London", hours, [date(2026, 12, 25)])


@pytest.mark.parametrize(
    ("now", "days", "expected"),
    [
        # Wednesday 14:00: 4 open hours of the day used (3 in the morning, 1 after lunch)
        (london(12, 23, 14), 0, london(12, 23, 14)),
        (london(12, 23, 14), 1, london(12, 24, 14)),
        # Friday 25 is closed; Saturday has 2 open hours < 4: its closing
        (london(12, 23, 14), 2, london(12, 26, 12)),
        (london(12, 23, 14), 3, london(12, 28, 14)),
        # before the opening: the clock starts at 09:00, nothing used
        (london(12, 21, 7), 1, london(12, 22, 9)),
        # during lunch: the clock starts at 13:00 with the 3 morning hours used; 3 hours
        # into Tuesday is the morning's closing (a deadline on a closing stays there)
        (london(12, 21, 12, 30), 1, london(12, 22, 12)),
        # after closing on Thursday: Saturday 10:00 is the start, Monday 09:00 one day on
        (london(12, 24, 20), 1, london(12, 28, 9)),
        # Saturday 11:00 (1 hour used) -> Monday 10:00
        (london(12, 26, 11), 1, london(12, 28, 10)),
        # across the clock change (London goes to BST on 29 March): still 14:00 local
        (london(3, 27, 14), 1, london(3, 28, 12)),
        (london(3, 27, 14), 2, london(3, 30, 14)),
    ],
)
def test_business_days_examples(now: datetime, days: int, expected: datetime) -> None:
    assert split_days().add_business_days(now, days) == expected.astimezone(UTC)


def test_arguments_are_checked() -> None:
    cal = split_days()
    for bad in (-1, 1.5, True, "2"):
        with pytest.raises(UsageError, match="`days` must be an int"):
            cal.add_business_days(london(1, 5), bad)  # type: ignore[arg-type]  # misuse on purpose
    with pytest.raises(UsageError, match="naive"):
        cal.add_business_days(datetime(2026, 1, 5), 1)
    never = Calendar.build("x", "UTC", [OpeningHours(0, time(9), time(17))], [])
    with pytest.raises(UsageError, match="days ahead"):
        never.add_business_days(datetime(2026, 1, 5, tzinfo=UTC), 146_097)


@PROPERTY
@given(cases(), st.integers(0, 12))
def test_business_day_deadlines_are_in_opening_hours_and_grow_strictly(
    case: tuple[Calendar, datetime], days: int
) -> None:
    cal, now = case
    deadline = cal.add_business_days(now, days)
    later = cal.add_business_days(now, days + 1)
    assert deadline.tzinfo is UTC and later > deadline
    assert cal.is_open(later) or cal.is_open(later - US)
    if days == 0:
        assert deadline == cal.next_open(now)
    else:
        assert cal.is_open(deadline) or cal.is_open(deadline - US)


@PROPERTY
@given(cases(), st.integers(0, 60))
def test_business_hour_deadlines_are_in_opening_hours_and_grow_strictly(
    case: tuple[Calendar, datetime], hours: int
) -> None:
    cal, now = case
    deadline, later = cal.add(now, hours * H), cal.add(now, (hours + 1) * H)
    assert later > deadline
    assert cal.is_open(later) or cal.is_open(later - US)
    assert cal.open_time_between(deadline, later) == H


@given(
    st.datetimes(datetime(2026, 1, 1), datetime(2027, 12, 31), timezones=st.just(UTC)),
    st.integers(1, 30),
)
def test_on_equal_days_the_deadline_keeps_the_time_of_day(now: datetime, days: int) -> None:
    cal = Calendar.build("flat", "UTC", [OpeningHours(d, time(9), time(17)) for d in range(5)])
    start = cal.next_open(now)
    deadline = cal.add_business_days(now, days)
    assert deadline.time() == start.time()
    weekdays = [
        start.date() + timedelta(n)
        for n in range(1, (deadline.date() - start.date()).days + 1)
        if (start.date() + timedelta(n)).weekday() < 5
    ]
    assert len(weekdays) == days and weekdays[-1] == deadline.date()


def test_sla_policy_targets_in_business_days() -> None:
    policy = sf.SlaPolicy("care", H, BusinessDays(2), split_days())
    assert policy.deadlines(london(12, 23, 14)) == SlaDeadlines(
        "care", london(12, 23, 15).astimezone(UTC), london(12, 26, 12).astimezone(UTC)
    )
    assert str(BusinessDays(1)) == "1 business day"
    with pytest.raises(UsageError, match="has no calendar"):
        sf.SlaPolicy("care", resolution=BusinessDays(2))
    with pytest.raises(UsageError, match="`days` must be an int"):
        BusinessDays(-1)


RULES = """
ruleset care
calendar uk {
  timezone "Europe/London"
  open mon-fri 09:00-12:00, 13:00-17:00
  open sat 10:00-12:00
  closed 2026-12-25
}
sla care { first_response 4 business hours, resolution 2 business days, calendar uk }
sla plain { first_response 4h, resolution 2d, calendar uk }
rule everything { then sla care }
rule plain { precedence -1 then sla plain }
"""


def test_the_dsl_units_through_the_api() -> None:
    bundle = sf.loads(RULES, "care.sf")
    sla = bundle.triage({}, london(12, 23, 14)).sla
    assert sla is not None
    assert (sla.first_response_at, sla.resolution_at) == (
        london(12, 24, 10).astimezone(UTC),
        london(12, 26, 12).astimezone(UTC),
    )
    # `4 business hours` is `4h` on a calendar; `2d` is 48 open hours, not 2 business days
    plain = sf.loads(RULES.replace("then sla care", "then sla plain"), "p.sf")
    other = plain.triage({}, london(12, 23, 14)).sla
    assert other is not None and other.first_response_at == sla.first_response_at
    assert other.resolution_at == datetime(2027, 1, 2, 11, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "sla s { first_response 2 business days }",
        'escalation e { level 1 notify user "a" level 2 after 1 business hour notify user "b" }',
        'escalation e { level 1 notify user "a" level 2 after 1h notify user "b" repeat 1 after 1 business day }',
        "workflow w { state a initial state b final on go from a to b timeout a after 3 business days to b }",
    ],
)
def test_business_units_without_a_calendar_are_check_errors(text: str) -> None:
    with pytest.raises(sf.CheckError) as info:
        sf.loads(text, "x.sf")
    codes = [d.code for d in info.value.diagnostics if d.severity is sf.Severity.ERROR]
    assert codes == ["business_time_without_calendar"]


def test_too_many_business_days_is_out_of_range() -> None:
    with pytest.raises(sf.ParseError) as info:
        sf.loads(RULES.replace("2 business days", "36501 business days"), "x.sf")
    assert info.value.diagnostics[0].code == "literal_out_of_range"


def test_cli_triage_writes_the_business_day_deadline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "care.sf"
    rules.write_text(RULES, encoding="utf-8")
    lines = tmp_path / "in.jsonl"
    lines.write_text('{"id": "m1"}\n', encoding="utf-8")
    out = tmp_path / "out.jsonl"
    now = "2026-12-23T14:00:00Z"
    args = ["triage", str(rules), str(lines), "-o", str(out), "--now", now, "--no-progress"]
    assert main([*args, "--no-summary"]) == 0
    (decision,) = [json.loads(x) for x in out.read_text().splitlines()]
    assert decision["sla"]["resolution_at"] == "2026-12-26T12:00:00Z"
    capsys.readouterr()
    assert main(["check", str(rules)]) == 0
