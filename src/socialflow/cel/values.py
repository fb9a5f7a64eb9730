"""Runtime values of CEL and the helpers every backend shares.

Python value mapping (DESIGN.md): int <-> ``int``, uint <-> :class:`UInt`,
double <-> ``float``, string <-> ``str``, bytes <-> ``bytes``, bool <-> ``bool``
(never conflated with int), null <-> ``None``, list <-> ``list``/``tuple``,
map <-> ``Mapping``, timestamp <-> aware ``datetime``, duration <-> ``timedelta``,
type <-> :class:`Type`.

CEL timestamps and durations have nanosecond precision and Python's have
microseconds, so results that need the extra digits are the subclasses
:class:`Timestamp` and :class:`Duration`, which carry ``nanos`` (0-999) and
compare exactly.  Internally all time arithmetic is done on integer
nanoseconds, with CEL's range checks.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any, Final, NoReturn
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from socialflow.errors import EvalError

__all__ = [
    "CelMap",
    "Duration",
    "FrozenMap",
    "Timestamp",
    "Type",
    "UInt",
    "format_duration",
    "format_timestamp",
    "freeze",
    "parse_duration",
    "parse_timestamp",
    "type_of",
]

INT_MIN: Final = -(2**63)
INT_MAX: Final = 2**63 - 1
UINT_MAX: Final = 2**64 - 1

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_US: Final = timedelta(microseconds=1)
#: 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999999Z in ns since the epoch.
TS_MIN_NS: Final = -62135596800 * 10**9
TS_MAX_NS: Final = 253402300800 * 10**9 - 1
#: The duration range CEL implementations share (about +-10,000 years).
DUR_MAX_NS: Final = 315576000000 * 10**9 + 999999999


class UInt(int):
    """A CEL ``uint`` (unsigned 64-bit); a plain Python ``int`` is a CEL ``int``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"UInt({int(self)})"


class Type:
    """A CEL type as a value (``type(1) == int``).  Compared by name."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Type) and other.name == self.name

    def __hash__(self) -> int:
        return hash(("cel.Type", self.name))

    def __repr__(self) -> str:
        return f"Type({self.name!r})"

    def __str__(self) -> str:
        return self.name

    def __reduce__(self) -> tuple[type[Type], tuple[str]]:
        return (Type, (self.name,))


INT_TYPE: Final = Type("int")
UINT_TYPE: Final = Type("uint")
DOUBLE_TYPE: Final = Type("double")
BOOL_TYPE: Final = Type("bool")
STRING_TYPE: Final = Type("string")
BYTES_TYPE: Final = Type("bytes")
NULL_TYPE: Final = Type("null_type")
LIST_TYPE: Final = Type("list")
MAP_TYPE: Final = Type("map")
TYPE_TYPE: Final = Type("type")
TIMESTAMP_TYPE: Final = Type("google.protobuf.Timestamp")
DURATION_TYPE: Final = Type("google.protobuf.Duration")

#: Type names usable as values in expressions.
TYPE_NAMES: Final[Mapping[str, Type]] = {
    t.name: t
    for t in (
        INT_TYPE,
        UINT_TYPE,
        DOUBLE_TYPE,
        BOOL_TYPE,
        STRING_TYPE,
        BYTES_TYPE,
        NULL_TYPE,
        LIST_TYPE,
        MAP_TYPE,
        TYPE_TYPE,
        TIMESTAMP_TYPE,
        DURATION_TYPE,
    )
}


class Timestamp(datetime):
    """An aware UTC ``datetime`` with ``nanos`` (0-999) below the microsecond."""

    __slots__ = ("nanos",)
    nanos: int

    def __eq__(self, other: object) -> bool:
        if isinstance(other, datetime) and other.tzinfo is not None:
            return ts_to_ns(self) == ts_to_ns(other)
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    def __hash__(self) -> int:
        return hash(ts_to_ns(self))

    def __lt__(self, other: object) -> bool:
        if isinstance(other, datetime):
            return ts_to_ns(self) < ts_to_ns(other)
        return NotImplemented

    def __le__(self, other: object) -> bool:
        if isinstance(other, datetime):
            return ts_to_ns(self) <= ts_to_ns(other)
        return NotImplemented

    def __gt__(self, other: object) -> bool:
        if isinstance(other, datetime):
            return ts_to_ns(self) > ts_to_ns(other)
        return NotImplemented

    def __ge__(self, other: object) -> bool:
        if isinstance(other, datetime):
            return ts_to_ns(self) >= ts_to_ns(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"Timestamp({format_timestamp(self)!r})"

    def __reduce__(self) -> Any:
        return (ns_to_ts, (ts_to_ns(self),))


class Duration(timedelta):
    """A ``timedelta`` with ``nanos`` (0-999) added below the microsecond."""

    __slots__ = ("nanos",)
    nanos: int

    def __eq__(self, other: object) -> bool:
        if isinstance(other, timedelta):
            return dur_to_ns(self) == dur_to_ns(other)
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    def __hash__(self) -> int:
        return hash(dur_to_ns(self))

    def __lt__(self, other: object) -> bool:
        if isinstance(other, timedelta):
            return dur_to_ns(self) < dur_to_ns(other)
        return NotImplemented

    def __le__(self, other: object) -> bool:
        if isinstance(other, timedelta):
            return dur_to_ns(self) <= dur_to_ns(other)
        return NotImplemented

    def __gt__(self, other: object) -> bool:
        if isinstance(other, timedelta):
            return dur_to_ns(self) > dur_to_ns(other)
        return NotImplemented

    def __ge__(self, other: object) -> bool:
        if isinstance(other, timedelta):
            return dur_to_ns(self) >= dur_to_ns(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"Duration({format_duration(self)!r})"

    def __reduce__(self) -> Any:
        return (ns_to_dur, (dur_to_ns(self),))


def ts_to_ns(value: datetime) -> int:
    """Nanoseconds since the Unix epoch of an aware datetime."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise EvalError("invalid_argument", "timestamp has no time zone (naive datetime)")
    return (value - EPOCH) // _US * 1000 + getattr(value, "nanos", 0)


