"""socialflow.interop.transitions: the exported ``transitions.Machine`` and
socialflow agree (on the shared FSM workload, on the example workflow), and
``from_transitions`` translates a configuration into a workflow that behaves
like the machine transitions builds from it."""

from __future__ import annotations

import copy
import logging
import sys
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from transitions import Machine

import socialflow as sf
from socialflow.interop.transitions import (
    TRIGGER_KEYWORDS,
    SocialflowMachine,
    advance,
    bind,
    from_transitions,
    start,
    to_machine,
)

ROOT = Path(__file__).resolve().parents[2]
BENCH = Path(__file__).resolve().parents[3] / "shared" / "bench"
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


class Item:
    """A host model: transitions adds the triggers and ``state``."""


# -- the shared workload -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def fsm() -> tuple[ModuleType, Any]:
    if not BENCH.is_dir():
        pytest.skip(f"the shared benchmark folder {BENCH} is missing (fsm_workload.py)")
    sys.path.insert(0, str(BENCH))
    try:
        import fsm_workload
    finally:
        sys.path.remove(str(BENCH))
    return fsm_workload, fsm_workload.make_workload()


def _workload_workflow(module: ModuleType) -> sf.Workflow:
    """The workload's machine written as a socialflow workflow."""
    guards = {"reviewer_not_author": "actor != subject.author"}
    lines = ["workflow fsm {", f"  state {module.INITIAL} initial"]
    for state in module.STATES:
        if state == "archived":  # no outgoing transition: the workload's terminal state
            lines.append(f"  state {state} final")
        elif state != module.INITIAL:
            lines.append(f"  state {state}")
    for event, source, dest, guard in module.TRANSITIONS:
        when = f" when {guards[guard]}" if guard is not None else ""
        lines.append(f"  on {event} from {source} to {dest}{when}")
    lines.append("}")
    return sf.loads("\n".join(lines)).workflow("fsm")


def _agree_on(
    module: ModuleType, workload: Any, n_events: int, caplog: pytest.LogCaptureFixture
) -> None:
    # transitions logs a warning for every trigger with no transition from the
    # current state (a fifth of the workload): keep them out of the capture
    caplog.set_level(logging.ERROR, logger="transitions")
    wf = _workload_workflow(module)
    subjects = [{"author": a} for a in workload.authors]
    events = workload.events[:n_events]

    instances = [wf.start(f"item{i}", subject=s, now=NOW) for i, s in enumerate(subjects)]
    sf_accepted: list[bool] = []
    for k, (i, name, actor) in enumerate(events):
        r = wf.step(
            instances[i], sf.Event(name, actor=actor, id=f"e{k}"), subject=subjects[i], now=NOW
        )
        sf_accepted.append(r.accepted)
        if r.accepted:
            instances[i] = r.instance

    machine = to_machine(wf)
    models = [Item() for _ in subjects]
    for i, (model, subject) in enumerate(zip(models, subjects, strict=True)):
        start(machine, model, f"item{i}", subject=subject, now=NOW)
    machine_accepted: list[bool] = []
    for k, (i, name, actor) in enumerate(events):
        trigger = getattr(models[i], name)
        machine_accepted.append(trigger(actor=actor, subject=subjects[i], now=NOW, id=f"e{k}"))

    assert machine_accepted == sf_accepted  # event by event
    for i, model in enumerate(models):
        assert model.state == instances[i].state, f"item {i}"
        assert model.sf_instance == instances[i], f"item {i}"
    refused_sf = sf_accepted.count(False)
    refused_machine = machine_accepted.count(False)
    assert refused_machine == refused_sf
    if n_events == len(workload.events):
        assert [m.state for m in models] == list(workload.expected_final)
        assert refused_sf == workload.expected_refused


def test_machine_and_socialflow_agree_on_the_whole_workload(
    fsm: tuple[ModuleType, Any], caplog: pytest.LogCaptureFixture
) -> None:
    module, workload = fsm
    assert len(workload.events) == 100_000
    _agree_on(module, workload, len(workload.events), caplog)


def test_machine_and_socialflow_agree_on_the_first_2000_events(
    fsm: tuple[ModuleType, Any], caplog: pytest.LogCaptureFixture
) -> None:
    module, workload = fsm
    _agree_on(module, workload, 2_000, caplog)


