"""CEL source text -> :mod:`socialflow.cel.ast`.

Stage 1 and 2 of the pipeline: lark (LALR, positions kept) turns text into a
parse tree, and this module turns the tree into frozen AST nodes with spans,
decoding literals and expanding macros on the way.  Lark's types never leave
this module: every syntax problem becomes a :class:`~socialflow.errors.ParseError`
with file:line:col, a caret snippet and the expected tokens.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import attrs
from lark import Token, Tree
from lark.exceptions import UnexpectedInput

from socialflow._records import fast_constructor
from socialflow._syntax import lalr_parser, syntax_diagnostic
from socialflow.cel import ast
from socialflow.cel.limits import Limits
from socialflow.cel.macros import expand_macro
from socialflow.cel.values import INT_MAX, INT_MIN, TYPE_NAMES, UINT_MAX, UInt
from socialflow.errors import Diagnostic, ParseError, Severity, SourceLimitError
from socialflow.source import Source, Span

__all__ = [
    "RESERVED",
    "SYNTAX_GROUPS",
    "TERMINAL_NAMES",
    "WORD_HINTS",
    "build_expr",
    "decode_string",
    "parse",
    "parse_source",
    "rule_name",
]

#: Words CEL reserves: they may not name variables, fields or functions.
RESERVED: Final = frozenset(
    [
        "as",
        "break",
        "const",
        "continue",
        "else",
        "false",
        "for",
        "function",
        "if",
        "import",
        "in",
        "let",
        "loop",
        "package",
        "namespace",
        "null",
        "return",
        "true",
        "var",
        "void",
        "while",
    ]
)

_BINARY: Final = {
    "==": "_==_",
    "!=": "_!=_",
    "<": "_<_",
    "<=": "_<=_",
    ">": "_>_",
    ">=": "_>=_",
    "+": "_+_",
    "-": "_-_",
    "*": "_*_",
    "/": "_/_",
    "%": "_%_",
}

#: Human names for CEL's terminals in "expected ..." messages (also for the
#: terminals a grammar that imports CEL's takes from it).
TERMINAL_NAMES: Final = {
    "IDENT": "identifier",
    "INT": "integer",
    "UINT": "unsigned integer",
    "FLOAT": "number",
    "STRING": "string",
    "BYTES": "bytes",
    "TRUE": "`true`",
    "FALSE": "`false`",
    "NULL": "`null`",
    "QUOTED_IDENT": "quoted field name",
    "RELOP": "comparison operator",
    "ADDOP": "`+` or `-`",
    "MULOP": "`*`, `/` or `%`",
    "NOT": "`!`",
    "MINUS": "`-`",
    "DOT": "`.`",
    "IN": "`in`",
    "$END": "end of input",
}


#: How "expected" lists group the human names of CEL's terminals: (label, members,
#: how many must be expected for the label to stand for them).
SYNTAX_GROUPS: Final = (
    (
        "an expression",
        frozenset(
            [
                *("`!`", "`(`", "`-`", "`[`", "`{`", "`false`", "`null`", "`true`", "bytes"),
                *("identifier", "integer", "number", "string", "unsigned integer"),
            ]
        ),
        6,
    ),
    (
        "an operator",
        frozenset(
            ["`&&`", "`||`", "`?`", "comparison operator", "`+` or `-`", "`*`, `/` or `%`", "`in`"]
        ),
        2,
    ),
)
#: Words of other languages written where CEL has an operator: message, help.
WORD_HINTS: Final = {
    "and": ("`and` is not an operator in CEL", "write `&&`: `a && b`"),
    "or": ("`or` is not an operator in CEL", "write `||`: `a || b`"),
    "not": ("`not` is not an operator in CEL", "write `!`: `!a`, `!(a && b)`"),
}


def parse(text: str, name: str = "<expr>", limits: Limits | None = None) -> ast.Expr:
    """Parse CEL ``text`` into an AST.  ``name`` is used in error positions.

    Raises:
        ParseError: the text is not valid CEL (every position reported has a
            caret snippet and the tokens that were expected).
    """
    return _parse_source(Source(name, text), limits or Limits())


def parse_source(
    source: Source, limits: Limits | None = None, offset: int = 0, end: int | None = None
) -> ast.Expr:
    """Parse ``source.text[offset:end]`` as one expression, spans relative to ``source``.

    The DSL uses this for conditions embedded in a larger file.
    """
    return _parse_source(source, limits or Limits(), offset, end)


def _parse_source(
    source: Source, limits: Limits, offset: int = 0, end: int | None = None
) -> ast.Expr:
    text = source.text[offset:end]
    if len(text) > limits.max_source_length:
        raise SourceLimitError(
            "source_too_long",
            f"expression is {len(text)} characters long; the limit is {limits.max_source_length}",
            Span(source, offset, offset + 1),
        )
    try:
        tree = lalr_parser("cel.lark").parse(text)
    except UnexpectedInput as e:
        raise ParseError(
            [
                syntax_diagnostic(
                    source,
                    offset,
                    text,
                    e,
                    "cel.lark",
                    TERMINAL_NAMES.get,
                    groups=SYNTAX_GROUPS,
                    word_hints=WORD_HINTS,
                    tuple_hint=True,
                )
            ]
        ) from None
    builder = _Builder(source, offset, limits)
    try:
        return builder.build(tree, 0)
    except RecursionError:
        raise SourceLimitError(
            "nesting_too_deep", "expression is nested too deeply", Span(source, offset, offset + 1)
        ) from None


_ESCAPES: Final = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    "?": "?",
    '"': '"',
    "'": "'",
    "`": "`",
}


#: ``Span(source, start, end)`` without attrs' per-field ``object.__setattr__``
#: (the builder makes one per syntax-tree node).
make_span = fast_constructor(Span)


@attrs.define
class _Builder:
    source: Source
    offset: int
    limits: Limits

    def span(self, node: Tree[Any] | Token) -> Span:
        if type(node) is Tree:
            meta = node._meta  # None: no position was ever set (`node.meta` would make one)
            if meta is None or meta.empty:
                start = end = 0
            else:
                start, end = meta.start_pos, meta.end_pos
        elif isinstance(node, Token):
            start, end = node.start_pos or 0, node.end_pos or 0
        else:
            meta = node.meta
            start, end = (0, 0) if meta.empty else (meta.start_pos, meta.end_pos)
        offset = self.offset
        return make_span(self.source, offset + start, offset + end)

    def error(
        self, message: str, span: Span, code: str = "syntax_error", help: str | None = None
    ) -> ParseError:
        return ParseError([Diagnostic(Severity.ERROR, code, message, span, help=help)])

    def build(self, node: Tree[Any] | Token, depth: int) -> ast.Expr:
        if depth > self.limits.max_nesting:
            raise SourceLimitError(
                "nesting_too_deep",
                f"expression nests deeper than {self.limits.max_nesting} levels",
                self.span(node),
            )
        if isinstance(node, Token):  # a bare literal token can only come via ?rules
            raise self.error(f"unexpected `{node}`", self.span(node))
        handler = _DISPATCH.get(node.data)
        if handler is None:  # pragma: no cover - every grammar rule has a handler
            raise AssertionError(node.data)
        return handler(self, node, depth + 1)

    # -- helpers --------------------------------------------------------------------------
    def args(self, node: Tree[Any] | None, depth: int) -> tuple[ast.Expr, ...]:
        if node is None:
            return ()
        return tuple(self.build(child, depth) for child in _kids(node))

    def check_name(self, token: Token) -> str:
        name = str(token)
        if name in RESERVED:
            raise self.error(
                f"`{name}` is a reserved word and cannot be used as a name",
                self.span(token),
                code="reserved_word",
            )
        return name


def rule_name(node: Tree[Any]) -> str:
    """The grammar rule of ``node``, without the ``cel__`` prefix lark adds on import."""
    data = str(node.data)
    return data[5:] if data.startswith("cel__") else data


def build_expr(tree: Tree[Any], source: Source, limits: Limits | None = None) -> ast.Expr:
    """Turn a CEL parse tree embedded in a larger grammar into an AST.

    Token positions must be offsets into ``source`` (they are when the whole
    file was parsed at once).
    """
    builder = _Builder(source, 0, limits or Limits())
    span = builder.span(tree)
    if span.end - span.start > builder.limits.max_source_length:
        raise SourceLimitError(
            "source_too_long",
            f"expression is {span.end - span.start} characters long; "
            f"the limit is {builder.limits.max_source_length}",
            Span(source, span.start, span.start + 1),
        )
    try:
        return builder.build(tree, 0)
    except RecursionError:
        raise SourceLimitError(
            "nesting_too_deep", "expression is nested too deeply", span
        ) from None


def decode_string(token: Token, source: Source, limits: Limits | None = None) -> str:
    """Decode a STRING token of a grammar that imports CEL's (escapes as in CEL)."""
    value = _decode_quoted(_Builder(source, 0, limits or Limits()), token, str(token), False)
    return str(value)


