"""Bundle: a checked program with its engines; ``load``/``loads`` build one.

A bundle is what a host keeps: compile once at start-up, then call
``bundle.triage(message, now=...)`` for every message.  Loading is the one
place that reads files (``load``); everything after it is pure.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import hashlib
import os
import pickle
import stat
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from os import PathLike
from pathlib import Path
from typing import Any, Final

from socialflow._suggest import did_you_mean
from socialflow._syntax import grammar_text
from socialflow.access.engine import Access
from socialflow.cel.limits import Limits
from socialflow.dsl import ast
from socialflow.dsl.layers import check_layers
from socialflow.dsl.parser import parse_module_recovering
from socialflow.dsl.program import CheckedProgram
from socialflow.errors import (
    CheckError,
    Diagnostic,
    ParseError,
    Severity,
    SourceError,
    SourceLimitError,
    UsageError,
)
from socialflow.source import Source, Span
from socialflow.triage.decision import Decision, Explanation
from socialflow.triage.engine import TriageEngine
from socialflow.workflow.engine import DEFAULT_WINDOW, Workflow

__all__ = ["Bundle", "load", "loads", "parse_sources"]

#: File suffix of socialflow rule files.
SUFFIX = ".sf"
#: The largest rule file :func:`load` reads, in bytes (10 MiB), and the longest
#: text :func:`loads` takes, in characters.  Loading takes time and memory in
#: proportion to the text (10,000 typical rules are about 1.7 MB and take about
#: 4 s and 300 MB at peak; the largest file about six times that), so a bound
#: keeps a stray file (a log, a dump, ``/dev/zero``) from taking the host down.
MAX_SOURCE_SIZE: Final = 10 * 1024 * 1024


class Bundle:
    """A checked program and its compiled engines (immutable once built)."""

    def __init__(
        self,
        program: CheckedProgram,
        sources: Sequence[tuple[str, str]],
        limits: Limits | None = None,
        layers: Mapping[str, CheckedProgram] | None = None,
        *,
        base: Bundle | None = None,
    ) -> None:
        self.program = program
        self._sources = tuple(sources)
        self._limits = limits or Limits()
        #: the layers loaded with this ruleset (``ruleset NAME extends ...``), checked
        self._layers: Mapping[str, CheckedProgram] = dict(layers or {})
        #: the bundle of the base ruleset, for a layer's bundle (``None`` for the base)
        self._base = base
        self._layer_bundles: dict[str, Bundle] = {}
        #: compiled workflows, by (name, window): built on first use
        self._workflows: dict[tuple[str, int], Workflow] = {}

    @property
    def name(self) -> str:
        return self.program.name

    @property
    def version(self) -> str | None:
        """The ``version`` of the ruleset's header (``None`` without one)."""
        return self.program.version

    @property
    def warnings(self) -> tuple[Diagnostic, ...]:
        """Lint findings (the ``check`` command prints them)."""
        return self.program.warnings

    @property
    def layers(self) -> tuple[str, ...]:
        """The names of the layers loaded with this ruleset, in the order they were
        read (a layer is a file starting ``ruleset NAME extends PARENT``; see
        ``docs/layers.md``).  Empty for a layer's own bundle."""
        return tuple(self._layers) if self._base is None else ()

    def layer(self, name: str) -> Bundle:
        """The bundle of layer ``name``: its effective ruleset (what it extends,
        with its overrides and additions), compiled on first use.  Immutable and
        safe to share between threads, like this one.

        Raises:
            UsageError: no layer ``name`` was loaded with this ruleset.
        """
        if self._base is not None:
            return self._base.layer(name)
        if not isinstance(name, str) or name not in self._layers:  # type: ignore[redundant-expr]  # hosts pass anything
            hint = did_you_mean(str(name), self._layers)
            known = ", ".join(f"`{n}`" for n in self._layers) or "none"
            raise UsageError(
                f"no layer `{name}` in this bundle"
                + (f"; {hint}" if hint else f" (layers: {known})")
            )
        cached = self._layer_bundles.get(name)
        if cached is None:
            cached = Bundle(self._layers[name], self._sources, self._limits, base=self)
            cached = self._layer_bundles.setdefault(name, cached)
        return cached

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
        layer = None if self._base is None else self.program.name
        return (_rebuild, (self._sources, self._limits, layer))


