"""Workflow throughput: socialflow vs. transitions, python-statemachine and a plain table.

    python benchmarks/bench_workflow.py [--repeat 5] [--quick] [--profile]

Workload: ``../shared/bench/fsm_workload.py`` (``make_workload()``: the
content-approval machine, 1,000 items, 100,000 events ``(item, event,
actor)``; ~20 % invalid in the item's current state, ~5 % self-approvals the
guard ``actor != author`` must refuse).  Every engine runs the whole stream
once and must end with every item's state equal to ``expected_final`` and a
refused count equal to ``expected_refused``; an engine that disagrees is
reported WRONG and not timed.  ``--quick`` runs the first 5,000 events only,
checked against the plain table simulated over that prefix (the workload's
oracle covers the full stream only).

Throughput is events per second over the whole stream: the median of
``--repeat`` passes, the engines interleaved pass by pass so that machine
noise hits all of them alike.  Every pass starts from fresh instances, models
or machines, built *outside* the timed part; so are socialflow's ``sf.Event``
objects and subject dicts (one per item), except in the row that builds the
``sf.Event`` in the loop (its ids are precomputed strings: a host gets them
with the message).  Ratios are to transitions with one shared ``Machine`` and
to the plain ``(state, event) -> dest`` table, measured in the same run.

How each engine is driven (the fastest honest use of its public API):

- socialflow: the machine in the DSL, one ``Instance`` per item,
  ``wf.step(instance, event, subject=..., now=...)`` per event.
- transitions, one shared ``Machine(model=None)``: per-item model objects
  holding ``state`` and ``author``, ``machine.events[name].trigger(model,
  actor)``; ``Event.trigger`` only reads and writes ``model.state``, so the
  models need no ``add_model``.  The guard is the condition ``"not_author"``,
  a model method.  ``auto_transitions=False, ignore_invalid_triggers=True``
  (transitions still logs a warning per invalid trigger, to its default
  ``NullHandler``).
- transitions, one ``Machine(model=item)`` per item: ``item.trigger(name,
  actor)``.
- python-statemachine: one ``StateMachine`` per item over a model object,
  guard ``cond="not_author"``, ``sm.send(name, actor=actor)``; both kinds of
  refusal raise ``TransitionNotAllowed``, counted as refused.
- plain table: a dict ``(state, event) -> dest``, a pure step function with
  the guard inline.

Then: memory per live instance (tracemalloc, 10,000 instances after a few
accepted events each) and JSON bytes per stored socialflow instance.
``--profile`` prints the top of ``cProfile`` (by tottime) for one socialflow
pass over the stream.
"""

from __future__ import annotations

import argparse
import gc
import platform
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from triage_workload import shared_bench_dir  # ../shared/bench, or $SOCIALFLOW_BENCH_DIR

import socialflow as sf

NOW = datetime(2026, 11, 23, tzinfo=UTC)
Stream = Sequence[tuple[int, str, str]]
#: (final state per item, refused count)
Outcome = tuple[list[str], int]

WORKFLOW = """
workflow approval "Content approval (the shared fsm_workload machine)" {
  state draft initial
  state in_review, changes_requested, approved, scheduled, published, rejected
  state archived final

  on submit          from draft, changes_requested to in_review
  on request_changes from in_review to changes_requested
  on approve         from in_review to approved  when actor != subject.author
  on reject          from in_review to rejected
  on schedule        from approved to scheduled
  on publish         from approved, scheduled to published
  on archive         from published to archived
  on revise          from rejected to draft
}
"""

STATES = [
    "draft",
    "in_review",
    "changes_requested",
    "approved",
    "scheduled",
    "published",
    "archived",
    "rejected",
]
TABLE = {
    ("draft", "submit"): "in_review",
    ("changes_requested", "submit"): "in_review",
    ("in_review", "request_changes"): "changes_requested",
    ("in_review", "approve"): "approved",
    ("in_review", "reject"): "rejected",
    ("approved", "schedule"): "scheduled",
    ("approved", "publish"): "published",
    ("scheduled", "publish"): "published",
    ("published", "archive"): "archived",
    ("rejected", "revise"): "draft",
}


def workload_module() -> Any:
    path = str(shared_bench_dir())
    if path not in sys.path:
        sys.path.insert(0, path)
    import fsm_workload

    return fsm_workload


# -- engines: each is setup() -> state (untimed) and run(state) -> Outcome (timed) -------------
class Engine:
    def __init__(self, authors: Sequence[str], stream: Stream) -> None:
        self.authors = authors
        self.stream = stream

    def setup(self) -> Any:
        return None

    def run(self, state: Any) -> Outcome:
        raise NotImplementedError


def plain_step(state: str, event: str, actor: str, author: str) -> tuple[str, bool]:
    dest = TABLE.get((state, event))
    if dest is None or (event == "approve" and actor == author):
        return state, False
    return dest, True


