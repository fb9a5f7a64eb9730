"""``socialflow step``: run a stream of workflow events through fresh instances.

Each input line is one event for one instance::

    {"instance": "post-1", "event": "submit", "actor": "ana", "at": "2026-11-23T09:05:00Z",
     "id": "e1", "data": {...}, "subject": {...}}

``id``, ``data`` and ``subject`` are optional (``id`` defaults to ``line-N``; the
latest ``subject`` given for an instance is used).  The first line of an
instance starts it at that line's time.  Before each event the instance's
timers are advanced to the event's time, as a host would, and what fired is
written as its own result line.  Bad lines are reported by number and written
to the rejects file as they happen; nothing is dropped silently.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import socialflow as sf
from socialflow import serde
from socialflow.cel.values import format_timestamp, parse_timestamp
from socialflow.cli._io import (
    Line,
    LineWriter,
    count,
    json_lines,
    load_bundle,
    parse_json,
    read_text,
)
from socialflow.cli.registry import EXIT_FAILED, EXIT_OK, EXIT_USAGE, Command, CommandFailed
from socialflow.errors import EvalError

__all__ = ["COMMAND"]

_FIELDS = ("instance", "event", "actor", "at", "id", "data", "subject")


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="rule files or folders of *.sf, then EVENTS.jsonl (`-`: stdin)",
    )
    parser.add_argument("--workflow", required=True, metavar="NAME", help="the workflow to run")
    parser.add_argument("-o", "--output", metavar="OUT.jsonl", help="results (default: stdout)")
    parser.add_argument(
        "--rejects",
        metavar="FILE",
        help="where rejected lines go (default: OUT.rejects.jsonl, or rejects.jsonl with stdout)",
    )
    parser.add_argument(
        "--allow-rejects",
        action="store_true",
        help="exit 0 even when lines were rejected (they are still reported and written)",
    )
    who = parser.add_mutually_exclusive_group()
    who.add_argument(
        "--access",
        metavar="RECORDS.json",
        help='the access records for `requires`: {"nodes": [...], "grants": [...], "principals": [...]}',
    )
    who.add_argument(
        "--allow-all", action="store_true", help="allow every `requires` (no access check)"
    )
    parser.add_argument(
        "--until",
        metavar="TIMESTAMP",
        help="at the end, advance every instance to this time (fires the timers due by then)",
    )
    parser.add_argument(
        "--instances",
        metavar="FILE.jsonl",
        help="write the final instances there, one JSON line each (sf.serde form)",
    )
    parser.add_argument("--no-summary", action="store_true", help="no summary at the end")


def _run(args: argparse.Namespace) -> int:
    if len(args.paths) < 2:
        raise CommandFailed("error: give the rule files and then EVENTS.jsonl")
    *rule_paths, events_path = args.paths
    bundle = load_bundle(rule_paths)
    try:
        workflow = bundle.workflow(args.workflow)
    except sf.UsageError as e:
        raise CommandFailed(f"error: {e}") from None
    access = _access(bundle, workflow, args)
    until = _time(args.until, "--until") if args.until is not None else None
    rejects_path = args.rejects or (
        f"{args.output.removesuffix('.jsonl')}.rejects.jsonl" if args.output else "rejects.jsonl"
    )
    out = LineWriter(args.output, "results")
    rejects = LineWriter(rejects_path, "rejects", flush=True)
    final = LineWriter(args.instances, "instances") if args.instances else None
    instances: dict[str, sf.Instance] = {}
    subjects: dict[str, Mapping[str, Any]] = {}
    stats: Counter[str] = Counter()
    try:
        for line in json_lines(events_path):
            problem = _one(line, workflow, access, instances, subjects, out, stats)
            if problem is not None:
                stats["rejected"] += 1
                sys.stderr.write(f"line {line.number}: rejected: {problem}\n")
                rejects.write({"line": line.number, "error": problem, "input": line.text})
        if until is not None:
            for key in sorted(instances):
                result = workflow.advance(instances[key], until, subject=subjects[key])
                if result.accepted:
                    instances[key] = result.instance
                    out.write(_row(None, key, None, until, result))
                    stats["timers"] += 1
        if final is not None:
            for key in sorted(instances):
                final.write(serde.unstructure(instances[key]))
    finally:
        out.close()
        rejects.close()
        if final is not None:
            final.close()
    if not args.no_summary:
        _summary(stats, len(instances), rejects_path)
    if stats["rejected"] and not args.allow_rejects:
        return EXIT_FAILED
    return EXIT_OK


def _access(bundle: sf.Bundle, workflow: sf.Workflow, args: argparse.Namespace) -> Any:
    if args.allow_all:
        return sf.ALLOW_ALL
    if args.access is None:
        if workflow.requires_access:
            raise CommandFailed(
                f"error: workflow `{workflow.name}` has `requires`: pass --access RECORDS.json "
                "or --allow-all",
                EXIT_USAGE,
            )
        return None
    records = parse_json(read_text(args.access, "access records"), args.access)
    if not isinstance(records, dict):
        raise CommandFailed(f"error: {args.access}: expected an object of records")
    try:
        return bundle.access(
            records.get("nodes", ()), records.get("grants", ()), records.get("principals", ())
        )
    except sf.InputError as e:
        raise CommandFailed(f"error: {args.access}: {e}") from None


def _one(
    line: Line,
    workflow: sf.Workflow,
    access: Any,
    instances: dict[str, sf.Instance],
    subjects: dict[str, Mapping[str, Any]],
    out: LineWriter,
    stats: Counter[str],
) -> str | None:
    """Process one line; the reason it is rejected, or ``None``."""
    if line.error is not None:
        return line.error
    assert line.text is not None  # INVARIANT: text or error
    if not line.text.strip():
        return "empty line"
    try:
        item = parse_json(line.text, f"line {line.number}")
    except CommandFailed as e:
        detail = e.message.removeprefix("error: ").removeprefix(f"line {line.number}: ")
        return detail.removeprefix("line 1, ")
    if not isinstance(item, dict):
        return "expected a JSON object"
    unknown = sorted(set(item) - set(_FIELDS))
    if unknown:
        return f"unknown field `{unknown[0]}` (fields: {', '.join(_FIELDS)})"
    for field in ("instance", "event", "actor", "at"):
        if not isinstance(item.get(field), str):
            return f"`{field}` must be a string"
    event_id = item.get("id", f"line-{line.number}")
    if not isinstance(event_id, str):
        return "`id` must be a string"
    try:
        now = parse_timestamp(item["at"])
    except EvalError as e:
        return f"`at`: {e.message}"
    key = item["instance"]
    subject = item.get("subject", subjects.get(key, {}))
    if not isinstance(subject, dict):
        return "`subject` must be an object"
    data = item.get("data")
    if data is not None and not isinstance(data, dict):
        return "`data` must be an object"
    try:
        instance = instances.get(key)
        if instance is None:
            instance = workflow.start(key, subject=subject, now=now)
        elif instance.entered_at is not None and now < instance.entered_at:
            return (
                f"`at` is before the instance's last change ({format_timestamp(instance.entered_at)}): "
                "events of an instance must come in time order"
            )
        advanced = workflow.advance(instance, now, subject=subject)
        event = sf.Event(item["event"], actor=item["actor"], id=event_id, data=data)
        result = workflow.step(advanced.instance, event, subject=subject, now=now, access=access)
    except (sf.InputError, sf.EvalError, sf.UsageError) as e:
        return str(e)
    if advanced.accepted:
        out.write(_row(line.number, key, None, now, advanced))
        stats["timers"] += 1
    out.write(_row(line.number, key, item["event"], now, result))
    stats["accepted" if result.accepted else f"refused: {result.reason}"] += 1
    instances[key] = result.instance
    subjects[key] = subject
    return None


def _row(
    number: int | None, key: str, event: str | None, now: datetime, result: sf.StepResult
) -> dict[str, Any]:
    instance = result.instance
    deadline = instance.timers[0].at if instance.timers else None
    return {
        "line": number,
        "instance": key,
        "event": event,
        "at": format_timestamp(now),
        "accepted": result.accepted,
        "reason": result.reason,
        "detail": result.detail,
        "state": instance.state,
        "version": instance.version,
        "effects": [serde.to_json_value(e) for e in result.effects],
        "next_deadline": format_timestamp(deadline) if deadline is not None else None,
    }


def _time(text: str, what: str) -> datetime:
    try:
        return parse_timestamp(text)
    except EvalError as e:
        raise CommandFailed(f"error: {what}: {e.message}") from None


def _summary(stats: Counter[str], instances: int, rejects_path: str) -> None:
    w = sys.stderr.write
    events = stats["accepted"] + sum(v for k, v in stats.items() if k.startswith("refused"))
    w(
        f"\n{count(events, 'event')} for {count(instances, 'instance')}: "
        f"{stats['accepted']} accepted, {events - stats['accepted']} refused; "
        f"timers fired in {count(stats['timers'], 'advance')}; rejected {stats['rejected']}\n"
    )
    for key in sorted(k for k in stats if k.startswith("refused")):
        w(f"  {key:<36} {stats[key]:>8}\n")
    if stats["rejected"]:
        w(f"rejected lines written to {rejects_path}\n")


COMMAND = Command(
    name="step",
    help="run JSON-lines workflow events through fresh instances",
    configure=_configure,
    run=_run,
    epilog="""\
example:
  socialflow step examples/workflows examples/workflows/events.jsonl --workflow content_approval --allow-all

exit status: 0 ok, 1 lines were rejected (unless --allow-rejects), 2 bad arguments or rules""",
)
