"""The CEL function registry: every function and operator, declared once.

Each :class:`Function` names a CEL function or operator, its signatures
(:class:`Overload`: parameter types, the receiver first for a method call, and
the result type), its Python implementation (in :mod:`socialflow.cel.stdlib`
for CEL's standard functions, :mod:`socialflow.cel.ext` for socialflow's
extensions) and how it may be called (:class:`Style`).

The tables the rest of the engine uses are derived from it:

- :data:`FUNCTIONS`: name -> the callable the evaluators call (arity-checked
  against the signatures, except operators, whose arity the parser fixes);
- :data:`GLOBAL_ONLY` / :data:`RECEIVER_ONLY`: names callable only as
  ``f(x)`` / only as ``x.f(...)``;
- :data:`OPERATORS`: names the parser gives operator expressions;
- :data:`SIGNATURES`: name -> overloads, for the type checker.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

import attrs

from socialflow.cel import ext, stdlib
from socialflow.cel.types import (
    BOOL,
    BYTES,
    DOUBLE,
    DURATION,
    DYN,
    INT,
    STRING,
    TIMESTAMP,
    TYPE,
    UINT,
    CelType,
    ListType,
    MapType,
    TypeParam,
    TypeType,
    format_type,
)
from socialflow.cel.values import with_arity

__all__ = [
    "EXTENSIONS",
    "FUNCTIONS",
    "GLOBAL_ONLY",
    "OPERATORS",
    "RECEIVER_ONLY",
    "REGISTRY",
    "SIGNATURES",
    "STANDARD",
    "Function",
    "Overload",
    "Style",
    "signature_text",
]


class Style(enum.Enum):
    """How a function may be called."""

    #: only as ``f(x)`` (the conversions)
    GLOBAL = "global"
    #: only as ``x.f(...)``
    RECEIVER = "receiver"
    #: as ``f(x, ...)`` or ``x.f(...)``
    BOTH = "both"
    #: written as an operator (``a + b``); the parser names the call (``_+_``)
    OPERATOR = "operator"


@attrs.frozen(slots=True)
class Overload:
    """One signature of a function: parameter types (the receiver first for a
    method call) and the result type; :class:`~socialflow.cel.types.TypeParam`
    terms are bound per call."""

    function: str
    params: tuple[CelType, ...]
    result: CelType

    def __str__(self) -> str:
        return f"{signature_text(self.function, self.params)} -> {format_type(self.result)}"


@attrs.frozen(slots=True)
class Function:
    """One CEL function or operator, as both evaluators and the checker see it."""

    name: str
    style: Style
    #: Takes the receiver first for a method call.  ``None`` for ``&&``, ``||``
    #: and ``?:``, which absorb errors, so each evaluator implements them itself.
    impl: Callable[..., Any] | None
    overloads: tuple[Overload, ...]

    @property
    def arities(self) -> tuple[int, ...]:
        """The argument counts (receiver included) of the overloads."""
        return tuple(sorted({len(o.params) for o in self.overloads}))

    def runtime(self) -> Callable[..., Any] | None:
        """What the evaluators call: ``impl``, guarded so that another argument
        count is ``no_matching_overload`` (operators need no guard)."""
        if self.impl is None or self.style is Style.OPERATOR:
            return self.impl
        return with_arity(self.name, self.impl, *self.arities)


_Signature = tuple[tuple[CelType, ...], CelType]


def _sig(*params: CelType, result: CelType) -> _Signature:
    return params, result


def _declare(
    name: str, style: Style, impl: Callable[..., Any] | None, *signatures: _Signature
) -> Function:
    overloads = tuple(Overload(name, params, result) for params, result in signatures)
    return Function(name, style, impl, overloads)


_OP: Final = Style.OPERATOR
_GLOBAL: Final = Style.GLOBAL
_METHOD: Final = Style.RECEIVER
_BOTH: Final = Style.BOTH

_A: Final = TypeParam("A")
_K: Final = TypeParam("K")
_V: Final = TypeParam("V")
_NUMBERS: Final = (INT, UINT, DOUBLE)
_ORDERED: Final = (*_NUMBERS, BOOL, STRING, BYTES, TIMESTAMP, DURATION)
_LIST_STRING: Final = ListType(STRING)

#: ``<``, ``<=``, ``>``, ``>=``: same-type ordering, and heterogeneous numeric
#: ordering as CEL allows.
_ORDERING: Final = (
    *(_sig(t, t, result=BOOL) for t in _ORDERED),
    *(_sig(a, b, result=BOOL) for a in _NUMBERS for b in _NUMBERS if a != b),
)
_SAME_NUMBER: Final = tuple(_sig(t, t, result=t) for t in _NUMBERS)
#: The date accessors take a timestamp and an optional time zone ...
_DATE_PART: Final = (_sig(TIMESTAMP, result=INT), _sig(TIMESTAMP, STRING, result=INT))
#: ... and the clock accessors a duration too.
_CLOCK_PART: Final = (*_DATE_PART, _sig(DURATION, result=INT))
_WORDS_TEST: Final = _sig(STRING, _LIST_STRING, result=BOOL)

#: CEL's operators and standard functions (implemented in :mod:`socialflow.cel.stdlib`).
#: ``_==_``, ``_!=_``, ``@in`` and ``_?_:_`` have their signatures listed for
#: reference: the checker applies CEL's heterogeneous equality to them directly.
STANDARD: Final[tuple[Function, ...]] = (
    # -- operators
    _declare("!_", _OP, stdlib.logical_not, _sig(BOOL, result=BOOL)),
    _declare("-_", _OP, stdlib.negate, _sig(INT, result=INT), _sig(DOUBLE, result=DOUBLE)),
    _declare("_&&_", _OP, None, _sig(BOOL, BOOL, result=BOOL)),
    _declare("_||_", _OP, None, _sig(BOOL, BOOL, result=BOOL)),
    _declare("_?_:_", _OP, None, _sig(BOOL, _A, _A, result=_A)),
    _declare("_==_", _OP, stdlib.equals, _sig(_A, _A, result=BOOL)),
    _declare("_!=_", _OP, stdlib.not_equals, _sig(_A, _A, result=BOOL)),
    _declare("_<_", _OP, stdlib.less, *_ORDERING),
    _declare("_<=_", _OP, stdlib.less_equal, *_ORDERING),
    _declare("_>_", _OP, stdlib.greater, *_ORDERING),
    _declare("_>=_", _OP, stdlib.greater_equal, *_ORDERING),
    _declare(
        "_+_",
        _OP,
        stdlib.add,
        *(_sig(t, t, result=t) for t in (*_NUMBERS, STRING, BYTES)),
        _sig(ListType(_A), ListType(_A), result=ListType(_A)),
        _sig(TIMESTAMP, DURATION, result=TIMESTAMP),
        _sig(DURATION, TIMESTAMP, result=TIMESTAMP),
        _sig(DURATION, DURATION, result=DURATION),
    ),
    _declare(
        "_-_",
        _OP,
        stdlib.subtract,
        *_SAME_NUMBER,
        _sig(TIMESTAMP, TIMESTAMP, result=DURATION),
        _sig(TIMESTAMP, DURATION, result=TIMESTAMP),
        _sig(DURATION, DURATION, result=DURATION),
    ),
    _declare("_*_", _OP, stdlib.multiply, *_SAME_NUMBER),
    _declare("_/_", _OP, stdlib.divide, *_SAME_NUMBER),
    _declare("_%_", _OP, stdlib.modulo, _sig(INT, INT, result=INT), _sig(UINT, UINT, result=UINT)),
    _declare(
        "@in",
        _OP,
        stdlib.contains_element,
        _sig(_A, ListType(_A), result=BOOL),
        _sig(_K, MapType(_K, _V), result=BOOL),
    ),
    _declare(
        "_[_]",
        _OP,
        stdlib.index,
        _sig(ListType(_A), INT, result=_A),
        _sig(ListType(_A), UINT, result=_A),
        _sig(MapType(_K, _V), _K, result=_V),
    ),
    # -- functions
    _declare(
        "size",
        _BOTH,
        stdlib.size,
        *(_sig(t, result=INT) for t in (STRING, BYTES, ListType(_A), MapType(_K, _V))),
    ),
    _declare("contains", _METHOD, stdlib.contains, _sig(STRING, STRING, result=BOOL)),
    _declare("startsWith", _METHOD, stdlib.starts_with, _sig(STRING, STRING, result=BOOL)),
    _declare("endsWith", _METHOD, stdlib.ends_with, _sig(STRING, STRING, result=BOOL)),
    _declare("matches", _BOTH, stdlib.matches, _sig(STRING, STRING, result=BOOL)),
    # -- conversions
    _declare(
        "int",
        _GLOBAL,
        stdlib.to_int,
        *(_sig(t, result=INT) for t in (INT, UINT, DOUBLE, STRING, TIMESTAMP)),
    ),
    _declare(
        "uint",
        _GLOBAL,
        stdlib.to_uint,
        *(_sig(t, result=UINT) for t in (INT, UINT, DOUBLE, STRING)),
    ),
    _declare(
        "double",
        _GLOBAL,
        stdlib.to_double,
        *(_sig(t, result=DOUBLE) for t in (DOUBLE, INT, UINT, STRING)),
    ),
    _declare(
        "string",
        _GLOBAL,
        stdlib.to_string,
        *(
            _sig(t, result=STRING)
            for t in (STRING, BOOL, INT, UINT, DOUBLE, BYTES, TIMESTAMP, DURATION, TYPE)
        ),
    ),
    _declare("bytes", _GLOBAL, stdlib.to_bytes, *(_sig(t, result=BYTES) for t in (BYTES, STRING))),
    _declare("bool", _GLOBAL, stdlib.to_bool, *(_sig(t, result=BOOL) for t in (BOOL, STRING))),
    _declare(
        "timestamp",
        _GLOBAL,
        stdlib.to_timestamp,
        *(_sig(t, result=TIMESTAMP) for t in (TIMESTAMP, STRING, INT)),
    ),
    _declare(
        "duration",
        _GLOBAL,
        stdlib.to_duration,
        *(_sig(t, result=DURATION) for t in (DURATION, STRING, INT)),
    ),
    _declare("type", _GLOBAL, stdlib.to_type, _sig(_A, result=TypeType(_A))),
    _declare("dyn", _GLOBAL, stdlib.dyn, _sig(_A, result=DYN)),
    # -- timestamp and duration accessors, with an optional time zone
    _declare("getFullYear", _METHOD, stdlib.get_full_year, *_DATE_PART),
    _declare("getMonth", _METHOD, stdlib.get_month, *_DATE_PART),
    _declare("getDate", _METHOD, stdlib.get_date, *_DATE_PART),
    _declare("getDayOfMonth", _METHOD, stdlib.get_day_of_month, *_DATE_PART),
    _declare("getDayOfWeek", _METHOD, stdlib.get_day_of_week, *_DATE_PART),
    _declare("getDayOfYear", _METHOD, stdlib.get_day_of_year, *_DATE_PART),
    _declare("getHours", _METHOD, stdlib.get_hours, *_CLOCK_PART),
    _declare("getMinutes", _METHOD, stdlib.get_minutes, *_CLOCK_PART),
    _declare("getSeconds", _METHOD, stdlib.get_seconds, *_CLOCK_PART),
    _declare("getMilliseconds", _METHOD, stdlib.get_milliseconds, *_CLOCK_PART),
)

#: socialflow's extension functions (implemented in :mod:`socialflow.cel.ext`,
#: documented in ``docs/cel.md``), all methods.
EXTENSIONS: Final[tuple[Function, ...]] = (
    _declare("lowerAscii", _METHOD, ext.lower_ascii, _sig(STRING, result=STRING)),
    _declare("upperAscii", _METHOD, ext.upper_ascii, _sig(STRING, result=STRING)),
    _declare("trim", _METHOD, ext.trim, _sig(STRING, result=STRING)),
    _declare("containsAny", _METHOD, ext.contains_any, _WORDS_TEST),
    _declare("containsAll", _METHOD, ext.contains_all, _WORDS_TEST),
    _declare("containsAnyWord", _METHOD, ext.contains_any_word, _WORDS_TEST),
    _declare("startsWithAny", _METHOD, ext.starts_with_any, _WORDS_TEST),
    _declare("endsWithAny", _METHOD, ext.ends_with_any, _WORDS_TEST),
    _declare("containsWord", _METHOD, ext.contains_word_fn, _sig(STRING, STRING, result=BOOL)),
    _declare(
        "replace",
        _METHOD,
        ext.replace,
        _sig(STRING, STRING, STRING, result=STRING),
        _sig(STRING, STRING, STRING, INT, result=STRING),
    ),
    _declare(
        "split",
        _METHOD,
        ext.split,
        _sig(STRING, STRING, result=_LIST_STRING),
        _sig(STRING, STRING, INT, result=_LIST_STRING),
    ),
    _declare(
        "join",
        _METHOD,
        ext.join,
        _sig(_LIST_STRING, result=STRING),
        _sig(_LIST_STRING, STRING, result=STRING),
    ),
    _declare(
        "indexOf",
        _METHOD,
        ext.index_of,
        _sig(STRING, STRING, result=INT),
        _sig(STRING, STRING, INT, result=INT),
    ),
    _declare(
        "substring",
        _METHOD,
        ext.substring,
        _sig(STRING, INT, result=STRING),
        _sig(STRING, INT, INT, result=STRING),
    ),
)


def _by_name(functions: Iterable[Function]) -> dict[str, Function]:
    out: dict[str, Function] = {}
    for function in functions:
        if function.name in out:  # pragma: no cover - a mistake in the tables above
            raise AssertionError(f"CEL function `{function.name}` is declared twice")
        out[function.name] = function
    return out


#: Every CEL function and operator by name.
REGISTRY: Final[Mapping[str, Function]] = _by_name((*STANDARD, *EXTENSIONS))

#: Function name -> implementation.  Receiver-style calls pass the target first.
FUNCTIONS: Final[dict[str, Callable[..., Any]]] = {
    name: runtime
    for name, function in REGISTRY.items()
    if (runtime := function.runtime()) is not None
}
#: Functions that may only be called as ``f(x)``, never as ``x.f()``.
GLOBAL_ONLY: Final = frozenset(n for n, f in REGISTRY.items() if f.style is Style.GLOBAL)
#: Functions that may only be called as ``x.f(...)``.
RECEIVER_ONLY: Final = frozenset(n for n, f in REGISTRY.items() if f.style is Style.RECEIVER)
#: The names the parser gives operator expressions (``_+_``, ``@in``, ``_[_]``...).
OPERATORS: Final = frozenset(n for n, f in REGISTRY.items() if f.style is Style.OPERATOR)
#: Function or operator name -> its signatures.
SIGNATURES: Final[Mapping[str, tuple[Overload, ...]]] = {
    name: function.overloads for name, function in REGISTRY.items()
}


def signature_text(function: str, params: tuple[CelType, ...]) -> str:
    """``string.contains(string)`` for a method, ``size(string)`` otherwise."""
    shown = [format_type(p) for p in params]
    if function in RECEIVER_ONLY and shown:
        return f"{shown[0]}.{function}({', '.join(shown[1:])})"
    return f"{function}({', '.join(shown)})"
