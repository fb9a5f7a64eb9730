"""The cost budget (``Limits.max_cost``): one model, both backends, and the
compile-time estimate.  See ``docs/limits.md`` and :mod:`socialflow.cel.runtime`."""

from __future__ import annotations

import pickle
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import socialflow as sf
from socialflow.cel.re2 import compile_regex, cost_factor
from socialflow.cel.runtime import ELEMENT_UNITS, NODE_UNITS

BACKENDS = ["compiled", "interpreted"]
N = NODE_UNITS
E = ELEMENT_UNITS


def outcome(
    text: str, activation: dict[str, Any], backend: str, limits: sf.cel.Limits
) -> tuple[str, Any]:
    """What evaluating ``text`` gives: ``("ok", repr)`` or ``("error", kind)``."""
    try:
        value = sf.cel.compile(text, backend=backend, limits=limits).evaluate(activation)  # type: ignore[arg-type]
    except sf.EvalError as e:  # SourceLimitError is one too
        return "error", e.kind
    return "ok", repr(value)


def cost(text: str, activation: dict[str, Any], backend: str = "compiled") -> int:
    """The cost of one evaluation: the smallest ``max_cost`` it succeeds with."""
    lo, hi = 0, 10_000_000
    while lo < hi:
        mid = (lo + hi) // 2
        result = outcome(text, activation, backend, sf.cel.Limits(max_cost=mid))
        if result == ("error", "cost_limit"):
            lo = mid + 1
        else:
            hi = mid
    return lo


# -- the model, term by term ----------------------------------------------------------------

ACT = {"s": "abcdefghij", "l": ["ab", "cd", "ef"], "n": 3, "m": {"k": "v"}}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # outside comprehensions, reads, comparisons and single scans are free
        ("s == 'abc' && s.contains('cde') && s.startsWith('ab') && size(s) > 2", 0),
        ("s.containsAny(['x', 'y'])", 0),
        ("m.k == 'v' && n + 1 == 4 && 'cd' in l", 0),
        # builds cost the size they build (and the text replace/split search)
        ("s + s", 20),
        ("s.replace('a', 'xyz')", 12 + 10),
        ("s.split('')", 10 + 10),
        ("l.join('-')", 8 + 3),
        ("l + l", 6),
        ("s.upperAscii()", 10),
        ("s.substring(2, 5)", 3),
        # product scans cost the product, everywhere
        ("s.containsAny(l)", 10 * 3 + (3 * E + 6)),
        ("s.matches('c.e')", 3 + 10 * cost_factor(compile_regex("c.e"))),
        # an iteration costs N per node of the body; in bodies, scans and
        # comparisons cost what they read, literals their entries
        ("l.map(x, 1)", 3 * N),
        ("l.exists(x, x == 'zz')", 3 * 3 * N + 3 * 2),
        ("l.all(x, s.contains(x))", 3 * 3 * N + 3 * (10 + 2)),
        ("l.map(x, [x, x])", 3 * 3 * N + 3 * 2),
        ("l.map(x, size(x))", 3 * 2 * N),
        ("l.filter(x, x != 'ab')", 3 * 3 * N + 3 * 2),
        ("l.map(x, x.startsWith('c'), x + '!')", 3 * 6 * N + 3 * 1 + 1 * 3),
        ("l.exists(x, x in m)", 3 * 3 * N + 3 * 2),  # a map is looked up, not scanned
        ("l.exists(x, x in ['q', 'r'])", 3 * 5 * N + 3 * 2 + 3 * 2 * (E + 2)),
        ("l.exists(x, [x] == l)", 3 * 4 * N + 3 * 1 + 3 * (E + 2)),
    ],
)
def test_cost_model(text: str, expected: int, backend: str) -> None:
    assert cost(text, ACT, backend) == expected


