"""AST -> fast Python: the compiled backend.

The compiler generates the source of one Python function per expression, in
three-address form (every sub-expression lands in a local), with inline fast
paths for the common exact-type cases (``type(x) is float``) and calls into
the registered implementations (:mod:`socialflow.cel.functions`) and the
shared run-time helpers (:mod:`socialflow.cel.runtime`) for everything else,
so it has the same semantics as the reference interpreter.  Safety: the
generated code is built only from the AST; literals are emitted with ``repr``
or passed as bound constants, CEL names never become Python identifiers
(locals are ``_t1``, ``_v2``...), and field names appear only as string
literals.

The cost budget (``Limits.max_cost``, the model in :mod:`socialflow.cel.runtime`)
is charged only where work can grow or repeat: calls that build strings and
lists, product scans, and comprehension bodies, where the per-iteration charge
is a constant and scans and string comparisons take the charged path.  Code
outside comprehensions that reads, compares or scans once charges nothing and
makes no meter (``_cnt``, made on first use).

``&&``/``||`` chains are flattened; each operand is evaluated inside its own
``try`` so errors are absorbed as CEL specifies.  Deeply nested expressions
spill into helper functions so Python's block and indentation limits are never
reached.  An :class:`~socialflow.errors.EvalError` raised from generated code
is located afterwards through a generated-line -> span table.
"""

from __future__ import annotations

import hashlib
import linecache
import math
from collections.abc import Callable, Mapping
from types import CodeType, TracebackType
from typing import Any, Final

from socialflow.cel import ast, ext, runtime, stdlib
from socialflow.cel.fastpath import fast_path
from socialflow.cel.functions import FUNCTIONS, GLOBAL_ONLY, RECEIVER_ONLY
from socialflow.cel.limits import Limits
from socialflow.cel.re2 import compile_regex, cost_factor
from socialflow.cel.runtime import Budget, call_mode, qualified_names, resolve_qualified
from socialflow.cel.values import INT_MAX, INT_MIN, no_overload
from socialflow.errors import EvalError, LimitExceededError, SourceLimitError, UsageError
from socialflow.source import Span

__all__ = ["Deferred", "compile_ast", "compile_general", "generated_source"]

_MISSING: Final = object()
_MAX_INDENT: Final = 40
_MAX_BLOCKS: Final = 6
#: ``&&``/``||`` chains up to this long compile to nested ifs, longer ones to a loop.
_NESTED_LOGIC: Final = 8

_COMPARE_OPS: Final = {"_<_": "<", "_<=_": "<=", "_>_": ">", "_>=_": ">="}
_ARITH_OPS: Final = {"_+_": "+", "_-_": "-", "_*_": "*"}


#: Generated code's global names -> what they are bound to.
_HELPERS: Final[dict[str, Any]] = {
    "_EvalError": EvalError,
    "_KeyError": KeyError,
    "_on_error": None,
    "_LimitError": LimitExceededError,
    "_M": _MISSING,
    "_ONCE": (None,),
    "_resolve": runtime.resolve_name,
    "_raise": runtime.raise_error,
    "_overflow": runtime.overflow,
    "_logic_end": runtime.logic_end,
    "_pred_error": runtime.predicate_error,
    "_range1": runtime.range1,
    "_range2": runtime.range2,
    "_new_map": runtime.new_map,
    "_filter_error": runtime.filter_error,
    "_iteration_limit": runtime.iteration_limit,
    "_noov": no_overload,
    "_select": stdlib.select,
    "_has": stdlib.has_field,
    "_index": stdlib.index,
    "_make_map": stdlib.make_map,
    "_equals": stdlib.equals,
    "_not_equals": stdlib.not_equals,
    "_in": stdlib.contains_element,
    "_not": stdlib.logical_not,
    "_neg": stdlib.negate,
    "_contains_word": ext.contains_word,
    "_dict": dict,
    "_list": list,
    "_str": str,
    "_int": int,
    "_float": float,
    "_bool": bool,
    "_tuple": tuple,
    "_len": len,
}


class _Function:
    """The lines of one generated Python function."""

    def __init__(self, name: str, params: list[str]) -> None:
        self.name = name
        self.params = params
        self.lines: list[tuple[int, str, Span | None]] = []