def _kids(node: Tree[Any]) -> list[Any]:
    """The children of a parse-tree node, untyped (the grammar fixes their shape);
    the tree's own list, which the builder never changes."""
    return node.children


def _conditional(b: _Builder, n: Tree[Any], d: int) -> ast.Expr:
    cond, then, other = (b.build(c, d) for c in _kids(n))
    return ast.Call("_?_:_", (cond, then, other), b.span(n))


def _left_chain(b: _Builder, n: Tree[Any], d: int) -> ast.Expr:
    """Build a left-associative chain (``a || b || c``, ``a + b - c``) iteratively,
    so a long chain of operands does not count as nesting depth."""
    spine: list[Tree[Any]] = []
    node: Any = n
    data, kind = n.data, rule_name(n)
    while isinstance(node, Tree) and node.data == data:
        spine.append(node)
        node = _kids(node)[0]
    expr = b.build(node, d)
    for link in reversed(spine):
        kids = _kids(link)
        right = b.build(kids[-1], d)
        span = b.span(link)
        if kind == "or_":
            expr = ast.Call("_||_", (expr, right), span)
        elif kind == "and_":
            expr = ast.Call("_&&_", (expr, right), span)
        elif kind == "in_":
            expr = ast.Call("@in", (expr, right), span)
        else:
            expr = ast.Call(_BINARY[str(kids[1])], (expr, right), span)
    return expr


