"""Documented examples are tests.

* Every ``>>>`` example in ``README.md`` and ``docs/*.md`` runs with
  :func:`doctest.testfile` (one test per file; a file without examples passes).
  In Markdown, leave a blank line before the closing fence of an example so
  the fence is not read as expected output.
* Every ``$ socialflow ...`` line in a ``console`` block of ``docs/cli.md``,
  ``docs/layers.md`` and ``docs/workflows.md`` runs
  through :func:`socialflow.cli.main` from the repository root; the lines up to
  the next ``$`` or the end of the block are its expected output (stdout, then
  stderr).  ``...`` matches any text.
"""

from __future__ import annotations

import doctest
import re
import shlex
from pathlib import Path

import pytest

from socialflow import cli

ROOT = Path(__file__).resolve().parents[1]
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


@pytest.mark.parametrize("path", DOC_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_doctest_examples(path: Path) -> None:
    failed, _attempted = doctest.testfile(
        str(path), module_relative=False, optionflags=FLAGS, encoding="utf-8", verbose=False
    )
    assert failed == 0, f"{failed} example(s) in {path.relative_to(ROOT)} failed (see output above)"


def _console_examples(text: str) -> list[tuple[int, str, str]]:
    """(line number, command, expected output) for each ``$ socialflow`` line."""
    examples: list[tuple[int, str, str]] = []
    for block in re.finditer(r"^```console\n(.*?)^```", text, re.DOTALL | re.MULTILINE):
        first_line = text.count("\n", 0, block.start(1)) + 1
        current: tuple[int, str, list[str]] | None = None
        for offset, line in enumerate(block.group(1).splitlines()):
            if line.startswith("$ "):
                if current is not None:
                    examples.append((current[0], current[1], "\n".join(current[2])))
                current = (first_line + offset, line[2:], [])
            elif current is not None:
                current[2].append(line)
        if current is not None:
            examples.append((current[0], current[1], "\n".join(current[2])))
    return examples


#: the pages whose ``$ socialflow`` examples run
CONSOLE_DOCS = ("cli.md", "layers.md", "workflows.md")
CLI_EXAMPLES = [
    (f"{name}:{line}", command, expected)
    for name in CONSOLE_DOCS
    for line, command, expected in _console_examples(
        (ROOT / "docs" / name).read_text(encoding="utf-8")
    )
]


def test_cli_doc_has_examples() -> None:
    assert sum(e[0].startswith("cli.md") for e in CLI_EXAMPLES) >= 5


@pytest.mark.parametrize(
    ("line", "command", "expected"), CLI_EXAMPLES, ids=[e[0] for e in CLI_EXAMPLES]
)
def test_cli_doc_example(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    line: str,
    command: str,
    expected: str,
) -> None:
    argv = shlex.split(command)
    assert argv[0] == "socialflow", f"docs/{line}: only `socialflow` commands are run"
    monkeypatch.chdir(ROOT)
    cli.main(argv[1:])
    out, err = capsys.readouterr()
    got = out + err
    checker = doctest.OutputChecker()
    want = expected.rstrip("\n") + "\n"
    assert checker.check_output(want, got, doctest.ELLIPSIS), (
        f"docs/{line}: `{command}`\n--- expected\n{want}--- got\n{got}"
    )
