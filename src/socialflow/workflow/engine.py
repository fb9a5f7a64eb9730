"""A checked workflow compiled into tables: ``start``, ``step``, ``advance``,
``next_deadline`` and ``available`` on immutable instances.

Compilation happens once per workflow: every ``(state, event)`` pair maps to
its candidate transitions (declaration order), each with its guard and ``set``
values compiled by the CEL compiler and its effects (exit, transition, enter)
assembled into one tuple.  A step is then a few dictionary look-ups, at most a
guard call, and one new :class:`~socialflow.workflow.model.Instance`.

The checks of a step run in this order, and the first that fails refuses it
(the instance comes back unchanged): ``duplicate_event``, ``unknown_event``,
``final_state``, ``not_allowed_in_state``, ``permission_denied``,
``guard_failed`` / ``guard_error``.  Nothing here reads a clock: time is the
``now`` argument.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Final, TypeVar

from socialflow._records import fast_constructor
from socialflow._suggest import did_you_mean
from socialflow.cel.compiler import compile_ast
from socialflow.cel.limits import Limits
from socialflow.cel.values import FrozenMap, format_timestamp, freeze
from socialflow.dsl.program import (
    CheckedEffect,
    CheckedProgram,
    CheckedTransition,
    CheckedWorkflow,
)
from socialflow.errors import EvalError, InputError, UsageError
from socialflow.workflow.model import (
    EMPTY,
    AllowAll,
    Effect,
    Event,
    Instance,
    StepResult,
    Timer,
)

__all__ = ["DEFAULT_WINDOW", "Workflow"]

#: How many accepted event ids an instance remembers to refuse duplicates.
DEFAULT_WINDOW: Final = 16

T = TypeVar("T")
Evaluate = Callable[[Mapping[str, Any]], Any]
Access = Any  # an sf.Access, sf.ALLOW_ALL or a callable (actor, permission, resource) -> bool


_make_instance = fast_constructor(Instance)
_make_result = fast_constructor(StepResult)


def _effect(spec: CheckedEffect) -> Effect:
    return Effect(spec.name, spec.args)


class _TimerSpec:
    """How entering a state sets one of its timers."""

    __slots__ = ("after", "at", "at_text", "effects", "order", "policy", "source", "target")

    def __init__(
        self,
        order: int,
        source: str,
        target: str | None = None,
        effects: tuple[Effect, ...] = (),
        after: timedelta | None = None,
        at: Evaluate | None = None,
        at_text: str = "",
        policy: Any = None,
    ) -> None:
        self.order = order
        self.source = source
        self.target = target
        self.effects = effects
        self.after = after
        self.at = at
        self.at_text = at_text
        self.policy = policy


class _Transition:
    """One transition as taken from one source state."""

    __slots__ = (
        "effects",
        "event",
        "guard",
        "guard_text",
        "index",
        "reenters",
        "requires",
        "sets",
        "source",
        "target",
    )  # fmt: skip

    def __init__(
        self,
        checked: CheckedTransition,
        source: str,
        effects: tuple[Effect, ...],
        guard: Evaluate | None,
        sets: tuple[tuple[str, Evaluate, str], ...],
    ) -> None:
        self.index = checked.index
        self.event = checked.event
        self.source = source
        self.target = checked.target
        self.requires = checked.requires
        self.guard = guard
        self.guard_text = checked.guard.text if checked.guard is not None else None
        self.sets = sets
        self.effects = effects


class _Plan:
    """Everything a step needs for one (state, event) pair, computed once."""

    __slots__ = ("candidates", "fast_effects", "fast_target", "guard_failed", "guarded", "requires")

    def __init__(self, candidates: tuple[_Transition, ...], timed: frozenset[str]) -> None:
        self.candidates = candidates
        self.guarded = any(t.guard is not None for t in candidates)
        self.requires = any(t.requires is not None for t in candidates)
        first = candidates[0]
        simple = (
            len(candidates) == 1
            and first.guard is None
            and first.requires is None
            and not first.sets
            and first.target not in timed
        )
        #: a single unguarded transition without `set` into a state without
        #: timers: the step is one new instance
        self.fast_target = first.target if simple else None
        self.fast_effects = first.effects
        texts = " or ".join(f"`{t.guard_text}`" for t in candidates if t.guard_text is not None)
        self.guard_failed = f"the guard of `{first.event}` is false: {texts}"


class _Refused(Exception):
    """A transition's ``set`` value or timer instant raised: the step is refused."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class Workflow:
    """One workflow of a bundle, compiled.  Get it with ``bundle.workflow(name)``.

    A ``Workflow`` holds no instance: every method takes the instance and
    returns a new one, so one ``Workflow`` serves any number of instances and
    threads.
    """

    def __init__(
        self,
        program: CheckedProgram,
        workflow: CheckedWorkflow,
        limits: Limits | None = None,
        *,
        window: int = DEFAULT_WINDOW,
    ) -> None:
        if not isinstance(window, int) or window < 1:  # type: ignore[redundant-expr]  # hosts pass anything
            raise UsageError("`window` must be a positive int")
        self.checked = workflow
        self.name = workflow.name
        self.states = workflow.states
        self.events = workflow.events
        self.initial = workflow.initial
        self.finals = workflow.finals
        self.window = window
        self._limits = limits or Limits()
        self._program_name = program.name
        self.requires_access = any(t.requires for t in workflow.transitions)
        self._known_events = frozenset(workflow.events)
        self._state_set = frozenset(workflow.states)
        enter = {s: tuple(_effect(e) for e in fx) for s, fx in workflow.enter.items()}
        exit_ = {s: tuple(_effect(e) for e in fx) for s, fx in workflow.exit.items()}
        self._enter = enter
        self._exit = exit_
        compiled_guards: dict[int, Evaluate | None] = {}
        compiled_sets: dict[int, tuple[tuple[str, Evaluate, str], ...]] = {}
        for t in workflow.transitions:
            where = f"workflow {self.name} on {t.event}"
            compiled_guards[t.index] = (
                compile_ast(t.guard.expr, self._limits, f"{where} when")
                if t.guard is not None
                else None
            )
            compiled_sets[t.index] = tuple(
                (name, compile_ast(value.expr, self._limits, f"{where} set {name}"), value.text)
                for name, value in t.sets
            )
        #: state -> event -> candidate transitions, in declaration order
        self._table: dict[str, dict[str, tuple[_Transition, ...]]] = {s: {} for s in self.states}
        #: event -> the states it is allowed in (for refusal details)
        self._allowed_in: dict[str, list[str]] = {e: [] for e in self.events}
        for t in workflow.transitions:
            own = tuple(_effect(e) for e in t.effects)
            for source in t.sources:
                if source in self.finals:  # never fires: the final check comes first
                    continue
                effects = exit_.get(source, ()) + own + enter.get(t.target, ())
                candidate = _Transition(
                    t, source, effects, compiled_guards[t.index], compiled_sets[t.index]
                )
                row = self._table[source]
                row[t.event] = (*row.get(t.event, ()), candidate)
                if source not in self._allowed_in[t.event]:
                    self._allowed_in[t.event].append(source)
        self._timers: dict[str, tuple[_TimerSpec, ...]] = {}
        for timeout in workflow.timeouts:
            at = None
            if timeout.at is not None:
                name = f"workflow {self.name} timeout {timeout.state} at"
                at = compile_ast(timeout.at.expr, self._limits, name)
            source = f"timeout {timeout.state} {timeout.when}"
            spec = _TimerSpec(
                timeout.order * 1_000_000,
                source,
                timeout.target,
                tuple(_effect(e) for e in timeout.effects),
                timeout.after,
                at,
                timeout.at.text if timeout.at is not None else "",
            )
            self._add_timer(timeout.state, spec)
        for rule in workflow.whiles:
            spec = _TimerSpec(
                rule.order * 1_000_000,
                f"while {rule.state} escalate {rule.policy.name}",
                policy=rule.policy,
            )
            self._add_timer(rule.state, spec)
        for state in self.finals:  # a final state runs no timer (the check warns)
            self._timers.pop(state, None)
        timed = frozenset(self._timers)
        #: state -> event -> the plan of a step (absent: not allowed there)
        self._plans: dict[str, dict[str, _Plan]] = {
            state: {event: _Plan(candidates, timed) for event, candidates in row.items()}
            for state, row in self._table.items()
        }

    def _add_timer(self, state: str, spec: _TimerSpec) -> None:
        specs = (*self._timers.get(state, ()), spec)
        self._timers[state] = tuple(sorted(specs, key=lambda s: s.order))

    def __repr__(self) -> str:
        return f"<Workflow {self.name} of {self._program_name}>"

    # -- the public operations ------------------------------------------------------------
    def start(
        self,
        id: str,
        *,
        subject: Mapping[str, Any],
        now: datetime,
        data: Mapping[str, Any] | None = None,
    ) -> Instance:
        """A new instance in the initial state, entered at ``now``; the initial
        state's timers are set from ``now`` (they fire on ``advance``).

        Raises:
            UsageError: ``id`` is not a string, ``now`` is not timezone-aware.
            InputError: ``subject`` or ``data`` is not a mapping.
            EvalError: a timer's ``at`` expression of the initial state raised.
        """
        if not isinstance(id, str):
            raise UsageError("the instance `id` must be a string")
        _check_now(now)
        _check_subject(subject)
        if data is None:
            frozen = EMPTY
        elif isinstance(data, Mapping):
            frozen = freeze(data)
        else:
            raise InputError("start `data` must be a mapping", path="$.data")
        try:
            timers = self._enter_timers(self.initial, now, subject, EMPTY, "", frozen)
        except _Refused as e:
            raise EvalError("invalid_argument", e.detail) from None
        return _make_instance(self.name, id, self.initial, frozen, 0, now, timers, ())

    def step(
        self,
        instance: Instance,
        event: Event,
        *,
        subject: Mapping[str, Any],
        now: datetime,
        access: Access | None = None,
    ) -> StepResult:
        """Apply ``event`` to ``instance`` at ``now``.

        Never fires timers: call :meth:`advance` first when time has passed.

        Raises:
            UsageError: the instance is of another workflow, ``now`` is naive,
                ``event`` is not an :class:`~socialflow.workflow.model.Event`,
                or the workflow has ``requires`` and ``access`` is missing.
            InputError: ``subject`` or the event's data is not a mapping.
        """
        if type(instance) is not Instance or instance.workflow != self.name:
            self._check_instance(instance)
        if type(event) is not Event:
            raise UsageError("`event` must be an sf.Event")
        if type(now) is not datetime or now.tzinfo is None:
            _check_now(now)
        if type(subject) is not dict:
            _check_subject(subject)
        if access is None and self.requires_access:
            raise UsageError(
                f"workflow `{self.name}` has `requires`: pass access= (an sf.Access, "
                "sf.ALLOW_ALL or a callable)"
            )
        payload = event.data
        if payload is None:
            payload = EMPTY
        elif type(payload) is not dict and not isinstance(payload, Mapping):
            raise InputError("event data must be a mapping", path="$.event.data")
        seen = instance.seen
        if event.id in seen:
            return _make_result(
                False,
                instance,
                (),
                "duplicate_event",
                f"event id `{event.id}` was already processed",
            )
        row = self._plans.get(instance.state)
        if row is None:
            self._check_instance(instance)  # raises: a state this workflow does not have
        plan = row.get(event.name) if row is not None else None
        if plan is None:
            return self._refuse_early(instance, event.name)
        target = plan.fast_target
        if target is not None:
            if len(seen) >= self.window:
                seen = seen[len(seen) - self.window + 1 :]
            new = _make_instance(
                self.name,
                instance.id,
                target,
                instance.data,
                instance.version + 1,
                now,
                (),
                (*seen, event.id),
            )
            return _make_result(True, new, plan.fast_effects, None, None)
        candidates = plan.candidates
        if plan.requires and type(access) is not AllowAll:
            candidates = self._permitted(candidates, event.actor, subject, now, access)
            if not candidates:
                return self._denied(instance, plan.candidates, event.actor, subject)
        activation = {
            "subject": subject,
            "event": payload,
            "actor": event.actor,
            "data": instance.data,
            "now": now,
        }
        error: EvalError | None = None
        for t in candidates:
            guard = t.guard
            if guard is not None:
                try:
                    ok = guard(activation)
                except EvalError as e:
                    if error is None:
                        error = e
                    continue
                if ok is not True:
                    if ok is not False and error is None:
                        error = EvalError("no_matching_overload", "the guard is not a bool")
                    continue
            try:
                return self._take(instance, t, now, subject, payload, event, activation)
            except _Refused as refused:
                return _make_result(False, instance, (), "guard_error", refused.detail)
        if error is not None:
            return _make_result(
                False,
                instance,
                (),
                "guard_error",
                f"the guard of `{event.name}` in state `{instance.state}` raised "
                f"{error.kind}: {error.message}",
            )
        return _make_result(False, instance, (), "guard_failed", plan.guard_failed)

    def advance(
        self, instance: Instance, now: datetime, *, subject: Mapping[str, Any]
    ) -> StepResult:
        """Fire every pending timer due at or before ``now``, in time order (ties
        in declaration order), including timers that fired timers set; accepted
        when at least one fired.

        ``advance(i, t2)`` equals ``advance(advance(i, t1).instance, t2)`` for
        ``t1 <= t2``: a timer fires at its own instant, and the timers it sets
        count from that instant, not from ``now``.
        """
        self._check_instance(instance)
        _check_now(now)
        _check_subject(subject)
        effects: list[Effect] = []
        fired = 0
        current = instance
        while current.timers and current.timers[0].at <= now:
            timer = current.timers[0]
            current = self._fire(current, timer, subject, effects)
            fired += 1
        if not fired:
            return _make_result(
                False, instance, (), "no_timer_due", f"no timer is due at {_show_time(now)}"
            )
        return _make_result(True, current, tuple(effects), None, None)

    def next_deadline(self, instance: Instance) -> datetime | None:
        """When the earliest pending timer is due, or ``None``."""
        self._check_instance(instance)
        return instance.timers[0].at if instance.timers else None

    def available(
        self,
        instance: Instance,
        actor: str,
        *,
        subject: Mapping[str, Any],
        now: datetime,
        access: Access | None = None,
    ) -> tuple[tuple[str, bool, str | None], ...]:
        """For every event, in declaration order: ``(event, allowed, reason)`` as a
        step by ``actor`` with empty event data would be decided now."""
        self._check_instance(instance)
        _check_now(now)
        _check_subject(subject)
        if self.requires_access and access is None:
            raise UsageError(f"workflow `{self.name}` has `requires`: pass access=")
        out: list[tuple[str, bool, str | None]] = []
        for name in self.events:
            probe = Event(name, actor=actor, id="\x00available", data=None)
            result = self.step(instance, probe, subject=subject, now=now, access=access)
            out.append((name, result.accepted, result.reason))
        return tuple(out)

    # -- refusals -------------------------------------------------------------------------
    def _refuse_early(self, instance: Instance, name: str) -> StepResult:
        if name not in self._known_events:
            hint = did_you_mean(name, self.events)
            detail = f"`{name}` is not an event of workflow `{self.name}`"
            return _make_result(
                False, instance, (), "unknown_event", f"{detail}; {hint}" if hint else detail
            )
        if instance.state in self.finals:
            return _make_result(
                False, instance, (), "final_state", f"state `{instance.state}` is final"
            )
        allowed = ", ".join(f"`{s}`" for s in self._allowed_in[name])
        return _make_result(
            False,
            instance,
            (),
            "not_allowed_in_state",
            f"`{name}` is not allowed in state `{instance.state}` (only in {allowed})",
        )

    def _permitted(
        self,
        candidates: tuple[_Transition, ...],
        actor: str,
        subject: Mapping[str, Any],
        now: datetime,
        access: Access,
    ) -> tuple[_Transition, ...]:
        out: list[_Transition] = []
        for t in candidates:
            if t.requires is None or _allows(access, actor, t.requires, subject, now):
                out.append(t)
        return tuple(out)

    def _denied(
        self,
        instance: Instance,
        candidates: tuple[_Transition, ...],
        actor: str,
        subject: Mapping[str, Any],
    ) -> StepResult:
        needed = sorted({t.requires for t in candidates if t.requires is not None})
        account = subject.get("account")
        on = f"`{account}`" if isinstance(account, str) else "the subject (it has no `account`)"
        return _make_result(
            False,
            instance,
            (),
            "permission_denied",
            f"`{actor}` does not hold {' or '.join(f'`{p}`' for p in needed)} on {on}",
        )

    # -- taking a transition --------------------------------------------------------------
    def _take(
        self,
        instance: Instance,
        t: _Transition,
        now: datetime,
        subject: Mapping[str, Any],
        payload: Mapping[str, Any],
        event: Event,
        activation: dict[str, Any],
    ) -> StepResult:
        data = instance.data
        if t.sets:
            changed = dict(data)
            for name, fn, text in t.sets:
                try:
                    changed[name] = freeze(fn(activation))
                except EvalError as e:
                    raise _Refused(f"`set {name} = {text}` raised {e.kind}: {e.message}") from None
            data = FrozenMap(changed)
        # every transition leaves its state (or leaves and re-enters it): the old
        # state's timers are cancelled and the new state's are set from now
        timers = self._enter_timers(t.target, now, subject, payload, event.actor, data)
        seen = instance.seen
        if len(seen) >= self.window:
            seen = seen[len(seen) - self.window + 1 :]
        new = _make_instance(
            self.name,
            instance.id,
            t.target,
            data,
            instance.version + 1,
            now,
            timers,
            (*seen, event.id),
        )
        return _make_result(True, new, t.effects, None, None)

    def _enter_timers(
        self,
        state: str,
        now: datetime,
        subject: Mapping[str, Any],
        payload: Mapping[str, Any],
        actor: str,
        data: FrozenMap,
        problems: list[str] | None = None,
    ) -> tuple[Timer, ...]:
        """The timers entering ``state`` at ``now`` sets, in firing order.

        A timer whose ``at`` raises or is not a timestamp raises :class:`_Refused`,
        or, with ``problems``, is left out and described there.
        """
        specs = self._timers.get(state)
        if not specs:
            return ()
        timers: list[Timer] = []
        for spec in specs:
            if spec.policy is not None:
                timers.extend(_escalation_timers(spec, now))
                continue
            if spec.after is not None:
                timers.append(
                    Timer(now + spec.after, spec.order, spec.target, spec.effects, spec.source)
                )
                continue
            assert spec.at is not None  # INVARIANT: a timeout has `after` or `at`
            activation = {
                "subject": subject,
                "event": payload,
                "actor": actor,
                "data": data,
                "now": now,
            }
            try:
                at = spec.at(activation)
                if not isinstance(at, datetime):
                    raise EvalError("no_matching_overload", "it is not a timestamp")
            except EvalError as e:
                detail = f"the timer `{spec.source}` raised {e.kind}: {e.message}"
                if problems is None:
                    raise _Refused(detail) from None
                problems.append(detail)
                continue
            timers.append(Timer(at, spec.order, spec.target, spec.effects, spec.source))
        timers.sort(key=lambda t: (t.at, t.order))
        return tuple(timers)

    def _fire(
        self,
        instance: Instance,
        timer: Timer,
        subject: Mapping[str, Any],
        effects: list[Effect],
    ) -> Instance:
        """``instance`` after ``timer`` fired; its effects are appended to ``effects``."""
        if timer.target is None:
            effects.extend(timer.effects)
            return _make_instance(
                self.name,
                instance.id,
                instance.state,
                instance.data,
                instance.version + 1,
                instance.entered_at,
                instance.timers[1:],
                instance.seen,
            )
        if timer.target not in self._state_set:
            raise UsageError(
                f"a pending timer moves to state `{timer.target}`, which workflow "
                f"`{self.name}` no longer has"
            )
        effects.extend(self._exit.get(instance.state, ()))
        effects.extend(timer.effects)
        effects.extend(self._enter.get(timer.target, ()))
        # a timer cannot be refused: the state is entered, a timer of it that
        # cannot be set is left out, and the host is told through an effect
        problems: list[str] = []
        timers = self._enter_timers(
            timer.target, timer.at, subject, EMPTY, "", instance.data, problems
        )
        effects.extend(Effect("timer_error", (("detail", p),)) for p in problems)
        return _make_instance(
            self.name,
            instance.id,
            timer.target,
            instance.data,
            instance.version + 1,
            timer.at,
            timers,
            instance.seen,
        )

    def _check_instance(self, instance: Any) -> None:
        if type(instance) is not Instance:
            raise UsageError("`instance` must be an sf.Instance (from start, step or serde)")
        if instance.workflow != self.name:
            raise UsageError(
                f"the instance belongs to workflow `{instance.workflow}`, not `{self.name}`"
            )
        if instance.state not in self._state_set:
            raise UsageError(f"workflow `{self.name}` has no state `{instance.state}`")


