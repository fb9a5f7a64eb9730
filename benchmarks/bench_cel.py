"""CEL evaluation and compile speed: socialflow vs. a plain lambda and peers.

    python benchmarks/bench_cel.py [--n 5000] [--repeat 5] [--quick]

1. Evaluations per second of
   ``channel in ["twitter", "facebook"] && sentiment < -0.3 && text.contains(" refund ")``
   over ``rules_workload.messages(n, seed=1)`` (each message dict is the
   activation), in one run beside a plain Python lambda (the 1.00x baseline),
   zen-engine, common-expression-language (Rust) and cel-python.  Every
   engine's answers must equal the lambda's; one that disagrees is WRONG.
2. Compile time for 1,000 distinct expressions.
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

import triage_workload as tw
from _timing import best_rate, sample_size

import socialflow as sf

EXPR = 'channel in ["twitter", "facebook"] && sentiment < -0.3 && text.contains(" refund ")'
ZEN_EXPR = "channel in ['twitter', 'facebook'] and sentiment < -0.3 and contains(text, ' refund ')"


def engines() -> dict[str, Callable[[], Callable[[dict[str, Any]], Any] | str]]:
    def lam() -> Callable[[dict[str, Any]], Any]:
        return lambda m: (
            m["channel"] in ("twitter", "facebook")
            and m["sentiment"] < -0.3
            and " refund " in m["text"]
        )

    def socialflow() -> Callable[[dict[str, Any]], Any]:
        return sf.cel.compile(EXPR).evaluate

    def socialflow_interpreted() -> Callable[[dict[str, Any]], Any]:
        return sf.cel.compile(EXPR, backend="interpreted").evaluate

    def zen() -> Callable[[dict[str, Any]], Any] | str:
        try:
            import zen as zen_engine
        except ImportError:
            return "not installed"
        expression = zen_engine.compile_expression(ZEN_EXPR)
        return expression.evaluate

    def rust_cel() -> Callable[[dict[str, Any]], Any] | str:
        try:
            import cel
        except ImportError:
            return "not installed"
        return cel.compile(EXPR).execute

    def cel_python() -> Callable[[dict[str, Any]], Any] | str:
        try:
            import celpy
        except ImportError:
            return "not installed"
        env = celpy.Environment()
        program = env.program(env.compile(EXPR))

        def run(m: dict[str, Any]) -> Any:
            return bool(program.evaluate({k: celpy.json_to_cel(v) for k, v in m.items()}))

        return run

    return {
        "plain Python lambda": lam,
        "socialflow (compiled)": socialflow,
        "socialflow (interpreted)": socialflow_interpreted,
        "zen-engine expression": zen,
        "common-expression-language (Rust CEL)": rust_cel,
        "cel-python": cel_python,
    }


def time_engine(
    fn: Callable[[dict[str, Any]], Any], msgs: list[dict[str, Any]], repeat: int, budget: float
) -> float:
    """Evaluations per second on a sample sized to ``budget`` seconds."""
    return best_rate(fn, msgs[: sample_size(fn, msgs, budget)], repeat)


def distinct_expressions(count: int) -> list[str]:
    words = tw.workload().DOMAIN_WORDS
    out = []
    for i in range(count):
        shape = i % 4
        w = words[i % len(words)]
        if shape == 0:
            out.append(
                f'channel in ["twitter", "x{i}"] && sentiment < -0.{i:04d} && text.contains(" {w}{i} ")'
            )
        elif shape == 1:
            out.append(f'author_followers >= {i * 10} || text.startsWith("{w}") && kind == "dm{i}"')
        elif shape == 2:
            out.append(f'size(text) > {i} ? sentiment * {i}.0 < 1.5 : channel != "c{i}"')
        else:
            out.append(f'["{w}", "k{i}"].exists(k, text.contains(k)) && account == "acct-{i:03d}"')
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--budget", type=float, default=1.0, help="seconds per timed pass")
    parser.add_argument("--quick", action="store_true", help="tiny run for CI smoke tests")
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.repeat, args.budget = 500, 1, 0.05
    msgs = tw.workload().messages(args.n, 1)
    print(
        f"# CEL benchmark: {platform.python_implementation()} {platform.python_version()}, "
        f"{platform.machine()}; workload rules_workload.messages(n={args.n}, seed=1)\n"
    )
    print(f"expression: `{EXPR}`\n")
    baseline: list[Any] | None = None
    rows: list[tuple[str, str, str, str]] = []
    base_rate: float | None = None
    for name, factory in engines().items():
        fn = factory()
        if isinstance(fn, str):
            rows.append((name, fn, "-", "-"))
            continue
        answers = [bool(fn(m)) for m in msgs]
        if baseline is None:
            baseline = answers
        elif answers != baseline:
            rows.append((name, "WRONG", "-", "-"))
            continue
        rate = time_engine(fn, msgs, args.repeat, args.budget)
        if base_rate is None:
            base_rate = rate
        rows.append((name, f"{rate:,.0f}", f"{rate / base_rate:.3g}x", f"{1e6 / rate:.3f}"))
    print("| engine | evaluations/s | ratio to lambda | µs/eval |\n| --- | --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    count = 100 if args.quick else 1000
    exprs = distinct_expressions(count)
    print(f"\ncompile time for {count:,} distinct expressions:\n")
    print("| engine | total | per expression |\n| --- | --- | --- |")
    compilers: list[tuple[str, Callable[[str], Any]]] = [("socialflow", sf.cel.compile)]
    try:
        import cel

        compilers.append(("common-expression-language (Rust CEL)", cel.compile))
    except ImportError:
        pass
    try:
        import celpy

        env = celpy.Environment()
        compilers.append(("cel-python", lambda e: env.program(env.compile(e))))
    except ImportError:
        pass
    # zen-engine is left out: its expression syntax differs, so the same 1,000
    # texts do not compile there, and it caches compiled expressions internally.
    for name, compile_fn in compilers:
        t = time.perf_counter()
        for e in exprs:
            compile_fn(e)
        total = time.perf_counter() - t
        print(f"| {name} | {total * 1000:,.0f} ms | {total / count * 1e6:,.0f} µs |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
