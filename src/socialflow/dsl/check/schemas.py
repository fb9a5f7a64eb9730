"""Schemas: field types resolved, duplicates and recursion reported, and the CEL
object types conditions are checked against."""

from __future__ import annotations

import json
import re
from typing import Any, Final

from socialflow._suggest import did_you_mean
from socialflow.cel import ast as cel_ast
from socialflow.cel.types import ObjectType, parse_type
from socialflow.dsl import ast
from socialflow.dsl.check._graph import strongly_connected
from socialflow.dsl.check.context import Context
from socialflow.dsl.program import Schema, SchemaField
from socialflow.errors import UsageError
from socialflow.source import Span

__all__ = [
    "MAX_SCHEMA_DEPTH",
    "check_enum_comparisons",
    "check_schemas",
    "enum_problem",
    "has_enums",
    "type_text",
]

_PRIMITIVES: Final = frozenset(
    {
        "int",
        "uint",
        "double",
        "bool",
        "string",
        "bytes",
        "timestamp",
        "duration",
        "dyn",
        "null_type",
    }
)
_GENERICS: Final = {"list": 1, "map": 2}
_MAP_KEYS: Final = frozenset({"int", "uint", "bool", "string", "dyn"})
_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TYPE_TOKEN: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[(),]")
#: How many levels a value of a schema may nest (records, lists, maps): the
#: engines walk values level by level.  Deeper is ``nesting_too_deep``.
MAX_SCHEMA_DEPTH: Final = 100


def check_schemas(ctx: Context) -> None:
    """Resolve every schema's field types and build the CEL object types."""
    decls = ctx.schema_decls
    out: dict[str, Schema] = {}
    for name, decl in decls.items():
        fields: list[SchemaField] = []
        seen: dict[str, ast.FieldDecl] = {}
        for f in decl.fields:
            if f.name.text in seen:
                ctx.error(
                    "duplicate_declaration",
                    f"field `{f.name.text}` is declared twice in `{name}`",
                    f.name.span,
                    notes=(f"first declared at {ctx.location(seen[f.name.text].span)}",),
                )
                continue
            seen[f.name.text] = f
            text = type_text(ctx, f.type, decls)
            values = _enum_values(ctx, f) if f.type.values and f.type.name.text == "enum" else ()
            fields.append(SchemaField(f.name.text, text, f.optional, f.span, values))
        out[name] = Schema(name, tuple(fields))
    # recursion makes an infinite type: reject it
    edges = _references(out)
    components = strongly_connected(list(out), edges)
    recursive = {
        name
        for component in components
        if len(component) > 1 or component[0] in edges[component[0]]
        for name in component
    }
    for name, decl in decls.items():
        if name in recursive:
            ctx.error(
                "recursive_schema",
                f"schema `{name}` contains itself",
                decl.name.span,
                "use a list or map of ids instead of nesting the schema in itself",
            )
    # every engine walks values level by level: bound how deep a value can nest
    depths = _depths(out, components)
    for name, decl in decls.items():
        if depths[name] > MAX_SCHEMA_DEPTH >= max((depths[r] for r in edges[name]), default=0):
            ctx.error(
                "nesting_too_deep",
                f"values of schema `{name}` nest {depths[name]} levels deep "
                f"(records, lists and maps); the limit is {MAX_SCHEMA_DEPTH}",
                decl.name.span,
                "flatten the schema: refer to nested records by id",
            )
    ctx.schemas = out
    ctx.object_types = _object_types(out)


def _enum_values(ctx: Context, f: ast.FieldDecl) -> tuple[str, ...]:
    """The values of an ``enum(...)`` field, each once (a repeat is an error)."""
    values: dict[str, Span] = {}
    for value, span in f.type.values:
        if value in values:
            ctx.error(
                "invalid_type",
                f"`{_quote(value)}` is listed twice in the enumeration of `{f.name.text}`",
                span,
                notes=(f"first listed at {ctx.location(values[value])}",),
            )
            continue
        values[value] = span
    return tuple(values)


