"""The shared triage workload (../shared/bench/rules_workload.py) in the socialflow DSL.

Each neutral rule ``{"id", "channels", "keywords_any", "max_sentiment" | "min_followers"}``
becomes::

    rule r0001 {
      when msg.channel in ["twitter", "email"]
           && msg.text.containsAny([" refund ", " broken "])
           && msg.sentiment < -0.3
      then tag "r0001"
    }

under ``hit all`` with equal precedence, so ``decision.matched`` lists every
matching rule in rule order: exactly the workload oracle's answer.

The same rule can be written several ways, as rule authors write it
(:data:`FORMULATIONS`, passed as ``form=``):

- ``any``: ``msg.text.containsAny([" refund ", " broken "])`` (above);
- ``or``: ``(msg.text.contains(" refund ") || msg.text.contains(" broken "))``;
- ``word``: ``msg.text.containsAnyWord(["refund", "broken"])``, or
  ``containsWord("refund")`` for one keyword.  Whole-word matching equals the
  workload's ``" k " in text`` test because texts are lowercase words
  separated by single spaces, with a leading and a trailing space;
- ``reordered``: the conjuncts in another order: the sentiment/followers
  test first, the ``containsAny`` text test second, the channel test last.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

HEADER = """\
ruleset bench version "1" hit all
schema Message {
  id: int, channel: string, kind: string, account: string,
  author_followers: int, author_verified: bool, sentiment: double, text: string
}
input msg: Message
"""


def shared_bench_dir() -> Path:
    """``../shared/bench`` next to the repository, or ``$SOCIALFLOW_BENCH_DIR``."""
    env = os.environ.get("SOCIALFLOW_BENCH_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "shared" / "bench"


def workload() -> Any:
    """Import the shared ``rules_workload`` module."""
    path = str(shared_bench_dir())
    if path not in sys.path:
        sys.path.insert(0, path)
    import rules_workload

    return rules_workload


#: formulation name -> what it looks like, for reports
FORMULATIONS: dict[str, str] = {
    "any": 'containsAny([" k1 ", " k2 "])',
    "or": '(contains(" k1 ") || contains(" k2 "))',
    "word": 'containsAnyWord(["k1", "k2"])',
    "reordered": "third && containsAny && channel",
}


def _text_test(rule: dict[str, Any], form: str) -> str:
    words: list[str] = list(rule["keywords_any"])
    if form == "or":
        tests = " || ".join(f"msg.text.contains({json.dumps(f' {k} ')})" for k in words)
        return f"({tests})" if len(words) > 1 else tests
    if form == "word":
        if len(words) == 1:
            return f"msg.text.containsWord({json.dumps(words[0])})"
        return f"msg.text.containsAnyWord({json.dumps(words)})"
    return f"msg.text.containsAny({json.dumps([f' {k} ' for k in words])})"


def rule_text(rule: dict[str, Any], form: str = "any") -> str:
    """One workload rule in the DSL, written as formulation ``form``."""
    if form not in FORMULATIONS:
        raise ValueError(f"unknown formulation {form!r} (known: {', '.join(FORMULATIONS)})")
    channel = f"msg.channel in {json.dumps(rule['channels'])}"
    if "max_sentiment" in rule:
        third = f"msg.sentiment < {float(rule['max_sentiment'])!r}"
    else:
        third = f"msg.author_followers >= {int(rule['min_followers'])}"
    text = _text_test(rule, form)
    parts = [third, text, channel] if form == "reordered" else [channel, text, third]
    return f'rule {rule["id"]} {{\n  when {" && ".join(parts)}\n  then tag "{rule["id"]}"\n}}\n'


def ruleset_text(rules: list[dict[str, Any]], form: str = "any") -> str:
    return HEADER + "".join(rule_text(r, form) for r in rules)
