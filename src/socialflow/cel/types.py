"""CEL type terms for the optional type checker.

Types are small frozen values, compared structurally:

- :class:`PrimitiveType`: ``int``, ``uint``, ``double``, ``bool``, ``string``,
  ``bytes``, ``null_type``, ``timestamp`` (CEL name ``google.protobuf.Timestamp``)
  and ``duration`` (``google.protobuf.Duration``);
- :class:`ListType` ``list(T)`` and :class:`MapType` ``map(K, V)``;
- :class:`TypeType`, the type of type values (``type`` or ``type(T)``);
- :class:`DynType` (``dyn``): checked leniently, compatible with everything;
- :class:`ErrorType`: the type the checker gives to an expression it already
  reported an error for, so that one mistake is reported once;
- :class:`ObjectType`: a record with declared fields, which is what a DSL
  ``schema Author { handle: string, followers: int }`` declares.  At run time
  its values are mappings.

:func:`parse_type` reads the text syntax (``"map(string, list(int))"``) and
:func:`format_type` writes it back: ``parse_type(format_type(t)) == t`` for
every type ``parse_type`` can produce.

>>> from socialflow.cel.types import parse_type, format_type
>>> format_type(parse_type("map( string , google.protobuf.Timestamp )"))
'map(string, timestamp)'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Final, TypeAlias

import attrs

from socialflow._suggest import did_you_mean
from socialflow.errors import UsageError

__all__ = [
    "BOOL",
    "BYTES",
    "DOUBLE",
    "DURATION",
    "DYN",
    "ERROR",
    "INT",
    "NULL",
    "STRING",
    "TIMESTAMP",
    "TYPE",
    "UINT",
    "CelType",
    "DynType",
    "ErrorType",
    "ListType",
    "MapType",
    "ObjectType",
    "PrimitiveType",
    "TypeParam",
    "TypeType",
    "format_type",
    "is_assignable",
    "is_type",
    "parse_type",
]

#: Primitive kind -> the CEL type name (what ``type(x)`` evaluates to).
_PRIMITIVE_NAMES: Final = {
    "int": "int",
    "uint": "uint",
    "double": "double",
    "bool": "bool",
    "string": "string",
    "bytes": "bytes",
    "null_type": "null_type",
    "timestamp": "google.protobuf.Timestamp",
    "duration": "google.protobuf.Duration",
}


def _check_kind(_: object, __: attrs.Attribute[str], kind: str) -> None:
    if kind not in _PRIMITIVE_NAMES:
        raise UsageError(f"`{kind}` is not a primitive CEL type")


@attrs.frozen(slots=True)
class PrimitiveType:
    """``int``, ``uint``, ``double``, ``bool``, ``string``, ``bytes``, ``null_type``,
    ``timestamp`` or ``duration``.  Use the constants (:data:`INT`, ...)."""

    kind: str = attrs.field(validator=_check_kind)

    @property
    def name(self) -> str:
        """The CEL type name (``google.protobuf.Timestamp`` for ``timestamp``)."""
        return _PRIMITIVE_NAMES[self.kind]

    def __str__(self) -> str:
        return self.kind


@attrs.frozen(slots=True)
class DynType:
    """``dyn``: any value; the checker accepts it wherever a type is expected."""

    def __str__(self) -> str:
        return "dyn"


@attrs.frozen(slots=True)
class ErrorType:
    """The type of an expression that already has a reported error."""

    def __str__(self) -> str:
        return "error"


@attrs.frozen(slots=True)
class TypeType:
    """The type of type values: ``type(int)`` is the type of ``int`` used as a value;
    ``type`` without a parameter accepts any type value."""

    param: CelType | None = None

    def __str__(self) -> str:
        return format_type(self)


@attrs.frozen(slots=True)
class ListType:
    """``list(T)``."""

    element: CelType

    def __str__(self) -> str:
        return format_type(self)


@attrs.frozen(slots=True)
class MapType:
    """``map(K, V)``."""

    key: CelType
    value: CelType

    def __str__(self) -> str:
        return format_type(self)


def _fields(
    value: Mapping[str, CelType] | Iterable[tuple[str, CelType]],
) -> tuple[tuple[str, CelType], ...]:
    items: Iterable[Any] = value.items() if isinstance(value, Mapping) else value
    out: list[tuple[str, CelType]] = []
    seen: set[str] = set()
    for item in items:
        if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)):
            raise UsageError("object type fields must be (name, type) pairs")
        name, field_type = item
        if not isinstance(field_type, _TYPE_CLASSES):
            raise UsageError(f"the type of field `{name}` must be a CEL type")
        if name in seen:
            raise UsageError(f"field `{name}` is declared twice")
        seen.add(name)
        out.append((name, field_type))
    return tuple(out)


@attrs.frozen(slots=True)
class ObjectType:
    """A record type with declared fields (a DSL ``schema``).

    ``fields`` is a tuple of ``(name, type)`` pairs (a mapping is accepted and
    converted).  Selecting an undeclared field is a check error.
    """

    name: str
    fields: tuple[tuple[str, CelType], ...] = attrs.field(converter=_fields)

    def field(self, name: str) -> CelType | None:
        """The type of field ``name``, or ``None`` if it is not declared."""
        for field_name, field_type in self.fields:
            if field_name == name:
                return field_type
        return None

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.fields)

    def __str__(self) -> str:
        return self.name


@attrs.frozen(slots=True)
class TypeParam:
    """A type variable in a function signature (``list(A) + list(A) -> list(A)``).

    Only the checker's overload table uses it; :func:`parse_type` never returns one.
    """

    name: str

    def __str__(self) -> str:
        return self.name


CelType: TypeAlias = (
    PrimitiveType | DynType | ErrorType | TypeType | ListType | MapType | ObjectType | TypeParam
)
_TYPE_CLASSES: Final = (
    PrimitiveType,
    DynType,
    ErrorType,
    TypeType,
    ListType,
    MapType,
    ObjectType,
    TypeParam,
)

INT: Final = PrimitiveType("int")
UINT: Final = PrimitiveType("uint")
DOUBLE: Final = PrimitiveType("double")
BOOL: Final = PrimitiveType("bool")
STRING: Final = PrimitiveType("string")
BYTES: Final = PrimitiveType("bytes")
NULL: Final = PrimitiveType("null_type")
TIMESTAMP: Final = PrimitiveType("timestamp")
DURATION: Final = PrimitiveType("duration")
DYN: Final = DynType()
ERROR: Final = ErrorType()
#: ``type`` without a parameter: any type value.
TYPE: Final = TypeType()

#: Map key types CEL allows.
_KEY_KINDS: Final = frozenset({"int", "uint", "bool", "string"})

_SIMPLE: Final[Mapping[str, CelType]] = {
    "int": INT,
    "uint": UINT,
    "double": DOUBLE,
    "bool": BOOL,
    "string": STRING,
    "bytes": BYTES,
    "null_type": NULL,
    "timestamp": TIMESTAMP,
    "duration": DURATION,
    "google.protobuf.Timestamp": TIMESTAMP,
    "google.protobuf.Duration": DURATION,
    "dyn": DYN,
    "any": DYN,
}
_GENERIC_ARITY: Final = {"list": 1, "map": 2, "type": 1}


def is_type(value: object) -> bool:
    """True if ``value`` is a CEL type term."""
    return isinstance(value, _TYPE_CLASSES)


def format_type(t: CelType) -> str:
    """The text syntax of ``t``: ``int``, ``list(string)``, ``map(string, dyn)``, ``Author``."""
    match t:
        case PrimitiveType(kind=kind):
            return kind
        case DynType():
            return "dyn"
        case ErrorType():
            return "error"
        case TypeType(param=param):
            return "type" if param is None else f"type({format_type(param)})"
        case ListType(element=element):
            return f"list({format_type(element)})"
        case MapType(key=key, value=value):
            return f"map({format_type(key)}, {format_type(value)})"
        case ObjectType(name=name):
            return name
        case TypeParam(name=name):
            return name
    raise UsageError(f"not a CEL type: {t!r}")


_TOKEN: Final = re.compile(r"\s*(?:([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)|(\S))")


def parse_type(text: str, objects: Mapping[str, ObjectType] | None = None) -> CelType:
    """Read a CEL type from its text syntax.

    Accepted: ``int``, ``uint``, ``double``, ``bool``, ``string``, ``bytes``,
    ``null_type``, ``dyn``, ``any`` (= ``dyn``), ``type``, ``type(T)``,
    ``timestamp``, ``duration``, ``google.protobuf.Timestamp``,
    ``google.protobuf.Duration``, ``list(T)``, ``map(K, V)`` (``K`` one of int,
    uint, bool, string or dyn), and the names in ``objects``.

    Raises:
        UsageError: the text is not a type; the message says where and why.
    """
    if not isinstance(text, str):
        raise UsageError(f"a CEL type must be given as a string, not {type(text).__name__}")
    tokens: list[tuple[str, int]] = []
    pos = 0
    while True:
        m = _TOKEN.match(text, pos)
        if m is None:
            break
        tokens.append((m.group(1) or m.group(2), m.start(m.lastindex or 0)))
        pos = m.end()
    parser = _TypeParser(text, tokens, objects or {})
    result = parser.parse()
    if parser.index < len(tokens):
        token, at = tokens[parser.index]
        raise parser.error(f"unexpected `{token}` at position {at + 1}")
    return result


@attrs.define
class _TypeParser:
    text: str
    tokens: list[tuple[str, int]]
    objects: Mapping[str, ObjectType]
    index: int = 0

    def error(self, detail: str, help_text: str | None = None) -> UsageError:
        message = f"invalid CEL type `{self.text}`: {detail}"
        if help_text:
            message += f" ({help_text})"
        return UsageError(message)

    def peek(self) -> str | None:
        return self.tokens[self.index][0] if self.index < len(self.tokens) else None

    def expect(self, token: str) -> None:
        current = self.peek()
        if current != token:
            where = (
                f"found `{current}` at position {self.tokens[self.index][1] + 1}"
                if current is not None
                else "found the end of the text"
            )
            raise self.error(f"expected `{token}`, {where}")
        self.index += 1

    def parse(self) -> CelType:
        name = self.peek()
        if name is None:
            raise self.error("expected a type name, found the end of the text")
        if not (name[0].isalpha() or name[0] == "_"):
            at = self.tokens[self.index][1] + 1
            raise self.error(f"expected a type name, found `{name}` at position {at}")
        self.index += 1
        if name in _GENERIC_ARITY:
            if self.peek() != "(":
                if name == "type":
                    return TYPE
                example = "list(dyn)" if name == "list" else "map(string, dyn)"
                raise self.error(f"`{name}` needs type arguments", f"write `{example}`")
            self.index += 1
            args = [self.parse()]
            for _ in range(_GENERIC_ARITY[name] - 1):
                self.expect(",")
                args.append(self.parse())
            if self.peek() == ",":
                count = _GENERIC_ARITY[name]
                raise self.error(f"`{name}` takes {count} type argument{'s' if count > 1 else ''}")
            self.expect(")")
            if name == "list":
                return ListType(args[0])
            if name == "type":
                return TypeType(args[0])
            key = args[0]
            if not (
                isinstance(key, DynType)
                or (isinstance(key, PrimitiveType) and key.kind in _KEY_KINDS)
            ):
                raise self.error(
                    f"`{format_type(key)}` cannot be a map key type",
                    "map keys are int, uint, bool, string or dyn",
                )
            return MapType(key, args[1])
        simple = _SIMPLE.get(name)
        if simple is not None:
            return simple
        obj = self.objects.get(name)
        if obj is not None:
            return obj
        if name == "null":
            raise self.error("unknown type `null`", "did you mean `null_type`?")
        raise self.error(
            f"unknown type `{name}`", suggest(name, [*_SIMPLE, *_GENERIC_ARITY, *self.objects])
        )


def suggest(name: str, candidates: Iterable[str]) -> str | None:
    """``did you mean `x`?`` (see :func:`socialflow._suggest.did_you_mean`)."""
    return did_you_mean(name, candidates)


def is_assignable(target: CelType, source: CelType) -> bool:
    """True if a value of type ``source`` may be used where ``target`` is expected.

    ``dyn`` (and the error type) is compatible in both directions, also inside
    ``list``/``map``/``type``; ``null`` is assignable to object types; ``type``
    without a parameter accepts every type value.
    """
    lenient = (DynType, ErrorType, TypeParam)
    if isinstance(target, lenient) or isinstance(source, lenient):
        return True
    if target == source:
        return True
    match target, source:
        case ListType(element=a), ListType(element=b):
            return is_assignable(a, b)
        case MapType(key=ka, value=va), MapType(key=kb, value=vb):
            return is_assignable(ka, kb) and is_assignable(va, vb)
        case TypeType(param=a), TypeType(param=b):
            return a is None or (b is not None and is_assignable(a, b))
        case ObjectType(), PrimitiveType(kind="null_type"):
            return True
    return False
