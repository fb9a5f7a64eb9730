"""The access model through the public API: semantics, errors and properties."""

from __future__ import annotations

import random
from datetime import UTC, datetime
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
forbid publish when has(resource.legal_hold) && resource.legal_hold
permit respond when principal.on_call && resource.kind == "account"
exclusive draft, approve
"""
NODES = [
    {"id": "hub", "kind": "hub"},
    {"id": "emea", "kind": "region", "parent": "hub"},
    {"id": "amer", "kind": "region", "parent": "hub"},
    {"id": "brand-a", "kind": "brand", "parent": "emea"},
    {"id": "brand-b", "kind": "brand", "parent": "amer"},
    {"id": "acct-1", "kind": "account", "parent": "brand-a"},
    {"id": "acct-2", "kind": "account", "parent": "brand-a", "attributes": {"legal_hold": True}},
    {"id": "acct-3", "kind": "account", "parent": "brand-b"},
]
PRINCIPALS = [
    {"id": "alice"},
    {"id": "bob", "groups": ["care"]},
    {"id": "carol", "groups": ["care"], "attributes": {"on_call": True}},
    {"id": "dan", "attributes": {"on_call": False}},
]
GRANTS = [
    {"principal": "alice", "role": "publisher", "scope": "emea"},
    {"group": "care", "role": "responder", "scope": "brand-b"},
    {"principal": "alice", "role": "approver", "scope": "acct-1"},
]


@pytest.fixture(scope="module")
def policy() -> sf.Bundle:
    return sf.loads(POLICY, "policy.sf")


@pytest.fixture(scope="module")
def access(policy: sf.Bundle) -> sf.Access:
    return policy.access(nodes=NODES, grants=GRANTS, principals=PRINCIPALS)


def test_grants_apply_to_the_node_and_below_only(access: sf.Access) -> None:
    assert access.check("alice", "publish", "acct-1")
    assert access.check("alice", "draft", "brand-a")
    assert access.check("alice", "view", "emea")
    assert not access.check("alice", "view", "hub")  # not upwards
    assert not access.check("alice", "view", "acct-3")  # not sideways


def test_deny_by_default_and_roles_extend(access: sf.Access) -> None:
    assert not access.check("dan", "view", "acct-1")
    assert access.permissions("alice", "acct-1") == (
        "view",
        "view_analytics",
        "draft",
        "publish",
        "approve",
    )


def test_group_grants_count_for_members(access: sf.Access) -> None:
    assert access.check("bob", "respond", "acct-3")
    assert access.who_can("respond", "acct-3") == ("bob", "carol")


def test_forbid_overrides_grants(access: sf.Access) -> None:
    assert access.check("alice", "draft", "acct-2")
    assert not access.check("alice", "publish", "acct-2")
    decision = access.explain("alice", "publish", "acct-2")
    assert not decision.allowed
    assert decision.forbids[0].location == "policy.sf:9:1"
    assert "forbid" in decision.reason


def test_permit_without_a_grant(access: sf.Access) -> None:
    assert access.check("carol", "respond", "acct-1")  # on call, an account
    assert not access.check("carol", "respond", "brand-a")  # not an account
    assert not access.check("dan", "respond", "acct-1")  # not on call
    decision = access.explain("carol", "respond", "acct-1")
    assert decision.allowed and decision.permits and not decision.grants


def test_conditions_fail_closed(policy: sf.Bundle) -> None:
    strict = sf.loads(
        "permission view, edit\nrole r { view, edit }\n"
        "forbid edit when principal.level > 3\npermit view when principal.level > 3\n",
        "p.sf",
    )
    acc = strict.access(
        nodes=NODES,
        grants=[{"principal": "alice", "role": "r", "scope": "hub"}],
        principals=[{"id": "alice"}, {"id": "zoe"}],
    )
    # `principal.level` is missing: the forbid raises and denies, the permit raises and does not allow
    assert not acc.check("alice", "edit", "acct-1")
    explained = acc.explain("alice", "edit", "acct-1")
    assert explained.forbids[0].error is not None and "no_such_key" in explained.forbids[0].error
    assert not acc.check("zoe", "view", "acct-1")


def test_explain_gives_the_grants_with_their_tree_paths(access: sf.Access) -> None:
    decision = access.explain("alice", "view", "acct-1")
    assert decision.allowed
    paths = [(g.role, g.scope, g.path) for g in decision.grants]
    assert ("approver", "acct-1", ("acct-1",)) in paths
    assert ("publisher", "emea", ("emea", "brand-a", "acct-1")) in paths


def test_queries_are_sorted_and_agree(access: sf.Access) -> None:
    assert access.what_can("alice", "publish") == ("acct-1", "brand-a", "emea")
    assert access.who_can("view", "acct-1") == ("alice",)


def test_violations_of_separation_of_duties(access: sf.Access) -> None:
    assert [(v.principal, v.resource) for v in access.violations()] == [("alice", "acct-1")]


def test_now_reaches_conditions(policy: sf.Bundle) -> None:
    timed = sf.loads('permission view\npermit view when now.getHours("UTC") >= 9\n', "t.sf").access(
        nodes=NODES, grants=[], principals=[{"id": "x"}]
    )
    assert timed.check("x", "view", "hub", now=datetime(2026, 1, 1, 10, tzinfo=UTC))
    assert not timed.check("x", "view", "hub", now=datetime(2026, 1, 1, 8, tzinfo=UTC))
    assert not timed.check("x", "view", "hub")  # no `now`: the permit raises, fails closed


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (
            lambda n, g, p: g.append({"principal": "alice", "role": "nope", "scope": "hub"}),
            "$.grants[3].role",
        ),
        (
            lambda n, g, p: g.append({"principal": "alice", "role": "viewer", "scope": "x"}),
            "$.grants[3].scope",
        ),
        (
            lambda n, g, p: g.append({"group": "ghosts", "role": "viewer", "scope": "hub"}),
            "$.grants[3].group",
        ),
        (
            lambda n, g, p: g.append({"principal": "eve", "role": "viewer", "scope": "hub"}),
            "$.grants[3].principal",
        ),
        (lambda n, g, p: n.append({"id": "hub", "kind": "hub"}), "$.nodes[8].id"),
        (
            lambda n, g, p: n.append({"id": "x", "kind": "brand", "parent": "nowhere"}),
            "$.nodes[8].parent",
        ),
        (lambda n, g, p: p.append({"id": "alice"}), "$.principals[4].id"),
        (lambda n, g, p: n.append({"kind": "brand"}), "$.nodes[8]"),
    ],
)
def test_bad_records_name_the_record(policy: sf.Bundle, change: Any, path: str) -> None:
    nodes, grants, principals = (
        [dict(n) for n in NODES],
        [dict(g) for g in GRANTS],
        [dict(p) for p in PRINCIPALS],
    )
    change(nodes, grants, principals)
    with pytest.raises(sf.InputError) as info:
        policy.access(nodes=nodes, grants=grants, principals=principals)
    assert info.value.path is not None and info.value.path.startswith(path)


def test_cycles_in_the_tree_are_input_errors(policy: sf.Bundle) -> None:
    nodes = [{"id": "a", "kind": "x", "parent": "b"}, {"id": "b", "kind": "x", "parent": "a"}]
    with pytest.raises(sf.InputError, match="cycle"):
        policy.access(nodes=nodes, grants=[], principals=[])


def test_policy_errors_are_check_errors() -> None:
    with pytest.raises(sf.CheckError) as info:
        sf.loads("permission view\nrole a extends b { view }\nrole b extends a { veiw }\n", "p.sf")
    codes = {d.code for d in info.value.diagnostics}
    assert {"role_cycle", "undeclared_permission"} <= codes
    assert any(d.help == "did you mean `view`?" for d in info.value.diagnostics)


def test_records_from_json(policy: sf.Bundle) -> None:
    nodes, grants, principals = sf.records_from_json(
        {"nodes": NODES, "grants": GRANTS, "principals": PRINCIPALS}
    )
    assert isinstance(grants[0], sf.Grant)
    acc = policy.access(nodes=nodes, grants=grants, principals=principals)
    assert acc.check("alice", "publish", "acct-1")
    with pytest.raises(sf.InputError):
        sf.records_from_json({"nodes": [{"id": 3}]})
    with pytest.raises(sf.UsageError):
        acc.check("alice", "fly", "acct-1")


# -- properties ---------------------------------------------------------------------------

PERMS = ["view", "view_analytics", "draft", "publish", "respond", "approve", "manage_users"]
ROLES = ["viewer", "contributor", "publisher", "responder", "approver", "admin"]
NODE_IDS = [n["id"] for n in NODES]
USERS = ["u0", "u1", "u2", "u3"]

grant_st = st.builds(
    lambda who, role, scope, group: {
        "group" if group else "principal": "g" if group else who,
        "role": role,
        "scope": scope,
    },
    st.sampled_from(USERS),
    st.sampled_from(ROLES),
    st.sampled_from(NODE_IDS),
    st.booleans(),
)
principals_st = st.lists(st.booleans(), min_size=4, max_size=4).map(
    lambda flags: [
        {"id": u, "groups": ["g"], "attributes": {"on_call": f}}
        for u, f in zip(USERS, flags, strict=True)
    ]
)


def _all_answers(acc: sf.Access) -> dict[tuple[str, str, str], bool]:
    return {(u, p, n): acc.check(u, p, n) for u in USERS for p in PERMS for n in NODE_IDS}


@settings(max_examples=60, deadline=None)
@given(grants=st.lists(grant_st, max_size=6), extra=grant_st, principals=principals_st)
def test_adding_a_grant_never_removes_a_permission(
    policy: sf.Bundle,
    grants: list[dict[str, str]],
    extra: dict[str, str],
    principals: list[dict[str, Any]],
) -> None:
    before = _all_answers(policy.access(nodes=NODES, grants=grants, principals=principals))
    after = _all_answers(policy.access(nodes=NODES, grants=[*grants, extra], principals=principals))
    assert all(after[k] for k, v in before.items() if v)


@settings(max_examples=60, deadline=None)
@given(
    grants=st.lists(grant_st, max_size=6),
    principals=principals_st,
    forbidden=st.sampled_from(PERMS),
)
def test_adding_a_forbid_never_adds_a_permission(
    policy: sf.Bundle,
    grants: list[dict[str, str]],
    principals: list[dict[str, Any]],
    forbidden: str,
) -> None:
    before = _all_answers(policy.access(nodes=NODES, grants=grants, principals=principals))
    stricter = sf.loads(POLICY + f'forbid {forbidden} when resource.kind == "brand"\n', "p.sf")
    after = _all_answers(stricter.access(nodes=NODES, grants=grants, principals=principals))
    assert all(before[k] for k, v in after.items() if v)


@settings(max_examples=60, deadline=None)
@given(grants=st.lists(grant_st, max_size=6), principals=principals_st)
def test_queries_agree_and_nothing_is_allowed_without_grant_or_permit(
    policy: sf.Bundle, grants: list[dict[str, str]], principals: list[dict[str, Any]]
) -> None:
    acc = policy.access(nodes=NODES, grants=grants, principals=principals)
    answers = _all_answers(acc)
    for p in PERMS:
        for n in NODE_IDS:
            assert acc.who_can(p, n) == tuple(u for u in USERS if answers[(u, p, n)])
        for u in USERS:
            assert acc.what_can(u, p) == tuple(sorted(n for n in NODE_IDS if answers[(u, p, n)]))
    for u in USERS:
        for n in NODE_IDS:
            assert acc.permissions(u, n) == tuple(p for p in PERMS if answers[(u, p, n)])
    for (u, p, n), allowed in answers.items():
        if allowed:
            decision = acc.explain(u, p, n)
            assert decision.grants or decision.permits
    # shuffled record order changes nothing
    rng = random.Random(7)
    shuffled_nodes, shuffled_grants = NODES[:], grants[:]
    rng.shuffle(shuffled_nodes)
    rng.shuffle(shuffled_grants)
    again = policy.access(nodes=shuffled_nodes, grants=shuffled_grants, principals=principals[::-1])
    assert _all_answers(again) == answers
