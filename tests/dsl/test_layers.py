"""Layers: ``ruleset NAME extends PARENT`` files with ``override rule`` and new
rules, through the API and the CLI (docs/layers.md)."""

from __future__ import annotations

import json
import pickle
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import socialflow as sf
from socialflow.bundle import loads_many, read_sources
from socialflow.cli import main
from socialflow.testing.runner import run_tests

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "triage"
NOW = datetime(2026, 11, 23, 10, tzinfo=UTC)

HUB = """
ruleset hub version "1" hit all
schema Message { id: string, text: string, followers: int }
input msg: Message
queue care
queue billing
queue vip
rule refund { precedence 50 when msg.text.contains("refund") then route billing; tag "refund" }
rule loud { precedence 10 when msg.followers > 1000 then priority high; tag "loud" }
rule fallback { precedence -1 then route care }
"""

MESSAGE = {"id": "m1", "text": "refund please", "followers": 5000}


def _bundle(*layers: str) -> sf.Bundle:
    sources = [("hub.sf", HUB)] + [(f"layer{i}.sf", t) for i, t in enumerate(layers)]
    return loads_many(sources)


def _codes(error: sf.SourceError) -> list[str]:
    return [d.code for d in error.diagnostics]


def test_a_layer_overrides_in_place_and_adds_after() -> None:
    bundle = _bundle(
        """ruleset uk extends hub version "2"
        override rule refund { when msg.text.contains("refund") then route vip }
        rule vip_words { when msg.text.contains("please") then tag "polite" }
        """
    )
    assert bundle.name == "hub" and bundle.layers == ("uk",)
    uk = bundle.layer("uk")
    assert (uk.name, uk.version, uk.program.extends) == ("uk", "2", "hub")
    assert uk.program.overrides == ("refund",) and uk.program.added == ("vip_words",)
    # the override keeps the replaced rule's precedence (50) since it states none
    assert [(r.name, r.precedence) for r in uk.program.rules] == [
        ("refund", 50), ("loud", 10), ("vip_words", 0), ("fallback", -1),
    ]  # fmt: skip
    assert uk.program.hit == "all"  # inherited
    assert bundle.triage(MESSAGE, NOW).route == "billing"
    decision = uk.triage(MESSAGE, NOW)
    assert decision.route == "vip"
    assert decision.tags == ("loud", "polite")
    assert bundle.layer("uk") is uk  # compiled once
    assert uk.layer("uk") is uk  # a layer's bundle finds its siblings
    assert uk.layers == ()


def test_a_layer_can_extend_a_layer() -> None:
    bundle = _bundle(
        'ruleset uk extends hub\nrule a { when true then tag "uk" }',
        'ruleset north extends uk\noverride rule a { when true then tag "north" }',
    )
    assert bundle.layers == ("uk", "north")
    assert bundle.layer("north").triage(MESSAGE, NOW).tags[-1] == "north"
    assert bundle.layer("uk").triage(MESSAGE, NOW).tags[-1] == "uk"
    assert "uk" not in bundle.triage(MESSAGE, NOW).tags


def test_layer_bundles_pickle_and_cache(tmp_path: Path) -> None:
    layer = "ruleset uk extends hub\noverride rule fallback { then route vip }"
    uk = _bundle(layer).layer("uk")
    again = pickle.loads(pickle.dumps(uk))
    assert again.name == "uk" and again.triage(MESSAGE, NOW) == uk.triage(MESSAGE, NOW)
    sources = [("hub.sf", HUB), ("uk.sf", layer)]
    first = loads_many(sources, cache=tmp_path)
    cached = loads_many(sources, cache=tmp_path)
    assert len(list(tmp_path.glob("*.sfcache"))) == 1
    assert cached.layers == first.layers == ("uk",)
    assert cached.layer("uk").program.overrides == ("fallback",)


def test_unknown_layer_names_the_loaded_ones() -> None:
    bundle = _bundle('ruleset uk_care extends hub\nrule a { then tag "x" }')
    with pytest.raises(sf.UsageError, match="did you mean `uk_care`"):
        bundle.layer("uk_car")
    with pytest.raises(sf.UsageError, match=r"layers: `uk_care`"):
        bundle.layer("france")


