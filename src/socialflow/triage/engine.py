"""Triage: a checked program's rules, compiled and indexed -> :class:`Decision`.

``TriageEngine`` compiles every condition with the CEL compiler, builds the
:class:`~socialflow.triage.index.RuleIndex`, and evaluates a message by
visiting only the candidate rules, in evaluation order (precedence, then
source order).  The default path records no trace; :meth:`TriageEngine.explain`
re-evaluates deterministically with tracing on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from socialflow.cel import ast as cel_ast
from socialflow.cel.analysis import conjuncts, residual
from socialflow.cel.compiler import compile_ast
from socialflow.cel.interpreter import evaluate as interpret
from socialflow.cel.limits import Limits
from socialflow.dsl.program import CheckedProgram, CheckedRule
from socialflow.errors import EvalError, InputError, UsageError
from socialflow.triage.decision import (
    ConditionError,
    Decision,
    Explanation,
    Override,
    RuleTrace,
    make_decision,
)
from socialflow.triage.index import RuleIndex
from socialflow.triage.input import InputValidator

__all__ = ["TriageEngine"]

Evaluate = Callable[[Mapping[str, Any]], Any]


class _Rule:
    """A rule ready to run: compiled condition and precomputed outputs."""

    __slots__ = (
        "condition", "evaluate", "name", "needs", "outputs", "precedence", "residual", "rule",
        "sets", "stops", "tags",
    )  # fmt: skip

    def __init__(self, rule: CheckedRule, limits: Limits) -> None:
        self.rule = rule
        self.name = rule.name
        self.precedence = rule.precedence
        self.condition: cel_ast.Expr | None = rule.condition.expr if rule.condition else None
        self.evaluate: Evaluate | None = (
            compile_ast(rule.condition.expr, limits, f"rule {rule.name}")
            if rule.condition
            else None
        )
        #: the condition without the conjuncts the index proves (set by the engine)
        self.residual: Evaluate | None = self.evaluate
        self.needs = 0
        outputs: list[tuple[str, Any]] = []
        tags: list[str] = []
        sets: list[tuple[str, Evaluate, str]] = []
        for action in rule.actions:
            kind = action.kind
            if kind in ("route", "priority", "sla", "escalate") and action.name is not None:
                outputs.append((kind, action.name.text))
            elif kind == "assign":
                outputs.append(("assign", action.texts[0]))
            elif kind in ("respond", "ignore"):
                outputs.append(("response", (kind, action.texts[0] if action.texts else None)))
            elif kind == "tag":
                tags.extend(action.texts)
            elif kind == "set" and action.name is not None and action.value is not None:
                fn = compile_ast(
                    action.value.expr, limits, f"rule {rule.name} set {action.name.text}"
                )
                sets.append((action.name.text, fn, action.value.text))
        self.outputs = tuple(outputs)
        self.tags = tuple(tags)
        self.sets = tuple(sets)
        self.stops = rule.stops


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        kind, text = value
        return kind if text is None else f'{kind} "{text}"'
    return str(value)


class TriageEngine:
    """Evaluates messages against one checked program."""

    def __init__(self, program: CheckedProgram, limits: Limits | None = None) -> None:
        self.program = program
        self.limits = limits or Limits()
        self.rules = tuple(_Rule(r, self.limits) for r in program.rules)
        self.first = program.hit == "first"
        self.input_var = program.input_var
        self.index = RuleIndex([r.condition for r in self.rules], program.input_var)
        for rule, (needs, proven) in zip(self.rules, self.index.proofs, strict=True):
            if rule.condition is not None and proven:
                rest = residual(rule.condition, set(proven))
                rule.needs = needs
                rule.residual = (
                    None
                    if rest is None
                    else compile_ast(rest, self.limits, f"rule {rule.name} (residual)")
                )
        self._path = f"$.{program.input_var}"
        validator = InputValidator(program.schemas)
        self._validate = (
            validator.checker(program.input_schema) if program.input_schema is not None else None
        )

    # -- the hot path ---------------------------------------------------------------------
    def prepare(self, message: Any, now: datetime) -> tuple[Any, dict[str, Any]]:
        """Validate ``message`` and build the CEL activation."""
        if not isinstance(now, datetime) or now.tzinfo is None:  # type: ignore[redundant-expr]  # hosts pass anything
            raise UsageError("`now` must be a timezone-aware datetime")
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
        original = message
        if not isinstance(now, datetime) or now.tzinfo is None:  # type: ignore[redundant-expr]  # hosts pass anything
            raise UsageError("`now` must be a timezone-aware datetime")
        validate = self._validate
        if validate is not None:
            message = validate(message, self._path)
        if self.index.indexed:
            mask, applied = self.index.candidates(message)
        else:
            mask, applied = self.index.all, 0
        if not mask:  # nothing can match: the common case of a large ruleset
            message_id = message.get("id") if type(message) is dict else None
            return make_decision(  # type: ignore[no-any-return]  # generated constructor
                self.program.name,
                now,
                (),
                None,
                None,
                "normal",
                (),
                None,
                None,
                (),
                None,
                None,
                (),
                (),
                message_id if type(message_id) is str else None,
                self,
                original,
            )
        input_var = self.input_var
        activation = {"now": now} if input_var is None else {input_var: message, "now": now}
        rules = self.rules
        matched: list[str] = []
        decided: dict[str, tuple[Any, str]] = {}
        tags: list[str] = []
        values: dict[str, tuple[Any, str]] | None = None
        errors: list[ConditionError] | None = None
        overrides: list[Override] | None = None
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
                    if errors is None:
                        errors = []
                    errors.append(ConditionError(rule.name, e.kind, e.message, _where(e)))
                    continue
                if ok is not True:
                    if ok is not False:
                        error = EvalError("no_matching_overload", "condition is not a bool")
                        if strict:
                            raise error
                        if errors is None:
                            errors = []
                        errors.append(ConditionError(rule.name, error.kind, error.message, None))
                    continue
            matched.append(rule.name)
            for output, value in rule.outputs:
                if output in decided:
                    if overrides is None:
                        overrides = []
                    overrides.append(Override(output, rule.name, _show(value), decided[output][1]))
                else:
                    decided[output] = (value, rule.name)
            for tag in rule.tags:
                if tag not in tags:
                    tags.append(tag)
            for name, value_fn, text in rule.sets:
                if values is None:
                    values = {}
                if name in values:
                    if overrides is None:
                        overrides = []
                    overrides.append(Override(f"set {name}", rule.name, text, values[name][1]))
                    continue
                try:
                    values[name] = (value_fn(activation), rule.name)
                except EvalError as e:
                    if strict:
                        raise
                    if errors is None:
                        errors = []
                    errors.append(ConditionError(rule.name, e.kind, e.message, _where(e)))
            if rule.stops or self.first:
                break
        program = self.program
        route = priority = assign = response = None
        sla = escalation = None
        if decided:
            route = decided.get("route")
            priority = decided.get("priority")
            assign = decided.get("assign")
            response = decided.get("response")
            sla_name = decided.get("sla")
            if sla_name is not None:
                sla = program.slas[sla_name[0]].deadlines(now)
            escalation_name = decided.get("escalate")
            if escalation_name is not None:
                escalation = program.escalations[escalation_name[0]].plan(now)
        message_id = message.get("id") if type(message) is dict else None
        return make_decision(  # type: ignore[no-any-return]  # generated constructor
            program.name,
            now,
            tuple(matched),
            route[0] if route else None,
            assign[0] if assign else None,
            priority[0] if priority else "normal",
            tuple(tags),
            response[0][0] if response else None,
            response[0][1] if response else None,
            tuple((k, v[0]) for k, v in values.items()) if values else (),
            sla,
            escalation,
            tuple(errors) if errors else (),
            tuple(overrides) if overrides else (),
            message_id if type(message_id) is str else None,
            self,
            original,
        )

    # -- explanations ---------------------------------------------------------------------
    def explain(self, message: Any, now: datetime) -> Explanation:
        """Re-evaluate ``message`` with tracing: every rule, and why."""
        decision = self.triage(message, now)
        message, activation = self.prepare(message, now)
        candidates = self.index.candidates(message)[0] if self.index.indexed else self.index.all
        traces: list[RuleTrace] = []
        decided: dict[str, tuple[str, str]] = {}
        values_set: dict[str, str] = {}
        stopped_by: str | None = None
        for i, rule in enumerate(self.rules):
            failed, detail = self._first_failure(rule, activation)
            if stopped_by is not None:
                status = "matched" if failed is None else "not matched"
                traces.append(
                    RuleTrace(
                        rule.name,
                        rule.precedence,
                        "skipped",
                        failed,
                        f"not applied: rule `{stopped_by}` ended evaluation ({'stop' if not self.first else 'hit first'}); "
                        f"its condition is {'true' if status == 'matched' else 'not true'}",
                    )
                )
                continue
            if failed is not None:
                status = (
                    "error" if detail is not None and detail.startswith("raised") else "not matched"
                )
                if not (candidates >> i) & 1 and status == "not matched":
                    status = "filtered"
                traces.append(RuleTrace(rule.name, rule.precedence, status, failed, detail))
                continue
            set_now: list[tuple[str, str]] = []
            overridden: list[tuple[str, str, str]] = []
            for output, value in rule.outputs:
                if output in decided:
                    overridden.append((output, _show(value), decided[output][1]))
                else:
                    decided[output] = (_show(value), rule.name)
                    set_now.append((output, _show(value)))
            for tag in rule.tags:
                set_now.append(("tag", tag))
            for name, value_fn, text in rule.sets:
                if name in values_set:
                    overridden.append((f"set {name}", text, values_set[name]))
                    continue
                try:
                    value_fn(activation)
                except EvalError as e:  # as in triage: an erroring value leaves it unset
                    set_now.append((f"set {name}", f"{text} (raised {e.kind}; not set)"))
                    continue
                values_set[name] = rule.name
                set_now.append((f"set {name}", text))
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
        summary: dict[str, Any] = {
            "matched": list(decision.matched),
            "route": decision.route,
            "priority": decision.priority,
            "tags": list(decision.tags),
            "response": decision.response,
        }
        if decision.errors:
            summary["errors"] = [f"{e.rule}: {e.kind}: {e.message}" for e in decision.errors]
        return Explanation(self.program.name, self.program.hit, tuple(traces), summary)

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
        return None, None


def _where(error: EvalError) -> str | None:
    return error.span.location() if error.span is not None else None


# InputError is part of this module's contract (raised by prepare via the validator).
_ = InputError
