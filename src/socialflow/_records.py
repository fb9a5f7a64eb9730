"""Fast construction of frozen attrs records, for the engines' hot paths.

Every triaged message produces a :class:`~socialflow.triage.decision.Decision`
and every workflow step an ``Instance`` and a ``StepResult``: frozen, slotted
attrs records, whose generated ``__init__`` sets each field through
``object.__setattr__`` (about 60 ns a field).  :func:`fast_constructor`
builds the same object faster: a plain twin class with the very same slots is
filled with ordinary attribute stores, which CPython specialises, and the
finished object then becomes a ``cls`` by ``__class__`` assignment, which
CPython allows between classes of identical layout.  The object is complete
before it is a ``cls``, so nobody ever sees it half-built.

The record must be declared ``@attrs.frozen(weakref_slot=False)`` (a weakref
slot makes the layouts differ); tests check each fast constructor's result
equals the attrs constructor's, field for field.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import attrs

__all__ = ["fast_constructor"]

T = TypeVar("T")


def fast_constructor(cls: type[T]) -> Callable[..., T]:
    """A positional constructor for the frozen, slotted attrs class ``cls``,
    taking the fields in declaration order, without defaults or validation."""
    names = [a.name for a in attrs.fields(cls)]  # type: ignore[arg-type]  # attrs classes only
    slots = cls.__slots__  # type: ignore[attr-defined]  # slotted attrs classes have them
    if "__weakref__" in slots:
        raise TypeError(f"{cls.__name__} needs @attrs.frozen(weakref_slot=False)")
    twin = type(f"_{cls.__name__}Builder", (), {"__slots__": slots})
    lines = [f"def make({', '.join(names)}):", "    o = _twin()"]
    lines.extend(f"    o.{name} = {name}" for name in names)
    lines += ["    o.__class__ = _cls", "    return o"]
    namespace: dict[str, Any] = {"_twin": twin, "_cls": cls}
    exec(compile("\n".join(lines) + "\n", f"<socialflow fast {cls.__name__}>", "exec"), namespace)
    make: Callable[..., T] = namespace["make"]
    return make
