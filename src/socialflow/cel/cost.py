"""The static cost estimate: what every evaluation of an expression must cost.

Evaluation is deterministic until it first reads a variable, so the part of
an expression evaluated before that (literals, and functions and
comprehensions over them, in evaluation order) costs the same on every
evaluation.  :func:`estimate_cost` runs that part once, at compile time, with
the reference interpreter and the run-time cost model
(:mod:`socialflow.cel.runtime`), and stops at the first variable: what it
counted is a lower bound of every evaluation's cost.  When the whole
expression is constant the bound is exact.

If that lower bound already exceeds ``max_cost``, every evaluation would fail,
and :func:`estimate_cost` raises :class:`~socialflow.errors.SourceLimitError`
(``cost_limit``) instead.  The estimate never takes more than
:data:`MAX_STATIC_ITERATIONS` comprehension iterations or the program's cost
budget of work.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Final, NoReturn

import attrs

from socialflow.cel import ast
from socialflow.cel.interpreter import evaluate
from socialflow.cel.limits import Limits
from socialflow.cel.runtime import new_meter
from socialflow.errors import EvalError, LimitExceededError, SourceLimitError

__all__ = ["MAX_STATIC_ITERATIONS", "CostEstimate", "estimate_cost"]

#: Comprehension iterations the compile-time estimate runs at most.
MAX_STATIC_ITERATIONS: Final = 10_000


@attrs.frozen
class CostEstimate:
    """What an expression's evaluations cost, in the units of ``Limits.max_cost``.

    ``minimum``: every evaluation costs at least this much (the cost of what is
    evaluated before the first variable is read; 0 if that comes first).
    ``maximum``: every evaluation costs exactly ``minimum`` when the expression
    reads no variable (then ``maximum == minimum``); ``None`` (unknown) otherwise.
    """

    minimum: int
    maximum: int | None


class _Unknown(Exception):
    """Raised when the estimate reaches a variable: evaluation depends on data."""


class _Opaque(Mapping[str, Any]):
    """An activation that stops the evaluation at the first name it is asked for."""

    def __getitem__(self, name: str) -> NoReturn:
        raise _Unknown

    def __contains__(self, name: object) -> NoReturn:
        raise _Unknown

    def get(self, name: str, default: Any = None) -> NoReturn:
        raise _Unknown

    def __iter__(self) -> Iterator[str]:
        raise _Unknown

    def __len__(self) -> NoReturn:
        raise _Unknown


def estimate_cost(tree: ast.Expr, limits: Limits) -> CostEstimate:
    """The :class:`CostEstimate` of ``tree`` under ``limits``.

    Raises:
        SourceLimitError: ``cost_limit``, if every evaluation would exceed
            ``limits.max_cost``.
    """
    meter = new_meter()
    bounded = attrs.evolve(limits, max_iterations=min(limits.max_iterations, MAX_STATIC_ITERATIONS))
    try:
        evaluate(tree, _Opaque(), bounded, meter)
    except _Unknown:
        return CostEstimate(meter[0], None)
    except LimitExceededError as e:
        if e.kind == "cost_limit":
            raise SourceLimitError(
                "cost_limit",
                f"every evaluation costs more than max_cost ({limits.max_cost:,}): "
                f"the part that reads no variable already costs {meter[0]:,}",
                e.span if e.span is not None else tree.span,
            ) from None
        if e.kind == "iteration_limit" and bounded.max_iterations < limits.max_iterations:
            return CostEstimate(meter[0], None)  # the estimate's own bound: stop counting
    except EvalError:
        pass  # every evaluation fails the same way, at the same cost
    except Exception:  # the evaluators turn these into errors; the bound stands
        return CostEstimate(meter[0], None)
    return CostEstimate(meter[0], meter[0])
