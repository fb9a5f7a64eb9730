"""The reference tree-walking evaluator: small, obviously correct, the oracle.

The compiled backend (:mod:`socialflow.cel.compiler`) must agree with it on
every expression; the conformance suite and a differential property test run
both.  Errors are exceptions here; ``&&``, ``||``, ``?:`` and the ``all`` /
``exists`` macros absorb them as CEL specifies; ``&&``/``||`` chains are
flattened and evaluated in a loop (a chain of 250 terms needs no recursion).
Costs are charged with the one model of :mod:`socialflow.cel.runtime`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from socialflow.cel import ast
from socialflow.cel.functions import FUNCTIONS, GLOBAL_ONLY, RECEIVER_ONLY
from socialflow.cel.limits import Limits
from socialflow.cel.runtime import (
    CHARGED_OUTSIDE_BODIES,
    budget_for,
    call_mode,
    iterate,
    iteration_cost,
    logic_end,
    new_map,
    new_meter,
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
    __slots__ = ("activation", "budget", "meter")

    def __init__(self, activation: Mapping[str, Any], limits: Limits, meter: list[int]) -> None:
        self.activation = activation
        self.budget = budget_for(limits)
        self.meter = meter


def evaluate(
    expr: ast.Expr, activation: Mapping[str, Any], limits: Limits, meter: list[int] | None = None
) -> Any:
    """Evaluate ``expr`` over ``activation``; raises :class:`EvalError`.

    ``meter`` (``[cost, iterations]``, see :mod:`socialflow.cel.runtime`) is
    charged as evaluation goes; a fresh one by default."""
    return _eval(expr, _Context(activation, limits, meter or new_meter()), {})


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
            items = [_eval(e, ctx, scope) for e in elements]
            if scope and items:  # a literal inside a comprehension body
                ctx.budget.charge(ctx.meter, len(items))
            return items
        case ast.CreateMap(entries=entries):
            pairs = [(_eval(k, ctx, scope), _eval(v, ctx, scope)) for k, v in entries]
            if scope and pairs:
                ctx.budget.charge(ctx.meter, len(pairs))
            return make_map(pairs)
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


def _operands(node: ast.Call) -> Sequence[ast.Expr]:
    """The operands of a chain of one of ``&&``/``||``, flattened without recursion."""
    function = node.function
    if not any(isinstance(a, ast.Call) and a.function == function for a in node.args):
        return node.args
    out: list[ast.Expr] = []
    stack: list[ast.Expr] = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, ast.Call) and item.function == node.function and item.target is None:
            stack.extend(reversed(item.args))
        else:
            out.append(item)
    return out


def _logic(node: ast.Call, ctx: _Context, scope: dict[str, Any]) -> Any:
    """A flattened ``&&``/``||`` chain, evaluated left to right: the first decisive
    operand (false for ``&&``, true for ``||``) decides; otherwise the first error,
    else ``no_matching_overload`` for an operand that is not a bool."""
    decisive = node.function == "_||_"
    values: list[Any] = []
    undecided = False
    for operand in _operands(node):
        value = _try(operand, ctx, scope)
        if value is decisive:
            return decisive
        if value is not (not decisive):
            undecided = True
        values.append(value)
    if undecided:
        return logic_end(node.function, *values)
    return not decisive


def _call(node: ast.Call, ctx: _Context, scope: dict[str, Any]) -> Any:
    name = node.function
    if name == "_&&_" or name == "_||_":
        return _logic(node, ctx, scope)
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
    if not scope and name not in CHARGED_OUTSIDE_BODIES:
        return fn(*args)
    arg_nodes = node.args if node.target is None else (node.target, *node.args)
    mode = call_mode(name, arg_nodes, bool(scope))
    if mode == "free":
        return fn(*args)
    return ctx.budget.call(mode, ctx.meter, name, fn, args)


def _bind_each(
    node: ast.Comprehension, ctx: _Context, inner: dict[str, Any], rng: Any
) -> Iterator[Any]:
    """Bind the loop variable(s) in ``inner`` for each element, counting iterations;
    yields the first variable's value (the element, index or key)."""
    two = node.var2 is not None
    budget, meter, units = ctx.budget, ctx.meter, iteration_cost(node)
    for a, b in iterate(node.kind, two, rng):
        budget.tick(meter, units)
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
    out_map = new_map(rng)
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
