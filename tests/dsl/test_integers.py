"""DSL integers: `docs/dsl.md` says leading zeros are ignored (`010` is ten, not
octal) and hex is written `0x`; the parser agrees."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import socialflow as sf

TEXT = 'schema M {{ id: string }}\ninput msg: M\nrule r {{ when msg.id == "x" precedence {n} then tag "t" }}\n'


@pytest.mark.parametrize(
    ("written", "value"), [("010", 10), ("0", 0), ("007", 7), ("-010", -10), ("0x10", 16)]
)
def test_leading_zeros_are_decimal(written: str, value: int) -> None:
    (rule,) = sf.loads(TEXT.format(n=written), "z.sf").program.rules
    assert rule.precedence == value


@given(n=st.integers(0, 10**6), zeros=st.integers(0, 5))
def test_any_number_of_leading_zeros_changes_nothing(n: int, zeros: int) -> None:
    (rule,) = sf.loads(TEXT.format(n="0" * zeros + str(n)), "z.sf").program.rules
    assert rule.precedence == n
