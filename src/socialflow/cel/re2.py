"""RE2-semantics regular expressions for ``matches``: one adapter point.

google-re2 guarantees linear-time matching (no backtracking), so a hostile
pattern or text cannot stall an evaluation.  Compiled patterns are memoised
(a pure cache: same pattern, same compiled object).
"""

from __future__ import annotations

import functools
from typing import Any

import re2

from socialflow.errors import EvalError

__all__ = ["compile_regex", "regex_search"]


@functools.lru_cache(maxsize=512)
def _compile(pattern: str) -> Any:
    options = re2.Options()
    options.log_errors = False
    return re2.compile(pattern, options=options)


def compile_regex(pattern: str) -> Any:
    """Compile ``pattern`` with RE2 or raise ``EvalError(kind="invalid_argument")``."""
    try:
        return _compile(pattern)
    except re2.error as e:
        detail = (
            e.args[0].decode("utf-8", "replace")
            if e.args and isinstance(e.args[0], bytes)
            else str(e)
        )
        raise EvalError(
            "invalid_argument", f"invalid regular expression `{pattern}`: {detail}"
        ) from None


def regex_search(pattern: str, text: str) -> bool:
    """True if ``pattern`` matches anywhere in ``text`` (CEL ``matches`` is unanchored)."""
    return compile_regex(pattern).search(text) is not None
