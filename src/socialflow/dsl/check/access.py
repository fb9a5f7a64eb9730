"""Access policy: permissions, roles (``extends`` expanded, cycles reported),
``permit``/``forbid`` conditions type-checked, ``exclusive`` sets."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Any, Final

from socialflow.dsl import ast
from socialflow.dsl.check._graph import strongly_connected
from socialflow.dsl.check.context import Context
from socialflow.dsl.check.guards import OpenRecord, check_guards
from socialflow.dsl.program import AccessRule

__all__ = ["check_access"]

#: What ``permit``/``forbid`` conditions see.
ACCESS_DECLARATIONS: Final[dict[str, Any]] = {
    "principal": "dyn",
    "resource": "dyn",
    "action": "string",
    "now": "timestamp",
}


#: What ``principal`` and ``resource`` always hold; their other fields are the
#: host's attributes, which a record may lack.
_HOST_RECORDS: Final = {
    "$principal": OpenRecord(("id", "groups")),
    "$resource": OpenRecord(("id", "kind", "parent", "ancestors")),
}
_HOST_ROOTS: Final = {"principal": "$principal", "resource": "$resource"}


def check_access(ctx: Context) -> None:
    names = [n for d in ctx.of(ast.PermissionDecl) for n in d.names]
    permissions = ctx.collect("permission", names, lambda n: n)
    declared = tuple(permissions)
    role_decls = ctx.collect("role", ctx.of(ast.RoleDecl), lambda r: r.name)

    def perms_of(refs: Iterable[ast.Name]) -> set[str]:
        out: set[str] = set()
        for ref in refs:
            if ref.text == "*":
                out.update(declared)
            elif ctx.resolve("permission", ref, permissions, "undeclared_permission"):
                out.add(ref.text)
        return out

    direct = {name: perms_of(r.permissions) for name, r in role_decls.items()}
    roles = _expand_roles(ctx, role_decls, direct)
    rules: list[AccessRule] = []
    for index, access_decl in enumerate(ctx.of(ast.AccessRuleDecl)):
        perms = perms_of(access_decl.permissions)
        when = access_decl.when
        if when is not None and ctx.cel(when, ACCESS_DECLARATIONS, want_bool=True):
            listed = ", ".join(f"`{p.text}`" for p in access_decl.permissions)
            fail_closed = (
                f"fail closed: an error in a `forbid` condition denies, so this forbids "
                f"{listed} wherever the attribute is missing"
                if access_decl.effect == "forbid"
                else f"fail closed: an error in a `permit` condition does not permit, so "
                f"this never permits {listed} where the attribute is missing"
            )
            check_guards(ctx, when, _HOST_RECORDS, _HOST_ROOTS, True, fail_closed)
        rules.append(
            AccessRule(
                access_decl.effect, frozenset(perms), access_decl.when, index, access_decl.span
            )
        )
    exclusives: list[tuple[str, ...]] = []
    for exclusive in ctx.of(ast.ExclusiveDecl):
        perms = perms_of(exclusive.permissions)
        if len(perms) < 2:
            ctx.error(
                "invalid_exclusive",
                "`exclusive` needs at least two different permissions",
                exclusive.span,
            )
        exclusives.append(tuple(sorted(perms)))
    ctx.permissions = declared
    ctx.roles = roles
    ctx.access_rules = tuple(rules)
    ctx.exclusives = tuple(exclusives)


def _expand_roles(
    ctx: Context, role_decls: dict[str, ast.RoleDecl], direct: dict[str, set[str]]
) -> dict[str, frozenset[str]]:
    """Every role's permissions with those of the roles it extends, transitively.

    The ``extends`` graph is condensed into its strongly connected components
    once, and each component's permissions are the union of its members' and of
    the components it extends (computed before it): linear in the roles and
    ``extends`` links, whatever the length of the chains.  Each cycle is
    reported once, at the first role of it that is declared.
    """
    edges: dict[str, list[str]] = {}
    for name, decl in role_decls.items():
        for ref in decl.extends:
            ctx.resolve("role", ref, role_decls, "undeclared_role")
        edges[name] = [p.text for p in decl.extends if p.text in role_decls]
    order = {name: i for i, name in enumerate(role_decls)}
    expanded: dict[str, frozenset[str]] = {}
    for component in strongly_connected(list(role_decls), edges):
        members = set(component)
        perms: set[str] = set()
        for member in component:
            perms |= direct[member]
            for parent in edges[member]:
                if parent not in members:
                    perms |= expanded[parent]
        frozen = frozenset(perms)
        for member in component:
            expanded[member] = frozen
        first = min(component, key=order.__getitem__)
        if len(component) > 1 or first in edges[first]:
            chain = _cycle(first, edges, members)
            ctx.error(
                "role_cycle",
                f"role `{first}` extends itself: {' -> '.join(chain)}",
                role_decls[first].name.span,
                notes=(
                    ()
                    if len(members) <= len(chain) - 1
                    else (
                        "these roles extend each other: "
                        + ", ".join(f"`{m}`" for m in sorted(members, key=order.__getitem__)),
                    )
                ),
            )
    return {name: expanded[name] for name in role_decls}


def _cycle(start: str, edges: dict[str, list[str]], members: set[str]) -> list[str]:
    """The shortest chain of ``extends`` from ``start`` back to itself, inside its
    component (breadth first, so the chain is found in linear time)."""
    previous: dict[str, str] = {}
    queue = deque([start])
    while queue:
        current = queue.popleft()
        for parent in edges[current]:
            if parent not in members:
                continue
            if parent == start:
                chain = [current]
                while chain[-1] != start:
                    chain.append(previous[chain[-1]])
                return [start, *reversed(chain[:-1]), start]
            if parent not in previous:
                previous[parent] = current
                queue.append(parent)
    raise AssertionError(start)  # pragma: no cover - a component with a cycle has one
