"""Optional fields read without a `has()` guard are check errors, and what
check accepts never fails at run time for want of an optional field."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import socialflow as sf

NOW = datetime(2026, 11, 23, 10, tzinfo=UTC)
HEADER = """
schema Author { handle: string, nickname?: string }
schema Message { id: string, rating?: int, author?: Author, tags: list(string) }
input msg: Message
"""


def codes(condition: str) -> list[str]:
    try:
        bundle = sf.loads(HEADER + f'rule r {{ when {condition} then tag "t" }}', "g.sf")
    except sf.CheckError as e:
        return [d.code for d in e.diagnostics]
    return [w.code for w in bundle.warnings]


@pytest.mark.parametrize(
    "condition",
    [
        "has(msg.rating) && msg.rating >= 4",
        "msg.rating >= 4 && has(msg.rating)",
        "!has(msg.rating) || msg.rating > 3",
        "msg.rating > 3 || !has(msg.rating)",
        "(has(msg.rating) ? msg.rating : 0) > 3",
        "!has(msg.rating) ? false : msg.rating > 3",
        "!(!has(msg.rating)) && msg.rating > 3",
        "!(!has(msg.rating) || msg.rating < 3)",
        'has(msg.author) && has(msg.author.nickname) && msg.author.nickname == "a"',
        'has(msg.author) && msg.author.handle == "a"',
        'has(msg.rating) && (msg.id == "x" || msg.rating > 3)',
        "[msg.id].exists(x, has(msg.rating) && msg.rating > 1)",
    ],
)
def test_guarded_forms_check_clean(condition: str) -> None:
    assert codes(condition) == []


@pytest.mark.parametrize(
    "condition",
    [
        "msg.rating >= 4",
        '(has(msg.rating) || msg.id == "x") && msg.rating > 3',
        "has(msg.rating) || msg.rating > 3",
        "has(msg.rating) ? false : msg.rating > 3",
        "!has(msg.rating) && msg.rating > 3",
        'msg.author.handle == "a"',
        'has(msg.author) && msg.author.nickname == "a"',
        "has(msg.author.nickname)",
        "msg.rating > 1 && msg.rating < 3",  # one error for the field, not one per read
        # guards that rely on each other guard nothing; nested guards go outer first
        "has(msg.author.nickname) && has(msg.author.nickname)",
        'has(msg.author.nickname) && has(msg.author) && msg.author.nickname == "a"',
    ],
)
def test_unguarded_reads_are_one_error_each(condition: str) -> None:
    assert codes(condition) == ["unguarded_optional_field"]


def test_set_values_need_a_guard_and_the_help_gives_a_default() -> None:
    with pytest.raises(sf.CheckError) as info:
        sf.loads(HEADER + "rule r { then set stars = msg.rating }", "g.sf")
    (d,) = info.value.diagnostics
    assert d.code == "unguarded_optional_field"
    assert d.help == "give a value for when it is absent: `has(msg.rating) ? msg.rating : 0`"
    assert d.span is not None and (d.span.line, d.span.column) == (5, 27)


def test_a_schema_without_optional_fields_is_not_walked() -> None:
    bundle = sf.loads(
        'schema M { id: string }\ninput msg: M\nrule r { when msg.id == "x" then tag "t" }'
    )
    assert bundle.warnings == ()


# -- soundness: what check accepts never raises for a missing optional field ----------

_READS = [
    "msg.rating > 2",
    'msg.author.handle == "a"',
    'msg.author.nickname == "n"',
    'msg.id == "m"',
]
_GUARDS = ["has(msg.rating)", "has(msg.author)", "has(msg.author.nickname)", "!has(msg.rating)"]


@st.composite
def _condition(draw: st.DrawFn, depth: int = 0) -> str:
    kind = draw(
        st.sampled_from(["read", "guard", "and", "or", "not", "ternary"][: 2 if depth > 2 else 6])
    )
    if kind == "read":
        return draw(st.sampled_from(_READS))
    if kind == "guard":
        return draw(st.sampled_from(_GUARDS))
    if kind == "not":
        return f"!({draw(_condition(depth + 1))})"
    if kind == "ternary":
        a, b, c = (draw(_condition(depth + 1)) for _ in range(3))
        return f"(({a}) ? ({b}) : ({c}))"
    op = " && " if kind == "and" else " || "
    return op.join(f"({draw(_condition(depth + 1))})" for _ in range(draw(st.integers(2, 3))))


_messages = st.fixed_dictionaries(
    {"id": st.sampled_from(["m", "x"]), "tags": st.just([])},
    optional={
        "rating": st.integers(0, 5),
        "author": st.fixed_dictionaries(
            {"handle": st.sampled_from(["a", "b"])}, optional={"nickname": st.just("n")}
        ),
    },
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(condition=_condition(), messages=st.lists(_messages, min_size=1, max_size=4))
def test_what_checks_never_misses_a_field(condition: str, messages: list[dict[str, Any]]) -> None:
    found = codes(condition)
    if found:  # the only thing check may refuse here is an unguarded read
        assert set(found) == {"unguarded_optional_field"}, condition
        return
    bundle = sf.loads(HEADER + f'rule r {{ when {condition} then tag "t" }}', "g.sf")
    for message in messages:
        assert bundle.triage(message, NOW).errors == (), (condition, message)


@pytest.mark.parametrize(
    ("rule", "errors"),
    [
        ('rule r { when has(msg.rating) then set x = msg.rating + 1 }', []),
        ('rule r { when has(msg.author) && msg.id == "a" then assign msg.author.handle }', []),
        ('rule r { when msg.id == "a" then set x = msg.rating }', ["unguarded_optional_field"]),
        # `||` proves nothing when true: either side may have decided
        ('rule r { when has(msg.rating) || msg.id == "a" then set x = msg.rating }',
         ["unguarded_optional_field"]),
    ],
)  # fmt: skip
def test_actions_may_read_what_their_rules_condition_proved(rule: str, errors: list[str]) -> None:
    """A rule's `set` and `assign` values run only when its `when` matched, so
    what the condition proves present they may read unguarded; at run time the
    accepted ones never raise."""
    if errors:
        with pytest.raises(sf.CheckError) as caught:
            sf.loads(HEADER + rule, "g.sf")
        assert [d.code for d in caught.value.diagnostics] == errors
        return
    bundle = sf.loads(HEADER + rule, "g.sf")
    for message in (
        {"id": "a", "tags": []},
        {"id": "a", "tags": [], "rating": 3, "author": {"handle": "@h"}},
    ):
        decision = bundle.triage(message, NOW, strict=True)
        assert decision.errors == ()


def test_a_null_optional_field_is_absent() -> None:
    """A host that sends `"rating": null` gets what it gets for a message
    without `rating`: `has()` is false, so a guarded read never raises; the
    host's own message is not changed."""
    bundle = sf.loads(HEADER + 'rule r { when has(msg.rating) && msg.rating > 3 then tag "t" }')
    message = {"id": "a", "tags": [], "rating": None}
    decision = bundle.triage(message, NOW, strict=True)
    assert decision.tags == () and decision.errors == ()
    assert message == {"id": "a", "tags": [], "rating": None}
    assert bundle.triage({"id": "a", "tags": [], "rating": 5}, NOW).tags == ("t",)


