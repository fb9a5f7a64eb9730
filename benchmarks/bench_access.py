"""Permission checks: socialflow vs. a plain index, a tree walk, cedarpy and pycasbin;
then socialflow alone along a scale axis.

    python benchmarks/bench_access.py [--quick] [--only shared|scale] [--max-grants N]

Shared workload: ``../shared/bench/authz_workload.py`` (``make_workload()``: 4
regions > 20 brands > 178 accounts, 7 permissions, 6 roles, 1,000 users with
1-3 grants, 100,000 queries).  Every engine's answers must equal
``wl.expected``; one that disagrees is reported WRONG.  Checks per second (the
median of 5 timed passes) and ratios, all measured in the same run.

Scale axis: deterministic trees hub > regions > brands > accounts (a region
per 5,000 nodes, a brand per 100), 10^2 .. 10^5 grants for ``grants // 2``
users (scopes: 10 % regions, 35 % brands, 55 % accounts), up to 30,000 nodes;
and one grant to a group of 2,000 members at the root of 5,000 nodes (once
alone, once with one grant of each member's own beside it).  Per
step: the build time (median of 3), tracemalloc's peak during the build and
what the built ``Access`` retains, and ``check``, ``who_can`` and
``what_can`` calls per second (medians of 3 passes), each step's answers
checked against a naive oracle (walk the ancestors, scan the grants) first.
"expanded entries" is what a model that expands every grant onto every node
below it, for every member, would store: the build must not follow it.
``--quick`` (CI): 2,000 shared queries, one pass, scale steps up to 10^3
grants and the group grants.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import platform
import random
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import sample_size
from triage_workload import shared_bench_dir

import socialflow as sf

Check = Callable[[str, str, str], bool]


def workload_module() -> Any:
    path = str(shared_bench_dir())
    if path not in sys.path:
        sys.path.insert(0, path)
    import authz_workload

    return authz_workload


def socialflow_check(aw: Any, wl: Any) -> Check:
    policy = (
        "permission "
        + ", ".join(aw.PERMISSIONS)
        + "\n"
        + "".join(f"role {role} {{ {', '.join(perms)} }}\n" for role, perms in aw.ROLES.items())
    )
    nodes = [{"id": "hub", "kind": "hub"}]
    nodes += [{"id": r, "kind": "region", "parent": "hub"} for r in wl.regions]
    nodes += [{"id": b, "kind": "brand", "parent": r} for b, r in wl.brands.items()]
    nodes += [{"id": a, "kind": "account", "parent": b} for a, b in wl.accounts.items()]
    grants = [{"principal": u, "role": r, "scope": s} for u, r, s in wl.grants]
    access = sf.loads(policy, "policy.sf").access(
        nodes=nodes, grants=grants, principals=[{"id": u} for u in wl.users]
    )
    return access.check


def plain_index(aw: Any, wl: Any) -> Check:
    gbu = aw.grants_by_user(wl.grants)
    allowed = {
        (u, p, a)
        for u in wl.users
        for a in wl.accounts
        for p in aw.PERMISSIONS
        if aw.oracle(wl, gbu, u, p, a)
    }
    return lambda u, p, a: (u, p, a) in allowed


def tree_walk(aw: Any, wl: Any) -> Check:
    by_user: dict[str, dict[str, set[str]]] = {}
    for u, role, scope in wl.grants:
        by_user.setdefault(u, {}).setdefault(scope, set()).update(aw.ROLES[role])

    def check(u: str, p: str, a: str) -> bool:
        scopes = by_user.get(u, {})
        b = wl.accounts[a]
        return any(p in scopes.get(node, ()) for node in (a, b, wl.brands[b]))

    return check


def cedar_per_user(aw: Any, wl: Any) -> Check:
    import cedarpy

    gbu = aw.grants_by_user(wl.grants)
    policies = {}
    for u in wl.users:
        stmts = []
        for role, scope in gbu.get(u, ()):
            actions = ", ".join(f'Action::"{p}"' for p in aw.ROLES[role])
            stmts.append(
                f'permit(principal == User::"{u}", action in [{actions}], resource in Node::"{scope}");'
            )
        policies[u] = "\n".join(stmts)
    # a host hands Cedar only the entities a request touches: the account's chain
    chains = {}
    for a, b in wl.accounts.items():
        r = wl.brands[b]
        chains[a] = [
            {"uid": {"type": "Node", "id": a}, "attrs": {}, "parents": [{"type": "Node", "id": b}]},
            {"uid": {"type": "Node", "id": b}, "attrs": {}, "parents": [{"type": "Node", "id": r}]},
            {"uid": {"type": "Node", "id": r}, "attrs": {}, "parents": []},
        ]

    def check(u: str, p: str, a: str) -> bool:
        request = {
            "principal": f'User::"{u}"',
            "action": f'Action::"{p}"',
            "resource": f'Node::"{a}"',
            "context": {},
        }
        result = cedarpy.is_authorized(request, policies[u], chains[a])
        return bool(result.allowed)

    return check


def casbin_check(aw: Any, wl: Any) -> Check:
    import casbin

    model = casbin.Enforcer.new_model(
        text="""
