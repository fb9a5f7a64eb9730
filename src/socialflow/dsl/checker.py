"""Parsed modules -> :class:`~socialflow.dsl.program.CheckedProgram`.

Resolves names across every file of a bundle, type-checks CEL conditions
against the declared schema, validates calendars, SLAs and escalation
policies, and runs the lints.  Every problem is collected (never just the
first): errors raise one :class:`~socialflow.errors.CheckError` holding all of
them; warnings travel with the program (``--strict`` turns them into errors).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from datetime import date, time, timedelta
from typing import Any, Final, TypeVar, assert_never

import attrs

from socialflow._suggest import did_you_mean
from socialflow.cel.analysis import analyse
from socialflow.cel.checker import check as check_cel
from socialflow.cel.interpreter import evaluate as interpret
from socialflow.cel.limits import Limits
from socialflow.cel.types import ObjectType, parse_type
from socialflow.dsl import ast
from socialflow.dsl.program import (
    PRIORITIES,
    AccessRule,
    CheckedProgram,
    CheckedRule,
    Schema,
    SchemaField,
)
from socialflow.errors import CheckError, Diagnostic, EvalError, Severity, UsageError
from socialflow.source import Span
from socialflow.timing.calendar import Calendar, OpeningHours
from socialflow.timing.escalation import EscalationLevel, EscalationPolicy, EscalationTarget
from socialflow.timing.sla import SlaPolicy

__all__ = ["check_modules"]

_DAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_PRIMITIVES: Final = frozenset(
    {
        "int",
        "uint",
        "double",
        "bool",
        "string",
        "bytes",
        "timestamp",
        "duration",
        "dyn",
        "null_type",
    }
)
_GENERICS: Final = {"list": 1, "map": 2}
_TIME: Final = re.compile(r"([0-9]{2}):([0-9]{2})\Z")

D = TypeVar("D")


class _Collector:
    def __init__(self) -> None:
        self.items: list[Diagnostic] = []

    def add(
        self,
        severity: Severity,
        code: str,
        message: str,
        span: Span | None,
        help: str | None = None,
        notes: Sequence[str] = (),
    ) -> None:
        self.items.append(Diagnostic(severity, code, message, span, help, tuple(notes)))

    def error(
        self,
        code: str,
        message: str,
        span: Span | None,
        help: str | None = None,
        notes: Sequence[str] = (),
    ) -> None:
        self.add(Severity.ERROR, code, message, span, help, notes)

    def warning(
        self,
        code: str,
        message: str,
        span: Span | None,
        help: str | None = None,
        notes: Sequence[str] = (),
    ) -> None:
        self.add(Severity.WARNING, code, message, span, help, notes)

    def extend(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.items.extend(diagnostics)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity is Severity.WARNING]


def _sort_key(d: Diagnostic) -> tuple[str, int, str]:
    if d.span is None:
        return ("", 0, d.code)
    return (d.span.source.name, d.span.start, d.code)


def check_modules(modules: Sequence[ast.Module], strict: bool = False) -> CheckedProgram:
    """Check a bundle of parsed files.

    Raises:
        CheckError: with every error found (and, with ``strict``, every warning).
    """
    diags = _Collector()
    program = _Checker(modules, diags).run()
    errors = sorted(diags.errors, key=_sort_key)
    warnings = sorted(diags.warnings, key=_sort_key)
    if strict:  # warnings become errors, and say so
        promoted = [attrs.evolve(w, severity=Severity.ERROR) for w in warnings]
        errors = sorted(errors + promoted, key=_sort_key)
    if errors or program is None:
        # the warnings travel along: whoever fixes the errors wants to see them too
        reported = errors if strict else sorted(errors + warnings, key=_sort_key)
        raise CheckError(reported)
    return program.__class__(**{**_fields(program), "warnings": tuple(warnings)})


def _fields(program: CheckedProgram) -> dict[str, Any]:
    import attrs

    return attrs.asdict(program, recurse=False)


class _Checker:
    def __init__(self, modules: Sequence[ast.Module], diags: _Collector) -> None:
        self.modules = modules
        self.d = diags
        self.used: set[tuple[str, str]] = set()

    # -- helpers --------------------------------------------------------------------------
    def collect(self, kind: str, decls: Sequence[D], key: Callable[[D], ast.Name]) -> dict[str, D]:
        """Index declarations by name, reporting duplicates."""
        out: dict[str, D] = {}
        for decl in decls:
            name = key(decl)
            if name.text in out:
                first = key(out[name.text])
                self.d.error(
                    "duplicate_declaration",
                    f"{kind} `{name.text}` is declared twice",
                    name.span,
                    notes=(f"first declared at {first.span.location()}",),
                )
                continue
            out[name.text] = decl
        return out

    def resolve(self, kind: str, name: ast.Name, known: Iterable[str], code: str) -> bool:
        self.used.add((kind, name.text))
        names = list(known)
        if name.text in names:
            return True
        self.d.error(
            code, f"undeclared {kind} `{name.text}`", name.span, did_you_mean(name.text, names)
        )
        return False

    # -- the pass -------------------------------------------------------------------------
    def run(self) -> CheckedProgram | None:
        decls = [d for m in self.modules for d in m.decls]

        def of(kind: type[D]) -> list[D]:
            return [d for d in decls if isinstance(d, kind)]

        rulesets: list[ast.RulesetDecl] = of(ast.RulesetDecl)
        for extra in rulesets[1:]:
            self.d.error(
                "duplicate_declaration",
                "a bundle has one `ruleset` header",
                extra.span,
                notes=(f"first declared at {rulesets[0].span.location()}",),
            )
        header = rulesets[0] if rulesets else None
        hit = "all"
        if header is not None and header.hit is not None:
            if header.hit.text in ("all", "first"):
                hit = header.hit.text
            else:
                self.d.error(
                    "unknown_hit_policy",
                    f"unknown hit policy `{header.hit.text}`",
                    header.hit.span,
                    "use `hit all` or `hit first`",
                )

        schemas = self.collect("schema", of(ast.SchemaDecl), lambda s: s.name)
        queues = self.collect("queue", of(ast.QueueDecl), lambda q: q.name)
        calendars = self.collect("calendar", of(ast.CalendarDecl), lambda c: c.name)
        slas = self.collect("sla", of(ast.SlaDecl), lambda s: s.name)
        escalations = self.collect("escalation", of(ast.EscalationDecl), lambda e: e.name)
        rules = self.collect("rule", of(ast.RuleDecl), lambda r: r.name)

        checked_schemas = self.schemas(schemas)
        object_types = self.object_types(checked_schemas)

        inputs: list[ast.InputDecl] = of(ast.InputDecl)
        for extra_input in inputs[1:]:
            self.d.error(
                "duplicate_declaration",
                "a bundle has one `input` declaration",
                extra_input.span,
                notes=(f"first declared at {inputs[0].span.location()}",),
            )
        input_var: str | None = None
        input_schema: str | None = None
        declarations: dict[str, Any] = {"now": "timestamp"}
        if inputs:
            decl = inputs[0]
            if decl.var.text == "now":
                self.d.error(
                    "reserved_name",
                    "`now` is always bound; name the input otherwise",
                    decl.var.span,
                )
            if self.resolve("schema", decl.schema, schemas, "undeclared_schema"):
                input_var, input_schema = decl.var.text, decl.schema.text
                if decl.schema.text in object_types:
                    declarations[input_var] = object_types[decl.schema.text]

        checked_calendars = {n: self.calendar(c) for n, c in calendars.items()}
        checked_slas = {n: self.sla(s, calendars, checked_calendars) for n, s in slas.items()}
        checked_escalations = {n: self.escalation(e, queues) for n, e in escalations.items()}

        ordered = sorted(enumerate(rules.values()), key=lambda pair: (-pair[1].precedence, pair[0]))
        checked_rules: list[CheckedRule] = []
        for order, (_, rule) in enumerate(ordered):
            checked_rules.append(self.rule(rule, order, queues, slas, escalations, declarations))
        self.lint_rules(checked_rules, hit, input_var)

        tests: list[ast.TestDecl] = of(ast.TestDecl)
        for test in tests:
            self.test(test, input_var, queues, slas, escalations, rules, declarations)
        self.lint_unused(queues, calendars, slas, escalations, schemas, input_schema)
        permissions, roles, access_rules, exclusives = self.access(decls)

        if self.d.errors:
            return None
        return CheckedProgram(
            name=header.name.text
            if header
            else (self.modules[0].name if self.modules else "rules"),
            version=header.version if header else None,
            hit=hit,
            input_var=input_var,
            input_schema=input_schema,
            schemas=checked_schemas,
            queues={n: q.display for n, q in queues.items()},
            calendars={n: c for n, c in checked_calendars.items() if c is not None},
            slas={n: s for n, s in checked_slas.items() if s is not None},
            escalations={n: e for n, e in checked_escalations.items() if e is not None},
            rules=tuple(checked_rules),
            tests=tuple(tests),
            warnings=(),
            declarations=declarations,
            permissions=permissions,
            roles=roles,
            access_rules=access_rules,
            exclusives=exclusives,
        )

    # -- access policy --------------------------------------------------------------------
    def access(
        self, decls: list[ast.Decl]
    ) -> tuple[
        tuple[str, ...],
        dict[str, frozenset[str]],
        tuple[AccessRule, ...],
        tuple[tuple[str, ...], ...],
    ]:
        names = [n for d in decls if isinstance(d, ast.PermissionDecl) for n in d.names]
        permissions = self.collect("permission", names, lambda n: n)
        declared = tuple(permissions)
        role_decls = self.collect(
            "role", [d for d in decls if isinstance(d, ast.RoleDecl)], lambda r: r.name
        )

        def perms_of(refs: Iterable[ast.Name]) -> set[str]:
            out: set[str] = set()
            for ref in refs:
                if ref.text == "*":
                    out.update(declared)
                elif self.resolve("permission", ref, permissions, "undeclared_permission"):
                    out.add(ref.text)
            return out

        direct = {name: perms_of(r.permissions) for name, r in role_decls.items()}
        roles: dict[str, frozenset[str]] = {}
        for name, decl in role_decls.items():
            for parent in decl.extends:
                self.resolve("role", parent, role_decls, "undeclared_role")
            expanded: set[str] = set()
            stack: list[tuple[str, tuple[str, ...]]] = [(name, (name,))]
            seen: set[str] = set()
            while stack:
                current, chain = stack.pop()
                if current in seen:
                    continue
                seen.add(current)
                expanded |= direct.get(current, set())
                for parent in role_decls[current].extends if current in role_decls else ():
                    if parent.text == name:
                        self.d.error(
                            "role_cycle",
                            f"role `{name}` extends itself: {' -> '.join((*chain, name))}",
                            decl.name.span,
                        )
                        continue
                    stack.append((parent.text, (*chain, parent.text)))
            roles[name] = frozenset(expanded)
        rules: list[AccessRule] = []
        access_declarations: dict[str, Any] = {
            "principal": "dyn",
            "resource": "dyn",
            "action": "string",
            "now": "timestamp",
        }
        access_decls = [d for d in decls if isinstance(d, ast.AccessRuleDecl)]
        for index, access_decl in enumerate(access_decls):
            perms = perms_of(access_decl.permissions)
            if access_decl.when is not None:
                self.cel(access_decl.when, access_declarations, want_bool=True)
            rules.append(
                AccessRule(
                    access_decl.effect, frozenset(perms), access_decl.when, index, access_decl.span
                )
            )
        exclusives: list[tuple[str, ...]] = []
        for exclusive in (d for d in decls if isinstance(d, ast.ExclusiveDecl)):
            perms = perms_of(exclusive.permissions)
            if len(perms) < 2:
                self.d.error(
                    "invalid_exclusive",
                    "`exclusive` needs at least two different permissions",
                    exclusive.span,
                )
            exclusives.append(tuple(sorted(perms)))
        return declared, roles, tuple(rules), tuple(exclusives)

    # -- schemas --------------------------------------------------------------------------
    def schemas(self, schemas: dict[str, ast.SchemaDecl]) -> dict[str, Schema]:
        out: dict[str, Schema] = {}
        for name, decl in schemas.items():
            fields: list[SchemaField] = []
            seen: dict[str, ast.FieldDecl] = {}
            for f in decl.fields:
                if f.name.text in seen:
                    self.d.error(
                        "duplicate_declaration",
                        f"field `{f.name.text}` is declared twice in `{name}`",
                        f.name.span,
                        notes=(f"first declared at {seen[f.name.text].span.location()}",),
                    )
                    continue
                seen[f.name.text] = f
                text = self.type_text(f.type, schemas)
                fields.append(SchemaField(f.name.text, text, f.optional, f.span))
            out[name] = Schema(name, tuple(fields))
        # recursion makes an infinite type: reject it
        for name, decl in schemas.items():
            if self.reaches(name, name, out, set()):
                self.d.error(
                    "recursive_schema",
                    f"schema `{name}` contains itself",
                    decl.name.span,
                    "use a list or map of ids instead of nesting the schema in itself",
                )
        return out

    def reaches(
        self, target: str, current: str, schemas: dict[str, Schema], seen: set[str]
    ) -> bool:
        schema = schemas.get(current)
        if schema is None or current in seen:
            return False
        seen.add(current)
        for f in schema.fields:
            for ref in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", f.type):
                if ref == target or self.reaches(target, ref, schemas, seen):
                    return True
        return False

    def type_text(self, ref: ast.TypeRef, schemas: dict[str, ast.SchemaDecl]) -> str:
        name = ref.name.text
        if name in _GENERICS:
            if len(ref.args) != _GENERICS[name]:
                self.d.error(
                    "invalid_type", f"`{name}` takes {_GENERICS[name]} type argument(s)", ref.span
                )
                return "dyn"
            return f"{name}({', '.join(self.type_text(a, schemas) for a in ref.args)})"
        if ref.args:
            self.d.error("invalid_type", f"`{name}` takes no type arguments", ref.span)
        if name in _PRIMITIVES:
            return name
        if name in schemas:
            self.used.add(("schema", name))
            return name
        self.d.error(
            "undeclared_type",
            f"undeclared type `{name}`",
            ref.name.span,
            did_you_mean(name, [*_PRIMITIVES, *_GENERICS, *schemas]),
        )
        return "dyn"

    def object_types(self, schemas: dict[str, Schema]) -> dict[str, ObjectType]:
        """CEL object types for the schemas, built dependencies first (recursive
        schemas were reported already and become ``dyn`` where they recurse)."""
        built: dict[str, ObjectType] = {}
        visiting: set[str] = set()

        def build(name: str) -> ObjectType:
            if name in built:
                return built[name]
            visiting.add(name)
            fields: list[tuple[str, Any]] = []
            for f in schemas[name].fields:
                refs = [r for r in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", f.type) if r in schemas]
                for ref in refs:
                    if ref not in visiting:
                        build(ref)
                text = f.type
                if any(ref in visiting for ref in refs):
                    text = "dyn"
                try:
                    fields.append((f.name, parse_type(text, built)))
                except UsageError:
                    fields.append((f.name, parse_type("dyn")))
            visiting.discard(name)
            built[name] = ObjectType(name, tuple(fields))
            return built[name]

        for name in schemas:
            build(name)
        return built

    # -- calendars, SLAs, escalations ----------------------------------------------------
    def calendar(self, decl: ast.CalendarDecl) -> Calendar | None:
        ok = True
        zone = "UTC"
        if not decl.timezones:
            self.d.error(
                "invalid_calendar",
                f"calendar `{decl.name.text}` has no `timezone`",
                decl.name.span,
                'add a line such as `timezone "Europe/London"`',
            )
            ok = False
        for extra in decl.timezones[1:]:
            self.d.error("duplicate_item", "`timezone` is given twice", extra[1])
        if decl.timezones:
            zone = decl.timezones[0][0]
        hours: list[OpeningHours] = []
        spans: list[Span] = []
        for open_decl in decl.opens:
            days: list[int] = []
            for spec in open_decl.days:
                first = self.day(spec.first)
                last = self.day(spec.last) if spec.last is not None else first
                if first is None or last is None:
                    ok = False
                    continue
                if last < first:
                    self.d.error(
                        "invalid_calendar",
                        f"day range `{spec.first.text}-{spec.last.text if spec.last else ''}` runs backwards",
                        spec.span,
                    )
                    ok = False
                    continue
                days.extend(range(first, last + 1))
            for rng in open_decl.ranges:
                start = self.clock(rng.start, rng.span, allow_24=False)
                end = self.clock(rng.end, rng.span, allow_24=True)
                if start is None or end is None:
                    ok = False
                    continue
                if end != time(0, 0) and end <= start:
                    self.d.error(
                        "invalid_calendar",
                        f"opening hours `{rng.start}-{rng.end}` end before they start",
                        rng.span,
                    )
                    ok = False
                    continue
                for day in days:
                    hours.append(OpeningHours(day, start, end))
                    spans.append(rng.span)
        closed: list[date] = []
        for text, span in decl.closed:
            try:
                closed.append(date.fromisoformat(text))
            except ValueError:
                self.d.error("invalid_calendar", f"`{text}` is not a valid date", span)
                ok = False
        # build even when some lines were bad, so zone and overlap problems show too
        calendar = Calendar.build(decl.name.text, zone, hours, closed)
        problems = calendar.problems()
        if not ok and not hours:
            problems = tuple(p for p in problems if p.code != "no_opening_hours")
        for problem in problems:
            span = (
                decl.timezones[0][1]
                if problem.code == "unknown_timezone" and decl.timezones
                else decl.name.span
            )
            if (
                problem.code == "overlapping_hours"
                and problem.index is not None
                and 0 <= problem.index < len(calendar.hours)
            ):
                wanted = calendar.hours[problem.index]
                for h, s in zip(hours, spans, strict=True):
                    if h == wanted:
                        span = s
                        break
            self.d.error(problem.code, problem.message, span)
        return None if problems or not ok else calendar

    def day(self, name: ast.Name) -> int | None:
        text = name.text.lower()
        if text in _DAYS:
            return _DAYS.index(text)
        self.d.error(
            "invalid_calendar",
            f"unknown day `{name.text}`",
            name.span,
            did_you_mean(text, _DAYS) or "days are mon, tue, wed, thu, fri, sat, sun",
        )
        return None

    def clock(self, text: str, span: Span, allow_24: bool) -> time | None:
        m = _TIME.match(text)
        if m is not None:
            hour, minute = int(m.group(1)), int(m.group(2))
            if allow_24 and hour == 24 and minute == 0:
                return time(0, 0)
            if hour < 24 and minute < 60:
                return time(hour, minute)
        self.d.error(
            "invalid_calendar",
            f"`{text}` is not a valid time of day",
            span,
            "write HH:MM, 00:00 to 24:00",
        )
        return None

    def sla(
        self,
        decl: ast.SlaDecl,
        calendars: dict[str, ast.CalendarDecl],
        checked: dict[str, Calendar | None],
    ) -> SlaPolicy | None:
        values: dict[str, Any] = {}
        for key, value, span in decl.items:
            if key in values:
                self.d.error(
                    "duplicate_item", f"`{key}` is given twice in sla `{decl.name.text}`", span
                )
                continue
            values[key] = value
        if "first_response" not in values and "resolution" not in values:
            self.d.error(
                "invalid_sla",
                f"sla `{decl.name.text}` sets neither `first_response` nor `resolution`",
                decl.name.span,
            )
            return None
        calendar: Calendar | None = None
        cal_name = values.get("calendar")
        if isinstance(cal_name, ast.Name):
            if not self.resolve("calendar", cal_name, calendars, "undeclared_calendar"):
                return None
            calendar = checked.get(cal_name.text)
            if calendar is None:
                return None
        for key in ("first_response", "resolution"):
            lit = values.get(key)
            if isinstance(lit, ast.DurationLit) and lit.value <= timedelta(0):
                self.d.error("invalid_sla", f"`{key}` must be longer than zero", lit.span)
                return None
        first = values.get("first_response")
        resolution = values.get("resolution")
        return SlaPolicy(
            decl.name.text,
            first.value if isinstance(first, ast.DurationLit) else None,
            resolution.value if isinstance(resolution, ast.DurationLit) else None,
            calendar,
        )

    def escalation(
        self, decl: ast.EscalationDecl, queues: dict[str, ast.QueueDecl]
    ) -> EscalationPolicy | None:
        ok = True
        levels: list[EscalationLevel] = []
        for index, level in enumerate(decl.levels, 1):
            if level.number != index:
                self.d.error(
                    "invalid_escalation",
                    f"expected level {index} here, found level {level.number}",
                    level.span,
                    "number the levels 1, 2, 3... in order",
                )
                ok = False
            if index == 1 and level.after is not None:
                self.d.error(
                    "invalid_escalation",
                    "level 1 starts at once and takes no `after`",
                    level.after.span,
                )
                ok = False
            if index > 1 and level.after is None:
                self.d.error(
                    "invalid_escalation",
                    f"level {level.number} needs `after` (its delay after level {level.number - 1})",
                    level.span,
                )
                ok = False
            targets: list[EscalationTarget] = []
            for target in level.targets:
                if target.kind == "queue":
                    self.resolve(
                        "queue", ast.Name(target.name, target.span), queues, "undeclared_queue"
                    )
                targets.append(EscalationTarget(target.kind, target.name))
            levels.append(
                EscalationLevel(
                    index, level.after.value if level.after else timedelta(0), tuple(targets)
                )
            )
        if not decl.levels:
            self.d.error(
                "invalid_escalation", f"escalation `{decl.name.text}` has no levels", decl.name.span
            )
            ok = False
        for extra in decl.repeats[1:]:
            self.d.error("duplicate_item", "`repeat` is given twice", extra.span)
            ok = False
        repeat = decl.repeats[0] if decl.repeats else None
        if not ok:
            return None
        policy = EscalationPolicy(
            decl.name.text,
            tuple(levels),
            repeat.count if repeat else 0,
            repeat.after.value if repeat and repeat.after else None,
        )
        problems = policy.problems()
        for problem in problems:
            self.d.error(problem.code, problem.message, decl.name.span)
        return None if problems else policy

    # -- rules ----------------------------------------------------------------------------
    def rule(
        self,
        rule: ast.RuleDecl,
        order: int,
        queues: dict[str, ast.QueueDecl],
        slas: dict[str, ast.SlaDecl],
        escalations: dict[str, ast.EscalationDecl],
        declarations: dict[str, Any],
    ) -> CheckedRule:
        counts: dict[str, list[Span]] = {}
        for kind, span in rule.items:
            counts.setdefault(kind, []).append(span)
        for kind in ("precedence", "when"):
            for span in counts.get(kind, [])[1:]:
                self.d.error(
                    "duplicate_item", f"rule `{rule.name.text}` has more than one `{kind}`", span
                )
        if not rule.actions:
            self.d.warning(
                "rule_without_actions",
                f"rule `{rule.name.text}` has no `then` actions",
                rule.name.span,
            )
        if rule.when is not None:
            self.cel(rule.when, declarations, want_bool=True)
        seen: dict[str, ast.Action] = {}
        for action in rule.actions:
            output = ast.output_of(action)
            if output is not None:
                key = output[0]
                if key in seen:
                    self.d.warning(
                        "duplicate_action",
                        f"rule `{rule.name.text}` sets `{key}` twice; the first wins",
                        action.span,
                        notes=(f"first set at {seen[key].span.location()}",),
                    )
                seen.setdefault(key, action)
            match action:
                case ast.RouteAction(queue=queue):
                    self.resolve("queue", queue, queues, "undeclared_queue")
                case ast.SlaAction(sla=sla):
                    self.resolve("sla", sla, slas, "undeclared_sla")
                case ast.EscalateAction(policy=policy):
                    self.resolve("escalation", policy, escalations, "undeclared_escalation")
                case ast.PriorityAction(level=level):
                    self.priority(level)
                case ast.SetAction(value=value):
                    self.cel(value, declarations, want_bool=False)
                case (
                    ast.AssignAction()
                    | ast.TagAction()
                    | ast.RespondAction()
                    | ast.IgnoreAction()
                    | ast.StopAction()
                ):
                    pass
                case _:
                    assert_never(action)
        return CheckedRule(
            rule.name.text, rule.display, rule.precedence, order, rule.when, rule.actions, rule.span
        )

    def cel(self, text: ast.CelText, declarations: dict[str, Any], want_bool: bool) -> None:
        try:
            result = check_cel(text.expr, declarations)
        except CheckError as e:
            self.d.extend(e.diagnostics)
            return
        name = str(result)
        if want_bool and name not in ("bool", "dyn"):
            self.d.error("type_error", f"a condition must be a `bool`, not `{name}`", text.span)

    def lint_rules(self, rules: list[CheckedRule], hit: str, input_var: str | None) -> None:
        # rules come in evaluation order: everything after a rule that always
        # matches and ends evaluation can never apply
        blocker: CheckedRule | None = None
        for rule in rules:
            if blocker is not None:
                ends = "stops" if hit == "all" else "is applied first (hit first)"
                self.d.warning(
                    "unreachable_rule",
                    f"rule `{rule.name}` can never apply",
                    rule.span if rule.condition is None else rule.condition.span,
                    notes=(
                        f"rule `{blocker.name}` at {blocker.span.location()} always matches "
                        f"and {ends}",
                    ),
                )
                continue
            constant = _constant(rule.condition)
            if constant is False:
                self.d.warning(
                    "constant_condition",
                    f"the condition of rule `{rule.name}` is always false",
                    rule.condition.span if rule.condition else rule.span,
                )
            if constant is True and (rule.stops or hit == "first"):
                blocker = rule
        # same-precedence rules that set different values of one single-valued output:
        # compare each rule with the first rule of its precedence that set the output
        first_setter: dict[tuple[int, str], tuple[CheckedRule, str, Span]] = {}
        for rule in rules:
            for key, (value, span) in _outputs(rule).items():
                seen = first_setter.setdefault((rule.precedence, key), (rule, value, span))
                first, first_value, first_span = seen
                if first is rule or first_value == value or _exclusive(first, rule, input_var):
                    continue
                self.d.warning(
                    "conflicting_rules",
                    f"rules `{first.name}` and `{rule.name}` have the same precedence "
                    f"and set `{key}` differently (`{first_value}` vs `{value}`)",
                    span,
                    help="give one rule a higher precedence to make the winner explicit",
                    notes=(
                        f"`{first.name}` sets it at {first_span.location()}; when both "
                        "match, the one declared first wins",
                    ),
                )

    def test(
        self,
        test: ast.TestDecl,
        input_var: str | None,
        queues: dict[str, ast.QueueDecl],
        slas: dict[str, ast.SlaDecl],
        escalations: dict[str, ast.EscalationDecl],
        rules: dict[str, ast.RuleDecl],
        declarations: dict[str, Any],
    ) -> None:
        for name, value in test.givens:
            if name.text != input_var:
                self.d.error(
                    "undeclared_input",
                    f"`{name.text}` is not the declared input",
                    name.span,
                    f"the input is `{input_var}`"
                    if input_var
                    else "declare one with `input msg: Message`",
                )
            self.cel(value, {"now": "timestamp"}, want_bool=False)
        for exp in test.expectations:
            match exp:
                case ast.ExpectRoute(queue=queue):
                    self.resolve("queue", queue, queues, "undeclared_queue")
                case ast.ExpectSla(sla=sla):
                    self.resolve("sla", sla, slas, "undeclared_sla")
                case ast.ExpectEscalate(policy=policy):
                    self.resolve("escalation", policy, escalations, "undeclared_escalation")
                case ast.ExpectMatched(rule=rule) | ast.ExpectError(rule=rule):
                    self.resolve("rule", rule, rules, "undeclared_rule")
                case ast.ExpectPriority(level=level):
                    self.priority(level, hint=False)
                case ast.ExpectSet(value=value):
                    self.cel(value, {"now": "timestamp"}, want_bool=False)
                case ast.ExpectTag() | ast.ExpectResponse() | ast.ExpectAssign():
                    pass
                case _:
                    assert_never(exp)

    def priority(self, level: ast.Name, hint: bool = True) -> None:
        if level.text not in PRIORITIES:
            suggestion = did_you_mean(level.text, PRIORITIES)
            self.d.error(
                "unknown_priority",
                f"unknown priority `{level.text}`",
                level.span,
                suggestion or ("use low, normal, high or urgent" if hint else None),
            )

    def lint_unused(
        self,
        queues: dict[str, ast.QueueDecl],
        calendars: dict[str, ast.CalendarDecl],
        slas: dict[str, ast.SlaDecl],
        escalations: dict[str, ast.EscalationDecl],
        schemas: dict[str, ast.SchemaDecl],
        input_schema: str | None,
    ) -> None:
        groups: list[tuple[str, dict[str, Any]]] = [
            ("queue", queues),
            ("calendar", calendars),
            ("sla", slas),
            ("escalation", escalations),
            ("schema", schemas),
        ]
        for kind, decls in groups:
            for name, decl in decls.items():
                if (kind, name) in self.used or (kind == "schema" and name == input_schema):
                    continue
                self.d.warning(
                    "unused_declaration", f"{kind} `{name}` is never used", decl.name.span
                )


def _constant(condition: ast.CelText | None) -> bool | None:
    """True/False when the condition does not depend on its input, else None.

    An expression that names no variable is evaluated once here (CEL is pure);
    one that needs the message or ``now`` raises ``undeclared_reference`` on
    an empty activation and is not constant.
    """
    if condition is None:
        return True
    try:
        value = interpret(condition.expr, {}, _CONSTANT_LIMITS)
    except EvalError:
        return None
    return value if type(value) is bool else None


_CONSTANT_LIMITS: Final = Limits(
    max_iterations=10_000, max_string_length=100_000, max_collection_size=10_000
)


def _exclusive(a: CheckedRule, b: CheckedRule, input_var: str | None) -> bool:
    """True when the two conditions test one field against disjoint literal sets
    (``msg.lang == "es"`` vs ``msg.lang == "de"``): they can never both match."""
    if a.condition is None or b.condition is None:
        return False
    equal_a, _ = analyse(a.condition.expr, input_var)
    equal_b, _ = analyse(b.condition.expr, input_var)
    return any(path in equal_b and not values & equal_b[path] for path, values in equal_a.items())


def _outputs(rule: CheckedRule) -> dict[str, tuple[str, Span]]:
    out: dict[str, tuple[str, Span]] = {}
    for action in rule.actions:
        output = ast.output_of(action)
        if output is not None:
            out.setdefault(output[0], (output[1], action.span))
    return out
