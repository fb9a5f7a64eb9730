"""Test blocks: base messages (``base NAME = {...}``, ``given msg = NAME with
{...}``) and expectations on SLA deadlines and escalation steps, through the
API (``run_tests``) and the ``socialflow test`` command."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import socialflow as sf
from socialflow.bundle import loads_many
from socialflow.cli import main
from socialflow.testing.runner import run_tests

HEADER = """
ruleset blocks
schema Author { handle: string, followers: int }
schema Message { id: string, text: string, author: Author, lang?: string }
input msg: Message
queue care
queue pr
queue vip
sla quick { first_response 1h, resolution 4h }
escalation esc { level 1 notify queue care
                 level 2 after 30m notify queue pr }
rule vip { precedence 9 when msg.author.handle == "@vip" then route vip }
rule loud { precedence 5 when msg.author.followers > 1000 then route pr }
rule french { precedence 5 when has(msg.lang) && msg.lang == "fr" then tag "fr" }
rule rest { precedence -1 then route care; sla quick; escalate esc }
base tweet = {"id": "t1", "text": "hello", "author": {"handle": "@a", "followers": 10}}
"""


def _results(tests: str) -> list[tuple[str, bool, tuple[str, ...]]]:
    bundle = sf.loads(HEADER + tests, "blocks.sf")
    return [(r.name, r.passed, r.failures) for r in run_tests(bundle)]


def test_a_base_as_it_is_and_with_changes() -> None:
    results = _results(
        """
        test "as it is" { at "2026-11-23T10:00:00Z" given msg = tweet expect route care }
        test "nested maps merge: the handle is kept" {
          at "2026-11-23T10:00:00Z"
          given msg = tweet with {"author": {"followers": 5000}}
          expect route pr
        }
        test "other values replace, new keys are added" {
          at "2026-11-23T10:00:00Z"
          given msg = tweet with {"author": {"handle": "@vip"}, "lang": "fr"}
          expect route vip
          expect tag "fr"
        }
        """
    )
    assert results == [
        ("as it is", True, ()),
        ("nested maps merge: the handle is kept", True, ()),
        ("other values replace, new keys are added", True, ()),
    ]


def test_deadline_and_step_expectations_pass_and_fail_with_positions() -> None:
    results = _results(
        """
        test "on time" {
          at "2026-11-23T10:00:00Z"
          given msg = tweet
          expect sla quick first_response "2026-11-23T11:00:00Z" resolution "2026-11-23T14:00:00Z"
          expect escalate esc level 1 at "2026-11-23T10:00:00Z", level 2 at "2026-11-23T10:30:00Z"
        }
        test "late" {
          at "2026-11-23T10:00:00Z"
          given msg = tweet
          expect sla quick resolution "2026-11-23T15:00:00+01:00"
          expect sla quick first_response "2026-11-23T11:30:00Z"
          expect escalate esc level 2 at "2026-11-23T11:00:00Z"
        }
        """
    )
    assert results[0] == ("on time", True, ())
    _name, passed, failures = results[1]
    assert not passed
    # an offset is only another way to write the same instant
    assert failures == (
        "blocks.sf:28:18: expected first_response at 2026-11-23T11:30:00Z, got 2026-11-23T11:00:00Z",
        "blocks.sf:29:18: expected esc level 2 at 2026-11-23T11:00:00Z; the plan: "
        "level 1 at 2026-11-23T10:00:00Z, level 2 at 2026-11-23T10:30:00Z",
    )


def test_a_layer_tests_from_the_hubs_base() -> None:
    layer = """ruleset uk extends blocks
    override rule rest { then route pr }
    test "uk routes the rest to pr" {
      at "2026-11-23T10:00:00Z"
      given msg = tweet with {"text": "hi"}
      expect route pr
    }"""
    bundle = loads_many([("blocks.sf", HEADER), ("uk.sf", layer)])
    assert [(r.name, r.passed) for r in run_tests(bundle)] == [("uk routes the rest to pr", True)]


def test_base_mistakes_are_check_errors() -> None:
    with pytest.raises(sf.CheckError) as caught:
        sf.loads(
            HEADER
            + """
            base listed = [1]
            test "t" { given msg = twet with {"text": "x"} expect route care }
            test "u" { given msg = tweet with 3 expect route care }
            """,
            "blocks.sf",
        )
    assert sorted(d.code for d in caught.value.diagnostics) == [
        "invalid_base", "invalid_base", "undeclared_base",
    ]  # fmt: skip


_handles = st.sampled_from(["@a", "@vip", "@b"])


@settings(max_examples=60, deadline=None)
@given(
    followers=st.none() | st.integers(0, 5000),
    handle=st.none() | _handles,
    lang=st.none() | st.sampled_from(["fr", "en"]),
)
def test_with_means_a_recursive_merge(
    followers: int | None, handle: str | None, lang: str | None
) -> None:
    """Whatever the overlay, the test sees the base with the overlay merged in:
    the route and tags it expects, computed here from the merged dict, hold."""
    author: dict[str, object] = {}
    if followers is not None:
        author["followers"] = followers
    if handle is not None:
        author["handle"] = handle
    overlay: dict[str, object] = {"author": author} if author else {}
    if lang is not None:
        overlay["lang"] = lang
    merged_handle = handle or "@a"
    merged_followers = 10 if followers is None else followers
    route = "vip" if merged_handle == "@vip" else "pr" if merged_followers > 1000 else "care"
    written = (
        "{"
        + ", ".join(
            f'"author": {{{", ".join(f"{chr(34)}{k}{chr(34)}: {_cel(v)}" for k, v in author.items())}}}'
            if key == "author"
            else f'"{key}": {_cel(value)}'
            for key, value in overlay.items()
        )
        + "}"
    )
    expect_tag = 'expect tag "fr"' if lang == "fr" else "expect not matched french"
    results = _results(
        f"""test "merge" {{
          at "2026-11-23T10:00:00Z"
          given msg = tweet with {written}
          expect route {route}
          {expect_tag}
        }}"""
    )
    assert results == [("merge", True, ())]


def _cel(value: object) -> str:
    return f'"{value}"' if isinstance(value, str) else str(value)


def test_the_example_uses_a_base_and_deadlines(capsys: pytest.CaptureFixture[str]) -> None:
    examples = Path(__file__).resolve().parents[2] / "examples" / "triage"
    assert main(["test", str(examples)]) == 0
    out = capsys.readouterr().out
    assert "deadlines on UK business hours PASSED" in out


def test_a_base_given_twice_a_key_or_used_thrice_with_a_bad_value() -> None:
    with pytest.raises(sf.CheckError) as caught:
        sf.loads(
            HEADER.replace('base tweet = {"id": "t1"', 'base tweet = {"id": 1')
            + "".join(
                f'test "t{i}" {{ at "2026-11-23T10:00:00Z" given msg = tweet expect route care }}\n'
                for i in range(3)
            ),
            "blocks.sf",
        )
    # the base's bad value is one finding, not one per test that uses it
    assert [d.code for d in caught.value.diagnostics] == ["given_wrong_type"]
    with pytest.raises(sf.CheckError) as caught:
        sf.loads(
            HEADER
            + 'test "t" { at "2026-11-23T10:00:00Z" given msg = tweet with {"text": "a", "text": "b"}'
            " expect route care }",
            "blocks.sf",
        )
    assert [d.code for d in caught.value.diagnostics] == ["invalid_base"]
    assert "`text` is given twice in `with`" in caught.value.diagnostics[0].message
