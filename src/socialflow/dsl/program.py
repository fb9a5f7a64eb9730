"""The checked program: the immutable, picklable input of the engines.

The check (:mod:`socialflow.dsl.check`) builds it from parsed modules;
nothing downstream sees source syntax again except spans for messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import attrs

from socialflow.dsl import ast
from socialflow.errors import Diagnostic
from socialflow.source import Span
from socialflow.timing.calendar import Calendar
from socialflow.timing.escalation import EscalationPolicy
from socialflow.timing.sla import SlaPolicy

__all__ = [
    "PRIORITIES",
    "REFUSAL_REASONS",
    "AccessRule",
    "CheckedEffect",
    "CheckedProgram",
    "CheckedRule",
    "CheckedTimeout",
    "CheckedTransition",
    "CheckedWhile",
    "CheckedWorkflow",
    "Schema",
    "SchemaField",
]

#: Priorities in increasing order.
PRIORITIES = ("low", "normal", "high", "urgent")

#: Why a workflow refuses a step, in the order the checks run (``no_timer_due``:
#: ``advance`` found nothing to fire).
REFUSAL_REASONS = (
    "duplicate_event",
    "unknown_event",
    "final_state",
    "not_allowed_in_state",
    "permission_denied",
    "guard_failed",
    "guard_error",
    "no_timer_due",
)


@attrs.frozen
class SchemaField:
    name: str
    #: the CEL type text (``int``, ``list(string)``) or a schema name
    type: str
    optional: bool
    span: Span | None = attrs.field(default=None, eq=False, repr=False)
    #: the allowed values of an ``enum("a", "b")`` field (its CEL type is
    #: ``string``); empty for every other type
    values: tuple[str, ...] = ()


@attrs.frozen
class Schema:
    name: str
    fields: tuple[SchemaField, ...]

    def field(self, name: str) -> SchemaField | None:
        for f in self.fields:
            if f.name == name:
                return f
        return None


@attrs.frozen
class CheckedRule:
    """A rule ready to compile; ``order`` is its position in evaluation order."""

    name: str
    display: str | None
    precedence: int
    order: int
    condition: ast.CelText | None
    actions: tuple[ast.Action, ...]
    span: Span = attrs.field(eq=False, repr=False)

    @property
    def stops(self) -> bool:
        return any(isinstance(a, ast.StopAction) for a in self.actions)


@attrs.frozen
class AccessRule:
    """A checked ``permit``/``forbid``; ``index`` is its position in source order."""

    effect: str
    permissions: frozenset[str]
    condition: ast.CelText | None
    index: int
    span: Span = attrs.field(eq=False, repr=False)

    def describe(self) -> str:
        perms = ", ".join(sorted(self.permissions))
        when = f" when {self.condition.text}" if self.condition is not None else ""
        return f"{self.effect} {perms}{when}"


@attrs.frozen
class CheckedEffect:
    """An effect as written: ``notify(queue care)`` -> ``("notify", (("queue", "care"),))``."""

    name: str
    args: tuple[tuple[str, str] | str, ...] = ()


@attrs.frozen
class CheckedTransition:
    """``on EVENT from SOURCES to TARGET``; ``index`` is its declaration order."""

    index: int
    event: str
    sources: tuple[str, ...]
    target: str
    requires: str | None
    guard: ast.CelText | None
    sets: tuple[tuple[str, ast.CelText], ...]
    effects: tuple[CheckedEffect, ...]
    span: Span = attrs.field(eq=False, repr=False)


@attrs.frozen
class CheckedTimeout:
    """``timeout STATE after D | at CEL [to TARGET] [emit ...]``; ``order`` breaks
    ties between timers due at one instant (declaration order)."""

    order: int
    state: str
    after: timedelta | None
    at: ast.CelText | None
    target: str | None
    effects: tuple[CheckedEffect, ...]
    span: Span = attrs.field(eq=False, repr=False)
    #: when it fires, as written: ``after 48h`` or ``at data.publish_at``
    when: str = ""


@attrs.frozen
class CheckedWhile:
    """``while STATE escalate POLICY``: the policy's steps run as timers in STATE."""

    order: int
    state: str
    policy: EscalationPolicy
    span: Span = attrs.field(eq=False, repr=False)


@attrs.frozen
class CheckedWorkflow:
    """A workflow ready to compile: states, transitions, hooks and timers."""

    name: str
    display: str | None
    #: every state, in declaration order
    states: tuple[str, ...]
    initial: str
    finals: frozenset[str]
    #: every event, in the order of its first transition
    events: tuple[str, ...]
    transitions: tuple[CheckedTransition, ...]
    enter: Mapping[str, tuple[CheckedEffect, ...]]
    exit: Mapping[str, tuple[CheckedEffect, ...]]
    timeouts: tuple[CheckedTimeout, ...]
    whiles: tuple[CheckedWhile, ...]
    #: the instance data the ``set`` clauses write, as (name, CEL type text)
    data_fields: tuple[tuple[str, str], ...]
    #: CEL declarations of guards, ``set`` values and timer instants
    declarations: Mapping[str, Any] = attrs.field(eq=False, repr=False)
    span: Span | None = attrs.field(default=None, eq=False, repr=False)


@attrs.frozen
class CheckedProgram:
    """Everything the engines need, resolved and validated."""

    name: str
    version: str | None
    hit: str
    input_var: str | None
    input_schema: str | None
    schemas: Mapping[str, Schema]
    queues: Mapping[str, str | None]
    calendars: Mapping[str, Calendar]
    slas: Mapping[str, SlaPolicy]
    escalations: Mapping[str, EscalationPolicy]
    rules: tuple[CheckedRule, ...]
    tests: tuple[ast.TestDecl, ...]
    warnings: tuple[Diagnostic, ...]
    #: CEL declarations for conditions: input var and ``now``.
    declarations: Mapping[str, Any] = attrs.field(eq=False, repr=False)
    #: declared permissions, in declaration order
    permissions: tuple[str, ...] = ()
    #: role -> every permission it holds (``extends`` and ``*`` expanded)
    roles: Mapping[str, frozenset[str]] = attrs.field(factory=dict)
    access_rules: tuple[AccessRule, ...] = ()
    #: separation-of-duties sets (``exclusive a, b``)
    exclusives: tuple[tuple[str, ...], ...] = ()
    #: workflows by name, in declaration order
    workflows: Mapping[str, CheckedWorkflow] = attrs.field(factory=dict)
    #: for a layer (``ruleset NAME extends PARENT``): the ruleset it extends,
    #: the rules it overrides (in evaluation order) and the rules it adds
    extends: str | None = None
    overrides: tuple[str, ...] = ()
    added: tuple[str, ...] = ()