[request_definition]
r = sub, obj, act
[policy_definition]
p = sub, obj, act
[role_definition]
g = _, _
g2 = _, _
[policy_effect]
e = some(where (p.eft == allow))
[matchers]
m = r.sub == p.sub && r.act == p.act && g2(r.obj, p.obj)
"""
    )
    # express "role R on scope S" as: user -> user@scope (g), and account -> brand -> region (g2)
    enforcer = casbin.Enforcer(model)
    for u, role, scope in wl.grants:
        for p in aw.ROLES[role]:
            enforcer.add_policy(u, scope, p)
    for a, b in wl.accounts.items():
        enforcer.add_named_grouping_policy("g2", a, b)
    for b, r in wl.brands.items():
        enforcer.add_named_grouping_policy("g2", b, r)
    return lambda u, p, a: bool(enforcer.enforce(u, a, p))


def median_rates(
    fns: dict[str, Callable[[Any], Any]], items: Sequence[Any], repeat: int
) -> dict[str, float]:
    """Items per second of each of ``fns``: the median of ``repeat`` timed passes over
    ``items`` (the median, not the best: on a noisy machine the best pass flatters),
    the functions' passes interleaved so that machine noise hits them alike."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(max(repeat, 1)):
        for name, fn in fns.items():
            t = time.perf_counter()
            for item in items:
                fn(item)
            times[name].append(time.perf_counter() - t)
    return {name: len(items) / statistics.median(t) for name, t in times.items()}


def measure(
    check: Check,
    queries: list[tuple[str, str, str]],
    expected: list[bool],
    budget: float,
    repeat: int,
) -> float | None:
    """Checks per second, the median of ``repeat`` passes (None when an answer disagrees
    with the oracle).  The timed loop calls ``check(u, p, a)`` directly, as a host
    would, for every engine alike."""
    n = sample_size(lambda q: check(*q), queries, budget, floor=200)
    sample = queries[:n]
    if [check(*q) for q in sample] != expected[:n]:
        return None
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        for u, p, a in sample:
            check(u, p, a)
        times.append(time.perf_counter() - t)
    return n / statistics.median(times)


ENGINES: dict[str, Callable[[Any, Any], Check]] = {
    "plain precomputed index (set of allowed triples)": plain_index,
    "walk account > brand > region": tree_walk,
    "socialflow Access.check": socialflow_check,
    "cedarpy (one policy set per user)": cedar_per_user,
    "pycasbin (RBAC with a resource hierarchy)": casbin_check,
}


