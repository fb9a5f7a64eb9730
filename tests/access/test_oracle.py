"""The access model against a naive oracle, through the public API only.

The oracle is the definition, written as plainly as possible: walk the
resource's ancestors, scan every grant made to the principal or to one of its
groups, then apply the policy's permit and forbid rules.  Random forests
(several roots, uneven depths, records in any order), principals in several
groups with their own grants too, duplicate grants: every query must agree.
"""

from __future__ import annotations

import random
import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import socialflow as sf

POLICY = """
permission view, view_analytics, draft, publish, respond, approve, manage_users
role viewer      { view, view_analytics }
role contributor extends viewer { draft }
role publisher   extends contributor { publish }
role responder   extends viewer { respond }
role approver    extends viewer { approve }
role admin       { * }
role nobody      { }
forbid publish when has(resource.legal_hold) && resource.legal_hold
permit respond when principal.on_call && resource.kind == "account"
forbid manage_users
exclusive draft, approve
exclusive view, publish
"""
PERMS = ("view", "view_analytics", "draft", "publish", "respond", "approve", "manage_users")
VIEWER = {"view", "view_analytics"}
ROLE_PERMS: dict[str, set[str]] = {
    "viewer": VIEWER,
    "contributor": VIEWER | {"draft"},
    "publisher": VIEWER | {"draft", "publish"},
    "responder": VIEWER | {"respond"},
    "approver": VIEWER | {"approve"},
    "admin": set(PERMS),
    "nobody": set(),
}
KINDS = ("hub", "region", "brand", "account")
Records = tuple[list[dict[str, Any]], list[dict[str, str]], list[dict[str, Any]]]


@pytest.fixture(scope="module")
def policy() -> sf.Bundle:
    return sf.loads(POLICY, "policy.sf")


def random_records(
    rng: random.Random, n_nodes: int, n_principals: int, n_groups: int, n_grants: int
) -> Records:
    """A forest in shuffled record order, principals in 0-3 groups, grants to both."""
    nodes: list[dict[str, Any]] = []
    for i in range(n_nodes):
        node: dict[str, Any] = {"id": f"n{i:04d}", "kind": rng.choice(KINDS)}
        if i > 0 and rng.random() > 0.03:
            # mostly a recent node (deep chains), sometimes any earlier one (wide fans)
            lo = max(0, i - 4) if rng.random() < 0.5 else 0
            node["parent"] = f"n{rng.randrange(lo, i):04d}"
        if rng.random() < 0.2:
            node["attributes"] = {"legal_hold": rng.random() < 0.5}
        nodes.append(node)
    rng.shuffle(nodes)
    groups = [f"g{k}" for k in range(n_groups)]
    principals: list[dict[str, Any]] = []
    for k in range(n_principals):
        principal: dict[str, Any] = {"id": f"p{k:03d}"}
        if groups:
            principal["groups"] = rng.sample(groups, rng.randrange(min(4, len(groups) + 1)))
        if rng.random() < 0.7:
            principal["attributes"] = {"on_call": rng.random() < 0.5}
        principals.append(principal)
    with_members = sorted({g for p in principals for g in p.get("groups", ())})
    grants: list[dict[str, str]] = []
    for _ in range(n_grants):
        grant = {"role": rng.choice(list(ROLE_PERMS)), "scope": rng.choice(nodes)["id"]}
        if with_members and rng.random() < 0.3:
            grant["group"] = rng.choice(with_members)
        else:
            grant["principal"] = rng.choice(principals)["id"]
        grants.append(grant)
        if rng.random() < 0.05:
            grants.append(dict(grant))  # the same grant twice
    return nodes, grants, principals


class Oracle:
    """The naive reference: no index, no precomputation beyond dict look-ups."""

    def __init__(self, records: Records) -> None:
        nodes, grants, principals = records
        self.nodes = {n["id"]: n for n in nodes}
        self.principals = {p["id"]: p for p in principals}
        self.grants = grants

    def chain(self, node: str) -> tuple[str, ...]:
        path = [node]
        while (parent := self.nodes[path[-1]].get("parent")) is not None:
            path.append(parent)
        return tuple(reversed(path))

    def grant_matches(self, u: str, perm: str, node: str) -> list[tuple[Any, ...]]:
        chain = self.chain(node)
        groups = self.principals[u].get("groups", ())
        out = []
        for g in self.grants:
            via = g.get("principal") if g.get("principal") == u else g.get("group")
            if via is None or (via != u and via not in groups):
                continue
            if perm in ROLE_PERMS[g["role"]] and g["scope"] in chain:
                out.append((g["role"], g["scope"], via, chain[chain.index(g["scope"]) :]))
        return sorted(out, key=lambda m: (len(m[3]), m[1], m[0], m[2]))

    def allowed(self, u: str, perm: str, node: str) -> bool:
        if perm == "manage_users":
            return False
        attributes = self.nodes[node].get("attributes", {})
        if perm == "publish" and attributes.get("legal_hold") is True:
            return False
        on_call = self.principals[u].get("attributes", {}).get("on_call") is True
        if perm == "respond" and on_call and self.nodes[node]["kind"] == "account":
            return True
        return bool(self.grant_matches(u, perm, node))


