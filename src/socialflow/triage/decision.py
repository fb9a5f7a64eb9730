"""What triage returns: :class:`Decision` and the pieces of its trace.

All values are immutable attrs records and plain data: a decision holds no
engine and no input, so it compares, pickles and serialises as the values it
shows.  ``bundle.explain(message, now=...)`` re-evaluates a message with
tracing on (the default path records no trace, so explanations cost nothing
until asked for).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from json.encoder import encode_basestring as _string
from typing import Any, Final

import attrs

from socialflow._records import fast_constructor
from socialflow.cel.values import format_timestamp
from socialflow.serde import (
    SCHEMA_VERSION,
    Pairs,
    dumps,
    json_text,
    register_dumps,
    register_unstructure,
    to_json_value,
)
from socialflow.timing.escalation import EscalationPlan
from socialflow.timing.sla import SlaDeadlines

__all__ = [
    "ConditionError",
    "Decision",
    "Explanation",
    "Override",
    "RuleTrace",
    "decision_writer",
]


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
    ``tags`` and ``escalations`` accumulate (each tag and each escalation policy
    once, in first-applied order); ``matched`` lists the rules that applied, in
    order; ``errors`` the conditions that raised.  ``ruleset`` and
    ``ruleset_version`` name the rules that decided (the ``ruleset`` header).
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
    #: one plan per escalation policy the applied rules named, in applied order
    escalations: tuple[EscalationPlan, ...] = ()
    errors: tuple[ConditionError, ...] = ()
    overrides: tuple[Override, ...] = ()
    #: the message's ``id`` as it came (a string or an integer), else None
    message_id: str | int | None = None
    #: the ``version`` of the ``ruleset`` header, None when it has none
    ruleset_version: str | None = None

    @property
    def escalation(self) -> EscalationPlan | None:
        """The first of ``escalations`` (None when there is none)."""
        return self.escalations[0] if self.escalations else None

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

    def to_json(self) -> str:
        """The decision as compact, key-sorted JSON text: ``sf.serde.dumps(self)``
        (``sf.serde.loads(text, sf.Decision)`` reads it back).

        Raises:
            SerializationError: never for a decision ``triage`` made (its ``set``
                values are checked); possible for one built by hand.
        """
        return dumps(self)


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
        if d.assign is not None:
            lines.append(f"  assign: {d.assign}")
        if d.sla is not None:
            lines.append(f"  sla: {_sla_text(d.sla)}")
        for plan in d.escalations:
            lines.extend(_plan_lines(plan))
        for name, value in d.values:
            lines.append(f"  set {name}: {json_text(to_json_value(value))}")
        if d.errors:
            lines.append(f"  errors: {[f'{e.rule}: {e.kind}: {e.message}' for e in d.errors]}")
        return "\n".join(lines)


#: The most steps of one escalation plan an explanation lists.
_SHOWN_STEPS: Final = 10


def _sla_text(sla: SlaDeadlines) -> str:
    due = [
        f"{what} by {format_timestamp(at)}"
        for what, at in (
            ("first response", sla.first_response_at),
            ("resolution", sla.resolution_at),
        )
        if at is not None
    ]
    return sla.policy + (f" ({', '.join(due)})" if due else "")


def _plan_lines(plan: EscalationPlan) -> list[str]:
    lines = [f"  escalate {plan.policy}: {len(plan.steps)} step(s)"]
    for step in plan.steps[:_SHOWN_STEPS]:
        targets = ", ".join(f"{t.kind} {t.name}" for t in step.targets)
        lines.append(
            f"    {format_timestamp(step.at)} round {step.round} level {step.level}: {targets}"
        )
    if len(plan.steps) > _SHOWN_STEPS:
        lines.append(f"    ... and {len(plan.steps) - _SHOWN_STEPS} more")
    if plan.acknowledged_at is not None:
        lines.append(f"    acknowledged at {format_timestamp(plan.acknowledged_at)}")
    return lines


#: ``make_decision(ruleset, now, matched, route, ...)``, positional in field order,
#: without validation; for the triage engine only.
make_decision = fast_constructor(Decision)
#: ``make_override(output, rule, value, kept)`` without validation; for the engine.
make_override = fast_constructor(Override)


def _plan_json(plan: EscalationPlan) -> dict[str, Any]:
    return {
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
    }


def _decision_json(d: Decision) -> dict[str, Any]:
    """``d`` as the converter writes it, written out by hand: the one mapping of
    :mod:`socialflow.serde`, made fast for the record every triaged message
    produces (a test checks it equals the converter's generic output)."""
    sla = d.sla
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
        "escalations": [_plan_json(plan) for plan in d.escalations],
        "errors": [
            {"rule": e.rule, "kind": e.kind, "message": e.message, "location": e.location}
            for e in d.errors
        ],
        "overrides": [
            {"output": o.output, "rule": o.rule, "value": o.value, "kept": o.kept}
            for o in d.overrides
        ],
        "message_id": d.message_id,
        "ruleset_version": d.ruleset_version,
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


def _targets_text(targets: tuple[Any, ...]) -> str:
    return ",".join([f'{{"kind":{_string(t.kind)},"name":{_string(t.name)}}}' for t in targets])


def _plan_text(
    plan: EscalationPlan, targets: Callable[[tuple[Any, ...]], str] = _targets_text
) -> str:
    steps = ",".join(
        [
            f'{{"at":{_time(step.at)},"level":{int(step.level)},"round":{int(step.round)},'
            f'"targets":[{targets(step.targets)}]}}'
            for step in plan.steps
        ]
    )
    return (
        f'{{"acknowledged_at":{_time(plan.acknowledged_at)},'
        f'"policy":{_string(plan.policy)},"steps":[{steps}]}}'
    )


def _head(ruleset: str, version: str | None) -> str:
    """The keys of a decision's text that depend only on the ruleset: between
    ``"route"`` and ``"sla"`` in sorted order, so one fragment."""
    return (
        f'"ruleset":{_string(ruleset)},"ruleset_version":{_maybe(version)},'
        f'"schema":"socialflow.decision/{SCHEMA_VERSION}",'
    )


#: The parts of a decision's text that depend only on which rules applied and
#: what they set (not on the message's times or values): ``"matched"``, then
#: ``"overrides"`` to ``"route"``, then ``"tags"``.
_Outcome = tuple[str, str, str]


def _outcome_text(d: Decision) -> _Outcome:
    overrides = ",".join(
        [
            f'{{"kept":{_string(o.kept)},"output":{_string(o.output)},'
            f'"rule":{_string(o.rule)},"value":{_string(o.value)}}}'
            for o in d.overrides
        ]
    )
    return (
        f'"matched":{_strings(d.matched)},',
        f'"overrides":[{overrides}],"priority":{_string(d.priority)},'
        f'"response":{_maybe(d.response)},"response_text":{_maybe(d.response_text)},'
        f'"route":{_maybe(d.route)},',
        f'"tags":{_strings(d.tags)},',
    )


def _decision_text(
    d: Decision,
    head: str | None = None,
    outcome: _Outcome | None = None,
    targets: Callable[[tuple[Any, ...]], str] = _targets_text,
) -> str:
    """``serde.dumps(d)`` written out by hand: the same text as the generic
    path (keys sorted, compact, non-ASCII kept), without building the dict; a
    test compares the two on every example decision.  ``head``, ``outcome``
    and ``targets``: the ruleset's fragment (:func:`_head`), the outcome's
    (:func:`_outcome_text`) and the targets' writer, when the caller keeps them
    (:class:`DecisionWriter`)."""
    sla = d.sla
    if sla is None:
        sla_text = "null"
    else:
        sla_text = (
            f'{{"first_response_at":{_time(sla.first_response_at)},'
            f'"policy":{_string(sla.policy)},"resolution_at":{_time(sla.resolution_at)}}}'
        )
    plans = ",".join([_plan_text(plan, targets) for plan in d.escalations]) if d.escalations else ""
    mid = d.message_id
    mid_text = (
        _string(mid)
        if type(mid) is str
        else "null"
        if mid is None
        else ("true" if mid else "false")
        if type(mid) is bool
        else str(int(mid))
    )
    errors = (
        ",".join(
            [
                f'{{"kind":{_string(e.kind)},"location":{_maybe(e.location)},'
                f'"message":{_string(e.message)},"rule":{_string(e.rule)}}}'
                for e in d.errors
            ]
        )
        if d.errors
        else ""
    )
    values = (
        json_text({name: to_json_value(value) for name, value in d.values}) if d.values else "{}"
    )
    if head is None:
        head = _head(d.ruleset, d.ruleset_version)
    matched, middle, tags = _outcome_text(d) if outcome is None else outcome
    return (
        f'{{"assign":{_maybe(d.assign)},"errors":[{errors}],"escalations":[{plans}],'
        f'{matched}"message_id":{mid_text},"now":{_time(d.now)},{middle}{head}'
        f'"sla":{sla_text},{tags}"values":{values}}}'
    )


class DecisionWriter:
    """``serde.dumps`` for the decisions of one ruleset, for a host (the
    ``triage`` command) that writes many: what depends only on the ruleset
    (name, version, schema tag) is rendered once, and what depends only on
    which rules applied (matched, overrides, priority, response, route, tags)
    and the escalation targets once per distinct value, up to ``capacity``
    of each.  The text is always ``serde.dumps(decision)``: a decision of
    another ruleset is written in full.

    It keeps state (its fragments), so it belongs to its caller: one per
    output stream, not shared between threads.
    """

    def __init__(self, ruleset: str, version: str | None, capacity: int = 4096) -> None:
        self._ruleset = ruleset
        self._version = version
        self._head = _head(ruleset, version)
        self._capacity = capacity
        self._outcomes: dict[tuple[Any, ...], _Outcome] = {}
        #: id(targets) -> (the tuple, kept alive so the id stays its own; its text)
        self._targets: dict[int, tuple[tuple[Any, ...], str]] = {}

    def _targets_text(self, targets: tuple[Any, ...]) -> str:
        found = self._targets.get(id(targets))
        if found is not None and found[0] is targets:
            return found[1]
        text = _targets_text(targets)
        if len(self._targets) < self._capacity:
            self._targets[id(targets)] = (targets, text)
        return text

    def __call__(self, d: Decision) -> str:
        # the engine's decisions hold the program's own strings: `is` decides at once
        if not (
            (d.ruleset is self._ruleset or d.ruleset == self._ruleset)
            and (d.ruleset_version is self._version or d.ruleset_version == self._version)
        ):
            return _decision_text(d)
        key = (d.matched, d.tags, d.route, d.priority, d.response, d.response_text, d.overrides)
        outcome = self._outcomes.get(key)
        if outcome is None:
            outcome = _outcome_text(d)
            if len(self._outcomes) < self._capacity:
                self._outcomes[key] = outcome
        return _decision_text(d, self._head, outcome, self._targets_text)


def decision_writer(ruleset: str, version: str | None) -> Callable[[Decision], str]:
    """A :class:`DecisionWriter` for the decisions of one ruleset."""
    return DecisionWriter(ruleset, version)


register_dumps(Decision, _decision_text)
