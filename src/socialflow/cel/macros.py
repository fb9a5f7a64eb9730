"""Macro expansion: ``has`` and the comprehension macros.

``has(a.b)`` becomes a test-only :class:`~socialflow.cel.ast.Select`;
``r.all(x, p)``, ``r.exists(x, p)``, ``r.exists_one(x, p)`` (also
``existsOne``), ``r.map(x, f)``, ``r.map(x, p, f)``, ``r.filter(x, p)`` and the
two-variable forms ``r.all(i, v, p)``, ``r.exists(i, v, p)``,
``r.existsOne(i, v, p)``, ``r.transformList(i, v, [p,] f)``,
``r.transformMap(k, v, [p,] f)`` become :class:`~socialflow.cel.ast.Comprehension`.
A call whose name and argument count match no macro stays a plain call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from socialflow.cel import ast
from socialflow.errors import ParseError
from socialflow.source import Span

__all__ = ["expand_macro"]

ErrorFactory = Callable[..., ParseError]

# (name, number of args) -> (kind, number of loop variables, has filter)
_MACROS: Final[dict[tuple[str, int], tuple[str, int, bool]]] = {
    ("all", 2): ("all", 1, False),
    ("all", 3): ("all", 2, False),
    ("exists", 2): ("exists", 1, False),
    ("exists", 3): ("exists", 2, False),
    ("exists_one", 2): ("exists_one", 1, False),
    ("exists_one", 3): ("exists_one", 2, False),
    ("existsOne", 2): ("exists_one", 1, False),
    ("existsOne", 3): ("exists_one", 2, False),
    ("map", 2): ("map", 1, False),
    ("map", 3): ("map", 1, True),
    ("filter", 2): ("filter", 1, False),
    ("transformList", 3): ("transform_list", 2, False),
    ("transformList", 4): ("transform_list", 2, True),
    ("transformMap", 3): ("transform_map", 2, False),
    ("transformMap", 4): ("transform_map", 2, True),
}


def expand_macro(
    name: str,
    target: ast.Expr | None,
    args: tuple[ast.Expr, ...],
    span: Span,
    error: ErrorFactory,
) -> ast.Expr | None:
    """The expansion of ``[target.]name(args)``, or ``None`` if it is no macro."""
    if target is None:
        if name == "has" and len(args) == 1:
            arg = args[0]
            if not isinstance(arg, ast.Select) or arg.test_only:
                raise error(
                    "the argument of `has()` must be a field selection such as `a.b`",
                    arg.span,
                    code="invalid_macro",
                )
            return ast.Select(arg.operand, arg.field, span, test_only=True)
        return None
    spec = _MACROS.get((name, len(args)))
    if spec is None:
        return None
    kind, nvars, has_filter = spec
    names: list[str] = []
    for arg in args[:nvars]:
        if not isinstance(arg, ast.Ident):
            raise error(
                f"the loop variable of `{name}()` must be a simple name",
                arg.span,
                code="invalid_macro",
            )
        names.append(arg.name)
    if nvars == 2 and names[0] == names[1]:
        raise error(
            f"the two loop variables of `{name}()` must have different names",
            args[1].span,
            code="invalid_macro",
        )
    rest = args[nvars:]
    flt = rest[0] if has_filter else None
    body = rest[-1]
    var2 = names[1] if nvars == 2 else None
    return ast.Comprehension(kind, names[0], var2, target, body, flt, span)
