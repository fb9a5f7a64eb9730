"""Rules: evaluation order, duplicate items, actions resolved against their
declarations, conditions and ``set`` values type-checked."""

from __future__ import annotations

from typing import Final, assert_never

from socialflow._suggest import did_you_mean
from socialflow.cel.checker import CheckedExpr
from socialflow.dsl import ast
from socialflow.dsl.check.context import Context
from socialflow.dsl.check.guards import Fields, check_guards, fields_of, may_be_missing, proven
from socialflow.dsl.check.schemas import check_enum_comparisons, has_enums
from socialflow.dsl.program import PRIORITIES, CheckedRule
from socialflow.source import Span

#: types ``string(...)`` converts
_CONVERTIBLE: Final = frozenset({"int", "uint", "double", "bool", "bytes", "timestamp", "duration"})

__all__ = ["check_priority", "check_rules"]


def check_rules(ctx: Context) -> None:
    """Order the rules (precedence, then source order) and check each."""
    ordered = sorted(
        enumerate(ctx.rule_decls.values()), key=lambda pair: (-pair[1].precedence, pair[0])
    )
    enums = has_enums(ctx)
    fields = fields_of(ctx.schemas)
    roots = (
        {ctx.input_var: ctx.input_schema}
        if ctx.input_var and ctx.input_schema and may_be_missing(fields, ctx.input_schema)
        else None
    )
    ctx.rules = [
        _rule(ctx, rule, order, enums, fields, roots) for order, (_, rule) in enumerate(ordered)
    ]


def check_priority(ctx: Context, level: ast.Name, hint: bool = True) -> None:
    """A priority must be one of :data:`~socialflow.dsl.program.PRIORITIES`."""
    if level.text not in PRIORITIES:
        ctx.error(
            "unknown_priority",
            f"unknown priority `{level.text}`",
            level.span,
            did_you_mean(level.text, PRIORITIES)
            or ("use low, normal, high or urgent" if hint else None),
        )


def _assignee(ctx: Context, value: ast.CelText) -> CheckedExpr | None:
    """``assign CEL``: the expression must be a string (``dyn`` is checked when it
    runs); its types, or None when it does not type-check."""
    checked = ctx.cel(value, ctx.declarations, want_bool=False)
    if checked is None:
        return None
    result = str(checked.type)
    if result not in ("string", "dyn"):
        ctx.error(
            "assign_not_string",
            f"`assign` needs a `string`, not `{result}`",
            value.span,
            f"convert it: `assign string({value.text})`" if result in _CONVERTIBLE else None,
        )
    return checked


def _rule(
    ctx: Context,
    rule: ast.RuleDecl,
    order: int,
    enums: bool,
    fields: Fields,
    roots: dict[str, str] | None,
) -> CheckedRule:
    counts: dict[str, list[Span]] = {}
    for kind, span in rule.items:
        counts.setdefault(kind, []).append(span)
    for kind in ("precedence", "when"):
        for span in counts.get(kind, [])[1:]:
            ctx.error("duplicate_item", f"rule `{rule.name.text}` has more than one `{kind}`", span)
    if not rule.actions:
        ctx.warning(
            "rule_without_actions", f"rule `{rule.name.text}` has no `then` actions", rule.name.span
        )
    checked = None if rule.when is None else ctx.cel(rule.when, ctx.declarations, want_bool=True)
    if checked is not None and roots and rule.when is not None:
        check_guards(ctx, rule.when, fields, roots, condition=True, checked=checked)
    if enums and rule.when is not None:
        check_enum_comparisons(ctx, rule.when)
    seen: dict[str, ast.Action] = {}
    for action in rule.actions:
        output = ast.output_of(action)
        if output is not None:
            key = output[0]
            if key in seen:
                ctx.warning(
                    "duplicate_action",
                    f"rule `{rule.name.text}` sets `{key}` twice; the first wins",
                    action.span,
                    notes=(f"first set at {ctx.location(seen[key].span)}",),
                )
            seen.setdefault(key, action)
        match action:
            case ast.RouteAction(queue=queue):
                ctx.resolve("queue", queue, ctx.queue_decls, "undeclared_queue")
            case ast.SlaAction(sla=sla):
                ctx.resolve("sla", sla, ctx.sla_decls, "undeclared_sla")
            case ast.EscalateAction(policy=policy):
                ctx.resolve("escalation", policy, ctx.escalation_decls, "undeclared_escalation")
            case ast.PriorityAction(level=level):
                check_priority(ctx, level)
            case ast.SetAction(value=value):
                typed = ctx.cel(value, ctx.declarations, want_bool=False)
                if typed is not None and roots:
                    known = proven(rule.when)
                    check_guards(ctx, value, fields, roots, False, known=known, checked=typed)
                if enums:
                    check_enum_comparisons(ctx, value)
            case ast.AssignAction(value=computed):
                if computed is not None:
                    typed = _assignee(ctx, computed)
                    if typed is not None and roots:
                        known = proven(rule.when)
                        check_guards(
                            ctx, computed, fields, roots, False, known=known, checked=typed
                        )
                    if enums:
                        check_enum_comparisons(ctx, computed)
            case ast.TagAction() | ast.RespondAction() | ast.IgnoreAction() | ast.StopAction():
                pass
            case _:
                assert_never(action)
    return CheckedRule(
        rule.name.text, rule.display, rule.precedence, order, rule.when, rule.actions, rule.span
    )