# -- the scale axis ----------------------------------------------------------------------------
#: one policy for every scale step: the shared workload's permissions and roles, no conditions
SCALE_PERMISSIONS = (
    "view",
    "draft",
    "publish",
    "respond",
    "approve",
    "view_analytics",
    "manage_users",
)
SCALE_ROLES = {
    "viewer": ("view", "view_analytics"),
    "contributor": ("view", "draft"),
    "responder": ("view", "respond"),
    "publisher": ("view", "draft", "publish"),
    "approver": ("view", "approve"),
    "admin": SCALE_PERMISSIONS,
}
SCALE_POLICY = (
    "permission "
    + ", ".join(SCALE_PERMISSIONS)
    + "\n"
    + "".join(f"role {r} {{ {', '.join(ps)} }}\n" for r, ps in SCALE_ROLES.items())
)


@dataclass
class ScaleCase:
    """A deterministic tree hub > regions > brands > accounts, principals and grants,
    with the queries to time and a naive oracle (walk the ancestors, scan the grants)."""

    label: str
    nodes: list[dict[str, Any]]
    principals: list[dict[str, Any]]
    grants: list[dict[str, str]]
    parent: dict[str, str | None]
    under: dict[str, list[str]]
    checks: list[tuple[str, str, str]] = field(default_factory=list)
    who: list[tuple[str, str]] = field(default_factory=list)
    what: list[tuple[str, str]] = field(default_factory=list)

    def expanded_entries(self) -> int:
        """What expanding every grant onto every node below it, per member, would store
        (an upper bound: overlapping grants share entries)."""
        members: dict[str, int] = {}
        for p in self.principals:
            for g in p.get("groups", ()):
                members[g] = members.get(g, 0) + 1
        return sum(
            len(self.under[g["scope"]]) * (members[g["group"]] if "group" in g else 1)
            for g in self.grants
        )

    def oracle(self) -> Callable[[str, str, str], bool]:
        own: dict[str, list[tuple[str, str]]] = {}
        for g in self.grants:
            own.setdefault(g.get("principal") or "@" + g["group"], []).append(
                (g["role"], g["scope"])
            )
        groups = {p["id"]: tuple("@" + g for g in p.get("groups", ())) for p in self.principals}

        def allowed(u: str, perm: str, node: str) -> bool:
            chain = set()
            current: str | None = node
            while current is not None:
                chain.add(current)
                current = self.parent[current]
            return any(
                perm in SCALE_ROLES[role] and scope in chain
                for who in (u, *groups[u])
                for role, scope in own.get(who, ())
            )

        return allowed

    def walker(self) -> Check:
        """The fastest plain reference: each node's ancestors precomputed, a dict
        scope -> permissions per principal and per group, walked at check time."""
        held: dict[str, dict[str, set[str]]] = {}
        for g in self.grants:
            who = g.get("principal") or "@" + g["group"]
            held.setdefault(who, {}).setdefault(g["scope"], set()).update(SCALE_ROLES[g["role"]])
        holders = {
            p["id"]: [
                held[w] for w in (p["id"], *("@" + g for g in p.get("groups", ()))) if w in held
            ]
            for p in self.principals
        }
        chains: dict[str, tuple[str, ...]] = {}
        for node in self.parent:
            chain, current = [], node
            while current is not None:
                chain.append(current)
                current = self.parent[current]
            chains[node] = tuple(chain)

        def check(u: str, perm: str, node: str) -> bool:
            return any(perm in h.get(a, ()) for a in chains[node] for h in holders[u])

        return check


