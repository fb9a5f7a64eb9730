"""What evaluation calls at run time, shared by both backends.

The reference interpreter (:mod:`socialflow.cel.interpreter`) calls these
directly; the compiler (:mod:`socialflow.cel.compiler`) binds them into the
namespace of the code it generates (``_resolve``, ``_range1``...).  Name
resolution, comprehension ranges, and the cost model with the size, iteration
and cost limits live here once, so the two backends cannot drift apart.

The cost model (``docs/limits.md``)
-----------------------------------

One evaluation's cost is counted in a *meter*, a two-item list ``[cost,
iterations]`` made per evaluation (the compiled backend makes it only when
the expression can charge anything).  A cost unit is about one character,
byte or element touched, or one comprehension iteration:

1. every comprehension iteration costs :data:`NODE_UNITS` per syntax-tree
   node of the comprehension's body and filter (:func:`iteration_cost`,
   :meth:`Budget.tick`): the work one iteration does besides what is charged
   below (evaluating a node takes the time of reading ten-odd characters);
2. every function that *builds* a string, bytes or list (:data:`BUILDS`)
   costs the size of what it builds, plus the length of the text that
   ``replace`` and ``split`` search; the size is computed from the inputs and
   checked against ``max_string_length`` / ``max_collection_size`` and the
   budget *before* the value is allocated (:meth:`Budget.build`);
3. scans whose work is a product of two run-time sizes (:data:`PRODUCT_SCANS`)
   cost that product: ``matches`` the text length times a factor of the
   pattern's program size, ``containsAny``/``containsAll``/``containsAnyWord``
   the text length times the number of strings (:meth:`Budget.scan`);
4. inside a comprehension's body or filter, where work repeats per iteration,
   every other call except :data:`UNMETERED` costs what it reads, its
   arguments' :func:`weight` (a character or byte weighs 1, a list element or
   map entry :data:`ELEMENT_UNITS`, read one by one by Python code): a scan the
   length of its text and needle, a comparison the weight of the smaller
   operand, ``in`` on a list the elements compared (:meth:`Budget.metered`);
   and every list or map literal its number of entries.

What is not charged runs at most once per evaluation and reads a value the
host passed in or one the same sub-expression built (and paid for): field
reads, comparisons, single scans (``contains``, ``startsWith``...) and
``containsAny`` with a literal list outside comprehensions.  So the hot path of
a rule condition pays nothing, and everything that can repeat or grow is
charged.  Exceeding ``max_cost`` raises ``LimitExceededError(kind="cost_limit")``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Final

from socialflow.cel import ast
from socialflow.cel.limits import Limits
from socialflow.cel.re2 import compile_regex, cost_factor
from socialflow.cel.stdlib import has_field, select
from socialflow.cel.values import TYPE_NAMES, CelMap, UInt, no_overload, type_name
from socialflow.errors import EvalError, LimitExceededError

__all__ = [
    "BUILDS",
    "CHARGED_OUTSIDE_BODIES",
    "ELEMENT_UNITS",
    "NODE_UNITS",
    "PRODUCT_SCANS",
    "UNMETERED",
    "Budget",
    "call_mode",
    "filter_error",
    "iterate",
    "iteration_cost",
    "iteration_limit",
    "logic_end",
    "new_map",
    "overflow",
    "predicate_error",
    "qualified_names",
    "raise_error",
    "range1",
    "range2",
    "resolve_name",
    "resolve_qualified",
    "weight",
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
    """The elements (list) or keys (map) a one-variable comprehension walks.

    A map is walked in place, never copied: a comprehension that stops early
    (``exists``) costs one iteration, not the size of the map."""
    if isinstance(rng, (list, tuple, Mapping)):
        return rng
    no_overload(kind, rng)


def range2(kind: str, rng: Any) -> Any:
    """The (index, element) or (key, value) pairs a two-variable comprehension walks."""
    if isinstance(rng, (list, tuple)):
        return enumerate(rng)
    if isinstance(rng, Mapping):
        return rng.items()
    no_overload(kind, rng)


def new_map(rng: Any) -> dict[Any, Any] | CelMap:
    """The empty result of ``transformMap`` over ``rng``: a :class:`CelMap` when the
    range is one (its keys may mix bool and numbers), else a ``dict``."""
    return CelMap() if isinstance(rng, CelMap) else {}


# -- limits -------------------------------------------------------------------------------


#: Cost of a syntax-tree node evaluated once per comprehension iteration.
NODE_UNITS: Final = 10
#: Weight of a list element or map entry that Python code reads one by one
#: (CEL equality, ``in``): about ten times a character read by C code.
ELEMENT_UNITS: Final = 10


def iteration_cost(node: ast.Comprehension) -> int:
    """What one iteration of ``node`` costs: :data:`NODE_UNITS` per node of its
    body and filter."""
    count = 0
    stack: list[ast.Expr] = [node.body] if node.filter is None else [node.body, node.filter]
    while stack:
        count += 1
        stack.extend(ast.children(stack.pop()))
    return count * NODE_UNITS


def iteration_limit(limit: int) -> Any:
    raise LimitExceededError("iteration_limit", f"comprehensions ran more than {limit} iterations")


#: Functions that build a string, bytes or list: charged by the size they build.
BUILDS: Final = frozenset(
    {
        "_+_",
        "replace",
        "split",
        "join",
        "substring",
        "trim",
        "lowerAscii",
        "upperAscii",
        "string",
        "bytes",
    }
)
#: Scans whose work is a product of two run-time sizes: charged everywhere.
PRODUCT_SCANS: Final = frozenset({"matches", "containsAny", "containsAll", "containsAnyWord"})
#: Calls that read no more than a fixed amount whatever their arguments: never charged.
UNMETERED: Final = frozenset(
    {"size", "_[_]", "type", "dyn", "!_", "-_", "_-_", "_*_", "_/_", "_%_"}
)
#: What :func:`call_mode` may charge outside comprehension bodies.
CHARGED_OUTSIDE_BODIES: Final = BUILDS | PRODUCT_SCANS
#: The list scans whose list may be written literally (then free outside comprehensions).
_LIST_SCANS: Final = frozenset({"containsAny", "containsAll", "containsAnyWord"})


def _is_literal_string_list(node: ast.Expr) -> bool:
    return isinstance(node, ast.CreateList) and all(
        isinstance(e, ast.Literal) and type(e.value) is str for e in node.elements
    )


def call_mode(function: str, arg_nodes: tuple[ast.Expr, ...], in_body: bool) -> str:
    """How a call of ``function`` (receiver first in ``arg_nodes``) is charged:
    ``"build"``, ``"scan"``, ``"metered"`` or ``"free"``.  Both backends ask this
    one function, with ``in_body`` true inside a comprehension's body or filter."""
    if function in BUILDS:
        return "build"
    if function in PRODUCT_SCANS:
        if (
            not in_body
            and function in _LIST_SCANS
            and len(arg_nodes) == 2
            and _is_literal_string_list(arg_nodes[1])
        ):
            return "free"  # bounded by the source, like a single scan
        return "scan"
    if in_body and function not in UNMETERED:
        return "metered"
    return "free"