def _rebuild(
    sources: Sequence[tuple[str, str]], limits: Limits, layer: str | None = None
) -> Bundle:
    bundle = loads_many(sources, limits=limits)
    return bundle if layer is None else bundle.layer(layer)


def parse_sources(
    sources: Iterable[tuple[str, str]], limits: Limits | None = None
) -> list[ast.Module]:
    """Parse each ``(name, text)``, collecting syntax errors of every file.

    After a syntax error, the rest of the file and the other files are still
    parsed, and checked: the :class:`ParseError` holds every syntax error and
    every check error the skipped declarations did not cause.
    """
    modules: list[ast.Module] = []
    diagnostics: list[Diagnostic] = []
    unread = False
    for name, text in sources:
        if len(text) > MAX_SOURCE_SIZE:
            diagnostics.append(
                Diagnostic(
                    Severity.ERROR,
                    "source_too_long",
                    f"the rules are {len(text):,} characters long; "
                    f"the limit is {MAX_SOURCE_SIZE:,}",
                    Span(Source(name, text[:1]), 0, 1),
                    help="split the rules into several files",
                )
            )
            unread = True
            continue
        try:
            module, syntax_errors = parse_module_recovering(text, name, limits)
        except ParseError as e:  # not text: nothing of the file can be checked
            diagnostics.extend(e.diagnostics)
            unread = True
            continue
        modules.append(module)
        diagnostics.extend(syntax_errors)
    if diagnostics:
        if not unread:
            diagnostics.extend(_check_diagnostics(modules))
        raise ParseError(sorted(diagnostics, key=_position))
    return modules


def _check_diagnostics(modules: list[ast.Module]) -> tuple[Diagnostic, ...]:
    """What the check finds in the declarations that parsed (errors and warnings)."""
    try:
        return check_layers(modules)[0].warnings  # the layers' problems too, each once
    except CheckError as e:
        return e.diagnostics


def _position(d: Diagnostic) -> tuple[str, int]:
    return ("", 0) if d.span is None else (d.span.source.name, d.span.start)


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
        # Everything made while paused is young: the first collection after the
        # pause would scan all of it (1.4 s for 10,000 rules), only to promote it.
        # freeze + unfreeze moves it to the oldest generation without a scan; it
        # is then scanned only by the collector's own full collections.  Only when
        # the host froze nothing itself: unfreeze() would thaw the host's objects
        # too (a pre-fork server freezes its heap to keep pages shared).
        if gc.get_freeze_count() == 0:
            gc.freeze()
            gc.unfreeze()
        if enabled:
            gc.enable()


def loads_many(
    sources: Sequence[tuple[str, str]],
    *,
    strict: bool = False,
    limits: Limits | None = None,
    cache: str | PathLike[str] | None = None,
) -> Bundle:
    """A bundle from several ``(name, text)`` sources.

    ``cache`` names a folder (made if missing) where the checked program is
    kept, keyed by a digest of the sources, the options and this socialflow's
    own code: loading the same rules again reads it back instead of parsing
    and checking (see :func:`load`).

    Raises:
        UsageError: ``sources`` is not a sequence of ``(name, text)`` string
            pairs, or ``cache`` is not a folder that can be made.
        ParseError, CheckError: as :func:`loads`.
    """
    sources = _checked_sources(sources)
    if limits is not None and not isinstance(limits, Limits):
        raise UsageError(f"limits must be a socialflow.cel.Limits, not {type(limits).__name__}")
    cached_at = None if cache is None else _cache_path(cache, sources, strict, limits)
    if cached_at is not None:
        stored = _read_cache(cached_at)
        if stored is not None:
            return Bundle(stored[0], sources, limits, stored[1])
    program, layers = _check(sources, strict, limits)
    if cached_at is not None:
        _write_cache(cached_at, (program, layers))
    return Bundle(program, sources, limits, layers)


