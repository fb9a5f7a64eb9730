"""Did-you-mean suggestions (Levenshtein distance), deterministic."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["did_you_mean", "levenshtein"]


def levenshtein(a: str, b: str) -> int:
    """Edit distance between ``a`` and ``b``."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """``"did you mean `x`?"`` for the closest candidate within a small distance."""
    limit = 1 if len(name) < 4 else 2 if len(name) < 9 else 3
    scored = sorted((levenshtein(name.lower(), c.lower()), c) for c in set(candidates) if c != name)
    if scored and scored[0][0] <= limit:
        return f"did you mean `{scored[0][1]}`?"
    return None
