"""The socialflow DSL's syntax tree: frozen attrs nodes, each with its span.

Class names mirror the grammar rules of ``grammars/socialflow.lark``
(``rule_decl`` <-> :class:`RuleDecl`).  CEL conditions and values are
:mod:`socialflow.cel.ast` expressions together with their source text.
"""

from __future__ import annotations

from datetime import timedelta

import attrs

from socialflow.cel import ast as cel_ast
from socialflow.source import Span

__all__ = [
    "AccessRuleDecl",
    "Action",
    "CalendarDecl",
    "CelText",
    "DaySpec",
    "DurationLit",
    "EscalationDecl",
    "ExclusiveDecl",
    "Expectation",
    "FieldDecl",
    "InputDecl",
    "LevelDecl",
    "Module",
    "Name",
    "OpenDecl",
    "PermissionDecl",
    "QueueDecl",
    "RepeatDecl",
    "RoleDecl",
    "RuleDecl",
    "RulesetDecl",
    "SchemaDecl",
    "SlaDecl",
    "TargetDecl",
    "TestDecl",
    "TimeRange",
    "TypeRef",
]


@attrs.frozen
class Name:
    """An identifier as written, with where it was written."""

    text: str
    span: Span = attrs.field(eq=False, repr=False)


@attrs.frozen
class CelText:
    """A CEL expression embedded in the DSL: its AST and its exact source text."""

    expr: cel_ast.Expr
    text: str
    span: Span = attrs.field(eq=False, repr=False)


@attrs.frozen
class DurationLit:
    """A DSL duration literal such as ``1h30m``."""

    text: str
    value: timedelta
    span: Span = attrs.field(eq=False, repr=False)


@attrs.frozen
class RulesetDecl:
    name: Name
    version: str | None
    hit: Name | None
    span: Span = attrs.field(eq=False, repr=False)


@attrs.frozen
class TypeRef:
    name: Name
    args: tuple[TypeRef, ...]
    span: Span = attrs.field(eq=False, repr=False)


@attrs.frozen
class FieldDecl:
    name: Name
    optional: bool
    type: TypeRef
    span: Span = attrs.field(eq=False, repr=False)


@attrs.frozen
class SchemaDecl:
    name: Name
    fields: tuple[FieldDecl, ...]
    span: Span = attrs.field(eq=False, repr=False)


@attrs.frozen
class InputDecl:
    var: Name
    schema: Name
    span: Span = attrs.field(eq=False, repr=False)


@attrs.frozen
class QueueDecl:
    name: Name
    display: str | None
    span: Span = attrs.field(eq=False, repr=False)


@attrs.frozen
class DaySpec:
    first: Name
    last: Name | None
    span: Span = attrs.field(eq=False, repr=False)


@attrs.frozen
class TimeRange:
    start: str
    end: str
    span: Span = attrs.field(eq=False, repr=False)


@attrs.frozen
class OpenDecl:
    days: tuple[DaySpec, ...]
    ranges: tuple[TimeRange, ...]
    span: Span = attrs.field(eq=False, repr=False)


@attrs.frozen
class CalendarDecl:
    name: Name
    timezones: tuple[tuple[str, Span], ...]
    opens: tuple[OpenDecl, ...]
    closed: tuple[tuple[str, Span], ...]
    span: Span = attrs.field(eq=False, repr=False)


@attrs.frozen
class SlaDecl:
    name: Name
    #: (item keyword, value, span) in source order; the checker finds duplicates.
    items: tuple[tuple[str, DurationLit | Name, Span], ...]
    span: Span = attrs.field(eq=False, repr=False)


@attrs.frozen
class TargetDecl:
    kind: str  # "queue" | "role" | "user"
    name: str
    span: Span = attrs.field(eq=False, repr=False)


@attrs.frozen
class LevelDecl:
    number: int
    after: DurationLit | None
    targets: tuple[TargetDecl, ...]
    span: Span = attrs.field(eq=False, repr=False)


@attrs.frozen
class RepeatDecl:
    count: int
    after: DurationLit | None
    span: Span = attrs.field(eq=False, repr=False)


@attrs.frozen
class EscalationDecl:
    name: Name
    levels: tuple[LevelDecl, ...]
    repeats: tuple[RepeatDecl, ...]
    span: Span = attrs.field(eq=False, repr=False)


#: Action kinds, as written in the DSL.
ACTION_KINDS = (
    "route", "assign", "priority", "tag", "sla", "escalate", "respond", "ignore", "set", "stop",
)  # fmt: skip


@attrs.frozen
class Action:
    """One action of a rule's ``then``.

    ``kind`` is one of :data:`ACTION_KINDS`.  ``names`` holds the referenced
    declaration (route, priority, sla, escalate) or the ``set`` attribute name;
    ``texts`` holds string arguments (tag, assign, respond, ignore); ``value``
    is the CEL expression of ``set``.
    """

    kind: str
    span: Span = attrs.field(eq=False, repr=False)
    name: Name | None = None
    texts: tuple[str, ...] = ()
    value: CelText | None = None


@attrs.frozen
class RuleDecl:
    name: Name
    display: str | None
    precedence: int
    when: CelText | None
    actions: tuple[Action, ...]
    span: Span = attrs.field(eq=False, repr=False)
    #: Every ``precedence``/``when``/``then`` item with its span, to report duplicates.
    items: tuple[tuple[str, Span], ...] = attrs.field(default=(), eq=False, repr=False)


@attrs.frozen
class Expectation:
    """``expect ...`` in a test block (``kind`` is the word after ``expect``)."""

    kind: str
    span: Span = attrs.field(eq=False, repr=False)
    negated: bool = False
    name: Name | None = None
    texts: tuple[str, ...] = ()
    value: CelText | None = None


@attrs.frozen
class TestDecl:
    description: str
    givens: tuple[tuple[Name, CelText], ...]
    at: tuple[str, Span] | None
    expectations: tuple[Expectation, ...]
    span: Span = attrs.field(eq=False, repr=False)


@attrs.frozen
class PermissionDecl:
    names: tuple[Name, ...]
    span: Span = attrs.field(eq=False, repr=False)


@attrs.frozen
class RoleDecl:
    name: Name
    extends: tuple[Name, ...]
    #: permission names; ``*`` stands for every permission
    permissions: tuple[Name, ...]
    span: Span = attrs.field(eq=False, repr=False)


@attrs.frozen
class AccessRuleDecl:
    """``permit P when C`` or ``forbid P when C`` (no ``when``: always)."""

    effect: str  # "permit" | "forbid"
    permissions: tuple[Name, ...]
    when: CelText | None
    span: Span = attrs.field(eq=False, repr=False)


@attrs.frozen
class ExclusiveDecl:
    """``exclusive a, b``: separation of duties."""

    permissions: tuple[Name, ...]
    span: Span = attrs.field(eq=False, repr=False)


Decl = (
    RulesetDecl | SchemaDecl | InputDecl | QueueDecl | CalendarDecl | SlaDecl | EscalationDecl
    | RuleDecl | TestDecl | PermissionDecl | RoleDecl | AccessRuleDecl | ExclusiveDecl
)  # fmt: skip


@attrs.frozen
class Module:
    """One parsed file."""

    name: str
    decls: tuple[Decl, ...]
