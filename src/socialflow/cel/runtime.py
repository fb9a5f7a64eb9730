"""What evaluation calls at run time, shared by both backends.

The reference interpreter (:mod:`socialflow.cel.interpreter`) calls these
directly; the compiler (:mod:`socialflow.cel.compiler`) binds them into the
namespace of the code it generates (``_resolve``, ``_range1``...).  Name
resolution, comprehension ranges and the size and iteration limits live here
once, so the two backends cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Final

from socialflow.cel import ast
from socialflow.cel.limits import Limits
from socialflow.cel.stdlib import has_field, select
from socialflow.cel.values import TYPE_NAMES, no_overload, type_name
from socialflow.errors import EvalError, LimitExceededError

__all__ = [
    "SizeChecker",
    "check_size",
    "filter_error",
    "iterate",
    "iteration_limit",
    "logic_end",
    "overflow",
    "predicate_error",
    "qualified_names",
    "raise_error",
    "range1",
    "range2",
    "resolve_name",
    "resolve_qualified",
]

_MISSING: Final = object()


# -- names --------------------------------------------------------------------------------


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


# -- errors -------------------------------------------------------------------------------


def raise_error(error: EvalError) -> Any:
    """Raise a fresh copy of ``error`` (a copy, so each raise is located anew)."""
    raise EvalError(error.kind, error.message)


def overflow() -> Any:
    raise EvalError("overflow", "integer overflow")


def logic_end(function: str, *values: Any) -> Any:
    """Finish ``&&``/``||`` once no operand decided it: the first error, else the
    first non-bool operand is ``no_matching_overload``."""
    for value in values:
        if isinstance(value, EvalError):
            raise value
    for value in values:
        if value is not True and value is not False:
            no_overload(function, value)
    raise AssertionError("unreachable")  # pragma: no cover


def predicate_error(kind: str, value: Any) -> EvalError:
    """The error an ``all``/``exists`` predicate result that is not a bool stands for."""
    if isinstance(value, EvalError):
        return value
    return EvalError(
        "no_matching_overload", f"`{kind}` predicate must be a bool, not {type_name(value)}"
    )


def filter_error(kind: str, value: Any) -> Any:
    """A comprehension filter gave ``value``, not a bool."""
    no_overload(kind, value)


# -- comprehensions -----------------------------------------------------------------------


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


def range1(kind: str, rng: Any) -> Any:
    """The elements (list) or keys (map) a one-variable comprehension walks."""
    if isinstance(rng, (list, tuple)):
        return rng
    if isinstance(rng, Mapping):
        return list(rng)
    no_overload(kind, rng)


def range2(kind: str, rng: Any) -> Any:
    """The (index, element) or (key, value) pairs a two-variable comprehension walks."""
    return list(iterate(kind, True, rng))


# -- limits -------------------------------------------------------------------------------


def iteration_limit(limit: int) -> Any:
    raise LimitExceededError("iteration_limit", f"comprehensions ran more than {limit} iterations")


def check_size(value: Any, limits: Limits) -> None:
    """Raise ``size_limit`` if ``value`` is a string or collection over the limits."""
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


class SizeChecker:
    """:func:`check_size` bound to one program's limits; returns the value checked."""

    __slots__ = ("limits",)

    def __init__(self, limits: Limits) -> None:
        self.limits = limits

    def __call__(self, value: Any) -> Any:
        check_size(value, self.limits)
        return value
