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
import re
from collections.abc import Callable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, Final

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from lark.lexer import ContextualLexer
from lark.parsers.lalr_analysis import Shift
from lark.parsers.lalr_interactive_parser import InteractiveParser
from lark.parsers.lalr_parser import LALR_Parser, _Parser

from socialflow._suggest import did_you_mean
from socialflow.errors import Diagnostic, Severity
from socialflow.source import Source, Span

__all__ = [
    "MAX_EXPECTED",
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


#: The longest "expected one of" list shown; longer ones are cut, and say so.
MAX_EXPECTED: Final = 8
_CLOSERS: Final = {"(": ")", "[": "]", "{": "}"}
_QUOTES: Final = "'\""
#: What code holds besides brackets: string literals (a one-line one may be
#: unclosed: it ends at the line's end) and comments, skipped whole.
_SKIPPED: Final = re.compile(
    r'"""(?:\\.|[^\\])*?(?:"""|\Z)|\'\'\'(?:\\.|[^\\])*?(?:\'\'\'|\Z)'
    r'|"(?:\\.|[^"\\\n])*"?|\'(?:\\.|[^\'\\\n])*\'?|//[^\n]*|#[^\n]*',
    re.DOTALL,
)
#: A skipped piece, or a bracket.
_SKIPPED_OR_BRACKET: Final = re.compile(_SKIPPED.pattern + r"|[()\[\]{}]", re.DOTALL)
#: How far after an error the closer of a bracket is looked for (a bound, so
#: that a file of many errors costs time in proportion to its length).
CLOSER_REACH: Final = 64 * 1024


def code_at(text: str, start: int, end: int) -> bool:
    """Is offset ``end`` in code (not inside a string literal or a comment), when
    ``start`` is?  Scans ``text`` from ``start`` once."""
    for m in _SKIPPED.finditer(text, start):
        if m.start() >= end:
            return True
        if m.end() > end:
            return False
    return True


def _closed_later(text: str, after: int, opener: str) -> bool:
    """Is the bracket ``opener``, open at ``after``, closed further on (within
    :data:`CLOSER_REACH`; strings and comments skipped)?"""
    closer = _CLOSERS[opener]
    depth = 1
    for m in _SKIPPED_OR_BRACKET.finditer(text, after, min(len(text), after + CLOSER_REACH)):
        char = m.group()
        if char == opener:
            depth += 1
        elif char == closer:
            depth -= 1
            if depth == 0:
                return True
    return False


def syntax_diagnostic(
    source: Source,
    offset: int,
    text: str,
    e: UnexpectedInput,
    grammar: str,
    terminal_names: TerminalNames,
    *,
    groups: Sequence[tuple[str, frozenset[str], int]] = (),
    word_hints: Mapping[str, tuple[str, str]] | None = None,
    tuple_hint: bool = False,
) -> Diagnostic:
    """A syntax-error diagnostic for lark's ``e``.

    ``text`` is what was parsed with ``grammars/<grammar>``, found at ``offset``
    in ``source``; ``terminal_names`` names the grammar's terminals for humans.
    What was expected is listed grouped: a label of ``groups`` stands for its
    members (human names) when at least its count of them is expected, and the list
    stops at :data:`MAX_EXPECTED` entries.  The message points at the opener
    of an unclosed bracket or string when that is what the error is, and the
    help suggests the keyword meant (did-you-mean among the expected ones),
    or what ``word_hints`` says of a word (``"and"`` -> message, help), or,
    with ``tuple_hint``, a list in brackets for a tuple in parentheses.
    """
    stream_pos: int | None = e.pos_in_stream
    pos = offset + (stream_pos if stream_pos is not None else len(text))
    stack = parser_stack(e)
    expected: set[str] = set()
    token: Token | None = None
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
        expected = _acceptable(e) or set(e.allowed or ())
        at = stream_pos or 0
        ch = text[at] if at < len(text) else ""
        if ch and ch in _QUOTES:
            return Diagnostic(
                Severity.ERROR,
                "syntax_error",
                f"unclosed `{ch}`: the string does not end on its line",
                Span(source, pos, pos + 1),
                help=f"close it with `{ch}`; a string of several lines is written"
                f" between `{ch * 3}`",
            )
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
    literals = _literal_terminals(grammar)
    found = f"{what.partition(';')[0]} at {Span(source, pos, pos).location()}"
    unclosed = _unclosed(stack, {literals.get(t) for t in expected}, token, text, offset)
    if unclosed is not None:
        opener = str(unclosed)
        start = offset + (unclosed.start_pos or 0)
        return Diagnostic(
            Severity.ERROR,
            "syntax_error",
            f"unclosed `{opener}`",
            Span(source, start, start + 1),
            help=f"close it with `{_CLOSERS[opener]}`",
            notes=(f"{found}, with this `{opener}` still open",),
        )
    if token is not None and token.type != "$END":
        string = _string_before(stack, token)
        if string is not None:
            start = offset + (string.start_pos or 0)
            return Diagnostic(
                Severity.ERROR,
                "syntax_error",
                "unclosed string? it runs on to the next quote",
                Span(source, start, start + 1),
                help="close the string where it should end",
                notes=(f"{found}, just after the string",),
            )
    keyword = _keyword_read_as_name(stack, token, expected)
    if keyword is not None:
        start = offset + (keyword.start_pos or 0)
        return Diagnostic(
            Severity.ERROR,
            "syntax_error",
            f"an expression is missing before `{keyword}`",
            Span(source, start, start + len(str(keyword))),
            help=f"complete the expression: `{keyword}` was read as a name",
            notes=(f"{found}",),
        )
    names = {_terminal_name(t, grammar, terminal_names) for t in expected}
    hint: str | None = None
    span = Span(source, pos, pos + width)
    hinted = _word_hint(stack, token, word_hints or {})
    if hinted is not None:
        word, (what, hint) = hinted
        start = offset + (word.start_pos or 0)
        span = Span(source, start, start + len(str(word)))
    elif tuple_hint and token is not None and str(token) == ",":
        hint = _list_hint(stack, text)
    elif token is not None and token.type.rpartition("__")[2] == "IDENT":
        words = [n[1:-1] for n in names if n[:1] == "`" and n[1:-1].isidentifier()]
        hint = did_you_mean(str(token), words)
    shown = _grouped(names, groups)
    listed = f"expected one of: {', '.join(shown)}" if len(shown) > 1 else None
    if len(shown) == 1:
        listed = f"expected {shown[0]}"
    if hint is None:
        return Diagnostic(Severity.ERROR, "syntax_error", what, span, help=listed)
    return Diagnostic(
        Severity.ERROR, "syntax_error", what, span, help=hint, notes=(listed,) if listed else ()
    )


def _acceptable(e: UnexpectedInput) -> set[str]:
    """The terminals the parser would take where ``e`` was raised."""
    interactive = getattr(e, "interactive_parser", None)
    if interactive is None:
        return set()
    try:
        return set(interactive.accepts())
    except Exception:  # a lark whose internals differ: lark's own list
        return set()


def _grouped(names: set[str], groups: Sequence[tuple[str, frozenset[str], int]]) -> list[str]:
    """``names`` sorted, with each group shown as its label (first) where at
    least its count of members is present, cut to :data:`MAX_EXPECTED` entries."""
    labels: list[str] = []
    rest = set(names)
    for label, members, least in groups:
        present = rest & members
        if len(present) >= least:
            labels.append(label)
            rest -= present
    shown = labels + sorted(rest)
    if len(shown) > MAX_EXPECTED:
        cut = len(shown) - MAX_EXPECTED + 1
        shown = [*shown[: MAX_EXPECTED - 1], f"{cut} more"]
    return shown


def _unclosed(
    stack: list[Any], closers: set[str | None], token: Token | None, text: str, offset: int
) -> Token | None:
    """The innermost bracket still open on the parser's ``stack``, when the
    error is that it was not closed: its closer could come here, and what came
    instead is the end, a line further down, another closer or a keyword."""
    pending = 0
    opener: Token | None = None
    for item in reversed(stack):
        if type(item) is not Token:
            continue
        value = str(item)
        if value in _CLOSERS.values() and item.type.rpartition("__")[2] != "STRING":
            pending += 1
        elif value in _CLOSERS and item.type.rpartition("__")[2] != "STRING":
            if pending == 0:
                opener = item
                break
            pending -= 1
    if opener is None or _CLOSERS[str(opener)] not in closers:
        return None
    if token is None:
        return None
    if token.type == "$END":
        return opener
    here = token.start_pos or 0
    if str(token) in _CLOSERS.values():
        # another closer: a stray one when this bracket is closed after it
        return None if _closed_later(text, here + 1, str(opener)) else opener
    line_start = text.rfind("\n", 0, here) + 1
    if line_start <= (opener.start_pos or 0) or text[line_start:here].strip():
        return None  # the same line as the opener, or not the first word of its line
    if _closed_later(text, here, str(opener)):
        return None  # closed further on: the mistake is here, not a missing closer
    return opener


def _string_before(stack: list[Any], token: Token) -> Token | None:
    """The string ``token`` follows without a space, when that string probably
    swallowed the code up to the next quote (``"a && b == "c"``): it holds a
    space and the token is a word or a quote-opened value."""
    if not stack or type(stack[-1]) is not Token:
        return None
    last: Token = stack[-1]
    if last.type.rpartition("__")[2] != "STRING" or last.end_pos != token.start_pos:
        return None
    body = str(last)
    if " " not in body or body[:1] not in _QUOTES or body[:3] in ('"""', "'''"):
        return None
    return last


def _keyword_read_as_name(
    stack: list[Any], token: Token | None, expected: set[str]
) -> Token | None:
    """The keyword an expression swallowed as a name (``a && then route``: the
    error is at ``route``): the word before the error is a keyword that could
    have come there."""
    if token is None or not stack:
        return None
    last = stack[-1]
    while type(last) is Tree:  # the expression reduced: its last word
        kids = [k for k in last.children if k is not None]
        if not kids:
            return None
        last = kids[-1]
    if type(last) is not Token or last.type.rpartition("__")[2] != "IDENT":
        return None
    if f"_K_{str(last).upper()}" not in expected:
        return None
    return last


def _word_hint(
    stack: list[Any], token: Token | None, hints: Mapping[str, tuple[str, str]]
) -> tuple[Token, tuple[str, str]] | None:
    """The word of ``hints`` that is the unexpected token, or the identifier
    just before it (``not x``: the error is at ``x``)."""
    if not hints or token is None:
        return None
    for word in (token, stack[-1] if stack else None):
        if type(word) is Token and word.type.rpartition("__")[2] == "IDENT" and str(word) in hints:
            return word, hints[str(word)]
    return None


def _list_hint(stack: list[Any], text: str) -> str | None:
    """For a `,` inside parentheses that are not a call: the list it meant."""
    for i in range(len(stack) - 1, -1, -1):
        item = stack[i]
        if type(item) is Token and str(item) in _CLOSERS:
            if str(item) != "(":
                return None
            before = stack[i - 1] if i > 0 else None
            if type(before) is Token and before.type.rpartition("__")[2] == "IDENT":
                return None  # a call's arguments
            start = item.start_pos or 0
            end = _matching(text, start)
            if end is None:
                return "a list is written in brackets: `[a, b]`"
            return f"a list is written in brackets: `[{text[start + 1 : end]}]`"
    return None


def _matching(text: str, start: int) -> int | None:
    """The offset of the `)` closing the `(` at ``start`` on its line, if any."""
    depth = 0
    quote = ""
    for i in range(start, len(text)):
        ch = text[i]
        if ch == "\n":
            return None
        if quote:
            if ch == quote:
                quote = ""
        elif ch in _QUOTES:
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i
    return None


def _describe_bad_char(text: str, pos: int, ch: str) -> str:
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
