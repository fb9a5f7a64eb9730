"""How fast `socialflow triage` turns JSON lines into decisions, beside the library.

    python benchmarks/bench_cli.py [--n 200000] [--repeat 3] [--quick]

Three figures on the same generated messages (`examples/triage/generate_messages.py`,
seed 11, no broken lines) and the example ruleset (`examples/triage`):

* **plain JSON read-and-write**: read each line, `json.loads`, `json.dumps`,
  write it: the floor any JSON-lines tool pays;
* **library loop**: the messages already parsed, `bundle.triage(message, now)`
  for each (no I/O, no serialisation): what an embedding host pays;
* **the command**: `socialflow triage RULES IN.jsonl -o OUT.jsonl`, in a
  subprocess, timed from start to end (loading the rules included) and, the
  figure that matters, per line after loading.

``--before OLD/src`` also times the library loop of another socialflow tree
and of this one, in fresh processes in turn, for the before/after ratio.

Medians of `--repeat` rounds, each round timing the three in turn (so a
shared machine's drifting load hits them alike).  Memory: the command's peak resident size for
the full file and for a quarter of it, which must be about the same (the
command streams; memory does not grow with the file).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import socialflow as sf

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "examples" / "triage"
#: The example's rules without its tests and layers, for ``--before``: an older
#: socialflow may not read the newer syntax those use (the rules are the same).
RULE_FILES = [str(RULES / "declarations.sf"), str(RULES / "rules.sf")]


def generate(n: int, path: Path) -> None:
    subprocess.run(
        [sys.executable, str(RULES / "generate_messages.py"), "--n", str(n), "--seed", "11",
         "--no-bad-lines", "-o", str(path)],
        check=True, capture_output=True,
    )  # fmt: skip


def median_rate(n: int, runs: list[float]) -> tuple[float, float, float]:
    return n / statistics.median(runs), n / max(runs), n / min(runs)


def plain_json(source: Path, out: Path) -> float:
    t = time.perf_counter()
    with source.open(encoding="utf-8") as inp, out.open("w", encoding="utf-8") as w:
        for line in inp:
            w.write(json.dumps(json.loads(line), sort_keys=True, separators=(",", ":")) + "\n")
    return time.perf_counter() - t


def library_loop(bundle: sf.Bundle, messages: list[dict[str, object]]) -> float:
    nows = [sf.cel.parse_timestamp(str(m["received_at"])) for m in messages]
    t = time.perf_counter()
    for message, now in zip(messages, nows, strict=True):
        bundle.triage(message, now)
    return time.perf_counter() - t


LIBRARY_CHILD = """
import json, sys, time
import socialflow as sf
messages = [json.loads(line) for line in open(sys.argv[2], encoding="utf-8")]
nows = [sf.cel.parse_timestamp(str(m["received_at"])) for m in messages]
bundle = sf.load(json.loads(sys.argv[1]))
bundle.triage(messages[0], nows[0])
start = time.perf_counter()
for message, now in zip(messages, nows):
    bundle.triage(message, now)
