"""``socialflow eval``: evaluate one CEL expression over JSON data."""

from __future__ import annotations

import argparse
import sys

import socialflow as sf
from socialflow.cli._io import load_activation, read_text, render_eval_error, write_json
from socialflow.cli.registry import EXIT_EVAL_ERROR, EXIT_OK, EXIT_USAGE, Command, CommandFailed

__all__ = ["COMMAND"]


def _configure_eval(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "expr",
        nargs="?",
        metavar="EXPR",
        help="the CEL expression (omit when using --expr-file)",
    )
    parser.add_argument(
        "--expr-file",
        metavar="FILE",
        help="read the expression from FILE (`-` for standard input)",
    )
    parser.add_argument(
        "--data",
        metavar="FILE",
        help="a JSON object whose keys are variable names (`-` for standard input)",
    )
    parser.add_argument(
        "--var",
        metavar="NAME=JSON",
        action="append",
        default=[],
        help="bind one variable to a JSON value; repeatable; overrides --data",
    )
    parser.add_argument(
        "--indent",
        metavar="N",
        type=int,
        default=None,
        help="pretty-print the result with N-space indentation",
    )


def _run_eval(args: argparse.Namespace) -> int:
    if (args.expr is None) == (args.expr_file is None):
        raise CommandFailed("error: give either EXPR or --expr-file FILE (exactly one)")
    if args.expr_file == "-" and args.data == "-":
        raise CommandFailed("error: --expr-file and --data cannot both read standard input")
    if args.expr_file is not None:
        text = read_text(args.expr_file, "expression file")
        name = "<stdin>" if args.expr_file == "-" else args.expr_file
    else:
        text, name = args.expr, "<expr>"
    activation = load_activation(args.data, args.var)
    try:
        program = sf.cel.compile(text, name=name)
    except sf.SourceError as e:
        raise CommandFailed(str(e), EXIT_USAGE) from None
    try:
        result = program.evaluate(activation)
    except sf.EvalError as e:
        raise CommandFailed(render_eval_error(e), EXIT_EVAL_ERROR) from None
    except sf.SocialflowError as e:  # InputError / UsageError: the data handed in is wrong
        raise CommandFailed(f"error: {e}", EXIT_USAGE) from None
    write_json(result, sys.stdout, args.indent)
    return EXIT_OK


COMMAND = Command(
    name="eval",
    help="evaluate a CEL expression over JSON data and print the result as JSON",
    configure=_configure_eval,
    run=_run_eval,
    epilog="""\
examples:
  socialflow eval '1 + 2'
  socialflow eval 'msg.text.containsWord("refund")' --var 'msg={"text": "Refund me"}'
  socialflow eval --expr-file examples/cel/refund_complaint.cel \\
                  --data examples/messages/refund_tweet.json

exit status: 0 success, 1 evaluation error, 2 bad arguments, input or expression""",
)