@pytest.mark.parametrize(
    ("layer", "code", "words"),
    [
        ("ruleset uk extends hub\noverride rule refnd { then tag \"x\" }",
         "unknown_override", "did you mean `refund`?"),
        ("ruleset uk extends hub\noverride rule brand_new { then tag \"x\" }",
         "unknown_override", "write `rule` instead of `override rule`"),
        ("ruleset uk extends hub\nrule refund { then tag \"x\" }",
         "duplicate_declaration", "write `override rule refund`"),
        ("ruleset uk extends hbu\nrule a { then tag \"x\" }", "unknown_ruleset", "did you mean `hub`?"),
        ("rule a { then tag \"x\" }\noverride rule loud { then tag \"y\" }",
         "override_outside_layer", "start the file with `ruleset NAME extends PARENT`"),
        ("ruleset hub extends hub\nrule a { then tag \"x\" }", "duplicate_declaration",
         "name the layer after"),
    ],
)  # fmt: skip
def test_layering_mistakes_are_check_errors(layer: str, code: str, words: str) -> None:
    with pytest.raises(sf.CheckError) as caught:
        _bundle(layer)
    assert code in _codes(caught.value)
    rendered = "\n".join(d.render() for d in caught.value.diagnostics)
    assert words in rendered
    assert "layer0.sf:" in rendered


def test_layers_in_a_cycle_are_reported() -> None:
    with pytest.raises(sf.CheckError) as caught:
        _bundle('ruleset a extends b\nrule x { then tag "a" }', "ruleset b extends a\n")
    (cycle,) = [d for d in caught.value.diagnostics if d.severity is sf.Severity.ERROR]
    assert cycle.code == "layer_cycle" and "a -> b -> a" in cycle.message


def test_an_override_that_changes_nothing_is_a_warning() -> None:
    same = (
        "ruleset uk extends hub\n"
        'override rule loud {\n  when msg.followers > 1000\n  then priority high\n  tag "loud"\n}'
    )
    bundle = _bundle(same)
    (warning,) = [w for w in bundle.warnings if w.code == "override_unchanged"]
    assert warning.span is not None and warning.span.location() == "layer0.sf:2:15"
    assert "hub.sf:" in warning.notes[0]
    with pytest.raises(sf.CheckError) as caught:
        loads_many([("hub.sf", HUB), ("layer0.sf", same)], strict=True)
    assert "override_unchanged" in _codes(caught.value)


def test_a_layers_errors_and_the_hubs_are_all_reported_once() -> None:
    broken_hub = HUB.replace("route care", "route car")
    with pytest.raises(sf.CheckError) as caught:
        loads_many(
            [
                ("hub.sf", broken_hub),
                ("uk.sf", "ruleset uk extends hub\nrule a { then route nowhere }"),
                ("fr.sf", "ruleset fr extends hub\nrule b { then route vip }"),
            ]
        )
    located = [
        (d.code, d.span.location())
        for d in caught.value.diagnostics
        if d.span is not None and d.severity is sf.Severity.ERROR
    ]
    assert located == [("undeclared_queue", "hub.sf:10:42"), ("undeclared_queue", "uk.sf:2:21")]
    # `vip` is unused; `care` is what the misspelt `car` meant, so not reported
    assert sum(d.code == "unused_declaration" for d in caught.value.diagnostics) == 1


def test_tests_run_against_their_own_layer() -> None:
    bundle = _bundle(
        """ruleset uk extends hub
        override rule refund { then route vip }
        test "refunds go to vip in the uk" {
          at "2026-11-23T10:00:00Z"
          given msg = {"id": "t", "text": "refund", "followers": 1}
          expect route vip
        }"""
    )
    results = run_tests(bundle)
    assert [(r.name, r.passed) for r in results] == [("refunds go to vip in the uk", True)]


# -- the bundled example: a hub and three bureaus ---------------------------------------------


def _example_messages() -> list[tuple[Any, datetime]]:
    out = []
    for line in (EXAMPLES / "messages.jsonl").read_text(encoding="utf-8").splitlines():
        try:
            message = json.loads(line)
            out.append((message, sf.cel.parse_timestamp(message["received_at"])))
        except (ValueError, KeyError):
            continue
    return out


EXAMPLE_MESSAGES = _example_messages()
HUB_BUNDLE = sf.load(EXAMPLES)