class PlainTable(Engine):
    def setup(self) -> list[str]:
        return ["draft"] * len(self.authors)

    def run(self, states: list[str]) -> Outcome:
        authors = self.authors
        refused = 0
        for i, event, actor in self.stream:
            states[i], ok = plain_step(states[i], event, actor, authors[i])
            if not ok:
                refused += 1
        return states, refused


class Socialflow(Engine):
    def __init__(self, authors: Sequence[str], stream: Stream) -> None:
        super().__init__(authors, stream)
        self.wf = sf.loads(WORKFLOW, "bench.sf").workflow("approval")
        self.subjects = [{"author": a} for a in authors]
        self.items = [i for i, _, _ in stream]
        self.events = [
            sf.Event(name, actor=actor, id=f"e{k}") for k, (_, name, actor) in enumerate(stream)
        ]

    def setup(self) -> list[sf.Instance]:
        start = self.wf.start
        return [start(f"i{i}", subject=s, now=NOW) for i, s in enumerate(self.subjects)]

    def run(self, instances: list[sf.Instance]) -> Outcome:
        step = self.wf.step
        subjects = self.subjects
        refused = 0
        for i, event in zip(self.items, self.events, strict=True):
            r = step(instances[i], event, subject=subjects[i], now=NOW)
            instances[i] = r.instance
            if not r.accepted:
                refused += 1
        return [x.state for x in instances], refused


class SocialflowEventInLoop(Socialflow):
    def __init__(self, authors: Sequence[str], stream: Stream) -> None:
        super().__init__(authors, stream)
        self.rows = [(i, name, actor, f"e{k}") for k, (i, name, actor) in enumerate(stream)]

    def run(self, instances: list[sf.Instance]) -> Outcome:
        step = self.wf.step
        event_cls = sf.Event
        subjects = self.subjects
        refused = 0
        for i, name, actor, event_id in self.rows:
            r = step(
                instances[i],
                event_cls(name, actor=actor, id=event_id),
                subject=subjects[i],
                now=NOW,
            )
            instances[i] = r.instance
            if not r.accepted:
                refused += 1
        return [x.state for x in instances], refused


TRANSITIONS_SPEC: list[dict[str, Any]] = [
    {"trigger": "submit", "source": ["draft", "changes_requested"], "dest": "in_review"},
    {"trigger": "request_changes", "source": "in_review", "dest": "changes_requested"},
    {"trigger": "approve", "source": "in_review", "dest": "approved", "conditions": "not_author"},
    {"trigger": "reject", "source": "in_review", "dest": "rejected"},
    {"trigger": "schedule", "source": "approved", "dest": "scheduled"},
    {"trigger": "publish", "source": ["approved", "scheduled"], "dest": "published"},
    {"trigger": "archive", "source": "published", "dest": "archived"},
    {"trigger": "revise", "source": "rejected", "dest": "draft"},
]


class Item:
    """A transitions model: the item's state and author; the guard is a method."""

    def __init__(self, author: str, state: str = "draft") -> None:
        self.author = author
        self.state = state

    def not_author(self, actor: str) -> bool:
        return actor != self.author


def transitions_machine(model: Any) -> Any:
    from transitions import Machine

    return Machine(
        model=model,
        states=STATES,
        transitions=TRANSITIONS_SPEC,
        initial="draft",
        auto_transitions=False,
        ignore_invalid_triggers=True,
    )


class TransitionsShared(Engine):
    def __init__(self, authors: Sequence[str], stream: Stream) -> None:
        super().__init__(authors, stream)
        self.machine = transitions_machine(None)

    def setup(self) -> list[Item]:
        return [Item(a) for a in self.authors]

    def run(self, models: list[Item]) -> Outcome:
        events = self.machine.events
        refused = 0
        for i, name, actor in self.stream:
            if not events[name].trigger(models[i], actor):
                refused += 1
        return [m.state for m in models], refused


class TransitionsPerItem(Engine):
    def setup(self) -> list[tuple[Item, Any]]:
        out = []
        for a in self.authors:
            item = Item(a)
            out.append((item, transitions_machine(item)))  # keep the machine alive
        return out

    def run(self, pairs: list[tuple[Item, Any]]) -> Outcome:
        models = [item for item, _ in pairs]
        refused = 0
        for i, name, actor in self.stream:
            if not models[i].trigger(name, actor):  # type: ignore[attr-defined]  # added by Machine
                refused += 1
        return [m.state for m in models], refused


