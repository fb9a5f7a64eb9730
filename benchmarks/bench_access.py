"""Permission checks: socialflow vs. a plain index, a tree walk, cedarpy and pycasbin.

    python benchmarks/bench_access.py [--quick]

Workload: ``../shared/bench/authz_workload.py`` (``make_workload()``: 4
regions > 20 brands > 178 accounts, 7 permissions, 6 roles, 1,000 users with
1-3 grants, 100,000 queries).  Every engine's answers must equal
``wl.expected``; one that disagrees is reported WRONG.  Checks per second and
ratios, all measured in the same run.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Callable
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


def measure(
    check: Check,
    queries: list[tuple[str, str, str]],
    expected: list[bool],
    budget: float,
    repeat: int,
) -> float | None:
    """Checks per second (None when an answer disagrees with the oracle).  The timed
    loop calls ``check(u, p, a)`` directly, as a host would, for every engine alike."""
    n = sample_size(lambda q: check(*q), queries, budget, floor=200)
    sample = queries[:n]
    if [check(*q) for q in sample] != expected[:n]:
        return None
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        for u, p, a in sample:
            check(u, p, a)
        best = min(best, time.perf_counter() - t)
    return n / best


ENGINES: dict[str, Callable[[Any, Any], Check]] = {
    "plain precomputed index (set of allowed triples)": plain_index,
    "walk account > brand > region": tree_walk,
    "socialflow Access.check": socialflow_check,
    "cedarpy (one policy set per user)": cedar_per_user,
    "pycasbin (RBAC with a resource hierarchy)": casbin_check,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--budget", type=float, default=1.0, help="seconds per timed pass")
    args = parser.parse_args(argv)
    aw = workload_module()
    wl = aw.make_workload()
    queries = list(wl.queries)
    expected = list(wl.expected)
    if args.quick:
        queries, expected, args.budget = queries[:2000], expected[:2000], 0.05
    print(
        f"# Access benchmark: {platform.python_implementation()} {platform.python_version()}, "
        f"{platform.machine()}; authz_workload.make_workload(), {len(queries):,} queries\n"
    )
    rates: dict[str, float | str] = {}
    for name, factory in ENGINES.items():
        try:
            check = factory(aw, wl)
        except ImportError:
            rates[name] = "not installed"
            continue
        rate = measure(check, queries, expected, args.budget, 1 if args.quick else 3)
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
        ):
            if isinstance(rates[peer], float):
                print(f"\nsocialflow / {peer}: {ours / rates[peer]:,.0f}x")  # type: ignore[operator]
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
