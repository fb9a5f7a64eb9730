"""The reference tree-walking evaluator: small, obviously correct, the oracle.

The compiled backend (:mod:`socialflow.cel.compiler`) must agree with it on
every expression; the conformance suite and a differential property test run
both.  Errors are exceptions here; ``&&``, ``||``, ``?:`` and the ``all`` /
``exists`` macros absorb them as CEL specifies.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from socialflow.cel import ast
from socialflow.cel.limits import Limits
from socialflow.cel.stdlib import (
    FUNCTIONS,
    GLOBAL_ONLY,
    RECEIVER_ONLY,
    has_field,
    index,
    make_map,
    select,
)
from socialflow.cel.values import TYPE_NAMES, no_overload
from socialflow.errors import EvalError, LimitExceededError

__all__ = ["evaluate"]

_MISSING = object()


class _Context:
    __slots__ = ("activation", "iterations", "limits")

    def __init__(self, activation: Mapping[str, Any], limits: Limits) -> None:
        self.activation = activation
        self.limits = limits
        self.iterations = 0

    def tick(self) -> None:
        self.iterations += 1
        if self.iterations > self.limits.max_iterations:
            raise LimitExceededError(
                "iteration_limit",
                f"comprehensions ran more than {self.limits.max_iterations} iterations",
            )


def evaluate(expr: ast.Expr, activation: Mapping[str, Any], limits: Limits) -> Any:
    """Evaluate ``expr`` over ``activation``; raises :class:`EvalError`."""
    return _eval(expr, _Context(activation, limits), {})


def _eval(node: ast.Expr, ctx: _Context, scope: dict[str, Any]) -> Any:
    try:
        return _eval_node(node, ctx, scope)
    except EvalError as e:
        if e.span is None:
            raise e.with_span(node.span) from None
        raise


def resolve_name(name: str, activation: Mapping[str, Any]) -> Any:
    """Look ``name`` up in the activation, then among type names."""
    value = activation.get(name, _MISSING)
    if value is not _MISSING:
        return value
    if name in TYPE_NAMES:
        return TYPE_NAMES[name]
    raise EvalError("undeclared_reference", f"undeclared reference to `{name}` (unknown variable)")


def qualified_names(node: ast.Select, scope: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The dotted names of a select chain rooted at a global identifier, else None."""
    names = [node.field]
    inner: ast.Expr = node.operand
    while isinstance(inner, ast.Select) and not inner.test_only:
        names.append(inner.field)
        inner = inner.operand
    if isinstance(inner, ast.Ident) and inner.name not in scope:
        names.append(inner.name)
        return tuple(reversed(names))
    return None


def resolve_qualified(
    activation: Mapping[str, Any], names: tuple[str, ...], test_only: bool
) -> Any:
    """Resolve ``a.b.c`` whose root ``a`` is not a variable: the longest dotted
    prefix that names a variable wins (``a.b.c``, then ``a.b`` + ``.c``...)."""
    longest = len(names) - 1 if test_only else len(names)
    for k in range(longest, 0, -1):
        qualified = ".".join(names[:k])
        if qualified in activation:
            value = activation[qualified]
            rest = names[k:]
            for i, field in enumerate(rest):
                if test_only and i == len(rest) - 1:
                    return has_field(value, field)
                value = select(value, field)
            return value
    return (
        resolve_name(names[0], activation)
        if not test_only
        else has_field(resolve_name(names[0], activation), names[1])
    )


def _eval_node(node: ast.Expr, ctx: _Context, scope: dict[str, Any]) -> Any:
    match node:
        case ast.Literal(value=value):
            return value
        case ast.Ident(name=name):
            if name in scope:
                return scope[name]
            return resolve_name(name, ctx.activation)
        case ast.Select(operand=operand, field=field, test_only=test_only):
            names = qualified_names(node, scope)
            if names is not None and names[0] not in ctx.activation:
                return resolve_qualified(ctx.activation, names, test_only)
            target = _eval(operand, ctx, scope)
            return has_field(target, field) if test_only else select(target, field)
        case ast.Index(operand=operand, index=key):
            return index(_eval(operand, ctx, scope), _eval(key, ctx, scope))
        case ast.CreateList(elements=elements):
            return [_eval(e, ctx, scope) for e in elements]
        case ast.CreateMap(entries=entries):
            return make_map([(_eval(k, ctx, scope), _eval(v, ctx, scope)) for k, v in entries])
        case ast.Call():
            return _call(node, ctx, scope)
        case ast.Comprehension():
            return _comprehension(node, ctx, scope)
    raise AssertionError(node)  # pragma: no cover


def _try(node: ast.Expr, ctx: _Context, scope: dict[str, Any]) -> Any:
    """Evaluate, returning an error as a value (for the absorbing operators)."""
    try:
        return _eval(node, ctx, scope)
    except LimitExceededError:
        raise
    except EvalError as e:
        return e


