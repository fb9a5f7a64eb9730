"""Base messages: ``base NAME = {...}`` and ``given VAR = NAME with {...}``.

A test often differs from a typical message in one or two fields.  A base
declares the typical message once; ``given msg = tweet with {"text": "..."}``
is that message with the fields written after ``with`` put in: map literals
merge key by key, recursively (``with {"author": {"followers": 50000}}`` keeps
the base's author handle), anything else replaces the base's value.
``given msg = tweet`` is the base as it is.

The merge is done here, on the expressions, before the tests are checked: the
given is then an ordinary map literal, so the type check of givens, the
positions of its errors (in the base or in the ``with`` map, wherever the
value was written) and the test runner need nothing of their own.
"""

from __future__ import annotations

import attrs

from socialflow.cel import ast as cel_ast
from socialflow.dsl import ast
from socialflow.dsl.check.context import Context

__all__ = ["resolve_bases"]


def resolve_bases(ctx: Context) -> None:
    """Check the bases and put the merged messages in place of the givens that use them."""
    bases = ctx.collect("base", ctx.of(ast.BaseDecl), lambda b: b.name)
    values: dict[str, cel_ast.CreateMap | None] = {}
    for name, decl in bases.items():
        values[name] = _map_literal(ctx, decl.value, f"base `{name}`")
    for i, test in enumerate(ctx.decls):
        if isinstance(test, ast.TestDecl):
            ctx.decls[i] = _resolve(ctx, test, bases, values)
    for name, base in bases.items():
        if ("base", name) not in ctx.used and values[name] is not None:
            ctx.warning("unused_declaration", f"base `{name}` is never used", base.name.span)


def _resolve(
    ctx: Context,
    test: ast.TestDecl,
    bases: dict[str, ast.BaseDecl],
    values: dict[str, cel_ast.CreateMap | None],
) -> ast.TestDecl:
    givens: list[tuple[ast.Name, ast.CelText] | None] = list(test.givens)
    with_base = dict(test.bases)
    for i, (var, value) in enumerate(test.givens):
        base_name = with_base.get(i)
        overlay: cel_ast.CreateMap | None
        if base_name is None:
            # ``given msg = tweet``: a bare name of a base is the base itself (and a
            # name close to a base's is taken as a misspelt one)
            if not isinstance(value.expr, cel_ast.Ident):
                continue
            if value.expr.name not in bases and not (
                bases and ctx.suggest(value.expr.name, bases) is not None
            ):
                continue
            base_name = ast.Name(value.expr.name, value.span)
            overlay = cel_ast.CreateMap((), value.expr.span)
        else:
            overlay = _map_literal(ctx, value, "`with`")
        if not ctx.resolve("base", base_name, bases, "undeclared_base"):
            givens[i] = None  # reported: the given is left out, so nothing cascades from it
            continue
        base = values[base_name.text]
        if base is None or overlay is None:
            givens[i] = None
            continue
        merged = _merge(base, overlay)
        givens[i] = (var, ast.CelText(merged, f"{base_name.text} with {value.text}", value.span))
    if not test.bases and givens == list(test.givens):
        return test
    return attrs.evolve(test, givens=tuple(g for g in givens if g is not None), bases=())


def _map_literal(ctx: Context, value: ast.CelText, what: str) -> cel_ast.CreateMap | None:
    """``value`` as a map literal whose keys are string literals, or an error."""
    expr = value.expr
    if not isinstance(expr, cel_ast.CreateMap):
        ctx.error(
            "invalid_base",
            f'{what} must be a map literal, `{{"field": value, ...}}`',
            value.span,
            'write the fields out, for example `{"text": "refund please"}`',
        )
        return None
    seen: set[str] = set()
    for key, _ in expr.entries:
        if not (isinstance(key, cel_ast.Literal) and isinstance(key.value, str)):
            ctx.error(
                "invalid_base",
                f"the keys of {what} must be quoted field names",
                key.span,
                'write `{"text": ...}`, not `{text: ...}`',
            )
            return None
        if key.value in seen:
            ctx.error(
                "invalid_base",
                f"`{key.value}` is given twice in {what}",
                key.span,
                "keep one",
            )
            return None
        seen.add(key.value)
    return expr


def _merge(base: cel_ast.CreateMap, overlay: cel_ast.CreateMap) -> cel_ast.CreateMap:
    """``base`` with ``overlay``'s entries put in (map literals merge recursively)."""
    entries = list(base.entries)
    where = {_key(k): i for i, (k, _) in enumerate(entries)}
    for key, value in overlay.entries:
        name = _key(key)
        at = where.get(name)
        if at is None:
            where[name] = len(entries)
            entries.append((key, value))
            continue
        old = entries[at][1]
        nested = _string_keyed(old) and _string_keyed(value)
        if nested:
            assert isinstance(old, cel_ast.CreateMap)
            assert isinstance(value, cel_ast.CreateMap)
            value = _merge(old, value)
        entries[at] = (key, value)
    return cel_ast.CreateMap(tuple(entries), overlay.span)


def _key(key: cel_ast.Expr) -> str:
    assert isinstance(key, cel_ast.Literal)
    assert isinstance(key.value, str)
    return key.value


def _string_keyed(expr: cel_ast.Expr) -> bool:
    return isinstance(expr, cel_ast.CreateMap) and all(
        isinstance(k, cel_ast.Literal) and isinstance(k.value, str) for k, _ in expr.entries
    )