def test_the_machine_mirrors_the_workload_graph(fsm: tuple[ModuleType, Any]) -> None:
    module, _workload = fsm
    wf = _workload_workflow(module)
    machine = to_machine(wf)
    assert isinstance(machine, Machine)
    assert machine.event_cls.__name__ == "_SocialflowEvent"
    assert list(machine.states) == list(wf.states)
    assert machine.initial == wf.initial
    assert {s for s, st_ in machine.states.items() if st_.final} == {"archived"}
    edges = [
        (t.source, name, t.dest)
        for name, event in machine.events.items()
        for ts in event.transitions.values()
        for t in ts
    ]
    assert sorted(edges) == sorted((s, e, d) for e, s, d, _g in module.TRANSITIONS)
    assert set(machine.get_triggers("in_review")) == {"request_changes", "approve", "reject"}


# -- the example workflow ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def content_approval() -> sf.Workflow:
    return sf.load(ROOT / "examples" / "workflows").workflow("content_approval")


def test_content_approval_exported_with_allow_all(content_approval: sf.Workflow) -> None:
    wf = content_approval
    subject = {"id": "post-1", "account": "acct-uk", "author": "ana", "needs_legal": True}
    at = [NOW + timedelta(minutes=m) for m in range(12)]
    steps: list[tuple[str, str, dict[str, Any] | None]] = [
        ("submit", "ana", None),
        ("legal_approve", "ana", None),  # guard_failed: the author
        ("legal_approve", "lee", None),
        ("approve", "lee", None),  # guard_failed: the legal approver
        ("publish", "hana", None),  # not_allowed_in_state
        ("approve", "hana", None),
        ("schedule", "hana", {"publish_at": "2026-11-23T08:00:00Z"}),  # guard_failed: past
        ("schedule", "hana", {"publish_at": "not a time"}),  # guard_error
        ("schedule", "hana", {"publish_at": "2026-11-24T08:00:00Z"}),
        ("unknown", "hana", None),  # unknown_event: not a trigger either
    ]
    machine = to_machine(wf, access=sf.ALLOW_ALL)
    model = Item()
    instance = wf.start("post-1", subject=subject, now=NOW)
    assert start(machine, model, "post-1", subject=subject, now=NOW) == instance
    assert model.state == "draft" and model.sf_result is None
    for k, (name, actor, data) in enumerate(steps):
        event = sf.Event(name, actor=actor, id=f"e{k}", data=data)
        expected = wf.step(instance, event, subject=subject, now=at[k], access=sf.ALLOW_ALL)
        moved = model.trigger(name, actor=actor, subject=subject, now=at[k], id=f"e{k}", data=data)
        if name == "unknown":  # transitions knows no such trigger: nothing is asked
            assert moved is False and expected.reason == "unknown_event"
            continue
        assert moved is expected.accepted
        assert model.sf_result == expected
        instance = expected.instance
        assert model.state == instance.state == model.sf_instance.state
    assert model.state == "scheduled"

    # a repeated id is refused by socialflow, so the machine stays
    assert not model.unschedule(actor="hana", subject=subject, now=at[10], id="e0")
    assert model.sf_result.reason == "duplicate_event" and model.state == "scheduled"

    # timers are socialflow's: advance() fires them and moves the machine
    due = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    expected = wf.advance(instance, due, subject=subject)
    assert advance(model, due, subject=subject) == expected
    assert model.state == "published" == model.sf_instance.state
    assert model.sf_result.effects == expected.effects

    assert model.archive(actor="pat", subject=subject, now=due, id="e20")
    assert model.state == "archived"
    assert not model.revise(actor="ana", subject=subject, now=due, id="e21")
    assert model.sf_result.reason == "final_state"


def test_may_asks_socialflow_without_changing_anything(content_approval: sf.Workflow) -> None:
    subject = {"account": "acct-fr", "author": "ana"}
    model = Item()
    machine = to_machine(content_approval, access=sf.ALLOW_ALL)
    start(machine, model, "post-2", subject=subject, now=NOW)
    assert model.submit(actor="ana", subject=subject, now=NOW, id="e1")
    assert model.state == "hub_review"
    kwargs: dict[str, Any] = {"subject": subject, "now": NOW, "id": "e2"}
    assert not model.may_approve(actor="ana", **kwargs)  # the author
    assert model.may_approve(actor="hana", **kwargs)
    assert not model.may_approve(actor="hana", subject=subject, now=NOW, id="e1")  # duplicate
    assert model.state == "hub_review" and model.sf_instance.version == 1
    assert model.sf_result.accepted  # still the submit's result


