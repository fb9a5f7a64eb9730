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


def rule_text(rule: dict[str, Any]) -> str:
    channels = json.dumps(rule["channels"])
    keywords = json.dumps([f" {k} " for k in rule["keywords_any"]])
    if "max_sentiment" in rule:
        third = f"msg.sentiment < {float(rule['max_sentiment'])!r}"
    else:
        third = f"msg.author_followers >= {int(rule['min_followers'])}"
    return (
        f"rule {rule['id']} {{\n"
        f"  when msg.channel in {channels} && msg.text.containsAny({keywords}) && {third}\n"
        f'  then tag "{rule["id"]}"\n'
        f"}}\n"
    )


def ruleset_text(rules: list[dict[str, Any]]) -> str:
    return HEADER + "".join(rule_text(r) for r in rules)
