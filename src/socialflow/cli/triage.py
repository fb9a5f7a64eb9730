"""``socialflow triage``: JSON-lines messages in, JSON-lines decisions out, nothing lost."""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TextIO

import socialflow as sf
from socialflow import serde
from socialflow.bundle import Bundle
from socialflow.cel.values import parse_timestamp
from socialflow.cli._io import (
    Line,
    LineWriter,
    add_layer_option,
    as_line,
    json_lines,
    load_bundle,
    parse_json,
)
from socialflow.cli.registry import EXIT_FAILED, EXIT_OK, Command, CommandFailed
from socialflow.errors import EvalError
from socialflow.triage.decision import decision_writer

__all__ = ["COMMAND"]


def _configure_triage(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("rules", metavar="RULES", help="a rule file or a folder of *.sf files")
    add_layer_option(parser)
    parser.add_argument(
        "input", metavar="INPUT.jsonl", help="one JSON message per line (`-`: stdin)"
    )
    parser.add_argument("-o", "--output", metavar="OUT.jsonl", help="decisions (default: stdout)")
    parser.add_argument(
        "--now",
        metavar="TIMESTAMP",
        help="triage every message at this RFC 3339 time (default: each message's received_at)",
    )
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
    parser.add_argument(
        "--strict", action="store_true", help="a condition error rejects the message"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    parser.add_argument("--no-summary", action="store_true", help="no summary table at the end")


class _Progress:
    def __init__(self, stream: TextIO, total: int | None) -> None:
        self.stream = stream
        self.total = total
        self.last = 0.0
        self.started = time.perf_counter()

    def update(self, done: int, final: bool = False) -> None:
        now = time.perf_counter()
        if not final and now - self.last < 0.1:
            return
        self.last = now
        rate = done / max(now - self.started, 1e-9)
        if self.total:
            width = 30
            filled = int(width * done / self.total)
            bar = "#" * filled + "-" * (width - filled)
            text = f"\r[{bar}] {done}/{self.total} messages ({rate:,.0f}/s)"
        else:
            text = f"\r{done} messages ({rate:,.0f}/s)"
        self.stream.write(text + ("\n" if final else ""))
        self.stream.flush()


def _count_lines(path: str) -> int | None:
    if path == "-":
        return None
    try:
        with Path(path).open("rb") as f:
            return sum(1 for _ in f)
    except OSError:
        return None


def _run_triage(args: argparse.Namespace) -> int:
    bundle = load_bundle([args.rules], layer=args.layer)
    fixed_now: datetime | None = None
    if args.now is not None:
        try:
            fixed_now = parse_timestamp(args.now)
        except EvalError as e:
            raise CommandFailed(f"error: --now: {e.message}") from None
    rejects_path = args.rejects or (
        f"{args.output.removesuffix('.jsonl')}.rejects.jsonl" if args.output else "rejects.jsonl"
    )
    # both outputs are checked before the first line is read; rejects are
    # written through at once, so an interrupt keeps every one of them
    out = LineWriter(args.output, "decisions")
    rejects = LineWriter(rejects_path, "rejects", flush=True)
    show_progress = not args.no_progress and sys.stderr.isatty()
    progress = _Progress(sys.stderr, _count_lines(args.input)) if show_progress else None
    started = time.perf_counter()
    total = accepted = condition_errors = 0
    rejected: list[int] = []
    reuse = _received_at_is_a_timestamp(bundle)
    # counted per distinct combination (few), spread into the summary's tables after;
    # escalation plans by policy name (the plans' times differ per message)
    outcomes: Counter[tuple[str | None, str, str | None, tuple[str, ...], tuple[str, ...]]] = (
        Counter()
    )
    write, strict = out.write_text, args.strict
    # the ruleset's own part of every decision's JSON text is rendered once
    dumps = decision_writer(bundle.name, bundle.program.version)
    try:
        for line in json_lines(args.input):
            total += 1
            result = _triage_line(bundle, line, fixed_now, strict, reuse, dumps)
            if isinstance(result, str):
                rejected.append(line.number)
                rejects.write({"line": line.number, "error": result, "input": line.text})
                sys.stderr.write(
                    ("\n" if progress else "") + f"line {line.number}: rejected: {result}\n"
                )
            else:
                decision, text = result
                write(text)
                accepted += 1
                outcomes[
                    decision.route,
                    decision.priority,
                    decision.response,
                    decision.matched,
                    tuple([p.policy for p in decision.escalations]) if decision.escalations else (),
                ] += 1
                if decision.errors:
                    condition_errors += len(decision.errors)
            if progress is not None:
                progress.update(total)
    finally:
        out.close()
        rejects.close()
    if progress is not None:
        progress.update(total, final=True)
    elapsed = time.perf_counter() - started
    stats: dict[str, Counter[str]] = {
        k: Counter() for k in ("route", "priority", "response", "rule", "escalation")
    }
    for (route, priority, response, matched, policies), count in outcomes.items():
        stats["route"][route or "(none)"] += count
        stats["priority"][priority] += count
        stats["response"][response or "(undecided)"] += count
        for rule in matched:
            stats["rule"][rule] += count
        for policy in policies:
            stats["escalation"][policy] += count
    if not args.no_summary:
        _summary(
            sys.stderr,
            total,
            accepted,
            rejected,
            condition_errors,
            stats,
            elapsed,
            rejects_path if rejected else None,
        )
    if rejected and not args.allow_rejects:
        return EXIT_FAILED
    return EXIT_OK


def _received_at_is_a_timestamp(bundle: Bundle) -> bool:
    """Whether the input schema reads ``received_at`` as a timestamp (then the time
    the command parsed is handed in, and not parsed a second time)."""
    program = bundle.program
    schema = program.schemas.get(program.input_schema or "")
    field = schema.field("received_at") if schema is not None else None
    return field is not None and field.type == "timestamp"


def _triage_line(
    bundle: Bundle,
    line: Line,
    fixed_now: datetime | None,
    strict: bool,
    reuse: bool = False,
    dumps: Callable[[sf.Decision], str] = serde.dumps,
) -> str | tuple[sf.Decision, str]:
    """The decision and its JSON line, or why the line is rejected."""
    if line.error is not None:
        return line.error
    assert line.text is not None  # INVARIANT: text or error
    text = line.text
    if not text or text.isspace():
        return "empty line"
    try:
        message = parse_json(text, f"line {line.number}")
    except CommandFailed as e:
        detail = e.message.removeprefix("error: ").removeprefix(f"line {line.number}: ")
        return detail.removeprefix("line 1, ")
    if not isinstance(message, dict):
        return "expected a JSON object"
    now = fixed_now
    if now is None:
        received = message.get("received_at")
        if not isinstance(received, str):
            return "no `received_at` to triage at (or pass --now)"
        try:
            now = parse_timestamp(received)
        except EvalError as e:
            return f"`received_at`: {e.message}"
        if reuse:
            message["received_at"] = now
    try:
        decision = bundle.triage(message, now, strict=strict)
    except sf.InputError as e:
        return str(e)
    except EvalError as e:
        return f"condition error: {e}"
    except sf.SocialflowError as e:  # never expected from data; still never lose the line
        return f"{type(e).__name__}: {e}"
    try:
        return decision, as_line(dumps(decision))
    except sf.SerializationError as e:
        return f"the decision cannot be written as JSON: {e}"


def _summary(
    stream: TextIO,
    total: int,
    accepted: int,
    rejected: list[int],
    condition_errors: int,
    stats: dict[str, Counter[str]],
    elapsed: float,
    rejects_path: str | None,
) -> None:
    w = stream.write
    w(
        f"\ntriaged {accepted} of {total} messages in {elapsed:.2f}s"
        f" ({accepted / max(elapsed, 1e-9):,.0f}/s); rejected {len(rejected)}; "
        f"condition errors {condition_errors}\n"
    )
    for title, key in (("route", "route"), ("priority", "priority"), ("response", "response")):
        w(f"\n{title:<24} {'messages':>8}\n")
        for name, count in sorted(stats[key].items(), key=lambda kv: (-kv[1], kv[0])):
            w(f"  {name:<22} {count:>8}\n")
    if stats["escalation"]:
        w(f"\n{'escalation plans':<24} {'messages':>8}\n")
        for name, count in sorted(stats["escalation"].items(), key=lambda kv: (-kv[1], kv[0])):
            w(f"  {name:<22} {count:>8}\n")
    if stats["rule"]:
        w(f"\n{'top rules':<24} {'matched':>8}\n")
        for name, count in sorted(stats["rule"].items(), key=lambda kv: (-kv[1], kv[0]))[:10]:
            w(f"  {name:<22} {count:>8}\n")
    if rejects_path is not None:
        lines = ", ".join(str(n) for n in rejected[:10])
        more = f" and {len(rejected) - 10} more" if len(rejected) > 10 else ""
        w(f"\nrejected lines {lines}{more}: written to {rejects_path}\n")


COMMAND = Command(
    name="triage",
    help="triage JSON-lines messages into JSON-lines decisions",
    configure=_configure_triage,
    run=_run_triage,
    epilog="""\
Bad lines are reported on stderr with their line number and written to the
rejects file; nothing is dropped silently.

exit status: 0 ok, 1 lines were rejected (unless --allow-rejects), 2 bad arguments or rules""",
)
