"""Triage: a checked program's rules, compiled and indexed -> :class:`Decision`.

``TriageEngine`` compiles every condition with the CEL compiler, builds the
:class:`~socialflow.triage.index.RuleIndex`, and evaluates a message by
visiting only the candidate rules, in evaluation order (precedence, then
source order).  The default path records no trace; :meth:`TriageEngine.explain`
re-evaluates deterministically with tracing on.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Final, assert_never

from socialflow.cel import ast as cel_ast
from socialflow.cel.analysis import conjuncts, residual
from socialflow.cel.compiler import CodeCache, Deferred, compile_ast
from socialflow.cel.interpreter import evaluate as interpret
from socialflow.cel.limits import Limits
from socialflow.cel.values import type_name
from socialflow.dsl import ast
from socialflow.dsl.program import CheckedProgram, CheckedRule
from socialflow.errors import EvalError, SerializationError, UsageError
from socialflow.serde import to_json_value
from socialflow.timing.escalation import EscalationPlan
from socialflow.triage.decision import (
    ConditionError,
    Decision,
    Explanation,
    Override,
    RuleTrace,
    make_decision,
    make_override,
)
from socialflow.triage.index import RuleIndex
from socialflow.triage.input import InputValidator

__all__ = ["TriageEngine"]

Evaluate = Callable[[Mapping[str, Any]], Any]


class _Rule:
    """A rule ready to run: compiled condition and precomputed outputs."""

    __slots__ = (
        "condition", "escalates", "evaluate", "name", "needs", "outputs", "precedence",
        "residual", "rule", "sets", "stops", "tags",
    )  # fmt: skip

    def __init__(self, rule: CheckedRule, limits: Limits, codes: CodeCache) -> None:
        self.rule = rule
        self.name = rule.name
        self.precedence = rule.precedence
        self.condition: cel_ast.Expr | None = rule.condition.expr if rule.condition else None
        #: the whole condition and the condition without the conjuncts the index
        #: proves: set by the engine once the index is built (:meth:`compile`)
        self.evaluate: Evaluate | None = None
        self.residual: Evaluate | None = None
        self.needs = 0
        #: single-valued outputs as (output, value, value as shown in traces)
        outputs: list[tuple[str, Any, str]] = []
        tags: list[str] = []
        escalates: list[str] = []
        sets: list[tuple[str, Evaluate, str]] = []
        for action in rule.actions:
            match action:
                case ast.RouteAction(queue=queue):
                    outputs.append(("route", queue.text, queue.text))
                case ast.PriorityAction(level=level):
                    outputs.append(("priority", level.text, level.text))
                case ast.SlaAction(sla=sla):
                    outputs.append(("sla", sla.text, sla.text))
                case ast.EscalateAction(policy=policy):
                    if policy.text not in escalates:
                        escalates.append(policy.text)
                case ast.AssignAction(who=who, value=computed):
                    if computed is None:
                        outputs.append(("assign", who, f"{who}"))
                    else:
                        fn = compile_ast(computed.expr, limits, f"rule {rule.name} assign", codes)
                        outputs.append(("assign", _Computed(fn), computed.text))
                case ast.RespondAction(template=text) | ast.IgnoreAction(reason=text):
                    kind = "respond" if isinstance(action, ast.RespondAction) else "ignore"
                    shown = kind if text is None else f'{kind} "{text}"'
                    outputs.append(("response", (kind, text), shown))
                case ast.TagAction(tags=more):
                    tags.extend(more)
                case ast.SetAction(name=name, value=value):
                    fn = compile_ast(value.expr, limits, f"rule {rule.name} set {name.text}", codes)
                    sets.append((name.text, fn, value.text))
                case ast.StopAction():
                    pass
                case _:
                    assert_never(action)
        self.outputs = tuple(outputs)
        self.tags = tuple(tags)
        self.escalates = tuple(escalates)
        self.sets = tuple(sets)
        self.stops = rule.stops

    def compile(self, limits: Limits, needs: int, proven: frozenset[int], codes: CodeCache) -> None:
        """Compile the condition: the residual the index leaves when the
        dimensions ``needs`` were applied (``proven``: the conjuncts they decide),
        and the whole condition for the other messages.  When a residual exists
        the whole condition is compiled on first use: it runs only for messages
        whose indexed fields are missing or not strings."""
        condition = self.condition
        if condition is None:
            return
        name = f"rule {self.name}"
        if not proven:
            self.evaluate = self.residual = compile_ast(condition, limits, name, codes)
            return
        self.needs = needs
        self.evaluate = Deferred(
            condition, limits, name, functools.partial(compile_ast, codes=codes)
        )
        rest = residual(condition, set(proven))
        self.residual = (
            None if rest is None else compile_ast(rest, limits, f"{name} (residual)", codes)
        )


class _Computed:
    """An output whose value an expression computes per message (``assign CEL``)."""

    __slots__ = ("evaluate",)

    def __init__(self, evaluate: Evaluate) -> None:
        self.evaluate = evaluate


class _Outcome:
    """What the rules applied so far decided: the one place actions take effect.

    ``triage`` and ``explain`` both apply matched rules through :meth:`apply`,
    so an explanation cannot disagree with the decision about what a rule set
    or why a value was overridden.
    """

    __slots__ = ("decided", "errors", "escalations", "matched", "overrides", "tags", "values")

    def __init__(self) -> None:
        self.matched: list[str] = []
        #: output -> (value, the rule that set it)
        self.decided: dict[str, tuple[Any, str]] = {}
        self.tags: list[str] = []
        #: escalation policy -> the first rule that named it, in applied order
        self.escalations: dict[str, str] | None = None
        self.values: dict[str, tuple[Any, str]] | None = None
        self.errors: list[ConditionError] | None = None
        self.overrides: list[Override] | None = None

    def error(self, rule: str, error: EvalError) -> None:
        if self.errors is None:
            self.errors = []
        self.errors.append(ConditionError(rule, error.kind, error.message, _where(error)))

    def override(self, output: str, rule: str, shown: str, kept: str) -> None:
        if self.overrides is None:
            self.overrides = []
        self.overrides.append(make_override(output, rule, shown, kept))

    def apply(
        self,
        rule: _Rule,
        activation: Mapping[str, Any],
        strict: bool,
        trace: tuple[list[tuple[str, str]], list[tuple[str, str, str]]] | None = None,
    ) -> None:
        """Apply ``rule``'s actions; with ``trace``, record what it set and what it
        could not set (``(set, overridden)`` lists)."""
        self.matched.append(rule.name)
        decided = self.decided
        for output, value, shown in rule.outputs:
            kept = decided.get(output)
            if kept is not None:
                self.override(output, rule.name, shown, kept[1])
                if trace is not None:
                    trace[1].append((output, shown, kept[1]))
            else:
                if type(value) is _Computed:
                    try:
                        value = _computed(output, value, activation)
                    except EvalError as e:  # as `set`: an error leaves the output unset
                        if strict:
                            raise
                        self.error(rule.name, e)
                        if trace is not None:
                            trace[0].append((output, f"{shown} (raised {e.kind}; not set)"))
                        continue
                decided[output] = (value, rule.name)
                if trace is not None:
                    trace[0].append((output, shown))
        if rule.escalates:
            if self.escalations is None:
                self.escalations = {}
            for policy in rule.escalates:
                self.escalations.setdefault(policy, rule.name)
                if trace is not None:
                    trace[0].append(("escalate", policy))
        for tag in rule.tags:
            if tag not in self.tags:
                self.tags.append(tag)
            if trace is not None:
                trace[0].append(("tag", tag))
        for name, value_fn, text in rule.sets:
            if self.values is None:
                self.values = {}
            if name in self.values:
                kept_by = self.values[name][1]
                self.override(f"set {name}", rule.name, text, kept_by)
                if trace is not None:
                    trace[1].append((f"set {name}", text, kept_by))
                continue
            try:
                value = value_fn(activation)
                if type(value) not in _JSON_SCALARS:
                    _check_json(name, value)
                self.values[name] = (value, rule.name)
            except EvalError as e:  # an erroring value leaves the output unset
                if strict:
                    raise
                self.error(rule.name, e)
                if trace is not None:
                    trace[0].append((f"set {name}", f"{text} (raised {e.kind}; not set)"))
                continue
            if trace is not None:
                trace[0].append((f"set {name}", text))


#: types a ``set`` value may have without a closer look at it
_JSON_SCALARS: Final = frozenset({str, int, bool, type(None)})


def _computed(output: str, computed: _Computed, activation: Mapping[str, Any]) -> str:
    """The value of ``assign CEL`` for one message: a string (an expression typed
    ``dyn`` may give something else at run time, an ``invalid_value`` error)."""
    value = computed.evaluate(activation)
    if type(value) is not str:
        raise EvalError("invalid_value", f"`{output}` needs a string, got `{type_name(value)}`")
    return value


def _check_json(name: str, value: Any) -> None:
    """A decision is written as JSON: a ``set`` value JSON cannot hold (a NaN or
    infinite double, map keys that collide as JSON keys) is an error of its rule
    rather than a decision nobody can write."""
    try:
        to_json_value(value)
    except SerializationError as e:
        raise EvalError("invalid_value", f"`set {name}`: {e}") from None


class TriageEngine:
    """Evaluates messages against one checked program."""

    def __init__(self, program: CheckedProgram, limits: Limits | None = None) -> None:
        self.program = program
        self.limits = limits or Limits()
        #: fast paths compiled once per shape, shared by this engine's rules
        codes: CodeCache = {}
        self.rules = tuple(_Rule(r, self.limits, codes) for r in program.rules)
        self.first = program.hit == "first"
        self.input_var = program.input_var
        self.index = RuleIndex([r.condition for r in self.rules], program.input_var)
        for rule, (needs, proven) in zip(self.rules, self.index.proofs, strict=True):
            rule.compile(self.limits, needs, proven, codes)
        self._path = f"$.{program.input_var}"
        validator = InputValidator(program.schemas)
        self._validate = (
            validator.checker(program.input_schema) if program.input_schema is not None else None
        )

    # -- the hot path ---------------------------------------------------------------------
    def prepare(self, message: Any, now: datetime) -> tuple[Any, dict[str, Any]]:
        """Validate ``message`` and build the CEL activation."""
        _check_now(now)
        if self.input_var is None:
            return message, {"now": now}
        if self._validate is not None:
            message = self._validate(message, self._path)
        return message, {self.input_var: message, "now": now}

    def triage(self, message: Any, now: datetime, *, strict: bool = False) -> Decision:
        """Decide ``message`` at time ``now``.

        Raises:
            InputError: the message does not fit the declared schema.
            EvalError: with ``strict``, a condition raised.
        """
        _check_now(now)
        validate = self._validate
        if validate is not None:
            message = validate(message, self._path)
        if self.index.indexed:
            mask, applied = self.index.candidates(message)
        else:
            mask, applied = self.index.all, 0
        if not mask:  # nothing can match: the common case of a large ruleset
            return self._decide(None, now, message, strict)
        input_var = self.input_var
        activation = {"now": now} if input_var is None else {input_var: message, "now": now}
        rules = self.rules
        outcome = _Outcome()
        while mask:
            low = mask & -mask
            mask ^= low
            rule = rules[low.bit_length() - 1]
            needs = rule.needs
            fn = rule.residual if needs and applied & needs == needs else rule.evaluate
            if fn is not None:
                try:
                    ok = fn(activation)
                except EvalError as e:
                    if strict:
                        raise
                    outcome.error(rule.name, e)
                    continue
                if ok is not True:
                    if ok is not False:
                        error = EvalError("no_matching_overload", "condition is not a bool")
                        if strict:
                            raise error
                        outcome.error(rule.name, error)
                    continue
            outcome.apply(rule, activation, strict)
            if rule.stops or self.first:
                break
        return self._decide(outcome, now, message, strict)

    def _decide(
        self, outcome: _Outcome | None, now: datetime, message: Any, strict: bool = False
    ) -> Decision:
        """The decision of ``outcome`` (``None``: no rule applied).

        A deadline or an escalation step beyond the supported dates (a message
        received in year 9999) is an error of the rule that asked for it: the
        decision is made without it, and the error is recorded (raised in
        ``strict`` mode).
        """
        program = self.program
        message_id = message.get("id") if type(message) is dict else None
        if type(message_id) is not str and type(message_id) is not int:
            # an int subclass (a uint) as a plain int; anything else has no id
            message_id = (
                int(message_id)
                if isinstance(message_id, int) and not isinstance(message_id, bool)
                else None
            )
        if outcome is None:
            return make_decision(
                program.name, now, (), None, None, "normal", (), None, None, (), None, (),
                (), (), message_id, program.version,
            )  # fmt: skip
        decided = outcome.decided
        route = priority = assign = response = None
        sla = None
        if decided:
            route = decided.get("route")
            priority = decided.get("priority")
            assign = decided.get("assign")
            response = decided.get("response")
            sla_name = decided.get("sla")
            if sla_name is not None:
                try:
                    sla = program.slas[sla_name[0]].deadlines(now)
                except UsageError as e:
                    _range_error(outcome, sla_name[1], e, strict)
        plans: tuple[EscalationPlan, ...] = ()
        if outcome.escalations is not None:
            planned = []
            for policy, rule in outcome.escalations.items():
                try:
                    planned.append(program.escalations[policy].plan(now))
                except UsageError as e:
                    _range_error(outcome, rule, e, strict)
            plans = tuple(planned)
        values = outcome.values
        return make_decision(
            program.name,
            now,
            tuple(outcome.matched),
            route[0] if route else None,
            assign[0] if assign else None,
            priority[0] if priority else "normal",
            tuple(outcome.tags),
            response[0][0] if response else None,
            response[0][1] if response else None,
            tuple((k, v[0]) for k, v in values.items()) if values else (),
            sla,
            plans,
            tuple(outcome.errors) if outcome.errors else (),
            tuple(outcome.overrides) if outcome.overrides else (),
            message_id,
            program.version,
        )

    # -- explanations ---------------------------------------------------------------------
    def explain(self, message: Any, now: datetime) -> Explanation:
        """Re-evaluate ``message`` with tracing: every rule, and why.

        Each rule's verdict comes from its compiled condition, as in
        :meth:`triage`; the reference interpreter then names the first
        top-level conjunct that was not true.  Matched rules are applied
        exactly as :meth:`triage` applies them, and the explanation's
        ``decision`` is built from what they set.
        """
        message, activation = self.prepare(message, now)
        candidates = self.index.candidates(message)[0] if self.index.indexed else self.index.all
        traces: list[RuleTrace] = []
        outcome = _Outcome()
        stopped_by: str | None = None
        for i, rule in enumerate(self.rules):
            error: EvalError | None = None
            matched = True
            if rule.evaluate is not None:
                try:
                    result = rule.evaluate(activation)
                except EvalError as e:
                    result, error = None, e
                if result is not True and result is not False and error is None:
                    error = EvalError("no_matching_overload", "condition is not a bool")
                matched = result is True
            failed, detail = (None, None) if matched else self._first_failure(rule, activation)
            if error is not None:
                detail = f"raised {error.kind}: {error.message}"
            if stopped_by is not None:
                truth = "true" if matched else "not true"
                ended = "stop" if not self.first else "hit first"
                traces.append(
                    RuleTrace(
                        rule.name,
                        rule.precedence,
                        "skipped",
                        failed,
                        f"not applied: rule `{stopped_by}` ended evaluation ({ended}); "
                        f"its condition is {truth}",
                    )
                )
                continue
            if not matched:
                if error is not None:
                    status = "error"
                    outcome.error(rule.name, error)
                elif not (candidates >> i) & 1:
                    status = "filtered"
                else:
                    status = "not_matched"
                traces.append(RuleTrace(rule.name, rule.precedence, status, failed, detail))
                continue
            set_now: list[tuple[str, str]] = []
            overridden: list[tuple[str, str, str]] = []
            outcome.apply(rule, activation, False, (set_now, overridden))
            traces.append(
                RuleTrace(
                    rule.name,
                    rule.precedence,
                    "matched",
                    None,
                    None,
                    tuple(set_now),
                    tuple(overridden),
                )
            )
            if rule.stops or self.first:
                stopped_by = rule.name
        decision = self._decide(outcome, now, message)
        return Explanation(self.program.name, self.program.hit, tuple(traces), decision)

    def _first_failure(
        self, rule: _Rule, activation: Mapping[str, Any]
    ) -> tuple[str | None, str | None]:
        """The first top-level conjunct that is not true (source text, why)."""
        if rule.condition is None:
            return None, None
        first_error: tuple[str, str] | None = None
        for conjunct in conjuncts(rule.condition):
            try:
                value = interpret(conjunct, activation, self.limits)
            except EvalError as e:
                if first_error is None:
                    first_error = (conjunct.span.text(), f"raised {e.kind}: {e.message}")
                continue
            if value is not True:
                return conjunct.span.text(), "was false" if value is False else "is not a bool"
        if first_error is not None:
            return first_error
        return rule.condition.span.text(), "was not true"


def _range_error(outcome: _Outcome, rule: str, error: UsageError, strict: bool) -> None:
    failure = EvalError("range", str(error))
    if strict:
        raise failure
    outcome.error(rule, failure)


def _check_now(now: Any) -> None:
    if not isinstance(now, datetime) or now.tzinfo is None:
        raise UsageError("`now` must be a timezone-aware datetime")


def _where(error: EvalError) -> str | None:
    return error.span.location() if error.span is not None else None
