"""The layers contract and the dead-code check, as CI runs them (see
docs/architecture.md).  Both tools come with the dev extra."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (dev extra)")
    return found


def test_layers_point_one_way() -> None:
    result = subprocess.run(
        [_tool("lint-imports"), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_no_dead_code() -> None:
    result = subprocess.run(
        [
            _tool("vulture"),
            "src",
            "tests",
            "tests/vulture_allowlist.py",
            "--min-confidence",
            "60",
            "--exclude",
            "tests/cel/conformance_data",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
