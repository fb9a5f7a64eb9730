"""The workflow engine through the public API: every construct, every refusal
reason, timers, escalation, versions, and bad input."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import socialflow as sf

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "workflows"
T0 = datetime(2026, 11, 23, 9, tzinfo=UTC)
ITEM = {"id": "post-1", "account": "acct-uk", "author": "ana"}

SMALL = """
permission draft, approve
queue desk
escalation nag { level 1 notify queue desk  level 2 after 10m notify role "lead"  repeat 1 after 1h }
workflow w {
  data due: timestamp
  state a initial
  state b, c
  state z final
  on go    from a to b  set n = 1  emit started(queue desk)
  on again from b to b  set n = data.n + 1
  on check from b to c  requires approve  when actor != subject.author
  on check from b to a  requires draft    when actor == subject.author
  on boom  from b to c  when event.x > 0
  on end   from b, c to z
  exit a   emit left(a)
  enter b  emit arrived(b), notify(queue desk)
  timeout b after 1h emit remind(queue desk)
  timeout b after 2h to c
  timeout c at data.due to z emit expired()
  while c escalate nag
}
"""


def small() -> sf.Workflow:
    return sf.loads(SMALL, "small.sf").workflow("w")


def ev(name: str, actor: str = "bob", id: str | None = None, **data: Any) -> sf.Event:
    return sf.Event(name, actor=actor, id=id or f"{name}-{actor}-{sorted(data)}", data=data or None)


DUE = T0 + timedelta(days=1)


def started(wf: sf.Workflow) -> sf.Instance:
    """An instance in state b (entering c needs `data.due`)."""
    inst = wf.start("i1", subject=ITEM, now=T0, data={"due": DUE})
    return step(wf, inst, ev("go")).instance


def step(
    wf: sf.Workflow, inst: sf.Instance, event: sf.Event, now: datetime = T0, **kw: Any
) -> sf.StepResult:
    return wf.step(
        inst, event, subject=kw.pop("subject", ITEM), now=now, access=kw.pop("access", sf.ALLOW_ALL)
    )


def test_start_is_version_zero_in_the_initial_state() -> None:
    inst = small().start("i1", subject=ITEM, now=T0, data={"k": [1, {"x": 2}]})
    assert (inst.workflow, inst.id, inst.state, inst.version, inst.entered_at) == (
        "w",
        "i1",
        "a",
        0,
        T0,
    )
    assert inst.data == {"k": (1, {"x": 2})}
    assert isinstance(inst.data, sf.cel.values.FrozenMap)
    assert inst.timers == () and inst.seen == ()


def test_a_transition_sets_data_emits_exit_transition_enter_effects_in_order() -> None:
    wf = small()
    r = step(wf, wf.start("i1", subject=ITEM, now=T0), ev("go"))
    assert r.accepted and r.reason is None and r.detail is None
    assert r.instance.state == "b" and r.instance.version == 1 and r.instance.data == {"n": 1}
    assert [str(e) for e in r.effects] == [
        "left(a)",
        "started(queue desk)",
        "arrived(b)",
        "notify(queue desk)",
    ]
    assert r.effects[1] == sf.Effect("started", (("queue", "desk"),))
    assert r.instance.entered_at == T0 and r.instance.seen == ("go-bob-[]",)


def test_a_self_transition_re_enters_the_state() -> None:
    wf = small()
    b = step(wf, wf.start("i1", subject=ITEM, now=T0), ev("go")).instance
    later = T0 + timedelta(minutes=30)
    r = step(wf, b, ev("again"), now=later)
    assert r.instance.state == "b" and r.instance.data == {"n": 2}
    assert r.instance.entered_at == later  # timers restart from the re-entry
    assert wf.next_deadline(r.instance) == later + timedelta(hours=1)
    assert [str(e) for e in r.effects] == ["arrived(b)", "notify(queue desk)"]


@pytest.mark.parametrize(
    ("reason", "make"),
    [
        ("duplicate_event", lambda wf, b: (b, ev("again", id="go-bob-[]"))),
        ("unknown_event", lambda wf, b: (b, ev("gone"))),
        ("final_state", lambda wf, b: (step(wf, b, ev("end")).instance, ev("end", id="x"))),
        ("not_allowed_in_state", lambda wf, b: (b, ev("go", id="y"))),
        ("guard_failed", lambda wf, b: (b, ev("boom", x=0))),
        ("guard_error", lambda wf, b: (b, ev("boom"))),
    ],
)
def test_every_refusal_reason_changes_nothing(reason: str, make: Any) -> None:
    wf = small()
    b = step(wf, wf.start("i1", subject=ITEM, now=T0), ev("go")).instance
    inst, event = make(wf, b)
    r = step(wf, inst, event)
    assert (r.accepted, r.reason) == (False, reason)
    assert r.instance is inst and r.effects == ()
    assert isinstance(r.detail, str) and r.detail


def test_refusal_details_say_why() -> None:
    wf = small()
    b = step(wf, wf.start("i1", subject=ITEM, now=T0), ev("go")).instance
    assert "did you mean `again`" in (step(wf, b, ev("agian")).detail or "")
    assert "only in `a`" in (step(wf, b, ev("go", id="z")).detail or "")
    assert "event.x > 0" in (step(wf, b, ev("boom", x=-1)).detail or "")
    assert "no_such_key" in (step(wf, b, ev("boom")).detail or "")


def test_permission_denied_and_the_first_permitted_transition_wins() -> None:
    wf = small()
    b = started(wf)

    def only_approve(actor: str, permission: str, resource: str) -> bool:
        assert resource == "acct-uk"
        return permission == "approve"

    # bob may approve and is not the author: b -> c
    assert step(wf, b, ev("check"), access=only_approve).instance.state == "c"
    # ana (the author) only passes the second transition's guard, which needs `draft`
    denied = step(wf, b, ev("check", actor="ana"), access=only_approve)
    assert (denied.reason, denied.instance.state) == ("guard_failed", "b")
    nobody = step(wf, b, ev("check"), access=lambda *_: False)
    assert nobody.reason == "permission_denied"
    assert "`approve` or `draft`" in (nobody.detail or "")
    no_account = step(wf, b, ev("check"), access=only_approve, subject={"author": "ana"})
    assert no_account.reason == "permission_denied"
    assert "no `account`" in (no_account.detail or "")
    assert step(wf, b, ev("check", actor="ana"), access=sf.ALLOW_ALL).instance.state == "a"


def test_requires_without_access_is_a_usage_error() -> None:
    wf = small()
    inst = wf.start("i1", subject=ITEM, now=T0)
    with pytest.raises(sf.UsageError, match="access="):
        wf.step(inst, ev("go"), subject=ITEM, now=T0)
    plain = sf.loads("workflow p { state a initial  state b final  on go from a to b }").workflow(
        "p"
    )
    r = plain.step(plain.start("p1", subject={}, now=T0), ev("go"), subject={}, now=T0)
    assert r.accepted  # no `requires`: no access needed


def test_access_from_the_access_model() -> None:
    bundle = sf.load(EXAMPLES)
    access = bundle.access(
        nodes=[{"id": "hub", "kind": "hub"}, {"id": "acct-uk", "kind": "account", "parent": "hub"}],
        principals=[{"id": "ana"}, {"id": "pat"}],
        grants=[{"principal": "ana", "role": "contributor", "scope": "hub"}],
    )
    wf = bundle.workflow("content_approval")
    inst = wf.start("p", subject=ITEM, now=T0)
    assert wf.step(inst, ev("submit", "pat"), subject=ITEM, now=T0, access=access).reason == (
        "permission_denied"
    )
    # an actor the access model does not know holds nothing
    assert wf.step(inst, ev("submit", "zoe"), subject=ITEM, now=T0, access=access).reason == (
        "permission_denied"
    )
    assert wf.step(inst, ev("submit", "ana"), subject=ITEM, now=T0, access=access).accepted


def test_timers_fire_in_order_and_version_counts_them() -> None:
    wf = small()
    b = step(wf, wf.start("i1", subject=ITEM, now=T0), ev("go")).instance
    assert [t.at for t in b.timers] == [T0 + timedelta(hours=1), T0 + timedelta(hours=2)]
    assert wf.next_deadline(b) == T0 + timedelta(hours=1)
    r = wf.advance(b, T0 + timedelta(minutes=59), subject=ITEM)
    assert (r.accepted, r.reason, r.instance) == (False, "no_timer_due", b)
    r = wf.advance(b, T0 + timedelta(hours=1), subject=ITEM)
    assert r.accepted and [str(e) for e in r.effects] == ["remind(queue desk)"]
    assert r.instance.state == "b" and r.instance.version == 2
    # the 2h timer moves on to c; c's `at` timer errors (no data.due): it is not set
    # and the host is told; the escalation of `while c` starts at once, and its
    # first level, due at that very instant, fires in the same call
    r = wf.advance(r.instance, T0 + timedelta(hours=2), subject=ITEM)
    assert r.instance.state == "c" and r.instance.entered_at == T0 + timedelta(hours=2)
    assert [e.name for e in r.effects] == ["timer_error", "escalate"]
    assert r.instance.version == 4
    assert {t.source for t in r.instance.timers} == {"while c escalate nag"}
    assert wf.next_deadline(r.instance) == T0 + timedelta(hours=2, minutes=10)


def test_while_state_escalate_runs_the_policy_and_leaving_cancels_it() -> None:
    wf = small()
    b = started(wf)
    c = step(wf, b, ev("check")).instance
    assert c.state == "c"
    steps = [t for t in c.timers if t.source.startswith("while")]
    assert [t.at for t in c.timers if t.source.startswith("timeout")] == [DUE]
    assert [t.at - T0 for t in steps] == [
        timedelta(0),
        timedelta(minutes=10),
        timedelta(hours=1, minutes=10),
        timedelta(hours=1, minutes=20),
    ]
    r = wf.advance(c, T0 + timedelta(minutes=15), subject=ITEM)
    assert [e.args for e in r.effects] == [
        (("policy", "nag"), ("level", "1"), ("round", "1"), ("queue", "desk")),
        (("policy", "nag"), ("level", "2"), ("round", "1"), ("role", "lead")),
    ]
    left = step(wf, r.instance, ev("end"), now=T0 + timedelta(minutes=20)).instance
    assert left.state == "z" and left.timers == () and wf.next_deadline(left) is None


def test_at_timer_from_data() -> None:
    wf = small()
    c = step(wf, started(wf), ev("check")).instance
    assert DUE in [t.at for t in c.timers]
    r = wf.advance(c, DUE, subject=ITEM)
    assert r.instance.state == "z" and "expired()" in [str(e) for e in r.effects]
    # entering c by an event without `data.due` is refused: nothing could expire it
    b = step(wf, wf.start("i2", subject=ITEM, now=T0), ev("go")).instance
    r = step(wf, b, ev("check"))
    assert (r.reason, r.instance) == ("guard_error", b)
    assert "data.due" in (r.detail or "")


def test_an_at_timer_that_raises_refuses_the_step() -> None:
    wf = sf.loads(
        "workflow t { data when: timestamp  state a initial  state b  state z final "
        "on go from a to b  timeout b at data.when to z }"
    ).workflow("t")
    r = wf.step(wf.start("t1", subject={}, now=T0), ev("go"), subject={}, now=T0)
    assert (r.accepted, r.reason) == (False, "guard_error")
    assert "data.when" in (r.detail or "")
    with pytest.raises(sf.EvalError):
        sf.loads(
            "workflow s { data when: timestamp  state a initial  state z final "
            "timeout a at data.when to z }"
        ).workflow("s").start("s1", subject={}, now=T0)


def test_available_lists_every_event_in_declaration_order() -> None:
    wf = small()
    b = started(wf)
    got = wf.available(b, "bob", subject=ITEM, now=T0, access=sf.ALLOW_ALL)
    assert got == (
        ("go", False, "not_allowed_in_state"),
        ("again", True, None),
        ("check", True, None),
        ("boom", False, "guard_error"),
        ("end", True, None),
    )


def test_instances_round_trip_through_json_and_pickle() -> None:
    wf = small()
    inst = wf.start(
        "i1", subject=ITEM, now=T0, data={"due": T0, "d": timedelta(hours=1), "b": b"x"}
    )
    inst = step(wf, inst, ev("go")).instance
    text = sf.serde.dumps(inst)
    assert '"schema":"socialflow.instance/1"' in text
    back = sf.serde.loads(text, sf.Instance)
    assert back == inst
    assert pickle.loads(pickle.dumps(inst)) == inst
    result = step(wf, back, ev("again"))
    assert sf.serde.loads(sf.serde.dumps(result), sf.StepResult) == result


def test_bad_input_is_a_clear_error_and_changes_nothing() -> None:
    bundle = sf.loads(SMALL, "small.sf")
    with pytest.raises(sf.UsageError, match="did you mean `w`"):
        bundle.workflow("ww")
    wf = bundle.workflow("w")
    inst = wf.start("i1", subject=ITEM, now=T0)
    other = sf.loads("workflow v { state a initial  state b final  on go from a to b }").workflow(
        "v"
    )
    with pytest.raises(sf.UsageError, match="belongs to workflow `w`"):
        other.step(inst, ev("go"), subject={}, now=T0)
    with pytest.raises(sf.UsageError, match="timezone-aware"):
        step(wf, inst, ev("go"), now=datetime(2026, 11, 23))
    with pytest.raises(sf.InputError) as bad_subject:
        wf.step(inst, ev("go"), subject=["not", "a", "map"], now=T0, access=sf.ALLOW_ALL)  # type: ignore[arg-type]  # misuse on purpose
    assert bad_subject.value.path == "$.subject"
    with pytest.raises(sf.InputError) as bad_data:
        step(wf, inst, sf.Event("go", actor="a", id="x", data=[1]))  # type: ignore[arg-type]  # misuse on purpose
    assert bad_data.value.path == "$.event.data"
    with pytest.raises(sf.UsageError, match=r"sf\.Event"):
        step(wf, inst, "go")  # type: ignore[arg-type]  # misuse on purpose
    with pytest.raises(sf.InputError):
        wf.start("i2", subject=ITEM, now=T0, data=[1])  # type: ignore[arg-type]  # misuse on purpose
    assert inst == wf.start("i1", subject=ITEM, now=T0)


def test_a_workflow_is_compiled_once_per_bundle() -> None:
    bundle = sf.load(EXAMPLES)
    assert bundle.workflow("incident") is bundle.workflow("incident")
    assert bundle.workflow("incident", window=4) is not bundle.workflow("incident")


def test_the_window_bounds_the_remembered_ids() -> None:
    wf = sf.loads(SMALL, "small.sf").workflow("w", window=3)
    inst = step(wf, wf.start("i1", subject=ITEM, now=T0), ev("go", id="e0")).instance
    for k in range(1, 6):
        inst = step(wf, inst, ev("again", id=f"e{k}")).instance
    assert inst.seen == ("e3", "e4", "e5")
    assert step(wf, inst, ev("again", id="e5")).reason == "duplicate_event"
    assert step(wf, inst, ev("again", id="e1")).accepted  # forgotten: outside the window