class _Gen:
    def __init__(self, limits: Limits, name: str) -> None:
        self.limits = limits
        self.name = name
        self.consts: dict[str, Any] = {}
        self.const_ids: dict[tuple[type, Any], str] = {}
        self.counter = 0
        self.functions: list[_Function] = []
        self.fn = _Function("_sf_eval", [])
        self.indent = 0
        self.blocks = 0
        self.uses_iterations = False
        #: the expression charges the meter somewhere outside a comprehension
        self.uses_meter = False
        #: how many comprehension bodies enclose the code being generated
        self.body_depth = 0
        self.budget = Budget(limits)
        self.helpers: set[str] = set()

    # -- emission -------------------------------------------------------------------------
    def tmp(self, prefix: str = "_t") -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def emit(self, text: str, span: Span | None) -> None:
        self.fn.lines.append((self.indent, text, span))

    def local(self, result: str, span: Span) -> str:
        """``result`` as a local name (literals are copied into one)."""
        if result.startswith("_"):
            return result
        t = self.tmp()
        self.emit(f"{t} = {result}", span)
        return t

    def helper(self, name: str) -> str:
        self.helpers.add(name)
        return name

    def meter(self, span: Span | None) -> str:
        """The meter's name, made first if the main function may not have one yet."""
        if self.fn.name == "_sf_eval" and not self.uses_iterations:
            self.uses_meter = True
            self.emit("if _cnt is None: _cnt = [0, 0]", span)
        return "_cnt"

    def charge(self, units: str, span: Span | None, made: bool = False) -> None:
        """Emit: add ``units`` (an expression) to the meter's cost and check it
        (``made``: the meter was made already on this path)."""
        cnt = "_cnt" if made else self.meter(span)
        self.emit(f"{cnt}[0] += {units}", span)
        self.emit(
            f"if {cnt}[0] > {self.limits.max_cost}: {self.const(self.budget)}.over({cnt})", span
        )

    @property
    def in_body(self) -> bool:
        return self.body_depth > 0

    def const(self, value: Any) -> str:
        key = (type(value), value if _hashable(value) else id(value))
        existing = self.const_ids.get(key)
        if existing is not None:
            return existing
        name = f"_k{len(self.consts)}"
        self.consts[name] = value
        self.const_ids[key] = name
        return name

    def literal(self, value: Any) -> str:
        t = type(value)
        if t is bool or value is None or t is str or t is int:
            return repr(value)
        if t is float and math.isfinite(value):
            return repr(value)
        return self.const(value)

    # -- expressions ----------------------------------------------------------------------
    def expr(self, node: ast.Expr, scope: dict[str, str]) -> str:
        """Emit statements computing ``node``; return a local name or a literal."""
        deep = self.indent >= _MAX_INDENT or self.blocks >= _MAX_BLOCKS
        if deep and not isinstance(node, (ast.Literal, ast.Ident)):
            return self.spill(node, scope)
        match node:
            case ast.Literal(value=value):
                return self.literal(value)
            case ast.Ident(name=name):
                if name in scope:
                    return scope[name]
                t = self.tmp()
                self.emit(f"try: {t} = act[{name!r}]", node.span)
                self.emit(
                    f"except _KeyError: {t} = {self.helper('_resolve')}({name!r}, act)", node.span
                )
                return t
            case ast.Select():
                return self.select(node, scope)
            case ast.Index(operand=operand, index=key):
                o = self.expr(operand, scope)
                k = self.expr(key, scope)
                t = self.tmp()
                self.emit(f"{t} = {self.helper('_index')}({o}, {k})", node.span)
                return t
            case ast.CreateList(elements=elements):
                items = [self.expr(e, scope) for e in elements]
                if self.in_body and items:
                    self.charge(str(len(items)), node.span)
                t = self.tmp()
                self.emit(f"{t} = [{', '.join(items)}]", node.span)
                return t
            case ast.CreateMap(entries=entries):
                pairs = [(self.expr(k, scope), self.expr(v, scope)) for k, v in entries]
                if self.in_body and pairs:
                    self.charge(str(len(pairs)), node.span)
                t = self.tmp()
                body = ", ".join(f"({k}, {v})" for k, v in pairs)
                self.emit(
                    f"{t} = {self.helper('_make_map')}(({body}{',' if len(pairs) == 1 else ''}))",
                    node.span,
                )
                return t
            case ast.Call():
                return self.call(node, scope)
            case ast.Comprehension():
                return self.comprehension(node, scope)
        raise AssertionError(node)  # pragma: no cover

    def spill(self, node: ast.Expr, scope: dict[str, str]) -> str:
        """Generate ``node`` as a separate function and call it."""
        params = ["act", "_cnt", *sorted(set(scope.values()))]
        outer = (self.fn, self.indent, self.blocks)
        self.fn = _Function(self.tmp("_sf_sub"), params)
        self.indent, self.blocks = 0, 0
        result = self.expr(node, scope)
        self.emit(f"return {result}", node.span)
        inner = self.fn
        self.functions.append(inner)
        self.fn, self.indent, self.blocks = outer
        self.meter(node.span)  # the sub-function charges the caller's meter
        t = self.tmp()
        self.emit(f"{t} = {inner.name}({', '.join(params)})", node.span)
        return t

    def select(self, node: ast.Select, scope: dict[str, str]) -> str:
        names = qualified_names(node, scope)
        if names is not None and len(names) > 1:
            # `a.b.c` may name a variable `a.b.c` or `a.b` when `a` is no variable.
            root = self.tmp()
            t = self.tmp()
            self.emit(f"try: {root} = act[{names[0]!r}]", node.span)
            self.emit(f"except _KeyError: {root} = _M", node.span)
            self.emit(
                f"if {root} is _M: {t} = {self.const(resolve_qualified)}(act, {names!r}, {node.test_only!r})",
                node.span,
            )
            self.emit("else:", node.span)
            self.indent += 1
            r = self.select_from(node, {**scope, names[0]: root}, scope)
            self.emit(f"{t} = {r}", node.span)
            self.indent -= 1
            return t
        return self.select_from(node, scope, scope)

    def select_from(self, node: ast.Select, scope: dict[str, str], outer: dict[str, str]) -> str:
        o = self.local(self.expr(node.operand, scope), node.span)
        t = self.tmp()
        f = repr(node.field)
        if node.test_only:
            self.emit(
                f"{t} = ({f} in {o}) if type({o}) is _dict else {self.helper('_has')}({o}, {f})",
                node.span,
            )
            return t
        self.emit(f"{t} = {o}.get({f}, _M) if type({o}) is _dict else _M", node.span)
        self.emit(f"if {t} is _M: {t} = {self.helper('_select')}({o}, {f})", node.span)
        return t

    def guarded(self, node: ast.Expr, scope: dict[str, str]) -> str:
        """Evaluate ``node`` turning an EvalError (not a limit) into a value."""
        t = self.tmp("_v")
        self.emit("try:", node.span)
        self.indent += 1
        self.blocks += 1
        r = self.expr(node, scope)
        self.emit(f"{t} = {r}", node.span)
        self.blocks -= 1
        self.indent -= 1
        self.emit("except _LimitError: raise", node.span)
        self.emit(f"except _EvalError as _e: {t} = _e", node.span)
        return t

    def logic(self, node: ast.Call, scope: dict[str, str]) -> str:
        function = node.function
        decisive = "True" if function == "_||_" else "False"
        other = "False" if decisive == "True" else "True"
        operands: list[ast.Expr] = []
        _flatten(node, function, operands)
        t = self.tmp()
        values: list[str] = []
        if len(operands) <= _NESTED_LOGIC:
            # short chains: nested if/else, the fastest form
            opened = 0
            for operand in operands:
                v = self.guarded(operand, scope)
                values.append(v)
                self.emit(f"if {v} is {decisive}: {t} = {decisive}", node.span)
                self.emit("else:", node.span)
                self.indent += 1
                opened += 1
            cond = " and ".join(f"{v} is {other}" for v in values)
            self.emit(f"if {cond}: {t} = {other}", node.span)
            self.emit(
                f"else: {t} = {self.helper('_logic_end')}({function!r}, {', '.join(values)})",
                node.span,
            )
            self.indent -= opened
            return t
        # long chains: a one-pass loop so indentation does not grow with the chain
        self.emit(f"{t} = {other}", node.span)
        self.emit("for _once in _ONCE:", node.span)
        self.indent += 1
        self.blocks += 1
        for operand in operands:
            v = self.guarded(operand, scope)
            values.append(v)
            self.emit(f"if {v} is {decisive}:", node.span)
            self.emit(f"    {t} = {decisive}", node.span)
            self.emit("    break", node.span)
        self.emit(f"for _v in ({', '.join(values)},):", node.span)
        self.emit(f"    if _v is not {other}:", node.span)
        self.emit(
            f"        {t} = {self.helper('_logic_end')}({function!r}, {', '.join(values)})",
            node.span,
        )
        self.blocks -= 1
        self.indent -= 1
        return t

    def conditional(self, node: ast.Call, scope: dict[str, str]) -> str:
        c = self.local(self.expr(node.args[0], scope), node.span)
        t = self.tmp()
        self.emit(f"if {c} is True:", node.span)
        self.indent += 1
        a = self.expr(node.args[1], scope)
        self.emit(f"{t} = {a}", node.span)
        self.indent -= 1
        self.emit(f"elif {c} is False:", node.span)
        self.indent += 1
        b = self.expr(node.args[2], scope)
        self.emit(f"{t} = {b}", node.span)
        self.indent -= 1
        self.emit(f"else: {t} = {self.helper('_noov')}('_?_:_', {c})", node.span)
        return t

    def call(self, node: ast.Call, scope: dict[str, str]) -> str:
        function = node.function
        if function in ("_&&_", "_||_"):
            return self.logic(node, scope)
        if function == "_?_:_":
            return self.conditional(node, scope)
        fn = FUNCTIONS.get(function)
        span = node.span
        if fn is None:
            return self.fail(
                EvalError("undeclared_reference", f"unknown function `{function}`"), span
            )
        if node.target is not None and function in GLOBAL_ONLY:
            return self.fail(
                EvalError(
                    "no_matching_overload",
                    f"`{function}` is a function, not a method: write `{function}(x)`",
                ),
                span,
            )
        if node.target is None and function in RECEIVER_ONLY:
            return self.fail(
                EvalError(
                    "no_matching_overload", f"`{function}` is a method: write `x.{function}(...)`"
                ),
                span,
            )
        arg_nodes = node.args if node.target is None else (node.target, *node.args)
        fast = self.fast_call(function, arg_nodes, scope, span)
        if fast is not None:
            return fast
        args = [self.expr(a, scope) for a in arg_nodes]
        t = self.tmp()
        self.emit(f"{t} = {self.charged_call(function, arg_nodes, args, span)}", span)
        return t

    def charged_call(
        self, function: str, arg_nodes: tuple[ast.Expr, ...], args: list[str], span: Span
    ) -> str:
        """The Python expression calling ``function`` on ``args`` (local names or
        literals), through the budget as :func:`runtime.call_mode` says."""
        impl = self.const(FUNCTIONS[function])
        mode = call_mode(function, arg_nodes, self.in_body)
        if mode == "free":
            return f"{impl}({', '.join(args)})"
        cnt = self.meter(span)
        return f"{self.const(self.budget)}.{mode}({cnt}, {function!r}, {impl}, {', '.join(args)})"

    def fail(self, error: EvalError, span: Span) -> str:
        t = self.tmp()
        self.emit(f"{t} = {self.helper('_raise')}({self.const(error)})", span)
        return t

    def fast_call(
        self, function: str, arg_nodes: tuple[ast.Expr, ...], scope: dict[str, str], span: Span
    ) -> str | None:
        """Inline fast paths; ``None`` when the generic call is used."""
        if function in _COMPARE_OPS and len(arg_nodes) == 2:
            return self.compare(function, arg_nodes, scope, span)
        if function in ("_==_", "_!=_") and len(arg_nodes) == 2:
            return self.equality(function, arg_nodes, scope, span)
        if function in _ARITH_OPS and len(arg_nodes) == 2:
            return self.arith(function, arg_nodes, scope, span)
        if function == "!_" and len(arg_nodes) == 1:
            a = self.local(self.expr(arg_nodes[0], scope), span)
            t = self.tmp()
            self.emit(f"if {a} is True: {t} = False", span)
            self.emit(f"elif {a} is False: {t} = True", span)
            self.emit(f"else: {t} = {self.helper('_not')}({a})", span)
            return t
        if self.in_body and function not in ("matches", "size"):
            return None  # in comprehension bodies: the charged generic call
        if function == "@in" and len(arg_nodes) == 2:
            return self.membership(arg_nodes, scope, span)
        if function in ("contains", "startsWith", "endsWith") and len(arg_nodes) == 2:
            s = self.local(self.expr(arg_nodes[0], scope), span)
            x = self.expr(arg_nodes[1], scope)
            t = self.tmp()
            test = {
                "contains": f"{x} in {s}",
                "startsWith": f"{s}.startswith({x})",
                "endsWith": f"{s}.endswith({x})",
            }[function]
            both = (
                f"type({s}) is _str"
                if _is_str_literal(arg_nodes[1])
                else f"type({s}) is _str and type({x}) is _str"
            )
            self.emit(f"if {both}: {t} = {test}", span)
            self.emit(f"else: {t} = {self.const(FUNCTIONS[function])}({s}, {x})", span)
            return t
        if function == "matches" and len(arg_nodes) == 2:
            pattern = arg_nodes[1]
            if isinstance(pattern, ast.Literal) and type(pattern.value) is str:
                try:
                    regex = compile_regex(pattern.value)
                except EvalError:
                    return None
                s = self.local(self.expr(arg_nodes[0], scope), span)
                t = self.tmp()
                cnt = self.meter(span)
                # the cost of runtime.Budget.scan for `matches`, computed here once
                fixed, factor = len(pattern.value), cost_factor(regex)
                self.emit(f"if type({s}) is _str:", span)
                self.indent += 1
                self.charge(f"{fixed} + _len({s}) * {factor}", span, made=True)
                self.emit(f"{t} = {self.const(regex)}.search({s}) is not None", span)
                self.indent -= 1
                self.emit(
                    f"else: {t} = {self.const(self.budget)}.scan({cnt}, 'matches', "
                    f"{self.const(FUNCTIONS['matches'])}, {s}, {pattern.value!r})",
                    span,
                )
                return t
        if function in ("containsAny", "containsAll") and len(arg_nodes) == 2:
            words = _literal_strings(arg_nodes[1])
            if words:
                s = self.expr(arg_nodes[0], scope)
                t = self.tmp()
                joiner = " or " if function == "containsAny" else " and "
                test = joiner.join(f"{w!r} in {s}" for w in words)
                self.emit(f"if type({s}) is _str: {t} = {test}", span)
                self.emit(
                    f"else: {t} = {self.const(FUNCTIONS[function])}({s}, {self.const(list(words))})",
                    span,
                )
                return t
        if function == "size" and len(arg_nodes) == 1:
            a = self.expr(arg_nodes[0], scope)
            t = self.tmp()
            self.emit(
                f"{t} = _len({a}) if type({a}) in {self.const(_SIZED)} else {self.const(FUNCTIONS['size'])}({a})",
                span,
            )
            return t
        return None

    def compare(
        self, function: str, arg_nodes: tuple[ast.Expr, ...], scope: dict[str, str], span: Span
    ) -> str:
        a = self.expr(arg_nodes[0], scope)
        b = self.expr(arg_nodes[1], scope)
        op = _COMPARE_OPS[function]
        slow = self.charged_call(function, arg_nodes, [a, b], span)
        t = self.tmp()
        right = arg_nodes[1]
        if isinstance(right, ast.Literal) and type(right.value) is float:
            self.emit(f"if type({a}) is _float: {t} = {a} {op} {b}", span)
        elif isinstance(right, ast.Literal) and type(right.value) is int:
            self.emit(f"if type({a}) is _int: {t} = {a} {op} {b}", span)
        elif self.in_body:  # strings are charged there: numbers only inline
            self.emit(
                f"if type({a}) is type({b}) and type({a}) in {self.const(_NUMBERS)}: {t} = {a} {op} {b}",
                span,
            )
        elif _is_str_literal(right):
            self.emit(f"if type({a}) is _str: {t} = {a} {op} {b}", span)
        else:
            self.emit(
                f"if type({a}) is type({b}) and type({a}) in {self.const(_ORDERED)}: {t} = {a} {op} {b}",
                span,
            )
        self.emit(f"else: {t} = {slow}", span)
        return t

    def equality(
        self, function: str, arg_nodes: tuple[ast.Expr, ...], scope: dict[str, str], span: Span
    ) -> str:
        a = self.expr(arg_nodes[0], scope)
        b = self.expr(arg_nodes[1], scope)
        op = "==" if function == "_==_" else "!="
        t = self.tmp()
        right = arg_nodes[1]
        if isinstance(right, ast.Literal) and right.value is None:
            # never `'a' is None`: `is` with a literal is a SyntaxWarning.  Free even
            # in a comprehension body: comparing with null reads nothing.
            a = self.local(a, span)
            self.emit(f"{t} = {a} is {'' if op == '==' else 'not '}None", span)
            return t
        bool_literal = isinstance(right, ast.Literal) and type(right.value) is bool
        if bool_literal or (_is_str_literal(right) and not self.in_body):
            pytype = "_bool" if bool_literal else "_str"
            self.emit(f"if type({a}) is {pytype}: {t} = {a} {op} {b}", span)
        elif self.in_body and isinstance(right, ast.Literal):
            # in comprehension bodies strings are charged: numbers only inline
            number = _NUMBER_NAMES.get(type(right.value))
            if number is None:
                self.emit(f"{t} = {self.charged_call(function, arg_nodes, [a, b], span)}", span)
                return t
            self.emit(f"if type({a}) is {number}: {t} = {a} {op} {b}", span)
        else:
            simple = _SCALAR_EQ if self.in_body else _SIMPLE_EQ
            self.emit(
                f"if type({a}) is type({b}) and type({a}) in {self.const(simple)}: {t} = {a} {op} {b}",
                span,
            )
        if self.in_body:
            slow = self.charged_call(function, arg_nodes, [a, b], span)
        else:
            slow = f"{self.helper('_equals' if op == '==' else '_not_equals')}({a}, {b})"
        self.emit(f"else: {t} = {slow}", span)
        return t

    def arith(
        self, function: str, arg_nodes: tuple[ast.Expr, ...], scope: dict[str, str], span: Span
    ) -> str:
        a = self.expr(arg_nodes[0], scope)
        b = self.expr(arg_nodes[1], scope)
        op = _ARITH_OPS[function]
        t = self.tmp()
        self.emit(f"if type({a}) is _int and type({b}) is _int:", span)
        self.emit(f"    {t} = {a} {op} {b}", span)
        self.emit(f"    if {t} > {INT_MAX} or {t} < {INT_MIN}: {self.helper('_overflow')}()", span)
        self.emit(f"elif type({a}) is _float and type({b}) is _float: {t} = {a} {op} {b}", span)
        self.emit("else:", span)
        self.indent += 1
        slow = self.charged_call(function, arg_nodes, [a, b], span)
        self.emit(f"{t} = {slow}", span)
        self.indent -= 1
        return t

    def membership(self, arg_nodes: tuple[ast.Expr, ...], scope: dict[str, str], span: Span) -> str:
        a = self.expr(arg_nodes[0], scope)
        container = arg_nodes[1]
        t = self.tmp()
        strings = _literal_strings(container)
        if strings is not None and isinstance(container, ast.CreateList):
            c = self.const(frozenset(strings))
            self.emit(f"if type({a}) is _str: {t} = {a} in {c}", span)
            self.emit(f"else: {t} = {self.helper('_in')}({a}, {self.const(list(strings))})", span)
            return t
        c = self.expr(container, scope)
        self.emit(f"{t} = {self.helper('_in')}({a}, {c})", span)
        return t

    # -- comprehensions -------------------------------------------------------------------
    def comprehension(self, node: ast.Comprehension, scope: dict[str, str]) -> str:
        self.uses_iterations = True
        rng = self.expr(node.range, scope)
        kind = node.kind
        two = node.var2 is not None
        inner = dict(scope)
        var = self.tmp("_i")
        inner[node.var] = var
        loop_vars = var
        if two:
            var2 = self.tmp("_i")
            inner[node.var2] = var2  # type: ignore[index]  # var2 is set when two
            loop_vars = f"{var}, {var2}"
            seq = f"{self.helper('_range2')}({kind!r}, {rng})"
        else:
            seq = f"{self.helper('_range1')}({kind!r}, {rng})"
        t = self.tmp()
        span = node.span
        limit = self.limits.max_iterations
        if kind in ("all", "exists"):
            decisive = "True" if kind == "exists" else "False"
            other = "False" if kind == "exists" else "True"
            err = self.tmp("_err")
            self.emit(f"{t} = {other}", span)
            self.emit(f"{err} = None", span)
        elif kind == "exists_one":
            count = self.tmp("_n")
            self.emit(f"{count} = 0", span)
        elif kind == "transform_map":
            self.emit(f"{t} = {self.helper('_new_map')}({rng})", span)
        else:
            self.emit(f"{t} = []", span)
        self.emit(f"for {loop_vars} in {seq}:", span)
        self.indent += 1
        self.blocks += 1
        self.body_depth += 1
        # runtime.Budget.tick, inline
        self.emit("_cnt[1] += 1", span)
        self.emit(f"if _cnt[1] > {limit}: {self.helper('_iteration_limit')}({limit})", span)
        self.emit(f"_cnt[0] += {runtime.iteration_cost(node)}", span)
        self.emit(
            f"if _cnt[0] > {self.limits.max_cost}: {self.const(self.budget)}.over(_cnt)", span
        )
        if kind in ("all", "exists"):
            p = self.guarded(node.body, inner)
            self.emit(f"if {p} is {decisive}:", span)
            self.emit(f"    {t} = {decisive}", span)
            self.emit("    break", span)
            self.emit(
                f"if {p} is not {other} and {err} is None: {err} = {self.helper('_pred_error')}({kind!r}, {p})",
                span,
            )
        elif kind == "exists_one":
            p = self.local(self.expr(node.body, inner), span)
            self.emit(f"if {p} is True: {count} += 1", span)
            self.emit(f"elif {p} is not False: {self.helper('_noov')}('exists_one', {p})", span)
        else:
            flt = node.body if kind == "filter" else node.filter
            if flt is not None:
                k = self.local(self.expr(flt, inner), span)
                self.emit(f"if {k} is False: continue", span)
                self.emit(
                    f"if {k} is not True: {self.helper('_filter_error')}({kind!r}, {k})", span
                )
            if kind == "filter":
                self.emit(f"{t}.append({var})", span)
            else:
                v = self.expr(node.body, inner)
                if kind == "transform_map":
                    self.emit(f"{t}[{var}] = {v}", span)
                else:
                    self.emit(f"{t}.append({v})", span)
        self.body_depth -= 1
        self.blocks -= 1
        self.indent -= 1
        if kind in ("all", "exists"):
            self.emit(f"if {t} is {other} and {err} is not None: raise {err}", span)
        elif kind == "exists_one":
            self.emit(f"{t} = {count} == 1", span)
        return t

    # -- assembly -------------------------------------------------------------------------
    def build(self, tree: ast.Expr) -> tuple[str, dict[str, Any], dict[int, Span]]:
        main = self.fn
        main.params = ["act"]
        self.indent = 1
        result = self.expr(tree, {})
        self.emit(f"return {result}", tree.span)
        self.functions.append(main)
        lines: list[str] = []
        spans: dict[int, Span] = {}
        for fn in self.functions:
            if fn is main:
                lines.append("def _sf_eval(act=None):")
                lines.append("    try:")
                lines.append("        if act is None: act = {}")
                if self.uses_iterations:
                    lines.append("        _cnt = [0, 0]")
                elif self.uses_meter or len(self.functions) > 1:
                    lines.append("        _cnt = None")
            else:
                lines.append(f"def {fn.name}({', '.join(fn.params)}):")
            for indent, text, span in fn.lines:
                lines.append("    " * (indent + 1) + text)
                if span is not None:
                    spans[len(lines)] = span
            if fn is main:
                lines.append("    except BaseException as _e:")
                lines.append("        _err, _cause = _on_error(_e, act)")
                lines.append("        raise _err from _cause")
        bound = (
            set(self.consts)
            | self.helpers
            | {
                "_M",
                "_ONCE",
                "_EvalError",
                "_LimitError",
                "_KeyError",
                "_dict",
                "_str",
                "_int",
                "_float",
                "_bool",
                "_len",
            }
        )
        namespace = {name: _HELPERS[name] for name in sorted(bound) if name in _HELPERS}
        namespace.update(self.consts)
        return "\n".join(lines) + "\n", namespace, spans


