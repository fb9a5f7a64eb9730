"""The compiled backend's fast path: one Python expression for the common case.

Most conditions rule authors write read a few fields of a message and test
them: ``msg.channel in ["x", "y"] && msg.text.contains(" refund ") &&
msg.sentiment < -0.3``.  For such an expression the compiler emits, besides
the general code (:mod:`socialflow.cel.compiler`), a *fast path*: a single
Python expression in which every value whose type matters is checked at the
point it is used (``type(_f1) is _str``), and anything unexpected (a missing
key, a value of another type, an error raised by a function) raises.  The
generated function is::

    def _sf_eval(act=None):
        try:
            _r0 = act['msg']
            return <the expression>
        except _Exception:
            pass
        return _general(act)

so a fast path that cannot decide hands the whole evaluation to the general
code, which is compiled on first use (:class:`~socialflow.cel.compiler.Deferred`).  Evaluation is
pure, so evaluating again from the start is safe; the fast path only ever
returns a value the general code would return, because it covers only what
has the same meaning in Python and in CEL once the operand types are checked:

- literals (strings, ints in range, finite doubles, bools, null);
- variables, field selection on ``dict`` values and ``has()``;
- ``&&``, ``||``, ``!`` and ``?:`` over bools (Python's ``and``/``or`` are
  then CEL's: no operand can be an error);
- ``<``, ``<=``, ``>``, ``>=``, ``==``, ``!=`` where both sides have the same
  exact type among int, double and string (bool too for equality), or one
  side is a literal and the other has its type; ``== null``;
- ``in`` a literal list of strings; ``contains``, ``startsWith``,
  ``endsWith`` on strings; ``containsAny``/``containsAll`` of a literal list;
  ``size`` of a string, bytes, list or map;
- any other function whose call the cost model leaves free outside
  comprehensions (:func:`~socialflow.cel.runtime.call_mode`), called through
  the registered implementation, and the string builders ``lowerAscii``,
  ``upperAscii`` and ``trim`` and the scan ``matches`` with a literal
  pattern, on strings short enough that the sum of their charges cannot
  reach ``max_cost`` nor their results ``max_string_length``.

Everything else (arithmetic, which must detect 64-bit overflow, lists and
maps built at run time, indexing, comprehensions) makes the expression
ineligible: the compiler then emits only the general code, as before.

The fast path is smaller than the general code (a quarter of the characters
for a typical three-test condition), so compiling a large ruleset is several
times faster and the general code of most rules is never compiled at all.
"""

from __future__ import annotations

from typing import Any, Final

from socialflow.cel import ast
from socialflow.cel.functions import FUNCTIONS, GLOBAL_ONLY, RECEIVER_ONLY
from socialflow.cel.limits import Limits
from socialflow.cel.re2 import compile_regex, cost_factor
from socialflow.cel.runtime import BUILDS, call_mode
from socialflow.cel.values import INT_MAX, INT_MIN
from socialflow.errors import EvalError

__all__ = ["Bail", "FastPath", "fast_path"]


class Bail(Exception):
    """Raised inside a fast path that cannot decide (never escapes it)."""


def _bail() -> Any:
    raise Bail


#: Names the generated fast path uses -> what they are bound to.
HELPERS: Final[dict[str, Any]] = {
    "_B": _bail,
    "_Exception": Exception,
    "_dict": dict,
    "_str": str,
    "_int": int,
    "_float": float,
    "_bool": bool,
    "_len": len,
}

#: Kinds of fast expressions: what the generated code guarantees about the value.
BOOL: Final = "bool"
STR: Final = "str"
INT: Final = "int"
FLOAT: Final = "float"
NULL: Final = "null"
#: any value (a field read, a function result): its type is not checked
VALUE: Final = "value"

_PY_TYPES: Final[dict[str, str]] = {BOOL: "_bool", STR: "_str", INT: "_int", FLOAT: "_float"}
_LITERAL_KINDS: Final[dict[type, str]] = {bool: BOOL, str: STR, int: INT, float: FLOAT}
_COMPARE: Final = {"_<_": "<", "_<=_": "<=", "_>_": ">", "_>=_": ">="}
_EQUALITY: Final = {"_==_": "==", "_!=_": "!="}
_SCANS: Final = {"contains": "{x} in {s}", "startsWith": "{s}.startswith({x})",
                 "endsWith": "{s}.endswith({x})"}  # fmt: skip
