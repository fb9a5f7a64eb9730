"""Access policy: permissions, roles (``extends`` expanded, cycles reported),
``permit``/``forbid`` conditions type-checked, ``exclusive`` sets."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from socialflow.dsl import ast
from socialflow.dsl.check.context import Context
from socialflow.dsl.program import AccessRule

__all__ = ["check_access"]

#: What ``permit``/``forbid`` conditions see.
ACCESS_DECLARATIONS: Final[dict[str, Any]] = {
    "principal": "dyn",
    "resource": "dyn",
    "action": "string",
    "now": "timestamp",
}


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
    roles: dict[str, frozenset[str]] = {}
    for name, decl in role_decls.items():
        for parent in decl.extends:
            ctx.resolve("role", parent, role_decls, "undeclared_role")
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
                    ctx.error(
                        "role_cycle",
                        f"role `{name}` extends itself: {' -> '.join((*chain, name))}",
                        decl.name.span,
                    )
                    continue
                stack.append((parent.text, (*chain, parent.text)))
        roles[name] = frozenset(expanded)
    rules: list[AccessRule] = []
    for index, access_decl in enumerate(ctx.of(ast.AccessRuleDecl)):
        perms = perms_of(access_decl.permissions)
        if access_decl.when is not None:
            ctx.cel(access_decl.when, ACCESS_DECLARATIONS, want_bool=True)
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
