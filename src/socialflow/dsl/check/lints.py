"""Warnings about rules that check but probably do not do what was meant:
unreachable rules, constant conditions, same-precedence conflicts, unused
declarations."""

from __future__ import annotations

from typing import Any, Final

from socialflow.cel import ast as cel_ast
from socialflow.cel.analysis import analyse
from socialflow.cel.interpreter import evaluate as interpret
from socialflow.cel.limits import Limits
from socialflow.cel.values import TYPE_NAMES
from socialflow.dsl import ast
from socialflow.dsl.check.context import Context
from socialflow.dsl.program import CheckedRule
from socialflow.source import Span

__all__ = ["MAX_LINT_DEPTH", "constant_value", "lint_rules", "lint_unused", "shallow"]

_CONSTANT_LIMITS: Final = Limits(
    max_iterations=10_000, max_string_length=100_000, max_collection_size=10_000
)
#: The lints evaluate and analyse conditions with recursive code: a condition
#: nested deeper than this (a chain of hundreds of ``||``, say) is not linted.
MAX_LINT_DEPTH: Final = 150


def lint_rules(ctx: Context) -> None:
    """Unreachable rules, constant-false conditions and same-precedence conflicts."""
    rules, hit = ctx.rules, ctx.hit
    # rules come in evaluation order: everything after a rule that always
    # matches and ends evaluation can never apply
    blocker: CheckedRule | None = None
    for rule in rules:
        if blocker is not None:
            ends = "stops" if hit == "all" else "is applied first (hit first)"
            ctx.warning(
                "unreachable_rule",
                f"rule `{rule.name}` can never apply",
                rule.span if rule.condition is None else rule.condition.span,
                notes=(
                    f"rule `{blocker.name}` at {ctx.location(blocker.span)} always matches and {ends}",
                ),
            )
            continue
        constant = constant_value(rule.condition)
        if constant is False:
            ctx.warning(
                "constant_condition",
                f"the condition of rule `{rule.name}` is always false",
                rule.condition.span if rule.condition else rule.span,
            )
        if constant is True and (rule.stops or hit == "first"):
            blocker = rule
    _conflicts(ctx, rules)


#: Conflicting pairs reported for one output at one precedence; the rest are counted.
MAX_CONFLICTS_LISTED: Final = 20
#: Pairs of rules compared (for exclusive conditions) in one check, in all: past
#: it, pairs are counted without comparing them, so a check stays linear in
#: the rules however many share a precedence.
PAIR_BUDGET: Final = 100_000


def _conflicts(ctx: Context, rules: list[CheckedRule]) -> None:
    """Same-precedence rules that set different values of one single-valued
    output: every such pair, once, in source order of the later rule then the
    earlier one; pairs whose conditions exclude each other (``msg.lang ==
    "es"`` vs ``msg.lang == "de"``) are left out.  At most
    :data:`MAX_CONFLICTS_LISTED` pairs per output and precedence are listed,
    then one warning counts the rest."""
    groups: dict[tuple[int, str], list[tuple[CheckedRule, str, Span]]] = {}
    for rule in rules:  # evaluation order: precedence, then source order
        for key, (value, span) in _outputs(rule).items():
            groups.setdefault((rule.precedence, key), []).append((rule, value, span))
    equalities = _Equalities(ctx.input_var)
    budget = PAIR_BUDGET
    for (precedence, key), setters in groups.items():
        if len({value for _, value, _ in setters}) < 2:
            continue
        listed = more = uncompared = 0
        # value -> the positions of the earlier setters that set it: a rule is
        # compared only with those of other values (never walking the many of
        # its own value), so the work is what the budget counts
        before: dict[str, list[int]] = {}
        for j, (rule, value, span) in enumerate(setters):
            same = before.setdefault(value, [])
            differing = j - len(same)
            same.append(j)
            if differing == 0:
                continue
            if budget < differing:
                uncompared += differing
                continue
            budget -= differing
            others = sorted(i for v, where in before.items() if v != value for i in where)
            for i in others:
                first, first_value, first_span = setters[i]
                if _exclusive(first, rule, equalities):
                    continue
                if listed == MAX_CONFLICTS_LISTED:
                    more += 1
                    continue
                listed += 1
                ctx.warning(
                    "conflicting_rules",
                    f"rules `{first.name}` and `{rule.name}` have the same precedence "
                    f"and set `{key}` differently (`{first_value}` vs `{value}`)",
                    span,
                    help="give one rule a higher precedence to make the winner explicit",
                    notes=(
                        f"`{first.name}` sets it at {ctx.location(first_span)}; when both "
                        "match, the one declared first wins",
                    ),
                )
        total = more + uncompared
        if total:
            notes = [
                f"only the first {MAX_CONFLICTS_LISTED} pairs of one output and precedence are listed"
            ]
            if uncompared:
                notes.append(
                    f"{uncompared} of them were counted without checking whether their "
                    "conditions exclude each other (too many rules to compare)"
                )
            ctx.warning(
                "conflicting_rules",
                f"... and {total} more pair{'s' if total != 1 else ''} of rules of "
                f"precedence {precedence} set `{key}` differently",
                setters[-1][2],
                help="give the rules different precedences to make the winners explicit",
                notes=notes,
            )