_ORDERED: Final = frozenset({int, float, str})
_SIMPLE_EQ: Final = frozenset({int, float, str, bool})
#: What comparisons inline inside comprehension bodies (strings are charged there).
_SCALAR_EQ: Final = frozenset({int, float, bool})
_NUMBERS: Final = frozenset({int, float})
_NUMBER_NAMES: Final[dict[type, str]] = {int: "_int", float: "_float"}
_SIZED: Final = frozenset({str, list, dict, bytes, tuple})


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _flatten(node: ast.Expr, function: str, out: list[ast.Expr]) -> None:
    if isinstance(node, ast.Call) and node.function == function and node.target is None:
        for arg in node.args:
            _flatten(arg, function, out)
    else:
        out.append(node)


def _literal_strings(node: ast.Expr) -> tuple[str, ...] | None:
    if isinstance(node, ast.CreateList) and all(
        isinstance(e, ast.Literal) and type(e.value) is str for e in node.elements
    ):
        return tuple(e.value for e in node.elements if isinstance(e, ast.Literal))
    return None


def _is_str_literal(node: ast.Expr) -> bool:
    return isinstance(node, ast.Literal) and type(node.value) is str


#: Compiled fast paths by source, shared by the expressions of one engine:
#: source -> (code object, the source, kept once)
CodeCache = dict[str, tuple[CodeType, str]]


