"""Workflows as ``transitions`` machines, and ``transitions`` configurations as
workflows.

**Export.** :func:`to_machine` gives a real :class:`transitions.Machine` whose
graph mirrors the workflow: its states (final states flagged ``final``), its
initial state, and one transition per (source, ``on`` line) in declaration
order, so the first transition that passes wins, as in socialflow.  The
machine does not decide anything itself: socialflow does.  A trigger is called
with keywords only::

    model.submit(actor="ana", subject={...}, now=aware_datetime, id="e-1", data=None)

``actor`` (str), ``subject`` (a mapping), ``now`` (a timezone-aware datetime)
and ``id`` (str, unique per event) are required; ``data`` (a mapping, CEL's
``event``) is optional.  The trigger first runs :meth:`Workflow.step
<socialflow.workflow.engine.Workflow.step>` once on the model's instance
(``model.sf_instance``) with the machine's ``access``, and stores the
:class:`~socialflow.workflow.model.StepResult` as ``model.sf_result`` (its
``effects`` are the host's to carry out; ``reason`` says why a refused event
was refused).  Then transitions processes the event as usual; the condition of
each exported transition passes when socialflow accepted the event *and* moved
to that transition's target, so the machine takes a transition exactly when
socialflow accepted, and lands in the state socialflow reached.  Permissions
(``requires``), guards, duplicate ids and final states are therefore decided
with the very semantics of ``Workflow.step``.  ``may_<event>(...)`` (same
keywords) asks socialflow without changing anything.

Bind models with :func:`start` (a new instance) or :func:`bind` (an instance the
host stored); timers are socialflow's: :func:`advance` fires those due and
moves the model to the state they reach (no transitions callbacks run for
them).  The trigger returns ``True`` when the event was accepted.

transitions logs a warning for every trigger that has no transition from the
current state (socialflow's ``not_allowed_in_state``, ``final_state``); hosts
that find it noisy set ``logging.getLogger("transitions").setLevel(logging.ERROR)``.

**Import.** :func:`from_transitions` turns a transitions configuration dict into
workflow DSL text; see its docstring for what translates and what does not.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from transitions import Machine
from transitions.core import Event as MachineEvent
from transitions.core import EventData

from socialflow.bundle import loads
from socialflow.dsl.program import CheckedTransition
from socialflow.errors import SourceError, UsageError
from socialflow.workflow.engine import Workflow
from socialflow.workflow.model import Event, Instance, StepResult

__all__ = ["SocialflowMachine", "advance", "bind", "from_transitions", "start", "to_machine"]

#: The keywords a trigger takes, and those it requires.
TRIGGER_KEYWORDS: Final = ("actor", "subject", "now", "id", "data")
_REQUIRED: Final = ("actor", "subject", "now", "id")


# -- export ---------------------------------------------------------------------------------


class _SocialflowEvent(MachineEvent):
    """A transitions event that asks socialflow before transitions processes it."""

    def trigger(self, model: object, *args: Any, **kwargs: Any) -> bool:
        machine = self.machine
        assert isinstance(machine, SocialflowMachine)  # INVARIANT: only its event_cls
        result = machine.decide(model, self.name, args, kwargs)
        model.sf_result = result  # type: ignore[attr-defined]  # the host's model object
        key = id(model)
        previous = machine.pending.get(key)
        machine.pending[key] = result
        try:
            moved = super().trigger(model, *args, **kwargs)
        finally:
            if previous is None:
                del machine.pending[key]
            else:
                machine.pending[key] = previous
        state = getattr(model, machine.model_attribute)
        if moved != result.accepted or (moved and state != result.instance.state):
            raise UsageError(
                f"the machine and workflow `{machine.workflow.name}` disagree on `{self.name}` "
                "(were transitions added to the machine after to_machine?)"
            )
        if result.accepted:
            model.sf_instance = result.instance  # type: ignore[attr-defined]  # the host's model
        return bool(moved)


class _Accepts:
    """The condition of one exported transition: socialflow accepted the event
    and moved to this transition's target."""

    __slots__ = ("machine", "name", "target")

    def __init__(self, machine: SocialflowMachine, transition: CheckedTransition) -> None:
        self.machine = machine
        self.target = transition.target
        parts = []
        if transition.requires is not None:
            parts.append(f"requires {transition.requires}")
        if transition.guard is not None:
            parts.append(f"when {transition.guard.text}")
        self.name = f"socialflow({'; '.join(parts)})"

    def __call__(self, event_data: EventData) -> bool:
        result = self.machine.result_for(event_data)
        return result.accepted and result.instance.state == self.target

    def __repr__(self) -> str:
        return self.name


