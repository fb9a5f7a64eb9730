"""`conflicting_rules`: every conflicting pair at a precedence, once, in source
order, and bounded for big rulesets."""

from __future__ import annotations

import time

import socialflow as sf
from socialflow.dsl.check.lints import MAX_CONFLICTS_LISTED

HEADER = "schema M { id: string, lang: string }\ninput msg: M\n"


def conflicts(rules: str, queues: int) -> list[sf.Diagnostic]:
    text = HEADER + "".join(f"queue q{i}\n" for i in range(queues)) + rules
    return [w for w in sf.loads(text, "c.sf").warnings if w.code == "conflicting_rules"]


def test_three_rules_three_queues_report_every_pair_in_source_order() -> None:
    rules = "".join(f'rule r{i} {{ when msg.id != "{i}" then route q{i} }}\n' for i in range(3))
    found = conflicts(rules, 3)
    assert [w.message.split(" have")[0] for w in found] == [
        "rules `r0` and `r1`",
        "rules `r0` and `r2`",
        "rules `r1` and `r2`",
    ]


def test_same_values_and_exclusive_conditions_do_not_conflict() -> None:
    rules = (
        'rule a { when msg.id != "1" then route q0 }\n'
        'rule b { when msg.id != "2" then route q0 }\n'
        'rule c { when msg.lang == "es" then route q1 }\n'
        'rule d { when msg.lang == "de" precedence 1 then route q1 }\n'
    )
    pairs = [w.message.split(" have")[0] for w in conflicts(rules, 2)]
    assert pairs == ["rules `a` and `c`", "rules `b` and `c`"]


def test_ten_thousand_rules_at_one_precedence_stay_bounded() -> None:
    n = 10_000
    rules = "".join(
        f'rule r{i} {{ when msg.id != "{i}" then route q{i % 50} }}\n' for i in range(n)
    )
    started = time.process_time()
    found = conflicts(rules, 50)
    elapsed = time.process_time() - started
    assert len(found) == MAX_CONFLICTS_LISTED + 1
    summary = found[-1]
    expected_pairs = n * (n - 1) // 2 - 50 * (200 * 199 // 2)  # pairs of different queues
    assert summary.message == (
        f"... and {expected_pairs - MAX_CONFLICTS_LISTED} more pairs of rules of precedence 0 "
        "set `route` differently"
    )
    assert elapsed < 20  # linear: a quadratic comparison would take minutes


def test_one_odd_rule_among_thousands_costs_no_walk_over_the_others() -> None:
    """The first rule routes elsewhere than 9,999 others: each of those is
    compared with that one rule only, not walked past the many of its own value."""
    n = 10_000
    rules = "".join(
        f'rule r{i} {{ when msg.id != "{i}" then route q{0 if i else 1} }}\n' for i in range(n)
    )
    started = time.process_time()
    found = conflicts(rules, 2)
    elapsed = time.process_time() - started
    assert len(found) == MAX_CONFLICTS_LISTED + 1
    assert found[-1].message.startswith(f"... and {n - 1 - MAX_CONFLICTS_LISTED} more pairs")
    assert elapsed < 20  # the walk over earlier setters of the same value took minutes
