"""CEL's standard operators and functions, shared by both backends.

Every function takes and returns Python values in the mapping of
:mod:`socialflow.cel.values` and raises :class:`~socialflow.errors.EvalError`
with a machine-readable ``kind``.  Dispatch is on exact types (``type(x) is
int``) so that bool never passes for int.  The compiler inlines fast paths for
the common cases and falls back to these functions for everything else.
Which CEL function each one implements, with its signatures and call style,
is declared in :mod:`socialflow.cel.functions`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

from socialflow.cel.re2 import regex_search
from socialflow.cel.values import (
    INT_MAX,
    INT_MIN,
    UINT_MAX,
    CelMap,
    Type,
    UInt,
    dur_to_ns,
    exact_lookup,
    format_duration,
    format_timestamp,
    no_overload,
    ns_to_dur,
    ns_to_ts,
    parse_duration,
    parse_timestamp,
    ts_to_ns,
    type_name,
    type_of,
    zone,
)
from socialflow.errors import EvalError

__all__ = ["equals", "map_lookup"]

_NUMBER_TYPES: Final = (int, float, UInt)


def _check_int(value: int) -> int:
    if value > INT_MAX or value < INT_MIN:
        raise EvalError("overflow", "integer overflow")
    return value


def _check_uint(value: int) -> UInt:
    if value > UINT_MAX or value < 0:
        raise EvalError("overflow", "unsigned integer overflow")
    return UInt(value)


# -- equality and ordering ----------------------------------------------------------------


def _is_number(value: Any) -> bool:
    t = type(value)
    return t is int or t is float or t is UInt


def equals(a: Any, b: Any) -> bool:
    """CEL ``==``: heterogeneous, numeric across int/uint/double, never an error."""
    ta = type(a)
    tb = type(b)
    if ta is tb and (ta is str or ta is int or ta is float or ta is bool):
        return bool(a == b)
    if ta is bool or tb is bool:
        return ta is tb and a == b
    if _is_number(a):
        return _is_number(b) and a == b
    if _is_number(b):
        return False
    if a is None or b is None:
        return a is b
    if isinstance(a, str):
        return isinstance(b, str) and a == b
    if isinstance(a, bytes):
        return isinstance(b, bytes) and a == b
    if isinstance(a, (list, tuple)):
        if not isinstance(b, (list, tuple)) or len(a) != len(b):
            return False
        return all(equals(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, Mapping):
        if not isinstance(b, Mapping) or len(a) != len(b):
            return False
        for key, value in a.items():
            found, other = map_lookup(b, key)
            if not found or not equals(value, other):
                return False
        return True
    if isinstance(a, datetime):
        return isinstance(b, datetime) and ts_to_ns(a) == ts_to_ns(b)
    if isinstance(a, timedelta):
        return isinstance(b, timedelta) and dur_to_ns(a) == dur_to_ns(b)
    if isinstance(a, Type):
        return isinstance(b, Type) and a.name == b.name
    if isinstance(a, int) and isinstance(b, int):  # int subclasses from the host
        return int(a) == int(b)
    if isinstance(a, float) and isinstance(b, float):
        return float(a) == float(b)
    type_of(a)  # unsupported host values raise a clear error
    type_of(b)
    return False


def not_equals(a: Any, b: Any) -> bool:
    return not equals(a, b)


def compare(function: str, a: Any, b: Any) -> int:
    """-1, 0 or 1 (or raise) for CEL's ordering; NaN compares as unordered (2)."""
    ta = type(a)
    tb = type(b)
    if _is_number(a) and _is_number(b):
        if ta is float or tb is float:
            # int and uint are converted to double first, as CEL implementations do
            fa, fb = float(a), float(b)
            if math.isnan(fa) or math.isnan(fb):
                return 2
            return (fa > fb) - (fa < fb)
        ia, ib = int(a), int(b)
        return (ia > ib) - (ia < ib)
    if ta is bool and tb is bool:
        return int(a > b) - int(a < b)
    if isinstance(a, str) and isinstance(b, str) and ta is not bool:
        return (a > b) - (a < b)
    if isinstance(a, bytes) and isinstance(b, bytes):
        return (a > b) - (a < b)
    if isinstance(a, datetime) and isinstance(b, datetime):
        x, y = ts_to_ns(a), ts_to_ns(b)
        return (x > y) - (x < y)
    if isinstance(a, timedelta) and isinstance(b, timedelta):
        x, y = dur_to_ns(a), dur_to_ns(b)
        return (x > y) - (x < y)
    no_overload(function, a, b)


