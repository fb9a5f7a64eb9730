"""Static analysis of CEL conditions: top-level conjuncts, and the constraints
they impose on input fields, whatever way they are written.

Used by the triage index (which rules can match a message) and by the DSL
checker's lints (two rules that test one field against disjoint values can
never both match).  Pure functions of the syntax tree.

A *test* is a condition about one field of the input that an index can look
up.  Each belongs to a *dimension* (:data:`Key`):

* ``("equal", path, "")``: ``msg.f == "a"``, ``"a" == msg.f``, ``msg.f in ["a", "b"]``;
* ``("equal", path, "lower")``: the same on ``msg.f.lowerAscii()``;
* ``("text", path, "raw")``: ``msg.f.contains("a")``, ``msg.f.containsAny([...])``;
* ``("text", path, "word")``: ``containsWord``, ``containsAnyWord`` (on the
  field or its ``lowerAscii()``): the words are case-folded, the message text
  is case-folded before the scan, and a hit counts only at word boundaries,
  exactly as ``containsWord`` decides;
* ``("text", path, "folded")``: a case-folded substring every text test needs
  (``startsWith``/``endsWith``, tests on ``lowerAscii()``, and the raw and
  word tests too): necessary, never sufficient.  It lets an ``||`` of
  different kinds of text tests on one field be indexed.

:func:`necessary` gives, for any expression, the tests that must hold for it to
be true (``a || b`` needs the union of what ``a`` and ``b`` need on a dimension
both of them constrain; ``a && b`` needs what either needs).  :func:`exact`
tells when an expression is *decided* by one dimension (an equality test, or a
raw ``contains``/``containsAny``, or an ``||`` of such tests on one field): an
index that found the value can then skip evaluating it.
"""

from __future__ import annotations

from typing import Final

from socialflow.cel import ast as cel_ast

__all__ = [
    "Key",
    "analyse",
    "conjuncts",
    "disjuncts",
    "exact",
    "necessary",
    "residual",
]

#: ``(kind, field path, form)``: an index dimension (see the module docstring).
Key = tuple[str, tuple[str, ...], str]
#: What a condition needs, per dimension: the values (``equal``) or words
#: (``text``, case-folded in the ``folded`` form), any one of which must match.
Needs = dict[Key, frozenset[str]]

_RAW_TEXT: Final = frozenset({"contains", "containsAny"})
_WORD_TEXT: Final = frozenset({"containsWord", "containsAnyWord"})
_FOLDED_TEXT: Final = frozenset({"startsWith", "endsWith"})
_LIST_ARG: Final = frozenset({"containsAny", "containsAnyWord"})


def conjuncts(expr: cel_ast.Expr) -> list[cel_ast.Expr]:
    """The top-level ``&&`` operands of ``expr`` (iterative: chains may be long)."""
    return _operands(expr, "_&&_")


def disjuncts(expr: cel_ast.Expr) -> list[cel_ast.Expr]:
    """The top-level ``||`` operands of ``expr``."""
    return _operands(expr, "_||_")


def _operands(expr: cel_ast.Expr, function: str) -> list[cel_ast.Expr]:
    out: list[cel_ast.Expr] = []
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, cel_ast.Call) and node.function == function and node.target is None:
            stack.extend(reversed(node.args))
        else:
            out.append(node)
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


def _path(expr: cel_ast.Expr, root: str) -> tuple[str, ...] | None:
    fields: list[str] = []
    while isinstance(expr, cel_ast.Select) and not expr.test_only:
        fields.append(expr.field)
        expr = expr.operand
    if isinstance(expr, cel_ast.Ident) and expr.name == root and fields:
        return tuple(reversed(fields))
    return None


def _field(expr: cel_ast.Expr, root: str) -> tuple[tuple[str, ...], bool] | None:
    """``(path, lowered)`` for ``msg.a.b`` or ``msg.a.b.lowerAscii()``."""
    lowered = False
    if (
        isinstance(expr, cel_ast.Call)
        and expr.function == "lowerAscii"
        and expr.target is not None
        and not expr.args
    ):
        expr, lowered = expr.target, True
    path = _path(expr, root)
    return None if path is None else (path, lowered)


def _strings(expr: cel_ast.Expr, many: bool) -> tuple[str, ...] | None:
    if not many:
        if isinstance(expr, cel_ast.Literal) and type(expr.value) is str:
            return (expr.value,)
        return None
    if (
        isinstance(expr, cel_ast.CreateList)
        and expr.elements
        and all(isinstance(e, cel_ast.Literal) and type(e.value) is str for e in expr.elements)
    ):
        return tuple(e.value for e in expr.elements if isinstance(e, cel_ast.Literal))
    return None


Test = tuple[Key, frozenset[str], bool]


