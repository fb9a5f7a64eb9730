"""Constant values written in CEL (a test's ``given``) checked against a schema
type at check time, with the position of each mistake: a value of the wrong
type, a required field left out, a field the schema does not declare.

The check follows what :class:`~socialflow.triage.input.InputValidator` accepts
at run time (an ``int`` for a ``double``, an RFC 3339 string for a
``timestamp``, ``null`` for an optional field), so a value that passes here
is not refused by ``socialflow test`` for its type.  Parts that are not
literals (``now - duration("1h")``) are judged by their static CEL type.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from socialflow.cel import ast as cel_ast
from socialflow.cel.checker import CheckedExpr
from socialflow.cel.types import DynType, ErrorType, format_type
from socialflow.cel.values import UInt, parse_duration, parse_timestamp
from socialflow.dsl.check.context import Context
from socialflow.dsl.check.guards import LIST_TYPE, MAP_TYPE
from socialflow.dsl.check.schemas import enum_problem
from socialflow.dsl.program import Schema

__all__ = ["check_value"]

_ARTICLE: Final = {
    "int": "an int",
    "uint": "a uint",
    "double": "a double",
    "bool": "a bool",
    "string": "a string",
    "bytes": "bytes",
    "timestamp": "a timestamp",
    "duration": "a duration",
    "null_type": "null",
}
#: The static CEL types each expected type accepts (beside ``dyn``).
_ACCEPTS: Final = {
    "int": ("int",),
    "uint": ("uint", "int"),
    "double": ("double", "int"),
    "bool": ("bool",),
    "string": ("string",),
    "bytes": ("bytes",),
    "timestamp": ("timestamp", "string"),
    "duration": ("duration", "string"),
    "null_type": ("null_type",),
}


def check_value(
    ctx: Context,
    node: cel_ast.Expr,
    expected: str,
    checked: CheckedExpr,
    schemas: Mapping[str, Schema],
    path: str,
    optional: bool = False,
) -> None:
    """Report where the constant ``node`` does not fit the type ``expected`` (a
    primitive, ``list(T)``, ``map(K, V)`` or a schema name); ``path`` names
    the value in messages (``msg.author``), ``checked`` holds the static types
    of ``node``'s parts."""
    if isinstance(node, cel_ast.Literal) and node.value is None:
        if not optional and expected not in ("dyn", "null_type"):
            ctx.error(
                "given_wrong_type",
                f"`{path}` is required and cannot be null",
                node.span,
                _want(expected),
            )
        return
    if expected == "dyn":
        return
    schema = schemas.get(expected)
    if schema is not None:
        _record(ctx, node, schema, checked, schemas, path)
        return
    listed = LIST_TYPE.match(expected)
    if listed is not None:
        if isinstance(node, cel_ast.CreateList):
            for i, element in enumerate(node.elements):
                check_value(ctx, element, listed.group(1), checked, schemas, f"{path}[{i}]")
            return
        _static(ctx, node, expected, checked, path, ("list",))
        return
    mapped = MAP_TYPE.match(expected)
    if mapped is not None:
        key_type, value_type = (part.strip() for part in mapped.group(1).split(",", 1))
        if isinstance(node, cel_ast.CreateMap):
            for key, value in node.entries:
                check_value(ctx, key, key_type, checked, schemas, f"{path}.<key>")
                label = key.value if isinstance(key, cel_ast.Literal) else "..."
                check_value(ctx, value, value_type, checked, schemas, f"{path}[{label!r}]")
            return
        _static(ctx, node, expected, checked, path, ("map",))
        return
    if isinstance(node, cel_ast.Literal):
        _literal(ctx, node, expected, path)
        return
    _static(ctx, node, expected, checked, path, _ACCEPTS.get(expected, (expected,)))