def less(a: Any, b: Any) -> bool:
    return compare("_<_", a, b) == -1


def less_equal(a: Any, b: Any) -> bool:
    return compare("_<=_", a, b) in (-1, 0)


def greater(a: Any, b: Any) -> bool:
    return compare("_>_", a, b) == 1


def greater_equal(a: Any, b: Any) -> bool:
    return compare("_>=_", a, b) in (0, 1)


# -- arithmetic ---------------------------------------------------------------------------


def add(a: Any, b: Any) -> Any:
    ta = type(a)
    tb = type(b)
    if ta is tb:
        if ta is int:
            return _check_int(a + b)
        if ta is float or ta is str:
            return a + b
        if ta is UInt:
            return _check_uint(a + b)
        if ta is bool:
            no_overload("_+_", a, b)
    if isinstance(a, str) and isinstance(b, str) and ta is not bool:
        return str(a) + str(b)
    if isinstance(a, bytes) and isinstance(b, bytes):
        return bytes(a) + bytes(b)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return [*a, *b]
    if isinstance(a, datetime) and isinstance(b, timedelta):
        return ns_to_ts(ts_to_ns(a) + dur_to_ns(b))
    if isinstance(a, timedelta) and isinstance(b, datetime):
        return ns_to_ts(ts_to_ns(b) + dur_to_ns(a))
    if isinstance(a, timedelta) and isinstance(b, timedelta):
        return ns_to_dur(dur_to_ns(a) + dur_to_ns(b))
    if (
        isinstance(a, int)
        and isinstance(b, int)
        and ta is not bool
        and tb is not bool
        and ta is not UInt
        and tb is not UInt
    ):
        return _check_int(int(a) + int(b))
    no_overload("_+_", a, b)


def subtract(a: Any, b: Any) -> Any:
    ta = type(a)
    tb = type(b)
    if ta is tb:
        if ta is int:
            return _check_int(a - b)
        if ta is float:
            return a - b
        if ta is UInt:
            return _check_uint(a - b)
    if isinstance(a, datetime) and isinstance(b, datetime):
        diff = ts_to_ns(a) - ts_to_ns(b)
        if not INT_MIN <= diff <= INT_MAX:  # as implementations with int64 nanoseconds
            raise EvalError("range", "duration out of range")
        return ns_to_dur(diff)
    if isinstance(a, datetime) and isinstance(b, timedelta):
        return ns_to_ts(ts_to_ns(a) - dur_to_ns(b))
    if isinstance(a, timedelta) and isinstance(b, timedelta):
        return ns_to_dur(dur_to_ns(a) - dur_to_ns(b))
    no_overload("_-_", a, b)


def multiply(a: Any, b: Any) -> Any:
    ta = type(a)
    if ta is type(b):
        if ta is int:
            return _check_int(a * b)
        if ta is float:
            return a * b
        if ta is UInt:
            return _check_uint(a * b)
    no_overload("_*_", a, b)


def divide(a: Any, b: Any) -> Any:
    ta = type(a)
    if ta is type(b):
        if ta is int or ta is UInt:
            if b == 0:
                raise EvalError("division_by_zero", "division by zero")
            q = abs(a) // abs(b)
            q = q if (a >= 0) == (b >= 0) else -q
            return _check_int(q) if ta is int else UInt(q)
        if ta is float:
            if b == 0.0:
                if math.isnan(a) or a == 0.0:
                    return math.nan
                return math.copysign(math.inf, a) * math.copysign(1.0, b)
            return a / b
    no_overload("_/_", a, b)


def modulo(a: Any, b: Any) -> Any:
    ta = type(a)
    if ta is type(b) and (ta is int or ta is UInt):
        if b == 0:
            raise EvalError("division_by_zero", "modulus by zero")
        r = abs(a) % abs(b)
        r = r if a >= 0 else -r
        return r if ta is int else UInt(r)
    no_overload("_%_", a, b)


def negate(a: Any) -> Any:
    ta = type(a)
    if ta is int:
        return _check_int(-a)
    if ta is float:
        return -a
    no_overload("-_", a)


