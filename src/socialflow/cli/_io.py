"""Reading and writing for the commands: files, JSON, rule bundles, diagnostics.

The CLI is the only part of socialflow that reads files, standard input or the
environment: it turns them into plain values, calls the pure library, and
turns the result (or the error) back into text and an exit status.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO, Final, NoReturn, TextIO

import socialflow as sf
from socialflow import serde
from socialflow.bundle import Bundle, loads_many, read_sources
from socialflow.cli.registry import EXIT_USAGE, CommandFailed
from socialflow.errors import Diagnostic, Severity

__all__ = [
    "Line",
    "LineWriter",
    "as_line",
    "check_readable",
    "check_writable",
    "count",
    "json_line",
    "json_lines",
    "load_activation",
    "load_bundle",
    "parse_json",
    "print_err",
    "read_text",
    "render_all",
    "render_eval_error",
    "write_json",
]

_IDENTIFIER: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
#: A lone surrogate: a str may hold one, UTF-8 cannot.
_SURROGATE: Final = re.compile("[\ud800-\udfff]")
#: Bytes buffered when reading input and writing decisions (a fixed amount:
#: memory does not grow with the file).
_BUFFER: Final = 1 << 20


def print_err(message: str) -> None:
    sys.stderr.write(message.rstrip("\n") + "\n")


def read_text(path: str, what: str) -> str:
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
    out = dict(pairs)
    if len(out) != len(pairs):  # rare: find which key, in order
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return out


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"`{name}` is not valid JSON")


#: One decoder for every line (its settings never change; building one per
#: line cost as much as decoding a short line).
_DECODER: Final = json.JSONDecoder(
    object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant
)


def parse_json(text: str, where: str) -> Any:
    """Decode ``text`` as strict JSON; ``where`` names it in error messages.

    Duplicate object keys and ``NaN``/``Infinity`` are rejected rather than
    silently resolved (the last duplicate would otherwise win unseen).
    """
    try:
        return _DECODER.decode(text)
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


def load_activation(data: str | None, variables: Sequence[str]) -> dict[str, Any]:
    activation: dict[str, Any] = {}
    if data is not None:
        where = "standard input" if data == "-" else data
        value = parse_json(read_text(data, "data file"), where)
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


def write_json(value: Any, out: TextIO, indent: int | None) -> None:
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


def load_bundle(paths: list[str], strict: bool = False, layer: str | None = None) -> Bundle:
    """The bundle of ``paths`` (or of its layer ``layer``), every failure a
    :class:`CommandFailed` with the rendered diagnostics."""
    try:
        sources = read_sources(paths)
    except sf.UsageError as e:
        raise CommandFailed(f"error: {e}") from None
    except OSError as e:
        raise CommandFailed(f"error: cannot read rules: {e}") from None
    try:
        bundle = loads_many(sources, strict=strict)
    except sf.SourceError as e:
        raise CommandFailed(render_all(e.diagnostics), EXIT_USAGE) from None
    if layer is None:
        return bundle
    try:
        return bundle.layer(layer)
    except sf.UsageError as e:
        raise CommandFailed(f"error: {e}", EXIT_USAGE) from None


def add_layer_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--layer",
        metavar="NAME",
        help="use the layer NAME (a file `ruleset NAME extends ...` among the rules) "
        "instead of the base ruleset",
    )


def render_all(diagnostics: tuple[Diagnostic, ...]) -> str:
    errors = sum(d.severity is Severity.ERROR for d in diagnostics)
    warnings = len(diagnostics) - errors
    body = "\n\n".join(d.render() for d in diagnostics)
    return f"{body}\n\n{count(errors, 'error')}, {count(warnings, 'warning')}"


def count(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


# -- JSON lines ----------------------------------------------------------------------------


class Line:
    """One input line: its 1-based number, the byte offset where it starts, and its
    text, or, when the bytes are not UTF-8, ``error`` saying where."""

    __slots__ = ("error", "number", "offset", "text")

    def __init__(self, number: int, offset: int, text: str | None, error: str | None) -> None:
        self.number = number
        self.offset = offset
        self.text = text
        self.error = error


def json_lines(path: str) -> Iterator[Line]:
    """The lines of ``path`` (``-``: standard input), split on ``\\n`` only (a bare
    ``\\r`` is JSON whitespace, not a line break), each decoded on its own so one
    bad byte costs one line.

    Raises:
        CommandFailed: the file cannot be opened (before any line is read).
    """
    if path == "-":
        yield from _split(sys.stdin.buffer)
        return
    check_readable(path, "input")
    try:
        handle = Path(path).open("rb", buffering=_BUFFER)  # noqa: SIM115 - closed below
    except OSError as e:
        raise CommandFailed(f"error: cannot read input `{path}`: {e.strerror}") from None
    with handle:
        yield from _split(handle)


def _split(handle: BinaryIO) -> Iterator[Line]:
    offset = 0
    for number, raw in enumerate(handle, 1):
        body = raw[:-1] if raw.endswith(b"\n") else raw
        try:
            yield Line(number, offset, body.decode("utf-8"), None)
        except UnicodeDecodeError as e:
            yield Line(
                number,
                offset,
                None,
                f"not UTF-8 text: byte {offset + e.start + 1} of the file "
                f"(byte {e.start + 1} of the line) is {body[e.start : e.start + 1]!r}",
            )
        offset += len(raw)


def check_readable(path: str, what: str) -> None:
    """A clear failure, before anything is read, for a path that is not a readable file."""
    p = Path(path)
    if not p.exists():
        raise CommandFailed(f"error: {what} `{path}` does not exist")
    if p.is_dir():
        raise CommandFailed(f"error: {what} `{path}` is a directory, not a file")


def check_writable(path: str, what: str) -> None:
    """A clear failure, before any input is read, for a path that cannot be written."""
    p = Path(path)
    if p.is_dir():
        raise CommandFailed(f"error: {what} `{path}` is a directory, not a file")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise CommandFailed(f"error: cannot write {what} `{path}`: `{parent}` is not a folder")
    if not os.access(parent, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise CommandFailed(f"error: cannot write {what} `{path}`: permission denied")


def json_line(data: Any) -> str:
    """``data`` as one line of JSON: keys sorted, UTF-8 as is (see :func:`as_line`)."""
    return as_line(serde.json_text(data))


def as_line(text: str) -> str:
    """JSON ``text`` as one output line: a lone surrogate (which UTF-8 cannot
    hold) written as its ``\\uXXXX`` escape, so the line is always valid JSON
    and always encodable."""
    if not text.isascii() and _SURROGATE.search(text) is not None:  # isascii: O(1)
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text + "\n"


class LineWriter:
    """JSON lines to a file (opened when the first line comes, after the path was
    checked up front) or to standard output; ``flush`` writes through at once, so
    an interrupt keeps every line written so far."""

    def __init__(self, path: str | None, what: str, *, flush: bool = False) -> None:
        self.path = path
        self.what = what
        self.flush = flush
        self.count = 0
        self._handle: TextIO | None = None
        if path is not None:
            check_writable(path, what)

    def write(self, data: Any) -> None:
        """Write ``data`` as one JSON line (:func:`json_line`)."""
        self.write_text(json_line(data))

    def write_text(self, text: str) -> None:
        """Write ``text``, one complete JSON line ending in a newline."""
        handle = self._handle
        if handle is None:
            handle = self._handle = self._open()
        try:
            handle.write(text)
            if self.flush:
                handle.flush()
        except OSError as e:
            raise CommandFailed(f"error: cannot write {self.what}: {e.strerror}") from None
        self.count += 1

    def _open(self) -> TextIO:
        if self.path is None:
            return sys.stdout
        try:
            # a large buffer: one write call per few hundred decisions
            return Path(self.path).open("w", encoding="utf-8", buffering=_BUFFER)
        except OSError as e:
            raise CommandFailed(
                f"error: cannot write {self.what} `{self.path}`: {e.strerror}"
            ) from None

    def close(self) -> None:
        handle = self._handle
        if handle is None:
            return
        try:
            if handle is sys.stdout:
                handle.flush()
            else:
                handle.close()
        except OSError as e:
            raise CommandFailed(f"error: cannot write {self.what}: {e.strerror}") from None
