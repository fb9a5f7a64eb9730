"""Triage throughput: socialflow vs. peers on the shared rules workload.

    python benchmarks/bench_triage.py [--n 5000] [--rules 10,100,1000] [--repeat 3] [--quick]

Workload: ``../shared/bench/rules_workload.py`` (``messages(n, seed=1)``,
``rules(r, seed=2)``), translated to the socialflow DSL by
``benchmarks/triage_workload.py``.  Every engine's per-message matched-rule
lists must equal the workload's oracle (``reference_match_all``); an engine
that disagrees is reported WRONG and not timed.  Slow peers run on a prefix
of the messages (sized so each run takes about a second); throughput is in
messages per second, and ratios are to the plain per-rule lambdas measured
in the same run.  socialflow is measured through its public API
(``bundle.triage(message, now)``), which also validates each message
against the schema and builds a full ``Decision``.

Also reports socialflow's load time (parse + check + compile) for 1,000 and
10,000 rules.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import triage_workload as tw
from _timing import best_rate, sample_size

import socialflow as sf

Matcher = Callable[[dict[str, Any]], list[str]]
NOW = datetime(2026, 11, 23, tzinfo=UTC)


def keyword_index(rules: list[dict[str, Any]]) -> Matcher:
    import ahocorasick

    automaton = ahocorasick.Automaton()
    by_keyword: dict[str, list[int]] = {}
    for i, rule in enumerate(rules):
        for k in rule["keywords_any"]:
            by_keyword.setdefault(f" {k} ", []).append(i)
    for k, ids in by_keyword.items():
        automaton.add_word(k, tuple(ids))
    automaton.make_automaton()
    channels = [frozenset(r["channels"]) for r in rules]
    checks = [_third(r) for r in rules]
    names = [r["id"] for r in rules]

    def match(m: dict[str, Any]) -> list[str]:
        found: set[int] = set()
        for _, ids in automaton.iter(m["text"]):
            found.update(ids)
        return [names[i] for i in sorted(found) if m["channel"] in channels[i] and checks[i](m)]

    return match


def _third(rule: dict[str, Any]) -> Callable[[dict[str, Any]], bool]:
    if "max_sentiment" in rule:
        x = rule["max_sentiment"]
        return lambda m: m["sentiment"] < x
    n = rule["min_followers"]
    return lambda m: m["author_followers"] >= n


def lambdas(rules: list[dict[str, Any]]) -> Matcher:
    compiled = []
    for rule in rules:
        channels = frozenset(rule["channels"])
        keywords = tuple(f" {k} " for k in rule["keywords_any"])
        third = _third(rule)
        compiled.append(
            (
                rule["id"],
                lambda m, c=channels, k=keywords, t=third: (
                    m["channel"] in c and any(w in m["text"] for w in k) and t(m)
                ),
            )
        )

    def match(m: dict[str, Any]) -> list[str]:
        return [name for name, f in compiled if f(m)]

    return match


def socialflow(rules: list[dict[str, Any]]) -> Matcher:
    bundle = sf.loads(tw.ruleset_text(rules), "bench.sf")
    triage = bundle.engine.triage

    def match(m: dict[str, Any]) -> list[str]:
        return list(triage(m, NOW).matched)

    return match


def _cel_text(rule: dict[str, Any]) -> str:
    channels = ", ".join(f'"{c}"' for c in rule["channels"])
    keywords = " || ".join(f'text.contains(" {k} ")' for k in rule["keywords_any"])
    third = (
        f"sentiment < {rule['max_sentiment']!r}"
        if "max_sentiment" in rule
        else f"author_followers >= {rule['min_followers']}"
    )
    return f"channel in [{channels}] && ({keywords}) && {third}"


def rust_cel(rules: list[dict[str, Any]]) -> Matcher:
    import cel

    programs = [(r["id"], cel.compile(_cel_text(r))) for r in rules]

    def match(m: dict[str, Any]) -> list[str]:
        return [name for name, p in programs if p.execute(m)]

    return match


def zen_engine(rules: list[dict[str, Any]]) -> Matcher:
    import zen

    exprs = []
    for r in rules:
        channels = ", ".join(f"'{c}'" for c in r["channels"])
        keywords = " or ".join(f"contains(text, ' {k} ')" for k in r["keywords_any"])
        third = (
            f"sentiment < {r['max_sentiment']!r}"
            if "max_sentiment" in r
            else f"author_followers >= {r['min_followers']}"
        )
        exprs.append(
            (
                r["id"],
                zen.compile_expression(f"channel in [{channels}] and ({keywords}) and {third}"),
            )
        )

    def match(m: dict[str, Any]) -> list[str]:
        return [name for name, e in exprs if e.evaluate(m)]

    return match


def cel_python(rules: list[dict[str, Any]]) -> Matcher:
    import celpy

    env = celpy.Environment()
    programs = [(r["id"], env.program(env.compile(_cel_text(r)))) for r in rules]

    def match(m: dict[str, Any]) -> list[str]:
        activation = {k: celpy.json_to_cel(v) for k, v in m.items()}
        return [name for name, p in programs if bool(p.evaluate(activation))]

    return match


def rule_engine_peer(rules: list[dict[str, Any]]) -> Matcher:
    import rule_engine

    compiled = []
    for r in rules:
        channels = ", ".join(f"'{c}'" for c in r["channels"])
        keywords = " or ".join(f"' {k} ' in text" for k in r["keywords_any"])
        third = (
            f"sentiment < {r['max_sentiment']!r}"
            if "max_sentiment" in r
            else f"author_followers >= {r['min_followers']}"
        )
        compiled.append(
            (r["id"], rule_engine.Rule(f"channel in [{channels}] and ({keywords}) and {third}"))
        )

    def match(m: dict[str, Any]) -> list[str]:
        return [name for name, rule in compiled if rule.matches(m)]

    return match


ENGINES: dict[str, Callable[[list[dict[str, Any]]], Matcher]] = {
    "plain Python lambdas, one per rule": lambdas,
    "keyword index (pyahocorasick, then plain checks)": keyword_index,
    "socialflow (bundle.triage, full Decision)": socialflow,
    "common-expression-language (Rust CEL)": rust_cel,
    "zen-engine expression": zen_engine,
    "rule-engine": rule_engine_peer,
    "cel-python": cel_python,
}


def run(
    name: str,
    factory: Callable[[list[dict[str, Any]]], Matcher],
    rules: list[dict[str, Any]],
    msgs: list[dict[str, Any]],
    oracle: list[list[str]],
    repeat: int,
    budget: float,
) -> float | str:
    try:
        match = factory(rules)
    except ImportError:
        return "not installed"
    n = sample_size(match, msgs, budget)
    sample = msgs[:n]
    if [match(m) for m in sample] != oracle[:n]:
        return "WRONG"
    return best_rate(match, sample, repeat)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--rules", default="10,100,1000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--budget", type=float, default=1.0, help="seconds per timed pass of a peer"
    )
    parser.add_argument("--quick", action="store_true", help="tiny run for CI smoke tests")
    parser.add_argument(
        "--no-load", action="store_true", help="skip the 1,000/10,000-rule load timing"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.rules, args.repeat, args.budget, args.no_load = 300, "10,100", 1, 0.05, True
    w = tw.workload()
    msgs = w.messages(args.n, 1)
    sizes = [int(x) for x in args.rules.split(",")]
    print(
        f"# Triage benchmark: {platform.python_implementation()} {platform.python_version()}, "
        f"{platform.machine()}, workload rules_workload messages(n={args.n}, seed=1), rules(r, seed=2)\n"
    )
    results: dict[str, dict[int, float | str]] = {name: {} for name in ENGINES}
    for r in sizes:
        rules = w.rules(r, 2)
        oracle = w.reference_match_all(rules, msgs)
        for name, factory in ENGINES.items():
            results[name][r] = run(name, factory, rules, msgs, oracle, args.repeat, args.budget)
    header = "| engine | " + " | ".join(f"R={r} msg/s | ratio" for r in sizes) + " |"
    print(header)
    print("|" + " --- |" * (1 + 2 * len(sizes)))
    base = results["plain Python lambdas, one per rule"]
    for name, row in results.items():
        cells = []
        for r in sizes:
            v = row[r]
            if isinstance(v, str):
                cells += [v, "-"]
            else:
                b = base[r]
                ratio = f"{v / b:.3g}x" if isinstance(b, float) else "-"
                cells += [f"{v:,.0f}", ratio]
        print(f"| {name} | " + " | ".join(cells) + " |")
    sfr = results["socialflow (bundle.triage, full Decision)"]
    kw = results["keyword index (pyahocorasick, then plain checks)"]
    print()
    for r in sizes:
        if isinstance(sfr[r], float) and isinstance(kw[r], float) and isinstance(base[r], float):
            print(
                f"R={r}: socialflow / keyword index = {sfr[r] / kw[r]:.2f}x; "  # type: ignore[operator]
                f"socialflow / lambdas = {sfr[r] / base[r]:.2f}x"
            )  # type: ignore[operator]
    if not args.no_load:
        print("\n| rules | load (parse + check + compile) |\n| --- | --- |")
        for r in (1000, 10000):
            text = tw.ruleset_text(w.rules(r, 2))
            t = time.perf_counter()
            bundle = sf.loads(text, "bench.sf")
            bundle.engine  # noqa: B018 - compiles the engine
            print(f"| {r:,} | {time.perf_counter() - t:.2f} s |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