class SocialflowMachine(Machine):
    """A :class:`transitions.Machine` mirroring one workflow, whose conditions
    delegate to it (build it with :func:`to_machine`).

    ``workflow`` and ``access`` are what every trigger steps with.
    """

    event_cls = _SocialflowEvent

    def __init__(self, workflow: Workflow, access: Any) -> None:
        self.workflow = workflow
        self.access = access
        #: id(model) -> the result of the trigger being processed for that model
        self.pending: dict[int, StepResult] = {}
        super().__init__(
            model=None,
            states=[{"name": s, "final": s in workflow.finals} for s in workflow.states],
            initial=workflow.initial,
            auto_transitions=False,
            ignore_invalid_triggers=True,
            send_event=True,
        )
        # every event is a trigger, even one that only leaves final states (so the
        # host still gets socialflow's refusal in `sf_result`)
        for name in workflow.events:
            self.events[name] = self.event_cls(name, self)
        for t in workflow.checked.transitions:
            for source in t.sources:
                if source in workflow.finals:  # socialflow never leaves a final state
                    continue
                self.add_transition(t.event, source, t.target, conditions=[_Accepts(self, t)])

    def decide(
        self, model: object, name: str, args: Sequence[Any], kwargs: Mapping[str, Any]
    ) -> StepResult:
        """What ``Workflow.step`` decides for the event ``name`` called on ``model``
        with ``kwargs`` (nothing changes)."""
        if args:
            raise UsageError(
                f"call `{name}` with keywords only: {', '.join(f'{k}=' for k in TRIGGER_KEYWORDS)}"
            )
        unknown = sorted(set(kwargs) - set(TRIGGER_KEYWORDS))
        if unknown:
            raise UsageError(
                f"`{name}` takes {', '.join(TRIGGER_KEYWORDS)}, not {', '.join(unknown)}"
            )
        missing = [k for k in _REQUIRED if k not in kwargs]
        if missing:
            raise UsageError(f"`{name}` needs {', '.join(f'{k}=' for k in missing)}")
        actor, event_id = kwargs["actor"], kwargs["id"]
        if not isinstance(actor, str) or not isinstance(event_id, str):
            raise UsageError(f"`{name}`: `actor` and `id` must be strings")
        instance = _instance_of(model, self)
        state = getattr(model, self.model_attribute)
        if state != instance.state:
            raise UsageError(
                f"the model is in state `{state}` but its socialflow instance in "
                f"`{instance.state}`: move models only through triggers and advance()"
            )
        event = Event(name, actor=actor, id=event_id, data=kwargs.get("data"))
        return self.workflow.step(
            instance, event, subject=kwargs["subject"], now=kwargs["now"], access=self.access
        )

    def result_for(self, event_data: EventData) -> StepResult:
        """Socialflow's decision for the event being processed: the trigger's, or
        (for ``may_<event>``) one made now, once per check."""
        pending = self.pending.get(id(event_data.model))
        if pending is not None:
            return pending
        cached: StepResult | None = getattr(event_data, "sf_result", None)
        if cached is None:
            assert event_data.event is not None  # INVARIANT: transitions always sets it
            cached = self.decide(
                event_data.model, event_data.event.name, tuple(event_data.args), event_data.kwargs
            )
            event_data.sf_result = cached  # type: ignore[attr-defined]  # per-check memo
        return cached


def to_machine(
    workflow: Workflow, *, access: Any = None, model: object | None = None
) -> SocialflowMachine:
    """A configured :class:`transitions.Machine` for ``workflow`` (see the module
    docstring for how it delegates to socialflow).

    Args:
        workflow: ``bundle.workflow(name)``.
        access: what ``Workflow.step`` checks ``requires`` with (an ``sf.Access``,
            ``sf.ALLOW_ALL`` or a callable); required when the workflow has
            ``requires``.
        model: a model to bind at once; it must carry ``sf_instance`` (an
            instance of ``workflow``).  Bind more with :func:`start` or :func:`bind`.

    Raises:
        UsageError: ``workflow`` is not a Workflow, ``access`` is missing, or
            ``model`` carries no instance of the workflow.
    """
    if not isinstance(workflow, Workflow):
        raise UsageError("`workflow` must be an sf.Workflow (bundle.workflow(name))")
    if workflow.requires_access and access is None:
        raise UsageError(
            f"workflow `{workflow.name}` has `requires`: pass access= (an sf.Access, "
            "sf.ALLOW_ALL or a callable)"
        )
    machine = SocialflowMachine(workflow, access)
    if model is not None:
        instance = getattr(model, "sf_instance", None)
        if not isinstance(instance, Instance):
            raise UsageError(
                "a model given to to_machine must carry `sf_instance` (from workflow.start); "
                "or call start(machine, model, ...)"
            )
        bind(machine, model, instance)
    return machine


