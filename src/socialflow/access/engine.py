"""Permission checks over the organisation tree.

Semantics (see ``docs/access.md``):

1. Deny by default.
2. A grant of a role on a node allows the role's permissions on that node and
   everything under it; a grant to a group counts for every member.
3. A ``permit P when C`` allows ``P`` wherever ``C`` holds (without a grant).
4. A ``forbid P when C`` that holds denies ``P``, overriding every grant and
   permit; a ``forbid`` without ``when`` always denies.
5. Conditions fail closed: a ``forbid`` whose condition raises denies, a
   ``permit`` whose condition raises does not allow.

Grants are expanded once, when the ``Access`` is built, into a per-principal
map node -> permission bitmask, so a ``check`` of a permission no conditional
rule mentions is three dictionary look-ups and a bit test.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from socialflow.access.model import (
    AccessDecision,
    Grant,
    GrantMatch,
    OrgNode,
    Principal,
    RuleMatch,
    Violation,
)
from socialflow.cel.compiler import compile_ast
from socialflow.cel.limits import Limits
from socialflow.dsl.program import AccessRule, CheckedProgram
from socialflow.errors import EvalError, InputError, UsageError
from socialflow.serde import structure_records

__all__ = ["Access"]


class _Rule:
    __slots__ = ("evaluate", "rule")

    def __init__(self, rule: AccessRule, limits: Limits) -> None:
        self.rule = rule
        self.evaluate = (
            compile_ast(rule.condition.expr, limits, f"{rule.effect} {rule.index}")
            if rule.condition is not None
            else None
        )


class Access:
    """Answers permission questions for one policy and one set of host records.

    Build it with ``bundle.access(nodes=..., grants=..., principals=...)``.
    Every answer is deterministic; lists are sorted.
    """

    def __init__(
        self,
        program: CheckedProgram,
        nodes: Iterable[OrgNode | Mapping[str, Any]],
        grants: Iterable[Grant | Mapping[str, Any]],
        principals: Iterable[Principal | Mapping[str, Any]],
        limits: Limits | None = None,
    ) -> None:
        self.program = program
        limits = limits or Limits()
        node_list = structure_records(nodes, OrgNode, "nodes")
        grant_list = structure_records(grants, Grant, "grants")
        principal_list = structure_records(principals, Principal, "principals")
        self._bits = {p: 1 << i for i, p in enumerate(program.permissions)}
        self._nodes = self._load_nodes(node_list)
        self._principals = self._load_principals(principal_list)
        self._grants = self._load_grants(grant_list)
        self._ancestors = {n: self._path_to_root(n) for n in self._nodes}
        self._children: dict[str, list[str]] = {n: [] for n in self._nodes}
        for node in self._nodes.values():
            if node.parent is not None:
                self._children[node.parent].append(node.id)
        self._rules = [_Rule(r, limits) for r in program.access_rules]
        #: permissions that no rule always forbids
        always_forbidden = 0
        conditional = set()
        for rule in program.access_rules:
            mask = self._mask(rule.permissions)
            if rule.effect == "forbid" and rule.condition is None:
                always_forbidden |= mask
            else:
                conditional |= set(rule.permissions)
        self._always_forbidden = always_forbidden
        self._conditional = frozenset(conditional)
        self._granted = self._expand()
        self._principal_values = {p.id: _principal_value(p) for p in self._principals.values()}
        self._resource_values = {n.id: self._resource_value(n) for n in self._nodes.values()}

    # -- loading --------------------------------------------------------------------------
    def _load_nodes(self, nodes: list[OrgNode]) -> dict[str, OrgNode]:
        out: dict[str, OrgNode] = {}
        for i, node in enumerate(nodes):
            if node.id in out:
                raise InputError(f"duplicate node id `{node.id}`", path=f"$.nodes[{i}].id")
            out[node.id] = node
        for i, node in enumerate(nodes):
            if node.parent is not None and node.parent not in out:
                raise InputError(
                    f"node `{node.id}` has unknown parent `{node.parent}`",
                    path=f"$.nodes[{i}].parent",
                )
        for i, node in enumerate(nodes):
            seen = {node.id}
            current = node.parent
            while current is not None:
                if current in seen:
                    raise InputError(
                        f"the organisation tree has a cycle through `{node.id}`",
                        path=f"$.nodes[{i}].parent",
                    )
                seen.add(current)
                current = out[current].parent
        return out

    def _load_principals(self, principals: list[Principal]) -> dict[str, Principal]:
        out: dict[str, Principal] = {}
        for i, principal in enumerate(principals):
            if principal.id in out:
                raise InputError(
                    f"duplicate principal id `{principal.id}`", path=f"$.principals[{i}].id"
                )
            out[principal.id] = principal
        return out

    def _load_grants(self, grants: list[Grant]) -> list[Grant]:
        groups = {g for p in self._principals.values() for g in p.groups}
        for i, grant in enumerate(grants):
            path = f"$.grants[{i}]"
            if (grant.principal is None) == (grant.group is None):
                raise InputError("a grant names exactly one of `principal` or `group`", path=path)
            if grant.role not in self.program.roles:
                raise InputError(f"unknown role `{grant.role}`", path=f"{path}.role")
            if grant.scope not in self._nodes:
                raise InputError(f"unknown node `{grant.scope}`", path=f"{path}.scope")
            if grant.principal is not None and grant.principal not in self._principals:
                raise InputError(f"unknown principal `{grant.principal}`", path=f"{path}.principal")
            if grant.group is not None and grant.group not in groups:
                raise InputError(
                    f"unknown group `{grant.group}` (no principal is a member)",
                    path=f"{path}.group",
                )
        return grants

    def _path_to_root(self, node_id: str) -> tuple[str, ...]:
        path = [node_id]
        current = self._nodes[node_id].parent
        while current is not None:
            path.append(current)
            current = self._nodes[current].parent
        return tuple(reversed(path))

    def _mask(self, permissions: Iterable[str]) -> int:
        mask = 0
        for p in permissions:
            mask |= self._bits[p]
        return mask

    def _subtree(self, node_id: str) -> list[str]:
        out = [node_id]
        stack = [node_id]
        while stack:
            for child in self._children[stack.pop()]:
                out.append(child)
                stack.append(child)
        return out

    def _expand(self) -> dict[str, dict[str, int]]:
        """principal -> node -> permissions granted there (before rules)."""
        members: dict[str, list[str]] = {}
        for p in self._principals.values():
            for g in p.groups:
                members.setdefault(g, []).append(p.id)
        granted: dict[str, dict[str, int]] = {p: {} for p in self._principals}
        for grant in self._grants:
            mask = self._mask(self.program.roles[grant.role])
            who = (
                [grant.principal]
                if grant.principal is not None
                else members.get(grant.group or "", [])
            )
            subtree = self._subtree(grant.scope)
            for principal in who:
                row = granted[principal]
                for node in subtree:
                    row[node] = row.get(node, 0) | mask
        return granted

    def _resource_value(self, node: OrgNode) -> dict[str, Any]:
        value = dict(node.attributes)
        value.update(
            {
                "id": node.id,
                "kind": node.kind,
                "parent": node.parent,
                "ancestors": list(self._ancestors[node.id][:-1]),
            }
        )
        return value

    # -- queries --------------------------------------------------------------------------
    def _bit(self, permission: str) -> int:
        bit = self._bits.get(permission)
        if bit is None:
            raise UsageError(f"unknown permission `{permission}`")
        return bit

    def _known(self, principal: str, resource: str) -> None:
        if principal not in self._principals:
            raise InputError(f"unknown principal `{principal}`", path="principal")
        if resource not in self._nodes:
            raise InputError(f"unknown resource `{resource}`", path="resource")

    def check(
        self, principal: str, permission: str, resource: str, *, now: datetime | None = None
    ) -> bool:
        """May ``principal`` use ``permission`` on ``resource`` (a node id)?

        Raises:
            UsageError: unknown permission.
            InputError: unknown principal or resource.
        """
        bit = self._bits.get(permission)
        row = self._granted.get(principal)
        if bit is None or row is None or resource not in self._nodes:
            self._bit(permission)
            self._known(principal, resource)
        if permission not in self._conditional:
            assert row is not None  # INVARIANT: _known raised otherwise
            assert bit is not None
            return bool(row.get(resource, 0) & bit & ~self._always_forbidden)
        return self._decide(principal, permission, resource, now, trace=False).allowed

    def _decide(
        self, principal: str, permission: str, resource: str, now: datetime | None, trace: bool
    ) -> AccessDecision:
        bit = self._bit(permission)
        self._known(principal, resource)
        granted = bool(self._granted[principal].get(resource, 0) & bit)
        activation: dict[str, Any] = {
            "principal": self._principal_values[principal],
            "resource": self._resource_values[resource],
            "action": permission,
        }
        if now is not None:
            activation["now"] = now
        permits: list[RuleMatch] = []
        forbids: list[RuleMatch] = []
        permitted = False
        forbidden = bool(self._always_forbidden & bit)
        for rule in self._rules:
            if permission not in rule.rule.permissions:
                continue
            holds = True
            error: str | None = None
            if rule.evaluate is not None:
                try:
                    holds = rule.evaluate(activation) is True
                except EvalError as e:
                    error = f"{e.kind}: {e.message}"
                    holds = rule.rule.effect == "forbid"  # fail closed
            match = RuleMatch(
                rule.rule.effect, rule.rule.describe(), rule.rule.span.location(), error
            )
            if rule.rule.effect == "forbid":
                if holds:
                    forbidden = True
                    forbids.append(match)
                elif error is not None:
                    forbids.append(match)
            else:
                if holds:
                    permitted = True
                    permits.append(match)
                elif error is not None and trace:
                    permits.append(match)
        allowed = (granted or permitted) and not forbidden
        grants: tuple[GrantMatch, ...] = ()
        if trace:
            grants = self._grant_matches(principal, permission, resource)
        if forbidden:
            reason = "a forbid applies (forbid overrides every grant and permit)"
        elif granted:
            reason = "granted by a role"
        elif permitted:
            reason = "a permit applies"
        else:
            reason = "no grant or permit (deny by default)"
        return AccessDecision(
            principal, permission, resource, allowed, grants, tuple(permits), tuple(forbids), reason
        )

    def _grant_matches(
        self, principal: str, permission: str, resource: str
    ) -> tuple[GrantMatch, ...]:
        chain = self._ancestors[resource]
        groups = set(self._principals[principal].groups)
        out: list[GrantMatch] = []
        for grant in self._grants:
            via = (
                grant.principal
                if grant.principal == principal
                else (grant.group if grant.group in groups else None)
            )
            if (
                via is None
                or permission not in self.program.roles[grant.role]
                or grant.scope not in chain
            ):
                continue
            out.append(GrantMatch(grant.role, grant.scope, via, chain[chain.index(grant.scope) :]))
        return tuple(sorted(out, key=lambda g: (len(g.path), g.scope, g.role, g.via)))

    def explain(
        self, principal: str, permission: str, resource: str, *, now: datetime | None = None
    ) -> AccessDecision:
        """The decision with the grants (and their tree paths), permits and forbids."""
        return self._decide(principal, permission, resource, now, trace=True)

    def who_can(
        self, permission: str, resource: str, *, now: datetime | None = None
    ) -> tuple[str, ...]:
        """Every principal (group grants expanded to members) allowed, sorted."""
        self._bit(permission)
        if resource not in self._nodes:
            raise InputError(f"unknown resource `{resource}`", path="resource")
        return tuple(
            sorted(p for p in self._principals if self.check(p, permission, resource, now=now))
        )

    def what_can(
        self, principal: str, permission: str, *, now: datetime | None = None
    ) -> tuple[str, ...]:
        """Every node (of any kind) where ``principal`` holds ``permission``, sorted."""
        self._bit(permission)
        if principal not in self._principals:
            raise InputError(f"unknown principal `{principal}`", path="principal")
        return tuple(
            sorted(n for n in self._nodes if self.check(principal, permission, n, now=now))
        )

    def permissions(
        self, principal: str, resource: str, *, now: datetime | None = None
    ) -> tuple[str, ...]:
        """The permissions ``principal`` holds on ``resource``, in declaration order."""
        self._known(principal, resource)
        return tuple(
            p for p in self.program.permissions if self.check(principal, p, resource, now=now)
        )

    def violations(self, *, now: datetime | None = None) -> tuple[Violation, ...]:
        """Every (principal, resource) holding all permissions of an ``exclusive`` set."""
        out: list[Violation] = []
        for exclusive in self.program.exclusives:
            for principal in sorted(self._principals):
                for node in sorted(self._nodes):
                    if all(self.check(principal, p, node, now=now) for p in exclusive):
                        out.append(Violation(principal, node, exclusive))
        return tuple(out)


def _principal_value(principal: Principal) -> dict[str, Any]:
    value = dict(principal.attributes)
    value.update({"id": principal.id, "groups": list(principal.groups)})
    return value
