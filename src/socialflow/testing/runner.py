"""Run the ``test`` blocks of a bundle (``socialflow test``).

A triage block builds its input from ``given`` CEL values, triages it at the
``at`` time (default: the message's ``received_at``), and checks every
``expect``; a workflow block (``workflow NAME``) runs its steps
(:mod:`socialflow.testing.workflows`).  Results are data; the CLI renders them
pytest-style.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, assert_never

import attrs

from socialflow.cel.compiler import compile_ast
from socialflow.cel.stdlib import equals
from socialflow.cel.values import format_timestamp, parse_timestamp
from socialflow.dsl import ast
from socialflow.errors import EvalError, InputError, SocialflowError
from socialflow.source import Span
from socialflow.testing.workflows import run_workflow_test
from socialflow.timing.escalation import EscalationPlan
from socialflow.triage.decision import Decision

if TYPE_CHECKING:
    from socialflow.bundle import Bundle

__all__ = ["TestResult", "run_tests"]


@attrs.frozen
class TestResult:
    """The outcome of one ``test`` block."""

    #: not a test class, whatever pytest's name-based collection thinks
    __test__ = False

    name: str
    location: str
    passed: bool
    failures: tuple[str, ...] = ()


def run_tests(bundle: Bundle) -> tuple[TestResult, ...]:
    """Run every test block of ``bundle``, in source order: the base ruleset's,
    then each layer's against that layer's effective rules."""
    results = [_run(bundle, test) for test in bundle.program.tests]
    for name in bundle.layers:
        layer = bundle.layer(name)
        results += [_run(layer, test) for test in layer.program.tests]
    return tuple(results)


def _run(bundle: Bundle, test: ast.TestDecl) -> TestResult:
    location = test.span.location()
    if test.workflow is not None:
        problems = run_workflow_test(bundle, test)
        return TestResult(test.description, location, not problems, tuple(problems))
    failures: list[str] = []
    now: datetime | None = None
    if test.at is not None:
        try:
            now = parse_timestamp(test.at[0])
        except EvalError as e:
            return TestResult(test.description, location, False, (f"`at`: {e.message}",))
    activation: dict[str, Any] = {"now": now} if now is not None else {}
    message: Any = None
    input_var = bundle.program.input_var
    try:
        for name, value in test.givens:
            evaluated = compile_ast(value.expr, bundle.engine.limits, "given")(activation)
            if name.text == input_var:
                message = evaluated
    except EvalError as e:
        return TestResult(test.description, location, False, (f"`given`: {e}",))
    if now is None:
        received = message.get("received_at") if isinstance(message, Mapping) else None
        if isinstance(received, datetime):
            now = received
        elif isinstance(received, str):
            try:
                now = parse_timestamp(received)
            except EvalError:
                now = None
    if now is None:
        return TestResult(
            test.description,
            location,
            False,
            ('no time to triage at: add `at "2026-01-01T09:00:00Z"` or a `received_at`',),
        )
    try:
        decision = bundle.triage(message, now)
    except InputError as e:
        return TestResult(test.description, location, False, (f"input rejected: {e}",))
    except SocialflowError as e:
        return TestResult(test.description, location, False, (f"triage failed: {e}",))
    activation["now"] = now
    for exp in test.expectations:
        problem = _check(exp, decision, activation, bundle)
        if problem is not None:
            failures.append(f"{exp.span.location()}: {problem}")
    return TestResult(test.description, location, not failures, tuple(failures))


def _deadline(what: str, want: tuple[str, Span] | None, got: datetime | None) -> str | None:
    """``None`` when the deadline is as expected (or nothing was expected)."""
    if want is None:
        return None
    expected = parse_timestamp(want[0])  # the check made sure it parses
    if got is not None and got == expected:
        return None
    shown = "none" if got is None else format_timestamp(got)
    return f"expected {what} at {format_timestamp(expected)}, got {shown}"


def _steps(
    policy: str, steps: tuple[tuple[int, str, Span], ...], plan: EscalationPlan
) -> str | None:
    """``None`` when ``plan`` has a step of each expected level at its time."""
    planned = {(s.level, s.at) for s in plan.steps}
    for level, at, _ in steps:
        expected = parse_timestamp(at)
        if (level, expected) not in planned:
            shown = ", ".join(f"level {s.level} at {format_timestamp(s.at)}" for s in plan.steps)
            return (
                f"expected {policy} level {level} at {format_timestamp(expected)}; "
                f"the plan: {shown or 'no steps'}"
            )
    return None


def _check(
    exp: ast.Expectation, decision: Decision, activation: dict[str, Any], bundle: Bundle
) -> str | None:
    """``None`` when ``decision`` meets ``exp``, else what differs."""
    match exp:
        case ast.ExpectRoute(queue=queue):
            return _same("route", queue.text, decision.route)
        case ast.ExpectPriority(level=level):
            return _same("priority", level.text, decision.priority)
        case ast.ExpectTag(tags=tags):
            missing = [t for t in tags if t not in decision.tags]
            if missing:
                return f"expected tag(s) {', '.join(map(repr, missing))}, got {list(decision.tags)}"
            return None
        case ast.ExpectMatched(rule=rule, negated=negated):
            hit = rule.text in decision.matched
            if negated and hit:
                return f"expected rule {rule.text} not to match; matched: {list(decision.matched)}"
            if not negated and not hit:
                return f"expected rule {rule.text} to match; matched: {list(decision.matched)}"
            return None
        case ast.ExpectResponse(response=response):
            if decision.response == response:
                return None
            return f"expected {response}, got {decision.response}"
        case ast.ExpectSla(sla=sla, first_response=first, resolution=resolution):
            got = decision.sla.policy if decision.sla is not None else None
            problem = _same("sla", sla.text, got)
            if problem is not None or decision.sla is None:
                return problem
            return _deadline("first_response", first, decision.sla.first_response_at) or _deadline(
                "resolution", resolution, decision.sla.resolution_at
            )
        case ast.ExpectEscalate(policy=policy, steps=steps):
            planned = {plan.policy: plan for plan in decision.escalations}
            if policy.text not in planned:
                return f"expected an escalation plan of {policy.text}; planned: {list(planned)}"
            return _steps(policy.text, steps, planned[policy.text])
        case ast.ExpectAssign(who=who):
            if decision.assign == who:
                return None
            return f"expected assign {who!r}, got {decision.assign!r}"
        case ast.ExpectError(rule=rule):
            rules = [e.rule for e in decision.errors]
            if rule.text in rules:
                return None
            return f"expected a condition error in rule {rule.text}; errors: {rules}"
        case ast.ExpectSet(name=name, value=value):
            values = dict(decision.values)
            if name.text not in values:
                return f"expected `{name.text}` to be set; set: {sorted(values)}"
            try:
                want = compile_ast(value.expr, bundle.engine.limits, "expect")(activation)
            except EvalError as e:
                return f"cannot evaluate the expected value: {e}"
            if equals(values[name.text], want):
                return None
            return f"expected {name.text} = {want!r}, got {values[name.text]!r}"
        case _:
            assert_never(exp)


def _same(what: str, want: str, got: str | None) -> str | None:
    return None if want == got else f"expected {what} {want}, got {got}"
