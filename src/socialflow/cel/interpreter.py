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
from socialflow.cel.functions import FUNCTIONS, GLOBAL_ONLY, RECEIVER_ONLY
from socialflow.cel.limits import Limits
from socialflow.cel.runtime import (
    check_size,
    iterate,
    iteration_limit,
    qualified_names,
    resolve_name,
    resolve_qualified,
)
from socialflow.cel.stdlib import has_field, index, make_map, select
from socialflow.cel.values import no_overload
from socialflow.errors import EvalError, LimitExceededError

# resolve_name, qualified_names, resolve_qualified and iterate moved to
# socialflow.cel.runtime; they stay importable from here.
__all__ = ["evaluate", "iterate", "qualified_names", "resolve_name", "resolve_qualified"]


class _Context:
    __slots__ = ("activation", "iterations", "limits")

    def __init__(self, activation: Mapping[str, Any], limits: Limits) -> None:
        self.activation = activation
        self.limits = limits
        self.iterations = 0

    def tick(self) -> None:
        self.iterations += 1
        if self.iterations > self.limits.max_iterations:
            iteration_limit(self.limits.max_iterations)


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
    check_size(result, ctx.limits)
    return result


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
