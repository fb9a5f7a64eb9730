"""How long loading rules takes, and how much memory the loaded rules keep.

    python benchmarks/bench_load.py [--rules 1000,10000] [--repeat 3] [--form or]
                                    [--before PATH/TO/OLD/src] [--quick]

The rules are the shared triage workload (``triage_workload.py``) written the
way authors write them (``--form or``: ``||`` of ``contains``), in one file.
Loading means what a host does before its first message: ``sf.load(path)``
and building the engine (``bundle.engine``), so the time is until triage can
start.  Each figure is measured in a fresh interpreter (imports done first,
not timed), the median of ``--repeat`` runs (with ``--before``, the cold
loads of the two trees taken in turn):

* **cold**: no cache;
* **cached**: ``sf.load(path, cache=FOLDER)`` with the folder already holding
  this ruleset (the first, writing run is reported apart);
* **memory**: what the loaded bundle keeps (``tracemalloc``, after a full
  collection, in a run of its own since tracing slows loading) per rule, and
  the process's peak resident size (``VmHWM``);
* **stages** of a cold load: lark parsing, building the syntax tree, the
  checker, code generation and Python ``compile()``, the index, and garbage
  collection (summed through ``gc.callbacks``).

``--before`` runs the same measures on another socialflow source tree (the
code before a change: ``git worktree add /tmp/before <commit>`` and pass
``/tmp/before/src``); a tree without ``cache=`` reports no cached figure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import triage_workload as tw

ROOT = Path(__file__).resolve().parents[1]

# Run in a fresh interpreter: argv = [rules file, mode, cache folder or ""].
CHILD = r"""
import gc, json, sys, time
mode, path, cache = sys.argv[1], sys.argv[2], sys.argv[3] or None
import socialflow as sf

gc_time = [0.0, 0.0]
def on_gc(phase, info):
    if phase == "start":
        gc_time[1] = time.perf_counter()
    else:
        gc_time[0] += time.perf_counter() - gc_time[1]

def peak_kb():
    try:
        with open("/proc/self/status") as status:
            return int(status.read().split("VmHWM:")[1].split()[0])
    except (OSError, IndexError):
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

def load():
    if cache is None:
        bundle = sf.load(path)
    else:
        bundle = sf.load(path, cache=cache)
    bundle.engine
    return bundle

stages = {}
if mode == "stages":
    import builtins
    from socialflow import bundle as B, _syntax
    from socialflow.cel import compiler as C
    from socialflow.triage import engine as E

    def timed(module, name, key):
        original = getattr(module, name, None)
        if original is None:  # another version of the code: its own names
            return
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                stages[key] = stages.get(key, 0.0) + time.perf_counter() - start
        setattr(module, name, wrapper)

    lark = _syntax.lalr_parser("socialflow.lark")
    timed(lark, "parse", "lark parse")
    timed(B, "parse_module", "parsing, all (lark + syntax tree)")
    timed(B, "parse_module_recovering", "parsing, all (lark + syntax tree)")
    timed(B, "check_modules", "check")
    timed(B, "check_layers", "check")
    timed(E, "compile_ast", "code generation, all (compile() included)")
    real_compile = builtins.compile
    def counted_compile(*args, **kwargs):
        start = time.perf_counter()
        try:
            return real_compile(*args, **kwargs)
        finally:
            stages["compile()"] = stages.get("compile()", 0.0) + time.perf_counter() - start
    C.compile = counted_compile
    timed(E, "RuleIndex", "index")

if mode == "memory":
    import tracemalloc
    tracemalloc.start()
    bundle = load()
    gc.collect()
    kept = tracemalloc.get_traced_memory()[0]
    print(json.dumps({"kept": kept, "rules": len(bundle.program.rules), "peak_kb": peak_kb()}))
else:
    gc.callbacks.append(on_gc)
    start = time.perf_counter()
    bundle = load()
    seconds = time.perf_counter() - start
    gc.callbacks.remove(on_gc)
    stages["garbage collection"] = gc_time[0]
    print(json.dumps({"seconds": seconds, "stages": stages, "peak_kb": peak_kb()}))