def logical_not(a: Any) -> bool:
    if type(a) is bool:
        return not a
    no_overload("!_", a)


# -- containers ---------------------------------------------------------------------------


def map_lookup(m: Mapping[Any, Any], key: Any) -> tuple[bool, Any]:
    """Find ``key`` in ``m`` with CEL's key semantics (numeric keys by value, bool apart)."""
    tk = type(key)
    if tk is str:
        if key in m:
            return True, m[key]
        return False, None
    if tk is float:
        if not key.is_integer():
            return False, None
        key = int(key)
    elif tk is not bool and not isinstance(key, int):
        if key is None or isinstance(key, (list, tuple, Mapping)):
            return False, None
        if key in m:
            return True, m[key]
        return False, None
    return exact_lookup(m, key)


def index(container: Any, key: Any) -> Any:
    """``container[key]`` for lists and maps."""
    if isinstance(container, (list, tuple)):
        tk = type(key)
        if tk is int or tk is UInt or (tk is float and key.is_integer()):
            i = int(key)
        else:
            raise EvalError("invalid_argument", f"list index must be an int, not {type_name(key)}")
        if 0 <= i < len(container):
            return container[i]
        raise EvalError(
            "invalid_argument", f"index {i} out of range for a list of size {len(container)}"
        )
    if isinstance(container, Mapping):
        _check_key_type(key)
        found, value = map_lookup(container, key)
        if found:
            return value
        raise EvalError("no_such_key", f"no such key: {_show_key(key)}")
    no_overload("_[_]", container, key)


def select(operand: Any, field: str) -> Any:
    """``operand.field``: map keys only, never Python attributes."""
    if isinstance(operand, Mapping):
        try:
            return operand[field]
        except KeyError:
            raise EvalError("no_such_key", f"no such key: `{field}`") from None
    raise EvalError(
        "no_such_field",
        f"type `{type_name(operand)}` does not support field selection (`.{field}`)",
    )


def has_field(operand: Any, field: str) -> bool:
    """``has(operand.field)``."""
    if isinstance(operand, Mapping):
        return field in operand
    raise EvalError(
        "no_such_field",
        f"type `{type_name(operand)}` does not support field selection (`.{field}`)",
    )


def contains_element(item: Any, container: Any) -> bool:
    """``item in container``."""
    if isinstance(container, (list, tuple)):
        return any(equals(item, x) for x in container)
    if isinstance(container, Mapping):
        return map_lookup(container, item)[0]
    no_overload("@in", item, container)


def _check_key_type(key: Any) -> None:
    t = type(key)
    if t is str or t is int or t is bool or t is UInt or t is float:
        return
    raise EvalError("invalid_argument", f"unsupported map key type `{type_name(key)}`")


def _show_key(key: Any) -> str:
    if type(key) is str:
        return f"`{key}`"
    if type(key) is bool:
        return "true" if key else "false"
    return str(key)


def make_map(entries: Sequence[tuple[Any, Any]]) -> dict[Any, Any] | CelMap:
    """A map literal; keys must be int, uint, bool or string and distinct.

    A plain ``dict``, or a :class:`CelMap` when bool and numeric keys mix (a
    ``dict`` would merge ``1`` and ``true``)."""
    out: dict[Any, Any] | CelMap = {}
    bools = numbers = False
    for key, value in entries:
        t = type(key)
        if not (t is str or t is int or t is bool or t is UInt):
            raise EvalError("invalid_argument", f"unsupported map key type `{type_name(key)}`")
        if t is bool:
            bools = True
        elif t is not str:
            numbers = True
        if bools and numbers and type(out) is dict:
            out = CelMap(out)
        if map_lookup(out, key)[0]:
            raise EvalError("invalid_argument", f"repeated map key {_show_key(key)}")
        out[key] = value
    return out


def size(value: Any) -> int:
    if isinstance(value, (str, bytes, list, tuple, Mapping)):
        return len(value)
    no_overload("size", value)


# -- strings ------------------------------------------------------------------------------


def _strings(function: str, a: Any, b: Any) -> tuple[str, str]:
    if type(a) is str and type(b) is str:
        return a, b
    if isinstance(a, str) and isinstance(b, str):
        return str(a), str(b)
    no_overload(function, a, b)


def contains(s: Any, sub: Any) -> bool:
    a, b = _strings("contains", s, sub)
    return b in a


