"""Workflows: states, transitions, hooks and timers resolved and type-checked,
then the state graph explored for states and events that can never matter.

CEL in a workflow sees ``subject`` (the host's mapping, ``dyn``), ``event``
(the event's data, ``dyn``), ``actor`` (a string), ``data`` (the instance data:
an object whose fields are the names the ``set`` clauses write, typed by what
they write) and ``now``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any, Final

from socialflow.cel.checker import check as check_cel
from socialflow.cel.types import DYN, ObjectType, format_type, is_assignable, parse_type
from socialflow.dsl import ast
from socialflow.dsl.check.context import Context
from socialflow.dsl.check.lints import constant_value
from socialflow.dsl.check.schemas import type_text
from socialflow.dsl.program import (
    CheckedEffect,
    CheckedTimeout,
    CheckedTransition,
    CheckedWhile,
    CheckedWorkflow,
)
from socialflow.errors import Severity, SourceError, UsageError
from socialflow.source import Span

__all__ = ["analyse_workflows", "check_workflows"]

#: Effect argument kinds that name a declaration (when written as a name, not a
#: string: `role hub_editor` is the access role, `role "pr_director"` a label).
_ARG_KINDS: Final = ("queue", "role", "escalation")


def check_workflows(ctx: Context) -> None:
    decls = ctx.collect("workflow", ctx.of(ast.WorkflowDecl), lambda w: w.name)
    ctx.workflow_decls = decls
    permissions = dict.fromkeys(ctx.permissions)
    for name, decl in decls.items():
        checked = _workflow(ctx, decl, permissions)
        if checked is not None:
            ctx.workflows[name] = checked


def _workflow(
    ctx: Context, decl: ast.WorkflowDecl, permissions: dict[str, None]
) -> CheckedWorkflow | None:
    reported_before = len(ctx.diagnostics)
    states: dict[str, ast.Name] = {}
    initial: list[ast.Name] = []
    finals: set[str] = set()
    for item in decl.items:
        if not isinstance(item, ast.StateDecl):
            continue
        for name in item.names:
            if name.text in states:
                ctx.error(
                    "duplicate_declaration",
                    f"state `{name.text}` is declared twice in workflow `{decl.name.text}`",
                    name.span,
                    notes=(f"first declared at {ctx.location(states[name.text].span)}",),
                )
                continue
            states[name.text] = name
            if item.flag is not None and item.flag.text == "initial":
                initial.append(name)
            elif item.flag is not None:
                finals.add(name.text)
    if not initial:
        ctx.error(
            "no_initial_state",
            f"workflow `{decl.name.text}` has no initial state",
            decl.name.span,
            "mark one state `initial`: `state draft initial`",
        )
    for extra in initial[1:]:
        ctx.error(
            "duplicate_initial_state",
            f"workflow `{decl.name.text}` has more than one initial state",
            extra.span,
            notes=(f"`{initial[0].text}` is initial at {ctx.location(initial[0].span)}",),
        )

    def state(name: ast.Name) -> str:
        if name.text not in states:
            ctx.error(
                "undeclared_state",
                f"undeclared state `{name.text}` in workflow `{decl.name.text}`",
                name.span,
                ctx.suggest(name.text, states) or ctx.declared("states", states),
            )
        return name.text

    transitions = [i for i in decl.items if isinstance(i, ast.TransitionDecl)]
    declared_data = _declared_data(ctx, decl)
    data_types = _data_types(ctx, transitions, declared_data)
    declarations: dict[str, Any] = {
        "subject": "dyn",
        "event": "dyn",
        "actor": "string",
        "data": ObjectType("data", tuple(data_types.items())),
        "now": "timestamp",
    }
    checked_transitions: list[CheckedTransition] = []
    events: dict[str, None] = {}  # in order of first use
    for index, tr in enumerate(transitions):
        sources = tuple(state(s) for s in tr.sources)
        target = state(tr.target)
        for extra in tr.requires[1:]:
            ctx.error("duplicate_item", "a transition has one `requires`", extra.span)
        for extra_guard in tr.guards[1:]:
            ctx.error("duplicate_item", "a transition has one `when`", extra_guard.span)
        requires = tr.requires[0] if tr.requires else None
        if requires is not None:
            ctx.resolve("permission", requires, permissions, "undeclared_permission")
        guard = tr.guards[0] if tr.guards else None
        if guard is not None:
            ctx.cel(guard, declarations, want_bool=True)
        seen_sets: dict[str, ast.Name] = {}
        for name, value in tr.sets:
            if name.text in seen_sets:
                ctx.error(
                    "duplicate_item",
                    f"`{name.text}` is set twice by one transition",
                    name.span,
                    notes=(f"first set at {ctx.location(seen_sets[name.text].span)}",),
                )
            seen_sets.setdefault(name.text, name)
            ctx.cel(value, declarations, want_bool=False)
        events.setdefault(tr.event.text)
        checked_transitions.append(
            CheckedTransition(
                index,
                tr.event.text,
                sources,
                target,
                None if requires is None else requires.text,
                guard,
                tuple((n.text, v) for n, v in tr.sets),
                _effects(ctx, tr.effects),
                tr.span,
            )
        )
    enter: dict[str, list[CheckedEffect]] = {}
    exit_: dict[str, list[CheckedEffect]] = {}
    timeouts: list[CheckedTimeout] = []
    whiles: list[CheckedWhile] = []
    for order, item in enumerate(decl.items):
        match item:
            case ast.HookDecl(kind=kind, state=where, effects=effects):
                hooks = enter if kind == "enter" else exit_
                hooks.setdefault(state(where), []).extend(_effects(ctx, effects))
            case ast.TimeoutDecl():
                timeouts.append(_timeout(ctx, item, order, state, declarations))
            case ast.WhileDecl(state=where, policy=policy):
                in_state = state(where)
                if ctx.resolve("escalation", policy, ctx.escalation_decls, "undeclared_escalation"):
                    checked_policy = ctx.escalations.get(policy.text)
                    if checked_policy is not None:
                        whiles.append(CheckedWhile(order, in_state, checked_policy, item.span))
            case ast.StateDecl() | ast.TransitionDecl() | ast.DataDecl():
                pass
    failed = any(d.severity is Severity.ERROR for d in ctx.diagnostics[reported_before:])
    if failed or not initial:
        return None
    return CheckedWorkflow(
        name=decl.name.text,
        display=decl.display,
        states=tuple(states),
        initial=initial[0].text,
        finals=frozenset(finals),
        events=tuple(events),
        transitions=tuple(checked_transitions),
        enter={k: tuple(v) for k, v in enter.items()},
        exit={k: tuple(v) for k, v in exit_.items()},
        timeouts=tuple(timeouts),
        whiles=tuple(whiles),
        data_fields=tuple((n, format_type(t)) for n, t in data_types.items()),
        declarations=declarations,
        span=decl.span,
    )


def _declared_data(ctx: Context, decl: ast.WorkflowDecl) -> dict[str, tuple[Any, ast.FieldDecl]]:
    """The ``data`` fields the workflow declares (host data given at ``start``)."""
    out: dict[str, tuple[Any, ast.FieldDecl]] = {}
    for item in decl.items:
        if not isinstance(item, ast.DataDecl):
            continue
        for f in item.fields:
            if f.name.text in out:
                ctx.error(
                    "duplicate_declaration",
                    f"data field `{f.name.text}` is declared twice",
                    f.name.span,
                    notes=(f"first declared at {ctx.location(out[f.name.text][1].span)}",),
                )
                continue
            text = type_text(ctx, f.type, ctx.schema_decls)
            try:
                declared = parse_type(text, ctx.object_types)
            except UsageError:  # type_text reported why
                declared = DYN
            out[f.name.text] = (declared, f)
    return out


def _data_types(
    ctx: Context,
    transitions: list[ast.TransitionDecl],
    declared: dict[str, tuple[Any, ast.FieldDecl]],
) -> dict[str, Any]:
    """The type of every ``data`` field: as declared, or else from what the ``set``
    clauses write (``dyn`` when two transitions write different types).  Types
    are found with ``data`` as ``dyn``; errors are reported later, when the
    values are checked for real.  A ``set`` of a declared field must fit it."""
    loose: dict[str, Any] = {
        "subject": "dyn",
        "event": "dyn",
        "actor": "string",
        "data": "dyn",
        "now": "timestamp",
    }
    found: dict[str, Any] = {n: t for n, (t, _) in declared.items()}
    for tr in transitions:
        for name, value in tr.sets:
            try:
                written = check_cel(value.expr, loose)
            except SourceError:  # reported when the value is checked for real
                written = DYN
            if name.text in declared:
                want = declared[name.text][0]
                if not is_assignable(want, written):
                    ctx.error(
                        "type_error",
                        f"data field `{name.text}` is declared `{format_type(want)}`, "
                        f"but this sets it to a `{format_type(written)}`",
                        value.span,
                    )
                continue
            previous = found.get(name.text)
            found[name.text] = written if previous in (None, written) else DYN
    return dict(sorted(found.items()))


def _effects(ctx: Context, effects: tuple[ast.EffectDecl, ...]) -> tuple[CheckedEffect, ...]:
    out: list[CheckedEffect] = []
    for effect in effects:
        args: list[tuple[str, str] | str] = []
        for arg in effect.args:
            if arg.kind is None:
                if effect.name.text == "escalate":
                    _resolve_arg(ctx, "escalation", arg)
                args.append(arg.value)
                continue
            kind = arg.kind.text
            if kind in _ARG_KINDS and not arg.quoted:
                _resolve_arg(ctx, kind, arg)
            args.append((kind, arg.value))
        out.append(CheckedEffect(effect.name.text, tuple(args)))
    return tuple(out)


def _resolve_arg(ctx: Context, kind: str, arg: ast.EffectArg) -> None:
    known: Iterable[str]
    if kind == "queue":
        known = ctx.queue_decls
    elif kind == "role":
        known = ctx.roles
    else:
        known = ctx.escalation_decls
    ctx.resolve(kind, ast.Name(arg.value, arg.span), known, f"undeclared_{kind}")


def _timeout(
    ctx: Context,
    item: ast.TimeoutDecl,
    order: int,
    state: Any,
    declarations: dict[str, Any],
) -> CheckedTimeout:
    where = state(item.state)
    target = None if item.target is None else state(item.target)
    if item.after is not None and item.after.value <= timedelta(0):
        ctx.error("invalid_timeout", "a timeout must be longer than zero", item.after.span)
    if item.at is not None:
        try:
            kind = check_cel(item.at.expr, declarations)
        except SourceError as e:
            ctx.diagnostics.extend(e.diagnostics)
        else:
            if str(kind) not in ("timestamp", "dyn"):
                ctx.error(
                    "type_error",
                    f"a timer's `at` must be a `timestamp`, not `{kind}`",
                    item.at.span,
                )
    when = f"after {item.after.text}" if item.after is not None else ""
    if item.at is not None:
        when = f"at {' '.join(item.at.text.split())}"
    return CheckedTimeout(
        order,
        where,
        item.after.value if item.after is not None else None,
        item.at,
        target,
        _effects(ctx, item.effects),
        item.span,
        when,
    )


# -- analysis ------------------------------------------------------------------------------


def analyse_workflows(ctx: Context) -> None:
    """Warnings about the state graph of every workflow that checked."""
    for name, workflow in ctx.workflows.items():
        decl = ctx.workflow_decls[name]
        _analyse(ctx, workflow, decl)


def _analyse(ctx: Context, wf: CheckedWorkflow, decl: ast.WorkflowDecl) -> None:
    spans = _state_spans(decl)
    dead_guard = {
        t.index for t in wf.transitions if t.guard is not None and constant_value(t.guard) is False
    }
    for t in wf.transitions:
        if t.index in dead_guard and t.guard is not None:
            ctx.warning(
                "constant_guard",
                f"the guard of `on {t.event}` is always false",
                t.guard.span,
            )
    # what can be reached: transitions (but not those with a constantly false guard)
    # and timers that move the instance on
    edges: dict[str, set[str]] = {s: set() for s in wf.states}
    for t in wf.transitions:
        if t.index in dead_guard:
            continue
        for source in t.sources:
            if source not in wf.finals:
                edges[source].add(t.target)
    for timer in wf.timeouts:
        if timer.target is not None and timer.state not in wf.finals:
            edges[timer.state].add(timer.target)
    reached = {wf.initial}
    todo = [wf.initial]
    while todo:
        for nxt in sorted(edges[todo.pop()]):
            if nxt not in reached:
                reached.add(nxt)
                todo.append(nxt)
    for s in wf.states:
        if s not in reached:
            ctx.warning(
                "unreachable_state",
                f"state `{s}` of workflow `{wf.name}` can never be reached",
                spans[s],
                help=f"no transition or timer leads to it from `{wf.initial}`",
            )
        elif s not in wf.finals and not edges[s]:
            ctx.warning(
                "dead_end_state",
                f"state `{s}` of workflow `{wf.name}` has no way out and is not final",
                spans[s],
                help=f"add a transition from it, or declare it `state {s} final`",
            )
    for t in wf.transitions:
        live = [s for s in t.sources if s in reached and s not in wf.finals]
        if live or t.index in dead_guard:
            continue
        why = ", ".join(
            f"`{s}` is final" if s in wf.finals else f"`{s}` is unreachable" for s in t.sources
        )
        ctx.warning(
            "event_never_fires",
            f"event `{t.event}` can never fire from {_list(t.sources)}: {why}",
            t.span,
        )
    # an unguarded transition hides the later ones for the same event and state:
    # the first unguarded transition of each (event, state), found in one pass
    first_unguarded: dict[tuple[str, str], int] = {}
    for t in wf.transitions:
        shadowing = [
            first_unguarded[(t.event, s)] for s in t.sources if (t.event, s) in first_unguarded
        ]
        if shadowing:
            earlier = wf.transitions[min(shadowing)]
            shared = [s for s in t.sources if s in set(earlier.sources)]
            ctx.warning(
                "shadowed_transition",
                f"`on {t.event}` from {_list(shared)} can never fire: an earlier "
                "transition for the same event has no guard",
                t.span,
                notes=(f"the earlier one is at {ctx.location(earlier.span)}",),
            )
        if t.guard is None:
            for s in t.sources:
                first_unguarded.setdefault((t.event, s), t.index)
    for timer in wf.timeouts:
        if timer.state in wf.finals:
            ctx.warning(
                "timer_on_final_state",
                f"the timeout on `{timer.state}` never fires: the state is final",
                timer.span,
            )
    for rule in wf.whiles:
        if rule.state in wf.finals:
            ctx.warning(
                "timer_on_final_state",
                f"`while {rule.state} escalate {rule.policy.name}` never fires: the state is final",
                rule.span,
            )


def _state_spans(decl: ast.WorkflowDecl) -> dict[str, Span]:
    out: dict[str, Span] = {}
    for item in decl.items:
        if isinstance(item, ast.StateDecl):
            for name in item.names:
                out.setdefault(name.text, name.span)
    return out


def _list(names: Iterable[str]) -> str:
    return ", ".join(f"`{n}`" for n in names)