REPLIES = """
schema Reply { text: string, rating?: int }
schema Message { id: string, rating?: int, replies: list(Reply), byid: map(string, Reply) }
input msg: Message
queue q
"""
REPLIES_MESSAGE = {
    "id": "m",
    "rating": 5,
    "replies": [{"text": "x", "rating": 1}, {"text": "y"}],
    "byid": {"a": {"text": "z"}},
}


@pytest.mark.parametrize(
    ("condition", "accepted"),
    [
        # a loop variable named like a guarded outer value is a new value
        ("has(msg.rating) && msg.replies.all(msg, msg.rating > 0)", False),
        ("msg.replies.exists(r, has(r.rating) && msg.replies.all(r, r.rating > 0))", False),
        # reads that are not a plain path of a variable: decided by their type
        ("msg.replies[1].rating > 0", False),
        ("has(msg.replies[1].rating) && msg.replies[1].rating > 0", True),
        ("msg.byid.all(k, msg.byid[k].rating > 0)", False),
        ("has(msg.byid.a) && msg.byid.a.rating > 0", False),
        ("msg.replies.map(r, r).all(x, x.rating > 0)", False),
        ("msg.replies.map(r, r).all(x, has(x.rating) && x.rating > 0)", True),
        # map's transform runs only where its filter held
        ("msg.replies.map(r, has(r.rating), r.rating).size() > 0", True),
    ],
)
def test_every_optional_read_is_found_whatever_it_reads_from(
    condition: str, accepted: bool
) -> None:
    text = REPLIES + f"rule r {{ when {condition} then route q }}"
    if not accepted:
        with pytest.raises(sf.CheckError) as caught:
            sf.loads(text, "g.sf")
        assert {d.code for d in caught.value.diagnostics} == {"unguarded_optional_field"}
        return
    bundle = sf.loads(text, "g.sf")
    bundle.triage(REPLIES_MESSAGE, NOW, strict=True)  # never raises


def test_the_first_unguarded_read_is_the_one_reported() -> None:
    with pytest.raises(sf.CheckError) as caught:
        sf.loads(
            HEADER + 'rule r { when msg.id == "x" || msg.rating < 1 || msg.rating > 9 '
            'then tag "t" }',
            "g.sf",
        )
    (error,) = caught.value.diagnostics
    assert error.span is not None and error.span.location() == "g.sf:5:32"
    # in an `||` chain the operand is guarded, not the whole condition
    assert error.help == (
        'guard the condition: `msg.id == "x" || (has(msg.rating) && msg.rating < 1) || msg.rating > 9`'
    )
