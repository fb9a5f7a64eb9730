"""``socialflow explain``: why one message got its decision, rule by rule."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import socialflow as sf
from socialflow import serde
from socialflow.cel.values import parse_timestamp
from socialflow.cli._io import add_layer_option, load_bundle, parse_json
from socialflow.cli.registry import EXIT_OK, Command, CommandFailed
from socialflow.errors import EvalError

__all__ = ["COMMAND"]


def _configure_explain(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("rules", metavar="RULES", help="a rule file or a folder of *.sf files")
    add_layer_option(parser)
    parser.add_argument(
        "--message",
        metavar="JSON",
        required=True,
        help="the message as JSON text, or @FILE to read it from a file",
    )
    parser.add_argument("--now", metavar="TIMESTAMP", help="default: the message's received_at")
    parser.add_argument("--json", action="store_true", help="print the explanation as JSON")


def _run_explain(args: argparse.Namespace) -> int:
    bundle = load_bundle([args.rules], layer=args.layer)
    text = args.message
    if text.startswith("@"):
        try:
            text = Path(text[1:]).read_text(encoding="utf-8")
        except OSError as e:
            raise CommandFailed(f"error: cannot read `{text[1:]}`: {e.strerror}") from None
    message = parse_json(text, "--message")
    when = (
        args.now
        if args.now is not None
        else (message.get("received_at") if isinstance(message, dict) else None)
    )
    if not isinstance(when, str):
        raise CommandFailed("error: no `received_at` in the message: pass --now")
    try:
        now = parse_timestamp(when)
    except EvalError as e:
        raise CommandFailed(f"error: --now: {e.message}") from None
    try:
        explanation = bundle.explain(message, now)
    except sf.InputError as e:
        raise CommandFailed(f"error: {e}") from None
    if args.json:
        print(
            json.dumps(serde.unstructure(explanation), ensure_ascii=False, indent=2, sort_keys=True)
        )
    else:
        print(explanation)
    return EXIT_OK


COMMAND = Command(
    name="explain",
    help="explain the decision for one message, rule by rule",
    configure=_configure_explain,
    run=_run_explain,
)
