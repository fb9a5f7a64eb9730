"""The engines' fast constructors (``socialflow._records``) build exactly what the
attrs constructors build."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime

import attrs
import pytest

import socialflow as sf
from socialflow._records import fast_constructor
from socialflow.cel.values import FrozenMap
from socialflow.triage.decision import make_decision, make_override
from socialflow.workflow.engine import _make_instance, _make_result

NOW = datetime(2026, 11, 23, tzinfo=UTC)


def test_the_fast_instance_is_an_instance() -> None:
    args = ("w", "i1", "draft", FrozenMap({"a": 1}), 3, NOW, (), ("e1",))
    fast, slow = _make_instance(*args), sf.Instance(*args)
    assert type(fast) is sf.Instance
    assert fast == slow and hash(fast) == hash(slow) and repr(fast) == repr(slow)
    assert pickle.loads(pickle.dumps(fast)) == slow
    assert attrs.asdict(fast, recurse=False) == attrs.asdict(slow, recurse=False)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        fast.state = "other"  # type: ignore[misc]  # frozen on purpose


def test_the_fast_result_is_a_step_result() -> None:
    instance = sf.Instance("w", "i1", "draft")
    args = (False, instance, (sf.Effect("notify", (("queue", "q"),)),), "guard_failed", "why")
    fast, slow = _make_result(*args), sf.StepResult(*args)
    assert type(fast) is sf.StepResult and fast == slow and repr(fast) == repr(slow)
    assert sf.serde.loads(sf.serde.dumps(fast), sf.StepResult) == slow
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        fast.accepted = True  # type: ignore[misc]  # frozen on purpose


def test_the_fast_decision_is_a_decision() -> None:
    import attrs as attrs_module

    fields = [a.name for a in attrs_module.fields(sf.Decision)]
    values = dict.fromkeys(fields)
    values.update(
        ruleset="r", now=NOW, matched=("a",), priority="high", tags=("t",), values=(("k", 1),)
    )
    values.update(errors=(), overrides=())
    fast = make_decision(*(values[name] for name in fields))
    slow = sf.Decision(**values)
    assert type(fast) is sf.Decision and fast == slow and repr(fast) == repr(slow)
    assert pickle.loads(pickle.dumps(fast)) == slow


def test_the_fast_override_is_an_override() -> None:
    fast, slow = make_override("route", "b", "x", "a"), sf.Override("route", "b", "x", "a")
    assert type(fast) is sf.Override and fast == slow and repr(fast) == repr(slow)
    assert hash(fast) == hash(slow)


def test_a_weakref_slot_is_refused() -> None:
    @attrs.frozen
    class WithWeakref:
        a: int

    with pytest.raises(TypeError, match="weakref_slot=False"):
        fast_constructor(WithWeakref)


def test_a_planned_step_is_an_escalation_step() -> None:
    from socialflow.timing.escalation import (
        EscalationLevel,
        EscalationPolicy,
        EscalationStep,
        EscalationTarget,
    )

    target = EscalationTarget("queue", "care")
    policy = EscalationPolicy("p", (EscalationLevel(1, targets=(target,)),))
    (step,) = policy.plan(NOW).steps
    slow = EscalationStep(NOW, 1, 1, (target,))
    assert type(step) is EscalationStep and step == slow and repr(step) == repr(slow)
    assert hash(step) == hash(slow) and pickle.loads(pickle.dumps(step)) == slow
