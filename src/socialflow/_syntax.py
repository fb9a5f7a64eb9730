"""Lark grammars and syntax-error rendering, shared by the CEL and DSL parsers.

The grammars ship inside the wheel as ``socialflow/grammars/*.lark``; in a
source checkout (editable install) they are read from the top-level
``grammars/`` folder.  Parsers are built once per process and never exported.

:func:`syntax_diagnostic` turns lark's ``UnexpectedInput`` into a
:class:`~socialflow.errors.Diagnostic` with the expected tokens sorted.  This
module knows no language's terminals: the caller passes a function naming
them for humans (``"IDENT"`` -> ``"identifier"``); terminals it does not name
are shown by their literal text (```(```) or, failing that, in lower case.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from lark import Lark, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from socialflow.errors import Diagnostic, Severity
from socialflow.source import Source, Span

__all__ = ["TerminalNames", "grammar_text", "lalr_parser", "syntax_diagnostic"]

#: Terminal name (as lark reports it) -> its name for humans, or ``None`` for
#: the default (the terminal's literal text, else its name in lower case).
TerminalNames = Callable[[str], str | None]


def grammar_text(name: str) -> str:
    """The text of ``grammars/<name>``, from the installed package or the checkout."""
    packaged = resources.files("socialflow") / "grammars" / name
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    checkout = Path(__file__).resolve().parents[2] / "grammars" / name
    return checkout.read_text(encoding="utf-8")


def _import_loader(base_path: object, grammar_path: str) -> tuple[str, str]:
    """Resolve ``%import .cel (...)`` inside our grammars, from the package or checkout."""
    name = grammar_path.replace("\\", "/").rsplit("/", 1)[-1]
    try:
        return f"socialflow/grammars/{name}", grammar_text(name)
    except OSError:
        raise OSError(grammar_path) from None


@functools.cache
def lalr_parser(name: str, start: str = "start") -> Lark:
    """A position-propagating LALR parser for ``grammars/<name>`` (built once)."""
    return Lark(
        grammar_text(name),
        parser="lalr",
        lexer="contextual",
        start=start,
        propagate_positions=True,
        maybe_placeholders=True,
        import_paths=[_import_loader],
    )


def syntax_diagnostic(
    source: Source,
    offset: int,
    text: str,
    e: UnexpectedInput,
    grammar: str,
    terminal_names: TerminalNames,
) -> Diagnostic:
    """A syntax-error diagnostic for lark's ``e``, with the expected tokens sorted.

    ``text`` is what was parsed with ``grammars/<grammar>``, found at ``offset``
    in ``source``; ``terminal_names`` names the grammar's terminals for humans.
    """
    stream_pos: int | None = e.pos_in_stream
    pos = offset + (stream_pos if stream_pos is not None else len(text))
    expected: set[str] = set()
    if isinstance(e, UnexpectedToken):
        token = e.token
        expected = set(e.accepts or e.expected)
        if token.type == "$END":
            pos = offset + len(text)
            what = "unexpected end of input"
            width = 1
        else:
            what = f"unexpected {_describe_token(token)}"
            if str(token) == "=":
                what += "; equality is written `==`"
            width = max(1, len(str(token)))
    elif isinstance(e, UnexpectedCharacters):
        expected = set(e.allowed or ())
        at = stream_pos or 0
        ch = text[at] if at < len(text) else ""
        what = _describe_bad_char(text, at, ch)
        width = 1
    elif isinstance(e, UnexpectedEOF):
        expected = set(e.expected)
        pos = offset + len(text)
        what = "unexpected end of input"
        width = 1
    else:  # pragma: no cover - lark has no other UnexpectedInput subclasses
        what = "syntax error"
        width = 1
    names = sorted({_terminal_name(t, grammar, terminal_names) for t in expected})
    help_text = f"expected one of: {', '.join(names)}" if names else None
    return Diagnostic(
        Severity.ERROR, "syntax_error", what, Span(source, pos, pos + width), help=help_text
    )


def _describe_bad_char(text: str, pos: int, ch: str) -> str:
    if ch in "'\"":
        return "unterminated string literal"
    if ch == "=" and text[pos : pos + 2] != "==":
        return "unexpected `=`; equality is written `==`"
    if ch == "&" or ch == "|":
        return f"unexpected `{ch}`; CEL's logical operators are `&&` and `||`"
    return f"unexpected character `{ch}`"


def _describe_token(token: Token) -> str:
    # An imported grammar's terminals are namespaced by lark (``cel__IDENT``).
    if token.type.rpartition("__")[2] == "IDENT":
        return f"identifier `{token}`"
    return f"`{token}`"


def _terminal_name(name: str, grammar: str, terminal_names: TerminalNames) -> str:
    human = terminal_names(name)
    if human is not None:
        return human
    pattern = _literal_terminals(grammar).get(name)
    if pattern is not None:
        return f"`{pattern}`"
    return name.lower()


@functools.cache
def _literal_terminals(grammar: str) -> dict[str, str]:
    """Terminal name -> literal text, for the terminals that are plain strings."""
    return {
        t.name: t.pattern.value for t in lalr_parser(grammar).terminals if t.pattern.type == "str"
    }