def test_access_decides_through_the_machine(content_approval: sf.Workflow) -> None:
    subject = {"account": "acct-fr", "author": "ana"}

    def only_ana(actor: str, permission: str, resource: str) -> bool:
        return actor == "ana" and resource == "acct-fr"

    machine = to_machine(content_approval, access=only_ana)
    model = Item()
    instance = content_approval.start("post-3", subject=subject, now=NOW)
    bind(machine, model, instance)
    assert not model.submit(actor="hana", subject=subject, now=NOW, id="e1")
    assert model.sf_result.reason == "permission_denied" and model.state == "draft"
    assert model.submit(actor="ana", subject=subject, now=NOW, id="e2")
    assert model.state == "hub_review"
    # a second model on the same machine is independent
    other = Item()
    machine2 = to_machine(content_approval, access=only_ana, model=_carrying(instance))
    assert machine2.models[0].state == "draft"
    bind(machine, other, instance)
    assert other.state == "draft" and model.state == "hub_review"
    # rebinding a bound model moves it to the instance's state
    bind(machine, model, instance)
    assert model.state == "draft" and model.sf_result is None


def _carrying(instance: sf.Instance) -> Item:
    model = Item()
    model.sf_instance = instance  # type: ignore[attr-defined]
    return model


def test_export_usage_errors(content_approval: sf.Workflow) -> None:
    with pytest.raises(sf.UsageError, match="has `requires`"):
        to_machine(content_approval)
    with pytest.raises(sf.UsageError, match=r"sf\.Workflow"):
        to_machine("content_approval")  # type: ignore[arg-type]
    with pytest.raises(sf.UsageError, match="must carry `sf_instance`"):
        to_machine(content_approval, access=sf.ALLOW_ALL, model=Item())
    machine = to_machine(content_approval, access=sf.ALLOW_ALL)
    subject = {"account": "acct-fr", "author": "ana"}
    model = Item()
    with pytest.raises(sf.UsageError, match="not bound"):
        advance(model, NOW, subject=subject)
    start(machine, model, "post-4", subject=subject, now=NOW)
    with pytest.raises(sf.UsageError, match="keywords only"):
        model.submit("ana")
    with pytest.raises(sf.UsageError, match="needs now=, id="):
        model.submit(actor="ana", subject=subject)
    with pytest.raises(sf.UsageError, match="not who"):
        model.submit(actor="ana", subject=subject, now=NOW, id="e1", who="x")
    with pytest.raises(sf.UsageError, match="must be strings"):
        model.submit(actor="ana", subject=subject, now=NOW, id=1)
    with pytest.raises(sf.UsageError, match="timezone-aware"):
        model.submit(actor="ana", subject=subject, now=datetime(2026, 1, 1), id="e1")
    assert model.state == "draft" and model.sf_result is None
    other = sf.loads("workflow w { state a initial }").workflow("w")
    with pytest.raises(sf.UsageError, match="of workflow `content_approval`"):
        bind(machine, Item(), other.start("x", subject={}, now=NOW))
    with pytest.raises(sf.UsageError, match="to_machine"):
        start(Machine(), Item(), "x", subject={}, now=NOW)  # type: ignore[arg-type]
    # moving the model behind socialflow's back is caught on the next trigger
    machine.set_state("approved", model)
    with pytest.raises(sf.UsageError, match="state `approved` but its socialflow instance"):
        model.publish(actor="ana", subject=subject, now=NOW, id="e1")
    assert set(TRIGGER_KEYWORDS) == {"actor", "subject", "now", "id", "data"}


def test_an_event_only_from_final_states_is_still_a_trigger() -> None:
    wf = sf.loads(
        "workflow w { state a initial\n state b final\n on go from a to b\n on back from b to a }"
    ).workflow("w")
    machine = to_machine(wf)
    assert isinstance(machine, SocialflowMachine)
    model = Item()
    start(machine, model, "i", subject={}, now=NOW)
    assert model.go(actor="x", subject={}, now=NOW, id="1")
    assert not model.back(actor="x", subject={}, now=NOW, id="2")
    assert model.sf_result.reason == "final_state" and model.state == "b"


# -- from_transitions ----------------------------------------------------------------------


def test_from_transitions_text() -> None:
    config = {
        "states": ["draft", "review", {"name": "done", "final": True}],
        "initial": "draft",
        "transitions": [
            {"trigger": "submit", "source": "draft", "dest": "review"},
            {
                "trigger": "approve",
                "source": ["review"],
                "dest": "done",
                "conditions": "is_valid",
                "unless": ["is_blocked"],
            },
            ["touch", ["draft", "review"], "="],
        ],
    }
    text = from_transitions(config, name="flow")
    assert text == (
        "workflow flow {\n"
        "  state draft initial\n"
        "  state review\n"
        "  state done final\n"
        "  on submit from draft to review\n"
        "  on approve from review to done when has(subject.is_valid) && subject.is_valid == true"
        " && (!has(subject.is_blocked) || subject.is_blocked != true)\n"
        "  on touch from draft to draft\n"
        "  on touch from review to review\n"
        "}\n"
    )
    wf = sf.loads(text).workflow("flow")
    assert wf.finals == frozenset({"done"}) and wf.initial == "draft"