def _check(
    sources: Sequence[tuple[str, str]], strict: bool, limits: Limits | None
) -> tuple[CheckedProgram, dict[str, CheckedProgram]]:
    try:
        with _gc_paused():
            modules = parse_sources(sources, limits)
            program, layers = check_layers(modules, strict=strict)
    except SourceError:
        raise
    except RecursionError:
        # every pass is iterative or depth-bounded: this is a last line of defence
        raise SourceLimitError(
            "nesting_too_deep", "the rules nest too deeply to load", None
        ) from None
    except Exception as e:  # a bug: still a socialflow error, and the cause is kept
        raise CheckError(
            [
                Diagnostic(
                    Severity.ERROR,
                    "internal_error",
                    f"loading failed with {type(e).__name__}: {e}",
                    help="this is a bug in socialflow: please report it with the rules",
                )
            ]
        ) from e
    return program, layers


# -- the cache of checked programs ------------------------------------------------------------

#: Bumped when what a cache file holds changes shape.
_CACHE_FORMAT: Final = 2


def _cache_path(
    cache: str | PathLike[str],
    sources: Sequence[tuple[str, str]],
    strict: bool,
    limits: Limits | None,
) -> Path:
    """The cache file for these sources and options (the folder is made)."""
    if not isinstance(cache, (str, PathLike)):
        raise UsageError(f"cache must be a folder path, not {type(cache).__name__}")
    folder = Path(cache)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"cannot use `{folder}` as the cache folder: {e.strerror}") from None
    if not folder.is_dir():
        raise UsageError(f"cannot use `{folder}` as the cache folder: not a folder")
    digest = hashlib.sha256()
    for part in (
        str(_CACHE_FORMAT), sys.version, _code_digest(), repr(strict),
        repr(limits or Limits()), str(len(sources)),
    ):  # fmt: skip
        digest.update(part.encode() + b"\0")
    for name, text in sources:
        for part in (name, text):
            data = part.encode("utf-8", "surrogatepass")
            digest.update(len(data).to_bytes(8, "big") + data)
    return folder / f"{digest.hexdigest()[:40]}.sfcache"


@functools.cache
def _code_digest() -> str:
    """A digest of this socialflow's own code and grammars: a cache written by
    other code (an upgrade, a local change) is never read back."""
    digest = hashlib.sha256()
    root = Path(__file__).resolve().parent
    files = sorted(root.rglob("*.py"))
    for path in files:
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    for grammar in ("cel.lark", "socialflow.lark"):
        digest.update(grammar_text(grammar).encode())
    return digest.hexdigest()


_Checked = tuple[CheckedProgram, dict[str, CheckedProgram]]


def _read_cache(path: Path) -> _Checked | None:
    """The program cached at ``path``, or ``None`` (missing, unreadable, written by
    another version or damaged: the rules are then loaded and the file rewritten)."""
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            return None
        data = path.read_bytes()
        with _gc_paused():
            stored = pickle.loads(data)
    except Exception:  # a damaged file is a cache miss, never an error
        return None
    if (
        isinstance(stored, tuple)
        and len(stored) == 3
        and stored[0] == _CACHE_FORMAT
        and isinstance(stored[1], CheckedProgram)
        and isinstance(stored[2], dict)
    ):
        return stored[1], stored[2]
    return None


def _write_cache(path: Path, checked: _Checked) -> None:
    """Store ``program`` at ``path`` atomically (a temporary file, then a rename);
    a failure (a read-only folder, a full disk) leaves loading unaffected."""
    try:
        with _gc_paused():
            data = pickle.dumps((_CACHE_FORMAT, *checked), protocol=pickle.HIGHEST_PROTOCOL)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".sfcache-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
    except Exception:
        pass


