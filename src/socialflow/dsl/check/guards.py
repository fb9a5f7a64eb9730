"""Optional schema fields read without a ``has()`` guard.

A message may lack an optional field (``rating?: int``), and reading a field
that is absent is an evaluation error (``no_such_key``).  So every read of an
optional field, nested ones included (``msg.author.nickname``), must be
guarded: :func:`check_guards` walks an expression carrying the set of field
paths known to be present where each sub-expression is evaluated, and
reports the reads of optional paths outside it.

What a guard proves follows CEL's evaluation of the logical operators, which
absorb an error when another operand decides (``false && error`` is false):

- ``A && B``: an operand of the chain may assume what other operands prove
  when true (``has(msg.rating) && msg.rating >= 4``; the order does not
  matter to CEL, so ``msg.rating >= 4 && has(msg.rating)`` is guarded too).
- ``A || B``: the same with what other operands prove when *false*
  (``!has(msg.rating) || msg.rating > 3``).
- Two operands never rely on each other: a pure guard (``has()`` tests
  joined by ``!``, ``&&``, ``||``) relies only on the pure guards before it,
  any other operand on every pure guard and on the operands before it.
- ``C ? A : B``: ``A`` assumes what ``C`` proves when true, ``B`` what it
  proves when false.
- ``!A`` proves when true what ``A`` proves when false, and the reverse.
- ``has(a.b.c)`` when true proves ``a.b.c`` present, and ``a.b`` with it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Final

from socialflow.cel import ast as cel_ast
from socialflow.cel.checker import CheckedExpr
from socialflow.cel.types import ObjectType
from socialflow.dsl import ast
from socialflow.dsl.check.context import Context
from socialflow.dsl.program import Schema, SchemaField

__all__ = [
    "LIST_TYPE",
    "MAP_TYPE",
    "Fields",
    "OpenRecord",
    "check_guards",
    "fields_of",
    "may_be_missing",
    "proven",
]

#: A field path: the variable, then the field names (``("msg", "author", "nickname")``).
Path = tuple[str, ...]
#: Each schema's fields by name.
Fields = Mapping[str, Mapping[str, SchemaField]]

#: A list or map type's text, and its argument(s).
LIST_TYPE: Final = re.compile(r"list\((.*)\)\Z")
MAP_TYPE: Final = re.compile(r"map\((.*)\)\Z")
#: A placeholder value of each type, for the ``? :`` form in a help text.
_DEFAULTS: Final = {
    "int": "0",
    "uint": "0u",
    "double": "0.0",
    "string": '""',
    "bool": "false",
    "bytes": 'b""',
    "duration": 'duration("0s")',
}
_NOTHING: Final[frozenset[Path]] = frozenset()


def fields_of(schemas: Mapping[str, Schema]) -> Fields:
    """Each schema's fields by name, for :func:`check_guards`."""
    return {name: {f.name: f for f in schema.fields} for name, schema in schemas.items()}


