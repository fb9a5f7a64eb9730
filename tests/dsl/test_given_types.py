"""`given` values of triage tests are checked against the input schema at check
time, with positions, and check agrees with what `socialflow test` accepts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import socialflow as sf

NOW = datetime(2026, 11, 23, 10, tzinfo=UTC)

HEADER = """
schema Author { handle: string, followers: int }
schema Message {
  id: string, score: double, author: Author, tags: list(string),
  at?: timestamp, rating?: uint, extra: map(string, int)
}
input msg: Message
rule r { then tag "t" }
"""
GOOD = (
    '{"id": "1", "score": 1, "author": {"handle": "a", "followers": 2}, "tags": ["x"], '
    '"extra": {"k": 1}}'
)


def diagnostics(value: str) -> list[sf.Diagnostic]:
    text = (
        HEADER
        + f'test "t" {{\n  at "2026-11-23T10:00:00Z"\n  given msg = {value}\n  expect tag "t"\n}}\n'
    )
    try:
        sf.loads(text, "g.sf")
    except sf.CheckError as e:
        return list(e.diagnostics)
    return []


def test_a_good_given_checks_clean() -> None:
    assert diagnostics(GOOD) == []
    assert diagnostics(GOOD[:-1] + ', "at": now - duration("1h"), "rating": 3}') == []
    assert diagnostics(GOOD[:-1] + ', "at": "2026-11-23T09:00:00Z", "rating": null}') == []


_REST = '"author": {"handle": "a", "followers": 2}, "tags": [], "extra": {}}'


@pytest.mark.parametrize(
    ("value", "code", "message", "column"),
    [
        ('{"id": 1, "score": 1, ' + _REST, "given_wrong_type", "`msg.id` should be a string, not an int", 22),
        ('{"id": null, "score": 1, ' + _REST, "given_wrong_type", "`msg.id` is required and cannot be null", 22),
        ('{"id": "1", "scor": 1, "score": 1, ' + _REST, "given_unknown_field", "`Message` has no field `scor`", 27),
        ('{"id": "1", "score": "1", ' + _REST, "given_wrong_type", "`msg.score` should be a double, not a string", 36),
    ],
)  # fmt: skip
def test_each_mistake_has_its_code_and_position(
    value: str, code: str, message: str, column: int
) -> None:
    (found,) = diagnostics(value)
    assert (found.code, found.message) == (code, message)
    assert found.span is not None
    assert (found.span.line, found.span.column) == (11, column)


def test_unknown_fields_get_a_suggestion_or_the_list_of_fields() -> None:
    (typo,) = diagnostics(GOOD.replace('"tags"', '"tagz"'))[-1:]
    assert typo.help == "did you mean `tags`?"
    found = [
        d for d in diagnostics(GOOD[:-1] + ', "zzzzzz": 1}') if d.code == "given_unknown_field"
    ]
    assert found[0].help == (
        "its fields are `id`, `score`, `author`, `tags`, `at`, `rating`, `extra`"
    )


def test_missing_required_fields_are_named_with_what_to_add() -> None:
    (d,) = diagnostics('{"id": "1", "score": 1.0, "author": {"handle": "a"}, "tags": []}')[:1]
    assert d.code == "given_missing_field"
    assert d.message == "`msg` lacks the required field `extra` of `Message`"
    assert d.help == 'add "extra": {...}'
    nested = diagnostics(
        '{"id": "1", "score": 1.0, "author": {"handle": "a"}, "tags": [], "extra": {}}'
    )
    assert [x.message for x in nested] == [
        "`msg.author` lacks the required field `followers` of `Author`"
    ]


# -- check and `socialflow test` agree ---------------------------------------------

_VALUES = {
    "string": ['"a"', "1", "true", "null"],
    "double": ["1", "1.5", '"1"', "null"],
    "int": ["2", "2.5", '"2"', "-1", "null"],
    "uint": ["3", "3u", "-3", "null"],
    "timestamp": ['"2026-11-23T09:00:00Z"', '"later"', "now", "5", "null"],
    "list(string)": ['["x"]', "[1]", "[]", '"x"', "null"],
}
_FIELDS = [("id", "string"), ("score", "double"), ("n", "int"), ("rating", "uint"),
           ("at", "timestamp"), ("tags", "list(string)")]  # fmt: skip
_SCHEMA = """
schema Message { id: string, score: double, n: int, rating?: uint, at?: timestamp, tags: list(string) }
input msg: Message
rule r { then tag "t" }
"""


@st.composite
def _given(draw: st.DrawFn) -> str:
    entries = []
    for name, kind in _FIELDS:
        if draw(st.integers(0, 5)) == 0:
            continue  # left out
        entries.append(f'"{name}": {draw(st.sampled_from(_VALUES[kind]))}')
    return "{" + ", ".join(entries) + "}"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=_given())
def test_check_refuses_exactly_what_the_test_run_would_reject(value: str) -> None:
    text = (
        _SCHEMA
        + f'test "t" {{\n  at "2026-11-23T10:00:00Z"\n  given msg = {value}\n  expect tag "t"\n}}\n'
    )
    try:
        bundle = sf.loads(text, "p.sf")
    except sf.CheckError as e:
        codes = {d.code for d in e.diagnostics}
        assert codes <= {"given_wrong_type", "given_missing_field"}, value
        # and the run time refuses the same message
        message = sf.cel.compile(value, {"now": "timestamp"}).evaluate({"now": NOW})
        with pytest.raises(sf.InputError):
            sf.loads(_SCHEMA, "p.sf").triage(message, NOW)
        return
    (result,) = sf.run_tests(bundle)
    assert result.passed, (value, result.failures)