_UNBOUNDED: Final = sys.maxsize
_SCALARS: Final = frozenset({int, float, bool, UInt, type(None)})


def weight(value: Any, cap: int = _UNBOUNDED) -> int:
    """The size of ``value`` as the cost model counts it: characters of a string,
    bytes of bytes, :data:`ELEMENT_UNITS` per element of a list or entry of a map
    plus the weight of what they hold; 0 for scalars.  Stops counting once past
    ``cap``."""
    t = type(value)
    if t is str or t is bytes:
        return len(value)
    if t in _SCALARS:
        return 0
    if isinstance(value, (str, bytes)):
        return len(value)
    if isinstance(value, (list, tuple)):
        total = len(value) * ELEMENT_UNITS
        for item in value:
            if total > cap:
                break
            if type(item) not in _SCALARS:
                total += weight(item, cap - total)
        return total
    if isinstance(value, Mapping):
        total = len(value) * ELEMENT_UNITS
        for key, item in value.items():
            if total > cap:
                break
            if type(key) is not int:
                total += weight(key, cap - total)
            if type(item) not in _SCALARS:
                total += weight(item, cap - total)
        return total
    return 0


def _smaller_weight(a: Any, b: Any) -> int:
    """``min(weight(a), weight(b))`` in time proportional to the smaller one."""
    if type(a) is str and type(b) is str:
        return min(len(a), len(b))
    cap = 64
    while True:
        wa = weight(a, cap)
        wb = weight(b, cap)
        if wa <= cap or wb <= cap:
            return min(wa, wb)
        cap *= 4


def _in_cost(item: Any, container: Any, *_: Any) -> int:
    """A map is looked up (the key is hashed); a list is compared element by
    element, each comparison reading at most the item."""
    if isinstance(container, Mapping):
        return weight(item)
    if isinstance(container, (list, tuple)) and container:
        return len(container) * (ELEMENT_UNITS + weight(item))
    return 0


def _compare_cost(a: Any = None, b: Any = None, *_: Any) -> int:
    return _smaller_weight(a, b)


def _prefix_cost(s: Any = None, prefix: Any = None, *_: Any) -> int:
    return weight(prefix)


