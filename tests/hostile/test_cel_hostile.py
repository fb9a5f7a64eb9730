"""Hostile CEL: expressions written to take the host down end quickly and cleanly.

Every reproducer runs on both backends, in this process, with its CPU time
measured (``time.process_time``, under :data:`CPU_SECONDS`) and its peak
memory measured (``tracemalloc``'s peak, under :data:`PEAK_MB`; for RE2, whose
memory is C++ allocations tracemalloc cannot see, also the growth of the
process's maximum resident set).  Each must fail with
``LimitExceededError`` (or the error named) or succeed, never hang, exhaust
memory or leak a raw Python exception.  ``docs/limits.md`` describes the limits.
"""

from __future__ import annotations

import contextlib
import resource
import time
import tracemalloc
import warnings
from collections.abc import Callable
from typing import Any

import pytest

import socialflow as sf

BACKENDS = ["compiled", "interpreted"]
CPU_SECONDS = 1.0
PEAK_MB = 100.0

TEN = '"aaaaaaaaaa"'


def _times_ten(steps: int) -> str:
    return f'.replace("a", {TEN})' * steps


def _run(action: Callable[[], Any]) -> Any:
    try:
        return action()
    except Exception as e:  # the caller checks what came out
        return e


def measured(action: Callable[[], Any]) -> tuple[Any, float, float]:
    """``(result or exception, CPU seconds, peak MB)`` of ``action``: timed alone,
    then run again under tracemalloc for the memory peak."""
    start = time.process_time()
    result = _run(action)
    cpu = time.process_time() - start
    tracemalloc.start()
    try:
        _run(action)
        peak = tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()
    return result, cpu, peak


def _max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def assert_bounded(result: Any, cpu: float, peak: float) -> None:
    assert cpu < CPU_SECONDS, f"took {cpu:.2f} s of CPU"
    assert peak < PEAK_MB, f"peaked at {peak:.1f} MB"
    if isinstance(result, BaseException):
        assert isinstance(result, sf.EvalError), repr(result)
        assert result.kind != "internal_error", str(result)


def evaluation(text: str, backend: str, activation: dict[str, Any] | None = None) -> Any:
    return lambda: sf.cel.compile(text, backend=backend).evaluate(activation or {})  # type: ignore[arg-type]


def expect_limit(result: Any, *kinds: str) -> sf.LimitExceededError:
    assert isinstance(result, sf.LimitExceededError), repr(result)
    assert result.kind in kinds, str(result)
    return result


# -- the reproducers ---------------------------------------------------------------------------

#: Ten replace steps build a 9,000,008-character string (just under
#: ``max_string_length``), then a comprehension of a
#: million `contains` calls scans it (hours without a budget).  The range is a list
#: of a million built by `map` over a big list.
HOURS_OF_CONTAINS = (
    "[SEED"
    + _times_ten(6)
    + '.replace("a", "aaaaaaaaa")'
    + '.replace("b", "bb")' * 3
    + '].exists(big, big.substring(0, 1000000).split("").map(c, c)'
    + '.exists(i, big.contains("zz")))'
)
#: Every character of a big string, each joined to the whole string: 3 GB.
SPLIT_MAP_CONCAT = "[SEED" + _times_ten(6) + '].map(b, b.split("").map(c, b + c))'
#: A replace chain whose last step would build a 1,000,000,000-character string.
GIGABYTE_REPLACE = "SEED" + _times_ten(9) + ".size()"


def _source(template: str, constant: bool) -> tuple[str, dict[str, Any]]:
    """The reproducer with a literal seed (refused at compile time: its cost is
    certain) or a variable one (stopped at evaluation)."""
    if constant:
        return template.replace("SEED", '"ab"'), {}
    return template.replace("SEED", "seed"), {"seed": "ab"}