def _checked_sources(sources: Any) -> list[tuple[str, str]]:
    if isinstance(sources, (str, bytes)):
        raise UsageError("sources must be a sequence of (name, text) pairs, not a string")
    try:
        items = list(sources)
    except TypeError:
        raise UsageError(
            f"sources must be a sequence of (name, text) pairs, not {type(sources).__name__}"
        ) from None
    for item in items:
        if not (
            isinstance(item, tuple)
            and len(item) == 2
            and isinstance(item[0], str)
            and isinstance(item[1], str)
        ):
            raise UsageError("each source must be a (name, text) pair of strings")
    return items


def loads(
    text: str,
    name: str = "<rules>",
    *,
    strict: bool = False,
    limits: Limits | None = None,
    cache: str | PathLike[str] | None = None,
) -> Bundle:
    """A bundle from DSL text (``cache``: as :func:`load`).

    Raises:
        ParseError: syntax errors (all of them, with positions).
        CheckError: name, type and validation errors (all of them).
    """
    if not isinstance(text, str):
        raise UsageError("rules text must be a string")
    if not isinstance(name, str):
        raise UsageError(f"the name of the rules must be a string, not {type(name).__name__}")
    return loads_many([(name, text)], strict=strict, limits=limits, cache=cache)


def load(
    paths: str | PathLike[str] | Sequence[str | PathLike[str]],
    *,
    strict: bool = False,
    limits: Limits | None = None,
    cache: str | PathLike[str] | None = None,
) -> Bundle:
    """A bundle from a file, a list of files, or a folder (every ``*.sf`` in it and
    its subfolders, sorted).

    Only regular files are read, and none larger than :data:`MAX_SOURCE_SIZE`
    (10 MiB); see :func:`read_sources`.

    ``cache`` names a folder (made if missing) for checked programs: the first
    load of some rules stores theirs, keyed by a digest of the rule texts and
    names, ``strict``, ``limits`` and this socialflow's own code; a later load
    of the same rules reads it back instead of parsing and checking them,
    several times faster.  Any change (a rule, an option, an upgrade) makes a
    new key, so a cache is never stale; old files are not removed.  The files
    are Python pickles: point ``cache`` at a folder only the host writes.  A
    damaged or unreadable cache file is ignored (and rewritten); failing to
    write one does not fail the load.

    Raises:
        UsageError: a path does not exist, is not a regular file or a folder, is
            too large or cannot be read, or a folder holds no ``.sf`` file.
        ParseError, CheckError: as :func:`loads` (a file that is not UTF-8 is a
            ``ParseError`` at its first bad byte).
    """
    return loads_many(read_sources(paths), strict=strict, limits=limits, cache=cache)


def read_sources(
    paths: str | PathLike[str] | Sequence[str | PathLike[str]],
) -> list[tuple[str, str]]:
    """Read rule files: a file, a list of files, or a folder of ``*.sf`` files.

    A path given by name is read whatever its suffix.  A folder is scanned with
    its subfolders for names ending in ``.sf``; a folder whose name ends in
    ``.sf`` is scanned like any other, not read, and links to folders are not
    followed (links to files are).  Only regular files are read: a FIFO, a
    device, a socket or a broken link is refused before anything is opened,
    and so is a file larger than :data:`MAX_SOURCE_SIZE`.  The bytes are
    decoded as UTF-8; a byte that is not UTF-8 is kept as a lone surrogate
    (``surrogateescape``), which the parser reports as ``invalid_encoding`` at
    its line and column.

    Raises:
        UsageError: naming the path, for each of the refusals above, and when a
            file or folder cannot be read (permissions, I/O errors).
    """
    files: list[Path] = []
    for path in _path_items(paths):
        mode = _stat(path).st_mode
        if stat.S_ISDIR(mode):
            found = _scan(path)
            if not found:
                raise UsageError(f"no `{SUFFIX}` files in folder `{path}`")
            files.extend(found)
        elif stat.S_ISREG(mode):
            files.append(path)
        else:
            raise UsageError(f"`{path}` is {_kind(mode)}, not a rule file")
    return [(str(f), _read(f)) for f in files]


