"""Bundle: a checked program with its engines; ``load``/``loads`` build one.

A bundle is what a host keeps: compile once at start-up, then call
``bundle.triage(message, now=...)`` for every message.  Loading is the one
place that reads files (``load``); everything after it is pure.
"""

from __future__ import annotations

import contextlib
import functools
import gc
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from os import PathLike
from pathlib import Path
from typing import Any

from socialflow._suggest import did_you_mean
from socialflow.access.engine import Access
from socialflow.cel.limits import Limits
from socialflow.dsl import ast
from socialflow.dsl.check import check_modules
from socialflow.dsl.parser import parse_module
from socialflow.dsl.program import CheckedProgram
from socialflow.errors import Diagnostic, ParseError, SourceError, UsageError
from socialflow.triage.decision import Decision, Explanation
from socialflow.triage.engine import TriageEngine
from socialflow.workflow.engine import DEFAULT_WINDOW, Workflow

__all__ = ["Bundle", "load", "loads", "parse_sources"]

#: File suffix of socialflow rule files.
SUFFIX = ".sf"


class Bundle:
    """A checked program and its compiled engines (immutable once built)."""

    def __init__(
        self,
        program: CheckedProgram,
        sources: Sequence[tuple[str, str]],
        limits: Limits | None = None,
    ) -> None:
        self.program = program
        self._sources = tuple(sources)
        self._limits = limits or Limits()
        #: compiled workflows, by (name, window): built on first use
        self._workflows: dict[tuple[str, int], Workflow] = {}

    @property
    def name(self) -> str:
        return self.program.name

    @property
    def warnings(self) -> tuple[Diagnostic, ...]:
        """Lint findings (the ``check`` command prints them)."""
        return self.program.warnings

    @functools.cached_property
    def engine(self) -> TriageEngine:
        """The triage engine (compiled on first use)."""
        with _gc_paused():
            return TriageEngine(self.program, self._limits)

    def triage(self, message: Any, now: datetime, *, strict: bool = False) -> Decision:
        """Decide one message at ``now`` (a timezone-aware datetime).

        Raises:
            InputError: the message does not fit the declared input schema.
            EvalError: in ``strict`` mode, when a condition raises.
        """
        return self.engine.triage(message, now, strict=strict)

    def explain(self, message: Any, now: datetime) -> Explanation:
        """Every rule's outcome for ``message`` and why."""
        return self.engine.explain(message, now)

    def workflow(self, name: str, *, window: int = DEFAULT_WINDOW) -> Workflow:
        """The workflow ``name``, compiled (once per name and window; the result is
        immutable and safe to share between threads).

        ``window`` is how many accepted event ids an instance remembers, to
        refuse a repeated event as ``duplicate_event``.

        Raises:
            UsageError: the bundle has no workflow ``name``.
        """
        workflows = self.program.workflows
        if not isinstance(name, str) or name not in workflows:  # type: ignore[redundant-expr]  # hosts pass anything
            hint = did_you_mean(str(name), workflows)
            known = ", ".join(f"`{w}`" for w in workflows) or "none"
            raise UsageError(
                f"no workflow `{name}` in this bundle"
                + (f"; {hint}" if hint else f" (workflows: {known})")
            )
        key = (name, window)
        cached = self._workflows.get(key)
        if cached is None:
            with _gc_paused():
                cached = Workflow(self.program, workflows[name], self._limits, window=window)
            cached = self._workflows.setdefault(key, cached)
        return cached

    def access(
        self,
        nodes: Iterable[Any],
        grants: Iterable[Any],
        principals: Iterable[Any],
    ) -> Access:
        """An :class:`~socialflow.access.engine.Access` for this policy and the
        host's records (records or JSON-shaped mappings).

        Raises:
            InputError: a record is wrong (unknown role, node or group, a cycle
                in the tree, a duplicate id), naming the record.
        """
        return Access(self.program, nodes, grants, principals, self._limits)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self._sources, self._limits))


def _rebuild(sources: Sequence[tuple[str, str]], limits: Limits) -> Bundle:
    return loads_many(sources, limits=limits)


def parse_sources(
    sources: Iterable[tuple[str, str]], limits: Limits | None = None
) -> list[ast.Module]:
    """Parse each ``(name, text)``, collecting syntax errors of every file."""
    modules: list[ast.Module] = []
    diagnostics: list[Diagnostic] = []
    for name, text in sources:
        try:
            modules.append(parse_module(text, name, limits))
        except ParseError as e:
            diagnostics.extend(e.diagnostics)
    if diagnostics:
        raise ParseError(diagnostics)
    return modules


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a large ruleset loads.

    Parsing allocates many long-lived objects, and each full collection scans
    all of them, which made loading 10,000 rules superlinear (about half the
    time was collections).  Nothing made while loading is garbage, so the
    pause changes no result; the previous state is restored afterwards.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def loads_many(
    sources: Sequence[tuple[str, str]], *, strict: bool = False, limits: Limits | None = None
) -> Bundle:
    """A bundle from several ``(name, text)`` sources."""
    with _gc_paused():
        modules = parse_sources(sources, limits)
        program = check_modules(modules, strict=strict)
    return Bundle(program, sources, limits)


def loads(
    text: str, name: str = "<rules>", *, strict: bool = False, limits: Limits | None = None
) -> Bundle:
    """A bundle from DSL text.

    Raises:
        ParseError: syntax errors (all of them, with positions).
        CheckError: name, type and validation errors (all of them).
    """
    if not isinstance(text, str):
        raise UsageError("rules text must be a string")
    return loads_many([(name, text)], strict=strict, limits=limits)


def load(
    paths: str | PathLike[str] | Sequence[str | PathLike[str]],
    *,
    strict: bool = False,
    limits: Limits | None = None,
) -> Bundle:
    """A bundle from a file, a list of files, or a folder (every ``*.sf`` in it, sorted).

    Raises:
        UsageError: a path does not exist or a folder holds no ``.sf`` file.
        ParseError, CheckError: as :func:`loads`.
    """
    return loads_many(read_sources(paths), strict=strict, limits=limits)


def read_sources(
    paths: str | PathLike[str] | Sequence[str | PathLike[str]],
) -> list[tuple[str, str]]:
    """Read rule files: a file, a list of files, or a folder of ``*.sf`` files."""
    items = [paths] if isinstance(paths, (str, PathLike)) else list(paths)
    files: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            found = sorted(path.rglob(f"*{SUFFIX}"))
            if not found:
                raise UsageError(f"no `{SUFFIX}` files in folder `{path}`")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise UsageError(f"no such file or folder: `{path}`")
    return [(str(f), f.read_text(encoding="utf-8")) for f in files]


# SourceError is what load/loads raise (ParseError or CheckError).
_ = SourceError
