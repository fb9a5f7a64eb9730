"""Host records for the access model and what its queries return.

Nodes, principals and grants are the host's data: build them from Python or
from JSON-shaped mappings (:func:`records_from_json`, via cattrs).  Every
value is a frozen attrs record.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import attrs

from socialflow.errors import InputError
from socialflow.serde import structure_records

__all__ = [
    "AccessDecision",
    "Grant",
    "GrantMatch",
    "OrgNode",
    "Principal",
    "RuleMatch",
    "Violation",
    "records_from_json",
]

T = TypeVar("T")


@attrs.frozen
class OrgNode:
    """A node of the organisation tree (hub, region, brand, business unit, account)."""

    id: str
    kind: str
    parent: str | None = None
    attributes: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class Principal:
    """A user (or service) with group memberships and attributes (``principal.on_call``)."""

    id: str
    groups: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    attributes: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class Grant:
    """``role`` on ``scope`` (a node id; applies to everything under it) for exactly
    one of ``principal`` or ``group``."""

    role: str
    scope: str
    principal: str | None = None
    group: str | None = None


@attrs.frozen
class GrantMatch:
    """A grant that allowed a check, with the tree path from its scope to the resource."""

    role: str
    scope: str
    #: the principal itself or the group the grant was made to
    via: str
    path: tuple[str, ...]


@attrs.frozen
class RuleMatch:
    """A ``permit``/``forbid`` that applied (or raised), with where it is declared."""

    effect: str
    rule: str
    location: str
    error: str | None = None


@attrs.frozen
class AccessDecision:
    """The answer to one check, with what decided it."""

    principal: str
    permission: str
    resource: str
    allowed: bool
    grants: tuple[GrantMatch, ...] = ()
    permits: tuple[RuleMatch, ...] = ()
    forbids: tuple[RuleMatch, ...] = ()
    #: one sentence: why
    reason: str = ""

    def __str__(self) -> str:
        verdict = "ALLOW" if self.allowed else "DENY"
        lines = [f"{verdict} {self.principal} {self.permission} {self.resource}: {self.reason}"]
        for g in self.grants:
            lines.append(f"  grant {g.role} on {g.scope} via {g.via} (path {' > '.join(g.path)})")
        for r in self.permits:
            lines.append(
                f"  {r.effect} `{r.rule}` at {r.location}" + (f": {r.error}" if r.error else "")
            )
        for r in self.forbids:
            lines.append(
                f"  {r.effect} `{r.rule}` at {r.location}" + (f": {r.error}" if r.error else "")
            )
        return "\n".join(lines)


@attrs.frozen
class Violation:
    """A principal holding every permission of an ``exclusive`` set on one resource."""

    principal: str
    resource: str
    permissions: tuple[str, ...]


def records_from_json(
    data: Mapping[str, Any],
) -> tuple[list[OrgNode], list[Grant], list[Principal]]:
    """``{"nodes": [...], "grants": [...], "principals": [...]}`` -> records.

    Raises:
        InputError: naming the record (``$.grants[3]``) and the problem.
    """
    if not isinstance(data, Mapping):
        raise InputError("expected an object with `nodes`, `grants` and `principals`", path="$")
    return (
        structure_records(data.get("nodes"), OrgNode, "nodes"),
        structure_records(data.get("grants"), Grant, "grants"),
        structure_records(data.get("principals"), Principal, "principals"),
    )
