"""``test`` blocks: the given input is the declared one, expectations name
declared queues, SLAs, escalations and rules."""

from __future__ import annotations

from typing import assert_never

from socialflow.dsl import ast
from socialflow.dsl.check.context import Context
from socialflow.dsl.check.rules import check_priority

__all__ = ["check_tests"]


def check_tests(ctx: Context) -> None:
    ctx.tests = ctx.of(ast.TestDecl)
    for test in ctx.tests:
        _test(ctx, test)


def _test(ctx: Context, test: ast.TestDecl) -> None:
    for name, value in test.givens:
        if name.text != ctx.input_var:
            ctx.error(
                "undeclared_input",
                f"`{name.text}` is not the declared input",
                name.span,
                f"the input is `{ctx.input_var}`"
                if ctx.input_var
                else "declare one with `input msg: Message`",
            )
        ctx.cel(value, {"now": "timestamp"}, want_bool=False)
    for exp in test.expectations:
        match exp:
            case ast.ExpectRoute(queue=queue):
                ctx.resolve("queue", queue, ctx.queue_decls, "undeclared_queue")
            case ast.ExpectSla(sla=sla):
                ctx.resolve("sla", sla, ctx.sla_decls, "undeclared_sla")
            case ast.ExpectEscalate(policy=policy):
                ctx.resolve("escalation", policy, ctx.escalation_decls, "undeclared_escalation")
            case ast.ExpectMatched(rule=rule) | ast.ExpectError(rule=rule):
                ctx.resolve("rule", rule, ctx.rule_decls, "undeclared_rule")
            case ast.ExpectPriority(level=level):
                check_priority(ctx, level, hint=False)
            case ast.ExpectSet(value=value):
                ctx.cel(value, {"now": "timestamp"}, want_bool=False)
            case ast.ExpectTag() | ast.ExpectResponse() | ast.ExpectAssign():
                pass
            case _:
                assert_never(exp)
