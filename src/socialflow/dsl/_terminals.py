"""Human names for the DSL grammar's terminals, for "expected ..." messages.

``grammars/socialflow.lark`` imports CEL's grammar: lark prefixes the imported
terminals with ``cel__`` except the few the DSL imports by name
(:data:`_SHARED_TERMINALS`), which CEL's names describe too.
"""

from __future__ import annotations

from typing import Final

from lark.exceptions import UnexpectedInput

from socialflow import _syntax
from socialflow.cel.parser import SYNTAX_GROUPS as CEL_SYNTAX_GROUPS
from socialflow.cel.parser import TERMINAL_NAMES as CEL_TERMINAL_NAMES
from socialflow.cel.parser import WORD_HINTS
from socialflow.errors import Diagnostic
from socialflow.source import Source

__all__ = ["ACTION_KEYWORDS", "DECLARATION_KEYWORDS", "syntax_diagnostic", "terminal_name"]

_CEL_PREFIX: Final = "cel__"
#: Terminals the DSL grammar imports from CEL's by name (they keep their names).
_SHARED_TERMINALS: Final = frozenset({"IDENT", "INT", "STRING", "MINUS"})
#: Human names for the DSL grammar's own terminals.
_DSL_TERMINAL_NAMES: Final = {
    "ACCESS_EFFECT": "`permit` or `forbid`",
    "DURATION": "duration (e.g. `30m`)",
    "TIME": "time of day (HH:MM)",
    "DATE": "date (YYYY-MM-DD)",
    "OPTIONAL": "`?`",
    "ALL_PERMISSIONS": "`*`",
    "NOT": "`not`",
    "OVERRIDE": "`override`",
    "$END": "end of input",
}


#: The keywords that begin a declaration, and those that begin a rule's action.
DECLARATION_KEYWORDS: Final = (
    "ruleset",
    "schema",
    "input",
    "queue",
    "calendar",
    "sla",
    "escalation",
    "rule",
    "test",
    "permission",
    "role",
    "permit",
    "forbid",
    "exclusive",
    "workflow",
    "base",
    "override",
)
ACTION_KEYWORDS: Final = (
    "route",
    "assign",
    "priority",
    "tag",
    "sla",
    "escalate",
    "respond",
    "ignore",
    "set",
    "stop",
)
#: How "expected" lists group the DSL's terminals (see ``_syntax.syntax_diagnostic``).
_GROUPS: Final = (
    (
        "a declaration",
        frozenset([f"`{k}`" for k in DECLARATION_KEYWORDS] + ["`permit` or `forbid`"]),
        4,
    ),
    ("an action", frozenset(f"`{k}`" for k in ACTION_KEYWORDS), 4),
    *CEL_SYNTAX_GROUPS,
)


def terminal_name(name: str) -> str | None:
    """The human name of the DSL grammar's terminal ``name``; ``None`` for the default."""
    cel_terminal = name.startswith(_CEL_PREFIX) or name in _SHARED_TERMINALS
    name = name.removeprefix(_CEL_PREFIX)
    if cel_terminal and name in CEL_TERMINAL_NAMES:
        return CEL_TERMINAL_NAMES[name]
    if name in _DSL_TERMINAL_NAMES:
        return _DSL_TERMINAL_NAMES[name]
    if name.startswith("_K_"):  # a keyword
        return f"`{name[3:].lower()}`"
    return None


def syntax_diagnostic(
    source: Source, offset: int, text: str, e: UnexpectedInput, grammar: str
) -> Diagnostic:
    """:func:`socialflow._syntax.syntax_diagnostic` with the DSL's terminal names."""
    return _syntax.syntax_diagnostic(
        source,
        offset,
        text,
        e,
        grammar,
        terminal_name,
        groups=_GROUPS,
        word_hints=WORD_HINTS,
        tuple_hint=True,
    )
