"""Run the ``test`` blocks of a bundle (``socialflow test``).

Each block builds its input from ``given`` CEL values, triages it at the
``at`` time (default: the message's ``received_at``), and checks every
``expect``.  Results are data; the CLI renders them pytest-style.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import attrs

from socialflow.cel.compiler import compile_ast
from socialflow.cel.stdlib import equals
from socialflow.cel.values import parse_timestamp
from socialflow.dsl import ast
from socialflow.errors import EvalError, InputError, SocialflowError

if TYPE_CHECKING:
    from socialflow.bundle import Bundle

__all__ = ["TestResult", "run_tests"]


@attrs.frozen
class TestResult:
    """The outcome of one ``test`` block."""

    name: str
    location: str
    passed: bool
    failures: tuple[str, ...] = ()


def run_tests(bundle: Bundle) -> tuple[TestResult, ...]:
    """Run every test block of ``bundle``, in source order."""
    return tuple(_run(bundle, test) for test in bundle.program.tests)


def _run(bundle: Bundle, test: ast.TestDecl) -> TestResult:
    location = test.span.location()
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


def _check(
    exp: ast.Expectation, decision: Any, activation: dict[str, Any], bundle: Bundle
) -> str | None:
    name = exp.name.text if exp.name is not None else None
    kind = exp.kind
    if kind == "route":
        return None if decision.route == name else f"expected route {name}, got {decision.route}"
    if kind == "priority":
        return (
            None
            if decision.priority == name
            else f"expected priority {name}, got {decision.priority}"
        )
    if kind == "tag":
        missing = [t for t in exp.texts if t not in decision.tags]
        return (
            None
            if not missing
            else f"expected tag(s) {', '.join(map(repr, missing))}, got {list(decision.tags)}"
        )
    if kind == "matched":
        hit = name in decision.matched
        if exp.negated:
            return (
                None
                if not hit
                else f"expected rule {name} not to match; matched: {list(decision.matched)}"
            )
        return None if hit else f"expected rule {name} to match; matched: {list(decision.matched)}"
    if kind in ("ignore", "respond"):
        return None if decision.response == kind else f"expected {kind}, got {decision.response}"
    if kind == "sla":
        got = decision.sla.policy if decision.sla is not None else None
        return None if got == name else f"expected sla {name}, got {got}"
    if kind == "escalate":
        got = decision.escalation.policy if decision.escalation is not None else None
        return None if got == name else f"expected escalate {name}, got {got}"
    if kind == "assign":
        want = exp.texts[0] if exp.texts else None
        return (
            None
            if decision.assign == want
            else f"expected assign {want!r}, got {decision.assign!r}"
        )
    if kind == "error":
        rules = [e.rule for e in decision.errors]
        return (
            None if name in rules else f"expected a condition error in rule {name}; errors: {rules}"
        )
    if kind == "set" and exp.value is not None and name is not None:
        values = dict(decision.values)
        if name not in values:
            return f"expected `{name}` to be set; set: {sorted(values)}"
        try:
            want = compile_ast(exp.value.expr, bundle.engine.limits, "expect")(activation)
        except EvalError as e:
            return f"cannot evaluate the expected value: {e}"
        return (
            None
            if equals(values[name], want)
            else f"expected {name} = {want!r}, got {values[name]!r}"
        )
    return f"unknown expectation `{kind}`"  # pragma: no cover - the grammar has no other
