"""The checked program: the immutable, picklable input of the engines.

The check (:mod:`socialflow.dsl.check`) builds it from parsed modules;
nothing downstream sees source syntax again except spans for messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from socialflow.dsl import ast
from socialflow.errors import Diagnostic
from socialflow.source import Span
from socialflow.timing.calendar import Calendar
from socialflow.timing.escalation import EscalationPolicy
from socialflow.timing.sla import SlaPolicy

__all__ = ["AccessRule", "CheckedProgram", "CheckedRule", "Schema", "SchemaField"]

#: Priorities in increasing order.
PRIORITIES = ("low", "normal", "high", "urgent")


@attrs.frozen
class SchemaField:
    name: str
    #: the CEL type text (``int``, ``list(string)``) or a schema name
    type: str
    optional: bool
    span: Span | None = attrs.field(default=None, eq=False, repr=False)


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
