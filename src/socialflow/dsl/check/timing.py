"""Calendars, SLAs and escalation policies: built into their :mod:`socialflow.timing`
values, whose own ``problems()`` are the one definition of what is valid; this
pass adds what only the DSL can get wrong (day names, ``HH:MM`` text, a missing
``after``) and puts every problem at its source position."""

from __future__ import annotations

import re
from datetime import date, time, timedelta
from typing import Any, Final

from socialflow._suggest import did_you_mean
from socialflow.dsl import ast
from socialflow.dsl.check.context import Context
from socialflow.source import Span
from socialflow.timing.calendar import WEEKDAY_NAMES, Calendar, OpeningHours
from socialflow.timing.escalation import EscalationLevel, EscalationPolicy, EscalationTarget
from socialflow.timing.sla import BusinessDays, SlaPolicy

__all__ = ["check_calendars", "check_escalations", "check_slas"]

_TIME: Final = re.compile(r"([0-9]{2}):([0-9]{2})\Z")


def check_calendars(ctx: Context) -> None:
    ctx.calendars = {n: _calendar(ctx, c) for n, c in ctx.calendar_decls.items()}


def check_slas(ctx: Context) -> None:
    ctx.slas = {n: _sla(ctx, s) for n, s in ctx.sla_decls.items()}


def check_escalations(ctx: Context) -> None:
    ctx.escalations = {n: _escalation(ctx, e) for n, e in ctx.escalation_decls.items()}
    # workflow timers run on elapsed time as escalations do: no calendar applies
    for workflow in ctx.of(ast.WorkflowDecl):
        for item in workflow.items:
            if isinstance(item, ast.TimeoutDecl) and item.after is not None:
                _elapsed_only(ctx, item.after, "workflow timers")


def _elapsed_only(ctx: Context, lit: ast.DurationLit, what: str) -> bool:
    """Business time where no calendar applies is an error; ``True`` if ``lit`` is fine."""
    if lit.business is None:
        return True
    ctx.error(
        "business_time_without_calendar",
        f"`{lit.text}` counts business time, but {what} have no calendar",
        lit.span,
        f"{what} run on elapsed time: write a duration such as `{_elapsed(lit)}`",
    )
    return False


def _elapsed(lit: ast.DurationLit) -> str:
    """The elapsed duration written like ``lit`` (``2 business days`` -> ``2d``)."""
    return lit.text.split()[0] + ("d" if lit.business == "days" else "h")


def _calendar(ctx: Context, decl: ast.CalendarDecl) -> Calendar | None:
    ok = True
    zone = "UTC"
    if not decl.timezones:
        ctx.error(
            "invalid_calendar",
            f"calendar `{decl.name.text}` has no `timezone`",
            decl.name.span,
            'add a line such as `timezone "Europe/London"`',
        )
        ok = False
    for extra in decl.timezones[1:]:
        ctx.error("duplicate_item", "`timezone` is given twice", extra[1])
    if decl.timezones:
        zone = decl.timezones[0][0]
    hours: list[OpeningHours] = []
    #: where each entry of ``hours`` was written (its time range)
    written: list[ast.TimeRange] = []
    for open_decl in decl.opens:
        # each day once, so an `open` line makes at most 7 intervals per time range
        days: dict[int, ast.DaySpec] = {}
        for spec in open_decl.days:
            first = _day(ctx, spec.first)
            last = _day(ctx, spec.last) if spec.last is not None else first
            if first is None or last is None:
                ok = False
                continue
            if last < first:
                ctx.error(
                    "invalid_calendar",
                    f"day range `{spec.first.text}-{spec.last.text if spec.last else ''}` runs backwards",
                    spec.span,
                )
                ok = False
                continue
            repeated = [day for day in range(first, last + 1) if day in days]
            if repeated:
                ctx.error(
                    "overlapping_hours",
                    f"`{WEEKDAY_NAMES[repeated[0]]}` is listed twice in one `open` line",
                    spec.span,
                    notes=(f"first listed at {ctx.location(days[repeated[0]].span)}",),
                )
                ok = False
            for day in range(first, last + 1):
                days.setdefault(day, spec)
        for rng in open_decl.ranges:
            start = _clock(ctx, rng.start, rng.span, allow_24=False)
            end = _clock(ctx, rng.end, rng.span, allow_24=True)
            if start is None or end is None:
                ok = False
                continue
            for day in days:
                hours.append(OpeningHours(day, start, end))
                written.append(rng)
    closed: list[date] = []
    for text, span in decl.closed:
        try:
            closed.append(date.fromisoformat(text))
        except ValueError:
            ctx.error("invalid_calendar", f"`{text}` is not a valid date", span)
            ok = False
    # build even when some lines were bad, so zone and overlap problems show too
    calendar = Calendar.build(decl.name.text, zone, hours, closed)
    problems = calendar.problems()
    if not ok and not hours:
        problems = tuple(p for p in problems if p.code != "no_opening_hours")
    reported: set[int] = set()
    # where each interval was first written (one lookup per problem, not a scan)
    origin: dict[OpeningHours, ast.TimeRange] = {}
    for h, r in zip(hours, written, strict=True):
        origin.setdefault(h, r)
    for problem in problems:
        where: ast.TimeRange | None = None
        if problem.index is not None and 0 <= problem.index < len(calendar.hours):
            where = origin.get(calendar.hours[problem.index])
        if problem.code == "empty_interval" and where is not None:
            if id(where) not in reported:  # one report per written range, not per day
                reported.add(id(where))
                ctx.error(
                    "invalid_calendar",
                    f"opening hours `{where.start}-{where.end}` end before they start",
                    where.span,
                )
            continue
        span = decl.name.span
        if problem.code == "unknown_timezone" and decl.timezones:
            span = decl.timezones[0][1]
        elif problem.code == "overlapping_hours" and where is not None:
            span = where.span
        ctx.error(problem.code, problem.message, span)
    return None if problems or not ok else calendar


