"""The ``socialflow`` command.

The CLI is the only part of socialflow that reads files, standard input or
the environment: it turns them into plain values, calls the pure library, and
turns the result (or the error) back into text and an exit status.

Exit statuses, shared by every sub-command:

* ``0`` -- success;
* ``1`` -- the input was read and understood, but evaluating it failed
  (a CEL ``EvalError``);
* ``2`` -- the command could not start: bad arguments, an unreadable or
  malformed input file, or source text that does not parse or check.

Sub-commands live in a registry (:data:`COMMANDS`): each is a :class:`Command`
with a name, a one-line help text, a function that adds its arguments to an
``argparse`` sub-parser and a function that runs it.  Adding ``check``,
``test``, ``triage``, ``explain`` or ``graph`` means writing those two
functions and calling :func:`register`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final, NoReturn, TextIO

import attrs

import socialflow as sf
from socialflow import serde
from socialflow.errors import Diagnostic, Severity

__all__ = ["COMMANDS", "Command", "CommandFailed", "main", "register"]

#: Exit statuses (see the module docstring).
EXIT_OK: Final = 0
EXIT_EVAL_ERROR: Final = 1
EXIT_USAGE: Final = 2

_IDENTIFIER: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class CommandFailed(Exception):
    """Stop the current command: print ``message`` to stderr, exit with ``status``."""

    def __init__(self, message: str, status: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@attrs.frozen
class Command:
    """One sub-command: ``socialflow NAME ...``."""

    name: str
    help: str
    #: Adds the sub-command's arguments to its sub-parser.
    configure: Callable[[argparse.ArgumentParser], None]
    #: Runs the sub-command; returns the exit status.  Raise
    #: :class:`CommandFailed` for a handled failure.
    run: Callable[[argparse.Namespace], int]
    #: A longer description shown by ``socialflow NAME --help``.
    description: str | None = None
    epilog: str | None = None


#: The sub-commands, by name, in the order ``--help`` lists them.
COMMANDS: dict[str, Command] = {}


def register(command: Command) -> Command:
    """Add ``command`` to :data:`COMMANDS` (a name may be registered once)."""
    if command.name in COMMANDS:
        raise ValueError(f"sub-command `{command.name}` is already registered")
    COMMANDS[command.name] = command
    return command


# --------------------------------------------------------------------------- #
# argparse without sys.exit: main() returns the status instead of raising.


class _Exit(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class _Parser(argparse.ArgumentParser):
    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            sys.stderr.write(message)
        raise _Exit(status)

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with one sub-parser per registered command."""
    parser = _Parser(
        prog="socialflow",
        description="Rules, workflows and permissions for social-media operations teams.",
    )
    parser.add_argument("--version", action="version", version=f"socialflow {sf.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for command in COMMANDS.values():
        child = sub.add_parser(
            command.name,
            help=command.help,
            description=command.description or command.help,
            epilog=command.epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        command.configure(child)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``socialflow`` command with ``argv`` (default: ``sys.argv[1:]``).

    Returns the exit status; never calls ``sys.exit`` itself.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        return COMMANDS[args.command].run(args)
    except _Exit as e:
        return e.status
    except CommandFailed as e:
        _print_err(e.message)
        return e.status
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `socialflow ... | head`: the reader went away; that is not our error.
        # Point stdout at devnull so the interpreter's final flush stays quiet.
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK


def _print_err(message: str) -> None:
    sys.stderr.write(message.rstrip("\n") + "\n")


# --------------------------------------------------------------------------- #
# Reading input.


def _read_text(path: str, what: str) -> str:
    """The text of ``path`` (``-`` is standard input), or a clear failure."""
    if path == "-":
        return sys.stdin.read()
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CommandFailed(f"error: {what} `{path}` does not exist") from None
    except IsADirectoryError:
        raise CommandFailed(f"error: {what} `{path}` is a directory, not a file") from None
    except UnicodeDecodeError as e:
        raise CommandFailed(
            f"error: {what} `{path}` is not UTF-8 text (byte {e.start + 1})"
        ) from None
    except OSError as e:
        raise CommandFailed(f"error: cannot read {what} `{path}`: {e.strerror}") from None


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"`{name}` is not valid JSON")


def parse_json(text: str, where: str) -> Any:
    """Decode ``text`` as strict JSON; ``where`` names it in error messages.

    Duplicate object keys and ``NaN``/``Infinity`` are rejected rather than
    silently resolved (the last duplicate would otherwise win unseen).
    """
    try:
        return json.loads(
            text, object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant
        )
    except json.JSONDecodeError as e:
        msg = e.msg[:1].lower() + e.msg[1:]
        raise CommandFailed(
            f"error: {where}: line {e.lineno}, column {e.colno}: invalid JSON: {msg}"
        ) from None
    except _DuplicateKey as e:
        raise CommandFailed(
            f"error: {where}: invalid JSON: duplicate key `{e.key}` in an object"
        ) from None
    except ValueError as e:
        raise CommandFailed(f"error: {where}: invalid JSON: {e}") from None
    except RecursionError:
        raise CommandFailed(f"error: {where}: invalid JSON: nested too deeply") from None


def _load_activation(data: str | None, variables: Sequence[str]) -> dict[str, Any]:
    activation: dict[str, Any] = {}
    if data is not None:
        where = "standard input" if data == "-" else data
        value = parse_json(_read_text(data, "data file"), where)
        if not isinstance(value, dict):
            raise CommandFailed(
                f"error: {where}: expected a JSON object whose keys are variable names, "
                f"got {_json_kind(value)}"
            )
        for name in value:
            if not _IDENTIFIER.match(name):
                raise CommandFailed(
                    f"error: {where}: top-level key `{name}` is not a valid variable name"
                )
        activation.update(value)
    for item in variables:
        name, sep, raw = item.partition("=")
        if not sep or not _IDENTIFIER.match(name):
            raise CommandFailed(
                f"error: --var `{item}`: expected NAME=JSON with NAME an identifier"
            )
        try:
            activation[name] = json.loads(
                raw, object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant
            )
        except (ValueError, RecursionError):
            raise CommandFailed(
                f"error: --var {name}: `{raw}` is not valid JSON "
                f"(quote strings twice: --var '{name}={json.dumps(raw, ensure_ascii=False)}')"
            ) from None
    return activation


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"


# --------------------------------------------------------------------------- #
# Writing results.


def _write_json(value: Any, out: TextIO, indent: int | None) -> None:
    try:
        text = json.dumps(
            serde.to_json_value(value), ensure_ascii=False, indent=indent, allow_nan=False
        )
    except sf.SerializationError as e:
        raise CommandFailed(f"error: the result cannot be written as JSON: {e}", 1) from None
    except RecursionError:
        raise CommandFailed("error: the result is nested too deeply to write as JSON", 1) from None
    out.write(text + "\n")


def render_eval_error(error: sf.EvalError) -> str:
    """``file:line:col: error[kind]: message`` and the caret snippet when located."""
    return Diagnostic(Severity.ERROR, error.kind, error.message, error.span).render()


# --------------------------------------------------------------------------- #
# socialflow eval


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
        text = _read_text(args.expr_file, "expression file")
        name = "<stdin>" if args.expr_file == "-" else args.expr_file
    else:
        text, name = args.expr, "<expr>"
    activation = _load_activation(args.data, args.var)
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
    _write_json(result, sys.stdout, args.indent)
    return EXIT_OK


register(
    Command(
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
)


# The rule-file sub-commands (check, test, triage, explain) register themselves.
from socialflow import _cli_rules  # noqa: E402, F401 - imported for its registrations
