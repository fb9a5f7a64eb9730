"""The optional CEL type checker: AST + declarations -> result type, or CheckError.

In: a parsed expression (:mod:`socialflow.cel.ast`) and declarations mapping
variable names to CEL types (:mod:`socialflow.cel.types`, or their text such as
``"map(string, dyn)"``).  Out: the expression's type, or a
:class:`~socialflow.errors.CheckError` holding every error found (the walk
does not stop at the first one).

What it does, as cel-go's checker does: resolves identifiers (comprehension
variables shadow declarations; type names such as ``int`` are values of type
``type(int)``; dotted declarations such as ``a.b`` are found by the longest
prefix, as the evaluators find them), infers a type for every node, and
resolves each call against the table of standard and extension function
signatures (:data:`SIGNATURES`).

How ``dyn`` propagates: a ``dyn`` argument matches any parameter; the result is
the common result type of every overload that matches (``dyn + 1`` is ``int``,
``dyn + dyn`` is ``dyn``, ``size(dyn)`` is ``int``).  Selecting or indexing
into ``dyn`` gives ``dyn``.  An expression that already has a reported error
gets the error type, which is as lenient as ``dyn`` and is never reported
again, so one mistake gives one diagnostic.

:func:`check_expr` also returns the side tables (type and matched overloads of
each node, keyed by node identity); :func:`format_checked` renders them for
golden tests.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, assert_never

import attrs

from socialflow.cel import ast
from socialflow.cel.functions import (
    FUNCTIONS,
    GLOBAL_ONLY,
    OPERATORS,
    RECEIVER_ONLY,
    Overload,
    signature_text,
)
from socialflow.cel.functions import SIGNATURES as _SIGNATURES
from socialflow.cel.types import (
    BOOL,
    BYTES,
    DOUBLE,
    DYN,
    ERROR,
    INT,
    NULL,
    STRING,
    TYPE,
    UINT,
    CelType,
    DynType,
    ErrorType,
    ListType,
    MapType,
    ObjectType,
    PrimitiveType,
    TypeParam,
    TypeType,
    format_type,
    is_assignable,
    is_type,
    parse_type,
    suggest,
)
from socialflow.cel.values import TYPE_NAMES, UInt
from socialflow.errors import CheckError, Diagnostic, Severity, SourceLimitError, UsageError
from socialflow.source import Span

__all__ = ["SIGNATURES", "CheckedExpr", "Overload", "check", "check_expr", "format_checked"]


#: Function or operator name -> its signatures (derived from the registry in
#: :mod:`socialflow.cel.functions`, re-exported here with :class:`Overload`).
#: The operators ``_==_``, ``_!=_``, ``@in`` and ``_?_:_`` are listed for
#: reference; the checker applies CEL's heterogeneous equality to them directly.
SIGNATURES: Final[Mapping[str, tuple[Overload, ...]]] = _SIGNATURES

_NUMBERS: Final = (INT, UINT, DOUBLE)
_KEY_TYPES: Final = (INT, UINT, BOOL, STRING)

#: Macro name -> how to call it (for calls that look like a macro but do not fit it).
_MACRO_USAGE: Final = {
    "has": "`has(a.b)`",
    "all": "`r.all(x, p)` or `r.all(i, v, p)`",
    "exists": "`r.exists(x, p)` or `r.exists(i, v, p)`",
    "exists_one": "`r.exists_one(x, p)` or `r.exists_one(i, v, p)`",
    "existsOne": "`r.existsOne(x, p)` or `r.existsOne(i, v, p)`",
    "map": "`r.map(x, f)` or `r.map(x, p, f)`",
    "filter": "`r.filter(x, p)`",
    "transformList": "`r.transformList(i, v, f)` or `r.transformList(i, v, p, f)`",
    "transformMap": "`r.transformMap(k, v, f)` or `r.transformMap(k, v, p, f)`",
}
_MACRO_NAMES: Final = {
    "all": "all",
    "exists": "exists",
    "exists_one": "exists_one",
    "map": "map",
    "filter": "filter",
    "transform_list": "transformList",
    "transform_map": "transformMap",
}
_BINARY_TEXT: Final = {
    "_==_": "==",
    "_!=_": "!=",
    "_<_": "<",
    "_<=_": "<=",
    "_>_": ">",
    "_>=_": ">=",
    "_+_": "+",
    "_-_": "-",
    "_*_": "*",
    "_/_": "/",
    "_%_": "%",
    "_&&_": "&&",
    "_||_": "||",
    "@in": "in",
}


_UNARY_TEXT: Final = {"!_": "!", "-_": "-"}
_COMPARISONS: Final = frozenset(["_==_", "_!=_", "_<_", "_<=_", "_>_", "_>=_"])
_ARITHMETIC: Final = frozenset(["_+_", "_-_", "_*_", "_/_", "_%_"])
#: Which conversion function turns a value of one type into another: the
#: target's name (``int(...)``), keyed by (from, to).
_CONVERSIONS: Final = frozenset(
    [
        *((t, INT) for t in (STRING, DOUBLE, UINT)),
        *((t, UINT) for t in (STRING, DOUBLE, INT)),
        *((t, DOUBLE) for t in (STRING, INT, UINT)),
        *((t, STRING) for t in (INT, UINT, DOUBLE, BOOL, BYTES)),
    ]
)
#: Characters of an operand shown in a suggested rewrite before it is cut short.
_OPERAND_SHOWN: Final = 40
#: Functions of other languages -> CEL's, and whether CEL's is called as a method.
_OTHER_LANGUAGES: Final = {
    "lower": ("lowerAscii", True),
    "toLowerCase": ("lowerAscii", True),
    "tolower": ("lowerAscii", True),
    "upper": ("upperAscii", True),
    "toUpperCase": ("upperAscii", True),
    "toupper": ("upperAscii", True),
    "len": ("size", False),
    "length": ("size", False),
    "count": ("size", False),
    "startswith": ("startsWith", True),
    "endswith": ("endsWith", True),
    "includes": ("contains", True),
    "strip": ("trim", True),
    "find": ("indexOf", True),
    "str": ("string", False),
    "float": ("double", False),
}


def _other_language_help(node: ast.Call) -> str | None:
    """``s.lower()`` -> "CEL's name for it is `lowerAscii`: write `s.lowerAscii()`"."""
    known = _OTHER_LANGUAGES.get(node.function)
    if known is None:
        return None
    meant, method = known
    values = [_operand_text(o) for o in _operands(node)]
    if method and values:
        written = f"{values[0]}.{meant}({', '.join(values[1:])})"
    else:
        written = f"{meant}({', '.join(values)})"
    return f"CEL's name for it is `{meant}`: write `{written}`"


def _operands(node: ast.Call) -> tuple[ast.Expr, ...]:
    return node.args if node.target is None else (node.target, *node.args)


def _operator_message(
    name: str, args: tuple[CelType, ...], operands: tuple[ast.Expr, ...]
) -> tuple[str, str | None] | None:
    """The message and help for an operator applied to types it does not take,
    with the operator as written (``<=``, not ``_<=_``); ``None`` for a function."""
    types = [format_type(t) for t in args]
    if name in _UNARY_TEXT and len(args) == 1:
        if name == "!_":
            return f"`!` needs a bool, not {types[0]}", None
        return f"cannot negate {types[0]} with `-`", None
    if name == "_[_]" and len(args) == 2:
        return f"cannot index {types[0]} with {types[1]}", None
    if name == "_?_:_" and len(args) == 3:
        if not _unify(BOOL, args[0], {}):
            return f"the condition before `?` must be a bool, not {types[0]}", None
        return f"the two branches of `? :` differ: {types[1]} and {types[2]}", None
    if name not in _BINARY_TEXT or len(args) != 2:
        return None
    op = _BINARY_TEXT[name]
    left, right = args
    if name in ("_&&_", "_||_"):
        return f"`{op}` needs bool operands, not {types[0]} and {types[1]}", None
    if name == "@in":
        message = f"cannot look for {types[0]} `in` {types[1]}"
        if right == STRING and len(operands) == 2:
            a, b = (_operand_text(o) for o in operands)
            item = a if left == STRING else f"string({a})"
            return message, f"to look for text in a string, write `{b}.contains({item})`"
        return message, None
    if name in _COMPARISONS:
        message = f"cannot compare {types[0]} with {types[1]} using `{op}`"
    elif name in _ARITHMETIC:
        message = f"cannot apply `{op}` to {types[0]} and {types[1]}"
    else:  # pragma: no cover - every binary operator is one of the above
        return None
    return message, _conversion_help(op, left, right, operands)


def _conversion_help(
    op: str, left: CelType, right: CelType, operands: tuple[ast.Expr, ...]
) -> str | None:
    """``convert one side: `a <= int(b)` or `string(a) <= b``` where a
    conversion function fits."""
    if len(operands) != 2 or left == right:
        return None
    a, b = (_operand_text(o) for o in operands)
    options = []
    if (right, left) in _CONVERSIONS:
        options.append(f"`{a} {op} {format_type(left)}({b})`")
    if (left, right) in _CONVERSIONS:
        options.append(f"`{format_type(right)}({a}) {op} {b}`")
    if not options:
        return None
    return f"convert one side: {' or '.join(options)}"


def _operand_text(operand: ast.Expr) -> str:
    text = " ".join(operand.span.text().split())
    return text if len(text) <= _OPERAND_SHOWN else f"{text[: _OPERAND_SHOWN - 3]}..."


def _function_names() -> tuple[str, ...]:
    names = {n for n in (*SIGNATURES, *FUNCTIONS) if n not in OPERATORS}
    return tuple(sorted(names))


# -- results ------------------------------------------------------------------------------


@attrs.frozen(eq=False)
class CheckedExpr:
    """A type-checked expression with cel-go-style side tables.

    ``types`` and ``overloads`` are keyed by ``id(node)`` of the nodes of
    ``expr`` (the tree is kept alive by this object); use :meth:`type_of` and
    :meth:`overloads_of`.
    """

    expr: ast.Expr
    type: CelType
    types: Mapping[int, CelType] = attrs.field(repr=False)
    overloads: Mapping[int, tuple[Overload, ...]] = attrs.field(repr=False)

    def type_of(self, node: ast.Expr) -> CelType:
        """The inferred type of ``node`` (a node of :attr:`expr`)."""
        return self.types.get(id(node), DYN)

    def overloads_of(self, node: ast.Expr) -> tuple[Overload, ...]:
        """The signatures a call node matched (more than one when an argument is ``dyn``)."""
        return self.overloads.get(id(node), ())


def check(tree: ast.Expr, declarations: Mapping[str, CelType | str]) -> CelType:
    """Type-check ``tree`` against ``declarations`` and return its type.

    Args:
        tree: a parsed expression (:func:`socialflow.cel.parser.parse`).
        declarations: variable name -> CEL type or type text (``"list(int)"``).

    Raises:
        CheckError: with every error found (undeclared names, functions or
            fields, calls that match no overload).
        UsageError: a declaration is not a type.
    """
    return check_expr(tree, declarations).type


def check_expr(tree: ast.Expr, declarations: Mapping[str, CelType | str]) -> CheckedExpr:
    """Like :func:`check`, returning the type of every node as well."""
    checker = _Checker(_declarations(declarations))
    try:
        result = checker.check(tree, {})
    except RecursionError:
        raise SourceLimitError(
            "nesting_too_deep", "expression is nested too deeply", tree.span
        ) from None
    if checker.diagnostics:
        ordered = sorted(
            checker.diagnostics, key=lambda d: (d.span.start, d.span.end) if d.span else (0, 0)
        )
        raise CheckError(ordered)
    return CheckedExpr(tree, result, checker.types, checker.overloads)


def _declarations(declarations: Mapping[str, Any]) -> dict[str, CelType]:
    if not isinstance(declarations, Mapping):
        raise UsageError("declarations must be a mapping of variable names to CEL types")
    out: dict[str, CelType] = {}
    for name, value in declarations.items():
        if not isinstance(name, str):
            raise UsageError(f"declaration names must be strings, not {type(name).__name__}")
        if isinstance(value, str):
            try:
                out[name] = parse_type(value)
            except UsageError as e:
                raise UsageError(f"declaration of `{name}`: {e}") from None
        elif is_type(value):
            out[name] = value
        else:
            raise UsageError(
                f"the declaration of `{name}` must be a CEL type or its text "
                f"(such as 'int' or 'list(string)'), not {type(value).__name__}"
            )
    return out


# -- the walk -----------------------------------------------------------------------------


def _lenient(t: CelType) -> bool:
    return isinstance(t, (DynType, ErrorType, TypeParam))


def _is_number(t: CelType) -> bool:
    return t in _NUMBERS


def _comparable(a: CelType, b: CelType) -> bool:
    """May ``a == b`` be written?  Numbers compare across types, as CEL's runtime does."""
    if _lenient(a) or _lenient(b) or a == b:
        return True
    match a, b:
        case (PrimitiveType(), PrimitiveType()):
            return _is_number(a) and _is_number(b)
        case (TypeType(), TypeType()):
            return True
        case (ListType(element=x), ListType(element=y)):
            return _comparable(x, y)
        case (MapType(key=k1, value=v1), MapType(key=k2, value=v2)):
            return _comparable(k1, k2) and _comparable(v1, v2)
        case (ObjectType(), MapType(key=k)) | (MapType(key=k), ObjectType()):
            return _comparable(k, STRING)
    return is_assignable(a, b) or is_assignable(b, a)