def _quote(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def enum_problem(
    field: SchemaField, value: object, shown: str | None = None
) -> tuple[str, str | None] | None:
    """Why a constant ``value`` cannot be a value of ``field`` (an ``enum``), as a
    message and a hint, or ``None`` when it can (or the field is no enum, or the
    value no string: type errors are the type check's); ``shown`` is the field as
    written (``msg.kind``), its name by default.

    The one rule shared by ``check`` (comparisons in conditions, and constants
    such as ``given`` values in tests) and the hint of the host-data error.
    """
    if not field.values or not isinstance(value, str) or value in field.values:
        return None
    allowed = ", ".join(_quote(v) for v in field.values)
    hint = did_you_mean(value, field.values)
    return (
        f"`{_quote(value)}` is not a value of `{shown or field.name}`: `enum({allowed})`",
        hint,
    )


def has_enums(ctx: Context) -> bool:
    """Does any schema declare an ``enum`` field?  (Without one, the comparisons
    need no walk.)"""
    return any(f.values for schema in ctx.schemas.values() for f in schema.fields)


def check_enum_comparisons(ctx: Context, text: ast.CelText) -> None:
    """Report comparisons of an ``enum`` field with a string outside its values:
    ``msg.kind == "DM"``, ``!=``, ``in ["dm", "DM"]`` (either side).  Such a
    comparison is an error: it is constant, never (or always) true."""
    if ctx.input_var is None or ctx.input_schema is None:
        return
    root, schema = ctx.input_var, ctx.input_schema
    stack: list[cel_ast.Expr] = [text.expr]
    while stack:
        node = stack.pop()
        if isinstance(node, cel_ast.Comprehension) and root in (node.var, node.var2):
            stack.append(node.range)  # the body's `msg` is the loop variable
            continue
        if isinstance(node, cel_ast.Call) and node.target is None and len(node.args) == 2:
            left, right = node.args
            if node.function in ("_==_", "_!=_"):
                _compare(ctx, _enum_field(ctx, left, root, schema), right)
                _compare(ctx, _enum_field(ctx, right, root, schema), left)
            elif node.function == "@in" and isinstance(right, cel_ast.CreateList):
                field = _enum_field(ctx, left, root, schema)
                for element in right.elements:
                    _compare(ctx, field, element)
        stack.extend(cel_ast.children(node))


def _enum_field(
    ctx: Context, node: cel_ast.Expr, root: str, schema: str
) -> tuple[SchemaField, str] | None:
    """The ``enum`` field ``node`` reads (``msg.kind``, ``msg.author.kind``), if
    it is one, with the path as written."""
    path: list[str] = []
    while isinstance(node, cel_ast.Select) and not node.test_only:
        path.append(node.field)
        node = node.operand
    if not path or not isinstance(node, cel_ast.Ident) or node.name != root:
        return None
    field: SchemaField | None = None
    current: str | None = schema
    for name in reversed(path):
        record = ctx.schemas.get(current) if current is not None else None
        field = record.field(name) if record is not None else None
        if field is None:
            return None
        current = field.type
    if field is None or not field.values:
        return None
    return field, ".".join([root, *reversed(path)])


def _compare(ctx: Context, field: tuple[SchemaField, str] | None, other: cel_ast.Expr) -> None:
    if field is None or not isinstance(other, cel_ast.Literal):
        return
    problem = enum_problem(field[0], other.value, field[1])
    if problem is not None:
        ctx.error("not_in_enum", problem[0], other.span, problem[1])


def _references(schemas: dict[str, Schema]) -> dict[str, list[str]]:
    """The schemas each schema's fields name, in field order."""
    return {
        name: [ref for f in schema.fields for ref in _NAME.findall(f.type) if ref in schemas]
        for name, schema in schemas.items()
    }


def _depths(schemas: dict[str, Schema], components: list[list[str]]) -> dict[str, int]:
    """How many levels a value of each schema nests: a record is one level, each
    list or map one more, a field of another schema that schema's depth.
    ``components`` come dependencies first; recursive schemas count as one level
    where they recur (they are reported already)."""
    depths: dict[str, int] = {}
    for component in components:
        for name in component:
            depth = 1
            for f in schemas[name].fields:
                parens = 0
                for token in _TYPE_TOKEN.findall(f.type):
                    if token == "(":
                        parens += 1
                    elif token == ")":
                        parens -= 1
                    elif token != ",":
                        depth = max(depth, 1 + parens + depths.get(token, 0))
            depths[name] = depth
    return depths


def type_text(ctx: Context, ref: ast.TypeRef, schemas: dict[str, ast.SchemaDecl]) -> str:
    name = ref.name.text
    if ref.values:  # enum("a", "b"): a string restricted to the values
        if name != "enum":
            ctx.error(
                "invalid_type",
                f"`{name}` takes no string arguments",
                ref.span,
                'an enumeration is written `enum("a", "b")`',
            )
        return "string"
    if name in _GENERICS:
        if len(ref.args) != _GENERICS[name]:
            ctx.error(
                "invalid_type", f"`{name}` takes {_GENERICS[name]} type argument(s)", ref.span
            )
            return "dyn"
        for arg in ref.args:
            if arg.values:
                ctx.error(
                    "invalid_type",
                    f"`enum(...)` cannot be an argument of `{name}`",
                    arg.span,
                    "an enumeration is the type of a field of its own; "
                    f"use `{name}({', '.join('string' for _ in ref.args)})` here",
                )
        args = [type_text(ctx, a, schemas) for a in ref.args]
        if name == "map" and args[0] not in _MAP_KEYS:
            ctx.error(
                "invalid_type",
                f"`{args[0]}` cannot be a map key type",
                ref.args[0].span,
                "map keys are int, uint, bool, string or dyn",
            )
            args[0] = "dyn"
        return f"{name}({', '.join(args)})"
    if ref.args:
        ctx.error("invalid_type", f"`{name}` takes no type arguments", ref.span)
    if name in _PRIMITIVES:
        return name
    if name in schemas:
        ctx.used.add(("schema", name))
        return name
    if ("schema", name) in ctx.broken:
        return "dyn"
    ctx.error(
        "undeclared_type",
        f"undeclared type `{name}`",
        ref.name.span,
        ctx.suggest(name, _PRIMITIVES, _GENERICS, schemas)
        or "types are int, uint, double, bool, string, bytes, timestamp, duration, dyn, "
        "list(T), map(K, V) and the declared schemas"
        + (
            f" ({ctx.declared('schemas', schemas).removeprefix('declared schemas: ')})"
            if schemas
            else ""
        ),
    )
    return "dyn"


def _object_types(schemas: dict[str, Schema]) -> dict[str, ObjectType]:
    """CEL object types for the schemas, built dependencies first (recursive
    schemas were reported already and become ``dyn`` where they recurse).

    A depth-first walk with an explicit stack: a chain of thousands of schemas
    is no deeper for Python than a chain of two.
    """
    built: dict[str, ObjectType] = {}
    visiting: set[str] = set()
    edges = {
        name: [[r for r in _NAME.findall(f.type) if r in schemas] for f in schema.fields]
        for name, schema in schemas.items()
    }

    class _Frame:
        __slots__ = ("field", "fields", "name", "ref")

        def __init__(self, name: str) -> None:
            self.name = name
            self.field = 0  # the field being resolved
            self.ref = 0  # the next schema its type names
            self.fields: list[tuple[str, Any]] = []

    for root in schemas:
        if root in built:
            continue
        visiting.add(root)
        stack = [_Frame(root)]
        while stack:
            frame = stack[-1]
            schema = schemas[frame.name]
            if frame.field == len(schema.fields):
                stack.pop()
                visiting.discard(frame.name)
                built[frame.name] = ObjectType(frame.name, tuple(frame.fields))
                continue
            refs = edges[frame.name][frame.field]
            if frame.ref < len(refs):
                ref = refs[frame.ref]
                frame.ref += 1
                if ref not in visiting and ref not in built:
                    visiting.add(ref)
                    stack.append(_Frame(ref))
                continue
            f = schema.fields[frame.field]
            text = "dyn" if any(ref in visiting for ref in refs) else f.type
            try:
                frame.fields.append((f.name, parse_type(text, built)))
            except UsageError:
                frame.fields.append((f.name, parse_type("dyn")))
            frame.field += 1
            frame.ref = 0
    return built
