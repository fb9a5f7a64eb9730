"""Syntax-error texts: unclosed brackets and strings at their opener, hints for
other languages' words, did-you-mean for keywords, grouped "expected" lists
and durations that list their units."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import socialflow as sf
from socialflow._syntax import MAX_EXPECTED
from socialflow.dsl.parser import DURATION_UNITS

HEADER = "ruleset m\nschema Message { id: string, text: string, vip: bool }\ninput msg: Message\nqueue care\n"


def first_error(text: str) -> sf.Diagnostic:
    with pytest.raises(sf.ParseError) as caught:
        sf.loads(HEADER + text, "m.sf")
    return caught.value.diagnostics[0]


def test_an_unclosed_paren_is_reported_at_the_paren() -> None:
    d = first_error("rule r {\n  when (msg.vip\n  then route care\n}\n")
    assert d.message == "unclosed `(`"
    assert (d.span.line, d.span.column) == (6, 8)
    assert d.notes == ("unexpected `then` at m.sf:7:3, with this `(` still open",)


def test_an_unclosed_brace_at_the_end_is_reported_at_the_brace() -> None:
    d = first_error("rule r { when msg.vip then route care\n")
    assert d.message == "unclosed `{`" and d.span.column == 8


def test_an_unclosed_quote_is_reported_at_the_quote() -> None:
    d = first_error('rule r { when msg.text == "abc then route care }\n')
    assert d.message.startswith('unclosed `"`') and d.span.column == 27
    d = first_error('rule r { when msg.text == "abc && msg.id == "x" then route care }\n')
    assert d.message.startswith("unclosed string") and d.span.column == 27


@pytest.mark.parametrize(
    ("condition", "word", "help_text"),
    [
        ("msg.vip and true", "and", "write `&&`: `a && b`"),
        ("msg.vip or true", "or", "write `||`: `a || b`"),
        ("not msg.vip", "not", "write `!`: `!a`, `!(a && b)`"),
    ],
)
def test_other_languages_logical_words(condition: str, word: str, help_text: str) -> None:
    d = first_error(f"rule r {{ when {condition} then route care }}\n")
    assert d.message == f"`{word}` is not an operator in CEL"
    assert d.span.text() == word and d.help == help_text


def test_a_tuple_is_shown_as_the_list_it_meant() -> None:
    d = first_error('rule r { when msg.text in ("a", "b") then route care }\n')
    assert d.help == 'a list is written in brackets: `["a", "b"]`'


def test_a_call_s_arguments_get_no_list_hint() -> None:
    with pytest.raises(sf.ParseError) as caught:
        sf.cel.compile('f("a" "b")')
    assert "list" not in (caught.value.diagnostics[0].help or "")


@pytest.mark.parametrize(
    ("action", "meant"),
    [
        ("rout care", "route"),
        ('tags "x"', "tag"),
        ("escalte p", "escalate"),
        ("priorty high", "priority"),
    ],
)
def test_misspelt_actions_get_did_you_mean(action: str, meant: str) -> None:
    d = first_error(f"rule r {{ when msg.vip then {action} }}\n")
    assert d.help == f"did you mean `{meant}`?"


def test_a_misspelt_declaration_keyword_gets_did_you_mean() -> None:
    assert first_error("rul r { when msg.vip then route care }\n").help == "did you mean `rule`?"


@pytest.mark.parametrize(
    ("written", "meant"), [("15min", "15m"), ("2 hours", "2h"), ("3 days", "3d"), ("10sec", "10s")]
)
def test_a_bad_duration_is_underlined_whole_with_its_units(written: str, meant: str) -> None:
    d = first_error(f"sla s {{ first_response {written} }}\n")
    assert d.message == f"`{written}` is not a duration"
    assert d.span.text() == written
    assert d.help == f"write `{meant}`"
    assert all(f"`{unit}` ({name})" in d.notes[0] for unit, _, name in DURATION_UNITS)


_GARBAGE = st.sampled_from(
    ["&", "|", ")", "]", "}", "(", "{", ",", "=", "42", "when", "then", ";", "and"]
)


@settings(max_examples=80, deadline=None)
@given(at=st.integers(min_value=0, max_value=60), garbage=_GARBAGE)
def test_expected_lists_are_never_longer_than_the_limit(at: int, garbage: str) -> None:
    rule = 'rule r { when msg.vip && msg.text.contains("x") then route care; tag "t" }\n'
    at = min(at, len(rule) - 1)
    text = HEADER + rule[:at] + f" {garbage} " + rule[at:]
    try:
        sf.loads(text, "g.sf")
    except sf.SourceError as e:
        for d in e.diagnostics:
            for said in (d.help or "", *d.notes):
                if said.startswith("expected one of: "):
                    # an entry such as "`*`, `/` or `%`" holds commas of its own
                    assert len(said.split(": ", 1)[1].split(", ")) <= MAX_EXPECTED + 3