def test_the_example_has_three_bureaus() -> None:
    assert HUB_BUNDLE.layers == ("de_care", "fr_care", "uk_care")
    assert HUB_BUNDLE.layer("uk_care").program.overrides == ("after_hours",)
    assert HUB_BUNDLE.warnings == ()


def _comparable(decision: sf.Decision) -> dict[str, Any]:
    data = json.loads(sf.serde.dumps(decision))
    for key in ("ruleset", "ruleset_version"):  # the layer's own name, by design
        data.pop(key, None)
    return data


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    picks=st.lists(st.integers(0, 10_000), min_size=0, max_size=6, unique=True),
    sample=st.lists(st.integers(0, len(EXAMPLE_MESSAGES) - 1), min_size=1, max_size=25),
)
def test_a_layer_that_overrides_nothing_changes_no_decision(
    picks: list[int], sample: list[int]
) -> None:
    """Overriding hub rules with their own text (or with nothing at all) is a no-op:
    every decision equals the hub's."""
    rules = HUB_BUNDLE.program.rules
    chosen = sorted({p % len(rules) for p in picks})
    copies = [f"override {rules[i].span.text()}" for i in chosen]
    layer = "ruleset same extends acme_inbound\n" + "\n".join(copies)
    bundle = loads_many([*read_sources(EXAMPLES), ("same.sf", layer)])
    same = bundle.layer("same")
    assert [w.code for w in bundle.warnings] == ["override_unchanged"] * len(chosen)
    for i in sample:
        message, now = EXAMPLE_MESSAGES[i]
        try:
            expected = HUB_BUNDLE.triage(message, now)
        except sf.InputError:
            with pytest.raises(sf.InputError):
                same.triage(message, now)
            continue
        assert _comparable(same.triage(message, now)) == _comparable(expected)


# -- the CLI ------------------------------------------------------------------------------------


def test_check_lists_each_layers_effective_rules(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(EXAMPLES), "--effective"]) == 0
    out = capsys.readouterr().out
    assert "ok: layer uk_care extends acme_inbound (all): 28 rules " in out
    assert "(1 overridden: after_hours; 1 added: uk_national_press), 2 tests" in out
    assert "effective rules of layer fr_care" in out
    line = next(x for x in out.splitlines() if "~ after_hours" in x)
    assert "bureaus/uk.sf:" in line and "precedence  100" in line


def test_triage_and_explain_take_a_layer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    messages = tmp_path / "night.jsonl"
    night = {**EXAMPLE_MESSAGES[0][0], "received_at": "2026-11-23T22:30:00Z"}
    messages.write_text(json.dumps(night) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    args = ["triage", str(EXAMPLES), str(messages), "-o", str(out), "--no-progress"]
    assert main([*args, "--layer", "uk_care"]) == 0
    assert json.loads(out.read_text())["assign"] == "uk-night-rota"
    assert main(args) == 0
    assert json.loads(out.read_text())["assign"] == "after-hours-rota"
    assert main([*args, "--layer", "uk"]) == 2
    assert "no layer `uk`" in capsys.readouterr().err


def test_the_test_command_runs_every_layers_tests(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test", str(EXAMPLES)]) == 0
    out = capsys.readouterr().out
    assert "bureaus/uk.sf:" in out and "bureaus/fr.sf:" in out and "bureaus/de.sf:" in out


def test_a_conflict_an_override_creates_is_reported_for_the_layer() -> None:
    """Two hub rules of one precedence that route alike conflict once a layer
    overrides one to route elsewhere: the warning is at the hub's rule, noting
    the layer."""
    hub = HUB.replace("rule loud { precedence 10", "rule loud { precedence 50").replace(
        "then priority high", "then route billing"
    )
    bundle = loads_many(
        [
            ("hub.sf", hub),
            (
                "uk.sf",
                'ruleset uk extends hub\noverride rule refund { when msg.text.contains("refund") then route vip }',
            ),
        ]
    )
    (warning,) = [w for w in bundle.warnings if w.code == "conflicting_rules"]
    assert warning.span is not None and warning.span.source.name == "hub.sf"
    assert "in layer `uk`, with its rules" in warning.notes
    assert not [w for w in loads_many([("hub.sf", hub)]).warnings if w.code == "conflicting_rules"]
