"""Golden files pin the exact rendering of `socialflow check` diagnostics.

Each ``tests/golden/NAME.sf`` is checked from the repository root (so paths in
the output are stable) and its output must equal ``tests/golden/NAME.txt``.
A folder ``tests/golden/NAME/`` is a bundle of several files, checked as one
(``socialflow check tests/golden/NAME``), against ``tests/golden/NAME.txt`` too.
Regenerate with ``python -m pytest tests/dsl/test_check_golden.py --update-golden``
after an intended change, and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from socialflow.cli import main

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden"
CASES = sorted([*GOLDEN.glob("*.sf"), *(d for d in GOLDEN.iterdir() if d.is_dir())])


@pytest.mark.parametrize("source", CASES, ids=[c.stem for c in CASES])
def test_check_output_matches_golden(
    source: Path, capsys: pytest.CaptureFixture[str], request: pytest.FixtureRequest
) -> None:
    cwd = Path.cwd()
    os.chdir(ROOT)
    try:
        status = main(["check", str(source.relative_to(ROOT))])
    finally:
        os.chdir(cwd)
    out = capsys.readouterr()
    rendered = f"exit status {status}\n--- stdout\n{out.out}--- stderr\n{out.err}"
    golden = source.with_name(f"{source.stem}.txt")
    if request.config.getoption("--update-golden"):
        golden.write_text(rendered, encoding="utf-8")
    assert golden.is_file(), f"missing {golden.name}: run with --update-golden"
    assert rendered == golden.read_text(encoding="utf-8")
    assert status == 2


def test_a_bundle_case_holds_several_files() -> None:
    folders = [c for c in CASES if c.is_dir()]
    assert folders, "no bundle case in tests/golden"
    for folder in folders:
        assert len(list(folder.glob("*.sf"))) >= 2, f"{folder.name} is not a bundle"
