"""Host input checked against a declared schema.

``InputValidator`` checks a message (a mapping) against a ``schema`` of the
bundle: every required field is present, every value has the declared type
(bool is never accepted for int; an int is accepted for double), nested
schemas recursively.  RFC 3339 strings are accepted for ``timestamp`` fields
and duration strings (``90s``, ``1h30m``) for ``duration`` fields; they are
converted in a copy (the caller's data is never mutated).  An ``enum("a", "b")``
field takes one of its strings and nothing else.  Problems raise
:class:`~socialflow.errors.InputError` naming the field (``$.msg.author.followers``).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Final

from socialflow.cel.values import INT_MAX, INT_MIN, UINT_MAX, UInt, parse_duration, parse_timestamp
from socialflow.dsl.program import Schema
from socialflow.errors import EvalError, InputError

__all__ = ["InputValidator"]

#: A checker returns the value to use (the same object when nothing converts).
Checker = Callable[[Any, str], Any]

_GENERIC: Final = re.compile(r"(list|map)\((.*)\)\Z")
_MISSING: Final = object()
#: Types whose fast path is an exact ``type(x) is T`` test.
_EXACT: Final[dict[str, type]] = {
    "string": str,
    "int": int,
    "double": float,
    "bool": bool,
    "bytes": bytes,
}


def _type_word(value: Any) -> str:
    if value is None:
        return "null"
    if type(value) is bool:
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, (list, tuple)):
        return "list"
    return type(value).__name__


def _fail(path: str, expected: str, value: Any) -> Any:
    raise InputError(f"expected {expected}, got {_type_word(value)}", path=path)


def _string(value: Any, path: str) -> Any:
    return value if isinstance(value, str) else _fail(path, "a string", value)


def _short(value: Any) -> str:
    """A number for a message: whole if short, else its start and its length."""
    text = repr(value)
    return text if len(text) <= 24 else f"{text[:12]}... ({len(text)} digits)"


def _int(value: Any, path: str) -> Any:
    if type(value) is int or (
        isinstance(value, int) and type(value) is not bool and not isinstance(value, UInt)
    ):
        if INT_MIN <= value <= INT_MAX:
            return value
        raise InputError(f"{_short(value)} is out of the int range (64-bit signed)", path=path)
    return _fail(path, "an int", value)


def _uint(value: Any, path: str) -> Any:
    if isinstance(value, int) and type(value) is not bool and value >= 0:
        if value > UINT_MAX:
            raise InputError(f"{_short(value)} is out of the uint range (64-bit)", path=path)
        return value if type(value) is UInt else UInt(value)
    return _fail(path, "a non-negative int", value)


def _double(value: Any, path: str) -> Any:
    if isinstance(value, (int, float)) and type(value) is not bool:
        try:
            number = float(value)
        except OverflowError:  # an int beyond the double range
            number = math.inf
        if math.isfinite(number):
            return value if type(value) is float else number
        raise InputError(
            f"{_short(value)} is not a finite number (JSON and CEL results must stay finite)",
            path=path,
        )
    return _fail(path, "a number", value)


def _bool(value: Any, path: str) -> Any:
    return value if type(value) is bool else _fail(path, "a bool", value)


def _bytes(value: Any, path: str) -> Any:
    return value if isinstance(value, bytes) else _fail(path, "bytes", value)


def _timestamp(value: Any, path: str) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise InputError("timestamp has no time zone (naive datetime)", path=path)
        return value
    if isinstance(value, str):
        try:
            return parse_timestamp(value)
        except EvalError as e:
            raise InputError(e.message, path=path) from None
    return _fail(path, "a timestamp (RFC 3339 string or aware datetime)", value)


def _duration(value: Any, path: str) -> Any:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, str):
        try:
            return parse_duration(value)
        except EvalError as e:
            raise InputError(e.message, path=path) from None
    return _fail(path, "a duration", value)


def _not_in_enum(value: str, values: tuple[str, ...], path: str) -> None:
    allowed = ", ".join(json.dumps(v, ensure_ascii=False) for v in values)
    raise InputError(
        f"{json.dumps(value, ensure_ascii=False)} is not one of the values {allowed}", path=path
    )


def _any(value: Any, path: str) -> Any:
    return value


_PRIMITIVE_CHECKERS: Final[dict[str, Checker]] = {
    "string": _string,
    "int": _int,
    "uint": _uint,
    "double": _double,
    "bool": _bool,
    "bytes": _bytes,
    "timestamp": _timestamp,
    "duration": _duration,
    "dyn": _any,
    "null_type": lambda v, p: v if v is None else _fail(p, "null", v),
}


class InputValidator:
    """Validates host data against the schemas of one program."""

    def __init__(self, schemas: Mapping[str, Schema]) -> None:
        self._schemas = schemas
        self._cache: dict[str, Checker] = {}

    def checker(self, type_text: str) -> Checker:
        """The checker for a type: a primitive, ``list(T)``, ``map(K, V)`` or a schema."""
        cached = self._cache.get(type_text)
        if cached is not None:
            return cached
        made = self._make(type_text)
        self._cache[type_text] = made
        return made

    def _make(self, type_text: str) -> Checker:
        if type_text in _PRIMITIVE_CHECKERS:
            return _PRIMITIVE_CHECKERS[type_text]
        m = _GENERIC.match(type_text)
        if m is not None:
            args = _split(m.group(2))
            if m.group(1) == "list":
                return self._list(args[0])
            return self._map(args[0], args[1])
        schema = self._schemas.get(type_text)
        if schema is None:
            return _any
        return self._object(schema)

    def _list(self, element: str) -> Checker:
        def check(value: Any, path: str) -> Any:
            if not isinstance(value, (list, tuple)):
                return _fail(path, "a list", value)
            inner = self.checker(element)
            out = [inner(item, f"{path}[{i}]") for i, item in enumerate(value)]
            return value if all(a is b for a, b in zip(out, value, strict=True)) else out

        return check

    def _map(self, key: str, value_type: str) -> Checker:
        def check(value: Any, path: str) -> Any:
            if not isinstance(value, Mapping):
                return _fail(path, "an object", value)
            key_check = self.checker(key)
            value_check = self.checker(value_type)
            changed = False
            out: dict[Any, Any] = {}
            for k, v in value.items():
                key_check(k, f"{path}.<key {k!r}>")
                new = value_check(v, f"{path}[{k!r}]")
                changed = changed or new is not v
                out[k] = new
            return out if changed else value

        return check

    def _object(self, schema: Schema) -> Checker:
        slow = self._object_slow(schema)
        return self._object_fast(schema, slow)

    def _object_fast(self, schema: Schema, slow: Checker) -> Checker:
        """A generated fast path: exact-type tests inline, anything unusual -> ``slow``.

        The source is built from the schema only (field names via ``repr``,
        types from a fixed table), never from message data.
        """
        lines = [
            "def check(value, path):",
            "    if type(value) is not _dict: return slow(value, path)",
            "    get = value.get",
        ]
        namespace: dict[str, Any] = {
            "slow": slow,
            "_dict": dict,
            "_M": _MISSING,
            "_datetime": datetime,
        }
        for i, f in enumerate(schema.fields):
            key = repr(f.name)
            lines.append(f"    x = get({key}, _M)")
            if f.optional:
                # a null optional field is left out of the checked copy (the slow path)
                lines.append("    if x is _M: pass")
                lines.append("    elif x is None: return slow(value, path)")
                prefix = "    elif"
            else:
                prefix = "    if"
            exact = _EXACT.get(f.type)
            if f.values:  # enum("a", "b"): one of the strings
                namespace[f"_e{i}"] = frozenset(f.values)
                lines.append(
                    f"{prefix} type(x) is not str or x not in _e{i}: return slow(value, path)"
                )
            elif exact is not None:
                namespace[f"_t{i}"] = exact
                # ints must fit 64 bits and doubles be finite (x - x is 0.0 only then)
                bound = {
                    "int": f" or not {INT_MIN} <= x <= {INT_MAX}",
                    "double": " or x - x != 0.0",
                }.get(f.type, "")
                lines.append(f"{prefix} type(x) is not _t{i}{bound}: return slow(value, path)")
            elif f.type == "timestamp":
                lines.append(
                    f"{prefix} not (type(x) is _datetime and x.tzinfo is not None): return slow(value, path)"
                )
            elif f.type == "dyn":
                lines.append(f"{prefix} x is _M: return slow(value, path)")
            else:
                namespace[f"_c{i}"] = self.checker(f.type)
                lines.append(
                    f"{prefix} x is _M or _c{i}(x, path + {'.' + f.name!r}) is not x: "
                    "return slow(value, path)"
                )
        lines.append("    return value")
        exec("\n".join(lines) + "\n", namespace)
        fast: Checker = namespace["check"]
        return fast

    def _object_slow(self, schema: Schema) -> Checker:
        fields = [(f.name, f.optional, f.type) for f in schema.fields]
        enums = {f.name: f.values for f in schema.fields if f.values}

        def check(value: Any, path: str) -> Any:
            if not isinstance(value, Mapping):
                return _fail(path, f"an object ({schema.name})", value)
            converted: dict[str, Any] | None = None
            for name, optional, type_text in fields:
                if name not in value:
                    if optional:
                        continue
                    raise InputError(f"missing required field `{name}`", path=f"{path}.{name}")
                item = value[name]
                if item is None and optional:
                    # null is "absent" for an optional field: `has()` is false, as
                    # for a field left out (the host's own mapping is not changed)
                    if converted is None:
                        converted = dict(value)
                    del converted[name]
                    continue
                new = self.checker(type_text)(item, f"{path}.{name}")
                if name in enums and new not in enums[name]:
                    _not_in_enum(new, enums[name], f"{path}.{name}")
                if new is not item:
                    if converted is None:
                        converted = dict(value)
                    converted[name] = new
            return value if converted is None else converted

        return check


def _split(text: str) -> list[str]:
    depth = 0
    parts = [""]
    for ch in text:
        if ch == "," and depth == 0:
            parts.append("")
            continue
        depth += ch == "("
        depth -= ch == ")"
        parts[-1] += ch
    return [p.strip() for p in parts]