def starts_with(s: Any, prefix: Any) -> bool:
    a, b = _strings("startsWith", s, prefix)
    return a.startswith(b)


def ends_with(s: Any, suffix: Any) -> bool:
    a, b = _strings("endsWith", s, suffix)
    return a.endswith(b)


def matches(s: Any, pattern: Any) -> bool:
    a, b = _strings("matches", s, pattern)
    return regex_search(b, a)


# -- conversions --------------------------------------------------------------------------


def to_int(value: Any) -> int:
    t = type(value)
    if t is int:
        return int(value)
    if t is UInt:
        if value > INT_MAX:
            raise EvalError("range", "uint value out of int range")
        return int(value)
    if t is float:
        if math.isnan(value) or not (-9.223372036854775e18 <= value <= 9.223372036854775e18):
            raise EvalError("range", "double value out of int range")
        return int(value)
    if t is str:
        try:
            result = int(value, 10)
        except ValueError:
            raise EvalError("invalid_argument", f"cannot convert `{value}` to int") from None
        if value.strip() != value or "_" in value:
            raise EvalError("invalid_argument", f"cannot convert `{value}` to int")
        return _range_int(result)
    if isinstance(value, datetime):
        return ts_to_ns(value) // 10**9
    if isinstance(value, int) and t is not bool:
        return _range_int(int(value))
    no_overload("int", value)


def _range_int(value: int) -> int:
    if value > INT_MAX or value < INT_MIN:
        raise EvalError("range", "value out of int range")
    return value


def to_uint(value: Any) -> UInt:
    t = type(value)
    if t is UInt:
        return value  # type: ignore[no-any-return]  # exact type checked above
    if t is int:
        if value < 0:
            raise EvalError("range", "negative value out of uint range")
        return UInt(value)
    if t is float:
        if math.isnan(value) or not (0 <= value < 1.8446744073709552e19):
            raise EvalError("range", "double value out of uint range")
        return UInt(int(value))
    if t is str:
        try:
            result = int(value, 10)
        except ValueError:
            raise EvalError("invalid_argument", f"cannot convert `{value}` to uint") from None
        if not 0 <= result <= UINT_MAX or value.startswith(("-", "+")):
            raise EvalError("range", "value out of uint range")
        return UInt(result)
    no_overload("uint", value)


def to_double(value: Any) -> float:
    t = type(value)
    if t is float:
        return value  # type: ignore[no-any-return]  # exact type checked above
    if t is int or t is UInt:
        return float(value)
    if t is str:
        text = value.strip()
        if text != value or "_" in value:
            raise EvalError("invalid_argument", f"cannot convert `{value}` to double")
        try:
            return float(value)
        except ValueError:
            raise EvalError("invalid_argument", f"cannot convert `{value}` to double") from None
    no_overload("double", value)


