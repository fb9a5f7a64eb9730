"""Every machine-readable error code the library can produce is documented.

A *code* is the ``code`` of a :class:`~socialflow.Diagnostic` (``ParseError``,
``CheckError``, warnings), the ``kind`` of an ``EvalError`` /
``LimitExceededError`` / ``SourceLimitError`` / ``ConditionError``, or the
``code`` of a definition problem (``Calendar.problems()``,
``EscalationPolicy.problems()``).  Each one must have a row in a table of
``docs/errors.md``: the code in backticks in the first cell.

How the codes are collected: statically, from the syntax trees of
``src/socialflow`` (nothing is imported or run), by following the *parameters*
codes travel through rather than by guessing which strings look like codes.

1. **Slots.**  Codes start in a few parameters, the *code slots*: a ``code``
   field of an attrs record (``Diagnostic``, ``CalendarProblem``,
   ``EscalationProblem``) and a ``code`` or ``kind`` parameter of a class whose
   name ends in ``Error`` (``EvalError``, ``LimitExceededError``,
   ``SourceLimitError``, ``ConditionError``), annotated ``str``.  A class with
   neither an ``__init__`` nor attrs fields has its base's signature.  A
   function that hands one of its own parameters, unchanged, to a slot has a
   slot there too (iterated to a fixed point): so ``Context.error(code, ...)``,
   the CEL parser's ``error(..., code="syntax_error")`` and any new helper such
   as ``def fail(kind: str): raise EvalError(kind, ...)`` are followed to their
   callers, while a ``code`` parameter that holds something else (generated
   Python source) is not mistaken for one.
2. **Calls.**  Every call is matched to the definition it names: for
   ``x.name(...)``, the method of ``x``'s class when ``x`` is ``self`` or an
   annotated parameter; otherwise the only definition of that name in the
   calling module, or else in the modules it imports.  A name defined nowhere
   the caller can see is someone else's (``Path.resolve``); a call that stays
   ambiguous fails the test.  A call that matches no definition (a callable
   parameter such as ``error: ErrorFactory``) has a slot only in a ``code=``
   keyword argument.  The argument in the slot (by position or keyword; the
   default when absent) is then:

   * a string literal: a code, collected (defaults of slots are collected too);
   * a slot parameter of the enclosing function, or ``x.kind`` / ``x.code``: a
     code passed on unchanged, collected where it was made;
   * anything else (an f-string, a variable): it must be listed in
     :data:`DYNAMIC` with the codes it can take, or the test fails, so a code
     built at run time cannot slip past unnoticed.

So ``ctx.error("new_code", ...)``, ``EvalError("new_kind", ...)`` or a new
problem code without a row in ``docs/errors.md`` fails
:func:`test_every_code_is_documented`.  :func:`test_collection_finds_known_codes`
keeps the collector honest (one code for each way of passing one), codes must
be snake_case, and a code listed in the docs' code tables must still exist.
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from socialflow.dsl.check.workflows import _ARG_KINDS

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "socialflow"
ERRORS_DOC = ROOT / "docs" / "errors.md"

#: Slot arguments that are not literals, by file and source text: the codes each
#: can take.  A new non-literal slot argument fails the test until it is listed.
DYNAMIC: dict[tuple[str, str], frozenset[str]] = {
    # workflow effect arguments `queue X`, `role X`, `escalation X`
    ("dsl/check/workflows.py", "f'undeclared_{kind}'"): frozenset(
        f"undeclared_{kind}" for kind in _ARG_KINDS
    ),
}

_CODE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*\Z")


@dataclass(eq=False)
class _Callable:
    """A function, method or class, with its parameters in call order."""

    module: str
    name: str
    #: the class of a method
    owner: str | None = None
    is_class: bool = False
    #: an attrs record: its parameters are its fields
    is_record: bool = False
    params: list[str] = field(default_factory=list)
    keyword_only: set[str] = field(default_factory=set)
    annotations: dict[str, str] = field(default_factory=dict)
    defaults: dict[str, ast.expr] = field(default_factory=dict)
    slots: set[str] = field(default_factory=set)
    #: the function whose body may forward its parameters (a class's ``__init__``)
    body: ast.FunctionDef | None = None
    #: for a class with no signature of its own: its bases' names
    bases: list[str] = field(default_factory=list)

    def take_signature(self, fn: ast.FunctionDef, method: bool) -> None:
        args = fn.args
        positional = [*args.posonlyargs, *args.args]
        if method and positional and positional[0].arg in ("self", "cls"):
            positional = positional[1:]
        self.body = fn
        self.params = [a.arg for a in (*positional, *args.kwonlyargs)]
        self.keyword_only = {a.arg for a in args.kwonlyargs}
        for a in (*positional, *args.kwonlyargs):
            if a.annotation is not None:
                self.annotations[a.arg] = ast.unparse(a.annotation)
        tail = positional[len(positional) - len(args.defaults) :]
        self.defaults.update((a.arg, d) for a, d in zip(tail, args.defaults, strict=True))
        for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True):
            if d is not None:
                self.defaults[a.arg] = d

    def take_attrs_fields(self, cls: ast.ClassDef) -> None:
        for item in cls.body:
            if not (isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)):
                continue
            annotation = ast.unparse(item.annotation)
            value = "" if item.value is None else ast.unparse(item.value)
            if "ClassVar" in annotation or "init=False" in value:
                continue
            self.params.append(item.target.id)
            self.annotations[item.target.id] = annotation
            if item.value is not None and not isinstance(item.value, ast.Call):
                self.defaults[item.target.id] = item.value


def _is_attrs(cls: ast.ClassDef) -> bool:
    return any(ast.unparse(d).startswith(("attrs.", "attr.")) for d in cls.decorator_list)


def _definitions(trees: dict[str, ast.Module]) -> dict[str, list[_Callable]]:
    """Every function, method and class of the source, by name, with its slots."""
    found: dict[str, list[_Callable]] = {}

    def visit(node: ast.AST, module: str, owner: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                cls = _Callable(module, child.name, is_class=True)
                init = [n for n in child.body if isinstance(n, ast.FunctionDef)]
                init = [n for n in init if n.name == "__init__"]
                if init:
                    cls.take_signature(init[0], method=True)
                elif _is_attrs(child):
                    cls.take_attrs_fields(child)
                    cls.is_record = True
                else:
                    cls.bases = [ast.unparse(b).rpartition(".")[2] for b in child.bases]
                found.setdefault(child.name, []).append(cls)
                visit(child, module, child.name)
            elif isinstance(child, ast.FunctionDef):
                if not (owner and child.name == "__init__"):
                    fn = _Callable(module, child.name, owner=owner)
                    fn.take_signature(child, method=owner is not None)
                    found.setdefault(child.name, []).append(fn)
                visit(child, module, None)
            else:
                visit(child, module, owner)

    for module, tree in trees.items():
        visit(tree, module, None)
    classes = {c.name: c for cs in found.values() for c in cs if c.is_class}
    inherited = True
    while inherited:  # a class with no signature of its own takes its base's
        inherited = False
        for cls in classes.values():
            parents = [classes[b] for b in cls.bases if b in classes and classes[b].params]
            if parents and not cls.params:
                cls.params = list(parents[0].params)
                cls.keyword_only = set(parents[0].keyword_only)
                cls.annotations = dict(parents[0].annotations)
                cls.defaults = dict(parents[0].defaults)
                inherited = True
    for callables in found.values():
        for c in callables:
            for p in c.params:
                error_class = c.is_class and c.name.endswith("Error") and p in ("code", "kind")
                record = c.is_record and p == "code"
                if c.annotations.get(p) == "str" and (error_class or record):
                    c.slots.add(p)
    return found


def _imports(tree: ast.Module) -> set[str]:
    """The source files (``cel/parser.py``) a module imports from."""
    out: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            if name.split(".")[0] == "socialflow":
                parts = name.split(".")[1:]
                out.update(("/".join(parts) + ".py", "/".join([*parts, "__init__.py"])))
    return out


@dataclass
class _Site:
    """A call, where it is: its module, the enclosing function and class."""

    call: ast.Call
    module: str
    imported: set[str]
    function: ast.FunctionDef | None
    cls: str | None
    #: the functions the call is in, innermost first (closures see their outer names)
    scopes: tuple[ast.FunctionDef, ...] = ()


def _sites(module: str, tree: ast.Module) -> Iterator[_Site]:
    imported = _imports(tree)

    def visit(
        node: ast.AST, scopes: tuple[ast.FunctionDef, ...], cls: str | None, in_class: str | None
    ) -> Iterator[_Site]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Call):
                function = scopes[0] if scopes else None
                yield _Site(child, module, imported, function, cls, scopes)
            if isinstance(child, ast.ClassDef):
                yield from visit(child, scopes, cls, child.name)
            elif isinstance(child, ast.FunctionDef):
                yield from visit(child, (child, *scopes), in_class or cls, None)
            else:
                yield from visit(child, scopes, cls, in_class)

    yield from visit(tree, (), None, None)


def _receiver_class(site: _Site) -> str | None:
    """The class of ``x`` in ``x.name(...)``: ``self``'s, or ``x``'s annotation."""
    func = site.call.func
    if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)):
        return None
    receiver = func.value.id
    if receiver in ("self", "cls"):
        return site.cls
    for function in site.scopes:
        args = function.args
        for a in (*args.posonlyargs, *args.args, *args.kwonlyargs):
            if a.arg == receiver and a.annotation is not None:
                text = ast.unparse(a.annotation).strip("'\"").split("|")[0].strip()
                return text.rpartition(".")[2]
    return None


def _resolve(site: _Site, found: dict[str, list[_Callable]]) -> _Callable | None:
    func = site.call.func
    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
    candidates = found.get(name, [])
    if not any(c.slots for c in candidates):
        return None
    owner = _receiver_class(site)
    typed = [c for c in candidates if owner is not None and c.owner == owner]
    if len(typed) == 1:
        return typed[0]
    reachable = [c for c in candidates if c.module == site.module] or [
        c for c in candidates if c.module in site.imported
    ]
    if not reachable:
        return None  # a method of the same name on someone else's object
    if len({(tuple(c.params), frozenset(c.slots)) for c in reachable}) == 1:
        return reachable[0]
    raise AssertionError(
        f"{site.module}:{site.call.lineno}: cannot tell which `{name}` is called "
        f"(defined in {sorted(c.module for c in reachable)}); teach _resolve"
    )


def _slot_arguments(call: ast.Call, target: _Callable) -> Iterator[ast.expr]:
    """The argument (or default) in each code slot of ``target``."""
    positional = [p for p in target.params if p not in target.keyword_only]
    for slot in sorted(target.slots):
        given = next((kw.value for kw in call.keywords if kw.arg == slot), None)
        if given is None and slot in positional:
            index = positional.index(slot)
            before = call.args[: index + 1]
            if index < len(call.args) and not any(isinstance(a, ast.Starred) for a in before):
                given = call.args[index]
        if given is None:
            given = target.defaults.get(slot)
        if given is not None:
            yield given


@functools.cache
def collect_codes() -> dict[str, frozenset[str]]:
    """Every code, with the places (``file:line``) that produce it."""
    trees = {
        p.relative_to(SRC).as_posix(): ast.parse(p.read_text(encoding="utf-8"), str(p))
        for p in sorted(SRC.rglob("*.py"))
    }
    found = _definitions(trees)
    by_body = {id(c.body): c for cs in found.values() for c in cs if c.body is not None}
    sites = [site for module, tree in trees.items() for site in _sites(module, tree)]
    codes: dict[str, set[str]] = {}
    unexplained: list[str] = []
    changed = True
    while changed:  # until no helper gains a slot by forwarding its own parameter
        changed = False
        unexplained = []
        for site in sites:
            target = _resolve(site, found)
            if target is not None:
                arguments = list(_slot_arguments(site.call, target))
            else:  # a callable parameter (``error: ErrorFactory``) called with ``code=``
                arguments = [kw.value for kw in site.call.keywords if kw.arg == "code"]
            enclosing = by_body.get(id(site.function))
            where = f"{site.module}:{site.call.lineno}"
            for arg in arguments:
                text = ast.unparse(arg)
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    codes.setdefault(arg.value, set()).add(where)
                elif isinstance(arg, ast.Attribute) and arg.attr in ("kind", "code"):
                    pass  # passes on a code made, and collected, elsewhere
                elif isinstance(arg, ast.Name) and enclosing and arg.id in enclosing.params:
                    if arg.id not in enclosing.slots:
                        enclosing.slots.add(arg.id)
                        changed = True
                elif (site.module, text) in DYNAMIC:
                    for code in DYNAMIC[site.module, text]:
                        codes.setdefault(code, set()).add(where)
                else:
                    unexplained.append(f"{where}: `{text}`")
    for callables in found.values():
        for c in callables:
            for slot in c.slots:
                default = c.defaults.get(slot)
                if isinstance(default, ast.Constant) and isinstance(default.value, str):
                    codes.setdefault(default.value, set()).add(f"{c.module} ({c.name} default)")
    assert not unexplained, (
        "a code is passed as something other than a string literal; list it in "
        "DYNAMIC with the codes it can take:\n" + "\n".join(unexplained)
    )
    return {code: frozenset(where) for code, where in codes.items()}


def _first_cells(text: str) -> Iterator[tuple[str, str]]:
    """``(first cell of the table's header, first cell)`` of each table row."""
    header = ""
    previous_was_row = False
    for line in text.splitlines():
        if not line.startswith("|"):
            previous_was_row = False
            continue
        first = line.split("|")[1].strip()
        if not previous_was_row:
            header = first
        previous_was_row = True
        yield header, first


def documented_codes() -> set[str]:
    """Names in backticks in the first cell of a table row of ``docs/errors.md``."""
    text = ERRORS_DOC.read_text(encoding="utf-8")
    return {name for _, first in _first_cells(text) for name in re.findall(r"`([^`]+)`", first)}


def listed_codes() -> set[str]:
    """The codes in the tables of ``docs/errors.md`` headed ``code`` or ``kind``."""
    text = ERRORS_DOC.read_text(encoding="utf-8")
    return {
        name
        for header, first in _first_cells(text)
        if header in ("code", "kind") and first != header
        for name in re.findall(r"`([^`]+)`", first)
        if _CODE.match(name)  # not the class names beside some codes
    }


def test_collection_finds_known_codes() -> None:
    # one code for each way of passing one, so a broken collector cannot pass vacuously
    expected = {
        "syntax_error",  # Diagnostic(Severity.ERROR, "syntax_error", ...) in _syntax.py
        "invalid_escape",  # the CEL parser's b.error(msg, span, code="invalid_escape")
        "invalid_macro",  # error(msg, span, code=...) of a callable parameter
        "invalid_encoding",  # Diagnostic(...) in the DSL parser
        "undeclared_field",  # the CEL checker's self.error("undeclared_field", ...)
        "unused_declaration",  # ctx.warning(...)
        "undeclared_queue",  # ctx.resolve(..., "undeclared_queue")
        "undeclared_role",  # the f-string in DYNAMIC
        "division_by_zero",  # EvalError("division_by_zero", ...)
        "iteration_limit",  # LimitExceededError(...)
        "nesting_too_deep",  # SourceLimitError(...)
        "invalid_value",  # the triage engine's EvalError for `set` values
        "empty_interval",  # CalendarProblem("empty_interval", ...)
        "level_numbering",  # EscalationProblem("level_numbering", ...)
    }
    codes = collect_codes()
    assert expected <= codes.keys(), sorted(expected - codes.keys())
    assert len(codes) >= 60


def test_codes_are_snake_case() -> None:
    bad = {code: sorted(where) for code, where in collect_codes().items() if not _CODE.match(code)}
    assert not bad, f"codes must be snake_case: {bad}"


def test_every_code_is_documented() -> None:
    documented = documented_codes()
    missing = {
        code: sorted(where) for code, where in collect_codes().items() if code not in documented
    }
    assert not missing, (
        "codes without a row in docs/errors.md (write the code in backticks in the "
        f"first cell of a row of the right table): {missing}"
    )


def test_every_documented_code_exists() -> None:
    stale = sorted(listed_codes() - collect_codes().keys())
    assert not stale, f"docs/errors.md lists codes the source never produces: {stale}"