def _not(b: _Builder, n: Tree[Any], d: int) -> ast.Expr:
    *nots, operand = _kids(n)
    expr = b.build(operand, d)
    span = b.span(n)
    for _ in nots:
        expr = ast.Call("!_", (expr,), span)
    return expr


def _neg(b: _Builder, n: Tree[Any], d: int) -> ast.Expr:
    *minuses, operand = _kids(n)
    span = b.span(n)
    count = len(minuses)
    # A negative numeric literal is one literal, so -9223372036854775808 is in range.
    if isinstance(operand, Tree) and rule_name(operand) in ("int_lit", "float_lit"):
        lit = _kids(operand)[0]
        negative_int = rule_name(operand) == "int_lit"
        value: Any = _int_value(b, lit, negate=True) if negative_int else -float(lit)
        expr: ast.Expr = ast.Literal(value, span)
        count -= 1
    else:
        expr = b.build(operand, d)
    for _ in range(count):
        expr = ast.Call("-_", (expr,), span)
    return expr


def _select(b: _Builder, n: Tree[Any], d: int) -> ast.Expr:
    operand, field = _kids(n)
    target = b.build(operand, d)
    name = str(field)  # reserved words are fine as field names
    qualified = _qualified_name(target)
    if qualified is not None and f"{qualified}.{name}" in TYPE_NAMES:
        return ast.Ident(f"{qualified}.{name}", b.span(n))
    return ast.Select(target, name, b.span(n))


def _quoted_select(b: _Builder, n: Tree[Any], d: int) -> ast.Expr:
    operand, field = _kids(n)
    return ast.Select(b.build(operand, d), str(field)[1:-1], b.span(n))


def _qualified_name(expr: ast.Expr) -> str | None:
    if isinstance(expr, ast.Ident):
        return expr.name
    if isinstance(expr, ast.Select) and not expr.test_only:
        inner = _qualified_name(expr.operand)
        return None if inner is None else f"{inner}.{expr.field}"
    return None


def _method(b: _Builder, n: Tree[Any], d: int) -> ast.Expr:
    operand, name_tok, args_node = _kids(n)
    name = str(name_tok)  # reserved words are fine as method names
    target = b.build(operand, d)
    args = b.args(args_node, d)
    span = b.span(n)
    expanded = expand_macro(name, target, args, span, b.error)
    if expanded is not None:
        return expanded
    return ast.Call(name, args, span, target)


def _index(b: _Builder, n: Tree[Any], d: int) -> ast.Expr:
    operand, index = _kids(n)
    return ast.Index(b.build(operand, d), b.build(index, d), b.span(n))


