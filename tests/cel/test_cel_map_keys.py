"""CEL map keys: bool never equals a number, numbers are one key across int,
uint and double.  Maps that mix bool and numeric keys are ``CelMap``s; every
other map (and every host map) is whatever it was."""

from __future__ import annotations

import pickle
from typing import Any

import pytest

import socialflow as sf
from socialflow.cel.stdlib import map_lookup
from socialflow.cel.values import CelMap, FrozenMap, UInt, exact_lookup, freeze


def test_celmap_is_a_mapping_that_keeps_bool_apart() -> None:
    m = CelMap([(1, "a"), (True, "b"), ("k", "c")])
    assert len(m) == 3
    assert list(m.items()) == [(1, "a"), (True, "b"), ("k", "c")]
    assert m[1] == "a"
    assert m[True] == "b"
    assert m[1.0] == "a"  # numbers stay one key
    assert UInt(1) in m
    assert False not in m
    assert 0 not in m
    m[False] = "d"
    m[0] = "e"
    assert (m[False], m[0]) == ("d", "e")
    del m[True]
    assert True not in m
    assert 1 in m
    assert repr(CelMap([(1, "a"), (True, "b")])) == "CelMap({1: 'a', True: 'b'})"


def test_celmap_equality() -> None:
    m = CelMap([(1, "a"), (True, "b")])
    assert m == CelMap([(True, "b"), (1, "a")])
    assert m != CelMap([(1, "a"), (False, "b")])
    assert m != {1: "a", 2: "b"}
    assert CelMap([(1, "a")]) == {1: "a"}
    assert {1: "a"} == CelMap([(1, "a")])  # noqa: SIM300  # dict.__eq__ defers to CelMap
    assert CelMap([(True, "a")]) != {1: "a"}  # the dict's key is a number
    assert CelMap([(1, "a")]) != {True: "a"}


def test_celmap_pickles_copies_and_freezes() -> None:
    m = CelMap([(1, "a"), (True, ["b"])])
    again = pickle.loads(pickle.dumps(m))
    assert again == m
    assert type(again) is CelMap
    assert m.copy() == m
    frozen = freeze(m)
    assert isinstance(frozen, FrozenMap)
    assert frozen[True] == ("b",)
    assert frozen[1] == "a"
    assert len(frozen) == 2
    assert frozen == CelMap([(1, "a"), (True, ("b",))])
    assert freeze(frozen) is frozen
    assert pickle.loads(pickle.dumps(frozen)) == frozen
    assert hash(frozen) == hash(freeze(CelMap([(1, "a"), (True, ["b"])])))
    # a frozen map's keys are read with CEL's rules too
    assert map_lookup(frozen, True) == (True, ("b",))
    assert map_lookup(FrozenMap({True: "x"}), 1) == (False, None)


@pytest.mark.parametrize(
    ("mapping", "key", "expected"),
    [
        ({True: "x"}, True, (True, "x")),
        ({True: "x"}, 1, (False, None)),
        ({1: "x"}, True, (False, None)),
        ({1: "x"}, 1, (True, "x")),
        ({1: "x"}, 1.0, (True, "x")),
        ({1: "x"}, UInt(1), (True, "x")),
        ({0: "x"}, False, (False, None)),
        ({False: "x"}, 0, (False, None)),
        ({False: "x"}, False, (True, "x")),
        ({1.0: "x"}, 1, (True, "x")),
        ({2: "x"}, 2, (True, "x")),
        ({"a": "x"}, "a", (True, "x")),
        ({"a": "x"}, True, (False, None)),
        ({}, True, (False, None)),
    ],
)
def test_host_dicts_are_read_with_cel_key_rules(
    mapping: dict[Any, Any], key: Any, expected: tuple[bool, Any]
) -> None:
    assert map_lookup(mapping, key) == expected


def test_lookups_in_big_host_maps_do_not_scan() -> None:
    # a number key 0 or 1 used to scan every key for a bool: a million lookups
    # in a million-entry map would take hours
    big = {i: i for i in range(1_000_000)}
    program = sf.cel.compile("keys.all(k, m[k] == k)")
    assert program.evaluate({"m": big, "keys": [0, 1] * 1000}) is True
    assert exact_lookup(big, 1) == (True, 1)
    assert exact_lookup(big, True) == (False, None)


@pytest.mark.parametrize("backend", ["compiled", "interpreted"])
def test_transform_map_keeps_the_keys_of_its_range(backend: str) -> None:
    program = sf.cel.compile("m.transformMap(k, v, v * 2)", backend=backend)  # type: ignore[arg-type]
    out = program.evaluate({"m": CelMap([(1, 10), (True, 20)])})
    assert out == CelMap([(1, 20), (True, 40)])
    assert type(program.evaluate({"m": {1: 10}})) is dict
    assert program.evaluate({"m": [5, 6]}) == {0: 10, 1: 12}