def make_tree(
    n_nodes: int, rng: random.Random
) -> tuple[list[dict[str, Any]], dict[str, str | None]]:
    n_regions = max(2, n_nodes // 5000)
    n_brands = max(4, n_nodes // 100)
    n_accounts = n_nodes - 1 - n_regions - n_brands
    nodes: list[dict[str, Any]] = [{"id": "hub", "kind": "hub"}]
    parent: dict[str, str | None] = {"hub": None}
    regions = [f"r{k:03d}" for k in range(n_regions)]
    brands = [f"b{k:05d}" for k in range(n_brands)]
    for r in regions:
        nodes.append({"id": r, "kind": "region", "parent": "hub"})
        parent[r] = "hub"
    for k, b in enumerate(brands):
        nodes.append({"id": b, "kind": "brand", "parent": regions[k % n_regions]})
        parent[b] = regions[k % n_regions]
    for k in range(n_accounts):
        a, b = f"a{k:06d}", brands[k % n_brands if k < n_brands else rng.randrange(n_brands)]
        nodes.append({"id": a, "kind": "account", "parent": b})
        parent[a] = b
    return nodes, parent


def subtrees(parent: dict[str, str | None]) -> dict[str, list[str]]:
    under: dict[str, list[str]] = {n: [] for n in parent}
    for node in parent:
        current: str | None = node
        while current is not None:
            under[current].append(node)
            current = parent[current]
    return under


def add_queries(case: ScaleCase, rng: random.Random, n: int) -> None:
    users = [p["id"] for p in case.principals]
    node_ids = [node["id"] for node in case.nodes]
    scopes: dict[str, list[str]] = {}
    for g in case.grants:
        if "principal" in g:
            scopes.setdefault(g["principal"], []).append(g["scope"])
    for _ in range(n):
        u = rng.choice(users)
        perm = rng.choice(SCALE_PERMISSIONS)
        if rng.random() < 0.5 and u in scopes:  # inside one of the user's scopes
            node = rng.choice(case.under[rng.choice(scopes[u])])
        else:
            node = rng.choice(node_ids)
        case.checks.append((u, perm, node))
    case.who = [(p, node) for u, p, node in case.checks[: max(n // 10, 50)]]
    case.what = [(u, p) for u, p, node in case.checks[: max(n // 10, 50)]]


def grant_case(n_grants: int, n_nodes: int, seed: int, n_queries: int) -> ScaleCase:
    """``n_grants`` grants for ``n_grants // 2`` users (1-3 grants each, as in the shared
    workload): scopes 10 % regions, 35 % brands, 55 % accounts."""
    rng = random.Random(seed)
    nodes, parent = make_tree(n_nodes, rng)
    by_kind: dict[str, list[str]] = {}
    for node in nodes:
        by_kind.setdefault(node["kind"], []).append(node["id"])
    users = [f"u{k:06d}" for k in range(max(1, n_grants // 2))]
    roles = list(SCALE_ROLES)
    grants = []
    for k in range(n_grants):
        u = users[k] if k < len(users) else rng.choice(users)  # everyone holds one
        kind = rng.choices(("region", "brand", "account"), weights=(0.10, 0.35, 0.55))[0]
        role = rng.choices(roles, weights=(0.22, 0.22, 0.2, 0.14, 0.14, 0.08))[0]
        grants.append({"principal": u, "role": role, "scope": rng.choice(by_kind[kind])})
    case = ScaleCase(
        f"{n_grants:,} grants, {n_nodes:,} nodes",
        nodes,
        [{"id": u} for u in users],
        grants,
        parent,
        subtrees(parent),
    )
    add_queries(case, rng, n_queries)
    return case


def group_case(
    members: int, n_nodes: int, seed: int, n_queries: int, own: bool = False
) -> ScaleCase:
    """One grant to a group at the root; every principal is a member (and, with ``own``,
    also holds one grant of its own on a random brand or account: a check then asks
    both)."""
    rng = random.Random(seed)
    nodes, parent = make_tree(n_nodes, rng)
    users = [f"u{k:06d}" for k in range(members)]
    grants = [{"group": "care", "role": "responder", "scope": "hub"}]
    if own:
        below = [n["id"] for n in nodes if n["kind"] in ("brand", "account")]
        roles = [r for r in SCALE_ROLES if r != "admin"]
        grants += [
            {"principal": u, "role": rng.choice(roles), "scope": rng.choice(below)} for u in users
        ]
    label = "1 group grant at the root" + (" + 1 own grant each" if own else "")
    case = ScaleCase(
        f"{label}, {members:,} members, {n_nodes:,} nodes",
        nodes,
        [{"id": u, "groups": ["care"]} for u in users],
        grants,
        parent,
        subtrees(parent),
    )
    add_queries(case, rng, n_queries)
    return case


@dataclass
class ScaleRow:
    case: ScaleCase
    build_s: float
    peak_mb: float
    retained_mb: float
    check_rate: float
    walk_rate: float
    who_rate: float
    what_rate: float
    correct: bool


def build(policy: sf.Bundle, case: ScaleCase) -> sf.Access:
    return policy.access(nodes=case.nodes, grants=case.grants, principals=case.principals)


def build_memory(policy: sf.Bundle, case: ScaleCase) -> tuple[float, float]:
    """(tracemalloc peak during the build, what the built ``Access`` retains), in MB."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    access = build(policy, case)
    peak = tracemalloc.get_traced_memory()[1] - before
    gc.collect()
    retained = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    del access
    return peak / 1e6, retained / 1e6


def agrees(access: sf.Access, case: ScaleCase, n: int) -> bool:
    """The answers of ``n`` checks, a few who_can and what_can, against the naive oracle."""
    allowed = case.oracle()
    if any(access.check(*q) != allowed(*q) for q in case.checks[:n]):
        return False
    users = [p["id"] for p in case.principals]
    node_ids = [node["id"] for node in case.nodes]
    for perm, node in case.who[:5]:
        if access.who_can(perm, node) != tuple(sorted(u for u in users if allowed(u, perm, node))):
            return False
    for u, perm in case.what[:5]:
        if access.what_can(u, perm) != tuple(sorted(n for n in node_ids if allowed(u, perm, n))):
            return False
    return True


def scale_row(policy: sf.Bundle, case: ScaleCase, repeat: int, budget: float) -> ScaleRow:
    times = []
    for _ in range(repeat):
        gc.collect()
        t = time.perf_counter()
        access = build(policy, case)
        times.append(time.perf_counter() - t)
    peak, retained = build_memory(policy, case)
    walk = case.walker()
    correct = agrees(access, case, 2000) and all(
        walk(*q) == access.check(*q) for q in case.checks[:2000]
    )

    def sample(fn: Callable[[Any], Any], items: list[Any]) -> list[Any]:
        return items[: sample_size(fn, items, budget, floor=min(len(items), 50))]

    def check(q: tuple[str, str, str]) -> bool:
        return access.check(*q)

    def who_can(q: tuple[str, str]) -> tuple[str, ...]:
        return access.who_can(*q)

    def what_can(q: tuple[str, str]) -> tuple[str, ...]:
        return access.what_can(*q)

    passes = 5 if repeat > 1 else 3
    checks = median_rates(
        {"check": check, "walk": lambda q: walk(*q)}, sample(check, case.checks), passes
    )
    who = median_rates({"who": who_can}, sample(who_can, case.who), passes)
    what = median_rates({"what": what_can}, sample(what_can, case.what), passes)
    return ScaleRow(
        case,
        statistics.median(times),
        peak,
        retained,
        checks["check"],
        checks["walk"],
        who["who"],
        what["what"],
        correct,
    )


def scale_axis(quick: bool, max_grants: int) -> None:
    steps = [(100, 300), (1_000, 3_000), (10_000, 30_000), (100_000, 30_000)]
    if quick:
        steps = steps[:2]
    steps = [s for s in steps if s[0] <= max_grants]
    n_queries = 2_000 if quick else 20_000
    repeat, budget = (1, 0.05) if quick else (3, 0.3)
    policy = sf.loads(SCALE_POLICY, "scale.sf")
    cases = [grant_case(g, n, seed=1000 + g, n_queries=n_queries) for g, n in steps]
    n_grant_cases = len(cases)
    cases.append(group_case(2_000, 5_000, seed=7, n_queries=n_queries))
    cases.append(group_case(2_000, 5_000, seed=8, n_queries=n_queries, own=True))
    print(
        "\n## Scale axis: hub > regions > brands > accounts; "
        f"build median of {repeat}, query rates median of {5 if repeat > 1 else 3} passes "
        "(check and the walk interleaved)\n"
    )
    print(
        "| case | principals | expanded entries (per-node model) | build | build peak | retained "
        "| check/s | ancestor walk/s | check / walk | who_can/s | what_can/s | oracle |\n"
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    )
    rows = []
    for case in cases:
        row = scale_row(policy, case, repeat, budget)
        rows.append(row)
        print(
            f"| {case.label} | {len(case.principals):,} | {case.expanded_entries():,} "
            f"| {row.build_s * 1000:,.1f} ms | {row.peak_mb:,.2f} MB | {row.retained_mb:,.2f} MB "
            f"| {row.check_rate:,.0f} | {row.walk_rate:,.0f} | {row.check_rate / row.walk_rate:.2f}x "
            f"| {row.who_rate:,.0f} | {row.what_rate:,.0f} "
            f"| {'ok' if row.correct else 'WRONG'} |",
            flush=True,
        )
    grant_rows = rows[:n_grant_cases]
    if len(grant_rows) > 1:
        print(
            "\nGrowth from one step to the next (x); records = nodes + grants + principals:\n\n"
            "| step | grants | nodes | records | expanded entries | build time | retained memory |\n"
            "| --- | --- | --- | --- | --- | --- | --- |"
        )

        def records(case: ScaleCase) -> int:
            return len(case.nodes) + len(case.grants) + len(case.principals)

        for a, b in itertools.pairwise(grant_rows):
            print(
                f"| {a.case.label} -> {b.case.label} "
                f"| {len(b.case.grants) / len(a.case.grants):.1f}x "
                f"| {len(b.case.nodes) / len(a.case.nodes):.1f}x "
                f"| {records(b.case) / records(a.case):.1f}x "
                f"| {b.case.expanded_entries() / a.case.expanded_entries():.1f}x "
                f"| {b.build_s / a.build_s:.1f}x | {b.retained_mb / a.retained_mb:.1f}x |"
            )


def shared_workload(quick: bool, budget: float) -> None:
    aw = workload_module()
    wl = aw.make_workload()
    queries = list(wl.queries)
    expected = list(wl.expected)
    if quick:
        queries, expected, budget = queries[:2000], expected[:2000], 0.05
    repeat = 1 if quick else 5
    print(
        f"## Shared workload: authz_workload.make_workload(), {len(queries):,} queries, "
        f"median of {repeat} passes\n"
    )
    rates: dict[str, float | str] = {}
    for name, factory in ENGINES.items():
        try:
            check = factory(aw, wl)
        except ImportError:
            rates[name] = "not installed"
            continue
        rate = measure(check, queries, expected, budget, repeat)
        if rate is None:
            rates[name] = "WRONG"
            continue
        rates[name] = rate
    base = rates["plain precomputed index (set of allowed triples)"]
    print("| engine | checks/s | ratio to plain index |\n| --- | --- | --- |")
    for name, rate in rates.items():
        if isinstance(rate, str):
            print(f"| {name} | {rate} | - |")
        else:
            ratio = f"{rate / base:.3g}x" if isinstance(base, float) else "-"
            print(f"| {name} | {rate:,.0f} | {ratio} |")
    ours = rates["socialflow Access.check"]
    if isinstance(ours, float):
        for peer in (
            "cedarpy (one policy set per user)",
            "pycasbin (RBAC with a resource hierarchy)",
            "walk account > brand > region",
        ):
            theirs = rates[peer]
            if isinstance(theirs, float):
                print(f"\nsocialflow / {peer}: {ours / theirs:,.3g}x")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--budget", type=float, default=1.0, help="seconds per timed pass")
    parser.add_argument("--only", choices=("shared", "scale"), help="run one part only")
    parser.add_argument(
        "--max-grants", type=int, default=100_000, help="largest scale step (in grants)"
    )
    args = parser.parse_args(argv)
    print(
        f"# Access benchmark: {platform.python_implementation()} {platform.python_version()}, "
        f"{platform.machine()}\n"
    )
    if args.only != "scale":
        shared_workload(args.quick, args.budget)
    if args.only != "shared":
        scale_axis(args.quick, args.max_grants)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
