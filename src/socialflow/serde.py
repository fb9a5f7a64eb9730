"""JSON for socialflow's values: the one mapping of CEL values to JSON and the
one cattrs converter, with a schema version tag.

The mapping (:func:`to_json_value`) is used for every output: decisions,
explanations, workflow instances and step results, access answers, and the
``socialflow eval`` command.  It follows the protobuf JSON conventions CEL
users know, and refuses what JSON cannot hold instead of writing invalid JSON
or dropping data:

* null, bools, strings and ints as themselves (uint as a plain int);
* finite doubles as numbers; ``NaN`` and the infinities have no JSON form and
  raise :class:`~socialflow.errors.SerializationError`;
* timestamps as RFC 3339 strings in UTC (``"2026-11-23T10:00:00Z"``), durations
  as seconds strings (``"5400s"``), bytes as base64, CEL types by name;
* lists as arrays; maps as objects whose keys are strings, ints written in
  decimal and bools as ``"true"``/``"false"``; two keys that would become the
  same object key (``1`` and ``"1"``) raise rather than lose an entry;
* attrs records through the converter; anything else raises.

:func:`unstructure` adds ``"schema": "socialflow.<kind>/<version>"`` (``kind``
is the class name in snake case: ``decision``, ``step_result``) and
:func:`structure` checks it.

>>> from datetime import datetime, timezone
>>> import socialflow as sf
>>> d = sf.Decision(ruleset="demo", now=datetime(2026, 11, 23, 10, tzinfo=timezone.utc), route="care")
>>> data = sf.serde.unstructure(d)
>>> data["schema"], data["route"], data["now"]
('socialflow.decision/1', 'care', '2026-11-23T10:00:00Z')
>>> sf.serde.structure(data, sf.Decision) == d
True
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Final, TypeVar

import attrs
import cattrs

from socialflow.cel.values import (
    FrozenMap,
    Type,
    UInt,
    format_duration,
    format_timestamp,
    parse_duration,
    parse_timestamp,
)
from socialflow.errors import EvalError, InputError, SerializationError

__all__ = [
    "SCHEMA_VERSION",
    "EffectArgs",
    "Pairs",
    "converter",
    "dumps",
    "from_typed_json",
    "generic_dumps",
    "generic_unstructure",
    "json_text",
    "loads",
    "register_dumps",
    "register_unstructure",
    "structure",
    "structure_records",
    "to_json_value",
    "to_typed_json",
    "unstructure",
]

#: Bumped when a serialised shape changes incompatibly.
SCHEMA_VERSION: Final = 1

T = TypeVar("T")

#: ``(name, value)`` pairs in a fixed order, written as a JSON object (``set``
#: values).  A field typed ``Pairs`` gets the object mapping.
Pairs = tuple[tuple[str, Any], ...]

#: Arguments of an effect: ``(kind, name)`` pairs or plain names, written as
#: ``[kind, name]`` arrays and strings.
EffectArgs = tuple[tuple[str, str] | str, ...]


def to_json_value(value: Any) -> Any:
    """``value`` (a CEL value or an attrs record) as JSON-compatible data.

    Raises:
        SerializationError: JSON cannot hold the value (see the module docstring).
    """
    if value is None or type(value) is bool or type(value) is str:
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)  # UInt and host int subclasses -> plain int
    if isinstance(value, float):
        if not math.isfinite(value):
            raise SerializationError(f"the double `{value}` has no JSON form")
        return float(value)
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, Type):
        return value.name
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            text = _json_key(key)
            if text in out:
                raise SerializationError(f"map keys collide as JSON object keys: `{text}`")
            out[text] = to_json_value(item)
        return out
    if isinstance(value, (list, tuple)):
        return [to_json_value(item) for item in value]
    if attrs.has(type(value)):
        return converter.unstructure(value)
    raise SerializationError(f"a value of type `{type(value).__name__}` has no JSON form")


def _json_key(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, str):
        return str(key)
    if isinstance(key, int):
        return str(int(key))
    raise SerializationError(f"a map key of type `{type(key).__name__}` has no JSON form")


def _structure_datetime(value: Any, _: Any) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("timestamp has no time zone (naive datetime)")
        return value
    if not isinstance(value, str):
        raise ValueError(f"expected an RFC 3339 timestamp string, got {type(value).__name__}")
    try:
        return parse_timestamp(value)
    except EvalError as e:
        raise ValueError(e.message) from None


def _structure_timedelta(value: Any, _: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if not isinstance(value, str):
        raise ValueError(f"expected a duration string such as `90s`, got {type(value).__name__}")
    try:
        return parse_duration(value)
    except EvalError as e:
        raise ValueError(e.message) from None


def _unstructure_pairs(pairs: Pairs) -> dict[str, Any]:
    return {name: to_json_value(value) for name, value in pairs}


def _structure_pairs(data: Any, _: Any) -> Pairs:
    if not isinstance(data, Mapping):
        raise ValueError("expected an object of names to values")
    return tuple((str(k), v) for k, v in data.items())


def _structure_id(data: Any, _: Any) -> str | int | None:
    """An id as JSON has it: a string or an integer (a decision's ``message_id``)."""
    if data is None or type(data) is str or type(data) is int:
        return data
    raise ValueError(f"expected a string or an integer, got {type(data).__name__}")


def _structure_effect_args(data: Any, _: Any) -> EffectArgs:
    if not isinstance(data, (list, tuple)):
        raise ValueError("expected a list of effect arguments")
    out: list[tuple[str, str] | str] = []
    for item in data:
        if isinstance(item, str):
            out.append(item)
        elif (
            isinstance(item, (list, tuple))
            and len(item) == 2
            and all(isinstance(x, str) for x in item)
        ):
            out.append((item[0], item[1]))
        else:
            raise ValueError("an effect argument is a name or a [kind, name] pair")
    return tuple(out)


# -- typed values: CEL values that keep their type through JSON ------------------------------
#
# Instance data is read back by CEL on the next step, so `set resolved_at = now`
# must come back a timestamp, not a string.  JSON-native values are written as
# themselves; the others as a one-key object whose key starts with `$`.  A map
# is a plain object when its keys are strings not starting with `$`, else
# {"$map": [[key, value], ...]}, so the two forms never collide.


def to_typed_json(value: Any) -> Any:
    """``value`` as JSON that :func:`from_typed_json` turns back into an equal value.

    Raises:
        SerializationError: JSON cannot hold the value (a NaN or infinite double).
    """
    if value is None or type(value) is bool or type(value) is str:
        return value
    if isinstance(value, UInt):
        return {"$uint": int(value)}
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise SerializationError(f"the double `{value}` has no JSON form")
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        return {"$bytes": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, datetime):
        return {"$timestamp": format_timestamp(value)}
    if isinstance(value, timedelta):
        return {"$duration": format_duration(value)}
    if isinstance(value, Type):
        return {"$type": value.name}
    if isinstance(value, Mapping):
        if all(type(k) is str and not k.startswith("$") for k in value):
            return {k: to_typed_json(v) for k, v in value.items()}
        return {"$map": [[to_typed_json(k), to_typed_json(v)] for k, v in value.items()]}
    if isinstance(value, (list, tuple)):
        return [to_typed_json(v) for v in value]
    raise SerializationError(f"a value of type `{type(value).__name__}` has no JSON form")


def from_typed_json(data: Any) -> Any:
    """The frozen CEL value :func:`to_typed_json` wrote (lists as tuples, maps as
    :class:`~socialflow.cel.values.FrozenMap`)."""
    if isinstance(data, list):
        return tuple(from_typed_json(v) for v in data)
    if not isinstance(data, Mapping):
        return data
    if len(data) == 1:
        ((key, inner),) = data.items()
        if key.startswith("$"):
            return _from_tag(key, inner)
    return FrozenMap({k: from_typed_json(v) for k, v in data.items()})


def _from_tag(tag: str, inner: Any) -> Any:
    try:
        if tag == "$timestamp":
            return parse_timestamp(inner)
        if tag == "$duration":
            return parse_duration(inner)
        if tag == "$uint" and type(inner) is int and inner >= 0:
            return UInt(inner)
        if tag == "$bytes":
            return base64.b64decode(inner, validate=True)
        if tag == "$type":
            return Type(str(inner))
        if tag == "$map":
            return FrozenMap({from_typed_json(k): from_typed_json(v) for k, v in inner})
    except (EvalError, ValueError, TypeError) as e:
        raise ValueError(f"bad `{tag}` value: {e}") from None
    raise ValueError(f"unknown tag `{tag}`")


def _structure_frozen_map(data: Any, _: Any) -> FrozenMap:
    value = from_typed_json(data)
    if not isinstance(value, FrozenMap):
        raise ValueError("expected an object")
    return value


def _unstructure_frozen_map(value: FrozenMap) -> Any:
    return to_typed_json(value)


def register_unstructure(cls: type[T], write: Callable[[T], dict[str, Any]]) -> None:
    """Make ``write`` the converter's way to write ``cls``: a hand-written fast
    path for a record written very often (a triage decision per message).  It
    must give exactly what the generic converter gives (test it against
    :func:`generic_unstructure`); the module defining ``cls`` registers it when
    it is imported, before any ``cls`` exists."""
    converter.register_unstructure_hook(cls, write)


#: Hand-written JSON text writers, by record type (see :func:`register_dumps`).
_TEXT_WRITERS: Final[dict[type, Callable[[Any], str]]] = {}


def register_dumps(cls: type[T], write: Callable[[T], str]) -> None:
    """Make ``write`` the way :func:`dumps` writes a ``cls``: the JSON text
    itself, without building the intermediate dict.  It must give exactly the
    text the generic path gives (test it against :func:`generic_dumps`); like
    :func:`register_unstructure`, the defining module registers it on import."""
    _TEXT_WRITERS[cls] = write


def generic_unstructure(value: Any) -> Any:
    """What the converter writes for ``value`` without any registered fast path."""
    return _generic.unstructure(value)


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter()
    conv.register_unstructure_hook(datetime, format_timestamp)
    conv.register_unstructure_hook(timedelta, format_duration)
    conv.register_structure_hook(datetime, _structure_datetime)
    conv.register_structure_hook(timedelta, _structure_timedelta)
    # generic aliases are matched by equality (functools dispatch takes classes only)
    conv.register_unstructure_hook_func(lambda t: t == Pairs, _unstructure_pairs)
    conv.register_structure_hook_func(lambda t: t == Pairs, _structure_pairs)
    conv.register_unstructure_hook_func(lambda t: t == Mapping[str, Any], to_json_value)
    conv.register_structure_hook_func(lambda t: t == Mapping[str, Any], _structure_mapping)
    conv.register_structure_hook_func(lambda t: t == EffectArgs, _structure_effect_args)
    conv.register_structure_hook_func(lambda t: t == str | int | None, _structure_id)
    conv.register_unstructure_hook(FrozenMap, _unstructure_frozen_map)
    conv.register_structure_hook(FrozenMap, _structure_frozen_map)
    return conv


def _structure_mapping(data: Any, _: Any) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise ValueError("expected an object")
    return dict(data)


#: The converter: every record socialflow reads or writes goes through it.
#: Use :func:`unstructure`/:func:`structure` for version tags.
converter: Final = _make_converter()
#: The same rules without the fast paths, to test them against.
_generic: Final = _make_converter()

_CAMEL: Final = re.compile(r"(?<!^)(?=[A-Z])")


def _kind(cls: type) -> str:
    return _CAMEL.sub("_", cls.__name__).lower()


def unstructure(value: Any) -> dict[str, Any]:
    """``value`` (an attrs record) as JSON-compatible data tagged with its schema version.

    Raises:
        SerializationError: the value is not a record, or holds a value JSON cannot hold.
    """
    if not attrs.has(type(value)):
        raise SerializationError(f"cannot serialise a value of type `{type(value).__name__}`")
    data = converter.unstructure(value)
    return {"schema": f"socialflow.{_kind(type(value))}/{SCHEMA_VERSION}", **data}


def structure(data: Mapping[str, Any], cls: type[T]) -> T:
    """Rebuild a ``cls`` from :func:`unstructure` output (the version tag is checked).

    Raises:
        InputError: the data does not describe a ``cls``, naming the field.
    """
    kind = _kind(cls)
    if not isinstance(data, Mapping):
        raise InputError(f"expected an object describing a {kind}", path="$")
    tag = data.get("schema")
    expected = f"socialflow.{kind}/{SCHEMA_VERSION}"
    if tag is not None and tag != expected:
        raise InputError(f"expected schema `{expected}`, got `{tag}`", path="$.schema")
    body = {k: v for k, v in data.items() if k != "schema"}
    return _structure_one(body, cls, "$")


def _structure_one(data: Mapping[str, Any], cls: type[T], path: str) -> T:
    try:
        return converter.structure(data, cls)
    except cattrs.BaseValidationError as e:
        messages = cattrs.transform_error(e, path=path)
        raise InputError(f"cannot read a {_kind(cls)}: {'; '.join(messages)}", path=path) from None
    except (KeyError, TypeError, ValueError) as e:
        raise InputError(f"cannot read a {_kind(cls)}: {e}", path=path) from None


def structure_records(items: Any, cls: type[T], key: str) -> list[T]:
    """Records of ``cls`` from records or JSON-shaped mappings (host input).

    ``key`` names the list in error paths (``$.grants[3].role``).

    Raises:
        InputError: naming the record and the problem.
    """
    if items is None:
        return []
    if isinstance(items, (str, bytes, Mapping)) or not isinstance(items, Iterable):
        raise InputError(f"expected a list of {key}", path=f"$.{key}")
    out: list[T] = []
    for i, item in enumerate(items if isinstance(items, Sequence) else list(items)):
        if isinstance(item, cls):
            out.append(item)
            continue
        if not isinstance(item, Mapping):
            raise InputError("expected an object", path=f"$.{key}[{i}]")
        try:
            out.append(converter.structure(dict(item), cls))
        except cattrs.ClassValidationError as e:
            messages = cattrs.transform_error(e, path=f"$.{key}[{i}]")
            raise InputError("; ".join(messages), path=f"$.{key}[{i}]") from None
        except (TypeError, ValueError) as e:
            raise InputError(str(e), path=f"$.{key}[{i}]") from None
    return out


def dumps(value: Any) -> str:
    """Compact, key-sorted JSON text of :func:`unstructure` (deterministic).

    Raises:
        SerializationError: the value holds something JSON cannot hold.
    """
    write = _TEXT_WRITERS.get(type(value))
    if write is not None:
        return write(value)
    return json_text(unstructure(value))


def generic_dumps(value: Any) -> str:
    """What :func:`dumps` writes for ``value`` without a registered text writer."""
    return json_text(unstructure(value))


def json_text(data: Any) -> str:
    """JSON-compatible ``data`` as compact, key-sorted JSON text (non-ASCII kept)."""
    return json.dumps(
        data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False
    )


def loads(text: str, cls: type[T]) -> T:
    """The inverse of :func:`dumps`.

    Raises:
        InputError: the text is not JSON, or does not describe a ``cls``.
    """
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise InputError(f"not valid JSON: {e}") from None
    return structure(data, cls)