def test_from_transitions_adds_the_initial_state_as_transitions_does() -> None:
    text = from_transitions({"states": ["a"], "transitions": [["go", "a", "initial"]]}, name="w")
    machine = Machine(states=["a"], transitions=[["go", "a", "initial"]], auto_transitions=False)
    wf = sf.loads(text).workflow("w")
    assert wf.initial == machine.initial == "initial"
    assert list(wf.states) == list(machine.states) == ["a", "initial"]


TRIGGERS = ("go", "back", "poke")
CONDITIONS = ("p", "q")


@st.composite
def configs(draw: st.DrawFn) -> dict[str, Any]:
    names = [f"s{i}" for i in range(draw(st.integers(2, 5)))]
    initial = draw(st.sampled_from(names))
    finals = draw(st.sets(st.sampled_from([s for s in names if s != initial]), max_size=2))
    open_ = [s for s in names if s not in finals]
    states: list[Any] = []
    for s in names:
        if s == initial and draw(st.integers(0, 5)) == 0:
            continue  # transitions adds the initial state when it is not listed
        states.append(
            {"name": s, "final": True} if s in finals else draw(st.sampled_from([s, {"name": s}]))
        )
    transitions: list[Any] = []
    for _ in range(draw(st.integers(0, 8))):
        if not finals and draw(st.integers(0, 4)) == 0:
            source: Any = "*"
        else:
            listed = draw(st.lists(st.sampled_from(open_), min_size=1, max_size=3, unique=True))
            source = listed[0] if len(listed) == 1 and draw(st.booleans()) else listed
        spec: dict[str, Any] = {
            "trigger": draw(st.sampled_from(TRIGGERS)),
            "source": source,
            "dest": draw(st.sampled_from([*names, "="])),
        }
        for key in ("conditions", "unless"):
            chosen = draw(st.lists(st.sampled_from(CONDITIONS), max_size=2, unique=True))
            if len(chosen) == 1 and draw(st.booleans()):
                spec[key] = chosen[0]
            elif chosen:
                spec[key] = chosen
        if draw(st.integers(0, 3)) == 0:  # transitions' positional form
            transitions.append(
                [spec[k] for k in ("trigger", "source", "dest")]
                + [spec.get("conditions"), spec.get("unless")]
            )
        else:
            transitions.append(spec)
    return {"states": states, "initial": initial, "transitions": transitions}


def _with_callables(config: Mapping[str, Any]) -> dict[str, Any]:
    """The configuration with every condition name a callable reading the subject."""

    def predicate(name: str) -> Any:
        return lambda event: event.kwargs["subject"].get(name) is True

    def convert(names: Any) -> Any:
        if names is None:
            return None
        return [predicate(n) for n in ([names] if isinstance(names, str) else names)]

    out = copy.deepcopy(dict(config))
    converted: list[Any] = []
    for t in out["transitions"]:
        if isinstance(t, list):
            converted.append([*t[:3], convert(t[3]), convert(t[4])])
        else:
            converted.append(
                {k: convert(v) if k in ("conditions", "unless") else v for k, v in t.items()}
            )
    out["transitions"] = converted
    return out


subjects = st.fixed_dictionaries(
    {}, optional={c: st.sampled_from([True, False, 1, None, "true"]) for c in CONDITIONS}
)


@settings(max_examples=100, deadline=None)
@given(
    config=configs(),
    events=st.lists(st.tuples(st.sampled_from((*TRIGGERS, "nope")), subjects), max_size=20),
)
def test_from_transitions_behaves_like_the_transitions_machine(
    config: dict[str, Any], events: list[tuple[str, dict[str, Any]]]
) -> None:
    wf = sf.loads(from_transitions(config, name="w")).workflow("w")
    model = Item()
    Machine(
        model=model,
        auto_transitions=False,
        ignore_invalid_triggers=True,
        send_event=True,
        **_with_callables(config),
    )
    instance = wf.start("i", subject={}, now=NOW)
    assert model.state == instance.state
    for k, (name, subject) in enumerate(events):
        moved = model.trigger(name, subject=subject)
        result = wf.step(instance, sf.Event(name, actor="x", id=str(k)), subject=subject, now=NOW)
        assert moved is result.accepted, (name, subject, result.reason)
        instance = result.instance
        assert model.state == instance.state