"""


def child(src: Path, mode: str, rules: Path, cache: Path | None) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(src), PYTHONHASHSEED="0")
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(rules), str(cache or "")],
        check=True, capture_output=True, text=True, env=env,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def has_cache(src: Path) -> bool:
    return "cache:" in (src / "socialflow" / "bundle.py").read_text(encoding="utf-8")


def measure(srcs: list[Path], rules: Path, repeat: int, folder: Path) -> list[dict[str, Any]]:
    """The figures of each tree in ``srcs`` (this one first); cold loads of the
    trees are taken in turn, so a drifting machine load hits them alike."""
    colds: list[list[dict[str, Any]]] = [[] for _ in srcs]
    for _ in range(repeat):
        for k, src in enumerate(srcs):
            colds[k].append(child(src, "cold", rules, None))
    results = []
    for k, src in enumerate(srcs):
        cold = colds[k]
        out: dict[str, Any] = {
            "cold": statistics.median(r["seconds"] for r in cold),
            "gc": statistics.median(r["stages"]["garbage collection"] for r in cold),
            "peak_mb": statistics.median(r["peak_kb"] for r in cold) / 1024,
        }
        memory = child(src, "memory", rules, None)
        out["kb_per_rule"] = memory["kept"] / memory["rules"] / 1024
        out["rules"] = memory["rules"]
        if has_cache(src):
            cache = folder / f"cache-{k}-{rules.stem}"
            out["writing"] = child(src, "cold", rules, cache)["seconds"]
            cached = [child(src, "cold", rules, cache) for _ in range(repeat)]
            out["cached"] = statistics.median(r["seconds"] for r in cached)
        if k == 0:  # the stages of this tree (the wrappers know its internals)
            runs = [child(src, "stages", rules, None) for _ in range(repeat)]
            names = list(runs[0]["stages"])
            out["stages"] = {
                n: statistics.median(r["stages"].get(n, 0.0) for r in runs) for n in names
            }
        results.append(out)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", default="1000,10000", help="comma-separated rule counts")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--form", default="or", choices=sorted(tw.FORMULATIONS))
    parser.add_argument("--before", type=Path, help="the src folder of the code before")
    parser.add_argument("--quick", action="store_true", help="a small run for CI")
    args = parser.parse_args()
    counts = [200] if args.quick else [int(n) for n in args.rules.split(",")]
    repeat = 1 if args.quick else args.repeat
    workload = tw.workload()
    after_src = ROOT / "src"
    results: list[tuple[int, dict[str, Any], dict[str, Any] | None]] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for count in counts:
            rules = folder / f"rules{count}.sf"
            rules.write_text(tw.ruleset_text(workload.rules(count, seed=2), args.form), "utf-8")
            srcs = [after_src] if args.before is None else [after_src, args.before]
            measured = measure(srcs, rules, repeat, folder)
            results.append((count, measured[0], measured[1] if len(measured) > 1 else None))

    print(
        f"# Load benchmark: CPython {platform.python_version()}, {platform.machine()}; "
        f"shared workload written `{args.form}`; medians of {repeat} fresh interpreters\n"
    )
    print(
        "| rules | before: cold | after: cold | speed-up | after: cached (first write) "
        "| kept per rule before / after | peak RSS before / after |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for count, after, before in results:
        b_cold = f"{before['cold']:.2f} s" if before else "-"
        speed = f"{before['cold'] / after['cold']:.1f}x" if before else "-"
        cached = f"{after['cached']:.2f} s ({after['writing']:.2f} s)" if "cached" in after else "-"
        kept = f"{before['kb_per_rule']:.1f} / " if before else ""
        peak = f"{before['peak_mb']:.0f} / " if before else ""
        print(
            f"| {count:,} | {b_cold} | {after['cold']:.2f} s | {speed} | {cached} "
            f"| {kept}{after['kb_per_rule']:.1f} KB | {peak}{after['peak_mb']:.0f} MB |"
        )
    for count, after, before in results:
        print(f"\nstages of a cold load of {count:,} rules (after; medians, seconds):\n")
        print("| stage | seconds | share of the load |")
        print("| --- | --- | --- |")
        for name, seconds in after["stages"].items():
            print(f"| {name} | {seconds:.2f} | {seconds / after['cold']:.0%} |")
        if before:
            print(f"| (before: garbage collection) | {before['gc']:.2f} | "
                  f"{before['gc'] / before['cold']:.0%} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
