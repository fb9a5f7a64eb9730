"""`unguarded_attribute`: a `permit`/`forbid` that reads a host attribute without
`has()` is warned about at check time, because its condition fails closed."""

from __future__ import annotations

import pytest

import socialflow as sf

NODES = [
    {"id": "hub", "kind": "hub"},
    {"id": "held", "kind": "account", "parent": "hub", "attributes": {"legal_hold": True}},
    {"id": "plain", "kind": "account", "parent": "hub"},
]
GRANTS = [{"principal": "ann", "role": "publisher", "scope": "hub"}]
PRINCIPALS = [{"id": "ann"}]


def policy(condition: str) -> sf.Bundle:
    return sf.loads(
        f"permission publish\nrole publisher {{ publish }}\nforbid publish when {condition}\n",
        "p.sf",
    )


def test_the_warning_names_the_attribute_and_what_failing_closed_does() -> None:
    (warning,) = policy("resource.legal_hold").warnings
    assert warning.code == "unguarded_attribute"
    assert warning.severity is sf.Severity.WARNING
    assert "`resource.legal_hold`" in warning.message
    assert warning.notes == (
        "fail closed: an error in a `forbid` condition denies, so this forbids `publish` "
        "wherever the attribute is missing",
    )
    assert warning.help == (
        "guard the condition: `has(resource.legal_hold) && resource.legal_hold`"
    )


def test_what_the_warning_predicts_happens_and_the_guarded_form_fixes_it() -> None:
    bad = policy("resource.legal_hold").access(nodes=NODES, grants=GRANTS, principals=PRINCIPALS)
    good_policy = policy("has(resource.legal_hold) && resource.legal_hold")
    assert good_policy.warnings == ()
    good = good_policy.access(nodes=NODES, grants=GRANTS, principals=PRINCIPALS)
    assert bad.check("ann", "publish", "plain") is False  # denied: the attribute is missing
    assert good.check("ann", "publish", "plain") is True
    assert bad.check("ann", "publish", "held") is good.check("ann", "publish", "held") is False


@pytest.mark.parametrize(
    "condition",
    [
        'resource.kind == "account"',
        'resource.parent == "hub" && resource.id != "x"',
        '"hub" in resource.ancestors && principal.id == "ann"',
        '"staff" in principal.groups',
        "!has(resource.legal_hold) || resource.legal_hold",
    ],
)
def test_fields_socialflow_always_fills_in_need_no_guard(condition: str) -> None:
    assert policy(condition).warnings == ()


def test_a_permit_is_warned_about_too() -> None:
    bundle = sf.loads("permission respond\npermit respond when principal.on_call\n", "p.sf")
    (warning,) = bundle.warnings
    assert warning.code == "unguarded_attribute"
    assert "does not permit" in warning.notes[0]