def bind(machine: SocialflowMachine, model: object, instance: Instance) -> None:
    """Put ``model`` on ``machine`` in ``instance``'s state: ``model.sf_instance``
    is ``instance``, ``model.sf_result`` is ``None`` until the first trigger."""
    if not isinstance(machine, SocialflowMachine):
        raise UsageError("`machine` must come from to_machine()")
    workflow = machine.workflow
    if not isinstance(instance, Instance) or instance.workflow != workflow.name:  # type: ignore[redundant-expr]  # hosts pass anything
        raise UsageError(f"`instance` must be an sf.Instance of workflow `{workflow.name}`")
    if instance.state not in workflow.states:
        raise UsageError(f"workflow `{workflow.name}` has no state `{instance.state}`")
    model.sf_instance = instance  # type: ignore[attr-defined]  # the host's model object
    model.sf_result = None  # type: ignore[attr-defined]  # the host's model object
    model.sf_machine = machine  # type: ignore[attr-defined]  # the host's model object
    if model in machine.models:
        machine.set_state(instance.state, model)
    else:
        machine.add_model(model, initial=instance.state)


def start(
    machine: SocialflowMachine,
    model: object,
    id: str,
    *,
    subject: Mapping[str, Any],
    now: datetime,
    data: Mapping[str, Any] | None = None,
) -> Instance:
    """Start a new instance (``Workflow.start``) and bind ``model`` to it."""
    if not isinstance(machine, SocialflowMachine):
        raise UsageError("`machine` must come from to_machine()")
    instance = machine.workflow.start(id, subject=subject, now=now, data=data)
    bind(machine, model, instance)
    return instance


def advance(model: object, now: datetime, *, subject: Mapping[str, Any]) -> StepResult:
    """Fire the model's timers due at ``now`` (``Workflow.advance``), store the
    result as ``model.sf_result`` and move the machine to the state reached."""
    machine = getattr(model, "sf_machine", None)
    if not isinstance(machine, SocialflowMachine):
        raise UsageError("the model is not bound: call start() or bind() first")
    instance = _instance_of(model, machine)
    result = machine.workflow.advance(instance, now, subject=subject)
    model.sf_result = result  # type: ignore[attr-defined]  # the host's model object
    if result.accepted:
        model.sf_instance = result.instance  # type: ignore[attr-defined]  # the host's model
        machine.set_state(result.instance.state, model)
    return result


def _instance_of(model: object, machine: SocialflowMachine) -> Instance:
    instance = getattr(model, "sf_instance", None)
    if not isinstance(instance, Instance) or model not in machine.models:
        raise UsageError("the model is not bound to this machine: call start() or bind() first")
    return instance


# -- import ---------------------------------------------------------------------------------

_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
#: Machine options that change nothing in the graph.
_HOST_OPTIONS: Final = frozenset(
    {
        "name",
        "model",
        "send_event",
        "queued",
        "ignore_invalid_triggers",
        "model_attribute",
        "model_override",
    }
)
#: Options that would add callbacks or transitions socialflow has no form for.
_UNTRANSLATED: Final = (
    "before_state_change",
    "after_state_change",
    "prepare_event",
    "finalize_event",
    "on_exception",
    "on_final",
    "auto_transitions",
    "ordered_transitions",
)
_TRANSITION_FIELDS: Final = (
    "trigger",
    "source",
    "dest",
    "conditions",
    "unless",
    "before",
    "after",
    "prepare",
)
_STATE_KEYS: Final = frozenset({"name", "final", "ignore_invalid_triggers"})


