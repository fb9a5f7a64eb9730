"""Rule indexing: which rules can possibly match a message.

The top-level conjuncts of each condition are analysed (``a && b && c``):

- an equality or ``in`` test of a field against string literals
  (``msg.channel in ["twitter", "facebook"]``, ``msg.lang == "en"``) puts the
  rule in a hash index on that field;
- a literal text test (``contains``, ``containsAny``, ``containsWord``,
  ``containsAnyWord``) puts the rule behind one shared Aho-Corasick automaton
  per text field, built over the case-folded keywords of every rule.

Each field is a *dimension*; a rule with no test on a dimension is always a
candidate there.  A message's candidates are the AND of the dimensions'
bitmasks (Python ints, bit *i* = rule *i* in evaluation order), so the cost
grows with the rules that can match, not with the size of the ruleset.

The filter is exact, not a heuristic: a rule is dropped only when one of its
top-level conjuncts is certainly ``false`` for the message (and ``false &&
anything`` is ``false`` in CEL, errors included).  When a field is missing or
not a string, the dimension keeps every rule so conditions run and record
their errors as usual.

pyahocorasick is a C automaton with a small API, wheels for every platform we
support, and it scans a message once for all keywords of all rules; a regex
alternation of thousands of literals is slower to build and to run, and
per-rule ``in`` tests are what the index is there to avoid.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import ahocorasick

from socialflow.cel import ast as cel_ast
from socialflow.cel.analysis import TextKey, analyse, covered

__all__ = ["RuleIndex"]

#: Below this many constrained candidates, scanning the text costs more than
#: letting the conditions test it.
_DIRECT: Final = 2


class _EqualDimension:
    __slots__ = ("bit", "by_value", "free", "key", "path")

    def __init__(
        self, path: tuple[str, ...], free: int, by_value: dict[str, int], bit: int
    ) -> None:
        self.path = path
        self.key = path[0] if len(path) == 1 else None
        self.free = free
        self.by_value = by_value
        self.bit = bit


class _TextDimension:
    __slots__ = ("automaton", "bit", "constrained", "folded", "free", "key", "path")

    def __init__(
        self,
        path: tuple[str, ...],
        folded: bool,
        free: int,
        automaton: Any,
        bit: int,
        everything: int,
    ) -> None:
        self.path = path
        self.key = path[0] if len(path) == 1 else None
        self.folded = folded
        self.free = free
        self.constrained = everything & ~free
        self.automaton = automaton
        self.bit = bit


class RuleIndex:
    """Candidate rules per message, as a bitmask over evaluation order."""

    def __init__(self, conditions: Sequence[cel_ast.Expr | None], root: str | None) -> None:
        n = len(conditions)
        self.all = (1 << n) - 1
        equal_by_path: dict[tuple[str, ...], dict[int, frozenset[str]]] = {}
        text_by_path: dict[TextKey, dict[int, tuple[str, ...]]] = {}
        for i, condition in enumerate(conditions):
            equal, text = analyse(condition, root)
            for path, values in equal.items():
                equal_by_path.setdefault(path, {})[i] = values
            for key, words in text.items():
                text_by_path.setdefault(key, {})[i] = words
        self.equal: list[_EqualDimension] = []
        for path in sorted(equal_by_path):
            constrained = equal_by_path[path]
            by_value: dict[str, int] = {}
            for i, values in constrained.items():
                for value in sorted(values):
                    by_value[value] = by_value.get(value, 0) | (1 << i)
            free = self.all & ~sum(1 << i for i in constrained)
            self.equal.append(_EqualDimension(path, free, by_value, 1 << len(self.equal)))
        self.text: list[_TextDimension] = []
        for key in sorted(text_by_path):
            constrained_text = text_by_path[key]
            automaton = ahocorasick.Automaton()
            masks: dict[str, int] = {}
            for i, words in constrained_text.items():
                for word in words:
                    masks[word] = masks.get(word, 0) | (1 << i)
            for word in sorted(masks):
                automaton.add_word(word, masks[word])
            automaton.make_automaton()
            free = self.all & ~sum(1 << i for i in constrained_text)
            bit = 1 << (len(equal_by_path) + len(self.text))
            self.text.append(_TextDimension(key[0], key[1], free, automaton, bit, self.all))
        self.indexed = bool(self.equal or self.text)
        # dims are numbered: equality dims first, then text dims
        dim_keys: list[Any] = [("equal", d.path) for d in self.equal]
        dim_keys += [("text", (d.path, d.folded)) for d in self.text]
        #: per rule: (bitmask of the dims that prove conjuncts, the proven conjunct indexes)
        self.proofs: list[tuple[int, frozenset[int]]] = []
        for condition in conditions:
            proofs = covered(condition, root)
            needs = 0
            proven: set[int] = set()
            for k, key in enumerate(dim_keys):
                if key in proofs:
                    needs |= 1 << k
                    proven.update(proofs[key])
            self.proofs.append((needs, frozenset(proven)))

    def candidates(self, message: Any) -> tuple[int, int]:
        """``(mask, applied)``: the bitmask of rules that may match ``message``, and
        the bitmask of dimensions that were applied (a rule whose proving
        dimensions were all applied may skip the conjuncts they proved)."""
        mask = self.all
        applied = 0
        plain = type(message) is dict
        for dim in self.equal:
            value = (
                message.get(dim.key) if plain and dim.key is not None else _get(message, dim.path)
            )
            if type(value) is str:
                mask &= dim.free | dim.by_value.get(value, 0)
                applied |= dim.bit
        for tdim in self.text:
            if not mask & (mask - 1) or (mask & tdim.constrained).bit_count() <= _DIRECT:
                # at most one candidate left, or too few behind this automaton:
                # the conditions' own text tests are cheaper than a scan
                break
            value = (
                message.get(tdim.key)
                if plain and tdim.key is not None
                else _get(message, tdim.path)
            )
            if type(value) is str:
                found = tdim.free
                for _, word_mask in tdim.automaton.iter(value.casefold() if tdim.folded else value):
                    found |= word_mask
                mask &= found
                applied |= tdim.bit
        return mask, applied

    def describe(self) -> dict[str, Any]:
        """What was indexed (for docs, debugging and tests)."""
        return {
            "equal": {".".join(d.path): sorted(d.by_value) for d in self.equal},
            "text": {
                ".".join(d.path) + (" (case-folded)" if d.folded else ""): len(d.automaton)
                for d in self.text
            },
        }


def _get(message: Any, path: tuple[str, ...]) -> Any:
    value = message
    for field in path:
        if type(value) is not dict and not isinstance(value, Mapping):
            return None
        value = value.get(field)
    return value
