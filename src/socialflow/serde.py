"""JSON serialisation of socialflow's results, with a schema version tag.

One cattrs converter for every output record (decisions, explanations, SLA
deadlines, escalation plans).  Timestamps are RFC 3339 strings in UTC,
durations are seconds strings (``"5400s"``), CEL values are mapped to JSON
(bytes as base64, uint as int, types by name).  ``unstructure`` adds
``"schema": "socialflow.<kind>/<version>"``; ``structure`` checks it.

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
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Final, TypeVar

import attrs
import cattrs

from socialflow.cel.values import (
    Type,
    UInt,
    format_duration,
    format_timestamp,
    parse_duration,
    parse_timestamp,
)
from socialflow.errors import EvalError, InputError, UsageError
from socialflow.triage.decision import ConditionError, Decision, Explanation, Override, RuleTrace

__all__ = [
    "SCHEMA_VERSION",
    "converter",
    "dumps",
    "loads",
    "structure",
    "to_json_value",
    "unstructure",
]

#: Bumped when a serialised shape changes incompatibly.
SCHEMA_VERSION: Final = 1

T = TypeVar("T")

_KINDS: Final[dict[type, str]] = {
    Decision: "decision",
    Explanation: "explanation",
}


def to_json_value(value: Any) -> Any:
    """A CEL/Python value as JSON-compatible data (deterministic)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, UInt):
        return int(value)
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, Type):
        return value.name
    if isinstance(value, Mapping):
        return {str(k): to_json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json_value(v) for v in value]
    if attrs.has(type(value)):
        return converter.unstructure(value)
    raise UsageError(f"cannot serialise a value of type `{type(value).__name__}`")


def _structure_datetime(value: Any, _: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    try:
        return parse_timestamp(str(value))
    except EvalError as e:
        raise InputError(e.message) from None


def _structure_timedelta(value: Any, _: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    try:
        return parse_duration(str(value))
    except EvalError as e:
        raise InputError(e.message) from None


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter()
    conv.register_unstructure_hook(datetime, format_timestamp)
    conv.register_unstructure_hook(timedelta, format_duration)
    conv.register_structure_hook(datetime, _structure_datetime)
    conv.register_structure_hook(timedelta, _structure_timedelta)

    def unstructure_decision(d: Decision) -> dict[str, Any]:
        return {
            "ruleset": d.ruleset,
            "message_id": d.message_id,
            "now": format_timestamp(d.now),
            "matched": list(d.matched),
            "route": d.route,
            "assign": d.assign,
            "priority": d.priority,
            "tags": list(d.tags),
            "response": d.response,
            "response_text": d.response_text,
            "values": {k: to_json_value(v) for k, v in d.values},
            "sla": conv.unstructure(d.sla) if d.sla is not None else None,
            "escalation": conv.unstructure(d.escalation) if d.escalation is not None else None,
            "errors": [conv.unstructure(e) for e in d.errors],
            "overrides": [conv.unstructure(o) for o in d.overrides],
        }

    def structure_decision(data: Mapping[str, Any], _: Any) -> Decision:
        from socialflow.timing.escalation import EscalationPlan
        from socialflow.timing.sla import SlaDeadlines

        return Decision(
            ruleset=data["ruleset"],
            now=_structure_datetime(data["now"], None),
            matched=tuple(data.get("matched", ())),
            route=data.get("route"),
            assign=data.get("assign"),
            priority=data.get("priority", "normal"),
            tags=tuple(data.get("tags", ())),
            response=data.get("response"),
            response_text=data.get("response_text"),
            values=tuple((k, v) for k, v in (data.get("values") or {}).items()),
            sla=conv.structure(data["sla"], SlaDeadlines) if data.get("sla") else None,
            escalation=(
                conv.structure(data["escalation"], EscalationPlan)
                if data.get("escalation")
                else None
            ),
            errors=tuple(conv.structure(e, ConditionError) for e in data.get("errors", ())),
            overrides=tuple(conv.structure(o, Override) for o in data.get("overrides", ())),
            message_id=data.get("message_id"),
        )

    conv.register_unstructure_hook(Decision, unstructure_decision)
    conv.register_structure_hook(Decision, structure_decision)
    conv.register_unstructure_hook(
        Explanation,
        lambda e: {
            "ruleset": e.ruleset,
            "hit": e.hit,
            "rules": [conv.unstructure(r) for r in e.rules],
            "decision": to_json_value(e.decision),
        },
    )
    conv.register_structure_hook(
        Explanation,
        lambda data, _: Explanation(
            data["ruleset"],
            data["hit"],
            tuple(conv.structure(r, RuleTrace) for r in data["rules"]),
            data["decision"],
        ),
    )
    return conv


#: The converter; use :func:`unstructure`/:func:`structure` for version tags.
converter: Final = _make_converter()


def unstructure(value: Any) -> dict[str, Any]:
    """``value`` as JSON-compatible data tagged with its schema version."""
    data = converter.unstructure(value)
    if not isinstance(data, dict):
        raise UsageError(f"cannot serialise a value of type `{type(value).__name__}`")
    kind = _KINDS.get(type(value), type(value).__name__.lower())
    return {"schema": f"socialflow.{kind}/{SCHEMA_VERSION}", **data}


def structure(data: Mapping[str, Any], cls: type[T]) -> T:
    """Rebuild a ``cls`` from :func:`unstructure` output (the version tag is checked)."""
    kind = _KINDS.get(cls, cls.__name__.lower())
    tag = data.get("schema")
    expected = f"socialflow.{kind}/{SCHEMA_VERSION}"
    if tag is not None and tag != expected:
        raise InputError(f"expected schema `{expected}`, got `{tag}`", path="$.schema")
    body = {k: v for k, v in data.items() if k != "schema"}
    try:
        return converter.structure(body, cls)
    except (cattrs.BaseValidationError, KeyError, TypeError, ValueError) as e:
        raise InputError(f"cannot read a {kind}: {e}") from None


def dumps(value: Any) -> str:
    """Compact, key-sorted JSON text of :func:`unstructure` (deterministic)."""
    return json.dumps(unstructure(value), sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def loads(text: str, cls: type[T]) -> T:
    """The inverse of :func:`dumps`."""
    return structure(json.loads(text), cls)
