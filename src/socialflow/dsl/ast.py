"""The socialflow DSL's syntax tree: frozen attrs nodes, each with its span.

Class names mirror the grammar rules of ``grammars/socialflow.lark``
(``rule_decl`` <-> :class:`RuleDecl`).  CEL conditions and values are
:mod:`socialflow.cel.ast` expressions together with their source text.
"""

from __future__ import annotations

from datetime import timedelta
from typing import assert_never

import attrs

from socialflow.cel import ast as cel_ast
from socialflow.source import Span

__all__ = [
    "AccessRuleDecl",
    "Action",
    "AdvanceStep",
    "AssignAction",
    "BrokenDecl",
    "CalendarDecl",
    "CelText",
    "DataDecl",
    "DaySpec",
    "Decl",
    "DurationLit",
    "EffectArg",
    "EffectDecl",
    "EscalateAction",
    "EscalationDecl",
    "EventStep",
    "ExclusiveDecl",
    "ExpectAccepted",
    "ExpectAssign",
    "ExpectData",
    "ExpectEffect",
    "ExpectError",
    "ExpectEscalate",
    "ExpectMatched",
    "ExpectNextDeadline",
    "ExpectPriority",
    "ExpectRefused",
    "ExpectResponse",
    "ExpectRoute",
    "ExpectSet",
    "ExpectSla",
    "ExpectState",
    "ExpectTag",
    "ExpectVersion",
    "Expectation",
    "FieldDecl",
    "HookDecl",
    "IgnoreAction",
    "InputDecl",
    "LevelDecl",
    "Module",
    "Name",
    "OpenDecl",
    "PermissionDecl",
    "PriorityAction",
    "QueueDecl",
    "RepeatDecl",
    "RespondAction",
    "RoleDecl",
    "RouteAction",
    "RuleDecl",
    "RulesetDecl",
    "SchemaDecl",
    "SetAction",
    "SlaAction",
    "SlaDecl",
    "StartStep",
    "StateDecl",
    "StopAction",
    "TagAction",
    "TargetDecl",
    "TestDecl",
    "TimeRange",
    "TimeoutDecl",
    "TransitionDecl",
    "TypeRef",
    "WhileDecl",
    "WorkflowDecl",
    "WorkflowExpectation",
    "WorkflowItem",
    "WorkflowStep",
    "output_of",
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
    """A DSL duration literal such as ``1h30m``, or business time on a calendar:
    ``2 business days`` (``business`` is ``"days"``, ``value`` N days) or
    ``4 business hours`` (``"hours"``, ``value`` N hours of open time)."""

    text: str
    value: timedelta
    span: Span = attrs.field(eq=False, repr=False)
    business: str | None = None


@attrs.frozen
class RulesetDecl:
    name: Name
    version: str | None
    hit: Name | None
    span: Span = attrs.field(eq=False, repr=False)
    #: ``extends PARENT``: this file is a layer over the ruleset ``PARENT``
    extends: Name | None = None


@attrs.frozen
class TypeRef:
    """A field type: ``int``, ``list(string)``, or ``enum("a", "b")`` (``name``
    ``enum`` and the string ``values`` with their spans)."""

    name: Name
    args: tuple[TypeRef, ...]
    span: Span = attrs.field(eq=False, repr=False)
    values: tuple[tuple[str, Span], ...] = ()


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


# -- rule actions: a closed union, dispatched with ``match`` + ``assert_never`` ------------


@attrs.frozen
class RouteAction:
    """``route QUEUE``."""

    queue: Name
    span: Span = attrs.field(eq=False, repr=False)


@attrs.frozen
class AssignAction:
    """``assign "who"`` (``who`` the literal), or ``assign CEL`` (``value`` the
    expression, a string computed per message; ``who`` is then ``None``)."""

    who: str | None
    span: Span = attrs.field(eq=False, repr=False)
    value: CelText | None = None


@attrs.frozen
class PriorityAction:
    """``priority low|normal|high|urgent``."""

    level: Name
    span: Span = attrs.field(eq=False, repr=False)


@attrs.frozen
class TagAction:
    """``tag "a", "b"``."""

    tags: tuple[str, ...]
    span: Span = attrs.field(eq=False, repr=False)


@attrs.frozen
class SlaAction:
    """``sla NAME``."""

    sla: Name
    span: Span = attrs.field(eq=False, repr=False)


@attrs.frozen
class EscalateAction:
    """``escalate NAME``."""

    policy: Name
    span: Span = attrs.field(eq=False, repr=False)


@attrs.frozen
class RespondAction:
    """``respond`` or ``respond "template"``."""

    template: str | None
    span: Span = attrs.field(eq=False, repr=False)


@attrs.frozen
class IgnoreAction:
    """``ignore`` or ``ignore "reason"``."""

    reason: str | None
    span: Span = attrs.field(eq=False, repr=False)


@attrs.frozen
class SetAction:
    """``set NAME = CEL``."""

    name: Name
    value: CelText
    span: Span = attrs.field(eq=False, repr=False)


@attrs.frozen
class StopAction:
    """``stop``."""

    span: Span = attrs.field(eq=False, repr=False)


Action = (
    RouteAction | AssignAction | PriorityAction | TagAction | SlaAction | EscalateAction
    | RespondAction | IgnoreAction | SetAction | StopAction
)  # fmt: skip


def output_of(action: Action) -> tuple[str, str] | None:
    """The single-valued output ``action`` decides and the value as written, e.g.
    ``("route", "care")``, ``("respond/ignore", "ignore spam")``,
    ``("set category", '"billing"')``; ``None`` for ``tag``, ``escalate`` (a
    decision holds every policy its rules name) and ``stop``."""
    match action:
        case RouteAction(queue=queue):
            return "route", queue.text
        case AssignAction(who=who, value=value):
            return "assign", f"assign {who if value is None else value.text}"
        case PriorityAction(level=level):
            return "priority", level.text
        case SlaAction(sla=sla):
            return "sla", sla.text
        case RespondAction(template=template):
            return "respond/ignore", "respond" if template is None else f"respond {template}"
        case IgnoreAction(reason=reason):
            return "respond/ignore", "ignore" if reason is None else f"ignore {reason}"
        case SetAction(name=name, value=value):
            return f"set {name.text}", value.text
        case TagAction() | EscalateAction() | StopAction():  # they accumulate
            return None
        case _:
            assert_never(action)


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
    #: ``override rule NAME``: replaces the rule of the extended ruleset (not part
    #: of equality, so an override can be compared with the rule it replaces)
    override: bool = attrs.field(default=False, eq=False)


# -- test expectations: a closed union as well ---------------------------------------------


@attrs.frozen
class ExpectRoute:
    """``expect route QUEUE``."""

    queue: Name
    span: Span = attrs.field(eq=False, repr=False)


@attrs.frozen
class ExpectPriority:
    """``expect priority LEVEL``."""

    level: Name
    span: Span = attrs.field(eq=False, repr=False)


@attrs.frozen
class ExpectTag:
    """``expect tag "a", "b"``: every tag is among the decision's."""

    tags: tuple[str, ...]
    span: Span = attrs.field(eq=False, repr=False)


@attrs.frozen
class ExpectMatched:
    """``expect matched RULE`` or ``expect not matched RULE``."""

    rule: Name
    negated: bool
    span: Span = attrs.field(eq=False, repr=False)


@attrs.frozen
class ExpectResponse:
    """``expect respond`` or ``expect ignore``."""

    response: str  # "respond" | "ignore"
    span: Span = attrs.field(eq=False, repr=False)


@attrs.frozen
class ExpectSla:
    """``expect sla NAME [first_response "TIME"] [resolution "TIME"]``."""

    sla: Name
    span: Span = attrs.field(eq=False, repr=False)
    #: the deadlines expected, as written (a timestamp each) with their spans
    first_response: tuple[str, Span] | None = None
    resolution: tuple[str, Span] | None = None


@attrs.frozen
class ExpectEscalate:
    """``expect escalate NAME [level N at "TIME", ...]``."""

    policy: Name
    span: Span = attrs.field(eq=False, repr=False)
    #: steps the plan must hold: (level, timestamp as written, span of the timestamp)
    steps: tuple[tuple[int, str, Span], ...] = ()


@attrs.frozen
class ExpectAssign:
    """``expect assign "who"``."""

    who: str
    span: Span = attrs.field(eq=False, repr=False)


@attrs.frozen
class ExpectSet:
    """``expect set NAME = CEL``."""

    name: Name
    value: CelText
    span: Span = attrs.field(eq=False, repr=False)


@attrs.frozen
class ExpectError:
    """``expect error RULE``: the rule's condition (or a ``set`` value) raised."""

    rule: Name
    span: Span = attrs.field(eq=False, repr=False)


Expectation = (
    ExpectRoute | ExpectPriority | ExpectTag | ExpectMatched | ExpectResponse | ExpectSla
    | ExpectEscalate | ExpectAssign | ExpectSet | ExpectError
)  # fmt: skip


# -- workflow test steps and expectations ------------------------------------------------


@attrs.frozen
class EffectArg:
    """One argument of an effect as written: ``queue care`` (kind and name),
    ``care_policy`` (a plain name) or ``role "pr_director"``."""

    kind: Name | None
    value: str
    span: Span = attrs.field(eq=False, repr=False)
    #: written as a string (`role "pr_director"`): a free label, never resolved
    quoted: bool = False


@attrs.frozen
class EffectDecl:
    """``notify(queue customer_care)``: an effect a workflow emits."""

    name: Name
    args: tuple[EffectArg, ...]
    span: Span = attrs.field(eq=False, repr=False)


@attrs.frozen
class StartStep:
    """``start at "..." [id "..."]``: a fresh instance."""

    at: tuple[str, Span]
    id: str | None
    span: Span = attrs.field(eq=False, repr=False)


@attrs.frozen
class EventStep:
    """``event NAME by "actor" at "..." [id "..."] [with {...}]``."""

    event: Name
    actor: str
    at: tuple[str, Span]
    id: str | None
    data: CelText | None
    span: Span = attrs.field(eq=False, repr=False)


@attrs.frozen
class AdvanceStep:
    """``advance to "..."``: fire the timers due by then."""

    to: tuple[str, Span]
    span: Span = attrs.field(eq=False, repr=False)


@attrs.frozen
class ExpectState:
    """``expect state S``."""

    state: Name
    span: Span = attrs.field(eq=False, repr=False)


@attrs.frozen
class ExpectAccepted:
    """``expect accepted``: the last step (or advance) was accepted."""

    span: Span = attrs.field(eq=False, repr=False)


@attrs.frozen
class ExpectRefused:
    """``expect refused REASON``."""

    reason: Name
    span: Span = attrs.field(eq=False, repr=False)


@attrs.frozen
class ExpectEffect:
    """``expect effect E(...)`` / ``expect not effect E(...)``: among the last
    result's effects, or not."""

    effect: EffectDecl
    negated: bool
    span: Span = attrs.field(eq=False, repr=False)


@attrs.frozen
class ExpectNextDeadline:
    """``expect next_deadline "..."`` or ``expect next_deadline none``."""

    at: tuple[str, Span] | None
    span: Span = attrs.field(eq=False, repr=False)


@attrs.frozen
class ExpectData:
    """``expect data NAME = CEL``."""

    name: Name
    value: CelText
    span: Span = attrs.field(eq=False, repr=False)


@attrs.frozen
class ExpectVersion:
    """``expect version N``."""

    version: int
    span: Span = attrs.field(eq=False, repr=False)


WorkflowExpectation = (
    ExpectState | ExpectAccepted | ExpectRefused | ExpectEffect | ExpectNextDeadline
    | ExpectData | ExpectVersion
)  # fmt: skip
WorkflowStep = StartStep | EventStep | AdvanceStep | WorkflowExpectation


@attrs.frozen
class TestDecl:
    """A ``test`` block: a triage test (``given``, ``at``, ``expect``), or, with
    ``workflow NAME``, a sequence of workflow steps and expectations."""

    description: str
    givens: tuple[tuple[Name, CelText], ...]
    at: tuple[str, Span] | None
    expectations: tuple[Expectation, ...]
    span: Span = attrs.field(eq=False, repr=False)
    workflow: Name | None = None
    #: a workflow test's steps and their expectations, in order
    steps: tuple[WorkflowStep, ...] = ()
    #: expectations of the other kind than the block's (reported by the checker)
    misplaced: tuple[Span, ...] = attrs.field(default=(), eq=False, repr=False)
    #: ``given VAR = BASE with {...}``: (index in ``givens``, the base's name); the
    #: check replaces such a given by the merged map (``dsl/check/bases.py``)
    bases: tuple[tuple[int, Name], ...] = ()


@attrs.frozen
class BaseDecl:
    """``base NAME = {...}``: a message that tests start from."""

    name: Name
    value: CelText
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


# -- workflows --------------------------------------------------------------------------


@attrs.frozen
class StateDecl:
    """``state a, b [initial|final]``."""

    names: tuple[Name, ...]
    flag: Name | None
    span: Span = attrs.field(eq=False, repr=False)


@attrs.frozen
class TransitionDecl:
    """``on EVENT from S, ... to T [requires P] [when CEL] [set N = CEL] [emit E(...)]``."""

    event: Name
    sources: tuple[Name, ...]
    target: Name
    requires: tuple[Name, ...]
    guards: tuple[CelText, ...]
    sets: tuple[tuple[Name, CelText], ...]
    effects: tuple[EffectDecl, ...]
    span: Span = attrs.field(eq=False, repr=False)


@attrs.frozen
class HookDecl:
    """``enter STATE emit ...`` or ``exit STATE emit ...``."""

    kind: str  # "enter" | "exit"
    state: Name
    effects: tuple[EffectDecl, ...]
    span: Span = attrs.field(eq=False, repr=False)


@attrs.frozen
class TimeoutDecl:
    """``timeout STATE after D | at CEL [to S] [emit ...]``."""

    state: Name
    after: DurationLit | None
    at: CelText | None
    target: Name | None
    effects: tuple[EffectDecl, ...]
    span: Span = attrs.field(eq=False, repr=False)


@attrs.frozen
class WhileDecl:
    """``while STATE escalate POLICY``."""

    state: Name
    policy: Name
    span: Span = attrs.field(eq=False, repr=False)


@attrs.frozen
class DataDecl:
    """``data due: timestamp, severity: int``: instance data the host provides (at
    ``start``) that guards read, declared with its type."""

    fields: tuple[FieldDecl, ...]
    span: Span = attrs.field(eq=False, repr=False)


WorkflowItem = StateDecl | TransitionDecl | HookDecl | TimeoutDecl | WhileDecl | DataDecl


@attrs.frozen
class WorkflowDecl:
    """``workflow NAME ["display"] { ... }``."""

    name: Name
    display: str | None
    items: tuple[WorkflowItem, ...]
    span: Span = attrs.field(eq=False, repr=False)


Decl = (
    RulesetDecl | SchemaDecl | InputDecl | QueueDecl | CalendarDecl | SlaDecl | EscalationDecl
    | RuleDecl | TestDecl | PermissionDecl | RoleDecl | AccessRuleDecl | ExclusiveDecl
    | WorkflowDecl | BaseDecl
)  # fmt: skip


@attrs.frozen
class BrokenDecl:
    """A declaration the parser skipped after a syntax error: what it would have
    declared, as far as the text says (``queue care {`` -> ``queue``, ``care``).
    The check reports no undeclared-name error for these names."""

    kind: str
    names: tuple[Name, ...]


@attrs.frozen
class Module:
    """One parsed file.  ``broken``: the declarations skipped after syntax errors."""

    name: str
    decls: tuple[Decl, ...]
    broken: tuple[BrokenDecl, ...] = ()
