"""Schemas: field types resolved, duplicates and recursion reported, and the CEL
object types conditions are checked against."""

from __future__ import annotations

import re
from typing import Any, Final

from socialflow._suggest import did_you_mean
from socialflow.cel.types import ObjectType, parse_type
from socialflow.dsl import ast
from socialflow.dsl.check.context import Context
from socialflow.dsl.program import Schema, SchemaField
from socialflow.errors import UsageError

__all__ = ["check_schemas", "type_text"]

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
_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


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
                    notes=(f"first declared at {seen[f.name.text].span.location()}",),
                )
                continue
            seen[f.name.text] = f
            text = type_text(ctx, f.type, decls)
            fields.append(SchemaField(f.name.text, text, f.optional, f.span))
        out[name] = Schema(name, tuple(fields))
    # recursion makes an infinite type: reject it
    for name, decl in decls.items():
        if _reaches(name, name, out, set()):
            ctx.error(
                "recursive_schema",
                f"schema `{name}` contains itself",
                decl.name.span,
                "use a list or map of ids instead of nesting the schema in itself",
            )
    ctx.schemas = out
    ctx.object_types = _object_types(out)


def _reaches(target: str, current: str, schemas: dict[str, Schema], seen: set[str]) -> bool:
    schema = schemas.get(current)
    if schema is None or current in seen:
        return False
    seen.add(current)
    for f in schema.fields:
        for ref in _NAME.findall(f.type):
            if ref == target or _reaches(target, ref, schemas, seen):
                return True
    return False


def type_text(ctx: Context, ref: ast.TypeRef, schemas: dict[str, ast.SchemaDecl]) -> str:
    name = ref.name.text
    if name in _GENERICS:
        if len(ref.args) != _GENERICS[name]:
            ctx.error(
                "invalid_type", f"`{name}` takes {_GENERICS[name]} type argument(s)", ref.span
            )
            return "dyn"
        return f"{name}({', '.join(type_text(ctx, a, schemas) for a in ref.args)})"
    if ref.args:
        ctx.error("invalid_type", f"`{name}` takes no type arguments", ref.span)
    if name in _PRIMITIVES:
        return name
    if name in schemas:
        ctx.used.add(("schema", name))
        return name
    ctx.error(
        "undeclared_type",
        f"undeclared type `{name}`",
        ref.name.span,
        did_you_mean(name, [*_PRIMITIVES, *_GENERICS, *schemas]),
    )
    return "dyn"


def _object_types(schemas: dict[str, Schema]) -> dict[str, ObjectType]:
    """CEL object types for the schemas, built dependencies first (recursive
    schemas were reported already and become ``dyn`` where they recurse)."""
    built: dict[str, ObjectType] = {}
    visiting: set[str] = set()

    def build(name: str) -> ObjectType:
        if name in built:
            return built[name]
        visiting.add(name)
        fields: list[tuple[str, Any]] = []
        for f in schemas[name].fields:
            refs = [r for r in _NAME.findall(f.type) if r in schemas]
            for ref in refs:
                if ref not in visiting:
                    build(ref)
            text = f.type
            if any(ref in visiting for ref in refs):
                text = "dyn"
            try:
                fields.append((f.name, parse_type(text, built)))
            except UsageError:
                fields.append((f.name, parse_type("dyn")))
        visiting.discard(name)
        built[name] = ObjectType(name, tuple(fields))
        return built[name]

    for name in schemas:
        build(name)
    return built