def assert_agrees(access: sf.Access, records: Records, sample: int | None = None) -> None:
    oracle = Oracle(records)
    users = sorted(oracle.principals)
    node_ids = sorted(oracle.nodes)
    answers = {(u, p, n): oracle.allowed(u, p, n) for u in users for p in PERMS for n in node_ids}
    for (u, p, n), allowed in answers.items():
        assert access.check(u, p, n) is allowed, (u, p, n)
    for p in PERMS:
        for n in node_ids:
            assert access.who_can(p, n) == tuple(u for u in users if answers[(u, p, n)]), (p, n)
        for u in users:
            assert access.what_can(u, p) == tuple(n for n in node_ids if answers[(u, p, n)])
    for u in users:
        for n in node_ids:
            assert access.permissions(u, n) == tuple(p for p in PERMS if answers[(u, p, n)])
    triples = list(answers)
    if sample is not None:
        triples = random.Random(len(triples)).sample(triples, min(sample, len(triples)))
    for u, p, n in triples:
        decision = access.explain(u, p, n)
        assert decision.allowed is answers[(u, p, n)]
        got = [(g.role, g.scope, g.via, g.path) for g in decision.grants]
        assert got == oracle.grant_matches(u, p, n), (u, p, n)
    expected = [
        (u, n, pair)
        for pair in (("approve", "draft"), ("publish", "view"))  # as the program sorts them
        for u in users
        for n in node_ids
        if all(answers[(u, p, n)] for p in pair)
    ]
    assert [(v.principal, v.resource, v.permissions) for v in access.violations()] == expected


def build(policy: sf.Bundle, records: Records) -> sf.Access:
    nodes, grants, principals = records
    return policy.access(nodes=nodes, grants=grants, principals=principals)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_large_random_forest_agrees_with_the_oracle(policy: sf.Bundle, seed: int) -> None:
    records = random_records(random.Random(seed), 300, 30, 5, 150)
    assert_agrees(build(policy, records), records, sample=3000)


def test_record_order_changes_no_answer(policy: sf.Bundle) -> None:
    nodes, grants, principals = random_records(random.Random(9), 200, 20, 4, 80)
    access = build(policy, (nodes, grants, principals))
    again = build(policy, (nodes[::-1], grants[::-1], principals[::-1]))
    for u in (p["id"] for p in principals):
        for p in PERMS:
            assert access.what_can(u, p) == again.what_can(u, p)
    for n in (node["id"] for node in nodes):
        for p in PERMS:
            assert access.who_can(p, n) == again.who_can(p, n)
    assert access.violations() == again.violations()


records_st = st.builds(
    lambda seed, n_nodes, n_principals, n_groups, n_grants: random_records(
        random.Random(seed), n_nodes, n_principals, n_groups, n_grants
    ),
    st.integers(0, 2**32),
    st.integers(1, 25),
    st.integers(1, 6),
    st.integers(0, 3),
    st.integers(0, 12),
)


@settings(max_examples=80, deadline=None)
@given(records=records_st)
def test_small_random_forests_agree_with_the_oracle(policy: sf.Bundle, records: Records) -> None:
    assert_agrees(build(policy, records), records)


def test_a_deep_chain(policy: sf.Bundle) -> None:
    depth = 2_000
    nodes: list[dict[str, Any]] = [{"id": "c0000", "kind": "hub"}]
    nodes += [
        {"id": f"c{i:04d}", "kind": "brand", "parent": f"c{i - 1:04d}"} for i in range(1, depth)
    ]
    access = policy.access(
        nodes=nodes[::-1],
        grants=[{"principal": "a", "role": "viewer", "scope": "c1000"}],
        principals=[{"id": "a"}],
    )
    assert access.check("a", "view", "c1999")
    assert not access.check("a", "view", "c0999")
    assert access.what_can("a", "view") == tuple(f"c{i:04d}" for i in range(1000, depth))
    assert access.who_can("view", "c1500") == ("a",)
    (grant,) = access.explain("a", "view", "c1002").grants
    assert grant.path == ("c1000", "c1001", "c1002")


