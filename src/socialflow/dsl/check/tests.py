"""``test`` blocks: the given input is the declared one, expectations name
declared queues, SLAs, escalations and rules."""

from __future__ import annotations

from typing import Any, Final, assert_never

from socialflow._suggest import did_you_mean
from socialflow.cel.checker import check_expr
from socialflow.cel.values import parse_timestamp
from socialflow.dsl import ast
from socialflow.dsl.check.context import Context
from socialflow.dsl.check.rules import check_priority
from socialflow.dsl.check.values import check_value
from socialflow.dsl.program import REFUSAL_REASONS
from socialflow.errors import EvalError
from socialflow.source import Span

__all__ = ["check_tests", "check_workflow_tests"]

#: The steps of a workflow test that do something; every other step expects.
_WORKFLOW_ACTIONS: Final = (ast.StartStep, ast.EventStep, ast.AdvanceStep)

#: What a triage test's ``given`` values see.
_GIVEN_DECLARATIONS: Final[dict[str, Any]] = {"now": "timestamp"}

#: What ``given`` may bind in a workflow test.
_WORKFLOW_GIVENS: Final = ("subject", "data", "access")


def check_tests(ctx: Context) -> None:
    """Triage tests (the blocks without ``workflow``)."""
    ctx.tests = ctx.of(ast.TestDecl)
    for test in ctx.tests:
        for span in test.misplaced:
            ctx.error(
                "misplaced_expectation",
                "this belongs in a workflow test"
                if test.workflow is None
                else "this expectation is about triage, not a workflow",
                span,
                "add `workflow NAME` to the test"
                if test.workflow is None
                else "put it in a test block without `workflow`",
            )
        if test.workflow is None:
            _test(ctx, test)
        if not test.misplaced and not _expects_something(test):
            ctx.error(
                "test_expects_nothing",
                f'test "{test.description}" has no `expect`: it would pass whatever the rules do',
                test.span,
                "add what it checks, for example `expect route QUEUE` or `expect matched RULE`"
                if test.workflow is None
                else "add what it checks, for example `expect state STATE`",
            )


def _expects_something(test: ast.TestDecl) -> bool:
    if test.workflow is None:
        return bool(test.expectations)
    return any(not isinstance(step, _WORKFLOW_ACTIONS) for step in test.steps)


def check_workflow_tests(ctx: Context) -> None:
    """Workflow tests: the workflow, its events and states, givens and reasons."""
    for test in ctx.tests:
        if test.workflow is not None:
            _workflow_test(ctx, test, test.workflow)


def _workflow_test(ctx: Context, test: ast.TestDecl, name: ast.Name) -> None:
    if not ctx.resolve("workflow", name, ctx.workflow_decls, "undeclared_workflow"):
        return
    workflow = ctx.workflows.get(name.text)
    for given, value in test.givens:
        if given.text not in _WORKFLOW_GIVENS:
            ctx.error(
                "undeclared_input",
                f"a workflow test cannot give `{given.text}`",
                given.span,
                "give `subject`, `data` or `access` (records: nodes, grants, principals)",
            )
        ctx.cel(value, {"now": "timestamp"}, want_bool=False)
    if not test.steps or not isinstance(test.steps[0], ast.StartStep):
        ctx.error(
            "invalid_test",
            'a workflow test begins with `start at "..."`',
            test.steps[0].span if test.steps else test.span,
        )
    if workflow is None:  # it did not check; its own errors are reported
        return
    for step in test.steps:
        match step:
            case ast.StartStep() | ast.AdvanceStep() | ast.ExpectAccepted() | ast.ExpectVersion():
                pass
            case ast.EventStep(event=event, data=data):
                if event.text not in workflow.events:
                    ctx.error(
                        "undeclared_event",
                        f"`{event.text}` is not an event of workflow `{workflow.name}`",
                        event.span,
                        ctx.suggest(event.text, workflow.events)
                        or ctx.declared("events", workflow.events),
                    )
                if data is not None:
                    ctx.cel(data, {"now": "timestamp"}, want_bool=False)
            case ast.ExpectState(state=state):
                if state.text not in workflow.states:
                    ctx.error(
                        "undeclared_state",
                        f"undeclared state `{state.text}` in workflow `{workflow.name}`",
                        state.span,
                        ctx.suggest(state.text, workflow.states)
                        or ctx.declared("states", workflow.states),
                    )
            case ast.ExpectRefused(reason=reason):
                if reason.text not in REFUSAL_REASONS:
                    ctx.error(
                        "unknown_reason",
                        f"`{reason.text}` is not a refusal reason",
                        reason.span,
                        did_you_mean(reason.text, REFUSAL_REASONS)
                        or f"reasons are {', '.join(REFUSAL_REASONS)}",
                    )
            case ast.ExpectData(value=value):
                ctx.cel(value, {"now": "timestamp"}, want_bool=False)
            case ast.ExpectEffect() | ast.ExpectNextDeadline():
                pass
            case _:
                assert_never(step)


def _timestamp(ctx: Context, text: str, span: Span) -> None:
    """An expected deadline must be a timestamp with its offset."""
    try:
        parse_timestamp(text)
    except EvalError:
        ctx.error(
            "invalid_timestamp",
            f"`{text}` is not a timestamp",
            span,
            'write an RFC 3339 timestamp with its offset, e.g. "2026-11-23T11:00:00Z"',
        )


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
        if ctx.cel(value, _GIVEN_DECLARATIONS, want_bool=False) and name.text == ctx.input_var:
            schema = ctx.input_schema
            if schema is not None and schema in ctx.schemas:
                checked = check_expr(value.expr, _GIVEN_DECLARATIONS)
                check_value(ctx, value.expr, schema, checked, ctx.schemas, name.text)
    for exp in test.expectations:
        match exp:
            case ast.ExpectRoute(queue=queue):
                ctx.resolve("queue", queue, ctx.queue_decls, "undeclared_queue")
            case ast.ExpectSla(sla=sla, first_response=first, resolution=resolution):
                ctx.resolve("sla", sla, ctx.sla_decls, "undeclared_sla")
                for moment in (first, resolution):
                    if moment is not None:
                        _timestamp(ctx, *moment)
            case ast.ExpectEscalate(policy=policy, steps=steps):
                ctx.resolve("escalation", policy, ctx.escalation_decls, "undeclared_escalation")
                for _level, at, span in steps:
                    _timestamp(ctx, at, span)
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