def lint_unused(ctx: Context) -> None:
    """Queues, calendars, SLAs, escalations and schemas nothing refers to
    (not said when a declaration was skipped after a syntax error: it may be
    what used them)."""
    if any(m.broken for m in ctx.modules):
        return
    groups: list[tuple[str, dict[str, Any]]] = [
        ("queue", ctx.queue_decls),
        ("calendar", ctx.calendar_decls),
        ("sla", ctx.sla_decls),
        ("escalation", ctx.escalation_decls),
        ("schema", ctx.schema_decls),
    ]
    for kind, decls in groups:
        for name, decl in decls.items():
            if (kind, name) in ctx.used or (kind == "schema" and name == ctx.input_schema):
                continue
            ctx.warning("unused_declaration", f"{kind} `{name}` is never used", decl.name.span)


def constant_value(condition: ast.CelText | None) -> bool | None:
    """True/False when the condition does not depend on its input, else None.

    An expression that names no variable is evaluated once here (CEL is pure);
    one that needs the message or ``now`` raises ``undeclared_reference`` on
    an empty activation and is not constant.
    """
    if condition is None:
        return True
    if not shallow(condition.expr) or not _may_be_constant(condition.expr):
        return None
    try:
        value = interpret(condition.expr, {}, _CONSTANT_LIMITS)
    except Exception:  # an error, a limit, a bug: the probe proves nothing
        return None
    return value if type(value) is bool else None


def _may_be_constant(expr: cel_ast.Expr) -> bool:
    """False when ``expr`` certainly fails on an empty activation, so probing it
    would only raise (and a large ruleset would pay for thousands of errors).

    An expression that reads a variable fails unless the read is absorbed:
    by ``&&``/``||`` with a decisive operand, by ``?:`` with a constant
    condition, or by a comprehension over a constant range (which may not
    run its body).  So it may be constant only when it reads no variable or
    one of those holds an operand that reads none.  Comprehension variables
    count as variables (conservatively: the probe then runs) and type names
    (``int``) do not.
    """
    return _reads(expr) is not True


def _reads(node: cel_ast.Expr) -> bool | None:
    """Whether ``node`` reads a variable; ``None`` once an absorbing node holding
    an operand that reads none is found (the answer is then known).  Recursive:
    only for expressions :func:`shallow` passed."""
    if type(node) is cel_ast.Ident:
        return node.name not in TYPE_NAMES
    if type(node) is cel_ast.Literal:
        return False
    some = False
    every = True
    for kid in cel_ast.children(node):
        r = _reads(kid)
        if r is None:
            return None
        some = some or r
        every = every and r
    if some and not every and _absorbs(node):
        return None
    return some


def _absorbs(node: cel_ast.Expr) -> bool:
    if isinstance(node, cel_ast.Call):
        return node.function in ("_&&_", "_||_", "_?_:_")
    return isinstance(node, cel_ast.Comprehension)


def shallow(expr: cel_ast.Expr, limit: int = MAX_LINT_DEPTH) -> bool:
    """Does ``expr`` nest no deeper than ``limit``?  Measured without recursion,
    and stopping as soon as it is deeper, so the lints can recurse safely."""
    children = cel_ast.children
    level = [expr]
    for _ in range(limit):  # one level of the tree per round
        below: list[cel_ast.Expr] = []
        for node in level:
            below.extend(children(node))
        if not below:
            return True
        level = below
    return False


class _Equalities:
    """The equality constraints of each rule's condition, analysed once per rule
    however many rules it is compared with."""

    def __init__(self, input_var: str | None) -> None:
        self.input_var = input_var
        self.found: dict[int, dict[tuple[str, ...], frozenset[str]]] = {}

    def of(self, rule: CheckedRule) -> dict[tuple[str, ...], frozenset[str]]:
        found = self.found.get(rule.order)
        if found is None:
            found = {}
            if rule.condition is not None and shallow(rule.condition.expr):
                found, _ = analyse(rule.condition.expr, self.input_var)
            self.found[rule.order] = found
        return found


def _exclusive(a: CheckedRule, b: CheckedRule, equalities: _Equalities) -> bool:
    """True when the two conditions test one field against disjoint literal sets
    (``msg.lang == "es"`` vs ``msg.lang == "de"``): they can never both match."""
    if a.condition is None or b.condition is None:
        return False
    equal_a = equalities.of(a)
    equal_b = equalities.of(b)
    return any(path in equal_b and not values & equal_b[path] for path, values in equal_a.items())


def _outputs(rule: CheckedRule) -> dict[str, tuple[str, Span]]:
    out: dict[str, tuple[str, Span]] = {}
    for action in rule.actions:
        output = ast.output_of(action)
        if output is not None:
            out.setdefault(output[0], (output[1], action.span))
    return out
