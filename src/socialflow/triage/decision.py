"""What triage returns: :class:`Decision` and the pieces of its trace.

All values are immutable attrs records and plain data: a decision holds no
engine and no input, so it compares, pickles and serialises as the values it
shows.  ``bundle.explain(message, now=...)`` re-evaluates a message with
tracing on (the default path records no trace, so explanations cost nothing
until asked for).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from json.encoder import encode_basestring as _string
from typing import Any

import attrs

from socialflow._records import fast_constructor
from socialflow.cel.values import format_timestamp
from socialflow.serde import (
    SCHEMA_VERSION,
    Pairs,
    json_text,
    register_dumps,
    register_unstructure,
    to_json_value,
)
from socialflow.timing.escalation import EscalationPlan
from socialflow.timing.sla import SlaDeadlines

__all__ = ["ConditionError", "Decision", "Explanation", "Override", "RuleTrace"]


@attrs.frozen
class ConditionError:
    """A rule condition (or ``set`` value) that raised a CEL error: it did not match."""

    rule: str
    kind: str
    message: str
    #: ``file:line:col`` of the failing sub-expression
    location: str | None = None


@attrs.frozen(weakref_slot=False)
class Override:
    """A single-valued output a later rule tried to set after an earlier rule set it."""

    output: str
    rule: str
    value: str
    #: the rule whose value was kept
    kept: str


@attrs.frozen(weakref_slot=False)
class Decision:
    """The triage decision for one message.

    Single-valued outputs are decided by the first applied rule that sets them;
    ``tags`` accumulate (deduplicated, first-applied order); ``matched`` lists
    the rules that applied, in order; ``errors`` the conditions that raised.
    """

    ruleset: str
    now: datetime
    matched: tuple[str, ...] = ()
    route: str | None = None
    assign: str | None = None
    priority: str = "normal"
    tags: tuple[str, ...] = ()
    #: "respond", "ignore" or None when no rule decided
    response: str | None = None
    #: the respond template or the ignore reason
    response_text: str | None = None
    #: values of ``set NAME = ...`` as (name, value) pairs in first-set order
    values: Pairs = ()
    sla: SlaDeadlines | None = None
    escalation: EscalationPlan | None = None
    errors: tuple[ConditionError, ...] = ()
    overrides: tuple[Override, ...] = ()
    message_id: str | None = None

    @property
    def attributes(self) -> dict[str, Any]:
        """The ``set`` values as a new dict."""
        return dict(self.values)

    @property
    def respond(self) -> bool:
        return self.response == "respond"

    @property
    def ignore(self) -> bool:
        return self.response == "ignore"


@attrs.frozen
class RuleTrace:
    """One rule's part in an explanation."""

    rule: str
    precedence: int
    #: ``matched``, ``not_matched``, ``error``, ``skipped`` (after a stop / hit
    #: first) or ``filtered`` (the index proved it cannot match)
    status: str
    #: the first sub-condition that was false or raised, as source text
    failed: str | None = None
    detail: str | None = None
    #: outputs this rule set, as (output, value)
    set: tuple[tuple[str, str], ...] = ()
    #: outputs a higher-precedence rule had already set, as (output, value, kept rule)
    overridden: tuple[tuple[str, str, str], ...] = ()


@attrs.frozen
class Explanation:
    """A full trace of one triage, printable with ``str()``."""

    ruleset: str
    hit: str
    rules: tuple[RuleTrace, ...]
    #: the decision the trace explains (equal to what ``triage`` returns)
    decision: Decision

    def __str__(self) -> str:
        lines = [f"ruleset {self.ruleset} (hit {self.hit})"]
        for trace in self.rules:
            head = f"  [{trace.status}] {trace.rule} (precedence {trace.precedence})"
            lines.append(head)
            if trace.failed is not None:
                lines.append(f"      failed: {trace.failed}")
            if trace.detail is not None:
                lines.append(f"      {trace.detail}")
            for output, value in trace.set:
                lines.append(f"      {output}: {value}")
            for output, value, kept in trace.overridden:
                lines.append(f"      overridden {output}: {value} (`{kept}` set it first)")
        d = self.decision
        lines.append("decision:")
        lines.append(f"  matched: {list(d.matched)}")
        lines.append(f"  route: {d.route}")
        lines.append(f"  priority: {d.priority}")
        lines.append(f"  tags: {list(d.tags)}")
        lines.append(f"  response: {d.response}")
        if d.errors:
            lines.append(f"  errors: {[f'{e.rule}: {e.kind}: {e.message}' for e in d.errors]}")
        return "\n".join(lines)


#: ``make_decision(ruleset, now, matched, route, ...)``, positional in field order,
#: without validation; for the triage engine only.
make_decision = fast_constructor(Decision)
#: ``make_override(output, rule, value, kept)`` without validation; for the engine.
make_override = fast_constructor(Override)


