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
from typing import Any

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from lark.lexer import ContextualLexer
from lark.parsers.lalr_analysis import Shift
from lark.parsers.lalr_interactive_parser import InteractiveParser
from lark.parsers.lalr_parser import LALR_Parser, _Parser

from socialflow.errors import Diagnostic, Severity
from socialflow.source import Source, Span

__all__ = [
    "TerminalNames",
    "grammar_text",
    "lalr_parser",
    "parser_stack",
    "reference_parser",
    "syntax_diagnostic",
]

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
    """A position-propagating LALR parser for ``grammars/<name>`` (built once).

    Positions are set by :func:`_with_positions` rather than lark's own
    ``propagate_positions``, which costs about 45 % of a parse; the positions
    are the same (``tests/test_syntax_positions.py`` compares them).
    """
    parser = Lark(
        grammar_text(name),
        parser="lalr",
        lexer="contextual",
        start=start,
        propagate_positions=False,
        maybe_placeholders=True,
        import_paths=[_import_loader],
        _plugins={"ContextualLexer": _LeanContextualLexer, "LALR_Parser": _LeanLALRParser},
    )
    callbacks = getattr(parser, "_callbacks", None)
    if not isinstance(callbacks, dict):  # a lark without the hook: its own, slower way
        return reference_parser(name, start)
    for rule, callback in list(callbacks.items()):
        options = getattr(rule, "options", None)
        if len(rule.expansion) == 1 and getattr(options, "expand1", False) and rule.alias is None:
            continue  # `?rule: x`: hands its only child on unchanged, positions and all
        callbacks[rule] = _with_positions(callback)
    return parser


@functools.cache
def reference_parser(name: str, start: str = "start") -> Lark:
    """The same parser with lark's own ``propagate_positions`` (for tests)."""
    return Lark(
        grammar_text(name),
        parser="lalr",
        lexer="contextual",
        start=start,
        propagate_positions=True,
        maybe_placeholders=True,
        import_paths=[_import_loader],
    )


class _LeanContextualLexer(ContextualLexer):
    """lark's contextual lexer in one tight loop: the same terminal at each
    position (each parser state's own scanner, its own keyword callbacks), but
    tokens carry only their offsets (``start_pos``/``end_pos``; no line or
    column, which nothing here reads), made without lark's per-token
    bookkeeping.  Where no terminal of the state matches, lark's own loop
    takes over from that position and raises its usual error (as it does
    when a lark version's lexer lacks the internals read here).  Parsing
    10,000 rules: about a quarter faster."""

    def lex(self, lexer_state: Any, parser_state: Any) -> Any:
        text_slice = lexer_state.text
        text, end = text_slice.text, text_slice.end
        line_ctr = lexer_state.line_ctr
        pos = line_ctr.char_pos
        lexers: dict[int, Any] = self.lexers  # lark's BasicLexer, typed as its base
        plans: dict[int, tuple[Any, dict[str, Any], frozenset[str]]] = {}
        new = str.__new__
        while pos < end:
            lexer = lexers[parser_state.position]
            plan = plans.get(id(lexer))
            if plan is None:
                try:
                    plan = plans[id(lexer)] = (
                        lexer.scanner._mres,
                        lexer.callback,
                        lexer.ignore_types,
                    )
                except AttributeError:  # a lark whose lexer differs inside: its own loop
                    _sync(line_ctr, text, pos)
                    yield from ContextualLexer.lex(self, lexer_state, parser_state)
                    return
            mres, callback, ignore = plan
            for mre in mres:
                m = mre.match(text, pos, end)
                if m is not None:
                    break
            else:  # no terminal of this state here: lark's own loop reports it
                _sync(line_ctr, text, pos)
                yield from ContextualLexer.lex(self, lexer_state, parser_state)
                return
            value = m.group(0)
            kind = m.lastgroup
            after = pos + len(value)
            if kind in ignore:
                pos = after
                continue
            token = new(Token, value)
            token.type = kind
            token.value = value
            token.start_pos = pos
            token.end_pos = after
            token.line = token.column = token.end_line = token.end_column = None
            check = callback.get(kind)
            if check is not None:  # a keyword matched as an identifier, and the like
                token = check(token)
            lexer_state.last_token = token
            pos = after
            yield token
        _sync(line_ctr, text, pos)


class _LeanLALRParser(LALR_Parser):
    """lark's LALR parser with :class:`_LeanLoop` as its main loop."""

    def __init__(self, parser_conf: Any, debug: bool = False, strict: bool = False) -> None:
        super().__init__(parser_conf, debug=debug, strict=strict)
        self.parser = _LeanLoop(self._parse_table, parser_conf.callbacks, debug)