def _join(a: CelType, b: CelType) -> CelType:
    """The most specific type both ``a`` and ``b`` values have (``dyn`` at worst)."""
    if a == b:
        return a
    if isinstance(a, ErrorType) or isinstance(b, ErrorType):
        return ERROR
    match a, b:
        case (ListType(element=x), ListType(element=y)):
            return ListType(_join(x, y))
        case (MapType(key=k1, value=v1), MapType(key=k2, value=v2)):
            return MapType(_join(k1, k2), _join(v1, v2))
        case (ObjectType(), PrimitiveType(kind="null_type")):
            return a
        case (PrimitiveType(kind="null_type"), ObjectType()):
            return b
        case (TypeType(), TypeType()):
            return TYPE
    return DYN


def _params_to_dyn(t: CelType, bindings: dict[str, CelType]) -> None:
    match t:
        case TypeParam(name=name):
            bindings[name] = DYN
        case ListType(element=e):
            _params_to_dyn(e, bindings)
        case MapType(key=k, value=v):
            _params_to_dyn(k, bindings)
            _params_to_dyn(v, bindings)
        case TypeType(param=p) if p is not None:
            _params_to_dyn(p, bindings)


def _unify(param: CelType, arg: CelType, bindings: dict[str, CelType]) -> bool:
    """Match ``arg`` against ``param``, binding type parameters; dyn matches anything."""
    match param:
        case TypeParam(name=name):
            bound = bindings.get(name)
            if bound is None or bound == arg:
                bindings[name] = arg
                return True
            if not (is_assignable(bound, arg) or is_assignable(arg, bound)):
                return False
            bindings[name] = _join(bound, arg)
            return True
        case DynType():
            return True
    if isinstance(arg, (DynType, ErrorType)):
        _params_to_dyn(param, bindings)
        return True
    match param, arg:
        case (ListType(element=p), ListType(element=a)):
            return _unify(p, a, bindings)
        case (MapType(key=pk, value=pv), MapType(key=ak, value=av)):
            return _unify(pk, ak, bindings) and _unify(pv, av, bindings)
        case (MapType(), ObjectType()):
            return _unify(param, MapType(STRING, DYN), bindings)
        case (TypeType(param=p), TypeType(param=a)):
            if p is None:
                return True
            if a is None:
                _params_to_dyn(p, bindings)
                return True
            return _unify(p, a, bindings)
    return is_assignable(param, arg)