@pytest.mark.parametrize("backend", BACKENDS)
def test_exceeding_the_budget_is_a_cost_limit(backend: str) -> None:
    program = sf.cel.compile(
        "l.map(x, s + x)",
        backend=backend,
        limits=sf.cel.Limits(max_cost=20),  # type: ignore[arg-type]
    )
    with pytest.raises(sf.LimitExceededError) as info:
        program.evaluate(ACT)
    assert info.value.kind == "cost_limit"
    assert "exceeds the limit of 20 (max_cost)" in str(info.value)
    assert info.value.span is not None


@pytest.mark.parametrize("backend", BACKENDS)
def test_sizes_are_checked_before_building(backend: str) -> None:
    # the messages give the size the inputs imply: nothing of that size was built
    limits = sf.cel.Limits(max_string_length=1000, max_collection_size=100)
    act = {"s": "a" * 500}
    with pytest.raises(sf.LimitExceededError, match="a string of 1,500 characters") as info:
        sf.cel.compile("s + s + s", backend=backend, limits=limits).evaluate(act)  # type: ignore[arg-type]
    assert info.value.kind == "size_limit"
    with pytest.raises(sf.LimitExceededError, match="a list of 500 elements exceeds"):
        sf.cel.compile("s.split('')", backend=backend, limits=limits).evaluate(act)  # type: ignore[arg-type]
    with pytest.raises(sf.LimitExceededError, match="a string of 2,000 characters"):
        sf.cel.compile("s.replace('', 'xyz', 500)", backend=backend, limits=limits).evaluate(act)  # type: ignore[arg-type]


def test_a_mapping_range_is_not_copied() -> None:
    # `exists` over a map stops at the first key: one iteration, not a copy of the map
    big = {str(i): i for i in range(100_000)}
    for backend in BACKENDS:
        assert cost("m.exists(k, true)", {"m": big}, backend) == N


# -- both backends agree ----------------------------------------------------------------------

_STRINGS = st.sampled_from(["s", '"ab"', '""', '"a"', "x"])
_LISTS = st.sampled_from(["l", '["a", "bb"]', "[]"])


def _expressions() -> st.SearchStrategy[str]:
    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        two = st.tuples(inner, inner)
        return st.one_of(
            two.map(lambda p: f"{p[0]}.replace({p[1]}, {p[0]})"),
            two.map(lambda p: f"({p[0]} + {p[1]})"),
            two.map(lambda p: f"{p[0]}.split({p[1]})"),
            inner.map(lambda a: f"{a}.join('-')"),
            two.map(lambda p: f"[{p[0]}, {p[1]}]"),
            two.map(lambda p: f"{p[0]}.map(x, {p[1]})"),
            two.map(lambda p: f"{p[0]}.filter(x, {p[1]}.contains(x))"),
            two.map(lambda p: f"{p[0]}.exists(x, x == {p[1]})"),
            two.map(lambda p: f"{p[0]}.all(x, {p[1]}.startsWith(x))"),
            two.map(lambda p: f"({p[0]} == {p[1]})"),
            two.map(lambda p: f"({p[0]} in {p[1]})"),
            two.map(lambda p: f"{p[0]}.containsAny({p[1]})"),
            two.map(lambda p: f"({p[0]}.matches('a+') || {p[1]}.size() > 1)"),
            two.map(lambda p: f"({p[0]} && {p[1]})"),
            inner.map(lambda a: f"size({a})"),
            inner.map(lambda a: f"{a}.lowerAscii()"),
            inner.map(lambda a: f"{a}.transformMap(i, v, v)"),
            inner.map(lambda a: f"{{1: {a}, true: {a}}}"),
        )

    return st.recursive(st.one_of(_STRINGS, _LISTS), extend, max_leaves=6)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=_expressions(),
    s=st.text(alphabet="ab", max_size=6),
    items=st.lists(st.text(alphabet="ab", max_size=3), max_size=4),
    max_cost=st.integers(0, 400),
    max_size=st.integers(1, 40),
)
def test_backends_agree_under_any_budget(
    text: str, s: str, items: list[str], max_cost: int, max_size: int
) -> None:
    limits = sf.cel.Limits(
        max_cost=max_cost, max_string_length=max_size, max_collection_size=max_size
    )
    act = {"s": s, "l": items, "x": "ab"}
    assert outcome(text, act, "compiled", limits) == outcome(text, act, "interpreted", limits)