def _weights(*args: Any) -> int:
    return sum(weight(a) for a in args)


#: In comprehension bodies, function -> its cost (default: the weights of its arguments).
_BODY_COSTS: Final[dict[str, Callable[..., int]]] = {
    "_==_": _compare_cost,
    "_!=_": _compare_cost,
    "_<_": _compare_cost,
    "_<=_": _compare_cost,
    "_>_": _compare_cost,
    "_>=_": _compare_cost,
    "@in": _in_cost,
    "startsWith": _prefix_cost,
    "endsWith": _prefix_cost,
}


def _strs(*values: Any) -> bool:
    return all(isinstance(v, str) for v in values)


def _int_arg(args: tuple[Any, ...], i: int, default: int) -> int | None:
    if len(args) <= i:
        return default
    value = args[i]
    return int(value) if type(value) is int else None


# A plan is (kind, size of the result, extra units read) or None when the
# arguments are not the sized case (numbers for `+`, a wrong type: the
# function itself then answers or raises).
_Plan = tuple[str, int, int] | None


def _plan_add(*args: Any) -> _Plan:
    if len(args) != 2:
        return None
    a, b = args
    if isinstance(a, str) and isinstance(b, str):
        return "string", len(a) + len(b), 0
    if isinstance(a, bytes) and isinstance(b, bytes):
        return "bytes", len(a) + len(b), 0
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return "list", len(a) + len(b), 0
    return None


def _plan_replace(*args: Any) -> _Plan:
    if len(args) not in (3, 4) or not _strs(*args[:3]):
        return None
    s, old, new = (str(a) for a in args[:3])
    limit = _int_arg(args, 3, -1)
    if limit is None:
        return None
    count = s.count(old)  # no allocation; "" occurs len(s) + 1 times, as replace inserts
    if limit >= 0:
        count = min(count, limit)
    return "string", len(s) + count * (len(new) - len(old)), len(s)


def _plan_split(*args: Any) -> _Plan:
    if len(args) not in (2, 3) or not _strs(*args[:2]):
        return None
    s, sep = str(args[0]), str(args[1])
    limit = _int_arg(args, 2, -1)
    if limit is None:
        return None
    if limit == 0:
        parts = 0
    elif sep == "":
        parts = len(s) if limit < 0 else min(limit, len(s))
    else:
        parts = s.count(sep) + 1
        if limit > 0:
            parts = min(parts, limit)
    return "list", parts, len(s)


def _plan_join(*args: Any) -> _Plan:
    if len(args) not in (1, 2):
        return None
    items = args[0]
    sep = args[1] if len(args) == 2 else ""
    if not isinstance(items, (list, tuple)) or not isinstance(sep, str):
        return None
    if not all(isinstance(item, str) for item in items):
        return None
    size = sum(len(item) for item in items) + len(sep) * max(0, len(items) - 1)
    return "string", size, len(items)


def _plan_same_size(*args: Any) -> _Plan:
    if len(args) == 1 and isinstance(args[0], str):
        return "string", len(args[0]), 0
    return None


def _plan_substring(*args: Any) -> _Plan:
    if len(args) not in (2, 3) or not isinstance(args[0], str):
        return None
    begin = _int_arg(args, 1, 0)
    end = _int_arg(args, 2, len(args[0]))
    if begin is None or end is None or not 0 <= begin <= end <= len(args[0]):
        return None
    return "string", end - begin, 0


def _plan_bytes(*args: Any) -> _Plan:
    if len(args) == 1 and isinstance(args[0], str):
        # at least one byte per character: the exact size is checked afterwards
        return "bytes", len(args[0]), 0
    return None


_KINDS: Final = {str: "string", bytes: "bytes", list: "list"}

_PLANS: Final[dict[str, Callable[..., _Plan]]] = {
    "_+_": _plan_add,
    "replace": _plan_replace,
    "split": _plan_split,
    "join": _plan_join,
    "substring": _plan_substring,
    "lowerAscii": _plan_same_size,
    "upperAscii": _plan_same_size,
    "bytes": _plan_bytes,
}


def _list_scan_cost(*args: Any) -> int | None:
    if len(args) != 2 or not isinstance(args[0], str) or not isinstance(args[1], (list, tuple)):
        return None
    return len(args[0]) * len(args[1]) + weight(args[1])


def _matches_cost(*args: Any) -> int | None:
    if len(args) != 2 or not _strs(*args):
        return None
    text, pattern = str(args[0]), str(args[1])
    return len(pattern) + len(text) * cost_factor(compile_regex(pattern))