def _substitute(t: CelType, bindings: Mapping[str, CelType]) -> CelType:
    match t:
        case TypeParam(name=name):
            return bindings.get(name, DYN)
        case ListType(element=e):
            return ListType(_substitute(e, bindings))
        case MapType(key=k, value=v):
            return MapType(_substitute(k, bindings), _substitute(v, bindings))
        case TypeType(param=p) if p is not None:
            return TypeType(_substitute(p, bindings))
    return t


def _literal_type(value: Any) -> CelType:
    t = type(value)
    if t is bool:
        return BOOL
    if t is UInt:
        return UINT
    if t is int:
        return INT
    if t is float:
        return DOUBLE
    if t is str:
        return STRING
    if t is bytes:
        return BYTES
    if value is None:
        return NULL
    return DYN  # pragma: no cover - the parser makes only the literals above


def _types_text(types: Iterable[CelType]) -> str:
    return ", ".join(format_type(t) for t in types)


def _type_value(name: str) -> CelType:
    """The type of the type name ``name`` used as a value (``int`` is a ``type(int)``)."""
    special: dict[str, CelType] = {
        "list": ListType(DYN),
        "map": MapType(DYN, DYN),
        "type": TYPE,
    }
    if name in special:
        return TypeType(special[name])
    try:
        return TypeType(parse_type(name))
    except UsageError:  # a type name this checker does not know: any type value
        return TYPE