def from_transitions(config: Mapping[str, Any], *, name: str) -> str:
    """Workflow DSL text (``workflow NAME { ... }``) for a transitions
    configuration, which ``sf.loads`` accepts (this function checks it does).

    What translates:

    * ``states``: names, or dicts with ``name`` and optionally ``final: True``
      (``state X final``).  ``initial`` (transitions' default: a state named
      ``initial``) becomes ``state X initial``; transitions adds it when it is
      not listed, and so does this.
    * ``transitions``: dicts (or transitions' positional lists) with
      ``trigger``, ``source`` (a name, a list, or ``"*"``: every state),
      ``dest`` (a name, or ``"="``: the source itself), ``conditions`` and
      ``unless`` (a name or a list of names).  Each becomes
      ``on TRIGGER from SOURCES to DEST [when GUARD]``, in order, so the first
      transition that passes wins in both.
    * Conditions name predicates of the host's model; socialflow reads them from
      the subject instead.  A condition ``c`` becomes ``has(subject.c) &&
      subject.c == true`` and an ``unless`` ``c`` becomes ``(!has(subject.c) ||
      subject.c != true)``, all joined with ``&&``: the host puts each
      predicate's value in the subject, and a missing or non-``true`` value is
      false (``has`` keeps a missing key from making ``unless`` raise).

    What does not, raising :class:`~socialflow.errors.UsageError`:

    * conditions given as callables (host code: name them, and pass their values
      in the subject), dotted names, and any callback (``before``, ``after``,
      ``prepare``, ``on_enter``, machine callbacks): socialflow returns effects
      as data instead;
    * ``dest`` ``None``, an internal transition: transitions runs it without
      leaving the state, but every socialflow transition leaves its state and
      enters its target (timers restart), so there is no equivalent;
    * a transition from a final state, written or through ``"*"``: transitions
      lets triggers leave a final state, socialflow never does (list the
      sources without the final states); an initial state that is final;
    * ``auto_transitions`` or ``ordered_transitions`` set true (write those
      transitions out); the ``to_<state>`` auto transitions transitions adds
      by default are not part of the configuration and are not translated;
    * nested states, enums, ``State`` objects, names that are not identifiers,
      and keys this function does not know.
    """
    if not isinstance(name, str) or not _NAME.match(name):  # type: ignore[redundant-expr]  # hosts pass anything
        raise UsageError("`name` must be an identifier (the workflow's name)")
    if not isinstance(config, Mapping):
        raise UsageError("`config` must be a transitions configuration dict")
    for key in config:
        if key in ("states", "initial", "transitions") or key in _HOST_OPTIONS:
            continue
        if key in _UNTRANSLATED:
            if config[key]:
                raise UsageError(f"`{key}` has no socialflow form: drop it, or write it out")
            continue
        raise UsageError(f"`{key}` is not a transitions option from_transitions translates")
    states, finals = _states(config.get("states", ()))
    initial = config.get("initial", "initial")
    if not isinstance(initial, str):
        raise UsageError("`initial` must be a state name (a string)")
    _check_name(initial, "state")
    if initial not in states:
        states.append(initial)
    if initial in finals:
        raise UsageError(f"the initial state `{initial}` is final: socialflow cannot start there")
    lines = [f"workflow {name} {{"]
    for state in states:
        flag = " initial" if state == initial else " final" if state in finals else ""
        lines.append(f"  state {state}{flag}")
    raw = config.get("transitions", ())
    if isinstance(raw, (str, Mapping)) or not isinstance(raw, Sequence):
        raise UsageError("`transitions` must be a list")
    for index, item in enumerate(raw):
        lines.extend(_transition(item, index, states, finals))
    lines.append("}")
    text = "\n".join(lines) + "\n"
    try:
        loads(text, name=f"<from_transitions {name}>")
    except SourceError as e:
        raise UsageError(f"the translation does not check:\n{e}") from e
    return text


def _states(raw: Any) -> tuple[list[str], set[str]]:
    if isinstance(raw, (str, Mapping)):
        raw = [raw]
    if not isinstance(raw, Sequence):
        raise UsageError("`states` must be a list of names or dicts")
    names: list[str] = []
    finals: set[str] = set()
    for item in raw:
        if isinstance(item, str):
            state, final = item, False
        elif isinstance(item, Mapping):
            extra = sorted(set(item) - _STATE_KEYS)
            if extra:
                raise UsageError(
                    f"state {item.get('name')!r}: {', '.join(extra)} cannot be translated "
                    "(callbacks, nesting, tags and timeouts are the host's)"
                )
            given = item.get("name")
            if not isinstance(given, str):
                raise UsageError("a state dict needs a string `name`")
            state, final = given, bool(item.get("final", False))
        else:
            raise UsageError(
                f"a state must be a name or a dict, not {type(item).__name__} "
                "(enums and State objects are not translated)"
            )
        _check_name(state, "state")
        if state in names:
            raise UsageError(f"state `{state}` is listed twice")
        names.append(state)
        if final:
            finals.add(state)
    return names, finals