def statemachine_class() -> Any:
    from statemachine import State, StateMachine

    class Approval(StateMachine):
        draft = State(initial=True)
        in_review = State()
        changes_requested = State()
        approved = State()
        scheduled = State()
        published = State()
        archived = State(final=True)
        rejected = State()

        submit = draft.to(in_review) | changes_requested.to(in_review)
        request_changes = in_review.to(changes_requested)
        approve = in_review.to(approved, cond="not_author")
        reject = in_review.to(rejected)
        schedule = approved.to(scheduled)
        publish = approved.to(published) | scheduled.to(published)
        archive = published.to(archived)
        revise = rejected.to(draft)

        def not_author(self, actor: str) -> bool:
            return bool(actor != self.model.author)

    return Approval


class PythonStatemachine(Engine):
    def __init__(self, authors: Sequence[str], stream: Stream) -> None:
        super().__init__(authors, stream)
        from statemachine.exceptions import TransitionNotAllowed

        self.cls = statemachine_class()
        self.not_allowed = TransitionNotAllowed

    def setup(self) -> list[Any]:
        return [self.cls(model=Item(a, state=None)) for a in self.authors]  # type: ignore[arg-type]

    def run(self, machines: list[Any]) -> Outcome:
        not_allowed = self.not_allowed
        refused = 0
        for i, name, actor in self.stream:
            try:
                machines[i].send(name, actor=actor)
            except not_allowed:
                refused += 1
        return [m.model.state for m in machines], refused


ENGINES: dict[str, type[Engine]] = {
    "plain dict table + pure step()": PlainTable,
    "socialflow (wf.step, prebuilt sf.Event)": Socialflow,
    "socialflow (wf.step, sf.Event built in the loop)": SocialflowEventInLoop,
    "transitions, one shared Machine": TransitionsShared,
    "transitions, one Machine per item": TransitionsPerItem,
    "python-statemachine, one StateMachine per item": PythonStatemachine,
}
PLAIN = "plain dict table + pure step()"
SHARED = "transitions, one shared Machine"


def timed(engine: Engine) -> float:
    state = engine.setup()
    gc.collect()
    t = time.perf_counter()
    engine.run(state)
    return time.perf_counter() - t


def oracle_for(wl: Any, stream: Stream, full: bool) -> Outcome:
    if full:
        return list(wl.expected_final), wl.expected_refused
    return PlainTable(wl.authors, stream).run(["draft"] * len(wl.authors))


# -- memory and storage -----------------------------------------------------------------------
#: accepted events each live instance has seen: it ends in in_review, mid-lifecycle
LIFECYCLE = (("submit", "u1"), ("request_changes", "u2"), ("submit", "u1"))


def bytes_per(build: Callable[[int], Any], n: int) -> float:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    kept = [build(i) for i in range(n)]
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert len(kept) == n
    return (after - before) / n