#: Type names usable as values (the runtime's) -> the type of that value.
_TYPE_VALUES: Final[Mapping[str, CelType]] = {name: _type_value(name) for name in TYPE_NAMES}


@functools.lru_cache(maxsize=4096)
def _resolve(name: str, args: tuple[CelType, ...]) -> tuple[tuple[Overload, ...], CelType] | None:
    """The overloads of ``name`` that accept ``args`` and the call's type (``dyn``
    when they disagree), or ``None``.  A pure function of immutable values,
    memoised: a ruleset makes the same calls on the same types thousands of times."""
    matched: list[Overload] = []
    results: list[CelType] = []
    for overload in SIGNATURES[name]:
        if len(overload.params) != len(args):
            continue
        bindings: dict[str, CelType] = {}
        if all(_unify(p, a, bindings) for p, a in zip(overload.params, args, strict=True)):
            matched.append(overload)
            result = _substitute(overload.result, bindings)
            if result not in results:
                results.append(result)
    if not matched:
        return None
    return tuple(matched), results[0] if len(results) == 1 else DYN


class _Checker:
    def __init__(self, declarations: dict[str, CelType]) -> None:
        self.declarations = declarations
        self.diagnostics: list[Diagnostic] = []
        self.types: dict[int, CelType] = {}
        self.overloads: dict[int, tuple[Overload, ...]] = {}
        self.dotted_roots = frozenset(n.split(".", 1)[0] for n in declarations if "." in n)

    def error(self, code: str, message: str, span: Span, help: str | None = None) -> CelType:
        self.diagnostics.append(Diagnostic(Severity.ERROR, code, message, span, help=help))
        return ERROR

    def check(self, node: ast.Expr, scope: Mapping[str, CelType]) -> CelType:
        match node:
            case ast.Literal(value=value):
                result = _literal_type(value)
            case ast.Ident():
                result = self.ident(node, scope)
            case ast.Select():
                result = self.select(node, scope)
            case ast.Index():
                result = self.index(node, scope)
            case ast.Call():
                result = self.call(node, scope)
            case ast.CreateList(elements=elements):
                element: CelType | None = None
                for e in elements:
                    t = self.check(e, scope)
                    element = t if element is None else _join(element, t)
                result = ERROR if isinstance(element, ErrorType) else ListType(element or DYN)
            case ast.CreateMap(entries=entries):
                keys: CelType | None = None
                values: CelType | None = None
                for k, v in entries:
                    kt = self.check(k, scope)
                    vt = self.check(v, scope)
                    if not (_lenient(kt) or kt in _KEY_TYPES):
                        self.error(
                            "invalid_argument",
                            f"unsupported map key type `{format_type(kt)}`",
                            k.span,
                            "map keys are int, uint, bool or string",
                        )
                    keys = kt if keys is None else _join(keys, kt)
                    values = vt if values is None else _join(values, vt)
                if isinstance(keys, ErrorType) or isinstance(values, ErrorType):
                    result = ERROR
                else:
                    result = MapType(keys or DYN, values or DYN)
            case ast.Comprehension():
                result = self.comprehension(node, scope)
            case _:  # pragma: no cover - every node type is handled above
                assert_never(node)
        self.types[id(node)] = result
        return result

    # -- names --------------------------------------------------------------------------
    def ident(self, node: ast.Ident, scope: Mapping[str, CelType]) -> CelType:
        name = node.name
        found = scope.get(name)
        if found is None:
            found = self.declarations.get(name)
        if found is None:
            found = _TYPE_VALUES.get(name)
        if found is not None:
            return found
        if name in SIGNATURES or name in FUNCTIONS:
            help_text: str | None = (
                f"`{name}` is a method: write `x.{name}(...)`"
                if name in RECEIVER_ONLY
                else f"`{name}` is a function: write `{name}(x)`"
            )
        else:
            help_text = suggest(name, [*scope, *self.declarations, *_TYPE_VALUES])
        return self.error(
            "undeclared_reference", f"undeclared reference to `{name}`", node.span, help_text
        )

    def qualified(
        self, node: ast.Select, scope: Mapping[str, CelType]
    ) -> tuple[CelType, tuple[str, ...]] | None:
        """Resolve ``a.b.c`` rooted at an undeclared ``a`` against dotted declarations:
        the type of the longest declared prefix and the fields left to select."""
        names = [node.field]
        inner: ast.Expr = node.operand
        while isinstance(inner, ast.Select) and not inner.test_only:
            names.append(inner.field)
            inner = inner.operand
        if not isinstance(inner, ast.Ident):
            return None
        root = inner.name
        if root in scope or root in self.declarations or root not in self.dotted_roots:
            return None
        names.append(root)
        names.reverse()
        longest = len(names) - 1 if node.test_only else len(names)
        for k in range(longest, 1, -1):
            found = self.declarations.get(".".join(names[:k]))
            if found is not None:
                return found, tuple(names[k:])
        dotted = sorted(n for n in self.declarations if "." in n)
        self.error(
            "undeclared_reference",
            f"undeclared reference to `{'.'.join(names[:longest])}`",
            node.span if not node.test_only else node.operand.span,
            suggest(".".join(names[:longest]), dotted),
        )
        return ERROR, ()

    def select(self, node: ast.Select, scope: Mapping[str, CelType]) -> CelType:
        resolved = self.qualified(node, scope)
        if resolved is not None:
            t, rest = resolved
            for field in rest:
                t = self.field(t, field, node.span)
            if node.test_only and not isinstance(t, ErrorType):
                return BOOL
            return t
        operand = self.check(node.operand, scope)
        t = self.field(operand, node.field, node.span)
        if node.test_only and not isinstance(t, ErrorType):
            return BOOL
        return t

    def field(self, operand: CelType, field: str, span: Span) -> CelType:
        """The type of ``operand.field`` (reporting a missing field)."""
        match operand:
            case ObjectType():
                found = operand.field(field)
                if found is not None:
                    return found
                return self.error(
                    "undeclared_field",
                    f"type `{operand.name}` has no field `{field}`",
                    span,
                    suggest(field, operand.field_names),
                )
            case MapType(key=key, value=value):
                if _lenient(key) or key == STRING:
                    return value
            case DynType() | TypeParam():
                return DYN
            case ErrorType():
                return ERROR
        return self.error(
            "invalid_select",
            f"type `{format_type(operand)}` does not support field selection (`.{field}`)",
            span,
            "index a map with `m[key]`" if isinstance(operand, MapType) else None,
        )

    # -- calls --------------------------------------------------------------------------
    def index(self, node: ast.Index, scope: Mapping[str, CelType]) -> CelType:
        container = self.check(node.operand, scope)
        key = self.check(node.index, scope)
        if isinstance(container, ErrorType) or isinstance(key, ErrorType):
            return ERROR
        match container:
            case ObjectType():
                if key == STRING or _lenient(key):
                    if isinstance(node.index, ast.Literal) and isinstance(node.index.value, str):
                        return self.field(container, node.index.value, node.span)
                    return DYN
            case MapType(key=k, value=v):
                if _comparable(key, k):
                    return v
            case ListType(element=e):
                if key in (INT, UINT) or _lenient(key):
                    return e
            case DynType() | TypeParam():
                return DYN
        return self.no_overload("_[_]", (container, key), node.span)

    def call(self, node: ast.Call, scope: Mapping[str, CelType]) -> CelType:
        name = node.function
        if name in _MACRO_USAGE and name not in SIGNATURES and name not in FUNCTIONS:
            count = len(node.args)
            return self.error(
                "no_matching_overload",
                f"wrong number of arguments for macro `{name}` "
                f"({count} argument{'' if count == 1 else 's'})",
                node.span,
                f"write {_MACRO_USAGE[name]}",
            )
        receiver = () if node.target is None else (self.check(node.target, scope),)
        args = (*receiver, *(self.check(a, scope) for a in node.args))
        if name not in SIGNATURES and name not in FUNCTIONS:
            help_text = _other_language_help(node) or suggest(name, _function_names())
            return self.error(
                "undeclared_function", f"undeclared function `{name}`", node.span, help_text
            )
        if node.target is not None and name in GLOBAL_ONLY:
            return self.error(
                "no_matching_overload",
                f"`{name}` is a function, not a method: write `{name}(x)`",
                node.span,
            )
        if node.target is None and name in RECEIVER_ONLY:
            return self.error(
                "no_matching_overload",
                f"`{name}` is a method: write `x.{name}(...)`",
                node.span,
            )
        if any(isinstance(a, ErrorType) for a in args):
            return ERROR
        special = _SPECIAL.get(name)
        if special is not None:
            return special(self, node, args)
        overloads = SIGNATURES.get(name)
        if overloads is None:  # a runtime function without a signature: check leniently
            return DYN
        return self.resolve(node, name, args, overloads)

    def resolve(
        self,
        node: ast.Call,
        name: str,
        args: tuple[CelType, ...],
        overloads: tuple[Overload, ...],
    ) -> CelType:
        resolved = _resolve(name, args)
        if resolved is None:
            return self.no_overload(name, args, node.span, overloads, _operands(node))
        self.overloads[id(node)], result = resolved
        return result

    def no_overload(
        self,
        name: str,
        args: tuple[CelType, ...],
        span: Span,
        overloads: tuple[Overload, ...] = (),
        operands: tuple[ast.Expr, ...] = (),
    ) -> CelType:
        operator = _operator_message(name, args, operands)
        if operator is not None:
            return self.error("no_matching_overload", operator[0], span, operator[1])
        help_text = None
        if overloads and name not in OPERATORS and len(overloads) <= 4:
            shown = [f"`{signature_text(name, o.params)}`" for o in overloads]
            help_text = (
                f"expected {shown[0]}"
                if len(shown) == 1
                else f"expected one of {', '.join(shown[:-1])} or {shown[-1]}"
            )
        return self.error(
            "no_matching_overload",
            f"no matching overload for `{name}` applied to ({_types_text(args)})",
            span,
            help_text,
        )

    # -- operators with their own rules ---------------------------------------------------
    def equality(self, node: ast.Call, args: tuple[CelType, ...]) -> CelType:
        if len(args) == 2 and _comparable(args[0], args[1]):
            self.overloads[id(node)] = SIGNATURES[node.function]
            return BOOL
        return self.no_overload(node.function, args, node.span, (), _operands(node))

    def membership(self, node: ast.Call, args: tuple[CelType, ...]) -> CelType:
        if len(args) == 2:
            item, container = args
            ok = False
            match container:
                case ListType(element=e):
                    ok = _comparable(item, e)
                case MapType(key=k):
                    ok = _comparable(item, k)
                case ObjectType():
                    ok = _comparable(item, STRING)
                case DynType() | TypeParam():
                    ok = True
            if ok:
                self.overloads[id(node)] = SIGNATURES["@in"]
                return BOOL
        return self.no_overload("@in", args, node.span, (), _operands(node))

    def conditional(self, node: ast.Call, args: tuple[CelType, ...]) -> CelType:
        if len(args) == 3 and _unify(BOOL, args[0], {}):
            then, other = args[1], args[2]
            if is_assignable(then, other) or is_assignable(other, then):
                self.overloads[id(node)] = SIGNATURES["_?_:_"]
                if _lenient(then) or _lenient(other):
                    return DYN
                return _join(then, other)
        return self.no_overload("_?_:_", args, node.span)

    # -- comprehensions -----------------------------------------------------------------
    def comprehension(self, node: ast.Comprehension, scope: Mapping[str, CelType]) -> CelType:
        macro = _MACRO_NAMES.get(node.kind, node.kind)
        rng = self.check(node.range, scope)
        ok = True
        first: CelType
        second: CelType
        match rng:
            case ListType(element=e):
                first, second = (INT, e) if node.var2 is not None else (e, DYN)
            case MapType(key=k, value=v):
                first, second = k, v
            case ObjectType():
                first, second = STRING, DYN
            case DynType() | ErrorType() | TypeParam():
                first, second = DYN, DYN
            case _:
                self.no_overload(macro, (rng,), node.range.span)
                first, second, ok = DYN, DYN, False
        inner = dict(scope)
        inner[node.var] = first
        if node.var2 is not None:
            inner[node.var2] = second
        if node.filter is not None:
            ok = self.predicate(macro, node.filter, inner) and ok
        body: CelType = BOOL
        if node.kind in ("all", "exists", "exists_one", "filter"):
            ok = self.predicate(macro, node.body, inner) and ok
        else:
            body = self.check(node.body, inner)
        if not ok or isinstance(rng, ErrorType) or isinstance(body, ErrorType):
            return ERROR
        match node.kind:
            case "all" | "exists" | "exists_one":
                return BOOL
            case "filter":
                return ListType(first)
            case "map" | "transform_list":
                return ListType(body)
            case "transform_map":
                return MapType(first, body)
        return DYN  # pragma: no cover - COMPREHENSION_KINDS are all handled

    def predicate(self, macro: str, node: ast.Expr, scope: Mapping[str, CelType]) -> bool:
        t = self.check(node, scope)
        if t == BOOL or _lenient(t):
            return not isinstance(t, ErrorType)
        self.error(
            "no_matching_overload",
            f"the predicate of `{macro}` must be a `bool`, not `{format_type(t)}`",
            node.span,
        )
        return False


