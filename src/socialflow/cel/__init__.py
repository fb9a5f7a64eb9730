"""socialflow's CEL engine: ``compile`` once, ``Program.evaluate`` many times.

>>> import socialflow as sf
>>> program = sf.cel.compile('msg.sentiment < -0.3 && msg.text.containsWord("refund")')
>>> program.evaluate({"msg": {"sentiment": -0.8, "text": "Refund me now!"}})
True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

from socialflow.cel import ast
from socialflow.cel.compiler import compile_ast, generated_source
from socialflow.cel.cost import CostEstimate, estimate_cost
from socialflow.cel.interpreter import evaluate as interpret
from socialflow.cel.limits import Limits
from socialflow.cel.parser import parse
from socialflow.cel.values import (
    Duration,
    Timestamp,
    Type,
    UInt,
    format_duration,
    format_timestamp,
    parse_duration,
    parse_timestamp,
)
from socialflow.errors import (
    CheckError,
    EvalError,
    LimitExceededError,
    ParseError,
    SourceLimitError,
    UsageError,
)

Declarations = Mapping[str, Any]

__all__ = [
    "CheckError",
    "CostEstimate",
    "Duration",
    "EvalError",
    "LimitExceededError",
    "Limits",
    "ParseError",
    "Program",
    "SourceLimitError",
    "Timestamp",
    "Type",
    "UInt",
    "compile",
    "format_duration",
    "format_timestamp",
    "parse",
    "parse_duration",
    "parse_timestamp",
]

Backend = Literal["compiled", "interpreted"]


class Program:
    """A parsed (and, with declarations, type-checked) CEL expression.

    Immutable and picklable: pickling keeps the source and options, and
    unpickling compiles again.  Build one with :func:`compile`.
    """

    __slots__ = (
        "_backend",
        "_declarations",
        "_limits",
        "_name",
        "_text",
        "ast",
        "cost_estimate",
        "evaluate",
        "result_type",
    )

    #: ``evaluate(activation=None)``: evaluate over ``activation`` (variable name ->
    #: Python value) and return the result as a Python value (see
    #: :mod:`socialflow.cel.values`).  Raises :class:`EvalError` (``kind`` says why;
    #: ``span`` points at the failing sub-expression).  It is the generated function
    #: itself, so a call costs no extra Python frame.
    evaluate: Callable[..., Any]

    def __init__(
        self,
        text: str,
        declarations: Declarations | None,
        name: str,
        backend: Backend,
        limits: Limits,
    ) -> None:
        self._text = text
        self._declarations = declarations
        self._name = name
        self._backend = backend
        self._limits = limits
        tree = parse(text, name, limits)
        self.result_type: Any = None
        if declarations is not None:
            from socialflow.cel.checker import check

            self.result_type = check(tree, declarations)
        self.ast: ast.Expr = tree
        #: What every evaluation costs at least (and at most, for an expression
        #: that reads no variable), in the units of ``Limits.max_cost``: see
        #: :class:`CostEstimate`.  ``compile`` fails with ``SourceLimitError``
        #: (``cost_limit``) when the minimum already exceeds ``max_cost``.
        self.cost_estimate: CostEstimate = estimate_cost(tree, limits)
        if backend == "compiled":
            self.evaluate = compile_ast(tree, limits, name)
        elif backend == "interpreted":
            self.evaluate = _interpreted(tree, limits)
        else:
            raise UsageError(f"unknown backend `{backend}`; use 'compiled' or 'interpreted'")

    @property
    def text(self) -> str:
        """The source text."""
        return self._text

    def source(self) -> str:
        """The generated Python source of the compiled backend (for debugging)."""
        return generated_source(self.evaluate) if self._backend == "compiled" else ""

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            _rebuild,
            (self._text, self._declarations, self._name, self._backend, self._limits),
        )

    def __repr__(self) -> str:
        return f"Program({self._text!r})"


def _interpreted(tree: ast.Expr, limits: Limits) -> Callable[..., Any]:
    def evaluate(activation: Mapping[str, Any] | None = None) -> Any:
        if activation is None:
            activation = {}
        elif not isinstance(activation, Mapping):
            raise UsageError("the activation must be a mapping of variable names to values")
        try:
            return interpret(tree, activation, limits)
        except EvalError:
            raise
        except RecursionError:
            raise LimitExceededError("nesting_too_deep", "value nested too deeply") from None
        except Exception as e:  # last resort: never leak a bare Python exception
            raise EvalError("internal_error", f"unexpected failure: {type(e).__name__}: {e}") from e

    return evaluate


def _rebuild(
    text: str, declarations: Declarations | None, name: str, backend: Backend, limits: Limits
) -> Program:
    return Program(text, declarations, name, backend, limits)


def compile(
    text: str,
    declarations: Declarations | None = None,
    *,
    name: str = "<expr>",
    backend: Backend = "compiled",
    limits: Limits | None = None,
) -> Program:
    """Parse, optionally type-check, and compile a CEL expression.

    Args:
        text: the CEL source.
        declarations: variable name -> type (a CEL type string such as
            ``"int"``, ``"list(string)"``, ``"map(string, dyn)"``, or a
            :class:`CelType`).  When given, the expression is type-checked and
            undeclared names are errors; when ``None`` it is checked only at
            evaluation time.
        name: the source name used in error positions (``rules.sf``).
        backend: ``"compiled"`` (generated Python, the default) or
            ``"interpreted"`` (the reference tree-walker).
        limits: cost and size bounds; :class:`Limits` defaults otherwise.

    Raises:
        ParseError: the text is not valid CEL.
        CheckError: with declarations, names or types are wrong.
        SourceLimitError: the text is too long or too deeply nested, or every
            evaluation would cost more than ``limits.max_cost``
            (``kind="cost_limit"``, see ``docs/limits.md``).
    """
    if not isinstance(text, str):
        raise UsageError("CEL source must be a string")
    return Program(text, declarations, name, backend, limits or Limits())
