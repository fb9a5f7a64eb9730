"""The one set of argument validators of the timing types.

Calendars, SLA policies and escalation policies are built by the DSL checker
and, just as well, by host code; every constructor argument is checked here
with the same rules and the same words, and a wrong one raises
:class:`~socialflow.errors.UsageError` naming the argument.  *Definition
problems* (overlapping hours, a zero SLA, misnumbered levels) are not
argument errors: each type returns them as data from its ``problems()``
method, so the DSL checker can put them at their source position.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import attrs

from socialflow.errors import UsageError

__all__ = [
    "aware_utc",
    "duration",
    "instance_of",
    "integer",
    "non_negative_duration",
    "optional",
    "string",
    "tuple_of",
]

T = TypeVar("T")
Validator = Callable[[object, "attrs.Attribute[Any]", Any], None]


def aware_utc(value: object, name: str) -> datetime:
    """``value`` converted to UTC, or :class:`UsageError` naming the argument."""
    if not isinstance(value, datetime):
        raise UsageError(
            f"`{name}` must be a timezone-aware datetime, got `{type(value).__name__}`"
        )
    if value.tzinfo is None or value.utcoffset() is None:
        raise UsageError(f"`{name}` must be a timezone-aware datetime, got a naive datetime")
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise UsageError(f"`{name}` is outside the supported date range") from None


def string(_instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    """An attrs validator: a ``str``."""
    if not isinstance(value, str):
        raise UsageError(f"`{attribute.name}` must be a string, got `{type(value).__name__}`")


def integer(_instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    """An attrs validator: an ``int`` (a ``bool`` is not one)."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise UsageError(f"`{attribute.name}` must be an int, got `{type(value).__name__}`")


def duration(_instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    """An attrs validator: a ``timedelta`` (negative ones are a definition problem)."""
    if not isinstance(value, timedelta):
        raise UsageError(f"`{attribute.name}` must be a timedelta, got `{type(value).__name__}`")


def non_negative_duration(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    """An attrs validator: a ``timedelta`` of zero or more."""
    duration(instance, attribute, value)
    if value < timedelta(0):
        raise UsageError(f"`{attribute.name}` must not be negative, got `{value}`")


def instance_of(kind: type[Any]) -> Validator:
    """An attrs validator: an instance of ``kind``."""

    def check(_instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
        if not isinstance(value, kind):
            raise UsageError(
                f"`{attribute.name}` must be a {kind.__name__}, got `{type(value).__name__}`"
            )

    return check


def optional(validator: Validator) -> Validator:
    """``validator``, or ``None``."""

    def check(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is not None:
            validator(instance, attribute, value)

    return check


def tuple_of(value: object, kind: type[T], name: str) -> tuple[T, ...]:
    """``value`` (any iterable but a string) as a tuple of ``kind`` values."""
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise UsageError(f"`{name}` must be an iterable, got `{type(value).__name__}`")
    items = tuple(value)
    for item in items:
        if not isinstance(item, kind):
            raise UsageError(
                f"`{name}` must hold {kind.__name__} values, got `{type(item).__name__}`"
            )
    return items
