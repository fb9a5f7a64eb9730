"""Static analysis of CEL conditions: top-level conjuncts and the constraints
they impose on input fields.

Used by the triage index (which rules can match a message) and by the DSL
checker's lints (two rules that test one field against disjoint values can
never both match).  Pure functions of the syntax tree.
"""

from __future__ import annotations

from typing import Any, Final

from socialflow.cel import ast as cel_ast

__all__ = ["TextKey", "analyse", "conjuncts", "covered", "residual"]

_TEXT_FUNCTIONS: Final = frozenset({"contains", "containsAny", "containsWord", "containsAnyWord"})


def conjuncts(expr: cel_ast.Expr) -> list[cel_ast.Expr]:
    if isinstance(expr, cel_ast.Call) and expr.function == "_&&_" and expr.target is None:
        out: list[cel_ast.Expr] = []
        for arg in expr.args:
            out.extend(conjuncts(arg))
        return out
    return [expr]


def _path(expr: cel_ast.Expr, root: str) -> tuple[str, ...] | None:
    fields: list[str] = []
    while isinstance(expr, cel_ast.Select) and not expr.test_only:
        fields.append(expr.field)
        expr = expr.operand
    if isinstance(expr, cel_ast.Ident) and expr.name == root and fields:
        return tuple(reversed(fields))
    return None


def _strings(expr: cel_ast.Expr) -> tuple[str, ...] | None:
    if isinstance(expr, cel_ast.Literal) and type(expr.value) is str:
        return (expr.value,)
    if (
        isinstance(expr, cel_ast.CreateList)
        and expr.elements
        and all(isinstance(e, cel_ast.Literal) and type(e.value) is str for e in expr.elements)
    ):
        return tuple(e.value for e in expr.elements if isinstance(e, cel_ast.Literal))
    return None


TextKey = tuple[tuple[str, ...], bool]


def covered(expr: cel_ast.Expr | None, root: str | None) -> dict[Any, list[int]]:
    """For each constraint key (an equality path, or a case-sensitive text key),
    the indexes of the conjuncts it proves true when the rule survives it."""
    out: dict[Any, list[int]] = {}
    if expr is None or root is None:
        return out
    for j, conjunct in enumerate(conjuncts(expr)):
        equal, text = analyse(conjunct, root)
        for path in equal:
            out.setdefault(("equal", path), []).append(j)
        for key in text:
            if not key[1]:  # a case-folded scan proves only a necessary condition
                out.setdefault(("text", key), []).append(j)
    return out


def residual(expr: cel_ast.Expr, proven: set[int]) -> cel_ast.Expr | None:
    """``expr`` without the conjuncts in ``proven`` (``None``: nothing left, always true)."""
    rest = [c for j, c in enumerate(conjuncts(expr)) if j not in proven]
    if not rest:
        return None
    out = rest[0]
    for c in rest[1:]:
        out = cel_ast.Call("_&&_", (out, c), expr.span)
    return out


def analyse(
    expr: cel_ast.Expr | None, root: str | None
) -> tuple[dict[tuple[str, ...], frozenset[str]], dict[TextKey, tuple[str, ...]]]:
    """The equality and text constraints a condition's conjuncts impose.

    Text constraints are keyed by (field path, folded): case-sensitive tests
    (``contains``, ``containsAny``) are matched on the raw text, whole-word
    tests (case-insensitive) on the case-folded text.
    """
    equal: dict[tuple[str, ...], frozenset[str]] = {}
    text: dict[TextKey, tuple[str, ...]] = {}
    if expr is None or root is None:
        return equal, text
    for conjunct in conjuncts(expr):
        if not isinstance(conjunct, cel_ast.Call):
            continue
        fn, args, target = conjunct.function, conjunct.args, conjunct.target
        if fn in ("@in", "_==_") and target is None and len(args) == 2:
            left, right = args
            if fn == "_==_" and _path(left, root) is None:
                left, right = right, left
            path = _path(left, root)
            values = _strings(right)
            if fn == "@in" and not isinstance(right, cel_ast.CreateList):
                values = None
            if path is not None and values is not None:
                allowed = frozenset(values)
                equal[path] = equal[path] & allowed if path in equal else allowed
        elif fn in _TEXT_FUNCTIONS and target is not None and len(args) == 1:
            path = _path(target, root)
            words = _strings(args[0])
            if fn in ("contains", "containsWord") and not isinstance(args[0], cel_ast.Literal):
                words = None
            folded = fn in ("containsWord", "containsAnyWord")
            if path is not None and words and all(words) and (path, folded) not in text:
                text[(path, folded)] = tuple(w.casefold() for w in words) if folded else words
    return equal, text
