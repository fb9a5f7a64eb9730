"""Source text and spans: the only place offsets become ``line:column``.

A :class:`Source` is a named piece of text (a file or a string handed to
``compile``/``loads``).  A :class:`Span` is a half-open range of character
offsets into it and knows how to render itself as ``name:line:col`` and as a
caret snippet.  Display columns are 1-based; tabs are expanded and wide
characters count twice, so carets line up under what a terminal shows.
"""

from __future__ import annotations

import bisect
import unicodedata

import attrs

__all__ = ["Source", "Span"]


@attrs.frozen(eq=False)
class Source:
    """A named text.  Identity-compared; cheap to share between spans."""

    name: str
    text: str
    _line_starts: tuple[int, ...] = attrs.field(init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        starts = [0]
        starts.extend(i + 1 for i, ch in enumerate(self.text) if ch == "\n")
        object.__setattr__(self, "_line_starts", tuple(starts))

    def __reduce__(self) -> tuple[type[Source], tuple[str, str]]:
        return (Source, (self.name, self.text))

    def line_col(self, offset: int) -> tuple[int, int]:
        """1-based line and 1-based display column of ``offset``."""
        offset = max(0, min(offset, len(self.text)))
        line = bisect.bisect_right(self._line_starts, offset) - 1
        start = self._line_starts[line]
        return line + 1, _display_width(self.text[start:offset]) + 1

    def line_text(self, line: int) -> str:
        """The text of 1-based ``line`` without its newline."""
        start = self._line_starts[line - 1]
        end = self.text.find("\n", start)
        return self.text[start:] if end < 0 else self.text[start:end]


def _display_width(text: str) -> int:
    if text.isascii() and "\t" not in text:
        return len(text)  # the common case, at C speed (long lines, many errors)
    width = 0
    for ch in text:
        if ch == "\t":
            width += 4 - width % 4
        elif unicodedata.east_asian_width(ch) in ("W", "F"):
            width += 2
        elif unicodedata.combining(ch):
            continue
        else:
            width += 1
    return width


@attrs.frozen(weakref_slot=False)
class Span:
    """Characters ``start`` (inclusive) to ``end`` (exclusive) of ``source``."""

    source: Source = attrs.field(eq=False, repr=False)
    start: int
    end: int

    @property
    def line(self) -> int:
        return self.source.line_col(self.start)[0]

    @property
    def column(self) -> int:
        return self.source.line_col(self.start)[1]

    def location(self) -> str:
        """``name:line:col``."""
        line, col = self.source.line_col(self.start)
        return f"{self.source.name}:{line}:{col}"

    def text(self) -> str:
        return self.source.text[self.start : self.end]

    def snippet(self) -> str:
        """The source line with a gutter and carets under the span (first line only).

        A line longer than :data:`SNIPPET_WIDTH` columns is cut to a window
        around the span, marked with ``...`` on the sides it was cut.
        """
        line, col = self.source.line_col(self.start)
        text = self.source.line_text(line)
        end_line, end_col = self.source.line_col(max(self.start, self.end))
        if end_line != line:
            end_col = _display_width(text) + 1
        width = max(1, end_col - col)
        gutter = " " * len(str(line))
        shown = _expand_tabs(text)
        if len(shown) > SNIPPET_WIDTH:
            shown, col, width = _window(shown, col, width)
        return f"{gutter} |\n{line} | {shown}\n{gutter} | {' ' * (col - 1)}{'^' * width}"


#: Columns of a source line a snippet shows at most.
SNIPPET_WIDTH = 120


def _window(shown: str, col: int, width: int) -> tuple[str, int, int]:
    """Cut ``shown`` to about :data:`SNIPPET_WIDTH` columns around the caret."""
    width = min(width, SNIPPET_WIDTH // 2)
    start = max(0, col - 1 - SNIPPET_WIDTH // 3)
    end = min(len(shown), start + SNIPPET_WIDTH)
    piece = shown[start:end]
    prefix = "..." if start > 0 else ""
    suffix = "..." if end < len(shown) else ""
    return prefix + piece + suffix, col - start + len(prefix), width


def _expand_tabs(text: str) -> str:
    out: list[str] = []
    width = 0
    for ch in text:
        if ch == "\t":
            pad = 4 - width % 4
            out.append(" " * pad)
            width += pad
        else:
            out.append(ch)
            width += _display_width(ch)
    return "".join(out)
