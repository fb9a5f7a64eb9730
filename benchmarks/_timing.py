"""Timing helpers shared by the benchmark scripts."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


def sample_size(fn: Callable[[T], Any], items: Sequence[T], budget: float, floor: int = 50) -> int:
    """How many of ``items`` one timed pass of ``fn`` can take in about ``budget`` seconds."""
    probe = items[: min(len(items), floor)]
    t = time.perf_counter()
    for item in probe:
        fn(item)
    per = (time.perf_counter() - t) / max(len(probe), 1)
    return max(floor, min(len(items), int(budget / max(per, 1e-9))))


def best_rate(fn: Callable[[T], Any], items: Sequence[T], repeat: int) -> float:
    """Items per second of the best of ``repeat`` passes of ``fn`` over ``items``."""
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        for item in items:
            fn(item)
        best = min(best, time.perf_counter() - t)
    return len(items) / best