def _path_items(paths: Any) -> list[Path]:
    if isinstance(paths, (str, PathLike)):
        items: list[Any] = [paths]
    elif isinstance(paths, (bytes, bytearray)):
        raise UsageError("paths must be strings or path objects, not bytes")
    else:
        try:
            items = list(paths)
        except TypeError:
            raise UsageError(
                f"paths must be a path or a list of paths, not {type(paths).__name__}"
            ) from None
    out: list[Path] = []
    for item in items:
        if not isinstance(item, (str, PathLike)):
            raise UsageError(f"a path must be a string or a path object, not {type(item).__name__}")
        try:
            path = Path(item)
        except TypeError:  # a PathLike whose os.fspath is bytes
            raise UsageError(f"a path must be text, not bytes: `{item!r}`") from None
        out.append(path)
    return out


def _stat(path: Path) -> os.stat_result:
    """``os.stat`` (following links), every failure a :class:`UsageError` naming the path."""
    try:
        return os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        if os.path.islink(path):
            raise UsageError(f"`{path}` is a broken symbolic link") from None
        raise UsageError(f"no such file or folder: `{path}`") from None
    except OSError as e:
        raise UsageError(f"cannot read `{path}`: {e.strerror or e}") from None
    except ValueError:  # an embedded NUL
        shown = str(path).replace("\0", "\\0")
        raise UsageError(f"invalid path `{shown}`: it contains a NUL character") from None


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _scan(folder: Path) -> list[Path]:
    """Every ``*.sf`` under ``folder``, sorted; iterative, so no depth is too deep."""
    found: list[Path] = []
    pending = [folder]
    while pending:
        current = pending.pop()
        try:
            with os.scandir(current) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError as e:
            raise UsageError(f"cannot read folder `{current}`: {e.strerror or e}") from None
        for entry in entries:
            path = current / entry.name
            try:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(path)
                    continue
            except OSError:
                pass
            if not entry.name.endswith(SUFFIX):
                continue
            mode = _stat(path).st_mode
            if stat.S_ISREG(mode):
                found.append(path)
            elif not stat.S_ISDIR(mode):  # a link to a folder is not followed
                raise UsageError(f"`{path}` is {_kind(mode)}, not a rule file")
    return sorted(found)


def _read(path: Path) -> str:
    """The text of a regular file of at most :data:`MAX_SOURCE_SIZE` bytes.

    Opened without blocking and checked again once open, so a file swapped for a
    FIFO after the first check cannot hang the read.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as e:
        raise UsageError(f"cannot read `{path}`: {e.strerror or e}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UsageError(f"`{path}` is {_kind(info.st_mode)}, not a rule file")
        chunks: list[bytes] = []
        size = 0
        # the size stat gives may be wrong (a file still growing, /proc): read at
        # most one byte more than the limit, to tell "too large" from "just fits"
        while info.st_size <= MAX_SOURCE_SIZE and size <= MAX_SOURCE_SIZE:
            chunk = os.read(fd, MAX_SOURCE_SIZE + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if max(size, info.st_size) > MAX_SOURCE_SIZE:
            raise UsageError(
                f"`{path}` is larger than {MAX_SOURCE_SIZE:,} bytes, the limit for a rule file"
            )
    except OSError as e:
        raise UsageError(f"cannot read `{path}`: {e.strerror or e}") from None
    finally:
        os.close(fd)
    return b"".join(chunks).decode("utf-8", "surrogateescape")


# SourceError is what load/loads raise (ParseError or CheckError).
_ = SourceError
