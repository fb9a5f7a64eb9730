"""Run the workflow ``test`` blocks: a ``start``, then ``event`` and ``advance``
steps, each followed by expectations on the latest result.

Before each event the instance is advanced to the event's time, as a host
would: the timers due by then fire first (``expect`` lines after an event are
about the event's own result).  Event ids are ``e1``, ``e2``... unless the step
gives one, so a test can repeat an id on purpose.  Without ``given access``,
permissions are not checked (:data:`~socialflow.workflow.model.ALLOW_ALL`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, assert_never

from socialflow.cel.compiler import compile_ast
from socialflow.cel.stdlib import equals
from socialflow.cel.values import format_timestamp, parse_timestamp
from socialflow.dsl import ast
from socialflow.errors import EvalError, SocialflowError
from socialflow.workflow.model import ALLOW_ALL, Effect, Event, Instance, StepResult

if TYPE_CHECKING:
    from socialflow.bundle import Bundle

__all__ = ["run_workflow_test"]


class _Failed(Exception):
    """The test cannot go on (a step raised, a time does not parse)."""


def run_workflow_test(bundle: Bundle, test: ast.TestDecl) -> list[str]:
    """The failures of one workflow test block (empty: it passed)."""
    assert test.workflow is not None  # INVARIANT: the caller checked
    workflow = bundle.workflow(test.workflow.text)
    limits = bundle.engine.limits
    failures: list[str] = []
    givens: dict[str, Any] = {}
    try:
        for name, value in test.givens:
            givens[name.text] = compile_ast(value.expr, limits, "given")({})
        subject = givens.get("subject", {})
        access: Any = ALLOW_ALL
        if "access" in givens:
            records = givens["access"]
            if not isinstance(records, Mapping):
                raise _Failed(f"{test.span.location()}: `given access` must be a map of records")
            access = bundle.access(
                records.get("nodes", ()), records.get("grants", ()), records.get("principals", ())
            )
        instance: Instance | None = None
        last: StepResult | None = None
        counter = 0
        for step in test.steps:
            where = step.span.location()
            match step:
                case ast.StartStep(at=at, id=id_):
                    now = _time(at)
                    instance = workflow.start(
                        id_ or "test", subject=subject, now=now, data=givens.get("data")
                    )
                    last = StepResult(True, instance)
                case ast.EventStep(event=event, actor=actor, at=at, id=id_, data=data):
                    instance = _started(instance, where)
                    now = _time(at)
                    instance = workflow.advance(instance, now, subject=subject).instance
                    counter += 1
                    payload = (
                        compile_ast(data.expr, limits, "event data")({"now": now})
                        if data is not None
                        else None
                    )
                    last = workflow.step(
                        instance,
                        Event(event.text, actor=actor, id=id_ or f"e{counter}", data=payload),
                        subject=subject,
                        now=now,
                        access=access,
                    )
                    instance = last.instance
                case ast.AdvanceStep(to=to):
                    last = workflow.advance(_started(instance, where), _time(to), subject=subject)
                    instance = last.instance
                case _:
                    problem = _check(step, _started(instance, where), last, limits)
                    if problem is not None:
                        failures.append(f"{where}: {problem}")
    except _Failed as e:
        failures.append(str(e))
    except SocialflowError as e:
        failures.append(f"the test raised {type(e).__name__}: {e}")
    return failures


def _started(instance: Instance | None, where: str) -> Instance:
    if instance is None:
        raise _Failed(f'{where}: no instance yet: begin with `start at "..."`')
    return instance


def _time(at: tuple[str, Any]) -> datetime:
    try:
        return parse_timestamp(at[0])
    except EvalError as e:
        raise _Failed(f"{at[1].location()}: {e.message}") from None


def _check(
    exp: ast.WorkflowExpectation, instance: Instance, last: StepResult | None, limits: Any
) -> str | None:
    match exp:
        case ast.ExpectState(state=state):
            if instance.state == state.text:
                return None
            return f"expected state {state.text}, got {instance.state}"
        case ast.ExpectAccepted():
            if last is not None and last.accepted:
                return None
            return f"expected the step to be accepted; refused: {_why(last)}"
        case ast.ExpectRefused(reason=reason):
            if last is not None and not last.accepted and last.reason == reason.text:
                return None
            if last is not None and last.accepted:
                return f"expected refused {reason.text}, but the step was accepted"
            return f"expected refused {reason.text}, got {_why(last)}"
        case ast.ExpectEffect(effect=effect, negated=negated):
            want = _effect(effect)
            got = last.effects if last is not None else ()
            if (want in got) != negated:
                return None
            shown = ", ".join(str(e) for e in got) or "none"
            verb = "not to emit" if negated else "to emit"
            return f"expected the step {verb} {want}; effects: {shown}"
        case ast.ExpectNextDeadline(at=at):
            deadline = instance.timers[0].at if instance.timers else None
            want_at = _time(at) if at is not None else None
            if deadline == want_at:
                return None
            shown = format_timestamp(deadline) if deadline is not None else "none"
            return f"expected next_deadline {at[0] if at else 'none'}, got {shown}"
        case ast.ExpectData(name=name, value=value):
            if name.text not in instance.data:
                return f"expected data `{name.text}` to be set; set: {sorted(instance.data)}"
            try:
                want = compile_ast(value.expr, limits, "expect data")({})
            except EvalError as e:
                return f"cannot evaluate the expected value: {e}"
            got = instance.data[name.text]
            return (
                None if equals(got, want) else f"expected data {name.text} = {want!r}, got {got!r}"
            )
        case ast.ExpectVersion(version=version):
            if instance.version == version:
                return None
            return f"expected version {version}, got {instance.version}"
        case _:
            assert_never(exp)


def _effect(decl: ast.EffectDecl) -> Effect:
    return Effect(
        decl.name.text,
        tuple(a.value if a.kind is None else (a.kind.text, a.value) for a in decl.args),
    )


def _why(last: StepResult | None) -> str:
    if last is None:
        return "nothing ran yet"
    return f"{last.reason} ({last.detail})" if last.reason else "accepted"
