"""The CEL function registry (:mod:`socialflow.cel.functions`): every function
and operator declared once, and the tables the evaluators and the checker use
derived from it."""

from __future__ import annotations

from typing import Literal

import pytest

import socialflow as sf
from socialflow.cel.functions import (
    EXTENSIONS,
    FUNCTIONS,
    GLOBAL_ONLY,
    OPERATORS,
    RECEIVER_ONLY,
    REGISTRY,
    SIGNATURES,
    STANDARD,
    Style,
)


def test_every_function_is_declared_once_with_signatures() -> None:
    names = [f.name for f in (*STANDARD, *EXTENSIONS)]
    assert len(names) == len(set(names)) == len(REGISTRY)
    assert all(f.overloads for f in REGISTRY.values())
    assert all(o.function == f.name for f in REGISTRY.values() for o in f.overloads)


def test_only_the_absorbing_operators_have_no_implementation() -> None:
    missing = {f.name for f in REGISTRY.values() if f.impl is None}
    assert missing == {"_&&_", "_||_", "_?_:_"}
    assert set(FUNCTIONS) == set(REGISTRY) - missing


def test_derived_tables() -> None:
    assert set(SIGNATURES) == set(REGISTRY)
    assert {
        "int",
        "uint",
        "double",
        "string",
        "bytes",
        "bool",
        "timestamp",
        "duration",
        "type",
        "dyn",
    } == GLOBAL_ONLY
    assert {"contains", "getHours", "containsWord", "substring"} <= RECEIVER_ONLY
    assert {"size", "matches"}.isdisjoint(GLOBAL_ONLY | RECEIVER_ONLY | OPERATORS)
    assert {"_+_", "@in", "_[_]", "_?_:_", "!_", "-_"} <= OPERATORS
    assert all(f.style is Style.RECEIVER for f in EXTENSIONS)


@pytest.mark.parametrize("backend", ["compiled", "interpreted"])
def test_arity_comes_from_the_signatures(backend: Literal["compiled", "interpreted"]) -> None:
    program = sf.cel.compile('"a-b-c".split("-", 2, 3)', backend=backend)
    with pytest.raises(sf.EvalError) as info:
        program.evaluate()
    assert info.value.kind == "no_matching_overload"
    assert REGISTRY["split"].arities == (2, 3)