print(time.perf_counter() - start)
"""


def library_in(src: Path, source: Path) -> float:
    """Seconds of the library loop run by the socialflow in ``src`` (a fresh process)."""
    proc = subprocess.run(
        [sys.executable, "-c", LIBRARY_CHILD, json.dumps(RULE_FILES), str(source)],
        check=True, capture_output=True, text=True,
        env=dict(os.environ, PYTHONPATH=str(src)),
    )  # fmt: skip
    return float(proc.stdout.split()[-1])


def command(source: Path, out: Path) -> tuple[float, float, int]:
    """(wall seconds, seconds after loading, peak RSS in KB) of one run."""
    script = (
        "import resource, sys, time\n"
        "t0 = time.perf_counter()\n"
        "import socialflow as sf\n"
        "from socialflow.cli import main, _io\n"
        "loaded = []\n"
        "original = _io.load_bundle\n"
        "def timed(*a, **k):\n"
        "    b = original(*a, **k); b.engine; loaded.append(time.perf_counter()); return b\n"
        "import socialflow.cli.triage as t\n"
        "t.load_bundle = timed\n"
        "status = main(sys.argv[1:])\n"
        "end = time.perf_counter()\n"
        "peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "try:  # Linux keeps ru_maxrss across exec: the parent's size would show\n"
        "    hwm = open('/proc/self/status').read().split('VmHWM:')[1]\n"
        "    peak = int(hwm.split()[0])\n"
        "except (OSError, IndexError):\n"
        "    pass\n"
        "print(end - t0, end - loaded[0], peak)\n"
        "sys.exit(status)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, "triage", str(RULES), str(source), "-o", str(out),
         "--no-summary", "--no-progress"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    wall, after, peak = proc.stdout.split()
    return float(wall), float(after), int(peak)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="a small run for CI")
    parser.add_argument(
        "--before", type=Path, help="also time the library loop of the socialflow in this src"
    )
    args = parser.parse_args()
    n = 5_000 if args.quick else args.n
    repeat = 1 if args.quick else args.repeat
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        source, quarter = folder / "in.jsonl", folder / "quarter.jsonl"
        generate(n, source)
        lines = source.read_text(encoding="utf-8").splitlines()
        quarter.write_text("\n".join(lines[: n // 4]) + "\n", encoding="utf-8")
        messages = [json.loads(line) for line in lines]
        bundle = sf.load(RULES)
        bundle.triage(messages[0], sf.cel.parse_timestamp(str(messages[0]["received_at"])))
        plain: list[float] = []
        library: list[float] = []
        runs: list[tuple[float, float, int]] = []
        for _ in range(repeat):  # interleaved, so drifting load hits all three alike
            plain.append(plain_json(source, folder / "plain.jsonl"))
            library.append(library_loop(bundle, messages))
            runs.append(command(source, folder / "out.jsonl"))
        small = command(quarter, folder / "out4.jsonl")
        before: list[float] = []
        after: list[float] = []
        if args.before is not None:
            for _ in range(repeat):  # the two trees in turn, each in a fresh process
                before.append(library_in(args.before, source))
                after.append(library_in(ROOT / "src", source))
        got = sum(1 for _ in (folder / "out.jsonl").open(encoding="utf-8"))
        assert got == n, f"the command wrote {got} decisions for {n} lines"

    print(
        f"# CLI benchmark: CPython {platform.python_version()}, {platform.machine()}; "
        f"{n:,} generated messages (seed 11), examples/triage ({len(bundle.program.rules)} "
        f"rules); medians of {repeat}\n"
    )
    lib = median_rate(n, library)
    rows = [
        ("plain JSON read, parse, dump, write", median_rate(n, plain)),
        ("library loop: bundle.triage (parsed messages)", lib),
        ("socialflow triage, after loading the rules", median_rate(n, [r[1] for r in runs])),
        ("socialflow triage, whole run (load included)", median_rate(n, [r[0] for r in runs])),
    ]
    print("| what | lines/s | slowest-fastest | ratio to the library loop |")
    print("| --- | --- | --- | --- |")
    for name, (med, low, high) in rows:
        print(f"| {name} | {med:,.0f} | {low:,.0f}-{high:,.0f} | {med / lib[0]:.2f}x |")
    paired = statistics.median(lib_s / run[1] for lib_s, run in zip(library, runs, strict=True))
    print(
        f"\nthe command after loading / the library loop, median of the {repeat} rounds' "
        f"own ratios (each round times both close together): {paired:.2f}x"
    )
    peak = statistics.median(r[2] for r in runs)
    print(
        f"\npeak resident memory of the command: {peak / 1024:,.0f} MB for {n:,} lines, "
        f"{small[2] / 1024:,.0f} MB for {n // 4:,} lines"
    )
    if before:
        old, new = median_rate(n, before)[0], median_rate(n, after)[0]
        print(
            f"\nlibrary loop, fresh processes in turn: before ({args.before}) {old:,.0f} msg/s, "
            f"after {new:,.0f} msg/s: {new / old:.2f}x"
        )
    _ = resource  # the measure is taken in the child
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