# -- the static estimate ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "minimum", "maximum"),
    [
        ("x + 1", 0, None),
        ("1 + 2 == 3", 0, 0),
        ("[1, 2, 3].map(v, v * 2)", 3 * 3 * N, 3 * 3 * N),
        ('"ab" + "cd"', 4, 4),
        ("[1, 2].exists(v, v == x)", 3 * N, None),  # stops at the first read of `x`
        ('"abc".split("") + [x]', 6, None),
        ("1 / 0", 0, 0),  # fails the same way every time
    ],
)
def test_cost_estimate(text: str, minimum: int, maximum: int | None) -> None:
    estimate = sf.cel.compile(text).cost_estimate
    assert (estimate.minimum, estimate.maximum) == (minimum, maximum)
    assert estimate == sf.cel.CostEstimate(minimum, maximum)


def test_the_estimate_is_a_lower_bound_of_the_real_cost() -> None:
    text = '"abc".split("").map(c, c + x)'
    estimate = sf.cel.compile(text).cost_estimate
    assert estimate.maximum is None
    assert estimate.minimum == 6 + 3 * N
    assert cost(text, {"x": "zz"}) == 6 + 3 * 3 * N + 3 * 3


def test_compile_refuses_what_always_exceeds_the_budget() -> None:
    limits = sf.cel.Limits(max_cost=1000)
    with pytest.raises(sf.SourceLimitError) as info:
        sf.cel.compile('"abcdefghij".split("").map(c, c + c + c + c + c)', limits=limits)
    assert info.value.kind == "cost_limit"
    assert isinstance(info.value, sf.LimitExceededError)
    assert "every evaluation costs more than max_cost (1,000)" in str(info.value)
    # the same text reading a variable first compiles: its cost depends on the data
    program = sf.cel.compile('x.split("").map(c, c + c + c + c + c)', limits=limits)
    assert program.cost_estimate.minimum == 0
    assert program.evaluate({"x": "ab"}) == ["aaaaa", "bbbbb"]


def test_the_estimate_is_bounded_in_iterations() -> None:
    text = "[" + ", ".join(["0"] * 200) + "].map(a, [" + ", ".join(["0"] * 200) + "].map(b, a))"
    estimate = sf.cel.compile(text).cost_estimate  # 40,200 iterations: not all run
    assert estimate.maximum is None
    assert estimate.minimum >= 10_000


def test_programs_pickle_with_their_limits() -> None:
    program = sf.cel.compile("x.size()", limits=sf.cel.Limits(max_cost=5))
    again = pickle.loads(pickle.dumps(program))
    assert again.cost_estimate == program.cost_estimate
    assert again.evaluate({"x": "abc"}) == 3


@pytest.mark.parametrize(
    "text",
    [
        'channel in ["twitter", "facebook"] && sentiment < -0.3 && text.contains(" refund ")',
        'msg.text.containsAny(["refund", "broken"]) || size(msg.tags) > 2',
    ],
)
def test_the_hot_path_pays_nothing(text: str) -> None:
    # conditions that read, compare and scan once make no meter at all
    assert "_cnt" not in sf.cel.compile(text).source()


def test_a_meter_is_made_only_on_the_paths_that_charge() -> None:
    lines = sf.cel.compile("msg.followers + 1 > 1000").source().splitlines()
    assert "        _cnt = None" in lines  # nothing made up front ...
    made = [i for i, line in enumerate(lines) if "_cnt = [0, 0]" in line]
    assert len(made) == 1  # ... only in the branch where `+` may build a string
    assert lines[made[0] - 1].strip() == "else:"
    assert "_float" in lines[made[0] - 2]  # after the int and double fast paths