#: Functions returning a bool whenever they return (their result needs no check).
_BOOL_RESULTS: Final = frozenset(
    {
        "contains", "startsWith", "endsWith", "containsAny", "containsAll", "containsWord",
        "containsAnyWord", "startsWithAny", "endsWithAny", "matches",
    }
)  # fmt: skip
#: String builders the fast path calls with a length guard: name -> at most what
#: :meth:`~socialflow.cel.runtime.Budget.build` charges per input character
#: (the length of the result, which is never longer than the input).
_STRING_BUILDS: Final = {"lowerAscii": 1, "upperAscii": 1, "trim": 1}
_SIZED: Final = frozenset({str, bytes, list, dict, tuple})


class _Ineligible(Exception):
    """The expression holds something the fast path does not cover."""


#: A checked operand: (how the test refers to it, the condition that binds and
#: checks it, or "" when the reference is safe as it is).
_Operand = tuple[str, str]


class FastPath:
    """Builds the fast path of one expression (see the module docstring)."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.consts: dict[str, Any] = {}
        self._const_ids: dict[tuple[type, Any], str] = {}
        #: variable name -> the local it is read into first
        self.roots: dict[str, str] = {}
        self._temps = 0
        #: constant name -> the literal value it holds
        self.literals: dict[str, Any] = {}
        #: the variables' locals that must hold a dict (they are selected from)
        self.dict_roots: set[str] = set()
        #: (placeholder, per-character cost, fixed cost, local) of each charged call
        self._charged: list[tuple[str, int, int, str]] = []

    # -- helpers --------------------------------------------------------------------------
    def tmp(self) -> str:
        self._temps += 1
        return f"_f{self._temps}"

    def const(self, value: Any, *, shared: bool = True) -> str:
        """The name of a constant holding ``value`` (``shared``: one name per
        distinct value; literals get a name each, so the source depends only on
        the expression's shape)."""
        key: tuple[type, Any] = (type(value), value)
        if shared:
            try:
                hash(key)
            except TypeError:
                key = (type(value), id(value))
            known = self._const_ids.get(key)
            if known is not None:
                return known
        name = f"_k{len(self.consts)}"
        self.consts[name] = value
        if shared:
            self._const_ids[key] = name
        return name

    def operand(self, node: ast.Expr, want: str, *, reused: bool = False) -> _Operand:
        """``node`` checked to be of kind ``want`` (``reused``: the test reads it
        more than once, so an expression is bound to a local first)."""
        code, kind = self.expr(node)
        if kind == want and (not reused or code.isidentifier() or code in _KEYWORDS):
            return code, ""
        if kind not in (want, VALUE):
            raise _Ineligible  # a known other kind: the general code decides
        t = self.tmp()
        return t, f"type({t} := {code}) is {_PY_TYPES[want]}"

    def boolean(self, node: ast.Expr) -> str:
        ref, cond = self.operand(node, BOOL)
        return _when(ref, cond)

    # -- expressions ----------------------------------------------------------------------
    def expr(self, node: ast.Expr) -> tuple[str, str]:
        """The Python expression for ``node`` and its kind."""
        match node:
            case ast.Literal(value=value):
                return self.literal(value)
            case ast.Ident(name=name):
                root = self.roots.get(name)
                if root is None:
                    root = self.roots[name] = f"_r{len(self.roots)}"
                return root, VALUE
            case ast.Select(operand=operand, field=field, test_only=test_only):
                o, _kind = self.expr(operand)
                kind = BOOL if test_only else VALUE
                if o in self.roots.values():  # a variable: checked once, first
                    self.dict_roots.add(o)
                    return (f"({field!r} in {o})" if test_only else f"{o}[{field!r}]"), kind
                t = self.tmp()
                test = f"{field!r} in {t}" if test_only else f"{t}[{field!r}]"
                return _when(test, f"type({t} := {o}) is _dict"), kind
            case ast.Call():
                return self.call(node)
        raise _Ineligible

    def literal(self, value: Any) -> tuple[str, str]:
        if value is None:
            return "None", NULL
        t = type(value)
        kind = _LITERAL_KINDS.get(t)
        if kind is None or (t is int and not INT_MIN <= value <= INT_MAX):
            raise _Ineligible  # uint, bytes, out-of-range ints: the general code
        if t is bool:
            return repr(value), kind
        # a bound constant, not a Python literal: expressions of the same shape
        # then have the same source, compiled once (see compile_ast's ``codes``)
        name = self.const(value, shared=False)
        self.literals[name] = value
        return name, kind

    def call(self, node: ast.Call) -> tuple[str, str]:
        function = node.function
        args = node.args if node.target is None else (node.target, *node.args)
        if function in ("_&&_", "_||_"):
            joiner = " and " if function == "_&&_" else " or "
            return f"({joiner.join(self.boolean(a) for a in _flat(node, function))})", BOOL
        if function == "!_" and len(args) == 1:
            return f"(not {self.boolean(args[0])})", BOOL
        if function == "_?_:_" and len(args) == 3:
            c = self.boolean(args[0])
            a, a_kind = self.expr(args[1])
            b, b_kind = self.expr(args[2])
            return f"({a} if {c} else {b})", a_kind if a_kind == b_kind else VALUE
        if function in _COMPARE and len(args) == 2:
            return self.compare(_COMPARE[function], args[0], args[1], equality=False), BOOL
        if function in _EQUALITY and len(args) == 2:
            return self.equality(_EQUALITY[function], args[0], args[1]), BOOL
        if function == "@in" and len(args) == 2:
            words = _literal_strings(args[1])
            if words is None:
                raise _Ineligible
            s, cond = self.operand(args[0], STR)
            return _when(f"{s} in {self.const(frozenset(words), shared=False)}", cond), BOOL
        return self.function(function, args, node)

    def compare(self, op: str, left: ast.Expr, right: ast.Expr, *, equality: bool) -> str:
        """An ordering or (in)equality test; both sides must have one exact type,
        or one side is a number literal and the other an int or a double, compared
        as :func:`~socialflow.cel.stdlib.compare` and ``equals`` do."""
        a, a_kind = self.expr(left)
        b, b_kind = self.expr(right)
        allowed = (BOOL, STR, INT, FLOAT) if equality else (STR, INT, FLOAT)
        if a_kind != VALUE and b_kind != VALUE:
            if a_kind != b_kind or a_kind not in allowed:
                raise _Ineligible
            return f"({a} {op} {b})"
        if a_kind == VALUE and b_kind == VALUE:
            ta, tb = self.tmp(), self.tmp()
            same = f"type({ta} := {a}) is type({tb} := {b}) and type({ta}) in {self.const(_ALLOWED[equality])}"
            return _when(f"{ta} {op} {tb}", same)
        flip = a_kind != VALUE  # the known side first, as `known`
        known, known_kind, value = (a, a_kind, b) if flip else (b, b_kind, a)
        if known_kind not in allowed:
            raise _Ineligible
        t = self.tmp()

        def test(other: str) -> str:
            return f"{other} {op} {t}" if flip else f"{t} {op} {other}"

        if known_kind in (INT, FLOAT) and known in self.literals:
            # int and double meet as stdlib does: equality exactly, ordering in doubles
            as_int = known_kind == INT
            mixed_known = (
                self.const(float(self.literals[known]), shared=False)
                if as_int and not equality
                else known
            )
            mixed_value = t if as_int or equality else f"_float({t})"
            mixed = (
                f"{mixed_known} {op} {mixed_value}" if flip else f"{mixed_value} {op} {mixed_known}"
            )
            same_type, other_type = ("_int", "_float") if as_int else ("_float", "_int")
            return (
                f"({test(known)} if type({t} := {value}) is {same_type} else "
                f"{mixed} if type({t}) is {other_type} else _B())"
            )
        return _when(test(known), f"type({t} := {value}) is {_PY_TYPES[known_kind]}")

    def equality(self, op: str, left: ast.Expr, right: ast.Expr) -> str:
        for side, other in ((right, left), (left, right)):
            if isinstance(side, ast.Literal) and side.value is None:
                o, kind = self.expr(other)
                if kind != VALUE:  # a literal or a checked result: known not to be null
                    return repr((kind == NULL) == (op == "=="))
                return f"({o} is {'' if op == '==' else 'not '}None)"
        return self.compare(op, left, right, equality=True)

    def function(
        self, function: str, args: tuple[ast.Expr, ...], node: ast.Call
    ) -> tuple[str, str]:
        fn = FUNCTIONS.get(function)
        if (
            fn is None
            or (node.target is not None and function in GLOBAL_ONLY)
            or (node.target is None and function in RECEIVER_ONLY)
        ):
            raise _Ineligible  # unknown or misused: the general code reports it
        if function in _SCANS and len(args) == 2:
            s, s_cond = self.operand(args[0], STR)
            x, x_cond = self.operand(args[1], STR)
            test = _SCANS[function].format(s=s, x=x)
            return _when(test, " and ".join(c for c in (s_cond, x_cond) if c)), BOOL
        if function in ("containsAny", "containsAll") and len(args) == 2:
            words = _literal_strings(args[1])
            if not words:
                raise _Ineligible
            s, cond = self.operand(args[0], STR, reused=len(words) > 1)
            joiner = " or " if function == "containsAny" else " and "
            tests = joiner.join(f"{self.const(w, shared=False)} in {s}" for w in words)
            return _when(f"({tests})", cond), BOOL
        if function == "size" and len(args) == 1:
            a, _kind = self.expr(args[0])
            t = self.tmp()
            return _when(f"_len({t})", f"type({t} := {a}) in {self.const(_SIZED)}"), INT
        if function == "matches" and len(args) == 2:
            return self.matches(args)
        if function in _STRING_BUILDS and len(args) == 1:
            s, cond = self.operand(args[0], STR, reused=True)
            guard = self.charged(_STRING_BUILDS[function], 0, s)
            return _when(f"{self.const(fn)}({s})", _both(cond, guard)), STR
        if call_mode(function, args, False) != "free" or function in BUILDS:
            raise _Ineligible
        codes = []
        for arg in args:
            words = _literal_strings(arg)
            codes.append(
                self.const(list(words), shared=False) if words is not None else self.expr(arg)[0]
            )
        call = f"{self.const(fn)}({', '.join(codes)})"
        return call, BOOL if function in _BOOL_RESULTS else VALUE

    def matches(self, args: tuple[ast.Expr, ...]) -> tuple[str, str]:
        pattern = args[1]
        if not (isinstance(pattern, ast.Literal) and type(pattern.value) is str):
            raise _Ineligible
        try:
            regex = compile_regex(pattern.value)
        except EvalError:
            raise _Ineligible from None
        s, cond = self.operand(args[0], STR, reused=True)
        guard = self.charged(cost_factor(regex), len(pattern.value), s)
        return _when(f"{self.const(regex)}.search({s}) is not None", _both(cond, guard)), BOOL

    def charged(self, per_char: int, fixed: int, s: str) -> str:
        """A placeholder for the length guard of a charged call on string ``s``;
        :meth:`finish` fills it in once every charged call is known."""
        slot = f"@@{len(self._charged)}@@"
        self._charged.append((slot, per_char, fixed, s))
        return slot

    def finish(self, code: str) -> str:
        """Fill in the length guards: each of the ``n`` charged calls may cost at
        most ``max_cost // n``, so together they stay within the budget, and
        build no more than ``max_string_length`` characters."""
        count = len(self._charged)
        for slot, per_char, fixed, s in self._charged:
            share = (self.limits.max_cost // count - fixed) // max(per_char, 1)
            cap = min(self.limits.max_string_length, share)
            code = code.replace(slot, f"_len({s}) <= {max(cap, -1)}")
        return code


_ALLOWED: Final = {True: frozenset({bool, str, int, float}), False: frozenset({str, int, float})}


def _when(test: str, cond: str) -> str:
    """``test`` where ``cond`` holds, else bail (``cond`` binds what ``test`` reads)."""
    return f"({test} if {cond} else _B())" if cond else test


def _both(a: str, b: str) -> str:
    return f"{a} and {b}" if a else b


_KEYWORDS: Final = frozenset({"True", "False", "None"})


def _flat(node: ast.Expr, function: str) -> list[ast.Expr]:
    out: list[ast.Expr] = []
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, ast.Call) and n.function == function and n.target is None:
            stack.extend(reversed(n.args))
        else:
            out.append(n)
    return out


def _literal_strings(node: ast.Expr) -> tuple[str, ...] | None:
    if isinstance(node, ast.CreateList) and all(
        isinstance(e, ast.Literal) and type(e.value) is str for e in node.elements
    ):
        return tuple(e.value for e in node.elements if isinstance(e, ast.Literal))
    return None


def fast_path(tree: ast.Expr, limits: Limits) -> tuple[str, dict[str, Any]] | None:
    """The source of ``_sf_eval`` with a fast path for ``tree``, and the names it
    reads; ``None`` when ``tree`` holds something the fast path does not cover.
    The source calls ``_general(act)`` when the fast path cannot decide."""
    gen = FastPath(limits)
    try:
        code, _kind = gen.expr(tree)
    except (_Ineligible, RecursionError):
        return None  # very deep expressions too: the general code spills them
    code = gen.finish(code)
    lines = ["def _sf_eval(act=None):", "    try:"]
    for name, local in gen.roots.items():
        lines.append(f"        {local} = act[{name!r}]")
        if local in gen.dict_roots:
            lines.append(f"        if type({local}) is not _dict: _B()")
    lines += [f"        return {code}", "    except _Exception:", "        pass",
              "    return _general(act)"]  # fmt: skip
    namespace = dict(HELPERS)
    namespace.update(gen.consts)
    return "\n".join(lines) + "\n", namespace