def compile_ast(
    tree: ast.Expr, limits: Limits, name: str, codes: CodeCache | None = None
) -> Callable[..., Any]:
    """Compile ``tree`` into a function ``evaluate(activation=None) -> value``.

    When the expression is eligible (:mod:`socialflow.cel.fastpath`), the
    function is its fast path, which hands the evaluations it cannot decide to
    the general code, compiled on first use (:class:`Deferred`); otherwise it is
    the general code.  Generated source is registered in :mod:`linecache` under the file name it
    is compiled with (see :func:`_filename`), so tracebacks and ``pdb`` show
    the generated lines; :func:`generated_source` returns it.
    ``codes``, when given, is shared by the expressions of one engine: a
    fast path's source depends only on the expression's shape (its literals are
    bound constants), so rules written alike are compiled once.
    """
    fast = fast_path(tree, limits)
    if fast is not None:
        source, namespace = fast
        general = Deferred(tree, limits, name, compile_general)
        namespace["_general"] = general
        cached = codes.get(source) if codes is not None else None
        if cached is None:
            filename = _filename("fast path", source)
            try:
                code = compile(source, filename, "exec")
            except (SyntaxError, RecursionError, MemoryError):
                pass  # too deeply nested for Python's parser: the general code alone
            else:
                linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
                cached = (code, source)
                if codes is not None:
                    codes[source] = cached
        if cached is not None:
            exec(cached[0], namespace)
            evaluate = namespace["_sf_eval"]
            evaluate.__socialflow_source__ = cached[1]
            evaluate.__socialflow_general__ = general
            return evaluate  # type: ignore[no-any-return]  # exec's namespace holds Any
    return compile_general(tree, limits, name)