def format_double(value: float) -> str:
    """Shortest text that round-trips, as CEL implementations print doubles."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    text = repr(value)
    if "e" in text or "E" in text:
        mantissa, _, exp = text.partition("e")
        digits = mantissa.replace(".", "").lstrip("-")
        exponent = int(exp)
    else:
        if text.endswith(".0"):
            text = text[:-2]
        int_part, _, frac = text.lstrip("-").partition(".")
        if int_part != "0":
            exponent = len(int_part) - 1
        else:
            stripped = frac.lstrip("0")
            exponent = -(len(frac) - len(stripped) + 1) if stripped else 0
        digits = (int_part + frac).lstrip("0")
    if -4 <= exponent < 21:
        if "e" in text:
            return _plain_decimal(value)
        return text
    digits = digits.rstrip("0") or "0"
    sign = "-" if value < 0 else ""
    mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{sign}{mant}e{'+' if exponent >= 0 else '-'}{abs(exponent):02d}"


def _plain_decimal(value: float) -> str:
    text = format(value, "f")
    # format(..., "f") gives 6 digits; use repr's digits for exactness instead
    r = repr(value)
    mantissa, _, exp = r.partition("e")
    sign = "-" if mantissa.startswith("-") else ""
    mantissa = mantissa.lstrip("-")
    int_part, _, frac = mantissa.partition(".")
    digits = int_part + frac
    point = len(int_part) + int(exp)
    if point <= 0:
        text = "0." + "0" * (-point) + digits
    elif point >= len(digits):
        text = digits + "0" * (point - len(digits))
    else:
        text = digits[:point] + "." + digits[point:]
    text = text.rstrip("0").rstrip(".") if "." in text else text
    return sign + text


def to_string(value: Any) -> str:
    t = type(value)
    if t is str:
        return value  # type: ignore[no-any-return]  # exact type checked above
    if t is bool:
        return "true" if value else "false"
    if t is int or t is UInt:
        return str(int(value))
    if t is float:
        return format_double(value)
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise EvalError("invalid_argument", "bytes are not valid UTF-8") from None
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, Type):
        return value.name
    no_overload("string", value)


def to_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    no_overload("bytes", value)


_TRUE_TEXT: Final = frozenset({"1", "t", "true", "TRUE", "True"})
_FALSE_TEXT: Final = frozenset({"0", "f", "false", "FALSE", "False"})


def to_bool(value: Any) -> bool:
    if type(value) is bool:
        return bool(value)
    if isinstance(value, str):
        if value in _TRUE_TEXT:
            return True
        if value in _FALSE_TEXT:
            return False
        raise EvalError("invalid_argument", f"cannot convert `{value}` to bool")
    no_overload("bool", value)


def to_timestamp(value: Any) -> datetime:
    if isinstance(value, datetime):
        return ns_to_ts(ts_to_ns(value))
    if isinstance(value, str):
        return parse_timestamp(value)
    if type(value) is int:
        return ns_to_ts(value * 10**9)
    no_overload("timestamp", value)


def to_duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, str):
        return parse_duration(value)
    if type(value) is int:
        return ns_to_dur(value * 10**9)
    no_overload("duration", value)


def to_type(value: Any) -> Type:
    return type_of(value)


def dyn(value: Any) -> Any:
    return value


# -- timestamps and durations -------------------------------------------------------------


def _local(function: str, value: Any, tz: Any) -> datetime:
    if not isinstance(value, datetime):
        no_overload(function, value) if tz is None else no_overload(function, value, tz)
    ns = ts_to_ns(value)
    base = ns_to_ts(ns - ns % 1000)
    if tz is None:
        return base.astimezone(zone("UTC"))
    if not isinstance(tz, str):
        no_overload(function, value, tz)
    where = zone(str(tz))
    try:
        return base.astimezone(where)
    except (OverflowError, ValueError):
        raise EvalError(
            "range", f"timestamp {format_timestamp(value)} is out of range in time zone `{tz}`"
        ) from None


def _accessor(
    name: str,
    on_timestamp: Callable[[datetime], int],
    on_duration: Callable[[int], int] | None,
) -> Callable[..., int]:
    def accessor(value: Any, tz: Any = None) -> int:
        if on_duration is not None and isinstance(value, timedelta) and tz is None:
            return on_duration(dur_to_ns(value))
        return on_timestamp(_local(name, value, tz))

    accessor.__name__ = name
    return accessor


def _trunc_div(a: int, b: int) -> int:
    q = abs(a) // b
    return q if a >= 0 else -q


get_full_year: Final = _accessor("getFullYear", lambda d: d.year, None)
get_month: Final = _accessor("getMonth", lambda d: d.month - 1, None)
get_date: Final = _accessor("getDate", lambda d: d.day, None)
get_day_of_month: Final = _accessor("getDayOfMonth", lambda d: d.day - 1, None)
get_day_of_week: Final = _accessor("getDayOfWeek", lambda d: (d.weekday() + 1) % 7, None)
get_day_of_year: Final = _accessor("getDayOfYear", lambda d: d.timetuple().tm_yday - 1, None)
get_hours: Final = _accessor("getHours", lambda d: d.hour, lambda ns: _trunc_div(ns, 3600 * 10**9))
get_minutes: Final = _accessor(
    "getMinutes", lambda d: d.minute, lambda ns: _trunc_div(ns, 60 * 10**9)
)
get_seconds: Final = _accessor("getSeconds", lambda d: d.second, lambda ns: _trunc_div(ns, 10**9))
get_milliseconds: Final = _accessor(
    "getMilliseconds",
    lambda d: d.microsecond // 1000,
    lambda ns: _trunc_div(ns, 10**6) % 1000 if ns >= 0 else -(_trunc_div(-ns, 10**6) % 1000),
)
