"""``socialflow test``: run the ``test`` blocks of rule files."""

from __future__ import annotations

import argparse
import time

from socialflow.cli._io import load_bundle
from socialflow.cli.registry import EXIT_FAILED, EXIT_OK, Command
from socialflow.testing.runner import run_tests

__all__ = ["COMMAND"]


def _configure_test(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="rule files or folders of *.sf")
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="print failures and the summary only"
    )


def _run_test(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    bundle = load_bundle(args.paths)
    results = run_tests(bundle)
    failed = [r for r in results if not r.passed]
    for result in results:
        if not args.quiet or not result.passed:
            print(f"{result.location}: {result.name} {'PASSED' if result.passed else 'FAILED'}")
    for result in failed:
        print(f"\n___ {result.name} ___")
        for failure in result.failures:
            print(f"    {failure}")
    elapsed = time.perf_counter() - started
    passed = len(results) - len(failed)
    print(f"\n{passed} passed, {len(failed)} failed in {elapsed:.2f}s")
    return EXIT_FAILED if failed or not results else EXIT_OK


COMMAND = Command(
    name="test",
    help="run the `test` blocks of rule files",
    configure=_configure_test,
    run=_run_test,
    epilog="exit status: 0 all passed, 1 a test failed (or none found), 2 the rules do not check",
)