def _record(
    ctx: Context,
    node: cel_ast.Expr,
    schema: Schema,
    checked: CheckedExpr,
    schemas: Mapping[str, Schema],
    path: str,
) -> None:
    if not isinstance(node, cel_ast.CreateMap):
        _static(ctx, node, schema.name, checked, path, ("map", schema.name))
        return
    table = ctx.field_tables.get(schema.name)
    if table is None:  # once per schema: a given may hold thousands of its records
        table = ctx.field_tables[schema.name] = (
            {f.name: f for f in schema.fields},
            tuple(f for f in schema.fields if not f.optional),
        )
    fields, required = table
    given: set[str] = set()
    computed = False
    for key, value in node.entries:
        if not (isinstance(key, cel_ast.Literal) and isinstance(key.value, str)):
            computed = True  # a key only known at run time: it may be any field
            continue
        name = key.value
        given.add(name)
        f = fields.get(name)
        if f is None:
            suggestion = ctx.suggest(name, fields)
            ctx.error(
                "given_unknown_field",
                f"`{schema.name}` has no field `{name}`",
                key.span,
                suggestion or _declared(fields),
            )
            if suggestion is not None:  # the misspelt field is not missing besides
                given.add(suggestion.split("`")[1])
            continue
        check_value(ctx, value, f.type, checked, schemas, f"{path}.{name}", f.optional)
        if f.values and isinstance(value, cel_ast.Literal):
            problem = enum_problem(f, value.value, f"{path}.{name}")
            if problem is not None:
                ctx.error("not_in_enum", problem[0], value.span, problem[1])
    missing = [f for f in required if f.name not in given]
    if missing and not computed:
        names = ", ".join(f"`{f.name}`" for f in missing)
        ctx.error(
            "given_missing_field",
            f"`{path}` lacks the required field{'s' if len(missing) > 1 else ''} {names} "
            f"of `{schema.name}`",
            node.span,
            "add " + ", ".join(f'"{f.name}": {_example(f.type, schemas)}' for f in missing),
        )


def _literal(ctx: Context, node: cel_ast.Literal, expected: str, path: str) -> None:
    value = node.value
    ok: bool
    if expected in ("timestamp", "duration") and isinstance(value, str):
        try:
            (parse_timestamp if expected == "timestamp" else parse_duration)(value)
        except Exception:  # the run time's own parser decides; any failure is a mistake
            ctx.error(
                "given_wrong_type",
                f'`{path}`: "{value}" is not a valid {expected}',
                node.span,
                'write an RFC 3339 time such as "2026-11-23T09:58:00Z"'
                if expected == "timestamp"
                else 'write a duration such as "90s" or "1h30m"',
            )
        return
    word = _word(value)
    ok = word in _ACCEPTS.get(expected, (expected,)) and not (
        expected == "uint" and isinstance(value, int) and value < 0
    )
    if expected in ("timestamp", "duration"):
        ok = False  # only a string or a CEL expression of the type gets here
    if not ok:
        ctx.error(
            "given_wrong_type",
            f"`{path}` should be {_ARTICLE.get(expected, expected)}, not {_ARTICLE[word]}",
            node.span,
            _want(expected),
        )


def _static(
    ctx: Context,
    node: cel_ast.Expr,
    expected: str,
    checked: CheckedExpr,
    path: str,
    accepts: tuple[str, ...],
) -> None:
    """A part that is not a literal: judged by its static type."""
    found = checked.type_of(node)
    if isinstance(found, (DynType, ErrorType)):
        return
    text = format_type(found)
    if text in accepts or text.split("(", 1)[0] in accepts:
        return
    ctx.error(
        "given_wrong_type",
        f"`{path}` should be {_ARTICLE.get(expected, f'`{expected}`')}, "
        f"not {_ARTICLE.get(text, f'`{text}`')}",
        node.span,
        _want(expected),
    )


def _word(value: Any) -> str:
    if type(value) is bool:
        return "bool"
    if isinstance(value, UInt):
        return "uint"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bytes):
        return "bytes"
    return "null_type"


def _want(expected: str) -> str | None:
    examples = {
        "int": "write a whole number such as `3` (no quotes)",
        "uint": "write a whole number of zero or more such as `3u`",
        "double": "write a number such as `0.5`",
        "bool": "write `true` or `false`",
        "string": 'write a string such as `"text"`',
        "bytes": 'write bytes such as `b"abc"`',
        "timestamp": 'write `timestamp("2026-11-23T09:58:00Z")` or an RFC 3339 string',
        "duration": 'write `duration("90s")` or a duration string such as `"90s"`',
    }
    if expected in examples:
        return examples[expected]
    if LIST_TYPE.match(expected):
        return "write a list such as `[...]`"
    return f"write an object such as `{{...}}` (a `{expected}`)"


def _example(type_text: str, schemas: Mapping[str, Schema]) -> str:
    samples = {
        "int": "0",
        "uint": "0u",
        "double": "0.0",
        "bool": "false",
        "string": '""',
        "bytes": 'b""',
        "timestamp": '"2026-01-01T00:00:00Z"',
        "duration": '"0s"',
    }
    if type_text in samples:
        return samples[type_text]
    if LIST_TYPE.match(type_text):
        return "[]"
    if type_text in schemas or MAP_TYPE.match(type_text):
        return "{...}"
    return "null"


def _declared(fields: Mapping[str, object]) -> str:
    names = list(fields)
    shown = ", ".join(f"`{n}`" for n in names[:8])
    more = f" and {len(names) - 8} more" if len(names) > 8 else ""
    return f"its fields are {shown}{more}" if names else "it declares no fields"