def _message(b: _Builder, n: Tree[Any], d: int) -> ast.Expr:
    raise b.error(
        "message construction is not supported (protocol buffers are out of scope)",
        b.span(n),
        code="unsupported",
    )


def _ident(b: _Builder, n: Tree[Any], d: int) -> ast.Expr:
    dot, name_tok = _kids(n)
    name = b.check_name(name_tok)
    if dot is not None:
        raise b.error(
            "absolute names (leading `.`) are not supported", b.span(n), code="unsupported"
        )
    return ast.Ident(name, b.span(n))


def _call(b: _Builder, n: Tree[Any], d: int) -> ast.Expr:
    dot, name_tok, args_node = _kids(n)
    name = b.check_name(name_tok)
    if dot is not None:
        raise b.error(
            "absolute names (leading `.`) are not supported", b.span(n), code="unsupported"
        )
    args = b.args(args_node, d)
    span = b.span(n)
    expanded = expand_macro(name, None, args, span, b.error)
    if expanded is not None:
        return expanded
    return ast.Call(name, args, span)


def _list(b: _Builder, n: Tree[Any], d: int) -> ast.Expr:
    (args_node,) = _kids(n)
    return ast.CreateList(b.args(args_node, d), b.span(n))


def _map(b: _Builder, n: Tree[Any], d: int) -> ast.Expr:
    (inits,) = _kids(n)
    entries: list[tuple[ast.Expr, ast.Expr]] = []
    if inits is not None:
        for init in _kids(inits):
            key, value = _kids(init)
            entries.append((b.build(key, d), b.build(value, d)))
    return ast.CreateMap(tuple(entries), b.span(n))


def _digits(text: str) -> int | None:
    """The value of a decimal or ``0x`` literal, or ``None`` when it has more digits
    than any 64-bit value (Python refuses very long ones, and nothing that long
    is in range anyway)."""
    hexadecimal = text[:2].lower() == "0x"
    digits = text[2:] if hexadecimal else text
    if len(digits.lstrip("0")) > (16 if hexadecimal else 20):
        return None
    return int(text, 16) if hexadecimal else int(text)


def _short(text: str) -> str:
    return text if len(text) <= 40 else f"{text[:20]}...({len(text)} characters)"


def _int_value(b: _Builder, token: Token, negate: bool = False) -> int:
    text = str(token)
    parsed = _digits(text)
    if parsed is None:
        raise b.error(
            f"integer literal `{'-' if negate else ''}{_short(text)}` is out of range",
            b.span(token),
            code="literal_out_of_range",
        )
    value = parsed
    if negate:
        value = -value
    if not INT_MIN <= value <= INT_MAX:
        raise b.error(
            f"integer literal `{'-' if negate else ''}{_short(text)}` is out of range",
            b.span(token),
            code="literal_out_of_range",
        )
    return value


def _int_lit(b: _Builder, n: Tree[Any], d: int) -> ast.Expr:
    return ast.Literal(_int_value(b, _kids(n)[0]), b.span(n))


def _uint_lit(b: _Builder, n: Tree[Any], d: int) -> ast.Expr:
    text = str(_kids(n)[0])[:-1]
    value = _digits(text)
    if value is None or value > UINT_MAX:
        raise b.error(
            f"unsigned literal `{_short(text)}u` is out of range",
            b.span(n),
            code="literal_out_of_range",
        )
    return ast.Literal(UInt(value), b.span(n))


def _float_lit(b: _Builder, n: Tree[Any], d: int) -> ast.Expr:
    return ast.Literal(float(str(_kids(n)[0])), b.span(n))


def _string_lit(b: _Builder, n: Tree[Any], d: int) -> ast.Expr:
    token = _kids(n)[0]
    return ast.Literal(_decode_quoted(b, token, str(token), as_bytes=False), b.span(n))


def _bytes_lit(b: _Builder, n: Tree[Any], d: int) -> ast.Expr:
    token = _kids(n)[0]
    return ast.Literal(_decode_quoted(b, token, str(token), as_bytes=True), b.span(n))


def _true(b: _Builder, n: Tree[Any], d: int) -> ast.Expr:
    return ast.Literal(True, b.span(n))


def _false(b: _Builder, n: Tree[Any], d: int) -> ast.Expr:
    return ast.Literal(False, b.span(n))