def ns_to_ts(ns: int) -> datetime:
    """The UTC timestamp ``ns`` nanoseconds after the epoch; range-checked."""
    if not TS_MIN_NS <= ns <= TS_MAX_NS:
        raise EvalError("range", "timestamp out of range")
    us, nanos = divmod(ns, 1000)
    base = EPOCH + timedelta(microseconds=us)
    if not nanos:
        return base
    out = Timestamp(
        base.year,
        base.month,
        base.day,
        base.hour,
        base.minute,
        base.second,
        base.microsecond,
        tzinfo=UTC,
    )
    out.nanos = nanos
    return out


def dur_to_ns(value: timedelta) -> int:
    return value // _US * 1000 + getattr(value, "nanos", 0)


def ns_to_dur(ns: int) -> timedelta:
    """The duration of ``ns`` nanoseconds; range-checked."""
    if not -DUR_MAX_NS <= ns <= DUR_MAX_NS:
        raise EvalError("range", "duration out of range")
    us, nanos = divmod(ns, 1000)
    if not nanos:
        return timedelta(microseconds=us)
    out = Duration(microseconds=us)
    out.nanos = nanos
    return out


_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"(?:([Zz])|([+-])(\d{2}):(\d{2}))\Z"
)


def parse_timestamp(text: str) -> datetime:
    """Parse an RFC 3339 timestamp (``2009-02-13T23:31:30.123456789Z``) exactly."""
    if len(text) == 20 and text[19] == "Z" and text[10] == "T":
        # the common shape, whole seconds in UTC: datetime's own parser
        try:
            parsed = datetime.fromisoformat(text[:19])
        except ValueError:
            pass
        else:
            if text[4] == "-" and text[7] == "-" and text[13] == ":" and text[16] == ":":
                return parsed.replace(tzinfo=UTC)
    m = _RFC3339.match(text)
    if m is None:
        if re.match(r"\d{5,}-", text):
            raise EvalError("range", f"timestamp out of range: `{text}`")
        raise EvalError("invalid_argument", f"invalid timestamp `{text}`")
    year, month, day, hour, minute, second = (int(m.group(i)) for i in range(1, 7))
    frac = (m.group(7) or "").ljust(9, "0")
    if year < 1:
        raise EvalError("range", f"timestamp out of range: `{text}`")
    try:
        base = datetime(year, month, day, hour, minute, min(second, 59), tzinfo=UTC)
    except ValueError as e:
        raise EvalError("invalid_argument", f"invalid timestamp `{text}`: {e}") from None
    offset = 0
    if m.group(9):
        offset = (int(m.group(10)) * 60 + int(m.group(11))) * 60
        if m.group(9) == "-":
            offset = -offset
    ns = ((base - EPOCH) // timedelta(seconds=1) - offset) * 10**9 + int(frac)
    return ns_to_ts(ns)


def format_timestamp(value: datetime) -> str:
    """RFC 3339 in UTC with ``Z`` and only as many fraction digits as needed."""
    if (
        type(value) is datetime
        and value.tzinfo is UTC
        and not value.microsecond
        and value.year >= 1000
    ):  # the common case: an aware UTC datetime in whole seconds
        return value.isoformat()[:19] + "Z"
    ns = ts_to_ns(value)
    secs, frac = divmod(ns, 10**9)
    dt = EPOCH + timedelta(seconds=secs)
    text = dt.strftime("%Y-%m-%dT%H:%M:%S")
    if dt.year < 1000:
        text = f"{dt.year:04d}" + text[text.index("-") :]
    if frac:
        text += "." + f"{frac:09d}".rstrip("0")
    return text + "Z"


_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_UNIT_NS: Final = {
    "ns": 1,
    "us": 10**3,
    "µs": 10**3,
    "μs": 10**3,
    "ms": 10**6,
    "s": 10**9,
    "m": 60 * 10**9,
    "h": 3600 * 10**9,
}


#: Longest duration text accepted: the longest meaningful one has a few dozen
#: characters, and parsing repeated units (``1s1s1s...``) is a loop per unit.
MAX_DURATION_TEXT: Final = 1000


def parse_duration(text: str) -> timedelta:
    """Parse a duration such as ``1h30m``, ``-1.5s``, ``300ms`` or ``123.321456789s``."""
    if len(text) > MAX_DURATION_TEXT:
        raise EvalError(
            "invalid_argument",
            f"invalid duration: {len(text)} characters (at most {MAX_DURATION_TEXT})",
        )
    rest = text
    sign = 1
    if rest[:1] in "+-" and rest:
        sign = -1 if rest[0] == "-" else 1
        rest = rest[1:]
    if rest == "0":
        return timedelta(0)
    if not rest:
        raise EvalError("invalid_argument", f"invalid duration `{text}`")
    total = 0
    pos = 0
    while pos < len(rest):
        m = _DURATION_PART.match(rest, pos)
        if m is None:
            raise EvalError("invalid_argument", f"invalid duration `{text}`")
        number, unit = m.groups()
        whole, _, frac = number.partition(".")
        scale = _UNIT_NS[unit]
        total += int(whole or "0") * scale
        if frac:
            total += int(frac) * scale // 10 ** len(frac)
        pos = m.end()
    return ns_to_dur(sign * total)


def format_duration(value: timedelta) -> str:
    """Seconds with an ``s`` suffix and only the fraction digits needed (``1.5s``)."""
    ns = dur_to_ns(value)
    sign = "-" if ns < 0 else ""
    secs, frac = divmod(abs(ns), 10**9)
    text = f"{sign}{secs}"
    if frac:
        text += "." + f"{frac:09d}".rstrip("0")
    return text + "s"


_OFFSET = re.compile(r"([+-]?)(\d{2}):(\d{2})\Z")
#: IANA zone names are short (the longest is 32 characters).
_MAX_ZONE_NAME: Final = 255


def zone(name: str) -> tzinfo:
    """An IANA zone (``Europe/London``) or a fixed offset (``+05:30``, ``-02:00``)."""
    m = _OFFSET.match(name)
    if m is not None:
        hours, minutes = int(m.group(2)), int(m.group(3))
        if hours > 23 or minutes > 59:
            raise EvalError("invalid_argument", f"invalid time zone offset `{name}`")
        delta = timedelta(hours=hours, minutes=minutes)
        return timezone(-delta if m.group(1) == "-" else delta)
    if len(name) > _MAX_ZONE_NAME:
        raise EvalError("invalid_argument", f"unknown time zone `{name[:40]}...`")
    if name in ("UTC", "Z", "utc"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise EvalError("invalid_argument", f"unknown time zone `{name}`") from None


def type_of(value: Any) -> Type:
    """The CEL type of a runtime value."""
    t = type(value)
    if t is bool:
        return BOOL_TYPE
    if t is int:
        return INT_TYPE
    if t is float:
        return DOUBLE_TYPE
    if t is str:
        return STRING_TYPE
    if t is UInt:
        return UINT_TYPE
    if value is None:
        return NULL_TYPE
    if isinstance(value, (list, tuple)):
        return LIST_TYPE
    if isinstance(value, Mapping):
        return MAP_TYPE
    if isinstance(value, bytes):
        return BYTES_TYPE
    if isinstance(value, datetime):
        return TIMESTAMP_TYPE
    if isinstance(value, timedelta):
        return DURATION_TYPE
    if isinstance(value, Type):
        return TYPE_TYPE
    if isinstance(value, int):
        return INT_TYPE
    if isinstance(value, float):
        return DOUBLE_TYPE
    if isinstance(value, str):
        return STRING_TYPE
    raise EvalError("invalid_argument", f"unsupported value of Python type `{t.__name__}`")


def type_name(value: Any) -> str:
    """The CEL type name of ``value`` for error messages (never a Python name)."""
    try:
        return type_of(value).name
    except EvalError:
        return "unknown"


def no_overload(function: str, *args: Any) -> NoReturn:
    """Raise CEL's ``no_matching_overload`` for ``function`` applied to ``args``."""
    kinds = ", ".join(type_name(a) for a in args)
    raise EvalError(
        "no_matching_overload", f"no matching overload for `{function}` applied to ({kinds})"
    )


def with_arity(name: str, fn: Callable[..., Any], *counts: int) -> Callable[..., Any]:
    """``fn`` guarded so that a call with another argument count is ``no_matching_overload``."""

    def checked(*args: Any) -> Any:
        if len(args) not in counts:
            no_overload(name, *args)
        return fn(*args)

    checked.__name__ = name
    return checked


_BOOL_KEY: Final = object()


def _slot(key: Any) -> Any:
    """Where ``key`` is stored in a :class:`CelMap`: a bool apart from every number."""
    return (_BOOL_KEY, key) if type(key) is bool else key


class CelMap(MutableMapping[Any, Any]):
    """A CEL map that keeps ``true``/``false`` keys apart from ``1``/``0``.

    Python's ``True == 1`` makes a ``dict`` merge the two keys; in CEL they are
    distinct (bool never equals a number), while int, uint and double keys that
    are numerically equal are one key, as in a ``dict``.  Map literals and
    ``transformMap`` build one only when a map mixes bool and numeric keys;
    every other map stays a plain ``dict``, and host dicts are never converted.
    Iteration follows insertion order.
    """

    __slots__ = ("_items",)

    _items: dict[Any, Any]

    def __init__(self, items: Mapping[Any, Any] | Iterable[tuple[Any, Any]] = ()) -> None:
        self._items = {}
        pairs = items.items() if isinstance(items, Mapping) else items
        for key, value in pairs:
            self[key] = value

    def __getitem__(self, key: Any) -> Any:
        return self._items[_slot(key)]

    def __setitem__(self, key: Any, value: Any) -> None:
        self._items[_slot(key)] = value

    def __delitem__(self, key: Any) -> None:
        del self._items[_slot(key)]

    def __contains__(self, key: object) -> bool:
        return _slot(key) in self._items

    def __iter__(self) -> Iterator[Any]:
        for slot in self._items:
            yield slot[1] if type(slot) is tuple else slot

    def __len__(self) -> int:
        return len(self._items)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Mapping):
            return NotImplemented
        if len(self) != len(other):
            return False
        for key, value in self.items():
            found, other_value = exact_lookup(other, key)
            if not found or not bool(other_value == value):
                return False
        return True

    __hash__ = None  # type: ignore[assignment]  # mutable, as dict

    def copy(self) -> CelMap:
        return CelMap(self)

    def __reduce__(self) -> tuple[Any, ...]:
        return (CelMap, (list(self.items()),))

    def __repr__(self) -> str:
        return f"CelMap({{{', '.join(f'{k!r}: {v!r}' for k, v in self.items())}}})"


class _KeyProbe:
    """Finds which key a hash-based mapping stores for ``key``: the mapping
    compares its stored key with the probe, and the probe records it."""

    __slots__ = ("key", "stored")

    def __init__(self, key: Any) -> None:
        self.key = key
        self.stored: Any = _NOT_FOUND

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other: object) -> bool:
        if bool(other == self.key):
            self.stored = other
            return True
        return False


