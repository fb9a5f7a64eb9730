"""CEL abstract syntax: frozen, slotted attrs nodes, each with its source span.

Operators are :class:`Call` nodes whose ``function`` is the operator's CEL
name (``_+_``, ``_&&_``, ``_?_:_``, ``!_``, ``-_``, ``@in``, ``_==_``...), as in
cel-go; the macros expand to :class:`Comprehension` and to :class:`Select`
with ``test_only`` (``has``).
"""

from __future__ import annotations

from typing import Any

import attrs

from socialflow.source import Span

__all__ = [
    "Call",
    "Comprehension",
    "CreateList",
    "CreateMap",
    "Expr",
    "Ident",
    "Index",
    "Literal",
    "Select",
]


@attrs.frozen(slots=True)
class Literal:
    """A constant: int, UInt, float, str, bytes, bool or None."""

    value: Any
    span: Span = attrs.field(eq=False, repr=False)


@attrs.frozen(slots=True)
class Ident:
    """A variable reference (or a type name such as ``int`` used as a value)."""

    name: str
    span: Span = attrs.field(eq=False, repr=False)


@attrs.frozen(slots=True)
class Select:
    """``operand.field``; with ``test_only`` it is ``has(operand.field)``."""

    operand: Expr
    field: str
    span: Span = attrs.field(eq=False, repr=False)
    test_only: bool = False


@attrs.frozen(slots=True)
class Index:
    """``operand[index]``."""

    operand: Expr
    index: Expr
    span: Span = attrs.field(eq=False, repr=False)


@attrs.frozen(slots=True)
class Call:
    """A function call ``f(args)``, a method call ``target.f(args)`` or an operator."""

    function: str
    args: tuple[Expr, ...]
    span: Span = attrs.field(eq=False, repr=False)
    target: Expr | None = None


@attrs.frozen(slots=True)
class CreateList:
    elements: tuple[Expr, ...]
    span: Span = attrs.field(eq=False, repr=False)


@attrs.frozen(slots=True)
class CreateMap:
    entries: tuple[tuple[Expr, Expr], ...]
    span: Span = attrs.field(eq=False, repr=False)


#: The comprehension kinds the macros produce.
COMPREHENSION_KINDS = (
    "all",
    "exists",
    "exists_one",
    "map",
    "filter",
    "transform_list",
    "transform_map",
)


@attrs.frozen(slots=True)
class Comprehension:
    """A macro loop over ``range``.

    ``kind`` is one of :data:`COMPREHENSION_KINDS`.  ``var`` is bound to each
    element (list) or key (map); with two variables (``var2`` set) ``var`` is the
    index/key and ``var2`` the value.  ``body`` is the predicate (all, exists,
    exists_one, filter) or the transform (map, transform_*); ``filter`` is the
    optional predicate of the three-/four-argument forms of ``map`` and
    ``transform_*``.
    """

    kind: str
    var: str
    var2: str | None
    range: Expr
    body: Expr
    filter: Expr | None
    span: Span = attrs.field(eq=False, repr=False)


Expr = Literal | Ident | Select | Index | Call | CreateList | CreateMap | Comprehension


def children(node: Expr) -> tuple[Expr, ...]:
    """The direct sub-expressions of ``node``, in source order."""
    kind = type(node)  # the common kinds first, without pattern matching
    if kind is Call:
        target = node.target  # type: ignore[union-attr]
        args: tuple[Expr, ...] = node.args  # type: ignore[union-attr]
        return args if target is None else (target, *args)
    if kind is Literal or kind is Ident:
        return ()
    if kind is Select:
        return (node.operand,)  # type: ignore[union-attr]
    match node:
        case Literal() | Ident():
            return ()
        case Select(operand=operand):
            return (operand,)
        case Index(operand=operand, index=index):
            return (operand, index)
        case Call(target=target, args=args):
            return args if target is None else (target, *args)
        case CreateList(elements=elements):
            return elements
        case CreateMap(entries=entries):
            return tuple(x for entry in entries for x in entry)
        case Comprehension(range=rng, body=body, filter=flt):
            return (rng, body) if flt is None else (rng, flt, body)
    raise AssertionError(node)  # pragma: no cover
