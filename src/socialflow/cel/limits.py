"""Cost, size and depth budgets for compiling and evaluating CEL.

Every bound is explicit and configurable per program; exceeding one raises
:class:`~socialflow.errors.LimitExceededError` (at evaluation time) or
:class:`~socialflow.errors.SourceLimitError` (at compile time), never a hang
or a ``MemoryError``.  ``docs/limits.md`` lists them all.
"""

from __future__ import annotations

import attrs

__all__ = ["Limits"]


@attrs.frozen
class Limits:
    """Bounds on one program.

    The defaults are generous for rules (the language definition asks for 12
    levels of recursive nesting and 32 repetitions; we allow far more) and
    small enough that a hostile expression cannot take the host down.
    """

    #: Characters of source text.
    max_source_length: int = 100_000
    #: Nesting depth of the syntax tree.
    max_nesting: int = 250
    #: Loop iterations of all comprehensions of one evaluation, together.
    max_iterations: int = 1_000_000
    #: Length of a string or bytes value built at run time (characters / bytes).
    max_string_length: int = 10_000_000
    #: Elements of a list or map built at run time.
    max_collection_size: int = 1_000_000
    #: Cost units of one evaluation (see ``docs/limits.md``): one per
    #: comprehension iteration, per character, byte or element built, and per
    #: character scanned where scanning can repeat or multiply.  Ten million
    #: is about 10-50 ms of work: a rule that scans a 10,000-character message
    #: for 100 keywords in a comprehension costs about a million, a tenth of it,
    #: while the product of the other limits (a million iterations over a
    #: ten-million-character string) is a million times more.
    max_cost: int = 10_000_000