_SCAN_COSTS: Final[dict[str, Callable[..., int | None]]] = {
    "matches": _matches_cost,
    "containsAny": _list_scan_cost,
    "containsAll": _list_scan_cost,
    "containsAnyWord": _list_scan_cost,
}


def new_meter() -> list[int]:
    """A fresh meter: ``[cost, iterations]``."""
    return [0, 0]


class Budget:
    """One program's limits as evaluation enforces them; the meter is per evaluation.

    Every method that charges raises ``cost_limit`` as soon as the meter's cost
    exceeds ``max_cost`` (the meter is then over the limit and the evaluation ends).
    """

    __slots__ = ("max_collection", "max_cost", "max_iterations", "max_string")

    def __init__(self, limits: Limits) -> None:
        self.max_cost = limits.max_cost
        self.max_iterations = limits.max_iterations
        self.max_string = limits.max_string_length
        self.max_collection = limits.max_collection_size

    def over(self, meter: list[int]) -> Any:
        """Raise ``cost_limit`` (the meter is over the budget)."""
        raise LimitExceededError(
            "cost_limit",
            f"evaluation cost {meter[0]:,} exceeds the limit of {self.max_cost:,} (max_cost)",
        )

    def charge(self, meter: list[int], units: int) -> None:
        meter[0] += units
        if meter[0] > self.max_cost:
            self.over(meter)

    def tick(self, meter: list[int], units: int) -> None:
        """One comprehension iteration, costing ``units`` (:func:`iteration_cost`)."""
        meter[1] += 1
        if meter[1] > self.max_iterations:
            iteration_limit(self.max_iterations)
        meter[0] += units
        if meter[0] > self.max_cost:
            self.over(meter)

    def check_size(self, kind: str, size: int) -> None:
        """Raise ``size_limit`` if a ``kind`` value of ``size`` is over the limits."""
        if kind == "list":
            if size > self.max_collection:
                raise LimitExceededError(
                    "size_limit",
                    f"a list of {size:,} elements exceeds the limit of "
                    f"{self.max_collection:,} (max_collection_size)",
                )
        elif size > self.max_string:
            unit = "characters" if kind == "string" else "bytes"
            raise LimitExceededError(
                "size_limit",
                f"a {kind} of {size:,} {unit} exceeds the limit of "
                f"{self.max_string:,} (max_string_length)",
            )

    def build(self, meter: list[int], name: str, fn: Callable[..., Any], *args: Any) -> Any:
        """Call a :data:`BUILDS` function: size checked and cost charged before the
        result is allocated when the inputs tell its size, after (for results no
        larger than an input) otherwise."""
        planner = _PLANS.get(name)
        plan = planner(*args) if planner is not None else None
        if plan is not None:
            kind, size, read = plan
            self.check_size(kind, size)
            self.charge(meter, size + read)
            result = fn(*args)
            if kind == "bytes":
                self.check_size(kind, len(result))
            return result
        result = fn(*args)
        if isinstance(result, (str, bytes, list)):
            self.check_size(_KINDS.get(type(result), "string"), len(result))
            self.charge(meter, len(result))
        return result

    def scan(self, meter: list[int], name: str, fn: Callable[..., Any], *args: Any) -> Any:
        """Call a :data:`PRODUCT_SCANS` function, charged its product first."""
        units = _SCAN_COSTS[name](*args)
        if units:
            self.charge(meter, units)
        return fn(*args)

    def metered(self, meter: list[int], name: str, fn: Callable[..., Any], *args: Any) -> Any:
        """Call ``fn`` inside a comprehension body, charged what it reads first."""
        cost = _BODY_COSTS.get(name)
        units = cost(*args) if cost is not None else _weights(*args)
        if units:
            self.charge(meter, units)
        return fn(*args)

    def call(
        self, mode: str, meter: list[int], name: str, fn: Callable[..., Any], args: Iterable[Any]
    ) -> Any:
        """Call ``fn`` as :func:`call_mode` said (the interpreter's entry point)."""
        if mode == "build":
            return self.build(meter, name, fn, *args)
        if mode == "scan":
            return self.scan(meter, name, fn, *args)
        if mode == "metered":
            return self.metered(meter, name, fn, *args)
        return fn(*args)


_BUDGETS: dict[int, tuple[Limits, Budget]] = {}


def budget_for(limits: Limits) -> Budget:
    """The :class:`Budget` of ``limits``, made once per ``Limits`` object (by
    identity: hashing the record on every evaluation would cost more)."""
    entry = _BUDGETS.get(id(limits))
    if entry is not None and entry[0] is limits:
        return entry[1]
    budget = Budget(limits)
    if len(_BUDGETS) > 256:
        _BUDGETS.clear()
    _BUDGETS[id(limits)] = (limits, budget)
    return budget