class _LeanLoop(_Parser):
    """lark's LALR loop with each token's shifts and reductions inline: what a
    rule reduces to (its length, its callback, the symbol it makes) is looked
    up once per rule, not per reduction.  The same actions in the same order
    as lark's ``ParserState.feed_token``; a token with no action goes through
    lark's own ``feed_token``, which raises lark's usual error."""

    def __init__(self, parse_table: Any, callbacks: Any, debug: bool = False) -> None:
        super().__init__(parse_table, callbacks, debug)
        self._kept: tuple[Any, dict[int, tuple[int, Any, str]]] | None = None

    def _plan(self, states: Any, callbacks: Any) -> dict[int, tuple[int, Any, str]]:
        """Per rule (by identity): its length, its callback and the name of the
        symbol it makes; made at the first parse (after :func:`lalr_parser`
        wrapped the callbacks, which never change after), then kept."""
        kept = self._kept
        if kept is not None and kept[0] is callbacks:
            return kept[1]
        plan = {
            id(arg): (len(arg.expansion), callbacks[arg], arg.origin.name)
            for actions in states.values()
            for action, arg in actions.values()
            if action is not Shift
        }
        self._kept = (callbacks, plan)
        return plan

    def parse_from_state(self, state: Any, last_token: Any = None) -> Any:
        if not isinstance(state.lexer.lexer, _LeanContextualLexer) or self.debug:
            return super().parse_from_state(state, last_token)
        conf = state.parse_conf
        states, callbacks = conf.states, conf.callbacks
        reductions = self._plan(states, callbacks)
        state_stack, value_stack = state.state_stack, state.value_stack
        token = last_token
        try:
            for token in state.lexer.lex(state):
                kind = token.type
                while True:
                    actions = states[state_stack[-1]]
                    if kind not in actions:
                        state.feed_token(token)  # raises UnexpectedToken, as lark does
                    action, arg = actions[kind]
                    if action is Shift:
                        state_stack.append(arg)
                        build = callbacks.get(kind)
                        value_stack.append(token if build is None else build(token))
                        break
                    size, build, origin = reductions[id(arg)]
                    if size:
                        children = value_stack[-size:]
                        del state_stack[-size:]
                        del value_stack[-size:]
                    else:
                        children = []
                    state_stack.append(states[state_stack[-1]][origin][1])
                    value_stack.append(build(children))
            end = Token.new_borrow_pos("$END", "", token) if token else Token("$END", "", 0, 1, 1)
            return state.feed_token(end, True)
        except UnexpectedInput as e:
            e.interactive_parser = InteractiveParser(self, state, state.lexer)
            raise


def parser_stack(e: UnexpectedInput) -> list[Any]:
    """The parser's value stack when ``e`` was raised: the trees reduced so far
    and the tokens shifted since (empty when lark kept no state)."""
    interactive = getattr(e, "interactive_parser", None)
    state = getattr(interactive, "parser_state", None)
    stack = getattr(state, "value_stack", None)
    return list(stack) if stack is not None else []


def _sync(line_ctr: Any, text: str, pos: int) -> None:
    """Set lark's line counter to offset ``pos`` of ``text``."""
    line_ctr.char_pos = pos
    line_ctr.line = text.count("\n", 0, pos) + 1
    line_ctr.line_start_pos = text.rfind("\n", 0, pos) + 1
    line_ctr.column = pos - line_ctr.line_start_pos + 1


def _with_positions(build: Callable[[list[Any]], Any]) -> Callable[[list[Any]], Any]:
    """``build`` (a tree-building callback) that also sets the new tree's
    ``meta.start_pos``/``end_pos``, as lark's ``propagate_positions`` does: a
    node spans from the start of its first child's *container* to the end of
    its last's, where the container of an inlined node (``"(" expr ")"``) also
    covers the tokens dropped around it.  Only offsets are kept (the callers
    need no lines or columns)."""

    def build_with_positions(children: list[Any]) -> Any:
        tree = build(children)
        if type(tree) is not Tree:
            return tree
        meta = tree.meta
        start = end = None
        for child in children:
            kind = type(child)
            if kind is Token:
                start = child.start_pos
                break
            if kind is Tree:
                m = child._meta
                if m is not None and not m.empty:
                    start = m.container_start_pos
                    break
        for child in reversed(children):
            kind = type(child)
            if kind is Token:
                end = child.end_pos
                break
            if kind is Tree:
                m = child._meta
                if m is not None and not m.empty:
                    end = m.container_end_pos
                    break
        fresh = meta.empty
        if start is not None:
            if fresh:
                meta.start_pos = start
            meta.container_start_pos = start  # type: ignore[attr-defined]
        if end is not None:
            if fresh:
                meta.end_pos = end
            meta.container_end_pos = end  # type: ignore[attr-defined]
        if start is not None or end is not None:
            meta.empty = False
        return tree

    return build_with_positions


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