_SPECIAL: Final[dict[str, Callable[[_Checker, ast.Call, tuple[CelType, ...]], CelType]]] = {
    "_==_": _Checker.equality,
    "_!=_": _Checker.equality,
    "@in": _Checker.membership,
    "_?_:_": _Checker.conditional,
}


# -- golden rendering ---------------------------------------------------------------------


def format_checked(tree: ast.Expr, declarations: Mapping[str, CelType | str]) -> str:
    """The expression rebuilt from its AST with every node annotated ``~type``.

    >>> from socialflow.cel.parser import parse
    >>> format_checked(parse("x.size() > 1"), {"x": "list(int)"})
    '(x~list(int).size()~int > 1~int)~bool'
    """
    checked = check_expr(tree, declarations)
    return _unparse(tree, lambda node, text: f"{text}~{format_type(checked.type_of(node))}")


def unparse(tree: ast.Expr) -> str:
    """CEL source text for ``tree`` (binary operators fully parenthesised).

    ``parse(unparse(tree)) == tree`` for trees the parser produces.
    """
    return _unparse(tree, lambda node, text: text)


_IDENT_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def _field_text(name: str) -> str:
    if name and not name[0].isdigit() and set(name) <= _IDENT_CHARS:
        return name
    return f"`{name}`"


