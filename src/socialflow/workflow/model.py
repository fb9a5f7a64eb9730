"""The values a workflow takes and returns: :class:`Event`, :class:`Instance`,
:class:`Timer`, :class:`Effect`, :class:`StepResult`, and :data:`ALLOW_ALL`.

All are frozen attrs records holding only data: an instance is a small
immutable value the host stores (as JSON through :mod:`socialflow.serde`, or
pickled) and hands back on the next step.  Instance ``data`` is a
:class:`~socialflow.cel.values.FrozenMap` whose lists are tuples, so nothing
the library returned can change afterwards.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

import attrs

from socialflow.cel.values import FrozenMap
from socialflow.serde import EffectArgs

__all__ = [
    "ALLOW_ALL",
    "AllowAll",
    "Effect",
    "Event",
    "Instance",
    "StepResult",
    "Timer",
]

#: An empty, shared ``data``/``event`` map (immutable, so sharing is safe).
EMPTY: Final = FrozenMap()


@attrs.frozen
class Effect:
    """Something the host should do, returned as data: ``name`` is ``notify``,
    ``escalate`` or any other effect the workflow emits; ``args`` are the
    arguments as written, each a ``(kind, name)`` pair such as
    ``("queue", "customer_care")`` or a plain name.

    An escalation step of ``while STATE escalate POLICY`` is
    ``Effect("escalate", (("policy", P), ("level", "2"), ("round", "1"), *targets))``.
    """

    name: str
    args: EffectArgs = ()

    def __str__(self) -> str:
        shown = ", ".join(a if isinstance(a, str) else f"{a[0]} {a[1]}" for a in self.args)
        return f"{self.name}({shown})"


@attrs.frozen
class Event:
    """Something that happened to an instance: ``name`` is one of the workflow's
    events, ``actor`` the principal id who did it, ``id`` unique per event (a
    repeated id is refused as ``duplicate_event``), ``data`` the payload CEL
    sees as ``event``."""

    name: str
    actor: str = attrs.field(kw_only=True)
    id: str = attrs.field(kw_only=True)
    data: Mapping[str, Any] | None = attrs.field(default=None, kw_only=True)


@attrs.frozen
class Timer:
    """A pending timer of the current state, due ``at`` (UTC).

    ``order`` breaks ties between timers due at one instant (declaration order);
    ``target`` is the state it moves the instance to (``None``: it stays);
    ``effects`` are emitted when it fires.  Timers are data: a newer version of
    the workflow leaves the ones already pending as they were set.
    """

    at: datetime
    order: int
    target: str | None
    effects: tuple[Effect, ...] = ()
    #: what set it, for people: ``timeout in_review after 48h``, ``escalate crisis_policy``
    source: str = ""


@attrs.frozen(weakref_slot=False)
class Instance:
    """One item's place in a workflow; never changes once returned.

    ``version`` is 0 from ``start`` and grows by one with every accepted step
    and every fired timer (hosts use it for optimistic concurrency).
    ``entered_at`` is when the current state was entered; ``timers`` the
    pending timers, in the order they fire; ``seen`` the ids of the latest
    accepted events (a bounded window, oldest first).
    """

    workflow: str
    id: str
    state: str
    data: FrozenMap = EMPTY
    version: int = 0
    entered_at: datetime | None = None
    timers: tuple[Timer, ...] = ()
    seen: tuple[str, ...] = ()


@attrs.frozen(weakref_slot=False)
class StepResult:
    """What ``step`` or ``advance`` did.

    ``accepted`` tells whether anything happened; ``instance`` is the new
    instance (the very same one when refused); ``effects`` the effects to carry
    out, in order (exit, transition, enter; for ``advance``, timer by timer);
    ``reason`` is ``None`` when accepted, else a snake_case code
    (``guard_failed``...); ``detail`` says it for people.
    """

    accepted: bool
    instance: Instance
    effects: tuple[Effect, ...] = ()
    reason: str | None = None
    detail: str | None = None


class AllowAll:
    """An ``access`` that allows every ``requires``: for tests and for hosts
    that check permissions elsewhere.  Use the :data:`ALLOW_ALL` instance."""

    __slots__ = ()

    def __call__(self, actor: str, permission: str, resource: str) -> bool:
        return True

    def __repr__(self) -> str:
        return "ALLOW_ALL"

    def __reduce__(self) -> str:
        return "ALLOW_ALL"


#: Allows every permission (see :class:`AllowAll`).
ALLOW_ALL: Final = AllowAll()
