"""The ``socialflow`` command: ``check``, ``test``, ``triage``, ``explain``, ``eval``.

One module per sub-command; :mod:`socialflow.cli.registry` holds the
:class:`~socialflow.cli.registry.Command` record and the exit statuses,
:mod:`socialflow.cli._io` the reading and writing they share.  :func:`main`
returns the exit status instead of calling ``sys.exit``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from typing import NoReturn

import socialflow as sf
from socialflow.cli import check, explain, graph, step, test, triage
from socialflow.cli import eval as eval_command
from socialflow.cli._io import print_err
from socialflow.cli.registry import (
    COMMANDS,
    EXIT_OK,
    EXIT_USAGE,
    Command,
    CommandFailed,
    register,
)

__all__ = ["COMMANDS", "Command", "CommandFailed", "build_parser", "main", "register"]

for _module in (eval_command, check, test, triage, explain, step, graph):
    register(_module.COMMAND)


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
        print_err(e.message)
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