def _transition(item: Any, index: int, states: list[str], finals: set[str]) -> list[str]:
    where = f"transition {index}"
    if isinstance(item, Mapping):
        spec = dict(item)
    elif isinstance(item, Sequence) and not isinstance(item, str):
        if not 3 <= len(item) <= len(_TRANSITION_FIELDS):
            raise UsageError(f"{where}: a list transition is [trigger, source, dest, ...]")
        spec = dict(zip(_TRANSITION_FIELDS, item, strict=False))
    else:
        raise UsageError(f"{where}: a transition must be a dict or a list")
    extra = sorted(set(spec) - set(_TRANSITION_FIELDS))
    if extra:
        raise UsageError(f"{where}: {', '.join(extra)} cannot be translated")
    for callback in ("before", "after", "prepare"):
        if spec.get(callback):
            raise UsageError(
                f"{where}: `{callback}` callbacks are host code; socialflow returns effects "
                "as data (`emit`): drop them from the configuration"
            )
    trigger = spec.get("trigger")
    if not isinstance(trigger, str):
        raise UsageError(f"{where}: `trigger` must be a string")
    _check_name(trigger, "trigger")
    where = f"transition {index} (`{trigger}`)"
    sources = _sources(spec.get("source"), where, states, finals)
    dest = spec.get("dest")
    if dest is None:
        raise UsageError(
            f"{where}: `dest` None is an internal transition (transitions stays in the state "
            "without leaving it); every socialflow transition leaves its state and enters "
            "its target, restarting the target's timers, so it has no equivalent"
        )
    if not isinstance(dest, str):
        raise UsageError(f"{where}: `dest` must be a state name")
    if dest != "=" and dest not in states:
        raise UsageError(f"{where}: `dest` `{dest}` is not a state")
    guards = [
        f"has(subject.{c}) && subject.{c} == true"
        for c in _conditions(spec.get("conditions"), where)
    ]
    guards += [
        f"(!has(subject.{c}) || subject.{c} != true)"
        for c in _conditions(spec.get("unless"), where)
    ]
    when = f" when {' && '.join(guards)}" if guards else ""
    if dest == "=":
        return [f"  on {trigger} from {s} to {s}{when}" for s in sources]
    return [f"  on {trigger} from {', '.join(sources)} to {dest}{when}"]


def _sources(raw: Any, where: str, states: list[str], finals: set[str]) -> list[str]:
    if raw == "*":
        if finals:
            shown = ", ".join(f"`{s}`" for s in states if s in finals)
            raise UsageError(
                f'{where}: source "*" includes the final state(s) {shown}, which transitions '
                "lets a trigger leave and socialflow does not: list the sources"
            )
        return list(states)
    listed = [raw] if isinstance(raw, str) else raw
    if not isinstance(listed, Sequence) or not listed:
        raise UsageError(f'{where}: `source` must be a state name, a list of them, or "*"')
    out: list[str] = []
    for source in listed:
        if not isinstance(source, str) or source not in states:
            raise UsageError(f"{where}: source {source!r} is not a state")
        if source in finals:
            raise UsageError(
                f"{where}: source `{source}` is final; transitions lets a trigger leave a "
                "final state, socialflow never does"
            )
        if source not in out:
            out.append(source)
    return out


def _conditions(raw: Any, where: str) -> list[str]:
    if raw is None:
        return []
    listed = [raw] if isinstance(raw, str) or callable(raw) else raw
    if not isinstance(listed, Sequence):
        raise UsageError(f"{where}: conditions must be a name or a list of names")
    out: list[str] = []
    for c in listed:
        if not isinstance(c, str):
            raise UsageError(
                f"{where}: condition {c!r} is a callable, which socialflow cannot read: name "
                "a model predicate instead and pass its value in the subject"
            )
        _check_name(c, "condition")
        out.append(c)
    return out


def _check_name(text: str, what: str) -> None:
    if not _NAME.match(text):
        raise UsageError(f"{what} `{text}` is not an identifier (letters, digits, `_`)")
