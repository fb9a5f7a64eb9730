"""The exception tree and diagnostics.

Every exception socialflow raises derives from :class:`SocialflowError`.  The
subclasses are chosen by who must fix the problem: the rule author
(:class:`SourceError`), the data at evaluation time (:class:`EvalError`), the
host's input (:class:`InputError`) or the embedding code (:class:`UsageError`).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any

import attrs

from socialflow.source import Span

__all__ = [
    "CheckError",
    "Diagnostic",
    "EvalError",
    "InputError",
    "LimitExceededError",
    "ParseError",
    "SerializationError",
    "Severity",
    "SocialflowError",
    "SourceError",
    "SourceLimitError",
    "UsageError",
]

#: How many diagnostics ``str(SourceError)`` shows before "... and N more".
MAX_SHOWN = 20


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"


@attrs.frozen
class Diagnostic:
    """One finding about source text: an error or a warning, with where and why."""

    severity: Severity
    code: str
    message: str
    span: Span | None = None
    help: str | None = None
    notes: tuple[str, ...] = ()

    def render(self) -> str:
        """Render as ``file:line:col: error[code]: message`` plus snippet and help."""
        head = f"{self.severity.value}[{self.code}]: {self.message}"
        parts = [f"{self.span.location()}: {head}" if self.span else head]
        if self.span is not None:
            parts.append(self.span.snippet())
        parts.extend(f"   = note: {n}" for n in self.notes)
        if self.help:
            parts.append(f"   = help: {self.help}")
        return "\n".join(parts)


class SocialflowError(Exception):
    """Base class of every exception socialflow raises."""


class SourceError(SocialflowError):
    """Rule or expression text is wrong; holds every error diagnostic found."""

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        self.diagnostics: tuple[Diagnostic, ...] = tuple(diagnostics)
        # Exception.__init__ directly: SourceLimitError also inherits EvalError's __init__
        Exception.__init__(self, self.diagnostics)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.diagnostics,))

    def __str__(self) -> str:
        shown = [d.render() for d in self.diagnostics[:MAX_SHOWN]]
        rest = len(self.diagnostics) - MAX_SHOWN
        if rest > 0:
            shown.append(f"... and {rest} more")
        return "\n".join(shown)


class ParseError(SourceError):
    """The text does not parse."""


class CheckError(SourceError):
    """The text parses but names or types are wrong."""


class EvalError(SocialflowError):
    """A CEL expression failed at evaluation time.

    ``kind`` is a machine-readable snake_case code such as
    ``no_matching_overload``, ``division_by_zero``, ``overflow``, ``no_such_key``,
    ``no_such_field``, ``undeclared_reference``, ``invalid_argument``, ``range``.
    """

    def __init__(self, kind: str, message: str, span: Span | None = None) -> None:
        self.kind = kind
        self.message = message
        self.span = span
        super().__init__(kind, message, span)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.kind, self.message, self.span))

    def __str__(self) -> str:
        where = f"{self.span.location()}: " if self.span is not None else ""
        return f"{where}{self.kind}: {self.message}"

    def with_span(self, span: Span | None) -> EvalError:
        """This error, located at ``span`` if it has no location yet."""
        if self.span is not None or span is None:
            return self
        return type(self)(self.kind, self.message, span)


class LimitExceededError(EvalError):
    """A cost, size or depth budget was exceeded."""

    def __init__(self, kind: str, message: str, span: Span | None = None) -> None:
        super().__init__(kind, message, span)


class InputError(SocialflowError, ValueError):
    """Host data is wrong.  ``path`` names the field (``$.msg.author.followers``);
    ``line`` is the 1-based line for JSON-lines input."""

    def __init__(self, message: str, path: str | None = None, line: int | None = None) -> None:
        self.message = message
        self.path = path
        self.line = line
        super().__init__(message, path, line)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.message, self.path, self.line))

    def __str__(self) -> str:
        where = []
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.path is not None:
            where.append(f"`{self.path}`")
        return f"{', '.join(where)}: {self.message}" if where else self.message


class UsageError(SocialflowError, TypeError):
    """The embedding code called the API wrongly."""


class SerializationError(SocialflowError, ValueError):
    """A value has no JSON form: a NaN or infinite double, map keys that collide as
    JSON object keys (``1`` and ``"1"``), or a host object JSON cannot represent.

    Raised by :mod:`socialflow.serde`; the message names the value.
    """


class SourceLimitError(ParseError, LimitExceededError):
    """Source text exceeds a compile-time bound (length, nesting depth).

    It is both a :class:`ParseError` (the author must shorten the text) and a
    :class:`LimitExceededError` (so one ``except`` catches every bound).
    """

    def __init__(self, kind: str, message: str, span: Span | None = None) -> None:
        ParseError.__init__(self, [Diagnostic(Severity.ERROR, kind, message, span)])
        self.kind = kind
        self.message = message
        self.span = span

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.kind, self.message, self.span))

    def __str__(self) -> str:
        return SourceError.__str__(self)
