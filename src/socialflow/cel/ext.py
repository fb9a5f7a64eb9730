"""Extension functions for rule authors (documented in ``docs/cel.md``).

Beyond the functions the issue names (``lowerAscii``, ``upperAscii``, ``trim``,
``containsAny``, ``containsWord``) rule authors keep needing: ``containsAll``
(every keyword present), ``containsAnyWord`` (keyword lists matched on whole
words), ``startsWithAny``/``endsWithAny`` (handles, URL prefixes), and the
string-shaping functions cel-go's strings extension has, with the same names:
``replace``, ``split``, ``join``, ``indexOf``, ``substring``.  Indexes count
Unicode code points, as ``size`` does.  Their signatures are declared in
:mod:`socialflow.cel.functions`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from socialflow.cel.values import no_overload, type_name
from socialflow.errors import EvalError

__all__ = ["contains_word"]

_ASCII_LOWER: Final = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_ASCII_UPPER: Final = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def _article(word: str) -> str:
    return f"an {word}" if word[:1] in "aeiou" else f"a {word}"


def _str(name: str, value: Any, *rest: Any) -> str:
    if isinstance(value, str):
        return str(value)
    no_overload(name, value, *rest)


def _str_list(name: str, s: Any, items: Any) -> tuple[str, Sequence[str]]:
    text = _str(name, s, items)
    if not isinstance(items, (list, tuple)):
        no_overload(name, s, items)
    for item in items:
        if not isinstance(item, str):
            raise EvalError(
                "invalid_argument",
                f"`{name}` needs a list of strings, found {_article(type_name(item))}",
            )
    return text, items


def _int(name: str, value: Any, *ctx: Any) -> int:
    if type(value) is int:
        return int(value)
    no_overload(name, *ctx)


def lower_ascii(s: Any) -> str:
    return _str("lowerAscii", s).translate(_ASCII_LOWER)


def upper_ascii(s: Any) -> str:
    return _str("upperAscii", s).translate(_ASCII_UPPER)


def trim(s: Any) -> str:
    return _str("trim", s).strip()


def contains_any(s: Any, items: Any) -> bool:
    text, words = _str_list("containsAny", s, items)
    return any(w in text for w in words)


def contains_all(s: Any, items: Any) -> bool:
    text, words = _str_list("containsAll", s, items)
    return all(w in text for w in words)


def starts_with_any(s: Any, items: Any) -> bool:
    text, prefixes = _str_list("startsWithAny", s, items)
    return text.startswith(tuple(prefixes))


def ends_with_any(s: Any, items: Any) -> bool:
    text, suffixes = _str_list("endsWithAny", s, items)
    return text.endswith(tuple(suffixes))


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def contains_word(text: str, word: str) -> bool:
    """Case-insensitive whole-word (or whole-phrase) search.

    ``word`` matches where it is not glued to letters, digits or ``_`` on a side
    where it itself starts or ends with one: ``"refund"`` is found in
    ``"Refund!"`` but not in ``"refunded"``; ``"@brand"`` is found in ``"hi @brand"``.
    """
    return _word_in(text.casefold(), word.casefold())


def _word_in(hay: str, needle: str) -> bool:
    """Whether case-folded ``needle`` occurs as a whole word in case-folded ``hay``."""
    if not needle:
        return False
    start = hay.find(needle)
    if start < 0:  # the common case: not even a substring
        return False
    check_left = _is_word_char(needle[0])
    check_right = _is_word_char(needle[-1])
    n = len(needle)
    while start >= 0:
        end = start + n
        if (not check_left or start == 0 or not _is_word_char(hay[start - 1])) and (
            not check_right or end == len(hay) or not _is_word_char(hay[end])
        ):
            return True
        start = hay.find(needle, start + 1)
    return False


def contains_word_fn(s: Any, word: Any) -> bool:
    text = _str("containsWord", s, word)
    if not isinstance(word, str):
        no_overload("containsWord", s, word)
    return contains_word(text, str(word))


def contains_any_word(s: Any, items: Any) -> bool:
    text, words = _str_list("containsAnyWord", s, items)
    hay = text.casefold()  # once, not once per word
    for word in words:  # noqa: SIM110 - a loop is faster than any() over a generator
        if _word_in(hay, word.casefold()):
            return True
    return False


def replace(s: Any, old: Any, new: Any, count: Any = -1) -> str:
    text = _str("replace", s, old, new)
    if not isinstance(old, str) or not isinstance(new, str):
        no_overload("replace", s, old, new)
    n = _int("replace", count, s, old, new, count)
    return text.replace(old, new, n if n >= 0 else -1)


def split(s: Any, sep: Any, limit: Any = -1) -> list[str]:
    text = _str("split", s, sep)
    if not isinstance(sep, str):
        no_overload("split", s, sep)
    n = _int("split", limit, s, sep, limit)
    if n == 0:
        return []
    if sep == "":
        chars = list(text)
        if n > 0 and len(chars) > n:
            chars = [*chars[: n - 1], "".join(chars[n - 1 :])]
        return chars
    return text.split(sep, n - 1 if n > 0 else -1)


def join(items: Any, sep: Any = "") -> str:
    if not isinstance(items, (list, tuple)) or not isinstance(sep, str):
        no_overload("join", items, sep)
    for item in items:
        if not isinstance(item, str):
            raise EvalError(
                "invalid_argument",
                f"`join` needs a list of strings, found {_article(type_name(item))}",
            )
    return str(sep).join(items)


def index_of(s: Any, sub: Any, start: Any = 0) -> int:
    text = _str("indexOf", s, sub)
    if not isinstance(sub, str):
        no_overload("indexOf", s, sub)
    begin = _int("indexOf", start, s, sub, start)
    if not 0 <= begin <= len(text):
        raise EvalError(
            "invalid_argument", f"index {begin} out of range for a string of size {len(text)}"
        )
    return text.find(sub, begin)


def substring(s: Any, start: Any, end: Any = None) -> str:
    text = _str("substring", s, start)
    begin = _int("substring", start, s, start)
    stop = len(text) if end is None else _int("substring", end, s, start, end)
    if not 0 <= begin <= stop <= len(text):
        raise EvalError(
            "invalid_argument",
            f"substring range [{begin}, {stop}) out of range for a string of size {len(text)}",
        )
    return text[begin:stop]