def _string_text(value: str) -> str:
    out = ['"']
    for ch in value:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F or 0xD800 <= ord(ch) <= 0xDFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _bytes_text(value: bytes) -> str:
    out = ['b"']
    for byte in value:
        ch = chr(byte)
        if ch in '"\\':
            out.append("\\" + ch)
        elif 0x20 <= byte < 0x7F:
            out.append(ch)
        else:
            out.append(f"\\x{byte:02x}")
    out.append('"')
    return "".join(out)


def _literal_text(value: Any) -> str:
    t = type(value)
    if t is bool:
        return "true" if value else "false"
    if value is None:
        return "null"
    if t is UInt:
        return f"{int(value)}u"
    if t is int:
        return str(value)
    if t is float:
        if math.isnan(value):
            return 'double("NaN")'
        if math.isinf(value):
            return 'double("Infinity")' if value > 0 else 'double("-Infinity")'
        text = repr(value)
        return text if any(c in text for c in ".e") else text + ".0"
    if t is str:
        return _string_text(value)
    if t is bytes:
        return _bytes_text(value)
    return repr(value)  # pragma: no cover - the parser makes only the literals above


def _unparse(node: ast.Expr, note: Callable[[ast.Expr, str], str]) -> str:
    def go(n: ast.Expr) -> str:
        return _unparse(n, note)

    def member(n: ast.Expr) -> str:
        """``n`` as the operand of ``.``/``[]``: unary forms need parentheses."""
        text = go(n)
        if text.startswith(("-", "!")):
            return f"({text})"
        return text

    match node:
        case ast.Literal(value=value):
            text = _literal_text(value)
        case ast.Ident(name=name):
            text = name
        case ast.Select(operand=operand, field=field, test_only=test_only):
            text = f"{member(operand)}.{_field_text(field)}"
            if test_only:
                text = f"has({text})"
        case ast.Index(operand=operand, index=index):
            text = f"{member(operand)}[{go(index)}]"
        case ast.CreateList(elements=elements):
            text = f"[{', '.join(go(e) for e in elements)}]"
        case ast.CreateMap(entries=entries):
            text = "{" + ", ".join(f"{go(k)}: {go(v)}" for k, v in entries) + "}"
        case ast.Call(function=function, args=args, target=target):
            if target is None and function in _BINARY_TEXT and len(args) == 2:
                text = f"({go(args[0])} {_BINARY_TEXT[function]} {go(args[1])})"
            elif target is None and function in ("!_", "-_") and len(args) == 1:
                text = f"{function[0]}{go(args[0])}"
            elif target is None and function == "_?_:_" and len(args) == 3:
                text = f"({go(args[0])} ? {go(args[1])} : {go(args[2])})"
            elif target is not None:
                text = f"{member(target)}.{function}({', '.join(go(a) for a in args)})"
            else:
                text = f"{function}({', '.join(go(a) for a in args)})"
        case ast.Comprehension(kind=kind, var=var, var2=var2, range=rng, body=body, filter=flt):
            parts = [var] if var2 is None else [var, var2]
            if flt is not None:
                parts.append(go(flt))
            parts.append(go(body))
            text = f"{member(rng)}.{_MACRO_NAMES.get(kind, kind)}({', '.join(parts)})"
        case _:  # pragma: no cover - every node type is handled above
            assert_never(node)
    return note(node, text)
