"""``socialflow check``: every error and warning of rule files, with positions."""

from __future__ import annotations

import argparse

from socialflow.bundle import Bundle
from socialflow.cli._io import count, load_bundle
from socialflow.cli.registry import EXIT_OK, Command

__all__ = ["COMMAND"]


def _configure_check(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="rule files or folders of *.sf")
    parser.add_argument("--strict", action="store_true", help="treat warnings as errors")
    parser.add_argument(
        "--explain-index",
        action="store_true",
        help="list, rule by rule, what the triage index filters the rule on",
    )


def _run_check(args: argparse.Namespace) -> int:
    bundle = load_bundle(args.paths, strict=args.strict)
    program = bundle.program
    for warning in bundle.warnings:
        print(warning.render(), end="\n\n")
    parts = [count(len(program.rules), "rule")]
    if program.workflows:
        parts.append(count(len(program.workflows), "workflow"))
    parts += [count(len(program.tests), "test"), count(len(bundle.warnings), "warning")]
    if args.explain_index:
        _explain_index(bundle)
    print(f"ok: ruleset {program.name} ({program.hit}): {', '.join(parts)}")
    return EXIT_OK


def _explain_index(bundle: Bundle) -> None:
    index = bundle.engine.index
    width = max((len(r.name) for r in bundle.program.rules), default=0)
    indexed = 0
    for i, rule in enumerate(bundle.program.rules):
        dims = index.explain(i)
        indexed += bool(dims)
        shown = "; ".join(dims) if dims else "not indexed: evaluated for every message"
        print(f"{rule.name:<{width}}  {shown}")
    print(f"{indexed} of {len(bundle.program.rules)} rules indexed\n")


COMMAND = Command(
    name="check",
    help="check rule files: every error and warning, with positions",
    configure=_configure_check,
    run=_run_check,
    epilog="exit status: 0 no errors, 2 errors (or warnings with --strict)",
)
