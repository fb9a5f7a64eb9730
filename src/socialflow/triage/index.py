"""Rule indexing: which rules can possibly match a message.

Every condition is normalised by :func:`socialflow.cel.analysis.necessary`,
so the index does not depend on how a rule is written.  These shapes are
indexed, alone, as a top-level ``&&`` operand in any order, or inside ``||``
and ``&&`` as deep as they go (``a || b`` is indexed on a field when both
sides constrain it, by the union of their values):

- **equality** of a field with string literals: ``msg.lang == "en"``,
  ``"en" == msg.lang``, ``msg.channel in ["twitter", "facebook"]``,
  ``msg.lang == "en" || msg.lang == "de"``, and the same on
  ``msg.f.lowerAscii()``: a hash table from value to rules per field;
- **literal text**: ``contains("...")``, ``containsAny([...])``,
  ``containsWord("...")``, ``containsAnyWord([...])``, ``startsWith("...")``,
  ``endsWith("...")``, ``||`` of any of them on one field, and the same on
  ``msg.f.lowerAscii()``: one Aho-Corasick automaton per field and form, over
  the keywords of every rule.  ``contains``/``containsAny`` are matched on the
  raw text; the others (whole words, prefixes, lower-cased text) on the
  case-folded text, where a keyword found is necessary but not sufficient.

Not indexed: tests of non-string literals (numbers, bools), comparisons,
``matches``, negations, and ``||`` whose sides constrain different fields or
kinds.  ``socialflow check --explain-index`` lists, per rule, what is indexed.

Each (field, form) is a *dimension*; a rule with no test on a dimension is
always a candidate there.  A message's candidates are the AND of the
dimensions' bitmasks (Python ints, bit *i* = rule *i* in evaluation order), so
the cost grows with the rules that can match, not with the size of the
ruleset.

The filter is exact, not a heuristic: a rule is dropped only when one of its
necessary conditions is certainly false for the message (and ``false &&
anything`` is ``false`` in CEL, errors included).  When a field is missing or
not a string, the dimension keeps every rule so conditions run and record
their errors as usual.  A conjunct that a dimension *decides* (an equality
test, a raw ``contains``/``containsAny``, or an ``||`` of them on one field)
is proven by the index and skipped when the rule is evaluated.

pyahocorasick is a C automaton with a small API, wheels for every platform we
support, and it scans a message once for all keywords of all rules; a regex
alternation of thousands of literals is slower to build and to run, and
per-rule ``in`` tests are what the index is there to avoid.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

import ahocorasick

from socialflow.cel import ast as cel_ast
from socialflow.cel.analysis import Key, conjuncts, exact, necessary

__all__ = ["RuleIndex"]


_ASCII_LOWER: Final = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


class _EqualDimension:
    __slots__ = ("bit", "by_value", "free", "key", "lowered", "path")

    def __init__(
        self, path: tuple[str, ...], lowered: bool, free: int, by_value: dict[str, int], bit: int
    ) -> None:
        self.path = path
        self.key = path[0] if len(path) == 1 else None
        self.lowered = lowered
        self.free = free
        self.by_value = by_value
        self.bit = bit


class _TextDimension:
    __slots__ = (
        "ascii_words", "automaton", "bit", "constrained", "folded", "free", "key", "path",
        "tokens", "words",
    )  # fmt: skip

    def __init__(
        self,
        path: tuple[str, ...],
        form: str,
        free: int,
        automaton: Any,
        bit: int,
        everything: int,
        tokens: dict[str, int] | None = None,
    ) -> None:
        self.path = path
        self.key = path[0] if len(path) == 1 else None
        #: the text is case-folded before the scan
        self.folded = form != "raw"
        #: a hit counts only at word boundaries (``containsWord``)
        self.words = form == "word"
        self.free = free
        self.constrained = everything & ~free
        #: whole-word form: the automaton holds only the keywords that are not one
        #: word (phrases, ``@brand``); a keyword of word characters only is found
        #: as one of the text's words, looked up here (keyword -> rules)
        self.automaton = automaton
        self.tokens = tokens or {}
        #: the same for ASCII texts: the ASCII keywords, each between two spaces,
        #: in one automaton scanned over the text with every non-word character
        #: made a space (one C scan; no list of the text's words)
        self.ascii_words: Any = None
        ascii_tokens = {w: m for w, m in self.tokens.items() if w.isascii()}
        if ascii_tokens:
            self.ascii_words = ahocorasick.Automaton()
            for word, mask in ascii_tokens.items():
                self.ascii_words.add_word(f" {word} ", mask)
            self.ascii_words.make_automaton()
        self.bit = bit


def _useful(need: dict[Key, frozenset[str]]) -> dict[Key, frozenset[str]]:
    """``need`` without the case-folded text needs that a raw or whole-word need on
    the same field implies (one scan of that field is enough)."""
    exact_text = {path for kind, path, form in need if kind == "text" and form != "folded"}
    return {
        key: values
        for key, values in need.items()
        if not (key[0] == "text" and key[2] == "folded" and key[1] in exact_text)
    }


#: A maximal run of word characters: ``\\w`` is ``str.isalnum()`` or ``_``, as
#: :func:`_is_word_char` and ``containsWord`` define word characters.
_WORD: Final = re.compile(r"\w+")
_WORDS: Final = _WORD.findall
#: Bytes: ASCII word characters kept (upper case lowered, as ``casefold`` does for
#: ASCII), every other byte a space, so each word stands between spaces.
_ASCII_WORDS: Final = bytes(
    (b + 32 if 65 <= b <= 90 else b) if (chr(b).isalnum() and b < 128) or b == 95 else 32
    for b in range(256)
)


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _label(key: Key) -> str:
    kind, path, form = key
    field = ".".join(path)
    if kind == "equal":
        return f"{field}: value" + (", lower-cased" if form == "lower" else "")
    return (
        f"{field}: "
        + {"raw": "keywords", "word": "whole words", "folded": "keywords, case-folded"}[form]
    )


class RuleIndex:
    """Candidate rules per message, as a bitmask over evaluation order."""

    def __init__(self, conditions: Sequence[cel_ast.Expr | None], root: str | None) -> None:
        n = len(conditions)
        self.all = (1 << n) - 1
        needs = [_useful(necessary(condition, root)) for condition in conditions]
        by_key: dict[Key, dict[int, frozenset[str]]] = {}
        for i, need in enumerate(needs):
            for key, values in need.items():
                by_key.setdefault(key, {})[i] = values
        equal_keys = sorted(k for k in by_key if k[0] == "equal")
        text_keys = sorted(k for k in by_key if k[0] == "text")
        self.equal: list[_EqualDimension] = []
        for key in equal_keys:
            constrained = by_key[key]
            by_value: dict[str, int] = {}
            for i, values in constrained.items():
                for value in sorted(values):
                    by_value[value] = by_value.get(value, 0) | (1 << i)
            free = self.all & ~sum(1 << i for i in constrained)
            dim = _EqualDimension(key[1], key[2] == "lower", free, by_value, 1 << len(self.equal))
            self.equal.append(dim)
        self.text: list[_TextDimension] = []
        for key in text_keys:
            constrained_text = by_key[key]
            automaton = ahocorasick.Automaton()
            masks: dict[str, int] = {}
            for i, words in constrained_text.items():
                for word in words:
                    masks[word] = masks.get(word, 0) | (1 << i)
            tokens: dict[str, int] = {}
            for word in sorted(masks):
                if key[2] == "word" and _WORD.fullmatch(word):
                    # a whole-word hit of a keyword made of word characters only is
                    # exactly a maximal run of word characters: one dict look-up
                    tokens[word] = masks[word]
                elif key[2] == "word":
                    # what a hit must check, as containsWord does: the boundary on a
                    # side only when the word itself starts (ends) with a word character
                    checks = (
                        masks[word],
                        len(word),
                        _is_word_char(word[0]),
                        _is_word_char(word[-1]),
                    )
                    automaton.add_word(word, checks)
                else:
                    automaton.add_word(word, masks[word])
            automaton.make_automaton()
            free = self.all & ~sum(1 << i for i in constrained_text)
            bit = 1 << (len(self.equal) + len(self.text))
            self.text.append(
                _TextDimension(
                    key[1], key[2], free, None if tokens and not len(automaton) else automaton, bit,
                    self.all, tokens,
                )
            )  # fmt: skip
        self.indexed = bool(self.equal or self.text)
        self._keys: list[Key] = [*equal_keys, *text_keys]
        #: per rule: the dimensions it is indexed on (for --explain-index)
        self.rule_keys: list[tuple[Key, ...]] = [tuple(sorted(need)) for need in needs]
        #: per rule: (bitmask of the dims that prove conjuncts, the proven conjunct indexes)
        self.proofs: list[tuple[int, frozenset[int]]] = [
            self._proof(condition, needs[i], root) for i, condition in enumerate(conditions)
        ]

    def _proof(
        self, condition: cel_ast.Expr | None, need: dict[Key, frozenset[str]], root: str | None
    ) -> tuple[int, frozenset[int]]:
        """The conjuncts of ``condition`` the index decides: a conjunct whose
        exact dimension and values are what the index filters this rule by."""
        if condition is None:
            return 0, frozenset()
        dims = 0
        proven: set[int] = set()
        for j, conjunct in enumerate(conjuncts(condition)):
            decided = exact(conjunct, root)
            if decided is None:
                continue
            key, values = decided
            # the rule is filtered by need[key]; the conjunct is proven when the
            # index's test is the conjunct's own (text: the same words; equality:
            # values within the conjunct's, as the intersection of every conjunct)
            filtered = need.get(key)
            if filtered is None:
                continue
            if key[0] == "text" and filtered != values:
                continue
            if key[0] == "equal" and not filtered <= values:
                continue
            dims |= 1 << self._keys.index(key)
            proven.add(j)
        return dims, frozenset(proven)

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
                if dim.lowered:
                    value = value.translate(_ASCII_LOWER)
                mask &= dim.free | dim.by_value.get(value, 0)
                applied |= dim.bit
        for tdim in self.text:
            if not mask & tdim.constrained:
                continue  # no candidate left that this dimension filters
            value = (
                message.get(tdim.key)
                if plain and tdim.key is not None
                else _get(message, tdim.path)
            )
            if type(value) is str:
                found = tdim.free
                if tdim.words:
                    # the indexed words among the text's, found at C speed (a
                    # text has dozens of words, of which few are indexed)
                    if value.isascii():  # non-word bytes become spaces, at C speed
                        if tdim.ascii_words is not None:
                            spaced = value.encode().translate(_ASCII_WORDS).decode()
                            for _, hit in tdim.ascii_words.iter(f" {spaced} "):
                                found |= hit
                    else:
                        tokens = tdim.tokens
                        for word in tokens.keys() & _WORDS(value.casefold()):
                            found |= tokens[word]
                    if tdim.automaton is not None:
                        found |= _word_hits(tdim.automaton, value.casefold())
                else:
                    for _, word_mask in tdim.automaton.iter(
                        value.casefold() if tdim.folded else value
                    ):
                        found |= word_mask
                mask &= found
                applied |= tdim.bit
        return mask, applied

    def explain(self, index: int) -> tuple[str, ...]:
        """What rule ``index`` (in evaluation order) is indexed on, for people."""
        needs, proven = self.rule_keys[index], self.proofs[index][0]
        out = []
        for key in needs:
            k = self._keys.index(key)
            out.append(_label(key) + (" (decides)" if proven >> k & 1 else ""))
        return tuple(out)

    def describe(self) -> dict[str, Any]:
        """What was indexed (for docs, debugging and tests)."""
        return {
            "equal": {
                ".".join(d.path) + (" (lower-cased)" if d.lowered else ""): sorted(d.by_value)
                for d in self.equal
            },
            "text": {
                ".".join(d.path)
                + (" (whole words)" if d.words else " (case-folded)" if d.folded else ""): len(
                    d.tokens
                )
                + (len(d.automaton) if d.automaton is not None else 0)
                for d in self.text
            },
        }


def _word_hits(automaton: Any, hay: str) -> int:
    """The rules whose whole words occur in ``hay`` (case-folded already)."""
    found = 0
    size = len(hay)
    for end, (word_mask, length, left, right) in automaton.iter(hay):
        if found & word_mask == word_mask:
            continue
        start = end - length + 1
        if left and start > 0 and _is_word_char(hay[start - 1]):
            continue
        if right and end + 1 < size and _is_word_char(hay[end + 1]):
            continue
        found |= word_mask
    return found


def _get(message: Any, path: tuple[str, ...]) -> Any:
    value = message
    for field in path:
        if type(value) is not dict and not isinstance(value, Mapping):
            return None
        value = value.get(field)
    return value
