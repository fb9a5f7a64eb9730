"""Print socialflow's CEL conformance score (core subset and whole set).

python tests/cel/conformance_score.py [--backend compiled|interpreted] [--list-failures]
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from conformance_support import cases, data_dir, run


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", default="compiled", choices=["compiled", "interpreted"])
    parser.add_argument("--list-failures", action="store_true")
    args = parser.parse_args()
    directory = data_dir()
    if directory is None:
        print("conformance data not found (set SOCIALFLOW_CEL_CONFORMANCE)")
        return 2
    total: Counter[str] = Counter()
    passed: Counter[str] = Counter()
    failures = []
    for case in cases(directory):
        ok, detail = run(case, args.backend)
        for group in ("all", "core" if case.core else "non-core", case.id.split("/")[0]):
            total[group] += 1
            passed[group] += ok
        if not ok:
            failures.append((case.id, detail))
    for group in ("core", "non-core", "all"):
        print(
            f"{group:10s} {passed[group]:5d}/{total[group]:<5d} {passed[group] / max(total[group], 1):7.1%}"
        )
    print()
    for name in sorted(g for g in total if g not in ("core", "non-core", "all")):
        print(f"  {name:14s} {passed[name]:4d}/{total[name]:<4d}")
    if args.list_failures:
        print()
        for test_id, detail in failures:
            print(f"{test_id}: {detail}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
