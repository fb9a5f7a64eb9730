"""The sub-command registry and the exit statuses every command shares.

* ``0`` -- success;
* ``1`` -- the input was read and understood, but evaluating it failed (a CEL
  ``EvalError``), a test failed, or lines were rejected;
* ``2`` -- the command could not start: bad arguments, an unreadable or
  malformed input file, or source text that does not parse or check.

A sub-command is a :class:`Command`: a name, a one-line help text, a function
that adds its arguments to an ``argparse`` sub-parser and a function that runs
it.  Each lives in its own module of this package and is listed in
:data:`COMMANDS` by :mod:`socialflow.cli`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Final

import attrs

__all__ = [
    "COMMANDS",
    "EXIT_EVAL_ERROR",
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_USAGE",
    "Command",
    "CommandFailed",
    "register",
]

EXIT_OK: Final = 0
EXIT_EVAL_ERROR: Final = 1
#: Exit status of `test` with failing tests and of `triage` with rejected lines.
EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 2


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
