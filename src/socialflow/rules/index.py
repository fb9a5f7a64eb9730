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

__all__ = ["RuleIndex"]

_TEXT_FUNCTIONS: Final = frozenset({"contains", "containsAny", "containsWord", "containsAnyWord"})


def _conjuncts(expr: cel_ast.Expr) -> list[cel_ast.Expr]:
    if isinstance(expr, cel_ast.Call) and expr.function == "_&&_" and expr.target is None:
        out: list[cel_ast.Expr] = []
        for arg in expr.args:
            out.extend(_conjuncts(arg))
        return out
    return [expr]


def _path(expr: cel_ast.Expr, root: str) -> tuple[str, ...] | None:
    fields: list[str] = []
    while isinstance(expr, cel_ast.Select) and not expr.test_only:
        fields.append(expr.field)
        expr = expr.operand
    if isinstance(expr, cel_ast.Ident) and expr.name == root and fields:
        return tuple(reversed(fields))
    return None


def _strings(expr: cel_ast.Expr) -> tuple[str, ...] | None:
    if isinstance(expr, cel_ast.Literal) and type(expr.value) is str:
        return (expr.value,)
    if isinstance(expr, cel_ast.CreateList) and expr.elements and all(
        isinstance(e, cel_ast.Literal) and type(e.value) is str for e in expr.elements
    ):
        return tuple(e.value for e in expr.elements if isinstance(e, cel_ast.Literal))
    return None


def analyse(expr: cel_ast.Expr | None, root: str | None) -> tuple[
    dict[tuple[str, ...], frozenset[str]], dict[tuple[str, ...], tuple[str, ...]]
]:
    """The equality and text constraints a condition's conjuncts impose."""
    equal: dict[tuple[str, ...], frozenset[str]] = {}
    text: dict[tuple[str, ...], tuple[str, ...]] = {}
    if expr is None or root is None:
        return equal, text
    for conjunct in _conjuncts(expr):
        if not isinstance(conjunct, cel_ast.Call):
            continue
        fn, args, target = conjunct.function, conjunct.args, conjunct.target
        if fn in ("@in", "_==_") and target is None and len(args) == 2:
            left, right = args
            if fn == "_==_" and _path(left, root) is None:
                left, right = right, left
            path = _path(left, root)
            values = _strings(right)
            if fn == "@in" and not isinstance(right, cel_ast.CreateList):
                values = None
            if path is not None and values is not None:
                allowed = frozenset(values)
                equal[path] = equal[path] & allowed if path in equal else allowed
        elif fn in _TEXT_FUNCTIONS and target is not None and len(args) == 1:
            path = _path(target, root)
            words = _strings(args[0])
            if fn in ("contains", "containsWord") and not isinstance(args[0], cel_ast.Literal):
                words = None
            if path is not None and words and all(words) and path not in text:
                text[path] = tuple(w.casefold() for w in words)
    return equal, text


class _EqualDimension:
    __slots__ = ("by_value", "free", "path")

    def __init__(self, path: tuple[str, ...], free: int, by_value: dict[str, int]) -> None:
        self.path = path
        self.free = free
        self.by_value = by_value


class _TextDimension:
    __slots__ = ("automaton", "free", "path")

    def __init__(self, path: tuple[str, ...], free: int, automaton: Any) -> None:
        self.path = path
        self.free = free
        self.automaton = automaton


class RuleIndex:
    """Candidate rules per message, as a bitmask over evaluation order."""

    def __init__(self, conditions: Sequence[cel_ast.Expr | None], root: str | None) -> None:
        n = len(conditions)
        self.all = (1 << n) - 1
        equal_by_path: dict[tuple[str, ...], dict[int, frozenset[str]]] = {}
        text_by_path: dict[tuple[str, ...], dict[int, tuple[str, ...]]] = {}
        for i, condition in enumerate(conditions):
            equal, text = analyse(condition, root)
            for path, values in equal.items():
                equal_by_path.setdefault(path, {})[i] = values
            for path, words in text.items():
                text_by_path.setdefault(path, {})[i] = words
        self.equal: list[_EqualDimension] = []
        for path in sorted(equal_by_path):
            constrained = equal_by_path[path]
            by_value: dict[str, int] = {}
            for i, values in constrained.items():
                for value in sorted(values):
                    by_value[value] = by_value.get(value, 0) | (1 << i)
            free = self.all & ~sum(1 << i for i in constrained)
            self.equal.append(_EqualDimension(path, free, by_value))
        self.text: list[_TextDimension] = []
        for path in sorted(text_by_path):
            constrained_text = text_by_path[path]
            automaton = ahocorasick.Automaton()
            masks: dict[str, int] = {}
            for i, words in constrained_text.items():
                for word in words:
                    masks[word] = masks.get(word, 0) | (1 << i)
            for word in sorted(masks):
                automaton.add_word(word, masks[word])
            automaton.make_automaton()
            free = self.all & ~sum(1 << i for i in constrained_text)
            self.text.append(_TextDimension(path, free, automaton))
        self.indexed = bool(self.equal or self.text)

    def candidates(self, message: Any) -> int:
        """The bitmask of rules that may match ``message``."""
        mask = self.all
        for dim in self.equal:
            value = _get(message, dim.path)
            if type(value) is str:
                mask &= dim.free | dim.by_value.get(value, 0)
        for tdim in self.text:
            value = _get(message, tdim.path)
            if type(value) is str:
                found = tdim.free
                for _, word_mask in tdim.automaton.iter(value.casefold()):
                    found |= word_mask
                mask &= found
        return mask

    def describe(self) -> dict[str, Any]:
        """What was indexed (for docs, debugging and tests)."""
        return {
            "equal": {".".join(d.path): sorted(d.by_value) for d in self.equal},
            "text": {".".join(d.path): len(d.automaton) for d in self.text},
        }


def _get(message: Any, path: tuple[str, ...]) -> Any:
    value = message
    for field in path:
        if type(value) is not dict and not isinstance(value, Mapping):
            return None
        value = value.get(field)
    return value