@pytest.mark.parametrize(
    ("config", "message"),
    [
        pytest.param(
            {"states": ["a", "b"], "initial": "a",
             "transitions": [{"trigger": "go", "source": "a", "dest": "b", "conditions": [len]}]},
            "is a callable",
            id="callable-condition",
        ),
        pytest.param(
            {"states": ["a", "b"], "initial": "a",
             "transitions": [{"trigger": "go", "source": "a", "dest": "b", "unless": len}]},
            "is a callable",
            id="callable-unless",
        ),
        pytest.param(
            {"states": ["a"], "initial": "a",
             "transitions": [{"trigger": "go", "source": "a", "dest": None}]},
            "internal transition",
            id="internal-transition",
        ),
        pytest.param(
            {"states": ["a"], "initial": "a", "transitions": [["go", "a", None]]},
            "internal transition",
            id="internal-transition-list",
        ),
        pytest.param(
            {"states": ["a", {"name": "b", "final": True}], "initial": "a",
             "transitions": [["go", "b", "a"]]},
            "source `b` is final",
            id="from-final",
        ),
        pytest.param(
            {"states": ["a", {"name": "b", "final": True}], "initial": "a",
             "transitions": [["reset", "*", "a"]]},
            'source "\\*" includes the final',
            id="star-with-final",
        ),
        pytest.param(
            {"states": [{"name": "a", "final": True}], "initial": "a"},
            "initial state `a` is final",
            id="initial-final",
        ),
        pytest.param(
            {"states": ["a", "b"], "initial": "a",
             "transitions": [{"trigger": "go", "source": "a", "dest": "b", "after": "log"}]},
            "`after` callbacks are host code",
            id="transition-callback",
        ),
        pytest.param(
            {"states": [{"name": "a", "on_enter": "log"}], "initial": "a"},
            "on_enter cannot be translated",
            id="state-callback",
        ),
        pytest.param(
            {"states": ["a"], "initial": "a", "after_state_change": "log"},
            "`after_state_change` has no socialflow form",
            id="machine-callback",
        ),
        pytest.param(
            {"states": ["a"], "initial": "a", "auto_transitions": True},
            "`auto_transitions` has no socialflow form",
            id="auto-transitions",
        ),
        pytest.param({"states": ["a"], "initial": "a", "colour": 1}, "`colour` is not", id="key"),
        pytest.param({"states": ["a b"], "initial": "a b"}, "not an identifier", id="state-name"),
        pytest.param(
            {"states": ["a", "b"], "initial": "a",
             "transitions": [["go", "a", "b", "obj.method"]]},
            "condition `obj.method` is not an identifier",
            id="dotted-condition",
        ),
        pytest.param({"states": ["a", "a"], "initial": "a"}, "listed twice", id="twice"),
        pytest.param({"states": [1], "initial": "a"}, "not int", id="state-type"),
        pytest.param(
            {"states": ["a"], "initial": "a", "transitions": [["go", "a", "zz"]]},
            "`dest` `zz` is not a state",
            id="unknown-dest",
        ),
        pytest.param(
            {"states": ["a"], "initial": "a", "transitions": [["go", "zz", "a"]]},
            "source 'zz' is not a state",
            id="unknown-source",
        ),
        pytest.param({"states": ["a"], "initial": None}, "`initial` must be", id="no-initial"),
        pytest.param("states: a", "configuration dict", id="not-a-dict"),
    ],
)  # fmt: skip
def test_from_transitions_refuses_what_does_not_translate(config: Any, message: str) -> None:
    with pytest.raises(sf.UsageError, match=message):
        from_transitions(config, name="w")


def test_from_transitions_needs_an_identifier_name() -> None:
    with pytest.raises(sf.UsageError, match="`name` must be an identifier"):
        from_transitions({"states": ["a"], "initial": "a"}, name="my flow")


def test_from_transitions_reports_a_translation_that_does_not_check() -> None:
    # 3,000 conditions make one guard longer than the DSL's expression limit
    many = [f"c{i}" for i in range(3000)]
    config = {"states": ["a", "b"], "initial": "a", "transitions": [["go", "a", "b", many]]}
    with pytest.raises(sf.UsageError, match="does not check") as caught:
        from_transitions(config, name="w")
    assert isinstance(caught.value.__cause__, sf.SourceError)