def memory_rows(n: int) -> list[tuple[str, float]]:
    wf = sf.loads(WORKFLOW, "bench.sf").workflow("approval")
    subject = {"author": "u0"}

    def instance(
        i: int, data: dict[str, Any] | None = None, lifecycle: Sequence[tuple[str, str]] = LIFECYCLE
    ) -> sf.Instance:
        inst = wf.start(f"i{i}", subject=subject, now=NOW, data=data)
        for k, (name, actor) in enumerate(lifecycle):
            r = wf.step(
                inst, sf.Event(name, actor=actor, id=f"i{i}-e{k}"), subject=subject, now=NOW
            )
            assert r.accepted
            inst = r.instance
        assert len(inst.seen) == min(len(lifecycle), wf.window)
        return inst

    # a hot item: more accepted events than the duplicate window remembers
    saturated = (LIFECYCLE[0],) + LIFECYCLE[1:] * (wf.window // 2)

    shared = transitions_machine(None)

    def shared_model(i: int) -> Item:
        item = Item("u0")
        for name, actor in LIFECYCLE:
            assert shared.events[name].trigger(item, actor)
        return item

    def own_machine(i: int) -> tuple[Item, Any]:
        item = Item("u0")
        machine = transitions_machine(item)
        for name, actor in LIFECYCLE:
            assert item.trigger(name, actor)  # type: ignore[attr-defined]
        return item, machine

    cls = statemachine_class()
    heavy = max(n // 10, 10)  # a machine per object is slow to build under tracemalloc

    def psm(i: int) -> Any:
        m = cls(model=Item("u0", state=None))  # type: ignore[arg-type]
        for name, actor in LIFECYCLE:
            m.send(name, actor=actor)
        return m

    return [
        ("socialflow Instance (seen: 3 ids, data: empty, shared)", bytes_per(instance, n)),
        (
            'socialflow Instance (seen: 3 ids, data: {"campaign": "c<i>"} from start)',
            bytes_per(lambda i: instance(i, {"campaign": f"c{i}"}), n),
        ),
        (
            f"socialflow Instance (seen: full window of {wf.window} ids, data: empty)",
            bytes_per(lambda i: instance(i, lifecycle=saturated), n),
        ),
        ("transitions model object (shared Machine)", bytes_per(shared_model, n)),
        (
            f"transitions model object + its own Machine ({heavy:,} of them)",
            bytes_per(own_machine, heavy),
        ),
        (
            f"python-statemachine StateMachine + model object ({heavy:,} of them)",
            bytes_per(psm, heavy),
        ),
    ]


def profile(engine: Socialflow, top: int) -> None:
    import cProfile
    import pstats

    state = engine.setup()
    prof = cProfile.Profile()
    prof.runcall(engine.run, state)
    print(f"\n## cProfile, one socialflow pass over {len(engine.stream):,} events (tottime)\n")
    print("```")
    pstats.Stats(prof, stream=sys.stdout).strip_dirs().sort_stats("tottime").print_stats(top)
    print("```")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=5, help="timed passes per engine (median)")
    parser.add_argument("--quick", action="store_true", help="tiny run for CI smoke tests")
    parser.add_argument("--memory-n", type=int, default=10_000, help="live instances measured")
    parser.add_argument("--profile", action="store_true", help="cProfile one socialflow pass")
    args = parser.parse_args(argv)
    wl_mod = workload_module()
    wl = wl_mod.make_workload()
    stream: Stream = wl.events
    if args.quick:
        stream, args.repeat, args.memory_n = stream[:5000], 1, 1000
    full = len(stream) == len(wl.events)
    print(
        f"# Workflow benchmark: {platform.python_implementation()} {platform.python_version()}, "
        f"{platform.machine()}; fsm_workload.make_workload() (seed {wl_mod.SEED}), "
        f"{len(wl.authors):,} items, {len(stream):,} events"
        f"{'' if full else ' (prefix)'}; transitions {version('transitions')}, "
        f"python-statemachine {version('python-statemachine')}\n"
    )
    expected = oracle_for(wl, stream, full)
    engines: dict[str, Engine] = {}
    status: dict[str, str] = {}
    for name, cls in ENGINES.items():
        try:
            engine = cls(wl.authors, stream)
        except ImportError:
            status[name] = "not installed"
            continue
        finals, refused = engine.run(engine.setup())
        if (finals, refused) != expected:
            wrong = sum(a != b for a, b in zip(finals, expected[0], strict=True))
            print(f"WRONG: {name}: {wrong} final states differ, refused {refused} != {expected[1]}")
            status[name] = "WRONG"
            continue
        engines[name] = engine
    print(
        f"All engines checked: final states of all {len(wl.authors):,} items and "
        f"{expected[1]:,} refused events equal the "
        f"{'workload oracle' if full else 'plain table over the prefix'}.\n"
    )
    times: dict[str, list[float]] = {name: [] for name in engines}
    for _ in range(args.repeat):
        for name, engine in engines.items():
            times[name].append(timed(engine))
    rates: dict[str, float] = {n: len(stream) / statistics.median(t) for n, t in times.items()}
    spread = {n: (len(stream) / max(t), len(stream) / min(t)) for n, t in times.items()}
    print(f"Median of {args.repeat} passes; setup (instances, models, machines) is untimed.\n")
    print(
        "| engine | events/s | slowest-fastest pass, events/s | ratio to transitions (shared) "
        "| ratio to plain table |\n| --- | --- | --- | --- | --- |"
    )
    for name in ENGINES:
        if name not in rates:
            print(f"| {name} | {status[name]} | - | - | - |")
            continue
        rate = rates[name]
        lo, hi = spread[name]
        to_shared = f"{rate / rates[SHARED]:.3g}x" if SHARED in rates else "-"
        to_plain = f"{rate / rates[PLAIN]:.3g}x" if PLAIN in rates else "-"
        print(f"| {name} | {rate:,.0f} | {lo:,.0f} - {hi:,.0f} | {to_shared} | {to_plain} |")

    print(
        f"\nMemory per live object: {args.memory_n:,} of each built after the same "
        f"{len(LIFECYCLE)} accepted events (draft > in_review > changes_requested > in_review)"
        " unless the row says otherwise.\n"
    )
    print("| object | bytes each (tracemalloc) |\n| --- | --- |")
    for label, size in memory_rows(args.memory_n):
        print(f"| {label} | {size:,.0f} |")

    ours = Socialflow(wl.authors, stream)
    stored = ours.setup()
    ours.run(stored)
    sizes = [len(sf.serde.dumps(x).encode()) for x in stored]
    print(
        f"\nJSON per stored socialflow instance (sf.serde.dumps, the {len(stored):,} final "
        f"instances): median {statistics.median(sizes):,.0f} bytes "
        f"(min {min(sizes):,}, max {max(sizes):,})"
    )
    if args.profile:
        profile(ours, 12)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
