"""``socialflow check``: every error and warning of rule files, with positions."""

from __future__ import annotations

import argparse

from socialflow.bundle import Bundle
from socialflow.cli._io import count, load_bundle
from socialflow.cli.registry import EXIT_OK, Command
from socialflow.dsl.program import CheckedProgram

__all__ = ["COMMAND"]


def _configure_check(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="rule files or folders of *.sf")
    parser.add_argument("--strict", action="store_true", help="treat warnings as errors")
    parser.add_argument(
        "--explain-index",
        action="store_true",
        help="list, rule by rule, what the triage index filters the rule on",
    )
    parser.add_argument(
        "--effective",
        action="store_true",
        help="list each layer's effective rules, in evaluation order, with where each comes from",
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
    for name in bundle.layers:
        layer = bundle.layer(name).program
        if args.effective:
            _effective(layer)
        print(f"ok: {_layer_summary(layer)}")
    return EXIT_OK


def _layer_summary(layer: CheckedProgram) -> str:
    """``layer uk_care extends acme_inbound (all): 28 rules (1 overridden: x; 1 added: y), 2 tests``"""
    changes = [
        f"{len(names)} {what}: {', '.join(names)}"
        for names, what in ((layer.overrides, "overridden"), (layer.added, "added"))
        if names
    ]
    changed = f" ({'; '.join(changes)})" if changes else " (no change)"
    return (
        f"layer {layer.name} extends {layer.extends} ({layer.hit}): "
        f"{count(len(layer.rules), 'rule')}{changed}, {count(len(layer.tests), 'test')}"
    )


def _effective(layer: CheckedProgram) -> None:
    """The layer's rules in evaluation order: ``=`` inherited, ``~`` overridden, ``+`` added."""
    overridden, added = set(layer.overrides), set(layer.added)
    width = max((len(r.name) for r in layer.rules), default=0)
    print(f"effective rules of layer {layer.name} (= from {layer.extends}, ~ overridden, + added):")
    for rule in layer.rules:
        mark = "~" if rule.name in overridden else "+" if rule.name in added else "="
        print(
            f"  {mark} {rule.name:<{width}}  precedence {rule.precedence:>4}  {rule.span.location()}"
        )
    print()


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