def _tests(expr: cel_ast.Expr, root: str) -> list[Test]:
    """``(dimension, values, exact)`` for each dimension ``expr`` is a test on:
    empty when ``expr`` is not one indexable test."""
    if not isinstance(expr, cel_ast.Call):
        return []
    fn, args, target = expr.function, expr.args, expr.target
    if fn in ("_==_", "@in") and target is None and len(args) == 2:
        left, right = args
        if fn == "_==_" and _field(left, root) is None:
            left, right = right, left
        field = _field(left, root)
        values = _strings(right, fn == "@in")
        if field is None or values is None:
            return []
        path, lowered = field
        if lowered:
            # `x.lowerAscii() == "Ab"` can never hold: keep only what can
            values = tuple(v for v in values if v == _lower_ascii(v))
        return [(("equal", path, "lower" if lowered else ""), frozenset(values), True)]
    if fn in _RAW_TEXT | _WORD_TEXT | _FOLDED_TEXT and target is not None and len(args) == 1:
        field = _field(target, root)
        words = _strings(args[0], fn in _LIST_ARG)
        if field is None or not words or not all(words):
            return []
        path, lowered = field
        folded = frozenset(w.casefold() for w in words)
        found: list[Test] = []
        if fn in _RAW_TEXT and not lowered:
            found.append((("text", path, "raw"), frozenset(words), True))
        elif fn in _WORD_TEXT:
            # containsWord case-folds text and word itself: lowerAscii() changes nothing
            found.append((("text", path, "word"), folded, True))
        elif lowered and not all(w.isascii() for w in words):
            return []  # lowerAscii keeps other letters as they are: no folding rule
        # every text test needs its words, case-folded, somewhere in the folded text
        found.append((("text", path, "folded"), folded, False))
        return found
    return []


def _test(expr: cel_ast.Expr, root: str) -> Test | None:
    """The one exact test ``expr`` is, if it is one."""
    for test in _tests(expr, root):
        if test[2]:
            return test
    return None


def _lower_ascii(text: str) -> str:
    return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in text)


def necessary(expr: cel_ast.Expr | None, root: str | None) -> Needs:
    """What must hold on each dimension for ``expr`` to be true.

    A dimension absent from the result is not constrained.  Text needs of a
    conjunction keep the smallest word set of any one conjunct (any one of
    them is a valid filter; the smallest filters best).
    """
    if expr is None or root is None:
        return {}
    if isinstance(expr, cel_ast.Call) and expr.target is None:
        if expr.function == "_&&_":
            merged: Needs = {}
            for conjunct in conjuncts(expr):
                _and(merged, necessary(conjunct, root))
            return merged
        if expr.function == "_||_":
            sides = [necessary(side, root) for side in disjuncts(expr)]
            common = set(sides[0])
            for side_needs in sides[1:]:
                common &= set(side_needs)
            return {key: frozenset().union(*(s[key] for s in sides)) for key in sorted(common)}
    return {key: values for key, values, _ in _tests(expr, root)}


def _and(into: Needs, more: Needs) -> None:
    for key, values in more.items():
        have = into.get(key)
        if have is None:
            into[key] = values
        elif key[0] == "equal":
            into[key] = have & values
        elif len(values) < len(have) or (
            len(values) == len(have) and sorted(values) < sorted(have)
        ):
            into[key] = values


def exact(expr: cel_ast.Expr, root: str | None) -> tuple[Key, frozenset[str]] | None:
    """The dimension and values that decide ``expr`` by themselves, or ``None``.

    ``expr`` is true exactly when the field's value (or, for ``raw`` text, the
    text) matches one of the values; an error in ``expr`` can only come from a
    missing or non-string field, where an index keeps the rule anyway.
    """
    if root is None:
        return None
    found: list[tuple[Key, frozenset[str]]] = []
    for part in disjuncts(expr):
        test = _test(part, root)
        if test is None:
            return None
        found.append((test[0], test[1]))
    keys = {key for key, _ in found}
    if len(keys) != 1:
        return None
    return found[0][0], frozenset().union(*(values for _, values in found))


def analyse(
    expr: cel_ast.Expr | None, root: str | None
) -> tuple[
    dict[tuple[str, ...], frozenset[str]], dict[tuple[tuple[str, ...], bool], tuple[str, ...]]
]:
    """The equality and text constraints of a condition, by field path (for the
    lints): ``equal[path]`` the allowed values, ``text[(path, folded)]`` words."""
    equal: dict[tuple[str, ...], frozenset[str]] = {}
    text: dict[tuple[tuple[str, ...], bool], tuple[str, ...]] = {}
    for (kind, path, form), values in necessary(expr, root).items():
        if kind == "equal" and form == "":
            equal[path] = values
        elif kind == "text":
            text[(path, form == "folded")] = tuple(sorted(values))
    return equal, text