def _allows(
    access: Access, actor: str, permission: str, subject: Mapping[str, Any], now: datetime
) -> bool:
    resource = subject.get("account")
    if not isinstance(resource, str):
        return False
    check = getattr(access, "check", None)
    try:
        if check is not None:
            return bool(check(actor, permission, resource, now=now))
        if callable(access):
            return bool(access(actor, permission, resource))
    except InputError:  # an unknown principal or account holds nothing
        return False
    raise UsageError("`access` must be an sf.Access, sf.ALLOW_ALL or a callable")


def _escalation_timers(spec: _TimerSpec, now: datetime) -> list[Timer]:
    plan = spec.policy.plan(now)
    name = spec.policy.name
    out: list[Timer] = []
    for i, step in enumerate(plan.steps):
        targets = tuple((t.kind, t.name) for t in step.targets)
        effect = Effect(
            "escalate",
            (("policy", name), ("level", str(step.level)), ("round", str(step.round)), *targets),
        )
        out.append(Timer(step.at, spec.order + i, None, (effect,), spec.source))
    return out


def _check_now(now: Any) -> None:
    if not isinstance(now, datetime) or now.tzinfo is None or now.utcoffset() is None:
        raise UsageError("`now` must be a timezone-aware datetime")


def _check_subject(subject: Any) -> None:
    if type(subject) is not dict and not isinstance(subject, Mapping):
        raise InputError("the subject must be a mapping", path="$.subject")


def _show_time(now: datetime) -> str:
    return format_timestamp(now)