def _decision_json(d: Decision) -> dict[str, Any]:
    """``d`` as the converter writes it, written out by hand: the one mapping of
    :mod:`socialflow.serde`, made fast for the record every triaged message
    produces (a test checks it equals the converter's generic output)."""
    sla = d.sla
    plan = d.escalation
    return {
        "ruleset": d.ruleset,
        "now": format_timestamp(d.now),
        "matched": list(d.matched),
        "route": d.route,
        "assign": d.assign,
        "priority": d.priority,
        "tags": list(d.tags),
        "response": d.response,
        "response_text": d.response_text,
        "values": {name: to_json_value(value) for name, value in d.values},
        "sla": None
        if sla is None
        else {
            "policy": sla.policy,
            "first_response_at": None
            if sla.first_response_at is None
            else format_timestamp(sla.first_response_at),
            "resolution_at": None
            if sla.resolution_at is None
            else format_timestamp(sla.resolution_at),
        },
        "escalation": None
        if plan is None
        else {
            "policy": plan.policy,
            "steps": [
                {
                    "at": format_timestamp(step.at),
                    "level": step.level,
                    "round": step.round,
                    "targets": [{"kind": t.kind, "name": t.name} for t in step.targets],
                }
                for step in plan.steps
            ],
            "acknowledged_at": None
            if plan.acknowledged_at is None
            else format_timestamp(plan.acknowledged_at),
        },
        "errors": [
            {"rule": e.rule, "kind": e.kind, "message": e.message, "location": e.location}
            for e in d.errors
        ],
        "overrides": [
            {"output": o.output, "rule": o.rule, "value": o.value, "kept": o.kept}
            for o in d.overrides
        ],
        "message_id": d.message_id,
    }


register_unstructure(Decision, _decision_json)


def _strings(items: Iterable[str]) -> str:
    return "[" + ",".join(map(_string, items)) + "]" if items else "[]"


def _maybe(value: str | None) -> str:
    return "null" if value is None else _string(value)


def _time(value: datetime | None) -> str:
    # a formatted timestamp holds only digits, '-', ':', '.', 'T' and 'Z'
    if value is None:
        return "null"
    if type(value) is datetime and value.tzinfo is UTC and not value.microsecond:
        # format_timestamp's common case; '%' formatting is twice as fast as
        # isoformat() on an aware datetime
        return '"%04d-%02d-%02dT%02d:%02d:%02dZ"' % (  # noqa: UP031
            value.year, value.month, value.day, value.hour, value.minute, value.second
        )  # fmt: skip
    return '"' + format_timestamp(value) + '"'


def _decision_text(d: Decision) -> str:
    """``serde.dumps(d)`` written out by hand: the same text as the generic
    path (keys sorted, compact, non-ASCII kept), without building the dict; a
    test compares the two on every example decision."""
    sla = d.sla
    plan = d.escalation
    if sla is None:
        sla_text = "null"
    else:
        sla_text = (
            f'{{"first_response_at":{_time(sla.first_response_at)},'
            f'"policy":{_string(sla.policy)},"resolution_at":{_time(sla.resolution_at)}}}'
        )
    if plan is None:
        plan_text = "null"
    else:
        steps = ",".join(
            [
                f'{{"at":{_time(step.at)},"level":{int(step.level)},"round":{int(step.round)},'
                '"targets":['
                + ",".join(
                    [f'{{"kind":{_string(t.kind)},"name":{_string(t.name)}}}' for t in step.targets]
                )
                + "]}"
                for step in plan.steps
            ]
        )
        plan_text = (
            f'{{"acknowledged_at":{_time(plan.acknowledged_at)},'
            f'"policy":{_string(plan.policy)},"steps":[{steps}]}}'
        )
    errors = ",".join(
        [
            f'{{"kind":{_string(e.kind)},"location":{_maybe(e.location)},'
            f'"message":{_string(e.message)},"rule":{_string(e.rule)}}}'
            for e in d.errors
        ]
    )
    overrides = ",".join(
        [
            f'{{"kept":{_string(o.kept)},"output":{_string(o.output)},'
            f'"rule":{_string(o.rule)},"value":{_string(o.value)}}}'
            for o in d.overrides
        ]
    )
    values = (
        json_text({name: to_json_value(value) for name, value in d.values}) if d.values else "{}"
    )
    return (
        f'{{"assign":{_maybe(d.assign)},"errors":[{errors}],"escalation":{plan_text},'
        f'"matched":{_strings(d.matched)},"message_id":{_maybe(d.message_id)},'
        f'"now":{_time(d.now)},"overrides":[{overrides}],"priority":{_string(d.priority)},'
        f'"response":{_maybe(d.response)},"response_text":{_maybe(d.response_text)},'
        f'"route":{_maybe(d.route)},"ruleset":{_string(d.ruleset)},'
        f'"schema":"socialflow.decision/{SCHEMA_VERSION}",'
        f'"sla":{sla_text},"tags":{_strings(d.tags)},"values":{values}}}'
    )


register_dumps(Decision, _decision_text)
