"""Did-you-mean suggestions, the one implementation every checker uses.

The distance is Damerau-Levenshtein (insert, delete, substitute, or swap two
neighbours: ``hihg`` is one edit from ``high``).  A suggestion is made only
when it is close for the name's length: 1 edit below 4 characters, 2 below
9, 3 beyond, and always fewer edits than the name has characters; ties go to the alphabetically first candidate (deterministic).
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["did_you_mean", "edit_distance"]


def edit_distance(a: str, b: str) -> int:
    """Edits (insert, delete, substitute, swap two neighbours) that turn ``a`` into ``b``."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        row = [i]
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            best = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                best = min(best, prev2[j - 2] + 1)
            row.append(best)
        prev2, prev = prev, row
    return prev[-1]


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """``"did you mean `x`?"`` for the closest candidate, or ``None``."""
    limit = 1 if len(name) < 4 else 2 if len(name) < 9 else 3
    scored = sorted(
        (edit_distance(name.lower(), c.lower()), c) for c in set(candidates) if c and c != name
    )
    if scored and scored[0][0] <= limit and scored[0][0] < len(name):
        return f"did you mean `{scored[0][1]}`?"
    return None