def may_be_missing(fields: Fields, root: str | None) -> bool:
    """Can a value of schema ``root`` lack a field, at any depth?  When it cannot
    (no optional field anywhere below), there is nothing to guard."""
    seen: set[str] = set()
    todo = [root] if root is not None else []
    while todo:
        name = todo.pop()
        if name in seen or name not in fields:
            continue
        seen.add(name)
        for f in fields[name].values():
            if f.optional:
                return True
            todo.extend(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", f.type))
    return False


#: An expression to visit, the paths known present there, the schema-typed
#: variables, and the boolean expression a guard for it would join (the
#: condition, or the body of the comprehension that binds the variable).
_Item = tuple[cel_ast.Expr, frozenset[Path], Mapping[str, str], cel_ast.Expr]


class OpenRecord(Mapping[str, SchemaField]):
    """The fields of a host record whose attributes are the host's own: the
    ``fixed`` ones are always there, any other may be missing (``dyn``)."""

    def __init__(self, fixed: tuple[str, ...]) -> None:
        self._fixed = {name: SchemaField(name, "dyn", False) for name in fixed}

    def __getitem__(self, name: str) -> SchemaField:
        return self._fixed.get(name) or SchemaField(name, "dyn", True)

    def __iter__(self) -> Iterator[str]:
        return iter(self._fixed)

    def __len__(self) -> int:
        return len(self._fixed)


def check_guards(
    ctx: Context,
    text: ast.CelText,
    fields: Fields,
    roots: Mapping[str, str],
    condition: bool,
    fail_closed: str | None = None,
    known: frozenset[Path] = _NOTHING,
    checked: CheckedExpr | None = None,
) -> None:
    """Report each optional field ``text`` reads where it may be absent (once per
    field path).  ``roots`` are the variables whose values have a schema type
    (the input: ``{"msg": "Message"}``); ``condition`` chooses the guarded form
    the help shows (``has(P) && ...`` for a condition, ``has(P) ? P : ...``
    for a value).  With ``fail_closed`` (a note saying what an error does to
    the access rule) each read is an ``unguarded_attribute`` warning instead.
    ``known``: the paths present wherever ``text`` is evaluated (for a rule's
    ``set`` or ``assign`` value, what its matching ``when`` proves: :func:`proven`).
    ``checked``: the checker's types of ``text``; with them, a read that is not a
    plain path of a variable (``msg.replies[0].rating``, a field of a macro's
    result or of a loop over one) is found optional by the type it reads from.

    The nodes are visited in source order, so the first unguarded read of a
    field is the one reported."""
    reported: set[Path] = set()
    todo: list[_Item] = [(text.expr, known, roots, text.expr)]
    while todo:
        node, known, env, host = todo.pop()
        kind = type(node)
        if kind is cel_ast.Select:
            select: cel_ast.Select = node  # type: ignore[assignment]
            todo.append((select.operand, known, env, host))
            if select.test_only:
                continue
            read = _resolve(select, fields, env)
            if read is None and checked is not None:
                read = _typed_read(select, fields, checked)
            if read is not None and read[1].optional and read[0] not in known:
                path, f, optional = read
                if path not in reported:
                    # one error for `msg.author.nickname`, whose help guards both
                    reported.update(optional)
                    missing = tuple(p for p in optional if p not in known)
                    _report(
                        ctx,
                        text,
                        select,
                        f,
                        missing,
                        condition and host is text.expr,
                        host,
                        fail_closed,
                    )
        elif kind is cel_ast.Call:
            call: cel_ast.Call = node  # type: ignore[assignment]
            _call(call, known, env, host, todo)
        elif kind is cel_ast.Comprehension:
            loop: cel_ast.Comprehension = node  # type: ignore[assignment]
            inner = _bind(loop, fields, env)
            bound = inner.keys() - env.keys()
            # the loop's variables are new values: what was proven of the outer
            # ones of the same names says nothing of them
            names = (loop.var, loop.var2)
            inside = frozenset(p for p in known if p[0] not in names)
            body = inside
            if loop.filter is not None:
                # the transform of `map(x, filter, transform)` runs where the filter held
                body = inside | _proves(loop.filter, True)
                todo.append((loop.body, body, inner, loop.body if bound else host))
                todo.append((loop.filter, inside, inner, loop.filter if bound else host))
            else:
                todo.append((loop.body, body, inner, loop.body if bound else host))
            todo.append((loop.range, known, env, host))
        else:
            todo.extend((kid, known, env, host) for kid in reversed(cel_ast.children(node)))


def proven(condition: ast.CelText | None) -> frozenset[Path]:
    """The field paths certainly present when ``condition`` is true: what a rule's
    actions may read unguarded, since they run only when it matched."""
    return _NOTHING if condition is None else _proves(condition.expr, True)


def _call(
    call: cel_ast.Call,
    known: frozenset[Path],
    env: Mapping[str, str],
    host: cel_ast.Expr,
    todo: list[_Item],
) -> None:
    function = call.function
    if call.target is None and function in ("_&&_", "_||_"):
        operands = _chain(call)
        proofs = [_proves(op, function == "_&&_") for op in operands]
        if not any(proofs):
            todo.extend((op, known, env, host) for op in reversed(operands))
            return
        # An operand may assume what the others prove, as long as no two operands
        # rely on each other (`has(a.b.c) && has(a.b.c)` guards nothing of `a.b`):
        # a pure guard (only has(), !, &&, ||) relies on the pure guards before
        # it; any other operand on every pure guard and the operands before it.
        pure = [_pure_guard(op) for op in operands]
        every_guard = frozenset().union(*(p for p, g in zip(proofs, pure, strict=True) if g))
        guards_before = others_before = _NOTHING
        items: list[_Item] = []
        for op, proof, is_guard in zip(operands, proofs, pure, strict=True):
            if is_guard:
                items.append((op, known | guards_before, env, host))
                guards_before = guards_before | proof
            else:
                items.append((op, known | every_guard | others_before, env, host))
                others_before = others_before | proof
        todo.extend(reversed(items))  # visited in source order
        return
    if call.target is None and function == "_?_:_" and len(call.args) == 3:
        test, yes, no = call.args
        todo.append((no, known | _proves(test, False), env, host))
        todo.append((yes, known | _proves(test, True), env, host))
        todo.append((test, known, env, host))
        return
    todo.extend((kid, known, env, host) for kid in reversed(cel_ast.children(call)))


def _chain(call: cel_ast.Call) -> list[cel_ast.Expr]:
    """The operands of a chain of one of ``&&``/``||``, flattened without recursion."""
    out: list[cel_ast.Expr] = []
    stack: list[cel_ast.Expr] = [call]
    while stack:
        item = stack.pop()
        if isinstance(item, cel_ast.Call) and item.function == call.function and not item.target:
            stack.extend(reversed(item.args))
        else:
            out.append(item)
    return out


def _proves(node: cel_ast.Expr, when: bool) -> frozenset[Path]:
    """The field paths certainly present when ``node`` evaluates to ``when``.

    Without recursion: ``!`` flips ``when``; a chain proves the union of its
    operands' proofs when it is decided by all of them (``&&`` true, ``||``
    false), nothing otherwise."""
    out: set[Path] = set()
    todo = [(node, when)]
    while todo:
        item, value = todo.pop()
        if isinstance(item, cel_ast.Select) and item.test_only:
            path = _path(item)
            if value and path is not None:
                out.update(path[:i] for i in range(2, len(path) + 1))
        elif isinstance(item, cel_ast.Call) and item.target is None:
            if item.function == "!_" and len(item.args) == 1:
                todo.append((item.args[0], not value))
            elif (item.function == "_&&_" and value) or (item.function == "_||_" and not value):
                todo.extend((arg, value) for arg in item.args)
    return frozenset(out)


def _pure_guard(node: cel_ast.Expr) -> bool:
    """Is ``node`` made of ``has()`` tests joined by ``!``, ``&&`` and ``||`` only?"""
    todo = [node]
    while todo:
        item = todo.pop()
        if isinstance(item, cel_ast.Select) and item.test_only:
            continue
        if (
            isinstance(item, cel_ast.Call)
            and item.target is None
            and item.function in ("!_", "_&&_", "_||_")
        ):
            todo.extend(item.args)
            continue
        return False
    return True


def _path(select: cel_ast.Select) -> Path | None:
    """``a.b.c`` as ``("a", "b", "c")``, an index as its text (``a.b[0].c`` is
    ``("a", "b", "[0]", "c")``); None when it is not such a chain on a variable."""
    names = [select.field]
    node = select.operand
    while True:
        if isinstance(node, cel_ast.Select) and not node.test_only:
            names.append(node.field)
            node = node.operand
        elif isinstance(node, cel_ast.Index):
            names.append(f"[{node.index.span.text()}]")
            node = node.operand
        else:
            break
    if not isinstance(node, cel_ast.Ident):
        return None
    names.append(node.name)
    return tuple(reversed(names))


def _typed_read(
    select: cel_ast.Select, fields: Fields, checked: CheckedExpr
) -> tuple[Path, SchemaField, tuple[Path, ...]] | None:
    """The read ``select`` makes, decided by the type it reads from: its path (or
    its text, when it has none) and the field, when that is a schema's field."""
    record = checked.type_of(select.operand)
    if not isinstance(record, ObjectType) or record.name not in fields:
        return None
    found = fields[record.name].get(select.field)
    if found is None:
        return None
    path = _path(select) or (select.span.text(),)
    return path, found, (path,) if found.optional else ()


def _resolve(
    select: cel_ast.Select, fields: Fields, env: Mapping[str, str]
) -> tuple[Path, SchemaField, tuple[Path, ...]] | None:
    """The path ``select`` reads, the schema field it is and the optional
    fields on the way (the path's prefixes that are optional), when it reads
    a field of a schema-typed variable."""
    path = _path(select)
    if path is None or path[0] not in env:
        return None
    schema = env[path[0]]
    found: SchemaField | None = None
    optional: list[Path] = []
    for i in range(1, len(path)):
        found = fields.get(schema, {}).get(path[i])
        if found is None:
            return None
        if found.optional:
            optional.append(path[: i + 1])
        schema = found.type
    return (path, found, tuple(optional)) if found is not None else None


def _bind(loop: cel_ast.Comprehension, fields: Fields, env: Mapping[str, str]) -> Mapping[str, str]:
    """The schema-typed variables inside a comprehension: its loop variables shadow
    the outer ones, and one bound to elements of a list of records gets their
    schema (``msg.replies.exists(r, has(r.rating) && r.rating > 3)``)."""
    inner = {k: v for k, v in env.items() if k not in (loop.var, loop.var2)}
    if not isinstance(loop.range, cel_ast.Select) or loop.range.test_only:
        return inner
    read = _resolve(loop.range, fields, env)
    if read is None:
        return inner
    text = read[1].type
    element: str | None = None
    listed = LIST_TYPE.match(text)
    if listed is not None:
        element = listed.group(1)
        var = loop.var2 if loop.var2 is not None else loop.var
    else:
        mapped = MAP_TYPE.match(text)
        if mapped is not None and loop.var2 is not None:
            element = mapped.group(1).split(",", 1)[1].strip()
            var = loop.var2
    if element is not None and element in fields:
        inner[var] = element
    return inner


def _report(
    ctx: Context,
    text: ast.CelText,
    select: cel_ast.Select,
    f: SchemaField,
    missing: tuple[Path, ...],
    condition: bool,
    host: cel_ast.Expr,
    fail_closed: str | None,
) -> None:
    written = _written(select)
    guards = " && ".join(f"has({_text(p)})" for p in missing)
    if condition or host is not text.expr:
        form = _guarded(text, host, select, guards)
        where = "guard the condition" if host is text.expr else "guard it inside the loop"
    else:
        default = _DEFAULTS.get(f.type, "null")
        test = guards if len(missing) == 1 else f"({guards})"
        form = f"{test} ? {written} : {default}"
        where = "give a value for when it is absent"
    if fail_closed is not None:
        ctx.warning(
            "unguarded_attribute",
            f"`{written}` is a host attribute that may be missing, read without a `has()` guard",
            select.span,
            f"{where}: `{form}`",
            notes=(fail_closed,),
        )
        return
    ctx.error(
        "unguarded_optional_field",
        f"`{written}` is optional and is read without a `has()` guard: "
        "a message without it makes this an evaluation error",
        select.span,
        f"{where}: `{form}`",
    )


def _text(path: Path) -> str:
    """A path as written: ``msg.replies[0].rating``."""
    return "".join(p if p.startswith("[") or i == 0 else "." + p for i, p in enumerate(path))


def _written(select: cel_ast.Select) -> str:
    return select.span.text()


#: The longest guarded form a help text shows whole.
_SHOWN: Final = 100


def _guarded(text: ast.CelText, host: cel_ast.Expr, select: cel_ast.Select, guards: str) -> str:
    """``host`` with ``guards`` joined to it: before the operand of its ``&&`` chain
    that holds ``select``, or before all of it (bracketed when it is not a
    chain).  The whole expression when it is short, else the guarded part."""
    source = text.span.source.text
    start, end = host.span.start, host.span.end
    at = start
    if isinstance(host, cel_ast.Call) and host.function == "_&&_" and host.target is None:
        for operand in _chain(host):
            if operand.span.start <= select.span.start < operand.span.end:
                at = operand.span.start
                break
        part = f"{source[start:at]}{guards} && {source[at:end]}"
    elif isinstance(host, cel_ast.Call) and host.function == "_||_" and host.target is None:
        # guarding the whole `||` would stop its other operands from matching:
        # guard the operand that reads the field
        part = source[start:end]
        for operand in _chain(host):
            if operand.span.start <= select.span.start < operand.span.end:
                a, b = operand.span.start, operand.span.end
                part = f"{source[start:a]}({guards} && {source[a:b]}){source[b:end]}"
                break
    else:
        body = source[start:end]
        bare = (
            isinstance(host, (cel_ast.Select, cel_ast.Ident))
            or (isinstance(host, cel_ast.Call) and not host.function.startswith("_"))
            or (isinstance(host, cel_ast.Call) and host.function in _TIGHT)
        )
        part = f"{guards} && {body if bare else '(' + body + ')'}"
    whole = f"{source[text.span.start : start]}{part}{source[end : text.span.end]}".strip()
    if len(whole) <= _SHOWN and "\n" not in whole:
        return whole
    if len(part) <= _SHOWN and "\n" not in part:
        return part
    return f"{guards} && ..."


#: Operators that bind tighter than ``&&``: their operand needs no brackets.
_TIGHT: Final = frozenset(
    {
        "_==_",
        "_!=_",
        "_<_",
        "_<=_",
        "_>_",
        "_>=_",
        "_in_",
        "!_",
        "_+_",
        "_-_",
        "_*_",
        "_/_",
        "_%_",
        "-_",
    }
)