def _day(ctx: Context, name: ast.Name) -> int | None:
    text = name.text.lower()
    if text in WEEKDAY_NAMES:
        return WEEKDAY_NAMES.index(text)
    ctx.error(
        "invalid_calendar",
        f"unknown day `{name.text}`",
        name.span,
        did_you_mean(text, WEEKDAY_NAMES) or "days are mon, tue, wed, thu, fri, sat, sun",
    )
    return None


def _clock(ctx: Context, text: str, span: Span, allow_24: bool) -> time | None:
    m = _TIME.match(text)
    if m is not None:
        hour, minute = int(m.group(1)), int(m.group(2))
        if allow_24 and hour == 24 and minute == 0:
            return time(0, 0)
        if hour < 24 and minute < 60:
            return time(hour, minute)
    ctx.error(
        "invalid_calendar",
        f"`{text}` is not a valid time of day",
        span,
        "write HH:MM, 00:00 to 24:00",
    )
    return None


def _sla(ctx: Context, decl: ast.SlaDecl) -> SlaPolicy | None:
    values: dict[str, Any] = {}
    for key, value, span in decl.items:
        if key in values:
            ctx.error("duplicate_item", f"`{key}` is given twice in sla `{decl.name.text}`", span)
            continue
        values[key] = value
    if "first_response" not in values and "resolution" not in values:
        ctx.error(
            "invalid_sla",
            f"sla `{decl.name.text}` sets neither `first_response` nor `resolution`",
            decl.name.span,
        )
        return None
    calendar: Calendar | None = None
    cal_name = values.get("calendar")
    if isinstance(cal_name, ast.Name):
        if not ctx.resolve("calendar", cal_name, ctx.calendar_decls, "undeclared_calendar"):
            return None
        calendar = ctx.calendars.get(cal_name.text)
        if calendar is None:
            return None
    # the library allows a zero target; a rule file asking for one is a mistake
    for key in ("first_response", "resolution"):
        lit = values.get(key)
        if isinstance(lit, ast.DurationLit) and lit.value <= timedelta(0):
            ctx.error("invalid_sla", f"`{key}` must be longer than zero", lit.span)
            return None
        if isinstance(lit, ast.DurationLit) and lit.business and cal_name is None:
            ctx.error(
                "business_time_without_calendar",
                f"`{lit.text}` counts business time, but sla `{decl.name.text}` has no calendar",
                lit.span,
                f"add `calendar NAME` to the sla, or write elapsed time such as `{_elapsed(lit)}`",
            )
            return None
    return SlaPolicy(
        decl.name.text,
        _target(values.get("first_response")),
        _target(values.get("resolution")),
        calendar,
    )


def _target(lit: object) -> timedelta | BusinessDays | None:
    """An SLA target: business days, or a duration (open time with a calendar)."""
    if not isinstance(lit, ast.DurationLit):
        return None
    if lit.business == "days":
        return BusinessDays(lit.value.days)
    return lit.value


def _escalation(ctx: Context, decl: ast.EscalationDecl) -> EscalationPolicy | None:
    ok = True
    levels: list[EscalationLevel] = []
    for index, level in enumerate(decl.levels, 1):
        # how a delay is written is the DSL's business; what is valid is the policy's
        if level.after is not None and not _elapsed_only(ctx, level.after, "escalations"):
            ok = False
        elif index == 1 and level.after is not None:
            ctx.error(
                "invalid_escalation",
                "level 1 starts at once and takes no `after`",
                level.after.span,
            )
            ok = False
        if index > 1 and level.after is None:
            ctx.error(
                "invalid_escalation",
                f"level {level.number} needs `after` (its delay after level {level.number - 1})",
                level.span,
            )
            ok = False
        targets: list[EscalationTarget] = []
        for target in level.targets:
            if target.kind == "queue":
                ctx.resolve(
                    "queue", ast.Name(target.name, target.span), ctx.queue_decls, "undeclared_queue"
                )
            targets.append(EscalationTarget(target.kind, target.name))
        after = level.after.value if level.after is not None and index > 1 else timedelta(0)
        levels.append(EscalationLevel(level.number, after, tuple(targets)))
    for extra in decl.repeats[1:]:
        ctx.error("duplicate_item", "`repeat` is given twice", extra.span)
        ok = False
    repeat = decl.repeats[0] if decl.repeats else None
    if repeat is not None and repeat.after is not None:
        ok = _elapsed_only(ctx, repeat.after, "escalations") and ok
    policy = EscalationPolicy(
        decl.name.text,
        tuple(levels),
        repeat.count if repeat else 0,
        repeat.after.value if repeat and repeat.after else None,
    )
    problems = policy.problems()
    # misnumbered or missing levels make every other finding noise
    structural = any(p.code in ("level_numbering", "no_levels") for p in problems)
    for problem in problems:
        if problem.code == "level_numbering" and problem.index is not None:
            written = decl.levels[problem.index]
            ctx.error(
                "invalid_escalation",
                f"expected level {problem.index + 1} here, found level {written.number}",
                written.span,
                "number the levels 1, 2, 3... in order",
            )
        elif problem.code == "no_levels":
            ctx.error("invalid_escalation", problem.message, decl.name.span)
        elif ok and not structural:
            ctx.error(problem.code, problem.message, decl.name.span)
    return None if problems or not ok else policy
