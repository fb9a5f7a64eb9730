"""The compiled backend's debugging aids (:mod:`socialflow.cel.compiler`).

The generated source is registered in :mod:`linecache` under the file name it
is compiled with, so tracebacks and ``pdb`` show generated lines; a Python
exception that escapes generated code becomes ``EvalError("internal_error")``
with the original exception as its ``__cause__``.
"""

from __future__ import annotations

import linecache
import traceback
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

import socialflow as sf


class Exploding(Mapping[str, Any]):
    """A host mapping whose lookups fail with a non-socialflow exception."""

    def __getitem__(self, key: str) -> Any:
        raise RuntimeError(f"boom on {key}")

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def _filename(program: sf.cel.Program) -> str:
    return program.evaluate.__code__.co_filename


def test_generated_source_is_in_linecache() -> None:
    program = sf.cel.compile("x + 1 > 2", name="rules.sf")
    filename = _filename(program)
    assert filename.startswith("<socialflow cel rules.sf ")
    assert linecache.getline(filename, 1) == "def _sf_eval(act=None):\n"
    assert "".join(linecache.getlines(filename)) == program.source()


def test_file_name_is_deterministic_and_distinct_per_program() -> None:
    one = _filename(sf.cel.compile("x + 1"))
    assert _filename(sf.cel.compile("x + 1")) == one
    assert _filename(sf.cel.compile("x + 2")) != one
    assert _filename(sf.cel.compile("x + 1", name="other")) != one
    digest = one.removesuffix(">").rsplit(" ", 1)[1]
    assert len(digest) == 12
    assert all(c in "0123456789abcdef" for c in digest)


def test_internal_error_chains_the_original_exception() -> None:
    program = sf.cel.compile("x.y == 1")
    with pytest.raises(sf.EvalError) as info:
        program.evaluate({"x": Exploding()})
    error = info.value
    assert error.kind == "internal_error"
    assert error.message == "unexpected failure: RuntimeError: boom on y"
    assert isinstance(error.__cause__, RuntimeError)
    assert str(error.__cause__) == "boom on y"


def test_internal_error_traceback_shows_the_generated_line() -> None:
    program = sf.cel.compile("x.y == 1")
    with pytest.raises(sf.EvalError) as info:
        program.evaluate({"x": Exploding()})
    text = "".join(traceback.format_exception(info.value))
    assert _filename(program) in text
    assert "_select(" in text  # the generated line that called into the host mapping
    assert "The above exception was the direct cause" in text


def test_interpreted_backend_chains_too() -> None:
    program = sf.cel.compile("x.y == 1", backend="interpreted")
    with pytest.raises(sf.EvalError) as info:
        program.evaluate({"x": Exploding()})
    assert info.value.kind == "internal_error"
    assert isinstance(info.value.__cause__, RuntimeError)


def test_socialflow_errors_are_not_chained() -> None:
    program = sf.cel.compile("x / 0")
    with pytest.raises(sf.EvalError) as info:
        program.evaluate({"x": 1})
    assert info.value.kind == "division_by_zero"
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__
