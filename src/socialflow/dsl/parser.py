"""socialflow DSL text -> :mod:`socialflow.dsl.ast`.

Lark parses the whole file with ``grammars/socialflow.lark`` (which imports
CEL's grammar), so CEL sub-expressions keep their file positions and are
turned into CEL ASTs by :func:`socialflow.cel.parser.build_expr`.  Syntax
errors become :class:`~socialflow.errors.ParseError` with file:line:col, a
caret snippet and the tokens that were expected.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, Final

from lark import Token, Tree
from lark.exceptions import UnexpectedInput, UnexpectedToken
from lark.utils import TextSlice

from socialflow._syntax import code_at, lalr_parser, parser_stack
from socialflow.cel import ast as cel_ast
from socialflow.cel.limits import Limits
from socialflow.cel.parser import build_expr, decode_string, make_span
from socialflow.cel.values import INT_MAX, INT_MIN
from socialflow.dsl import ast
from socialflow.dsl._terminals import DECLARATION_KEYWORDS, syntax_diagnostic
from socialflow.errors import Diagnostic, ParseError, Severity, SourceLimitError
from socialflow.source import Source, Span

__all__ = [
    "MAX_DURATION",
    "MAX_TYPE_NESTING",
    "normalise_text",
    "parse_duration_literal",
    "parse_module",
    "parse_module_recovering",
]

_GRAMMAR: Final = "socialflow.lark"
#: The units of a duration literal, largest first: letter, seconds, name.  The
#: parser and the error message for a bad duration follow this one table (the
#: grammar's ``DURATION`` terminal lists the letters too).
DURATION_UNITS: Final = (
    ("d", 86400, "days"),
    ("h", 3600, "hours"),
    ("m", 60, "minutes"),
    ("s", 1, "seconds"),
)
_UNIT_SECONDS: Final = {unit: seconds for unit, seconds, _ in DURATION_UNITS}
#: Words written for a unit (`15min`, `2 hours`) and the letter meant: exact
#: words only, so `2ms` (milliseconds, which durations do not have) is not
#: read as minutes.
_UNIT_WORDS: Final = {
    word: unit
    for unit, _, name in DURATION_UNITS
    for word in (
        unit,
        name,
        name[:-1],
        *{"d": (), "h": ("hr", "hrs"), "m": ("min", "mins"), "s": ("sec", "secs")}[unit],
    )
}
_DURATION_PART: Final = re.compile(rf"([0-9]+)([{''.join(_UNIT_SECONDS)}])")
#: What was written where a duration was expected: a number, and a word after it.
_BAD_DURATION: Final = re.compile(
    r"(?P<number>[0-9][0-9.]*)(?:[ \t]*(?P<word>[A-Za-z_][A-Za-z0-9_]*))?"
)
_BUSINESS: Final = re.compile(r"([0-9]+)[ \t]+business[ \t]+(day|hour)s?")

#: The longest duration literal (``sla``, ``escalation``, workflow ``timeout``):
#: 100 years, written ``36500d``.  Longer ones are ``literal_out_of_range``.
MAX_DURATION: Final = timedelta(days=36_500)
_MAX_DURATION_SECONDS: Final = int(MAX_DURATION.total_seconds())
#: How deeply type arguments may nest in a field type (``list(map(string, list(int)))``
#: is 3 levels); deeper is ``nesting_too_deep``.
MAX_TYPE_NESTING: Final = 32
#: Characters of a literal shown in a message before it is cut short.
_SHOWN: Final = 24
#: Lone surrogates: what ``surrogateescape`` makes of bytes that are not UTF-8,
#: and what no UTF-8 file can hold.
_SURROGATE: Final = re.compile(r"[\ud800-\udfff]")


def parse_module(text: str, name: str = "<rules>", limits: Limits | None = None) -> ast.Module:
    """Parse one DSL file.

    The text is normalised first (:func:`normalise_text`), so positions count
    lines as an editor does whatever the line ends.

    Raises:
        ParseError: the text does not follow the grammar, is not valid Unicode
            (``invalid_encoding``), or holds a literal out of range
            (``literal_out_of_range``).
        SourceLimitError: a type or an expression nests too deeply.
    """
    source = _readable(text, name)
    text = source.text
    try:
        tree = lalr_parser(_GRAMMAR).parse(text)
    except UnexpectedInput as e:
        raise ParseError([_syntax_error(source, e)]) from None
    builder = _Builder(source, limits or Limits())
    return ast.Module(name, tuple(builder.decl(child) for child in _kids(tree)))


def parse_module_recovering(
    text: str, name: str = "<rules>", limits: Limits | None = None
) -> tuple[ast.Module, tuple[Diagnostic, ...]]:
    """Parse one DSL file, going on after syntax errors.

    A syntax error stops only the declaration it is in: parsing resumes at the
    next line that begins a declaration (:func:`_resync`), no further indented
    than the broken one.  The module holds every declaration that parsed, and
    in ``broken`` the names the skipped ones would have declared, so that the
    check reports nothing that only their absence causes.  A literal out of
    range drops its declaration the same way.

    Returns the module and the syntax errors, in source order (none when
    :func:`parse_module` would succeed; the module is then the same).

    Raises:
        ParseError: the text is not valid Unicode (nothing of it can be read).
        SourceLimitError: a type or an expression nests too deeply.
    """
    source = _readable(text, name)
    text = source.text
    builder = _Builder(source, limits or Limits())
    parser = lalr_parser(_GRAMMAR)
    decls: list[ast.Decl] = []
    broken: list[ast.BrokenDecl] = []
    diagnostics: list[Diagnostic] = []
    pos = 0
    while True:
        resume: int | None = None
        try:
            trees = _kids(parser.parse(TextSlice(text, pos, len(text)) if pos else text))
        except UnexpectedInput as e:
            diagnostics.append(_syntax_error(source, e))
            trees, start, error_at = _completed(e, len(text))
            block = max(start if start is not None else error_at, pos)
            if block < error_at:  # what precedes the error may be whole declarations
                try:
                    trees += _kids(parser.parse(TextSlice(text, block, error_at)))
                    block = error_at
                except UnexpectedInput:
                    pass
            resume = _resync(text, block, error_at)
            broken.extend(_declared_by(source, block))
        for tree in trees:
            try:
                decls.append(builder.decl(tree))
            except ParseError as e:
                diagnostics.extend(e.diagnostics)
                broken.extend(_declared_by(source, builder.span(tree).start))
        if resume is None:
            break
        pos = resume
    if not diagnostics:
        return ast.Module(name, tuple(decls)), ()
    ordered = sorted(diagnostics, key=lambda d: d.span.start if d.span else 0)
    return ast.Module(name, tuple(decls), tuple(broken)), tuple(ordered)


_IDENT_RE: Final = r"[A-Za-z_][A-Za-z0-9_]*"
#: The keywords that also begin lines inside blocks (an action `sla standard`,
#: a target `role "x"`) count only in the shape only a declaration has.
_DECLARATION_SHAPES: Final = {
    "sla": rf"sla\s+{_IDENT_RE}\s*\{{",
    "role": rf"role\s+{_IDENT_RE}\s*(?:\{{|extends(?![A-Za-z0-9_]))",
    "test": r'test\s+"',
    "base": rf"base\s+{_IDENT_RE}\s*=",
    "override": r"override\s+rule(?![A-Za-z0-9_])",
}
#: A line that begins a declaration.
_RESYNC: Final = re.compile(
    r"^(?P<indent>[ \t]*)(?P<kw>"
    + "|".join(_DECLARATION_SHAPES.get(k, rf"{k}(?![A-Za-z0-9_])") for k in DECLARATION_KEYWORDS)
    + ")",
    re.MULTILINE,
)
#: What a declaration's first words say it declares: the keyword, then names.
_DECLARES: Final = re.compile(
    rf"(?:override\s+)?(?P<kw>schema|input|queue|calendar|sla|escalation|rule|permission|role|workflow|base)"
    rf"\s+(?P<names>{_IDENT_RE}(?:\s*,\s*{_IDENT_RE})*)"
)
_NAME: Final = re.compile(_IDENT_RE)
#: A line that can only begin a declaration (before the error, a keyword line
#: such as an action `sla standard` is part of the broken block).
_DECLARATION_LINE: Final = re.compile(
    rf"(?:ruleset|schema|queue|calendar|sla|escalation|workflow|role|base)\s+{_IDENT_RE}\s*[{{=]"
    rf"|(?:override\s+)?rule\s+{_IDENT_RE}\s*(?:\"[^\"\n]*\"\s*)?\{{|test\s+\""
)
#: A ``ruleset`` header: its name and the ruleset it extends.
_HEADER: Final = re.compile(
    rf"ruleset\s+(?P<name>{_IDENT_RE})(?:\s+extends\s+(?P<parent>{_IDENT_RE}))?"
)


def _syntax_error(source: Source, e: UnexpectedInput) -> Diagnostic:
    """The diagnostic for lark's ``e``: a bad duration said as one, else the
    general syntax error."""
    if isinstance(e, UnexpectedToken) and "DURATION" in (e.accepts or e.expected):
        start = e.token.start_pos or 0
        m = _BAD_DURATION.match(source.text, start)
        if m is not None:
            return _duration_diagnostic(source, m)
    return syntax_diagnostic(source, 0, source.text, e, _GRAMMAR)


def _duration_diagnostic(source: Source, m: re.Match[str]) -> Diagnostic:
    """``15min`` or ``2 hours`` where a duration was expected: the whole of it
    under the caret, the units listed, and the literal meant when the word
    names a unit."""
    units = ", ".join(f"`{unit}` ({name})" for unit, _, name in DURATION_UNITS)
    first, second = DURATION_UNITS[1][0], DURATION_UNITS[2][0]
    how = (
        f"a duration is a whole number and a unit, with no space between: {units};"
        f" several go largest first, as in `15{second}` or `1{first}30{second}`;"
        " an sla on a calendar also takes `2 business days` or `4 business hours`"
    )
    number = m.group("number")
    word = (m.group("word") or "").lower()
    meant = _UNIT_WORDS.get(word)
    help_text, notes = how, tuple[str, ...]()
    if word and number.isdigit() and meant is not None:
        help_text, notes = f"write `{number}{meant}`", (how,)
    return Diagnostic(
        Severity.ERROR,
        "syntax_error",
        f"`{_shorten(m.group())}` is not a duration",
        Span(source, m.start(), m.end()),
        help=help_text,
        notes=notes,
    )


def _completed(e: UnexpectedInput, end: int) -> tuple[list[Any], int | None, int]:
    """From lark's state at the error ``e``: the trees of the declarations
    completed before it, where the broken one starts (``None``: at the error),
    and the offset of the error."""
    if isinstance(e, UnexpectedToken) and e.token.type == "$END":
        error_at = end
    else:
        stream_pos: int | None = e.pos_in_stream
        error_at = end if stream_pos is None or stream_pos < 0 else stream_pos
    stack = parser_stack(e)
    done: list[Any] = []
    if stack and isinstance(stack[0], Tree) and str(stack[0].data).startswith("__start_star"):
        done = _kids(stack[0])
        stack = stack[1:]
    for item in stack:
        if isinstance(item, Token) and item.start_pos is not None:
            return done, item.start_pos, error_at
        if isinstance(item, Tree) and not item.meta.empty:
            return done, item.meta.start_pos, error_at
    return done, None, error_at


def _resync(text: str, block: int, error_at: int) -> int | None:
    """Where parsing resumes after a syntax error at ``error_at`` in the
    declaration starting at ``block``: the next line after the broken
    declaration's start that begins a declaration no further indented than it,
    outside string literals and comments.  A line before the error counts too
    when it has a shape only a declaration has (``sla standard {`` after a rule
    left unclosed is the next declaration, not an action of the rule)."""
    line_start = text.rfind("\n", 0, block) + 1
    indent = len(text[line_start:block]) - len(text[line_start:block].lstrip(" \t"))
    if text[line_start:block].strip():  # the broken one does not begin its line
        indent = block - line_start
    after = error_at if error_at > block else error_at + 1
    checked = block  # code up to here is known to be outside strings and comments
    for m in _RESYNC.finditer(text, text.find("\n", block) + 1 or len(text)):
        start = m.start("kw")
        if start <= block or len(m.group("indent")) > indent:
            continue
        if start < after and not _DECLARATION_LINE.match(text, start):
            continue
        if not code_at(text, checked, start):
            continue
        checked = start
        return start
    return None


def _declared_by(source: Source, start: int) -> list[ast.BrokenDecl]:
    """What the declaration at ``start`` would have declared: its keyword and
    the names after it (none when its first words do not say)."""
    header = _HEADER.match(source.text, start)
    if header is not None:
        # a broken header: its name (and that it is a layer) keep the layers
        # from reporting what only its absence causes
        found = [ast.BrokenDecl("ruleset", (_name_at(source, header, "name"),))]
        if header.group("parent"):
            found.append(ast.BrokenDecl("extends", (_name_at(source, header, "parent"),)))
        return found
    m = _DECLARES.match(source.text, start)
    if m is None:
        word = _NAME.match(source.text, start)
        return [ast.BrokenDecl(word.group() if word else "", ())]
    offset = m.start("names")
    names = tuple(
        ast.Name(n.group(), Span(source, offset + n.start(), offset + n.end()))
        for n in _NAME.finditer(m.group("names"))
    )
    return [ast.BrokenDecl(m.group("kw"), names)]


def _name_at(source: Source, m: re.Match[str], group: str) -> ast.Name:
    return ast.Name(m.group(group), Span(source, m.start(group), m.end(group)))


def _readable(text: str, name: str) -> Source:
    """``text`` normalised (:func:`normalise_text`) as a source named ``name``.

    Raises:
        ParseError: it is not valid Unicode (``invalid_encoding``, at the first bad
            character).
    """
    source = Source(name, normalise_text(text))
    bad = _SURROGATE.search(source.text)
    if bad is not None:
        raise ParseError([_encoding_diagnostic(source, bad.start())])
    return source


def normalise_text(text: str) -> str:
    """Without a leading byte-order mark, and with ``\\r\\n`` and a lone ``\\r`` as
    ``\\n`` (a file with old Mac line ends would otherwise be one line, and its
    first ``//`` comment would swallow it)."""
    text = text.removeprefix("\ufeff")
    if "\r" not in text:
        return text
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _encoding_diagnostic(source: Source, offset: int) -> Diagnostic:
    """The first character of ``source`` that is a lone surrogate: a byte that is
    not UTF-8 (read with ``surrogateescape``), or a broken string from the host."""
    code = ord(source.text[offset])
    # the snippet must be printable: show U+FFFD where the text cannot be encoded
    shown = Source(source.name, _SURROGATE.sub("\ufffd", source.text))
    span = Span(shown, offset, offset + 1)
    if 0xDC80 <= code <= 0xDCFF:
        return Diagnostic(
            Severity.ERROR,
            "invalid_encoding",
            f"byte `0x{code - 0xDC00:02X}` is not valid UTF-8",
            span,
            help="rule files are UTF-8 text: save the file as UTF-8",
        )
    return Diagnostic(
        Severity.ERROR,
        "invalid_encoding",
        f"lone surrogate `U+{code:04X}` is not a character",
        span,
        help="rule text must be valid Unicode",
    )


def parse_duration_literal(text: str) -> timedelta:
    """``1h30m`` -> ``timedelta(hours=1, minutes=30)``.

    Raises:
        ValueError: the duration is longer than :data:`MAX_DURATION`.
    """
    seconds = 0
    for number, unit in _DURATION_PART.findall(text):
        digits = number.lstrip("0")
        # more digits than the maximum has seconds: out of range, and int() of a
        # long enough string would refuse (or take quadratic time)
        if len(digits) > len(str(_MAX_DURATION_SECONDS)):
            raise ValueError(f"duration `{text}` is out of range")
        seconds += int(digits or "0") * _UNIT_SECONDS[unit]
        if seconds > _MAX_DURATION_SECONDS:
            raise ValueError(f"duration `{text}` is out of range")
    return timedelta(seconds=seconds)


def _shorten(text: str) -> str:
    return text if len(text) <= _SHOWN else f"{text[: _SHOWN - 4]}..."


_INT_HELP: Final = f"integers are 64-bit: {INT_MIN} to {INT_MAX}"


def _kids(node: Tree[Any]) -> list[Any]:
    return list(node.children)


class _Builder:
    def __init__(self, source: Source, limits: Limits) -> None:
        self.source = source
        self.limits = limits

    def span(self, node: Tree[Any] | Token) -> Span:
        if isinstance(node, Token):
            return make_span(self.source, node.start_pos or 0, node.end_pos or 0)
        meta = node.meta
        if meta.empty:
            return make_span(self.source, 0, 0)
        return make_span(self.source, meta.start_pos, meta.end_pos)

    def name(self, token: Token) -> ast.Name:
        return ast.Name(str(token), self.span(token))

    def string(self, token: Token) -> str:
        return decode_string(token, self.source, self.limits)

    def out_of_range(self, what: str, text: str, span: Span, help: str) -> ParseError:
        return ParseError(
            [
                Diagnostic(
                    Severity.ERROR,
                    "literal_out_of_range",
                    f"{what} `{_shorten(text)}` is out of range",
                    span,
                    help=help,
                )
            ]
        )

    def cel(self, tree: Tree[Any]) -> ast.CelText:
        span = self.span(tree)
        try:
            expr = build_expr(tree, self.source, self.limits)
        except ValueError:
            # Python refuses int() of a string of more than 4,300 digits
            raise self._long_number(tree, span) from None
        return ast.CelText(expr, span.text(), span)

    def _long_number(self, tree: Tree[Any], span: Span) -> ParseError:
        """The error for an integer literal too long to convert, at the literal."""
        long_numbers = [
            token
            for subtree in tree.iter_subtrees()  # iterative, unlike scan_values
            for token in subtree.children
            if isinstance(token, Token)
            and token.type.rpartition("__")[2] in ("INT", "UINT")
            and len(token) > 20
        ]
        if not long_numbers:
            return self.out_of_range("expression", span.text(), span, _INT_HELP)
        first = min(long_numbers, key=lambda t: t.start_pos or 0)
        return self.out_of_range("integer literal", str(first), self.span(first), _INT_HELP)

    def integer(self, token: Token, minus: Token | None = None) -> int:
        """An integer token: decimal (leading zeros allowed) or ``0x`` hexadecimal,
        negated after a ``-``; it must fit a 64-bit signed integer."""
        text = str(token)
        hexadecimal = text[:2].lower() == "0x"
        digits = (text[2:] if hexadecimal else text).lstrip("0") or "0"
        span = self.span(token)
        if minus is not None:
            text = f"-{text}"
            span = Span(self.source, minus.start_pos or 0, span.end)
        # more digits than 2**63 has cannot fit (and int() refuses 4,301 digits)
        if len(digits) > (16 if hexadecimal else 19):
            raise self.out_of_range("integer literal", text, span, _INT_HELP)
        value = int(digits, 16 if hexadecimal else 10)
        if minus is not None:
            value = -value
        if not INT_MIN <= value <= INT_MAX:
            raise self.out_of_range("integer literal", text, span, _INT_HELP)
        return value

    def duration(self, token: Token) -> ast.DurationLit:
        text = str(token)
        business = _BUSINESS.fullmatch(text)
        if business is not None:
            return self.business_duration(token, business)
        try:
            value = parse_duration_literal(text)
        except ValueError:
            raise self.out_of_range(
                "duration",
                text,
                self.span(token),
                f"the longest duration is {MAX_DURATION.days}d (100 years)",
            ) from None
        return ast.DurationLit(text, value, self.span(token))

    def business_duration(self, token: Token, match: re.Match[str]) -> ast.DurationLit:
        """``2 business days`` or ``4 business hours``, no longer than
        :data:`MAX_DURATION` counted as days or hours."""
        digits, unit = match.group(1).lstrip("0") or "0", match.group(2)
        limit = MAX_DURATION.days if unit == "day" else MAX_DURATION.days * 24
        if len(digits) > len(str(limit)) or int(digits) > limit:
            raise self.out_of_range(
                "duration",
                str(token),
                self.span(token),
                f"the longest is {limit} business {unit}s",
            )
        count = int(digits)
        value = timedelta(days=count) if unit == "day" else timedelta(hours=count)
        return ast.DurationLit(str(token), value, self.span(token), f"{unit}s")

    def decl(self, node: Tree[Any]) -> ast.Decl:
        kind = str(node.data)
        kids = _kids(node)
        span = self.span(node)
        if kind == "ruleset_decl":
            name, extends, version, hit = kids
            return ast.RulesetDecl(
                self.name(name),
                None if version is None else self.string(version),
                None if hit is None else self.name(hit),
                span,
                None if extends is None else self.name(extends),
            )
        if kind == "schema_decl":
            name, *fields = kids
            return ast.SchemaDecl(
                self.name(name), tuple(self.field(f) for f in fields if f is not None), span
            )
        if kind == "input_decl":
            var, schema = kids
            return ast.InputDecl(self.name(var), self.name(schema), span)
        if kind == "queue_decl":
            name, display = kids
            return ast.QueueDecl(
                self.name(name), None if display is None else self.string(display), span
            )
        if kind == "calendar_decl":
            return self.calendar(node)
        if kind == "sla_decl":
            name, *items = kids
            sla_items: list[tuple[str, ast.DurationLit | ast.Name, Span]] = []
            for item in items:
                if item is None:
                    continue
                (value,) = _kids(item)
                key = str(item.data)[4:]
                parsed = self.name(value) if key == "calendar" else self.duration(value)
                sla_items.append((key, parsed, self.span(item)))
            return ast.SlaDecl(self.name(name), tuple(sla_items), span)
        if kind == "escalation_decl":
            return self.escalation(node)
        if kind == "rule_decl":
            return self.rule(node)
        if kind == "test_decl":
            return self.test(node)
        if kind == "base_decl":
            name, value = kids
            return ast.BaseDecl(self.name(name), self.cel(value), span)
        if kind == "permission_decl":
            return ast.PermissionDecl(tuple(self.name(k) for k in kids), span)
        if kind == "role_decl":
            name, extends, perms = kids
            return ast.RoleDecl(
                self.name(name),
                tuple(self.name(k) for k in _kids(extends)) if extends is not None else (),
                tuple(self.name(k) for k in _kids(perms) if k is not None)
                if perms is not None
                else (),
                span,
            )
        if kind == "access_rule_decl":
            effect, *rest = kids
            when = rest[-1]
            perms = [k for k in rest[:-1] if k is not None]
            return ast.AccessRuleDecl(
                str(effect),
                tuple(self.name(k) for k in perms),
                None if when is None else self.cel(when),
                span,
            )
        if kind == "exclusive_decl":
            return ast.ExclusiveDecl(tuple(self.name(k) for k in kids), span)
        if kind == "workflow_decl":
            name, display, *items = kids
            return ast.WorkflowDecl(
                self.name(name),
                None if display is None else self.string(display),
                tuple(self.workflow_item(i) for i in items if i is not None),
                span,
            )
        raise AssertionError(kind)  # pragma: no cover - the grammar has no other declarations

    def field(self, node: Tree[Any]) -> ast.FieldDecl:
        name, optional, type_node = _kids(node)
        return ast.FieldDecl(
            self.name(name), optional is not None, self.type_ref(type_node), self.span(node)
        )

    def type_ref(self, node: Tree[Any], depth: int = 1) -> ast.TypeRef:
        """A field type; ``depth`` counts the type arguments it is inside of."""
        name, *args = _kids(node)
        if node.data == "enum_type":
            values = tuple((self.string(v), self.span(v)) for v in args)
            return ast.TypeRef(self.name(name), (), self.span(node), values)
        if args and depth > MAX_TYPE_NESTING:
            raise SourceLimitError(
                "nesting_too_deep",
                f"type nests deeper than {MAX_TYPE_NESTING} levels",
                self.span(node),
            )
        return ast.TypeRef(
            self.name(name), tuple(self.type_ref(a, depth + 1) for a in args), self.span(node)
        )

    def calendar(self, node: Tree[Any]) -> ast.CalendarDecl:
        name, *items = _kids(node)
        zones: list[tuple[str, Span]] = []
        opens: list[ast.OpenDecl] = []
        closed: list[tuple[str, Span]] = []
        for item in items:
            kind = str(item.data)
            kids = _kids(item)
            if kind == "cal_timezone":
                zones.append((self.string(kids[0]), self.span(item)))
            elif kind == "cal_open":
                days = tuple(
                    ast.DaySpec(
                        self.name(k.children[0]),
                        None if k.children[2] is None else self.name(k.children[2]),
                        self.span(k),
                    )
                    for k in kids
                    if k.data == "day_spec"
                )
                ranges = tuple(
                    ast.TimeRange(str(k.children[0]), str(k.children[2]), self.span(k))
                    for k in kids
                    if k.data == "time_range"
                )
                opens.append(ast.OpenDecl(days, ranges, self.span(item)))
            else:
                closed.extend((str(tok), self.span(tok)) for tok in kids)
        return ast.CalendarDecl(
            self.name(name), tuple(zones), tuple(opens), tuple(closed), self.span(node)
        )

    def escalation(self, node: Tree[Any]) -> ast.EscalationDecl:
        name, *items = _kids(node)
        levels: list[ast.LevelDecl] = []
        repeats: list[ast.RepeatDecl] = []
        for item in items:
            kids = _kids(item)
            if item.data == "esc_level":
                number, after, *targets = kids
                levels.append(
                    ast.LevelDecl(
                        self.integer(number),
                        None if after is None else self.duration(after),
                        tuple(self.target(t) for t in targets),
                        self.span(item),
                    )
                )
            else:
                count, after = kids
                repeats.append(
                    ast.RepeatDecl(
                        self.integer(count),
                        None if after is None else self.duration(after),
                        self.span(item),
                    )
                )
        return ast.EscalationDecl(self.name(name), tuple(levels), tuple(repeats), self.span(node))

    def target(self, node: Tree[Any]) -> ast.TargetDecl:
        kind = str(node.data)[7:]
        (value,) = _kids(node)
        text = str(value) if kind == "queue" else self.string(value)
        return ast.TargetDecl(kind, text, self.span(node))

    def rule(self, node: Tree[Any]) -> ast.RuleDecl:
        override, name, display, *items = _kids(node)
        precedence = 0
        when: ast.CelText | None = None
        actions: list[ast.Action] = []
        seen: list[tuple[str, Span]] = []
        for item in items:
            kind = str(item.data)
            kids = _kids(item)
            seen.append((kind, self.span(item)))
            if kind == "precedence":
                minus, number = kids
                precedence = self.integer(number, minus)
            elif kind == "when":
                when = self.cel(kids[0])
            else:
                actions.extend(self.action(a) for a in kids)
        return ast.RuleDecl(
            self.name(name),
            None if display is None else self.string(display),
            precedence,
            when,
            tuple(actions),
            self.span(node),
            tuple(seen),
            override is not None,
        )

    def action(self, node: Tree[Any]) -> ast.Action:
        kind = str(node.data)[4:]
        kids = [k for k in _kids(node) if k is not None]
        span = self.span(node)
        text = self.string(kids[0]) if kids and kind in ("respond", "ignore") else None
        match kind:
            case "route":
                return ast.RouteAction(self.name(kids[0]), span)
            case "priority":
                return ast.PriorityAction(self.name(kids[0]), span)
            case "sla":
                return ast.SlaAction(self.name(kids[0]), span)
            case "escalate":
                return ast.EscalateAction(self.name(kids[0]), span)
            case "assign":
                return self.assign(kids[0], span)
            case "tag":
                return ast.TagAction(tuple(self.string(t) for t in kids), span)
            case "respond":
                return ast.RespondAction(text, span)
            case "ignore":
                return ast.IgnoreAction(text, span)
            case "set":
                return ast.SetAction(self.name(kids[0]), self.cel(kids[1]), span)
            case "stop":
                return ast.StopAction(span)
        raise AssertionError(kind)  # pragma: no cover - the grammar has no other actions

    def assign(self, node: Tree[Any], span: Span) -> ast.AssignAction:
        """``assign "who"`` keeps the literal; any other expression is kept as CEL."""
        value = self.cel(node)
        if isinstance(value.expr, cel_ast.Literal) and type(value.expr.value) is str:
            return ast.AssignAction(value.expr.value, span)
        return ast.AssignAction(None, span, value)

    def workflow_item(self, node: Tree[Any]) -> ast.WorkflowItem:
        kind = str(node.data)
        kids = _kids(node)
        span = self.span(node)
        match kind:
            case "wf_state":
                *names, flag = kids
                return ast.StateDecl(
                    tuple(self.name(n) for n in names),
                    None if flag is None else self.name(flag),
                    span,
                )
            case "wf_transition":
                tokens = [k for k in kids if isinstance(k, Token)]
                clauses = [k for k in kids if isinstance(k, Tree)]
                requires: list[ast.Name] = []
                guards: list[ast.CelText] = []
                sets: list[tuple[ast.Name, ast.CelText]] = []
                effects: list[ast.EffectDecl] = []
                for clause in clauses:
                    parts = _kids(clause)
                    if clause.data == "tr_requires":
                        requires.append(self.name(parts[0]))
                    elif clause.data == "tr_when":
                        guards.append(self.cel(parts[0]))
                    elif clause.data == "tr_set":
                        sets.append((self.name(parts[0]), self.cel(parts[1])))
                    else:
                        effects.extend(self.effect(e) for e in parts)
                return ast.TransitionDecl(
                    self.name(tokens[0]),
                    tuple(self.name(t) for t in tokens[1:-1]),
                    self.name(tokens[-1]),
                    tuple(requires),
                    tuple(guards),
                    tuple(sets),
                    tuple(effects),
                    span,
                )
            case "wf_enter" | "wf_exit":
                state, *effects_ = kids
                return ast.HookDecl(
                    kind[3:], self.name(state), tuple(self.effect(e) for e in effects_), span
                )
            case "wf_timeout":
                state, when, target, *rest = kids
                (value,) = _kids(when)
                return ast.TimeoutDecl(
                    self.name(state),
                    self.duration(value) if when.data == "timer_after" else None,
                    self.cel(value) if when.data == "timer_at" else None,
                    None if target is None else self.name(target),
                    tuple(self.effect(e) for e in rest if e is not None),
                    span,
                )
            case "wf_while":
                state, policy = kids
                return ast.WhileDecl(self.name(state), self.name(policy), span)
            case "wf_data":
                return ast.DataDecl(tuple(self.field(f) for f in kids), span)
        raise AssertionError(kind)  # pragma: no cover - the grammar has no other items

    def effect(self, node: Tree[Any]) -> ast.EffectDecl:
        name, *args = _kids(node)
        out: list[ast.EffectArg] = []
        for arg in args:
            if arg is None:
                continue
            kind, value = _kids(arg)
            quoted = value.type.endswith("STRING")
            text = self.string(value) if quoted else str(value)
            out.append(
                ast.EffectArg(
                    None if kind is None else self.name(kind), text, self.span(arg), quoted
                )
            )
        return ast.EffectDecl(self.name(name), tuple(out), self.span(node))

    def moment(self, token: Token) -> tuple[str, Span]:
        return (self.string(token), self.span(token))

    def test(self, node: Tree[Any]) -> ast.TestDecl:
        description, *items = _kids(node)
        givens: list[tuple[ast.Name, ast.CelText]] = []
        at: tuple[str, Span] | None = None
        expects: list[ast.Expectation] = []
        steps: list[ast.WorkflowStep] = []
        workflow: ast.Name | None = None
        misplaced: list[Span] = []
        bases: list[tuple[int, ast.Name]] = []
        for item in items:
            kind = str(item.data)
            kids = _kids(item)
            if kind == "given":
                givens.append((self.name(kids[0]), self.cel(kids[1])))
            elif kind == "given_base":
                bases.append((len(givens), self.name(kids[1])))
                givens.append((self.name(kids[0]), self.cel(kids[2])))
            elif kind == "at":
                at = self.moment(kids[0])
            elif kind == "test_workflow":
                workflow = self.name(kids[0])
            elif kind == "test_start":
                when, id_ = kids
                steps.append(
                    ast.StartStep(
                        self.moment(when),
                        None if id_ is None else self.string(id_),
                        self.span(item),
                    )
                )
            elif kind == "test_event":
                event, actor, when, id_, data = kids
                steps.append(
                    ast.EventStep(
                        self.name(event),
                        self.string(actor),
                        self.moment(when),
                        None if id_ is None else self.string(id_),
                        None if data is None else self.cel(data),
                        self.span(item),
                    )
                )
            elif kind == "test_advance":
                steps.append(ast.AdvanceStep(self.moment(kids[0]), self.span(item)))
            else:
                expectation = self.expectation(kids[0])
                if isinstance(expectation, ast.Expectation):
                    expects.append(expectation)
                else:
                    steps.append(expectation)
        if workflow is None:
            misplaced.extend(s.span for s in steps)
        else:
            misplaced.extend(e.span for e in expects)
        return ast.TestDecl(
            self.string(description),
            tuple(givens),
            at,
            tuple(expects),
            self.span(node),
            workflow,
            tuple(steps),
            tuple(misplaced),
            tuple(bases),
        )

    def expectation(self, node: Tree[Any]) -> ast.Expectation | ast.WorkflowExpectation:
        kind = str(node.data)[4:]
        kids = [k for k in _kids(node) if k is not None]
        span = self.span(node)
        match kind:
            case "route":
                return ast.ExpectRoute(self.name(kids[0]), span)
            case "priority":
                return ast.ExpectPriority(self.name(kids[0]), span)
            case "sla":
                _, first, resolution = _kids(node)
                return ast.ExpectSla(
                    self.name(kids[0]),
                    span,
                    None if first is None else self.moment(first),
                    None if resolution is None else self.moment(resolution),
                )
            case "escalate":
                steps = tuple(
                    (self.integer(level), self.string(at), self.span(at))
                    for step in kids[1:]
                    for level, at in [_kids(step)]
                )
                return ast.ExpectEscalate(self.name(kids[0]), span, steps)
            case "matched":
                return ast.ExpectMatched(self.name(kids[0]), False, span)
            case "not_matched":
                return ast.ExpectMatched(self.name(kids[1]), True, span)
            case "error":
                return ast.ExpectError(self.name(kids[0]), span)
            case "tag":
                return ast.ExpectTag(tuple(self.string(t) for t in kids), span)
            case "assign":
                return ast.ExpectAssign(self.string(kids[0]), span)
            case "respond" | "ignore":
                return ast.ExpectResponse(kind, span)
            case "set":
                return ast.ExpectSet(self.name(kids[0]), self.cel(kids[1]), span)
            case "state":
                return ast.ExpectState(self.name(kids[0]), span)
            case "accepted":
                return ast.ExpectAccepted(span)
            case "refused":
                return ast.ExpectRefused(self.name(kids[0]), span)
            case "effect":
                return ast.ExpectEffect(self.effect(kids[0]), False, span)
            case "no_effect":
                return ast.ExpectEffect(self.effect(kids[1]), True, span)
            case "next_deadline":
                return ast.ExpectNextDeadline(self.moment(kids[0]), span)
            case "no_deadline":
                return ast.ExpectNextDeadline(None, span)
            case "data":
                return ast.ExpectData(self.name(kids[0]), self.cel(kids[1]), span)
            case "version":
                return ast.ExpectVersion(self.integer(kids[0]), span)
        raise AssertionError(kind)  # pragma: no cover - the grammar has no other expectations
