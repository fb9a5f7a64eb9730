"""``sf.load(..., cache=folder)``: the checked program is stored once and read back."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

import socialflow as sf
from socialflow import bundle as bundle_module

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "examples" / "triage"
NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
TEXT = """
ruleset small version "1" hit all
schema Message { id: string, channel: string, text: string }
input msg: Message
queue care
rule refund { when msg.text.contains("refund") then route care; tag "refund" }
rule twitter { when msg.channel == "twitter" then tag "public" }
"""


def _messages() -> list[object]:
    out: list[object] = []
    for line in (RULES / "messages.jsonl").read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue  # the example stream holds broken lines on purpose
    out.append({"id": "a", "channel": "twitter", "text": "refund please"})
    out.append({"id": "b", "channel": "email", "text": "hello"})
    return out


def _decisions(bundle: sf.Bundle) -> list[str]:
    out = []
    for message in _messages():
        try:
            out.append(sf.serde.dumps(bundle.triage(message, NOW)))
        except sf.InputError as e:
            out.append(f"rejected: {e}")
    return out


def test_a_second_load_reads_the_cache_and_decides_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = _decisions(sf.load(RULES))
    cold = sf.load(RULES, cache=tmp_path / "cache")
    files = list((tmp_path / "cache").iterdir())
    assert len(files) == 1 and files[0].suffix == ".sfcache"

    def no_parsing(*args: object, **kwargs: object) -> object:
        raise AssertionError("parsed although the cache holds these rules")

    monkeypatch.setattr(bundle_module, "parse_sources", no_parsing)
    warm = sf.load(RULES, cache=tmp_path / "cache")
    assert _decisions(warm) == _decisions(cold) == reference
    assert warm.warnings == cold.warnings


@pytest.mark.parametrize(
    "change",
    [
        {"text": " "},  # one more character in the rules
        {"name": "other.sf"},
        {"strict": True},
        {"limits": sf.cel.Limits(max_cost=1_000)},
    ],
)
def test_any_change_makes_a_new_entry(tmp_path: Path, change: dict[str, object]) -> None:
    text = TEXT
    sf.loads(text, "rules.sf", cache=tmp_path)
    options: dict[str, object] = {"strict": False, "limits": None}
    options.update({k: v for k, v in change.items() if k in options})
    name = str(change.get("name", "rules.sf"))
    sf.loads(text + str(change.get("text", "")), name, cache=tmp_path, **options)  # type: ignore[arg-type]
    assert len(list(tmp_path.iterdir())) == 2


def test_a_damaged_cache_file_is_ignored_and_rewritten(tmp_path: Path) -> None:
    text = TEXT
    sf.loads(text, "rules.sf", cache=tmp_path)
    (entry,) = tmp_path.iterdir()
    for damage in (b"", b"not a pickle", entry.read_bytes()[:100]):
        entry.write_bytes(damage)
        bundle = sf.loads(text, "rules.sf", cache=tmp_path)
        assert _decisions(bundle) == _decisions(sf.loads(text, "rules.sf"))
        assert entry.stat().st_size > 500  # rewritten whole


def test_rules_with_errors_are_not_cached(tmp_path: Path) -> None:
    with pytest.raises(sf.CheckError):
        sf.loads(TEXT + "rule bad { when msg.nope then route nowhere }", "bad.sf", cache=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_cache_path_that_is_a_file_is_a_usage_error(tmp_path: Path) -> None:
    file = tmp_path / "file"
    file.write_text("x")
    with pytest.raises(sf.UsageError, match="cache folder"):
        sf.loads("", "empty.sf", cache=file)
    with pytest.raises(sf.UsageError, match="folder path"):
        sf.loads("", "empty.sf", cache=42)  # type: ignore[arg-type]


def test_an_unwritable_cache_folder_does_not_fail_the_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> object:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(bundle_module.tempfile, "mkstemp", refuse)
    bundle = sf.load(RULES, cache=tmp_path)
    assert _decisions(bundle) == _decisions(sf.load(RULES))
    assert list(tmp_path.iterdir()) == []


def test_loading_leaves_the_hosts_frozen_objects_frozen() -> None:
    import gc

    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        assert frozen > 0
        sf.load(RULES)
        assert gc.get_freeze_count() >= frozen
    finally:
        gc.unfreeze()
