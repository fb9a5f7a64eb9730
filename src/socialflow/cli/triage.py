"""``socialflow triage``: JSON-lines messages in, JSON-lines decisions out, nothing lost."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

import socialflow as sf
from socialflow import serde
from socialflow.bundle import Bundle
from socialflow.cel.values import parse_timestamp
from socialflow.cli._io import load_bundle, parse_json
from socialflow.cli.registry import EXIT_FAILED, EXIT_OK, Command, CommandFailed
from socialflow.errors import EvalError

__all__ = ["COMMAND"]


def _configure_triage(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("rules", metavar="RULES", help="a rule file or a folder of *.sf files")
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


def _lines(path: str) -> Iterator[tuple[int, str]]:
    if path == "-":
        yield from enumerate(sys.stdin, 1)
        return
    try:
        handle = Path(path).open(encoding="utf-8")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        raise CommandFailed(f"error: input `{path}` does not exist") from None
    except OSError as e:
        raise CommandFailed(f"error: cannot read input `{path}`: {e.strerror}") from None
    with handle:
        try:
            yield from enumerate(handle, 1)
        except UnicodeDecodeError as e:
            raise CommandFailed(
                f"error: input `{path}` is not UTF-8 text (byte {e.start + 1})"
            ) from None


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
    bundle = load_bundle([args.rules])
    fixed_now: datetime | None = None
    if args.now is not None:
        try:
            fixed_now = parse_timestamp(args.now)
        except EvalError as e:
            raise CommandFailed(f"error: --now: {e.message}") from None
    out_path = Path(args.output) if args.output else None
    rejects_path = (
        Path(args.rejects)
        if args.rejects
        else (out_path.with_suffix(".rejects.jsonl") if out_path else Path("rejects.jsonl"))
    )
    show_progress = not args.no_progress and sys.stderr.isatty()
    progress = _Progress(sys.stderr, _count_lines(args.input)) if show_progress else None
    started = time.perf_counter()
    stats: dict[str, Counter[str]] = {
        k: Counter() for k in ("route", "priority", "response", "rule")
    }
    total = accepted = condition_errors = 0
    rejected: list[dict[str, Any]] = []
    out: TextIO = out_path.open("w", encoding="utf-8") if out_path else sys.stdout
    try:
        for number, raw in _lines(args.input):
            text = raw.strip()
            if not text:
                continue
            total += 1
            reject = _triage_line(bundle, number, text, fixed_now, args.strict)
            if isinstance(reject, dict):
                rejected.append(reject)
                sys.stderr.write(
                    ("\n" if progress else "") + f"line {number}: rejected: {reject['error']}\n"
                )
            else:
                accepted += 1
                decision = reject
                out.write(serde.dumps(decision) + "\n")
                stats["route"][decision.route or "(none)"] += 1
                stats["priority"][decision.priority] += 1
                stats["response"][decision.response or "(undecided)"] += 1
                for rule in decision.matched:
                    stats["rule"][rule] += 1
                condition_errors += len(decision.errors)
            if progress is not None:
                progress.update(total)
    finally:
        if out_path:
            out.close()
    if progress is not None:
        progress.update(total, final=True)
    if rejected:
        with rejects_path.open("w", encoding="utf-8") as f:
            for item in rejected:
                f.write(json.dumps(item, ensure_ascii=False, sort_keys=True) + "\n")
    elapsed = time.perf_counter() - started
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


def _triage_line(
    bundle: Bundle, number: int, text: str, fixed_now: datetime | None, strict: bool
) -> Any:
    def reject(error: str) -> dict[str, Any]:
        return {"line": number, "error": error, "input": text}

    try:
        message = parse_json(text, f"line {number}")
    except CommandFailed as e:
        detail = e.message.removeprefix("error: ").removeprefix(f"line {number}: ")
        return reject(detail.removeprefix("line 1, "))
    if not isinstance(message, dict):
        return reject("expected a JSON object")
    now = fixed_now
    if now is None:
        received = message.get("received_at")
        if not isinstance(received, str):
            return reject("no `received_at` to triage at (or pass --now)")
        try:
            now = parse_timestamp(received)
        except EvalError as e:
            return reject(f"`received_at`: {e.message}")
    try:
        return bundle.triage(message, now, strict=strict)
    except sf.InputError as e:
        return reject(str(e))
    except EvalError as e:
        return reject(f"condition error: {e}")


def _summary(
    stream: TextIO,
    total: int,
    accepted: int,
    rejected: list[dict[str, Any]],
    condition_errors: int,
    stats: dict[str, Counter[str]],
    elapsed: float,
    rejects_path: Path | None,
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
    if stats["rule"]:
        w(f"\n{'top rules':<24} {'matched':>8}\n")
        for name, count in sorted(stats["rule"].items(), key=lambda kv: (-kv[1], kv[0]))[:10]:
            w(f"  {name:<22} {count:>8}\n")
    if rejects_path is not None:
        lines = ", ".join(str(r["line"]) for r in rejected[:10])
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
