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

How it is stored: the model grows with the grants, never with grants x
subtree x members.  The tree is numbered in pre-order, so the subtree of a node
is one interval of positions.  Each principal's own grants, and each group's
grants, become one step function over the positions (``_Steps``: sorted break
points and the permission bitmask between them), shared by every member of the
group.  A ``check`` of a permission no conditional rule mentions is three
dictionary look-ups and a bisection in the principal's step function, plus one
bisection per further source (a principal holding grants of its own and of its
groups, or of several groups).  ``who_can`` walks the resource's ancestors
through an inverted index (grants per scope node) and expands groups to their
members; ``what_can`` reads the nodes off the principal's steps (one slice of
the pre-order per step).  Nothing is expanded per node or per member.
"""

from __future__ import annotations

from bisect import bisect_right
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


#: a step function over pre-order positions: ``(breaks, masks)``, the permission bits
#: held at position ``x`` are ``masks[bisect_right(breaks, x)]``; ``len(masks) ==
#: len(breaks) + 1``, consecutive masks differ
_Steps = tuple[tuple[int, ...], tuple[int, ...]]
_NOTHING: _Steps = ((), (0,))
#: what a principal holds: the step function of its first source (its own grants, else
#: its first group with grants) and those of its other sources (usually none)
_Held = tuple[tuple[int, ...], tuple[int, ...], tuple[_Steps, ...]]


def _steps(intervals: list[tuple[int, int, int]]) -> _Steps:
    """The step function of ``(start, end, mask)`` intervals (inclusive ends) that are
    laminar, as subtrees are: any two are nested or disjoint."""
    if len(intervals) == 1:
        start, end, mask = intervals[0]
        return ((start, end + 1), (0, mask, 0)) if mask else _NOTHING
    intervals.sort(key=lambda t: (t[0], -t[1]))
    breaks: list[int] = []
    masks: list[int] = [0]

    def set_from(position: int, mask: int) -> None:
        if breaks and breaks[-1] == position:
            masks[-1] = mask
            if masks[-2] == mask:
                breaks.pop()
                masks.pop()
        elif masks[-1] != mask:
            breaks.append(position)
            masks.append(mask)

    #: the open intervals, innermost last: (end, the OR of its mask and its enclosers')
    open_: list[tuple[int, int]] = []
    for start, end, mask in intervals:
        while open_ and open_[-1][0] < start:
            closed = open_.pop()[0]
            set_from(closed + 1, open_[-1][1] if open_ else 0)
        held = mask | (open_[-1][1] if open_ else 0)
        open_.append((end, held))
        set_from(start, held)
    while open_:
        closed = open_.pop()[0]
        set_from(closed + 1, open_[-1][1] if open_ else 0)
    return tuple(breaks), tuple(masks)


def _union(sources: tuple[_Steps, ...]) -> _Steps:
    """One step function holding, at each position, the OR of ``sources`` (consecutive
    masks may repeat)."""
    points = sorted({b for breaks, _ in sources for b in breaks})
    masks = [0]
    for point in points:
        mask = 0
        for breaks, held in sources:
            mask |= held[bisect_right(breaks, point)]
        masks.append(mask)
    return tuple(points), tuple(masks)


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
        #: node ids in pre-order, and each node's position in it
        self._order, self._position, last = self._number(node_list)
        self._principals = self._load_principals(principal_list)
        #: group -> its members, in record order
        self._members: dict[str, list[str]] = {}
        for p in self._principals.values():
            for g in p.groups:
                self._members.setdefault(g, []).append(p.id)
        self._grants = self._load_grants(grant_list)
        self._role_masks = {r: self._mask(perms) for r, perms in program.roles.items()}
        #: the inverted index: scope node -> the grants made on it, in record order
        self._by_scope: dict[str, list[Grant]] = {}
        for grant in self._grants:
            self._by_scope.setdefault(grant.scope, []).append(grant)
        #: principal -> the step functions of what it holds
        self._held = self._index_grants(last)
        self._rules = [_Rule(r, limits) for r in program.access_rules]
        #: permissions that no rule always forbids
        always_forbidden = 0
        conditional = set()
        permitted = set()
        for rule in program.access_rules:
            mask = self._mask(rule.permissions)
            if rule.effect == "forbid" and rule.condition is None:
                always_forbidden |= mask
            else:
                conditional |= set(rule.permissions)
            if rule.effect == "permit":
                permitted |= set(rule.permissions)
        self._always_forbidden = always_forbidden
        self._conditional = frozenset(conditional)
        #: permissions a `permit` may allow without any grant
        self._permitted = frozenset(permitted)
        #: the bit of each permission no conditional rule mentions (0 if always forbidden)
        self._plain = {
            p: bit & ~always_forbidden for p, bit in self._bits.items() if p not in conditional
        }
        #: CEL values, built on first use by a condition
        self._principal_values: dict[str, dict[str, Any]] = {}
        self._resource_values: dict[str, dict[str, Any]] = {}

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
        return out

    def _number(self, nodes: list[OrgNode]) -> tuple[list[str], dict[str, int], list[int]]:
        """Pre-order from the roots: (the ids in order, id -> position, position -> the
        last position of its subtree).  A node no root reaches is on (or under) a cycle.

        Raises:
            InputError: the first such node, in record order.
        """
        children: dict[str, list[str]] = {}
        stack: list[str] = []
        for node in nodes:
            if node.parent is None:
                stack.append(node.id)
            else:
                children.setdefault(node.parent, []).append(node.id)
        stack.reverse()
        order: list[str] = []
        while stack:
            current = stack.pop()
            order.append(current)
            below = children.get(current)
            if below:
                stack.extend(reversed(below))
        position = {n: i for i, n in enumerate(order)}
        if len(order) != len(nodes):
            for i, node in enumerate(nodes):
                if node.id not in position:
                    raise InputError(
                        f"the organisation tree has a cycle through `{node.id}`",
                        path=f"$.nodes[{i}].parent",
                    )
        size = [1] * len(order)
        for i in range(len(order) - 1, -1, -1):
            parent = self._nodes[order[i]].parent
            if parent is not None:
                size[position[parent]] += size[i]
        return order, position, [i + n - 1 for i, n in enumerate(size)]

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
        roles, nodes, principals, groups = (
            self.program.roles,
            self._nodes,
            self._principals,
            self._members,
        )
        for i, grant in enumerate(grants):
            if (
                grant.role in roles
                and grant.scope in nodes
                and (
                    grant.principal in principals
                    if grant.group is None
                    else grant.principal is None
                )
                and (grant.group is None or grant.group in groups)
            ):
                continue
            path = f"$.grants[{i}]"
            if (grant.principal is None) == (grant.group is None):
                raise InputError("a grant names exactly one of `principal` or `group`", path=path)
            if grant.role not in roles:
                raise InputError(f"unknown role `{grant.role}`", path=f"{path}.role")
            if grant.scope not in nodes:
                raise InputError(f"unknown node `{grant.scope}`", path=f"{path}.scope")
            if grant.principal is not None and grant.principal not in principals:
                raise InputError(f"unknown principal `{grant.principal}`", path=f"{path}.principal")
            raise InputError(
                f"unknown group `{grant.group}` (no principal is a member)", path=f"{path}.group"
            )
        return grants

    def _index_grants(self, last: list[int]) -> dict[str, _Held]:
        """Each principal's sources: its own grants and each of its groups' grants, as
        step functions; a group's is shared by its members."""
        own: dict[str, list[tuple[int, int, int]]] = {}
        shared: dict[str, list[tuple[int, int, int]]] = {}
        position, role_masks = self._position, self._role_masks
        for grant in self._grants:
            start = position[grant.scope]
            interval = (start, last[start], role_masks[grant.role])
            if grant.principal is not None:
                own.setdefault(grant.principal, []).append(interval)
            else:
                shared.setdefault(grant.group or "", []).append(interval)
        of_group = {g: _steps(intervals) for g, intervals in shared.items()}
        # equal step functions are stored once: a principal's own by value (hashing is
        # linear in its own grants), what it holds by the identity of its sources (a
        # group's steps are hashed never, whatever its size)
        own_made: dict[_Steps, _Steps] = {}
        held_made: dict[tuple[int, ...], _Held] = {}
        held: dict[str, _Held] = {}
        for p in self._principals.values():
            sources: list[_Steps] = []
            mine = own.get(p.id)
            if mine is not None:
                made = _steps(mine)
                sources.append(own_made.setdefault(made, made))
            if p.groups:
                sources += [of_group[g] for g in dict.fromkeys(p.groups) if g in of_group]
            key = tuple(map(id, sources))
            entry = held_made.get(key)
            if entry is None:
                breaks, masks = sources[0] if sources else _NOTHING
                entry = held_made[key] = (breaks, masks, tuple(sources[1:]))
            held[p.id] = entry
        return held

    def _mask(self, permissions: Iterable[str]) -> int:
        mask = 0
        for p in permissions:
            mask |= self._bits[p]
        return mask

    def _chain(self, node_id: str) -> tuple[str, ...]:
        """The ids from the root down to ``node_id``."""
        path = [node_id]
        current = self._nodes[node_id].parent
        while current is not None:
            path.append(current)
            current = self._nodes[current].parent
        return tuple(reversed(path))

    def _granted(self, principal: str, resource: str) -> int:
        """The permission bits ``principal`` holds on ``resource`` through grants."""
        position = self._position[resource]
        breaks, masks, more = self._held[principal]
        mask = masks[bisect_right(breaks, position)]
        for breaks, masks in more:
            mask |= masks[bisect_right(breaks, position)]
        return mask

    def _granted_nodes(self, principal: str, wanted: int) -> list[str]:
        """The nodes where ``principal``'s grants hold every bit of ``wanted``, in
        pre-order."""
        breaks, masks, more = self._held[principal]
        if more:
            breaks, masks = _union(((breaks, masks), *more))
        out: list[str] = []
        start = 0
        for i, mask in enumerate(masks):
            end = breaks[i] if i < len(breaks) else len(self._order)
            if (mask & wanted) == wanted:
                out += self._order[start:end]
            start = end
        return out

    def _principal_value(self, principal: str) -> dict[str, Any]:
        value = self._principal_values.get(principal)
        if value is None:
            record = self._principals[principal]
            value = dict(record.attributes)
            value.update({"id": record.id, "groups": list(record.groups)})
            self._principal_values[principal] = value
        return value

    def _resource_value(self, resource: str) -> dict[str, Any]:
        value = self._resource_values.get(resource)
        if value is None:
            node = self._nodes[resource]
            value = dict(node.attributes)
            value.update(
                {
                    "id": node.id,
                    "kind": node.kind,
                    "parent": node.parent,
                    "ancestors": list(self._chain(resource)[:-1]),
                }
            )
            self._resource_values[resource] = value
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
        try:
            bit = self._plain[permission]
            breaks, masks, more = self._held[principal]
            position = self._position[resource]
        except KeyError:
            pass
        else:
            if masks[bisect_right(breaks, position)] & bit:
                return True
            if more:  # groups with grants beside the first source
                for breaks, masks in more:
                    if masks[bisect_right(breaks, position)] & bit:
                        return True
            return False
        # a permission a conditional rule mentions, or an unknown name (raised outside
        # the handler, so the KeyError is not chained to it)
        self._bit(permission)
        self._known(principal, resource)
        return self._decide(principal, permission, resource, now, trace=False).allowed

    def _decide(
        self, principal: str, permission: str, resource: str, now: datetime | None, trace: bool
    ) -> AccessDecision:
        bit = self._bit(permission)
        self._known(principal, resource)
        granted = bool(self._granted(principal, resource) & bit)
        activation: dict[str, Any] = {
            "principal": self._principal_value(principal),
            "resource": self._resource_value(resource),
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
        chain = self._chain(resource)
        groups = set(self._principals[principal].groups)
        out: list[GrantMatch] = []
        for depth, scope in enumerate(chain):
            for grant in self._by_scope.get(scope, ()):
                via = (
                    grant.principal
                    if grant.principal == principal
                    else (grant.group if grant.group in groups else None)
                )
                if via is None or permission not in self.program.roles[grant.role]:
                    continue
                out.append(GrantMatch(grant.role, scope, via, chain[depth:]))
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
        bit = self._bit(permission)
        if resource not in self._nodes:
            raise InputError(f"unknown resource `{resource}`", path="resource")
        if permission in self._permitted:
            # a permit may allow anyone
            candidates: Iterable[str] = self._principals
        else:
            found: set[str] = set()
            for scope in self._chain(resource):
                for grant in self._by_scope.get(scope, ()):
                    if self._role_masks[grant.role] & bit:
                        if grant.principal is not None:
                            found.add(grant.principal)
                        else:
                            found.update(self._members[grant.group or ""])
            candidates = found
        if permission in self._conditional:
            candidates = [
                p
                for p in candidates
                if self._decide(p, permission, resource, now, trace=False).allowed
            ]
        elif bit & self._always_forbidden:
            return ()
        return tuple(sorted(candidates))

    def what_can(
        self, principal: str, permission: str, *, now: datetime | None = None
    ) -> tuple[str, ...]:
        """Every node (of any kind) where ``principal`` holds ``permission``, sorted."""
        bit = self._bit(permission)
        if principal not in self._principals:
            raise InputError(f"unknown principal `{principal}`", path="principal")
        if permission in self._permitted:
            # a permit may allow anywhere
            candidates: list[str] = self._order
        else:
            candidates = self._granted_nodes(principal, bit)
        if permission in self._conditional:
            candidates = [
                n
                for n in candidates
                if self._decide(principal, permission, n, now, trace=False).allowed
            ]
        elif bit & self._always_forbidden:
            return ()
        return tuple(sorted(candidates))

    def permissions(
        self, principal: str, resource: str, *, now: datetime | None = None
    ) -> tuple[str, ...]:
        """The permissions ``principal`` holds on ``resource``, in declaration order."""
        self._known(principal, resource)
        granted = self._granted(principal, resource)
        out: list[str] = []
        for p in self.program.permissions:
            bit = self._plain.get(p)
            if bit is None:
                if self._decide(principal, p, resource, now, trace=False).allowed:
                    out.append(p)
            elif granted & bit:
                out.append(p)
        return tuple(out)

    def violations(self, *, now: datetime | None = None) -> tuple[Violation, ...]:
        """Every (principal, resource) holding all permissions of an ``exclusive`` set."""
        out: list[Violation] = []
        for exclusive in self.program.exclusives:
            wanted = self._mask(exclusive)
            anywhere = any(p in self._permitted for p in exclusive)
            for principal in sorted(self._principals):
                candidates = self._order if anywhere else self._granted_nodes(principal, wanted)
                for node in sorted(candidates):
                    if all(self.check(principal, p, node, now=now) for p in exclusive):
                        out.append(Violation(principal, node, exclusive))
        return tuple(out)