_NOT_FOUND: Final = object()


def exact_lookup(m: Mapping[Any, Any], key: Any) -> tuple[bool, Any]:
    """``(True, m[key])`` if ``m`` has ``key`` with CEL's key equality (a bool key
    matches only a bool, numbers match across int, uint and double), else
    ``(False, None)``.  O(1) for dicts: no scan of the keys."""
    if isinstance(m, FrozenMap):
        m = m._items
    if isinstance(m, CelMap):
        slot = _slot(key)
        if slot in m._items:
            return True, m._items[slot]
        return False, None
    try:
        if key not in m:
            return False, None
    except TypeError:  # an unhashable key is in no map
        return False, None
    is_bool = type(key) is bool
    if not is_bool and not (type(key) is not str and key in (0, 1)):
        return True, m[key]
    # 0, 1, false, true: the stored key may be the other kind (a dict holds one of them)
    probe = _KeyProbe(key)
    try:
        present = probe in m
    except Exception:  # an unusual host mapping: trust its own lookup
        return True, m[key]
    if not present or probe.stored is _NOT_FOUND:
        return True, m[key]
    if (type(probe.stored) is bool) != is_bool:
        return False, None
    return True, m[probe.stored]


class FrozenMap(Mapping[Any, Any]):
    """An immutable CEL map: a read-only, hashable, picklable mapping.

    Values that outlive one evaluation (a workflow instance's ``data``) are
    stored frozen (see :func:`freeze`), so a value the library returned can
    never change afterwards, whoever holds it.  Iteration follows insertion
    order, as ``dict`` does; equality is ``dict`` equality.
    """

    __slots__ = ("_items",)

    _items: dict[Any, Any] | CelMap

    def __init__(self, items: Mapping[Any, Any] | None = None) -> None:
        stored: dict[Any, Any] | CelMap = (
            {} if items is None else CelMap(items) if isinstance(items, CelMap) else dict(items)
        )
        object.__setattr__(self, "_items", stored)

    def __getitem__(self, key: Any) -> Any:
        return self._items[key]

    def __iter__(self) -> Any:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def get(self, key: Any, default: Any = None) -> Any:
        return self._items.get(key, default)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FrozenMap):
            other = other._items
        if isinstance(other, CelMap) or isinstance(self._items, CelMap):
            return bool(CelMap(self._items) == other)
        if isinstance(other, Mapping):
            return self._items == dict(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(frozenset(self._items.items()))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("a FrozenMap cannot be changed")

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenMap, (self._items,))

    def __repr__(self) -> str:
        return f"FrozenMap({self._items!r})"


def freeze(value: Any) -> Any:
    """``value`` with every list made a tuple and every map a :class:`FrozenMap`."""
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    if isinstance(value, FrozenMap) and all(_is_frozen(v) for v in value.values()):
        return value
    if isinstance(value, Mapping):
        inner = value._items if isinstance(value, FrozenMap) else value
        pairs = [(k, freeze(v)) for k, v in inner.items()]
        return FrozenMap(CelMap(pairs) if isinstance(inner, CelMap) else dict(pairs))
    return value


def _is_frozen(value: Any) -> bool:
    if isinstance(value, list):
        return False
    if isinstance(value, tuple):
        return all(_is_frozen(v) for v in value)
    if isinstance(value, Mapping):
        return isinstance(value, FrozenMap) and all(_is_frozen(v) for v in value.values())
    return True