def _tree(n_nodes: int) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = [{"id": "hub", "kind": "hub"}]
    nodes += [{"id": f"r{k}", "kind": "region", "parent": "hub"} for k in range(5)]
    nodes += [{"id": f"b{k}", "kind": "brand", "parent": f"r{k % 5}"} for k in range(50)]
    nodes += [
        {"id": f"a{k:05d}", "kind": "account", "parent": f"b{k % 50}"}
        for k in range(n_nodes - len(nodes))
    ]
    return nodes


def _retained(make: Callable[[], Any]) -> tuple[Any, int]:
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    made = make()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return made, after - before


def test_a_group_grant_at_the_root_is_not_expanded(policy: sf.Bundle) -> None:
    """2,000 members, 5,000 nodes: expanded per node and member this was 10 M entries
    (about 200 MB); the model keeps one grant, shared by the members."""
    nodes = _tree(5_000)
    principals = [{"id": f"u{k:04d}", "groups": ["care"]} for k in range(2_000)]
    grants = [{"group": "care", "role": "responder", "scope": "hub"}]
    access, retained = _retained(
        lambda: policy.access(nodes=nodes, grants=grants, principals=principals)
    )
    assert retained < 20_000_000
    members = tuple(p["id"] for p in principals)
    assert access.who_can("respond", "a04000") == members
    assert access.what_can("u0007", "respond") == tuple(sorted(n["id"] for n in nodes))
    assert access.permissions("u1999", "b7") == ("view", "view_analytics", "respond")
    assert not access.check("u0001", "draft", "hub")
    (grant,) = access.explain("u0001", "respond", "a00123").grants
    assert (grant.via, grant.path) == ("care", ("hub", "r3", "b23", "a00123"))


def test_memory_grows_with_the_grants_not_the_subtrees(policy: sf.Bundle) -> None:
    """Granting every principal a role on the root costs about what granting it on a
    leaf does."""
    nodes = _tree(3_000)
    principals = [{"id": f"u{k:04d}"} for k in range(1_000)]

    def retained(scope: str) -> int:
        grants = [{"principal": p["id"], "role": "viewer", "scope": scope} for p in principals]
        return _retained(lambda: policy.access(nodes=nodes, grants=grants, principals=principals))[
            1
        ]

    at_a_leaf, at_the_root = retained("a00001"), retained("hub")
    assert at_the_root < 1.5 * at_a_leaf


def test_a_groups_grants_are_stored_once_for_all_members(policy: sf.Bundle) -> None:
    """Members holding grants of their own beside a group's: the group's many grants
    are not copied per member."""
    nodes = _tree(3_000)
    principals = [{"id": f"u{k:04d}", "groups": ["care"]} for k in range(1_000)]
    own = [{"principal": p["id"], "role": "approver", "scope": "a00002"} for p in principals]
    accounts = [n["id"] for n in nodes if n["kind"] == "account"]

    def retained(n_group_grants: int) -> int:
        grants = own + [
            {"group": "care", "role": "viewer", "scope": a} for a in accounts[:n_group_grants]
        ]
        return _retained(lambda: policy.access(nodes=nodes, grants=grants, principals=principals))[
            1
        ]

    one, many = retained(1), retained(1_000)
    # 999 more grant records and one step function of ~2,000 points, not 1,000 copies
    assert many - one < 2_000_000


def test_a_cycle_names_the_first_node_off_the_tree(policy: sf.Bundle) -> None:
    nodes = [
        {"id": "hub", "kind": "hub"},
        {"id": "x", "kind": "brand", "parent": "y"},
        {"id": "y", "kind": "brand", "parent": "x"},
        {"id": "z", "kind": "brand", "parent": "hub"},
        {"id": "self", "kind": "brand", "parent": "self"},
    ]
    with pytest.raises(sf.InputError, match="cycle through `x`") as info:
        policy.access(nodes=nodes, grants=[], principals=[])
    assert info.value.path == "$.nodes[1].parent"
    with pytest.raises(sf.InputError, match="cycle through `self`") as info:
        policy.access(nodes=[nodes[0], nodes[4], nodes[3]], grants=[], principals=[])
    assert info.value.path == "$.nodes[1].parent"
