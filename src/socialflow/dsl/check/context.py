"""What every check pass shares: the declarations, the diagnostics found so far,
the names used, and the results earlier passes resolved.

A pass is a plain function ``(Context) -> None`` (see ``PASSES`` in
:mod:`socialflow.dsl.check`); it reads what earlier passes left in the
context, reports diagnostics, and stores its own results for later passes.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Collection, Sequence
from typing import Any, Final, TypeVar

from socialflow._suggest import did_you_mean
from socialflow.cel.checker import CheckedExpr, check_expr
from socialflow.cel.types import ObjectType
from socialflow.dsl import ast
from socialflow.dsl.program import AccessRule, CheckedRule, CheckedWorkflow, Schema, SchemaField
from socialflow.errors import Diagnostic, Severity, SourceError
from socialflow.source import Span
from socialflow.timing.calendar import Calendar
from socialflow.timing.escalation import EscalationPolicy
from socialflow.timing.sla import SlaPolicy

__all__ = ["LISTED", "Context"]

D = TypeVar("D")

#: Candidate names compared for did-you-mean suggestions in one check, in all.
SUGGESTION_BUDGET: Final = 50_000
#: Declared names a help lists when no name is close to a misspelt one.
LISTED: Final = 8
#: How help texts name the kinds of declarations.
_PLURALS: Final = {"sla": "SLAs", "escalation": "escalation policies"}


class Context:
    """The state of one check of a bundle, threaded through the passes."""

    def __init__(self, modules: Sequence[ast.Module]) -> None:
        self.modules = modules
        self.decls: list[ast.Decl] = [d for m in modules for d in m.decls]
        #: (kind, name) of what declarations skipped after a syntax error would have
        #: declared: using one is not an error (the syntax error says it all)
        self.broken: frozenset[tuple[str, str]] = frozenset(
            (b.kind, n.text) for m in modules for b in m.broken for n in b.names
        )
        self.diagnostics: list[Diagnostic] = []
        #: (kind, name) of every declaration something refers to (for the unused lint)
        self.used: set[tuple[str, str]] = set()
        #: id(collection) -> (collection, its names by length), for suggestions
        self._by_length: dict[int, tuple[Collection[str], dict[int, list[str]]]] = {}
        self._suggestion_budget = SUGGESTION_BUDGET
        #: id(collection) -> (collection, the help listing its names), see declared()
        self._listed: dict[int, tuple[Collection[str], str]] = {}
        #: (id(source), offset) -> "name:line:col", for notes
        self._locations: dict[tuple[int, int], str] = {}
        # -- results, filled in by the passes in order -----------------------------------
        self.header: ast.RulesetDecl | None = None
        self.hit = "all"
        self.schema_decls: dict[str, ast.SchemaDecl] = {}
        self.queue_decls: dict[str, ast.QueueDecl] = {}
        self.calendar_decls: dict[str, ast.CalendarDecl] = {}
        self.sla_decls: dict[str, ast.SlaDecl] = {}
        self.escalation_decls: dict[str, ast.EscalationDecl] = {}
        self.rule_decls: dict[str, ast.RuleDecl] = {}
        self.schemas: dict[str, Schema] = {}
        #: schema -> (its fields by name, its required fields), for checking values
        self.field_tables: dict[str, tuple[dict[str, SchemaField], tuple[SchemaField, ...]]] = {}
        self.object_types: dict[str, ObjectType] = {}
        self.input_var: str | None = None
        self.input_schema: str | None = None
        #: CEL declarations of rule conditions: the input variable and ``now``
        self.declarations: dict[str, Any] = {"now": "timestamp"}
        self.calendars: dict[str, Calendar | None] = {}
        self.slas: dict[str, SlaPolicy | None] = {}
        self.escalations: dict[str, EscalationPolicy | None] = {}
        self.rules: list[CheckedRule] = []
        self.tests: list[ast.TestDecl] = []
        self.permissions: tuple[str, ...] = ()
        self.roles: dict[str, frozenset[str]] = {}
        self.access_rules: tuple[AccessRule, ...] = ()
        self.exclusives: tuple[tuple[str, ...], ...] = ()
        self.workflow_decls: dict[str, ast.WorkflowDecl] = {}
        self.workflows: dict[str, CheckedWorkflow] = {}

    # -- declarations ----------------------------------------------------------------------
    def of(self, kind: type[D]) -> list[D]:
        """Every declaration of one class, in source order."""
        return [d for d in self.decls if isinstance(d, kind)]

    def collect(self, kind: str, decls: Sequence[D], key: Callable[[D], ast.Name]) -> dict[str, D]:
        """Index declarations by name, reporting duplicates."""
        out: dict[str, D] = {}
        for decl in decls:
            name = key(decl)
            if name.text in out:
                first = key(out[name.text])
                self.error(
                    "duplicate_declaration",
                    f"{kind} `{name.text}` is declared twice",
                    name.span,
                    notes=(f"first declared at {self.location(first.span)}",),
                )
                continue
            out[name.text] = decl
        return out

    def resolve(self, kind: str, name: ast.Name, known: Collection[str], code: str) -> bool:
        """Is ``name`` declared among ``known``?  Reports it with a suggestion if not.

        ``known`` should be a mapping or a set: membership is tested directly.
        """
        self.used.add((kind, name.text))
        if name.text in known:
            return True
        if (kind, name.text) in self.broken:
            return False
        suggestion = self.suggest(name.text, known)
        if suggestion is not None:  # the misspelt reference meant it: it is not unused
            self.used.add((kind, suggestion.split("`")[1]))
        self.error(
            code,
            f"undeclared {kind} `{name.text}`",
            name.span,
            suggestion or self.declared(_PLURALS.get(kind, kind + "s"), known),
        )
        return False

    def declared(self, what: str, known: Collection[str]) -> str:
        """The help for a name with no close match: ``declared queues: a, b, c`` (sorted,
        at most :data:`LISTED`, then ``and N more``), or ``no queues are declared``.

        Worked out once per collection (which must not change during the
        check), however many names are misspelt."""
        found = self._listed.get(id(known))
        if found is None or found[0] is not known:
            head = heapq.nsmallest(LISTED, known)
            shown = ", ".join(f"`{n}`" for n in head)
            more = f" and {len(known) - LISTED} more" if len(known) > LISTED else ""
            text = f"declared {{}}: {shown}{more}" if head else "no {} are declared"
            found = self._listed[id(known)] = (known, text)
        return found[1].format(what)

    def suggest(self, name: str, *known: Collection[str]) -> str | None:
        """:func:`~socialflow._suggest.did_you_mean` for ``name`` among the names
        of every collection in ``known``.

        Suggestions are not free (an edit distance per candidate), and a file
        with thousands of misspelt names among thousands of declarations would
        make loading quadratic.  So only candidates of a length that can be
        close enough are compared (which changes no suggestion), and once a
        check has compared :data:`SUGGESTION_BUDGET` candidates it suggests no
        more (deterministically: the same input stops at the same place).
        Each collection is indexed by length once, so it must not change
        during the check (the declarations do not).
        """
        reach = 3  # did_you_mean allows at most three edits
        candidates: list[str] = []
        for collection in known:
            by_length = self._by_length.get(id(collection))
            if by_length is None or by_length[0] is not collection:
                table: dict[int, list[str]] = {}
                for candidate in collection:
                    table.setdefault(len(candidate), []).append(candidate)
                by_length = self._by_length[id(collection)] = (collection, table)
            for size in range(len(name) - reach, len(name) + reach + 1):
                candidates.extend(by_length[1].get(size, ()))
        if len(candidates) > self._suggestion_budget:
            self._suggestion_budget = 0
            return None
        self._suggestion_budget -= len(candidates)
        return did_you_mean(name, candidates)

    def cel(
        self, text: ast.CelText, declarations: dict[str, Any], want_bool: bool
    ) -> CheckedExpr | None:
        """Type-check an embedded CEL expression against ``declarations``: the
        types of its nodes, or None when it has errors."""
        try:
            checked = check_expr(text.expr, declarations)
        except SourceError as e:  # a CheckError, or a SourceLimitError (too deep)
            self.diagnostics.extend(e.diagnostics)
            return None
        name = str(checked.type)
        if want_bool and name not in ("bool", "dyn"):
            self.error("type_error", f"a condition must be a `bool`, not `{name}`", text.span)
            return None
        return checked

    # -- diagnostics -----------------------------------------------------------------------
    def location(self, span: Span) -> str:
        """``span.location()``, remembered: notes name the same first declaration
        again and again, and finding a column costs the length of its line."""
        key = (id(span.source), span.start)
        found = self._locations.get(key)
        if found is None:
            found = self._locations[key] = span.location()
        return found

    def error(
        self,
        code: str,
        message: str,
        span: Span | None,
        help: str | None = None,
        notes: Sequence[str] = (),
    ) -> None:
        self.diagnostics.append(Diagnostic(Severity.ERROR, code, message, span, help, tuple(notes)))

    def warning(
        self,
        code: str,
        message: str,
        span: Span | None,
        help: str | None = None,
        notes: Sequence[str] = (),
    ) -> None:
        self.diagnostics.append(
            Diagnostic(Severity.WARNING, code, message, span, help, tuple(notes))
        )

    @property
    def failed(self) -> bool:
        return any(d.severity is Severity.ERROR for d in self.diagnostics)