def _null(b: _Builder, n: Tree[Any], d: int) -> ast.Expr:
    return ast.Literal(None, b.span(n))


def _decode_quoted(b: _Builder, token: Token, text: str, as_bytes: bool) -> Any:
    prefix_len = 0
    raw = False
    while text[prefix_len] not in "'\"":
        raw = raw or text[prefix_len] in "rR"
        prefix_len += 1
    body = text[prefix_len:]
    quote = 3 if body[:3] in ('"""', "'''") and len(body) >= 6 else 1
    inner = body[quote:-quote]
    start = (token.start_pos or 0) + prefix_len + quote
    if raw:
        return inner.encode("utf-8") if as_bytes else inner
    return _unescape(b, inner, start, as_bytes)


def _unescape(b: _Builder, text: str, start: int, as_bytes: bool) -> Any:
    if "\\" not in text:  # no escape: the common case, at C speed
        return text.encode("utf-8") if as_bytes else text
    out = bytearray()
    chars: list[str] = []
    i = 0
    n = len(text)

    def bad(msg: str, j: int, width: int) -> ParseError:
        span = Span(b.source, b.offset + start + j, b.offset + start + j + width)
        return b.error(msg, span, code="invalid_escape")

    def emit_char(ch: str) -> None:
        if as_bytes:
            out.extend(ch.encode("utf-8"))
        else:
            chars.append(ch)

    while i < n:
        ch = text[i]
        if ch != "\\":
            emit_char(ch)
            i += 1
            continue
        if i + 1 >= n:
            raise bad("a backslash must start an escape sequence", i, 1)
        e = text[i + 1]
        if e in _ESCAPES:
            emit_char(_ESCAPES[e])
            i += 2
        elif e in "xX":
            digits = text[i + 2 : i + 4]
            if len(digits) != 2 or not _is_hex(digits):
                raise bad("`\\x` must be followed by two hexadecimal digits", i, 2)
            value = int(digits, 16)
            if as_bytes:
                out.append(value)
            else:
                chars.append(chr(value))
            i += 4
        elif e in "uU":
            count = 4 if e == "u" else 8
            digits = text[i + 2 : i + 2 + count]
            if len(digits) != count or not _is_hex(digits):
                raise bad(f"`\\{e}` must be followed by {count} hexadecimal digits", i, 2)
            code = int(digits, 16)
            if 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
                raise bad(f"`\\{e}{digits}` is not a valid Unicode code point", i, 2 + count)
            if as_bytes and e == "U":
                raise bad("`\\U` escapes are not allowed in bytes literals", i, 2 + count)
            emit_char(chr(code))
            i += 2 + count
        elif e in "0123":
            digits = text[i + 1 : i + 4]
            if len(digits) != 3 or any(c not in "01234567" for c in digits):
                raise bad("octal escapes take exactly three digits, `\\000` to `\\377`", i, 2)
            value = int(digits, 8)
            if as_bytes:
                out.append(value)
            else:
                chars.append(chr(value))
            i += 4
        else:
            raise bad(f"invalid escape sequence `\\{e}`", i, 2)
    return bytes(out) if as_bytes else "".join(chars)


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdefABCDEF" for c in text)


_HANDLERS: Final[dict[str, Callable[[_Builder, Tree[Any], int], ast.Expr]]] = {
    "conditional": _conditional,
    "or_": _left_chain,
    "and_": _left_chain,
    "relop": _left_chain,
    "binop": _left_chain,
    "in_": _left_chain,
    "not_": _not,
    "neg": _neg,
    "select": _select,
    "quoted_select": _quoted_select,
    "method": _method,
    "index": _index,
    "message": _message,
    "ident": _ident,
    "call": _call,
    "list_": _list,
    "map_": _map,
    "int_lit": _int_lit,
    "uint_lit": _uint_lit,
    "float_lit": _float_lit,
    "string_lit": _string_lit,
    "bytes_lit": _bytes_lit,
    "true_lit": _true,
    "false_lit": _false,
    "null_lit": _null,
}

#: :data:`_HANDLERS` by the tree's ``data`` as lark writes it: the rule's own name
#: in the CEL grammar, ``cel__`` before it where a grammar imports CEL's.
_DISPATCH: Final = {**_HANDLERS, **{f"cel__{name}": h for name, h in _HANDLERS.items()}}