@pytest.mark.parametrize("constant", [False, True], ids=["variable", "constant"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_million_scans_of_a_ten_million_character_string(backend: str, constant: bool) -> None:
    text, activation = _source(HOURS_OF_CONTAINS, constant)
    assert 330 <= len(text) <= 400
    result, cpu, peak = measured(evaluation(text, backend, activation))
    assert_bounded(result, cpu, peak)
    error = expect_limit(result, "cost_limit")
    assert isinstance(error, sf.SourceLimitError) == constant


@pytest.mark.parametrize("constant", [False, True], ids=["variable", "constant"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_split_map_concat_does_not_allocate_gigabytes(backend: str, constant: bool) -> None:
    text, activation = _source(SPLIT_MAP_CONCAT, constant)
    result, cpu, peak = measured(evaluation(text, backend, activation))
    assert_bounded(result, cpu, peak)
    expect_limit(result, "cost_limit", "size_limit")


@pytest.mark.parametrize("constant", [False, True], ids=["variable", "constant"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_replace_chain_is_refused_before_it_allocates(backend: str, constant: bool) -> None:
    text, activation = _source(GIGABYTE_REPLACE, constant)
    result, cpu, peak = measured(evaluation(text, backend, activation))
    assert_bounded(result, cpu, peak)
    expect_limit(result, "cost_limit", "size_limit")
    # the string that fails is never built: the peak is far below its size
    assert peak < 25


@pytest.mark.parametrize("backend", BACKENDS)
def test_size_limit_is_checked_before_allocation(backend: str) -> None:
    # a generous cost budget: only the size limit stops the chain, at 10 M characters
    limits = sf.cel.Limits(max_cost=10**12)
    text = "seed" + _times_ten(8) + ".size()"

    def run() -> Any:
        return sf.cel.compile(text, backend=backend, limits=limits).evaluate({"seed": "ab"})  # type: ignore[arg-type]

    result, cpu, peak = measured(run)
    assert_bounded(result, cpu, peak)
    error = expect_limit(result, "size_limit")
    assert "a string of 10,000,001 characters exceeds the limit of 10,000,000" in str(error)
    assert peak < 25  # the 1 M-character step exists, the 10 M one never did


@pytest.mark.parametrize("function", ["_&&_", "_||_"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_long_logical_chains(backend: str, function: str) -> None:
    if function == "_&&_":
        text = " && ".join(f"x > {i}" for i in range(250))
        expected = True
    else:
        text = " || ".join(f"x < {i}" for i in range(250))
        expected = False
    result, cpu, peak = measured(evaluation(text, backend, {"x": 1000}))
    assert_bounded(result, cpu, peak)
    assert result is expected
    # errors are still absorbed along a long chain: false decides, else the first error
    operands = ["x.missing == 1"] + [f"x.n > {i}" for i in range(249)]
    activation = {"x": {"n": 1000}}
    and_chain = sf.cel.compile(" && ".join(operands), backend=backend)  # type: ignore[arg-type]
    with pytest.raises(sf.EvalError) as info:
        and_chain.evaluate(activation)
    assert info.value.kind == "no_such_key"
    assert and_chain.evaluate({"x": {"n": 100}}) is False
    or_chain = sf.cel.compile(" || ".join(operands), backend=backend)  # type: ignore[arg-type]
    assert or_chain.evaluate(activation) is True


@pytest.mark.parametrize("depth", [3000, 30_000])
@pytest.mark.parametrize("backend", BACKENDS)
def test_regex_with_thousands_of_nested_groups(backend: str, depth: int) -> None:
    pattern = "(" * depth + "a" + ")" * depth
    before = _max_rss_mb()
    result, cpu, peak = measured(evaluation(f"text.matches('{pattern}')", backend, {"text": "ba"}))
    assert _max_rss_mb() - before < PEAK_MB  # RE2's own memory
    assert_bounded(result, cpu, peak)
    assert result is True


@pytest.mark.parametrize("backend", BACKENDS)
def test_regex_too_large_for_re2(backend: str) -> None:
    pattern = "\\\\pL{1000}" * 3  # a program over RE2's memory bound
    result, cpu, peak = measured(evaluation(f"text.matches('{pattern}')", backend, {"text": "a"}))
    assert_bounded(result, cpu, peak)
    error = expect_limit(result, "size_limit")
    assert "too large" in str(error)
    assert "RE2's memory bound of 8 MiB" in str(error)


@pytest.mark.parametrize("backend", BACKENDS)
def test_regex_whose_program_defeats_the_dfa(backend: str) -> None:
    # 100,000 instructions: RE2 falls back to its NFA, which takes time proportional
    # to text length x program size (30 s on this text); the cost says so first
    pattern = "[a-z]{1000}" * 100
    activation = {"text": "ab" * 50_000}
    result, cpu, peak = measured(evaluation(f"text.matches('{pattern}')", backend, activation))
    assert_bounded(result, cpu, peak)
    expect_limit(result, "cost_limit")


@pytest.mark.parametrize("backend", BACKENDS)
def test_comparisons_and_membership_repeated_in_a_comprehension(backend: str) -> None:
    # equal-length distinct strings compared per item; a big list scanned per item;
    # a big literal built per item
    wide = "[" + ", ".join(["c"] * 500) + "]"
    for text in (
        "seed.split('').exists(i, a == b)",
        "seed.split('').exists(c, c in big)",
        f"seed.split('').map(c, {wide})",
        "seed.split('').map(c, a.split(''))",
    ):
        activation = {"seed": "a" * 100_000, "a": "x" * 100_000, "b": "x" * 99_999 + "y"}
        activation["big"] = ["b"] * 1_000_000
        result, cpu, peak = measured(evaluation(text, backend, activation))
        assert_bounded(result, cpu, peak)
        expect_limit(result, "cost_limit")


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_long_duration_text_is_refused_at_once(backend: str) -> None:
    text = "duration(seed.replace('a', '1s1s1s1s1s1s1s1s1s1s'))"
    result, cpu, peak = measured(evaluation(text, backend, {"seed": "a" * 200_000}))
    assert_bounded(result, cpu, peak)
    assert isinstance(result, sf.EvalError)
    assert result.kind == "invalid_argument"


# -- map keys: bool is never a number -----------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_map_keys_one_and_true_stay_apart(backend: str) -> None:
    def ev(text: str, activation: dict[str, Any] | None = None) -> Any:
        return sf.cel.compile(text, backend=backend).evaluate(activation or {})  # type: ignore[arg-type]

    m = ev('{1: "a", true: "b"}')
    assert len(m) == 2
    assert list(m) == [1, True]
    assert m[1] == "a"
    assert m[True] == "b"
    assert ev('{1: "a", true: "b"}[1]') == "a"
    assert ev('{1: "a", true: "b"}[true]') == "b"
    assert ev('{1: "a", true: "b"}[1u]') == "a"  # numbers are one key across int, uint, double
    assert ev('{1: "a", true: "b"}[1.0]') == "a"
    assert ev('size({1: "a", true: "b"})') == 2
    assert ev('1 in {true: "b"}') is False
    assert ev('true in {1: "a"}') is False
    assert ev('{1: "a", true: "b"}.map(k, k)') == [1, True]
    assert ev('{1: "a", true: "b"}.all(k, k in {1: "a", true: "b"})') is True
    assert ev('type({1: "a", true: "b"}) == map') is True
    assert ev('{1: "a", true: "b"} == {true: "b", 1: "a"}') is True
    assert ev('{1: "a", true: "b"} == {1: "a", false: "b"}') is False
    assert ev('{1: "a", true: "b"} == {1: "a", 2: "b"}') is False
    assert ev('has({"x": {1: "a", true: "b"}}.x)') is True
    assert ev('{1: "a", true: "b"}.transformMap(k, v, v + "!")') == m.__class__(
        [(1, "a!"), (True, "b!")]
    )
    assert ev("m[1]", {"m": m}) == "a"
    # host dicts stay plain dicts, read with the same rules
    with pytest.raises(sf.EvalError) as info:
        ev("m[1]", {"m": {True: "x"}})
    assert info.value.kind == "no_such_key"
    assert ev("m[true]", {"m": {True: "x"}}) == "x"
    assert ev('{"a": 1}') == {"a": 1}
    assert type(ev('{"a": 1, 2: 3}')) is dict
    # repeated keys are still errors: true twice, or 1 and 1u
    for text in ("{true: 1, true: 2}", '{1: "a", 1u: "b"}'):
        with pytest.raises(sf.EvalError) as info:
            ev(text)
        assert info.value.kind == "invalid_argument"
    # JSON: both keys, as CEL prints them
    assert sf.serde.to_json_value(m) == {"1": "a", "true": "b"}


# -- generated code holds no `is` with a literal ---------------------------------------------

_LITERALS = [
    '"a"',
    "''",
    "1",
    "-1",
    "1u",
    "1.5",
    "true",
    "false",
    "null",
    'b"x"',
    "[1]",
    '{"k": 1}',
]
_OPERATORS = ["==", "!=", "<", "<=", ">", ">=", "in", "&&", "||", "+", "-", "*", "/", "%"]


def test_generated_code_compiles_with_warnings_as_errors() -> None:
    sources = [f"{a} {op} {b}" for a in _LITERALS for b in _LITERALS for op in _OPERATORS]
    sources += [f"!{a}" for a in _LITERALS] + [f"{a} ? {a} : {a}" for a in _LITERALS]
    sources += [f"[{a}].exists(x, x == {a})" for a in _LITERALS]
    sources += [f"{a}.contains({a}) || {a}.matches({a})" for a in _LITERALS]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a SyntaxWarning in generated code fails here
        for text in sources:
            try:
                program = sf.cel.compile(text)
            except sf.SourceError:
                continue
            with contextlib.suppress(sf.EvalError):
                program.evaluate()


def test_comparison_with_null_literal() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        program = sf.cel.compile('"a" == null')
        assert "'a' is None" not in program.source()
        assert program.evaluate() is False
        assert sf.cel.compile('"a" != null').evaluate() is True
        assert sf.cel.compile("null == null").evaluate() is True


# -- time zones ---------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ('timestamp("2026-01-01T00:00:00Z").getHours("99:00")', "invalid_argument"),
        ('timestamp("2026-01-01T00:00:00Z").getHours("+24:00")', "invalid_argument"),
        ('timestamp("2026-01-01T00:00:00Z").getMinutes("-12:75")', "invalid_argument"),
        ('timestamp("2026-01-01T00:00:00Z").getHours("Mars/Olympus_Mons")', "invalid_argument"),
        ('timestamp("0001-01-01T00:00:00Z").getHours("America/New_York")', "range"),
        ('timestamp("0001-01-01T00:00:00Z").getFullYear("-01:00")', "range"),
        ('timestamp("9999-12-31T23:59:59Z").getDayOfYear("+14:00")', "range"),
        ('timestamp("9999-12-31T23:59:59Z").getDate("Pacific/Kiritimati")', "range"),
    ],
)
def test_time_zone_failures_are_eval_errors(backend: str, text: str, kind: str) -> None:
    with pytest.raises(sf.EvalError) as info:
        sf.cel.compile(text, backend=backend).evaluate()  # type: ignore[arg-type]
    assert info.value.kind == kind, str(info.value)


@pytest.mark.parametrize("backend", BACKENDS)
def test_time_zones_in_range_still_work(backend: str) -> None:
    def ev(text: str) -> Any:
        return sf.cel.compile(text, backend=backend).evaluate()  # type: ignore[arg-type]

    assert ev('timestamp("2026-01-01T00:00:00Z").getHours("23:59")') == 23
    assert ev('timestamp("2026-01-01T00:00:00Z").getHours("-05:00")') == 19
    assert ev('timestamp("0001-01-01T00:00:00Z").getHours("+01:00")') == 1


# -- no raw Python exception from any function --------------------------------------------------


def test_every_function_fails_only_with_eval_errors() -> None:
    """Every registered function on odd arguments: a result or an ``EvalError``,
    never a raw ``ValueError``/``OverflowError``/``TypeError`` from inside."""
    import itertools
    import math
    from datetime import UTC, datetime, timedelta

    from socialflow.cel.functions import FUNCTIONS, OPERATORS, REGISTRY

    odd: list[Any] = [
        None, True, 0, -1, 2**63 - 1, -(2**63), sf.cel.UInt(2**64 - 1), 1.5, math.nan,
        math.inf, 1e308, "", "a", "99:00", "+24:00", "America/New_York", "x" * 300,
        "\x00", "(", "9" * 5000, b"", b"\xff", [], ["a"], [1], {}, {True: 1},
        datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
        datetime(2020, 1, 1), timedelta(days=999_999_999), -timedelta(days=999_999_999),
        sf.cel.Type("int"),
    ]  # fmt: skip
    start = time.process_time()
    for name, fn in FUNCTIONS.items():
        arities = REGISTRY[name].arities if name in OPERATORS else (0, 1, 2)
        for n in arities:
            for args in itertools.product(odd, repeat=n):
                with contextlib.suppress(sf.EvalError):
                    fn(*args)
        if name not in OPERATORS:  # a deterministic sample of three arguments
            for i in range(0, len(odd) ** 3, 97):
                args3 = (odd[i % len(odd)], odd[i // len(odd) % len(odd)], odd[i // len(odd) ** 2])
                with contextlib.suppress(sf.EvalError):
                    fn(*args3)
    assert time.process_time() - start < 30


@pytest.mark.parametrize(
    "literal", ["9" * 5000, "0x" + "f" * 5000, "9" * 5000 + "u", "-" + "9" * 30]
)
def test_a_huge_integer_literal_is_a_parse_error(literal: str) -> None:
    # Python refuses int() of more than 4,300 digits with a ValueError; the
    # parser must answer first with its own error, and show a short excerpt.
    with pytest.raises(sf.cel.ParseError) as info:
        sf.cel.compile(literal)
    assert info.value.diagnostics[0].code == "literal_out_of_range"
    assert "characters)" in str(info.value) or len(literal) < 40
    assert len(str(info.value)) < 1000


def test_an_error_on_a_very_long_line_shows_a_window_around_the_caret() -> None:
    text = "x == " + " + ".join(["1"] * 3000) + " + )"
    with pytest.raises(sf.cel.ParseError) as info:
        sf.cel.compile(text)
    snippet = info.value.diagnostics[0].span.snippet()
    shown, carets = snippet.splitlines()[-2:]
    assert len(shown) < 200 and shown.count("...") == 1  # cut on the left only
    caret_column = carets.index("^")
    assert shown[caret_column] == ")"
