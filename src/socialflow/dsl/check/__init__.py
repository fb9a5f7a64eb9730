"""Parsed modules -> :class:`~socialflow.dsl.program.CheckedProgram`.

The check is a sequence of passes (:data:`PASSES`), each a plain function of
a shared :class:`~socialflow.dsl.check.context.Context`, run in order: names
are resolved across every file of a bundle, CEL conditions are type-checked
against the declared schema, calendars, SLAs and escalation policies are
validated, and the lints run.  Every problem is collected (never just the
first): errors raise one :class:`~socialflow.errors.CheckError` holding all of
them, sorted by position; warnings travel with the program (``strict`` turns
them into errors).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final

import attrs

from socialflow.dsl import ast
from socialflow.dsl.check.access import check_access
from socialflow.dsl.check.bases import resolve_bases
from socialflow.dsl.check.context import Context
from socialflow.dsl.check.declarations import check_header, check_input, collect_declarations
from socialflow.dsl.check.lints import lint_rules, lint_unused
from socialflow.dsl.check.rules import check_rules
from socialflow.dsl.check.schemas import check_schemas
from socialflow.dsl.check.tests import check_tests, check_workflow_tests
from socialflow.dsl.check.timing import check_calendars, check_escalations, check_slas
from socialflow.dsl.check.workflows import analyse_workflows, check_workflows
from socialflow.dsl.program import CheckedProgram
from socialflow.errors import CheckError, Diagnostic, Severity

__all__ = ["PASSES", "Pass", "check_modules"]

Pass = Callable[[Context], None]

#: The check, in order: a pass may rely on what the passes before it stored.
PASSES: Final[tuple[Pass, ...]] = (
    check_header,
    collect_declarations,
    check_schemas,
    check_input,
    check_calendars,
    check_slas,
    check_escalations,
    check_rules,
    lint_rules,
    resolve_bases,
    check_tests,
    check_access,
    check_workflows,
    analyse_workflows,
    check_workflow_tests,
    lint_unused,
)


def check_modules(modules: Sequence[ast.Module], strict: bool = False) -> CheckedProgram:
    """Check a bundle of parsed files.

    Raises:
        CheckError: with every error found (and, with ``strict``, every warning).
    """
    ctx = Context(modules)
    for check in PASSES:
        check(ctx)
    # one finding once (a test base's bad value is checked in every test using it)
    found = list(dict.fromkeys(ctx.diagnostics))
    errors = sorted((d for d in found if d.severity is Severity.ERROR), key=_sort_key)
    warnings = sorted((d for d in found if d.severity is Severity.WARNING), key=_sort_key)
    if strict:  # warnings become errors, and say so
        promoted = [attrs.evolve(w, severity=Severity.ERROR) for w in warnings]
        errors = sorted(errors + promoted, key=_sort_key)
    if errors:
        # the warnings travel along: whoever fixes the errors wants to see them too
        reported = errors if strict else sorted(errors + warnings, key=_sort_key)
        raise CheckError(reported)
    return _program(ctx, tuple(warnings))


def _sort_key(d: Diagnostic) -> tuple[str, int, str]:
    if d.span is None:
        return ("", 0, d.code)
    return (d.span.source.name, d.span.start, d.code)


def _program(ctx: Context, warnings: tuple[Diagnostic, ...]) -> CheckedProgram:
    header = ctx.header
    return CheckedProgram(
        name=header.name.text if header else (ctx.modules[0].name if ctx.modules else "rules"),
        version=header.version if header else None,
        hit=ctx.hit,
        input_var=ctx.input_var,
        input_schema=ctx.input_schema,
        schemas=ctx.schemas,
        queues={n: q.display for n, q in ctx.queue_decls.items()},
        calendars={n: c for n, c in ctx.calendars.items() if c is not None},
        slas={n: s for n, s in ctx.slas.items() if s is not None},
        escalations={n: e for n, e in ctx.escalations.items() if e is not None},
        rules=tuple(ctx.rules),
        tests=tuple(ctx.tests),
        warnings=warnings,
        declarations=ctx.declarations,
        permissions=ctx.permissions,
        roles=ctx.roles,
        access_rules=ctx.access_rules,
        exclusives=ctx.exclusives,
        workflows=ctx.workflows,
    )
