"""Load the grammars in ``grammars/`` and build cached LALR parsers.

The grammars ship inside the wheel as ``socialflow/grammars/*.lark``; in a
source checkout (editable install) they are read from the top-level
``grammars/`` folder.  Parsers are built once per process and never exported.
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

from lark import Lark

__all__ = ["grammar_text", "lalr_parser"]


def grammar_text(name: str) -> str:
    """The text of ``grammars/<name>``, from the installed package or the checkout."""
    packaged = resources.files("socialflow") / "grammars" / name
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    checkout = Path(__file__).resolve().parents[2] / "grammars" / name
    return checkout.read_text(encoding="utf-8")


def _import_loader(base_path: object, grammar_path: str) -> tuple[str, str]:
    """Resolve ``%import .cel (...)`` inside our grammars, from the package or checkout."""
    name = grammar_path.replace("\\", "/").rsplit("/", 1)[-1]
    try:
        return f"socialflow/grammars/{name}", grammar_text(name)
    except OSError:
        raise OSError(grammar_path) from None


@functools.cache
def lalr_parser(name: str, start: str = "start") -> Lark:
    """A position-propagating LALR parser for ``grammars/<name>`` (built once)."""
    return Lark(
        grammar_text(name),
        parser="lalr",
        lexer="contextual",
        start=start,
        propagate_positions=True,
        maybe_placeholders=True,
        import_paths=[_import_loader],
    )
