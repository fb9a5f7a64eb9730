"""Triage throughput as users meet it: medians, four rule formulations, R up to 10,000.

    python benchmarks/bench_triage.py [--n 5000] [--rules 10,100,1000,10000]
        [--forms any,or,word,reordered] [--repeat 7] [--budget 0.5] [--quick]
    python benchmarks/bench_triage.py --profile 10   # cProfile of bundle.triage, R=10

Workload: ``../shared/bench/rules_workload.py`` (``messages(n, seed=1)``,
``rules(r, seed=2)``), translated to the socialflow DSL by
``benchmarks/triage_workload.py`` in four formulations, as rule authors write
the same rule (``any``: ``containsAny([" k1 ", " k2 "])``; ``or``:
``contains(" k1 ") || contains(" k2 ")``; ``word``: ``containsAnyWord(["k1",
"k2"])``; ``reordered``: the sentiment/followers test first, the text test
second, the channel test last).  socialflow is measured through its public API,
``sf.loads(text).triage(message, now)``, which validates each message against
the schema and builds a full ``Decision``.

Every engine's per-message matched-rule lists must equal the workload's oracle
(``reference_match_all``) before it is timed; an engine that disagrees is
reported WRONG and not timed.  socialflow, the plain lambdas and the keyword
index are checked on all n messages; the peers (Rust CEL, zen-engine,
rule-engine, cel-python; R <= 100 only, they are too slow beyond) on the prefix
they are timed on.

Timing: one sample is a timed pass over the messages (repeated, or cut to a
prefix, so that it takes about ``--budget`` seconds); the engines of one R are
sampled in turn, ``--repeat`` rounds, so drifting load on a shared machine
hits them alike.  Reported: the median rate in messages per second, the
slowest-fastest range of the samples, and ratios of medians to the keyword
index (pyahocorasick prefilter, then plain checks) and to plain per-rule
lambdas measured in the same run.

Also reports socialflow's load time (``sf.loads`` + compiling the engine) for
every formulation at R >= 1,000, from the loads the run makes anyway.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import math
import os
import platform
import pstats
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import triage_workload as tw

import socialflow as sf

Message = dict[str, Any]
Matcher = Callable[[Message], list[str]]
NOW = datetime(2026, 11, 23, tzinfo=UTC)

LAMBDAS = "plain Python lambdas, one per rule"
KEYWORD_INDEX = "keyword index (pyahocorasick, then plain checks)"


# --- baselines and peers ---------------------------------------------------------------------


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


PEERS: dict[str, Callable[[list[dict[str, Any]]], Matcher]] = {
    "common-expression-language (Rust CEL)": rust_cel,
    "zen-engine expression": zen_engine,
    "rule-engine": rule_engine_peer,
    "cel-python": cel_python,
}


# --- median timer -----------------------------------------------------------------------------


def plan(
    fn: Callable[..., Any], items: Sequence[Message], budget: float, floor: int, *args: Any
) -> tuple[int, int]:
    """(prefix length, passes) so that one timed sample of ``fn`` takes about ``budget`` s.

    Probes messages one at a time for at most ~50 ms, so a slow peer is not run
    over many messages just to find out it is slow.
    """
    t0 = time.perf_counter()
    done = 0
    for item in items:
        fn(item, *args)
        done += 1
        if done >= 200 or time.perf_counter() - t0 > 0.05:
            break
    per = max((time.perf_counter() - t0) / done, 1e-9)
    full = per * len(items)
    if full >= budget:
        return max(min(floor, len(items)), int(budget / per)), 1
    return len(items), max(1, math.ceil(budget / full))


def sample_rate(fn: Callable[..., Any], items: Sequence[Message], passes: int, now: Any) -> float:
    """Messages per second of one timed sample: ``passes`` passes of ``fn`` over ``items``.

    With ``now`` the call is ``fn(item, now)``, as a host calls ``bundle.triage``.
    """
    gc.collect()
    if now is None:
        t = time.perf_counter()
        for _ in range(passes):
            for item in items:
                fn(item)
    else:
        t = time.perf_counter()
        for _ in range(passes):
            for item in items:
                fn(item, now)
    return passes * len(items) / (time.perf_counter() - t)


@dataclass
class Contestant:
    name: str
    group: str  # "baseline", "socialflow" or "peer"
    form: str | None = None
    check: Matcher | None = None
    #: what is timed: ``timed(message)``, or ``timed(message, now)`` when ``now`` is set
    timed: Callable[..., Any] | None = None
    now: datetime | None = None
    status: str | None = None  # "not installed", "WRONG ..." or None when timed
    load_s: float | None = None
    prefix: int = 0
    passes: int = 0
    rates: list[float] = field(default_factory=list)

    @property
    def median(self) -> float | None:
        return statistics.median(self.rates) if self.rates else None

    def cell(self) -> str:
        return self.status or f"{self.median:,.0f}"

    def spread(self) -> str:
        if not self.rates:
            return "-"
        return f"{min(self.rates):,.0f}-{max(self.rates):,.0f}"


def _ratio(a: Contestant | None, b: Contestant | None) -> float | None:
    if a is None or b is None or a.median is None or b.median is None:
        return None
    return a.median / b.median


def _md(text: str) -> str:
    """``text`` for a Markdown table cell (``||`` would split the cell)."""
    return text.replace("|", "\\|")


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.3g}x"


# --- contestants ------------------------------------------------------------------------------


def socialflow(rules: list[dict[str, Any]], form: str) -> Contestant:
    t = time.perf_counter()
    bundle = sf.loads(tw.ruleset_text(rules, form), "bench.sf")
    bundle.engine  # noqa: B018 - compiles the engine, as the first triage would
    load_s = time.perf_counter() - t
    triage = bundle.triage
    return Contestant(
        f"socialflow `{form}`: {tw.FORMULATIONS[form]}",
        "socialflow",
        form=form,
        check=lambda m: list(triage(m, NOW).matched),
        timed=triage,
        now=NOW,
        load_s=load_s,
    )


def build(
    r: int, rules: list[dict[str, Any]], forms: Sequence[str], peer_max: int
) -> list[Contestant]:
    out = [
        Contestant(LAMBDAS, "baseline", check=lambdas(rules)),
        Contestant(KEYWORD_INDEX, "baseline", check=keyword_index(rules)),
    ]
    out += [socialflow(rules, form) for form in forms]
    if r <= peer_max:
        for name, factory in PEERS.items():
            try:
                out.append(Contestant(name, "peer", check=factory(rules)))
            except ImportError:
                out.append(Contestant(name, "peer", status="not installed"))
    for c in out:
        if c.timed is None:
            c.timed = c.check
    return out


def measure(
    contestants: list[Contestant],
    msgs: list[Message],
    oracle: list[list[str]],
    repeat: int,
    budget: float,
    peer_floor: int,
) -> None:
    """Check every contestant against the oracle, then time them in interleaved rounds."""
    live = [c for c in contestants if c.status is None]
    for c in live:
        args = (c.now,) if c.now is not None else ()
        floor = peer_floor if c.group == "peer" else 500
        c.prefix, c.passes = plan(c.timed, msgs, budget, floor, *args)  # type: ignore[arg-type]
        checked = c.prefix if c.group == "peer" else len(msgs)
        got = [c.check(m) for m in msgs[:checked]]  # type: ignore[misc]
        if got != oracle[:checked]:
            bad = sum(1 for a, b in zip(got, oracle, strict=False) if a != b)
            c.status = f"WRONG ({bad}/{checked} messages)"
    live = [c for c in live if c.status is None]
    for round_ in range(repeat):
        k = round_ % len(live)
        for c in live[k:] + live[:k]:  # rotate, so no engine always runs first
            c.rates.append(sample_rate(c.timed, msgs[: c.prefix], c.passes, c.now))  # type: ignore[arg-type]


# --- report -----------------------------------------------------------------------------------


def report_size(r: int, contestants: list[Contestant]) -> None:
    by = {c.name: c for c in contestants}
    base, kw = by[LAMBDAS], by[KEYWORD_INDEX]
    print(f"\n### R = {r:,} rules\n")
    print("| engine | msg/s (median) | slowest-fastest | / keyword index | / lambdas | timed on |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    for c in contestants:
        on = "-"
        if c.rates:
            on = f"{c.prefix:,} msgs" + (f" x {c.passes}" if c.passes > 1 else "")
        name = f"**{_md(c.name)}**" if c.group == "socialflow" else c.name
        print(
            f"| {name} | {c.cell()} | {c.spread()} | {_fmt(_ratio(c, kw))} "
            f"| {_fmt(_ratio(c, base))} | {on} |"
        )


def report_summary(
    sizes: list[int],
    forms: Sequence[str],
    results: dict[int, list[Contestant]],
    *,
    show_load: bool = True,
) -> None:
    def get(r: int, name: str | None = None, form: str | None = None) -> Contestant | None:
        for c in results[r]:
            if (name is not None and c.name == name) or (form is not None and c.form == form):
                return c
        return None

    for title, against in (("keyword index", KEYWORD_INDEX), ("plain lambdas", LAMBDAS)):
        print(f"\n### socialflow `bundle.triage` / {title} (ratio of medians)\n")
        print("| formulation | " + " | ".join(f"R={r:,}" for r in sizes) + " |")
        print("| --- |" + " ---: |" * len(sizes))
        for form in forms:
            cells = [_fmt(_ratio(get(r, form=form), get(r, name=against))) for r in sizes]
            print(f"| `{form}`: {_md(tw.FORMULATIONS[form])} | " + " | ".join(cells) + " |")

    print("\n### Targets (by median)\n")
    for r, against, label in ((1000, KEYWORD_INDEX, "keyword index"), (10, LAMBDAS, "lambdas")):
        if r not in results:
            continue
        for form in forms:
            x = _ratio(get(r, form=form), get(r, name=against))
            verdict = "n/a" if x is None else ("met" if x >= 0.5 else "NOT MET")
            print(f"- R={r:,}, `{form}` / {label} = {_fmt(x)} (target >= 0.5x): {verdict}")

    loaded = [r for r in sizes if r >= 1000] if show_load else []
    if loaded:
        print("\n### Load time (`sf.loads` + compiling the engine), seconds\n")
        print("| rules | " + " | ".join(f"`{f}`" for f in forms) + " |")
        print("| ---: |" + " ---: |" * len(forms))
        for r in loaded:
            cells = []
            for form in forms:
                c = get(r, form=form)
                cells.append("-" if c is None or c.load_s is None else f"{c.load_s:.2f}")
            print(f"| {r:,} | " + " | ".join(cells) + " |")


def profile(r: int, n: int, form: str) -> None:
    """cProfile of ``bundle.triage`` over n messages at R rules, top 12 by tottime."""
    w = tw.workload()
    msgs = w.messages(n, 1)
    bundle = sf.loads(tw.ruleset_text(w.rules(r, 2), form), "bench.sf")
    triage = bundle.triage
    triage(msgs[0], NOW)
    prof = cProfile.Profile()
    prof.enable()
    for m in msgs:
        triage(m, NOW)
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(12)
    print(f"# cProfile: bundle.triage, R={r}, formulation `{form}`, {n} messages\n")
    print(out.getvalue())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--rules", default="10,100,1000,10000")
    parser.add_argument("--forms", default=",".join(tw.FORMULATIONS))
    parser.add_argument("--repeat", type=int, default=7, help="timed samples per engine")
    parser.add_argument("--budget", type=float, default=0.5, help="seconds per timed sample")
    parser.add_argument("--peer-max", type=int, default=100, help="largest R the slow peers run at")
    parser.add_argument("--quick", action="store_true", help="CI smoke test, well under a minute")
    parser.add_argument("--no-load", action="store_true", help="omit the load-time table")
    parser.add_argument(
        "--profile", type=int, metavar="R", help="print a cProfile of bundle.triage at R rules"
    )
    args = parser.parse_args(argv)
    forms = [f for f in args.forms.split(",") if f]
    for f in forms:
        if f not in tw.FORMULATIONS:
            parser.error(f"unknown formulation {f!r} (known: {', '.join(tw.FORMULATIONS)})")
    if args.profile is not None:
        profile(args.profile, args.n, forms[0])
        return 0
    peer_floor = 20
    if args.quick:
        args.n, args.rules, args.repeat, args.budget = 300, "10,100", 3, 0.05
        forms, peer_floor = ["any", "or"], 5
    sizes = [int(x) for x in args.rules.split(",")]
    w = tw.workload()
    msgs = w.messages(args.n, 1)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"# Triage benchmark: {platform.python_implementation()} {platform.python_version()}, "
        f"{platform.machine()}, {os.cpu_count()} CPUs, load average {load:.2f} at start\n\n"
        f"Workload rules_workload messages(n={args.n:,}, seed=1), rules(R, seed=2); "
        f"median of {args.repeat} interleaved samples of about {args.budget} s each. "
        "Every engine below agrees with reference_match_all unless marked WRONG."
    )
    results: dict[int, list[Contestant]] = {}
    for r in sizes:
        rules = w.rules(r, 2)
        oracle = w.reference_match_all(rules, msgs)
        contestants = build(r, rules, forms, args.peer_max)
        measure(contestants, msgs, oracle, args.repeat, args.budget, peer_floor)
        results[r] = contestants
        report_size(r, contestants)
        sys.stdout.flush()
    report_summary(sizes, forms, results, show_load=not args.no_load)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