def logical_result(function: str, left: Any, right: Any) -> Any:
    """Finish ``&&``/``||`` once neither side decided it: raise the first error."""
    for side in (left, right):
        if isinstance(side, EvalError):
            raise side
    no_overload(function, left, right)


def _call(node: ast.Call, ctx: _Context, scope: dict[str, Any]) -> Any:
    name = node.function
    if name == "_&&_" or name == "_||_":
        absorbing = name == "_&&_"  # False absorbs for &&, True for ||
        decisive = not absorbing
        left = _try(node.args[0], ctx, scope)
        if left is decisive:
            return decisive
        right = _try(node.args[1], ctx, scope)
        if right is decisive:
            return decisive
        if left is absorbing and right is absorbing:
            return absorbing
        logical_result(name, left, right)
    if name == "_?_:_":
        cond = _eval(node.args[0], ctx, scope)
        if cond is True:
            return _eval(node.args[1], ctx, scope)
        if cond is False:
            return _eval(node.args[2], ctx, scope)
        no_overload("_?_:_", cond)
    fn = FUNCTIONS.get(name)
    if fn is None:
        raise EvalError("undeclared_reference", f"unknown function `{name}`")
    if node.target is not None:
        if name in GLOBAL_ONLY:
            raise EvalError(
                "no_matching_overload", f"`{name}` is a function, not a method: write `{name}(x)`"
            )
        args = [_eval(node.target, ctx, scope), *(_eval(a, ctx, scope) for a in node.args)]
    else:
        if name in RECEIVER_ONLY:
            raise EvalError("no_matching_overload", f"`{name}` is a method: write `x.{name}(...)`")
        args = [_eval(a, ctx, scope) for a in node.args]
    result = fn(*args)
    _check_size(result, ctx.limits)
    return result


def _check_size(value: Any, limits: Limits) -> None:
    if isinstance(value, (str, bytes)):
        if len(value) > limits.max_string_length:
            raise LimitExceededError(
                "size_limit",
                f"value of {len(value)} characters exceeds the limit of {limits.max_string_length}",
            )
    elif isinstance(value, (list, dict)) and len(value) > limits.max_collection_size:
        raise LimitExceededError(
            "size_limit",
            f"collection of {len(value)} elements exceeds the limit of {limits.max_collection_size}",
        )


def iterate(kind: str, two_vars: bool, rng: Any) -> Iterator[tuple[Any, Any]]:
    """Yield (var, var2) pairs of a comprehension range (var2 is None for one variable)."""
    if isinstance(rng, (list, tuple)):
        if two_vars:
            yield from enumerate(rng)
        else:
            for item in rng:
                yield item, None
    elif isinstance(rng, Mapping):
        if two_vars:
            yield from rng.items()
        else:
            for key in rng:
                yield key, None
    else:
        no_overload(kind, rng)


def _bind_each(
    node: ast.Comprehension, ctx: _Context, inner: dict[str, Any], rng: Any
) -> Iterator[Any]:
    """Bind the loop variable(s) in ``inner`` for each element, counting iterations;
    yields the first variable's value (the element, index or key)."""
    two = node.var2 is not None
    for a, b in iterate(node.kind, two, rng):
        ctx.tick()
        inner[node.var] = a
        if node.var2 is not None:
            inner[node.var2] = b
        yield a


def _comprehension(node: ast.Comprehension, ctx: _Context, scope: dict[str, Any]) -> Any:
    rng = _eval(node.range, ctx, scope)
    kind = node.kind
    inner = dict(scope)
    if kind in ("all", "exists"):
        decisive = kind == "exists"
        error: Any = None
        for _ in _bind_each(node, ctx, inner, rng):
            result = _try(node.body, ctx, inner)
            if result is decisive:
                return decisive
            if result is not (not decisive) and error is None:
                error = (
                    result
                    if isinstance(result, EvalError)
                    else EvalError("no_matching_overload", f"`{kind}` predicate must be a bool")
                )
        if error is not None:
            raise error
        return not decisive
    if kind == "exists_one":
        count = 0
        for _ in _bind_each(node, ctx, inner, rng):
            result = _eval(node.body, ctx, inner)
            if result is True:
                count += 1
            elif result is not False:
                no_overload("exists_one", result)
        return count == 1
    out_list: list[Any] = []
    out_map: dict[Any, Any] = {}
    for a in _bind_each(node, ctx, inner, rng):
        if node.filter is not None or kind == "filter":
            keep = _eval(node.filter if node.filter is not None else node.body, ctx, inner)
            if keep is False:
                continue
            if keep is not True:
                no_overload(kind, keep)
            if kind == "filter":
                out_list.append(a)
                continue
        value = _eval(node.body, ctx, inner)
        if kind == "transform_map":
            out_map[a] = value
        else:
            out_list.append(value)
    if kind == "transform_map":
        return out_map
    return out_list