class Deferred:
    """A compiled expression built when first called: ``build(tree, limits, name)``
    (:func:`compile_general` for a fast path's general code, :func:`compile_ast`
    for a condition rarely needed).  Building twice in a race is harmless: both
    results are the same function."""

    __slots__ = ("_build", "_fn", "_limits", "_name", "_tree")

    def __init__(
        self,
        tree: ast.Expr,
        limits: Limits,
        name: str,
        build: Callable[[ast.Expr, Limits, str], Callable[..., Any]],
    ) -> None:
        self._tree = tree
        self._limits = limits
        self._name = name
        self._build = build
        self._fn: Callable[..., Any] | None = None

    def function(self) -> Callable[..., Any]:
        """The compiled function (built now if it was not yet)."""
        fn = self._fn
        if fn is None:
            fn = self._fn = self._build(self._tree, self._limits, self._name)
        return fn

    @property
    def built(self) -> bool:
        return self._fn is not None

    def __call__(self, act: Any = None) -> Any:
        fn = self._fn
        if fn is None:
            fn = self.function()
        return fn(act)


def generated_source(evaluate: Callable[..., Any]) -> str:
    """The generated Python source behind a compiled ``evaluate``: the fast path
    (if any) followed by the general code (compiled now if it was not yet)."""
    source: str = getattr(evaluate, "__socialflow_source__", "")
    general = getattr(evaluate, "__socialflow_general__", None)
    if isinstance(general, Deferred):
        source += "\n" + generated_source(general.function())
    return source


