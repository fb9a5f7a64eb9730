"""RE2-semantics regular expressions for ``matches``: one adapter point.

google-re2 guarantees linear-time matching (no backtracking), so a hostile
pattern or text cannot stall an evaluation.  Two more bounds keep a hostile
*pattern* from taking memory or time that the text length alone does not show:

- patterns are compiled with ``never_capture``: ``matches`` only asks whether
  there is a match, and capturing groups make RE2 track every group's position
  in every thread (thousands of nested groups take hundreds of MB and seconds);
- RE2's memory budget (``max_mem``, :data:`MAX_MEM`) bounds the compiled
  program and the DFA cache; a pattern whose program does not fit is a
  ``size_limit`` error.

The time a search takes grows with the text length times the program size
when the DFA gives up, so :func:`cost_factor` tells the cost budget how much a
character of text costs with a given pattern.  Compiled patterns are memoised
(a pure cache: same pattern, same compiled object).
"""

from __future__ import annotations

import functools
from typing import Any, Final

import re2

from socialflow.errors import EvalError, LimitExceededError

__all__ = ["MAX_MEM", "compile_regex", "cost_factor", "regex_search"]

#: RE2's memory budget for one pattern (its own default, set explicitly): about
#: 130,000 program instructions, the rest for the DFA state cache.
MAX_MEM: Final = 8 << 20
#: Program instructions per cost unit per character of text (see :func:`cost_factor`).
_INSTRUCTIONS_PER_UNIT: Final = 10


#: The options every pattern is compiled with (google-re2's ``Options`` attributes).
_OPTIONS: Final = {"log_errors": False, "never_capture": True, "max_mem": MAX_MEM}


@functools.lru_cache(maxsize=512)
def _compile(pattern: str) -> Any:
    options = re2.Options()
    for name, value in _OPTIONS.items():
        setattr(options, name, value)
    return re2.compile(pattern, options=options)


def _shown(pattern: str) -> str:
    return pattern if len(pattern) <= 60 else pattern[:57] + "..."


def compile_regex(pattern: str) -> Any:
    """Compile ``pattern`` with RE2; raise ``EvalError(kind="invalid_argument")``
    if it is invalid, ``LimitExceededError(kind="size_limit")`` if it is too big."""
    try:
        return _compile(pattern)
    except re2.error as e:
        detail = (
            e.args[0].decode("utf-8", "replace")
            if e.args and isinstance(e.args[0], bytes)
            else str(e)
        )
        if "pattern too large" in detail:
            raise LimitExceededError(
                "size_limit",
                f"regular expression `{_shown(pattern)}` is too large: its program "
                f"needs more than RE2's memory bound of {MAX_MEM >> 20} MiB",
            ) from None
        raise EvalError(
            "invalid_argument", f"invalid regular expression `{_shown(pattern)}`: {detail}"
        ) from None


def cost_factor(regex: Any) -> int:
    """Cost units per character of text searched with ``regex``: 1 for the
    patterns rules use, growing with the program size (one unit per
    :data:`_INSTRUCTIONS_PER_UNIT` instructions)."""
    size: int = regex._regexp.ProgramSize()
    return max(1, -(-size // _INSTRUCTIONS_PER_UNIT))


def regex_search(pattern: str, text: str) -> bool:
    """True if ``pattern`` matches anywhere in ``text`` (CEL ``matches`` is unanchored)."""
    return compile_regex(pattern).search(text) is not None