def compile_general(tree: ast.Expr, limits: Limits, name: str) -> Callable[..., Any]:
    """The general code of ``tree`` (every case, with errors located)."""
    gen = _Gen(limits, name)
    try:
        source, namespace, spans = gen.build(tree)
        filename = _filename(name, source)
        code = compile(source, filename, "exec")
    except (RecursionError, MemoryError):
        raise SourceLimitError(
            "nesting_too_deep", "expression is too deeply nested to compile", tree.span
        ) from None
    codes = frozenset(_code_objects(code))

    def on_error(
        error: BaseException, activation: Any
    ) -> tuple[BaseException, BaseException | None]:
        """What to raise instead of ``error``, and its ``__cause__``."""
        if isinstance(error, EvalError):
            if error.span is None:
                return error.with_span(_locate(error.__traceback__, codes, spans)), None
            return error, None
        if isinstance(error, (KeyboardInterrupt, SystemExit, GeneratorExit)):
            return error, None
        if not isinstance(activation, Mapping):
            return UsageError("the activation must be a mapping of variable names to values"), None
        if isinstance(error, RecursionError):
            return LimitExceededError("nesting_too_deep", "value nested too deeply"), None
        # Last resort: never leak a bare Python exception from evaluation, but keep
        # it as the cause so the traceback shows where it came from.
        message = f"unexpected failure: {type(error).__name__}: {error}"
        return EvalError("internal_error", message), error

    namespace["_on_error"] = on_error
    return _load(code, namespace, source, filename)


def _load(
    code: CodeType, namespace: dict[str, Any], source: str, filename: str
) -> Callable[..., Any]:
    # As attrs does for the methods it generates (attr/_make.py).
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(code, namespace)
    evaluate = namespace["_sf_eval"]
    evaluate.__socialflow_source__ = source  # debugging aid
    return evaluate  # type: ignore[no-any-return]  # exec's namespace holds Any


def _filename(name: str, source: str) -> str:
    """The file name generated code is compiled under: the program's name and a
    digest of the source, so it is stable across runs and distinct per program."""
    digest = hashlib.sha1(source.encode("utf-8"), usedforsecurity=False).hexdigest()[:12]
    return f"<socialflow cel {name} {digest}>"


def _code_objects(code: CodeType) -> list[CodeType]:
    out = [code]
    for const in code.co_consts:
        if isinstance(const, CodeType):
            out.extend(_code_objects(const))
    return out


def _locate(
    tb: TracebackType | None, codes: frozenset[CodeType], spans: dict[int, Span]
) -> Span | None:
    found: Span | None = None
    while tb is not None:
        if tb.tb_frame.f_code in codes:
            found = spans.get(tb.tb_lineno, found)
        tb = tb.tb_next
    return found
