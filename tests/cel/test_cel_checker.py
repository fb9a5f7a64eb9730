"""The optional CEL type checker (:mod:`socialflow.cel.checker`, :mod:`socialflow.cel.types`).

Behaviour is tested through ``sf.cel.compile(text, declarations)``; the
checker's own contract (``check``, ``format_checked``, ``parse_type``) is
pinned down directly.  The property tests check that the checker accepts every
well-typed expression a type-directed generator builds, that the value such an
expression evaluates to has the type the checker inferred, and that type text
round-trips.
"""

from __future__ import annotations

import doctest
import json
import os
import pickle
import subprocess
import sys
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import socialflow as sf
from socialflow.cel.checker import SIGNATURES, check, check_expr, format_checked, unparse
from socialflow.cel.functions import FUNCTIONS
from socialflow.cel.parser import parse
from socialflow.cel.types import (
    BOOL,
    DOUBLE,
    DURATION,
    DYN,
    INT,
    NULL,
    STRING,
    TIMESTAMP,
    TYPE,
    UINT,
    CelType,
    DynType,
    ListType,
    MapType,
    ObjectType,
    PrimitiveType,
    TypeType,
    format_type,
    is_assignable,
    parse_type,
)
from socialflow.cel.values import Type, UInt
from socialflow.errors import CheckError, Severity, UsageError

AUTHOR = ObjectType("Author", {"handle": STRING, "followers": INT, "verified": BOOL})
MESSAGE = ObjectType(
    "Message",
    (
        ("id", STRING),
        ("channel", STRING),
        ("text", STRING),
        ("sentiment", DOUBLE),
        ("tags", ListType(STRING)),
        ("author", AUTHOR),
        ("received_at", TIMESTAMP),
        ("meta", MapType(STRING, DYN)),
    ),
)
DECLS: dict[str, CelType | str] = {
    "msg": MESSAGE,
    "now": "timestamp",
    "i": "int",
    "u": "uint",
    "f": "double",
    "s": "string",
    "b": "bytes",
    "ok": "bool",
    "l": "list(int)",
    "ls": "list(string)",
    "m": "map(string, int)",
    "mi": "map(int, string)",
    "d": "dyn",
    "ts": "timestamp",
    "du": "duration",
    "n": "null_type",
    "t": "type",
}

MESSAGE_VALUE = {
    "id": "t1",
    "channel": "twitter",
    "text": "I want a refund now",
    "sentiment": -0.8,
    "tags": ["vip"],
    "author": {"handle": "@a", "followers": 10, "verified": False},
    "received_at": datetime(2026, 11, 23, 10, tzinfo=UTC),
    "meta": {"source": "api"},
}
ACTIVATION: dict[str, Any] = {
    "msg": MESSAGE_VALUE,
    "now": datetime(2026, 11, 23, 11, 30, tzinfo=UTC),
    "i": 3,
    "u": UInt(4),
    "f": 2.5,
    "s": "Hello World",
    "b": b"xy",
    "ok": True,
    "l": [1, 2, 3],
    "ls": ["a", "b"],
    "m": {"a": 1, "b": 2},
    "mi": {1: "one"},
    "d": 7,
    "ts": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    "du": timedelta(hours=1, minutes=30),
    "n": None,
    "t": Type("int"),
}


FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "cel"


def type_cases(section: str) -> list[tuple[str, str]]:
    """The ``EXPRESSION => TYPE`` cases of ``[section]`` in ``tests/fixtures/cel/types.txt``."""
    cases: list[tuple[str, str]] = []
    current = None
    for raw in (FIXTURES / "types.txt").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
            continue
        if current == section:
            text, _, expected = line.partition(" => ")
            cases.append((text, expected.split("  #")[0].strip()))
    assert cases, f"no cases in section [{section}]"
    return cases


def type_of(text: str, declarations: Mapping[str, CelType | str] = DECLS) -> str:
    """The result type of ``text``, checked through the public API."""
    program = sf.cel.compile(text, declarations=declarations)
    return format_type(program.result_type)


def errors_of(text: str, declarations: Mapping[str, CelType | str] = DECLS) -> CheckError:
    with pytest.raises(CheckError) as info:
        sf.cel.compile(text, declarations=declarations)
    return info.value


# -- well-typed expressions ---------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), type_cases("well_typed"))
def test_well_typed_expressions(text: str, expected: str) -> None:
    assert type_of(text) == expected


def test_identifiers_resolve_to_declarations_then_type_names() -> None:
    assert type_of("int", {"int": "string"}) == "string"  # a declaration shadows a type name
    assert type_of("x", {"x": "map(string, list(bool))"}) == "map(string, list(bool))"
    assert type_of("x", {"x": parse_type("any")}) == "dyn"


def test_dotted_declarations_resolve_by_longest_prefix() -> None:
    decls: dict[str, CelType | str] = {"a.b.c": "string", "a.b": "map(string, int)"}
    assert type_of("a.b.c", decls) == "string"
    assert type_of("a.b.d", decls) == "int"
    assert type_of("has(a.b.c)", decls) == "bool"
    error = errors_of("a.x", decls)
    assert [d.message for d in error.diagnostics] == ["undeclared reference to `a.x`"]


# -- dyn propagation ----------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), type_cases("dyn"))
def test_dyn_checks_leniently(text: str, expected: str) -> None:
    assert type_of(text) == expected


def test_dyn_still_rejects_impossible_arguments() -> None:
    error = errors_of("d.contains(1)")
    assert error.diagnostics[0].message == (
        "no matching overload for `contains` applied to (dyn, int)"
    )


# -- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code", "message", "help_text"),
    [
        (
            "mgs.text",
            "undeclared_reference",
            "undeclared reference to `mgs`",
            "did you mean `msg`?",
        ),
        (
            "nwo > ts",
            "undeclared_reference",
            "undeclared reference to `nwo`",
            "did you mean `now`?",
        ),
        ("zzzzzz", "undeclared_reference", "undeclared reference to `zzzzzz`", None),
        (
            "dyn",
            "undeclared_reference",
            "undeclared reference to `dyn`",
            "`dyn` is a function: write `dyn(x)`",
        ),
        (
            "trim",
            "undeclared_reference",
            "undeclared reference to `trim`",
            "`trim` is a method: write `x.trim(...)`",
        ),
        ("fooBar(1)", "undeclared_function", "undeclared function `fooBar`", None),
        (
            "s.lower()",
            "undeclared_function",
            "undeclared function `lower`",
            "CEL's name for it is `lowerAscii`: write `s.lowerAscii()`",
        ),
        (
            "len(l)",
            "undeclared_function",
            "undeclared function `len`",
            "CEL's name for it is `size`: write `size(l)`",
        ),
        (
            "s.startswith('a')",
            "undeclared_function",
            "undeclared function `startswith`",
            "CEL's name for it is `startsWith`: write `s.startsWith('a')`",
        ),
        (
            "s.lowerAsci()",
            "undeclared_function",
            "undeclared function `lowerAsci`",
            "did you mean `lowerAscii`?",
        ),
        (
            "s.containsany(['a'])",
            "undeclared_function",
            "undeclared function `containsany`",
            "did you mean `containsAny`?",
        ),
        ("sizee(s)", "undeclared_function", "undeclared function `sizee`", "did you mean `size`?"),
        (
            "1 + 'a'",
            "no_matching_overload",
            "cannot apply `+` to int and string",
            "convert one side: `1 + int('a')` or `string(1) + 'a'`",
        ),
        (
            "'a' == 1",
            "no_matching_overload",
            "cannot compare string with int using `==`",
            "convert one side: `'a' == string(1)` or `int('a') == 1`",
        ),
        (
            "[1] == ['a']",
            "no_matching_overload",
            "cannot compare list(int) with list(string) using `==`",
            None,
        ),
        (
            "1 == null",
            "no_matching_overload",
            "cannot compare int with null_type using `==`",
            None,
        ),
        (
            "i < s",
            "no_matching_overload",
            "cannot compare int with string using `<`",
            "convert one side: `i < int(s)` or `string(i) < s`",
        ),
        (
            "l < l",
            "no_matching_overload",
            "cannot compare list(int) with list(int) using `<`",
            None,
        ),
        (
            "ok && 1",
            "no_matching_overload",
            "`&&` needs bool operands, not bool and int",
            None,
        ),
        ("!i", "no_matching_overload", "`!` needs a bool, not int", None),
        ("-u", "no_matching_overload", "cannot negate uint with `-`", None),
        (
            "f % 2.0",
            "no_matching_overload",
            "cannot apply `%` to double and double",
            None,
        ),
        (
            "i ? 1 : 2",
            "no_matching_overload",
            "the condition before `?` must be a bool, not int",
            None,
        ),
        (
            "ok ? 1 : 'a'",
            "no_matching_overload",
            "the two branches of `? :` differ: int and string",
            None,
        ),
        (
            "'a' in l",
            "no_matching_overload",
            "cannot look for string `in` list(int)",
            None,
        ),
        (
            "1 in s",
            "no_matching_overload",
            "cannot look for int `in` string",
            "to look for text in a string, write `s.contains(string(1))`",
        ),
        (
            "l['a']",
            "no_matching_overload",
            "cannot index list(int) with string",
            None,
        ),
        (
            "m[1]",
            "no_matching_overload",
            "cannot index map(string, int) with int",
            None,
        ),
        (
            "s[0]",
            "no_matching_overload",
            "cannot index string with int",
            None,
        ),
        (
            "size(1)",
            "no_matching_overload",
            "no matching overload for `size` applied to (int)",
            "expected one of `size(string)`, `size(bytes)`, `size(list(A))` or `size(map(K, V))`",
        ),
        (
            "s.containsAny('a')",
            "no_matching_overload",
            "no matching overload for `containsAny` applied to (string, string)",
            "expected `string.containsAny(list(string))`",
        ),
        (
            "s.contains(1)",
            "no_matching_overload",
            "no matching overload for `contains` applied to (string, int)",
            "expected `string.contains(string)`",
        ),
        (
            "s.split()",
            "no_matching_overload",
            "no matching overload for `split` applied to (string)",
            "expected one of `string.split(string)` or `string.split(string, int)`",
        ),
        (
            "ts.getHours(1)",
            "no_matching_overload",
            "no matching overload for `getHours` applied to (timestamp, int)",
            "expected one of `timestamp.getHours()`, `timestamp.getHours(string)` or "
            "`duration.getHours()`",
        ),
        (
            "du.getFullYear()",
            "no_matching_overload",
            "no matching overload for `getFullYear` applied to (duration)",
            "expected one of `timestamp.getFullYear()` or `timestamp.getFullYear(string)`",
        ),
        (
            "int(l)",
            "no_matching_overload",
            "no matching overload for `int` applied to (list(int))",
            None,
        ),
        (
            "i.string()",
            "no_matching_overload",
            "`string` is a function, not a method: write `string(x)`",
            None,
        ),
        (
            "contains(s, 'a')",
            "no_matching_overload",
            "`contains` is a method: write `x.contains(...)`",
            None,
        ),
        (
            "l.all(x)",
            "no_matching_overload",
            "wrong number of arguments for macro `all` (1 argument)",
            "write `r.all(x, p)` or `r.all(i, v, p)`",
        ),
        (
            "has(msg.text, 1)",
            "no_matching_overload",
            "wrong number of arguments for macro `has` (2 arguments)",
            "write `has(a.b)`",
        ),
        (
            "l.all(x, x)",
            "no_matching_overload",
            "the predicate of `all` must be a `bool`, not `int`",
            None,
        ),
        (
            "l.filter(x, 'yes')",
            "no_matching_overload",
            "the predicate of `filter` must be a `bool`, not `string`",
            None,
        ),
        (
            "l.map(x, 1, x)",
            "no_matching_overload",
            "the predicate of `map` must be a `bool`, not `int`",
            None,
        ),
        (
            "i.all(x, true)",
            "no_matching_overload",
            "no matching overload for `all` applied to (int)",
            None,
        ),
        (
            "s.transformList(i, v, v)",
            "no_matching_overload",
            "no matching overload for `transformList` applied to (string)",
            None,
        ),
        (
            "msg.sentimnet",
            "undeclared_field",
            "type `Message` has no field `sentimnet`",
            "did you mean `sentiment`?",
        ),
        (
            "msg.author.folowers > 1",
            "undeclared_field",
            "type `Author` has no field `folowers`",
            "did you mean `followers`?",
        ),
        (
            "has(msg.author.handel)",
            "undeclared_field",
            "type `Author` has no field `handel`",
            "did you mean `handle`?",
        ),
        (
            "msg['txt']",
            "undeclared_field",
            "type `Message` has no field `txt`",
            "did you mean `text`?",
        ),
        ("msg.zzzzzzzz", "undeclared_field", "type `Message` has no field `zzzzzzzz`", None),
        ("i.foo", "invalid_select", "type `int` does not support field selection (`.foo`)", None),
        (
            "has(l.foo)",
            "invalid_select",
            "type `list(int)` does not support field selection (`.foo`)",
            None,
        ),
        (
            "mi.foo",
            "invalid_select",
            "type `map(int, string)` does not support field selection (`.foo`)",
            "index a map with `m[key]`",
        ),
        (
            "{1.5: 'a'}",
            "invalid_argument",
            "unsupported map key type `double`",
            "map keys are int, uint, bool or string",
        ),
    ],
)
def test_errors(text: str, code: str, message: str, help_text: str | None) -> None:
    error = errors_of(text)
    assert len(error.diagnostics) == 1, error
    (diagnostic,) = error.diagnostics
    assert diagnostic.severity is Severity.ERROR
    assert diagnostic.code == code
    assert diagnostic.message == message
    assert diagnostic.help == help_text
    assert diagnostic.span is not None
    # message style: lowercase start (or user text), no final period, one line
    assert not message.endswith(".")
    assert "\n" not in message
    assert message[0].islower() or message[0] == "`"


def test_error_spans_point_at_the_faulty_node() -> None:
    error = errors_of("ok && msg.author.folowers > 1")
    (diagnostic,) = error.diagnostics
    assert diagnostic.span is not None
    assert diagnostic.span.text() == "msg.author.folowers"
    assert str(error) == (
        "<expr>:1:7: error[undeclared_field]: type `Author` has no field `folowers`\n"
        "  |\n"
        "1 | ok && msg.author.folowers > 1\n"
        "  |       ^^^^^^^^^^^^^^^^^^^\n"
        "   = help: did you mean `followers`?"
    )


def test_rendered_error_names_the_source() -> None:
    with pytest.raises(CheckError) as info:
        sf.cel.compile("x + 'a'", {"x": "int"}, name="rules.sf")
    assert str(info.value).splitlines()[0] == (
        "rules.sf:1:1: error[no_matching_overload]: cannot apply `+` to int and string"
    )


def test_all_errors_are_collected_in_source_order() -> None:
    error = errors_of("mgs.text + 1 == 'a' && l.all(x, x.foo) || fooBar() || msg.txet")
    assert [(d.code, d.span.text() if d.span else None) for d in error.diagnostics] == [
        ("undeclared_reference", "mgs"),
        ("invalid_select", "x.foo"),
        ("undeclared_function", "fooBar()"),
        ("undeclared_field", "msg.txet"),
    ]
    assert "undeclared reference to `mgs`" in str(error)
    assert "type `Message` has no field `txet`" in str(error)


def test_an_error_is_reported_once_not_again_by_every_enclosing_node() -> None:
    error = errors_of("size(nope + 1) * 2 > 3 && [nope].all(x, x) ? 1 : 2")
    assert [d.message for d in error.diagnostics] == [
        "undeclared reference to `nope`",
        "undeclared reference to `nope`",
    ]


def test_suggestions_are_deterministic_and_close() -> None:
    # `ab` and `ba` are both one edit from `aa`: the alphabetically first wins
    error = errors_of("aa", {"ba": "int", "ab": "int"})
    assert error.diagnostics[0].help == "did you mean `ab`?"
    # a swap of neighbouring letters is one edit
    assert errors_of("mgs").diagnostics[0].help == "did you mean `msg`?"
    # nothing within two edits: no suggestion
    assert errors_of("abcdef", {"uvwxyz": "int"}).diagnostics[0].help is None
    # a one-letter name never gets a one-letter suggestion
    assert errors_of("y", {"x": "int"}).diagnostics[0].help is None
    # comprehension variables in scope are candidates too
    assert errors_of("l.all(item, itme > 0)").diagnostics[0].help == "did you mean `item`?"


_DETERMINISM_SCRIPT = """
import socialflow as sf
from socialflow.cel.checker import format_checked
from socialflow.cel.parser import parse
decls = {"msg": "map(string, dyn)", "ab": "int", "ba": "int", "n": "list(int)"}
try:
    sf.cel.compile("aa + mgs.x + n.map(x, x).foo + s.lowerAsci() + size(1) + {1.5: 2}", decls)
except sf.CheckError as e:
    print(e)
print(format_checked(parse("[n, {'a': 1, 2: ab}, d.map(x, x)]"), {**decls, "d": "dyn"}))
"""


def test_messages_do_not_depend_on_the_hash_seed() -> None:
    outputs = set()
    for seed in ("0", "1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        result = subprocess.run(
            [sys.executable, "-c", _DETERMINISM_SCRIPT],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        outputs.add(result.stdout)
    assert len(outputs) == 1
    (output,) = outputs
    assert "did you mean `ab`?" in output
    assert "did you mean `lowerAscii`?" in output


def test_check_error_pickles() -> None:
    error = errors_of("1 + 'a'")
    copy = pickle.loads(pickle.dumps(error))
    assert isinstance(copy, CheckError)
    assert str(copy) == str(error)


# -- object types -------------------------------------------------------------------------


def test_object_type_fields() -> None:
    assert type_of("msg.author") == "Author"
    assert type_of("msg.author.followers") == "int"
    assert type_of("msg.author.followers > 1000 && msg.author.verified") == "bool"
    assert type_of("msg.tags") == "list(string)"
    assert type_of("msg['author']['handle']") == "string"
    assert type_of("has(msg.author)") == "bool"
    assert type_of("has(msg.author.handle)") == "bool"
    assert type_of("msg.meta.anything") == "dyn"
    assert type_of("size(msg)") == "int"


def test_object_type_values() -> None:
    author = ObjectType("Author", [("handle", STRING)])
    assert author == ObjectType("Author", {"handle": STRING})
    assert author.field("handle") == STRING
    assert author.field("nope") is None
    assert author.field_names == ("handle",)
    assert str(author) == format_type(author) == "Author"
    assert pickle.loads(pickle.dumps(MESSAGE)) == MESSAGE
    assert len({author, ObjectType("Author", {"handle": STRING})}) == 1
    with pytest.raises(UsageError, match="must be a CEL type"):
        ObjectType("Bad", {"x": "int"})  # type: ignore[arg-type]  # the point of the test
    with pytest.raises(UsageError, match="declared twice"):
        ObjectType("Bad", [("x", INT), ("x", STRING)])


def test_object_types_in_parse_type() -> None:
    objects = {"Author": AUTHOR}
    assert parse_type("list(Author)", objects) == ListType(AUTHOR)
    assert parse_type("map(string, Author)", objects) == MapType(STRING, AUTHOR)
    with pytest.raises(UsageError, match=r"unknown type `Autor`.*did you mean `Author`\?"):
        parse_type("Autor", objects)


# -- comprehension scoping ----------------------------------------------------------------


def test_comprehension_variables_shadow_declarations() -> None:
    # `s` is a string outside, an int inside
    assert type_of("l.map(s, s + 1)") == "list(int)"
    assert type_of("s + l.map(s, s + 1).map(x, string(x)).join()") == "string"
    # the range is checked in the outer scope
    assert type_of("l.all(l, l > 0)") == "bool"
    assert type_of("ls.exists(x, l.exists(x, x > 1))") == "bool"
    # two variables: index/key and value
    assert type_of("ls.transformList(i, s, i + size(s))") == "list(int)"


def test_comprehension_variables_do_not_leak() -> None:
    error = errors_of("l.all(x, x > 0) && x > 0")
    assert [d.message for d in error.diagnostics] == ["undeclared reference to `x`"]
    assert error.diagnostics[0].span is not None
    assert error.diagnostics[0].span.start == len("l.all(x, x > 0) && ")


def test_nested_comprehensions_see_outer_variables() -> None:
    assert type_of("l.all(x, ls.exists(y, size(y) < x))") == "bool"
    assert type_of("[ls].map(inner, inner.map(y, y + 'x'))") == "list(list(string))"


# -- golden rendering ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "declarations", "expected"),
    [
        ("x.size()", {"x": "list(int)"}, "x~list(int).size()~int"),
        ("x.size() > 1", {"x": "list(int)"}, "(x~list(int).size()~int > 1~int)~bool"),
        (
            "msg.sentiment < -0.3 && 'refund' in msg.tags",
            {"msg": MESSAGE},
            "((msg~Message.sentiment~double < -0.3~double)~bool && "
            '("refund"~string in msg~Message.tags~list(string))~bool)~bool',
        ),
        (
            "l.map(x, x * 2u)",
            {"l": "list(uint)"},
            "l~list(uint).map(x, (x~uint * 2u~uint)~uint)~list(uint)",
        ),
        ("has(m.k)", {"m": "map(string, bool)"}, "has(m~map(string, bool).k)~bool"),
        (
            "!b ? -i : m['a']",
            {"b": "bool", "i": "int", "m": "map(string, int)"},
            '(!b~bool~bool ? -i~int~int : m~map(string, int)["a"~string]~int)~int',
        ),
        ("[1, 'a'][0]", {}, '[1~int, "a"~string]~list(dyn)[0~int]~dyn'),
        ("[b'\\x00', null]", {}, '[b"\\x00"~bytes, null~null_type]~list(dyn)'),
        ("type(1.0) == double", {}, "(type(1.0~double)~type(double) == double~type(double))~bool"),
    ],
)
def test_format_checked(text: str, declarations: dict[str, CelType | str], expected: str) -> None:
    assert format_checked(parse(text), declarations) == expected


@pytest.mark.parametrize(
    "text",
    [
        "1 + 2 * 3 - -4",
        "a.b.c[0].d(1, 'x', b'\\xff', 1u, 2.5e10, null, true)",
        "!(a || b) && c ? [1, 2] : {'k': [3], 4: {}}",
        "a.all(x, x > 0) && a.exists_one(x, x == 1) || a.filter(x, x).map(y, y, -y).size() == 1",
        "m.transformMap(k, v, k != '', v + 1).transformList(i, v, v)",
        "has(a.b) && a.`weird key` in ['\\n\\t\"\\\\']",
        "(-1).foo() + -(-a) + --1",
        "google.protobuf.Timestamp == type(x) && int != uint",
        "'\\u00e9\\U0001F600' + '\\x01'",
    ],
)
def test_unparse_round_trips(text: str) -> None:
    tree = parse(text)
    assert parse(unparse(tree)) == tree


# -- the checked program still evaluates --------------------------------------------------


@pytest.mark.parametrize("backend", ["compiled", "interpreted"])
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("msg.sentiment < -0.3 && msg.text.containsAny(['refund', 'broken'])", True),
        ("msg.author.followers > 5.5", True),
        ("msg.tags.exists(t, t == 'vip') ? msg.author.handle : 'nobody'", "@a"),
        ("now - msg.received_at > duration('1h')", True),
        ("l.map(s, s * 2).filter(x, x > 2)", [4, 6]),
        ("m.transformMap(k, v, v > 1, k + '!')", {"b": "b!"}),
        ("has(msg.author.handle) && !has(msg.meta.missing)", True),
        ("d + 1", 8),
        ("i == 3.0 && u == 4", True),
        ("type(msg.author) == map", True),
    ],
)
def test_checked_programs_evaluate(backend: str, text: str, expected: Any) -> None:
    program = sf.cel.compile(text, declarations=DECLS, backend=backend)  # type: ignore[arg-type]  # parametrized backend name
    assert program.evaluate(ACTIVATION) == expected
    assert conforms(program.evaluate(ACTIVATION), program.result_type)


def test_checked_program_pickles_with_its_declarations() -> None:
    program = sf.cel.compile("msg.author.handle + '!'", declarations={"msg": MESSAGE})
    copy = pickle.loads(pickle.dumps(program))
    assert copy.result_type == STRING
    assert copy.evaluate({"msg": MESSAGE_VALUE}) == "@a!"


def test_without_declarations_nothing_is_checked() -> None:
    program = sf.cel.compile("undeclared + 1")
    assert program.result_type is None
    assert program.evaluate({"undeclared": 1}) == 2


def test_check_and_check_expr_directly() -> None:
    tree = parse("x.filter(y, y > 1).size()")
    assert check(tree, {"x": ListType(INT)}) == INT
    checked = check_expr(tree, {"x": "list(int)"})
    assert checked.type == INT
    assert checked.type_of(tree) == INT
    assert [str(o) for o in checked.overloads_of(tree)] == ["size(list(A)) -> int"]
    plus = parse("d + 1")
    overloads = check_expr(plus, {"d": "dyn"}).overloads_of(plus)
    assert [str(o) for o in overloads] == ["_+_(int, int) -> int"]


def test_bad_declarations_are_usage_errors() -> None:
    with pytest.raises(UsageError, match=r"declaration of `x`: invalid CEL type `lst\(int\)`"):
        sf.cel.compile("x", {"x": "lst(int)"})
    with pytest.raises(UsageError, match="must be a CEL type or its text"):
        sf.cel.compile("x", {"x": int})
    with pytest.raises(UsageError, match="must be a mapping"):
        check(parse("x"), ["x"])  # type: ignore[arg-type]  # the point of the test


@pytest.mark.parametrize("module", ["socialflow.cel.checker", "socialflow.cel.types"])
def test_docstring_examples(module: str) -> None:
    failed, attempted = doctest.testmod(sys.modules[module])
    assert attempted > 0
    assert failed == 0


def test_every_runtime_function_has_a_signature() -> None:
    assert sorted(set(FUNCTIONS) - set(SIGNATURES)) == []


# -- parse_type / format_type -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("int", INT),
        ("uint", UINT),
        ("double", DOUBLE),
        ("bool", BOOL),
        ("string", STRING),
        ("bytes", PrimitiveType("bytes")),
        ("null_type", NULL),
        ("dyn", DYN),
        ("any", DYN),
        ("type", TYPE),
        ("type(int)", TypeType(INT)),
        ("timestamp", TIMESTAMP),
        ("duration", DURATION),
        ("google.protobuf.Timestamp", TIMESTAMP),
        ("google.protobuf.Duration", DURATION),
        ("list(int)", ListType(INT)),
        (" map ( string ,list( any ) ) ", MapType(STRING, ListType(DYN))),
        ("map(dyn, map(int, bool))", MapType(DYN, MapType(INT, BOOL))),
    ],
)
def test_parse_type(text: str, expected: CelType) -> None:
    assert parse_type(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "expected a type name, found the end of the text"),
        ("lst(int)", "unknown type `lst` (did you mean `list`?)"),
        ("integer", "unknown type `integer`"),
        ("null", "unknown type `null` (did you mean `null_type`?)"),
        ("list", "`list` needs type arguments (write `list(dyn)`)"),
        ("map", "`map` needs type arguments (write `map(string, dyn)`)"),
        ("list(int", "expected `)`, found the end of the text"),
        ("list(int, string)", "`list` takes 1 type argument"),
        ("map(string)", "expected `,`, found `)` at position 11"),
        (
            "map(double, int)",
            "`double` cannot be a map key type (map keys are int, uint, bool, string or dyn)",
        ),
        ("int int", "unexpected `int` at position 5"),
        ("list()", "expected a type name, found `)` at position 6"),
        ("int?", "unexpected `?` at position 4"),
    ],
)
def test_parse_type_errors(text: str, message: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_type(text)
    assert str(info.value) == f"invalid CEL type `{text}`: {message}"


def test_parse_type_rejects_non_strings() -> None:
    with pytest.raises(UsageError, match="must be given as a string"):
        parse_type(1)  # type: ignore[arg-type]  # the point of the test


def test_str_of_a_type_is_its_text() -> None:
    assert str(MapType(STRING, ListType(TIMESTAMP))) == "map(string, list(timestamp))"
    assert str(TypeType(INT)) == "type(int)"
    assert str(DYN) == "dyn"
    assert TIMESTAMP.name == "google.protobuf.Timestamp"


def test_is_assignable() -> None:
    assert is_assignable(INT, INT)
    assert not is_assignable(INT, DOUBLE)
    assert is_assignable(DYN, INT)
    assert is_assignable(INT, DYN)
    assert is_assignable(ListType(INT), ListType(DYN))
    assert is_assignable(ListType(DYN), ListType(INT))
    assert not is_assignable(ListType(INT), ListType(STRING))
    assert is_assignable(MapType(STRING, DYN), MapType(STRING, INT))
    assert not is_assignable(MapType(STRING, INT), MapType(INT, INT))
    assert is_assignable(TYPE, TypeType(INT))
    assert not is_assignable(TypeType(INT), TypeType(STRING))
    assert is_assignable(AUTHOR, NULL)
    assert not is_assignable(NULL, AUTHOR)
    assert not is_assignable(AUTHOR, MESSAGE)


_KEY_TYPES: list[CelType] = [INT, UINT, BOOL, STRING, DYN]
_KEYS = st.sampled_from(_KEY_TYPES)
_LEAF_TYPES = st.sampled_from(
    [
        INT,
        UINT,
        DOUBLE,
        BOOL,
        STRING,
        PrimitiveType("bytes"),
        NULL,
        TIMESTAMP,
        DURATION,
        DYN,
        TYPE,
        AUTHOR,
    ]
)


def _compound(inner: st.SearchStrategy[CelType]) -> st.SearchStrategy[CelType]:
    return st.one_of(
        inner.map(ListType),
        st.tuples(_KEYS, inner).map(lambda kv: MapType(*kv)),
        inner.map(TypeType),
    )


cel_types = st.recursive(_LEAF_TYPES, _compound, max_leaves=6)


@given(cel_types)
def test_type_text_round_trips(t: CelType) -> None:
    text = format_type(t)
    assert parse_type(text, {"Author": AUTHOR}) == t
    assert str(t) == text
    assert is_assignable(t, t)
    assert is_assignable(t, DYN)
    assert is_assignable(DYN, t)
    # whitespace around punctuation is insignificant
    spaced = text.replace("(", " ( ").replace(",", " , ").replace(")", " ) ")
    assert parse_type(spaced, {"Author": AUTHOR}) == t


@given(cel_types)
def test_declared_variables_have_their_declared_type(t: CelType) -> None:
    assert check(parse("x"), {"x": t}) == t
    assert check(parse("[x, x]"), {"x": t}) == ListType(t)
    assert check(parse("{'k': x}"), {"x": t}) == MapType(STRING, t)
    if "Author" not in format_type(t):
        assert check(parse("x"), {"x": format_type(t)}) == t


# -- soundness: well-typed generated expressions ------------------------------------------


def conforms(value: Any, t: CelType) -> bool:
    """Does the runtime ``value`` have CEL type ``t``?"""
    match t:
        case DynType():
            return True
        case PrimitiveType(kind=kind):
            return {
                "int": lambda: type(value) is int,
                "uint": lambda: type(value) is UInt,
                "double": lambda: type(value) is float,
                "bool": lambda: type(value) is bool,
                "string": lambda: isinstance(value, str),
                "bytes": lambda: isinstance(value, bytes),
                "null_type": lambda: value is None,
                "timestamp": lambda: isinstance(value, datetime),
                "duration": lambda: isinstance(value, timedelta),
            }[kind]()
        case ListType(element=element):
            return isinstance(value, (list, tuple)) and all(conforms(x, element) for x in value)
        case MapType(key=key, value=item):
            return isinstance(value, Mapping) and all(
                conforms(k, key) and conforms(v, item) for k, v in value.items()
            )
        case TypeType():
            return isinstance(value, Type)
        case ObjectType():
            return isinstance(value, Mapping) and all(
                conforms(value[name], ft) for name, ft in t.fields if name in value
            )
    return False


#: (expression, type) building blocks: leaves per type, then templates that
#: combine sub-expressions of known types into one of the target type.
_LEAVES: dict[str, list[str]] = {
    "int": ["i", "-2", "0", "7", "size(s)", "msg.author.followers", "ts.getHours()", "d"],
    "uint": ["u", "3u", "uint(i)"],
    "double": ["f", "1.5", "-0.25", "msg.sentiment", "double(i)"],
    "bool": ["ok", "true", "false", "msg.author.verified", "has(msg.author)"],
    "string": ["s", "'ab'", "msg.text", "msg.author.handle", "string(i)"],
    "list(int)": ["l", "[]", "[1, 2]"],
    "list(string)": ["ls", "msg.tags", "['x', 'y']", "s.split(' ')"],
    "map(string, int)": ["m", "{'k': 1}", "{}"],
    "timestamp": ["ts", "now", "msg.received_at", "timestamp('2026-01-01T00:00:00Z')"],
    "duration": ["du", "duration('90s')", "(now - ts)"],
}
_TEMPLATES: dict[str, list[tuple[str, tuple[str, ...]]]] = {
    "int": [
        ("({} + {})", ("int", "int")),
        ("({} - {})", ("int", "int")),
        ("({} * {})", ("int", "int")),
        ("({} / {})", ("int", "int")),
        ("({} % {})", ("int", "int")),
        ("-{}", ("int",)),
        ("({} ? {} : {})", ("bool", "int", "int")),
        ("size({})", ("list(int)",)),
        ("size({})", ("map(string, int)",)),
        ("{}.size()", ("string",)),
        ("{}[0]", ("list(int)",)),
        ("{}['k']", ("map(string, int)",)),
        ("int({})", ("double",)),
        ("int({})", ("uint",)),
        ("{}.indexOf({})", ("string", "string")),
        ("{}.getMinutes()", ("duration",)),
        ("{}.getDayOfWeek('Europe/London')", ("timestamp",)),
        ("dyn({})", ("int",)),
    ],
    "uint": [("({} + {})", ("uint", "uint")), ("uint({})", ("double",))],
    "double": [
        ("({} * {})", ("double", "double")),
        ("({} + {})", ("double", "double")),
        ("double({})", ("int",)),
        ("({} ? {} : {})", ("bool", "double", "double")),
    ],
    "bool": [
        ("({} && {})", ("bool", "bool")),
        ("({} || {})", ("bool", "bool")),
        ("!{}", ("bool",)),
        ("({} < {})", ("int", "double")),
        ("({} >= {})", ("uint", "int")),
        ("({} == {})", ("double", "int")),
        ("({} != {})", ("string", "string")),
        ("({} == {})", ("list(int)", "list(int)")),
        ("({} in {})", ("int", "list(int)")),
        ("({} in {})", ("string", "map(string, int)")),
        ("({} in {})", ("string", "list(string)")),
        ("({} < {})", ("timestamp", "timestamp")),
        ("({} > {})", ("duration", "duration")),
        ("{}.contains({})", ("string", "string")),
        ("{}.containsAny({})", ("string", "list(string)")),
        ("{}.containsWord({})", ("string", "string")),
        ("{}.all(v, v > {})", ("list(int)", "int")),
        ("{}.exists(v, v == {})", ("list(string)", "string")),
        ("{}.exists_one(k, size(k) > {})", ("map(string, int)", "int")),
        ("has({}.author.handle)", ("msg",)),
    ],
    "string": [
        ("({} + {})", ("string", "string")),
        ("{}.lowerAscii()", ("string",)),
        ("{}.trim()", ("string",)),
        ("{}.replace('a', {})", ("string", "string")),
        ("{}.join(', ')", ("list(string)",)),
        ("string({})", ("int",)),
        ("string({})", ("double",)),
        ("string({})", ("timestamp",)),
        ("({} ? {} : {})", ("bool", "string", "string")),
    ],
    "list(int)": [
        ("({} + {})", ("list(int)", "list(int)")),
        ("{}.map(v, v + {})", ("list(int)", "int")),
        ("{}.filter(v, v > {})", ("list(int)", "int")),
        ("[{}, {}]", ("int", "int")),
        ("{}.map(v, size(v))", ("list(string)",)),
        ("{}.transformList(i, v, i * v)", ("list(int)",)),
    ],
    "list(string)": [
        ("{}.split({})", ("string", "string")),
        ("{}.map(v, string(v))", ("list(int)",)),
        ("m.filter(k, m[k] > {})", ("int",)),
        ("[{}]", ("string",)),
    ],
    "map(string, int)": [
        ("{{{}: {}}}", ("string", "int")),
        ("{}.transformMap(k, v, v * 2)", ("map(string, int)",)),
    ],
    "timestamp": [
        ("({} + {})", ("timestamp", "duration")),
        ("({} - {})", ("timestamp", "duration")),
    ],
    "duration": [
        ("({} + {})", ("duration", "duration")),
        ("({} - {})", ("timestamp", "timestamp")),
    ],
}
_FIXED = {"msg": "msg"}


def _expr(draw: st.DrawFn, t: str, depth: int) -> str:
    if t in _FIXED:
        return _FIXED[t]
    if depth <= 0 or draw(st.booleans()):
        return str(draw(st.sampled_from(_LEAVES[t])))
    template, parts = draw(st.sampled_from(_TEMPLATES[t]))
    return template.format(*(_expr(draw, p, depth - 1) for p in parts))


@st.composite
def typed_exprs(draw: st.DrawFn) -> tuple[str, str]:
    t = draw(st.sampled_from(sorted(_TEMPLATES)))
    return _expr(draw, t, 4), t


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(typed_exprs())
def test_well_typed_expressions_check_and_evaluate_to_their_type(case: tuple[str, str]) -> None:
    text, expected = case
    program = sf.cel.compile(text, declarations=DECLS)
    inferred = program.result_type
    assert is_assignable(parse_type(expected), inferred), (text, format_type(inferred))
    try:
        value = program.evaluate(ACTIVATION)
    except sf.EvalError:
        return  # division by zero, index out of range, overflow... are runtime errors
    assert conforms(value, inferred), (text, format_type(inferred), value)
    interpreted = sf.cel.compile(text, declarations=DECLS, backend="interpreted")
    assert interpreted.evaluate(ACTIVATION) == value


# -- the official conformance suite ---------------------------------------------------------

_CONFORMANCE_DIRS = [
    Path(__file__).resolve().parent / "conformance_data",  # vendored from google/cel-spec
    Path(__file__).resolve().parents[2] / "cel-conformance",
    Path(__file__).resolve().parents[1] / "conformance" / "data",
    Path(__file__).resolve().parents[3] / "shared" / "cel-conformance",
]
_CONFORMANCE = next((p for p in _CONFORMANCE_DIRS if (p / "basic.json").is_file()), None)
_PRIMITIVES = {
    "INT64": INT,
    "UINT64": UINT,
    "DOUBLE": DOUBLE,
    "BOOL": BOOL,
    "STRING": STRING,
    "BYTES": PrimitiveType("bytes"),
}


def _conformance_type(raw: Mapping[str, Any]) -> CelType:
    if "primitive" in raw:
        return _PRIMITIVES[raw["primitive"]]
    if "null" in raw:
        return NULL
    if "list_type" in raw:
        return ListType(_conformance_type(raw["list_type"]["elem_type"]))
    if "map_type" in raw:
        return MapType(
            _conformance_type(raw["map_type"]["key_type"]),
            _conformance_type(raw["map_type"]["value_type"]),
        )
    if raw.get("message_type") == "google.protobuf.Duration":
        return DURATION
    if raw.get("message_type") == "google.protobuf.Timestamp":
        return TIMESTAMP
    return DYN


_VALUE_TYPES: dict[str, CelType] = {
    "int": INT,
    "uint": UINT,
    "double": DOUBLE,
    "string": STRING,
    "bytes_b64": PrimitiveType("bytes"),
    "bool": BOOL,
    "null": NULL,
    "duration": DURATION,
    "timestamp": TIMESTAMP,
    "list": ListType(DYN),
    "map": MapType(DYN, DYN),
    "type": TYPE,
}


@pytest.mark.skipif(_CONFORMANCE is None, reason="cel-conformance data not found")
def test_conformance_expressions_that_cel_checks_type_check() -> None:
    assert _CONFORMANCE is not None
    failures: list[str] = []
    checked = 0
    for path in sorted(_CONFORMANCE.glob("*.json")):
        if path.name == "index.json":
            continue
        for section in json.loads(path.read_text("utf-8"))["sections"]:
            for test in section["tests"]:
                if test["disable_check"] or {"proto", "containers"} & set(test["needs"]):
                    continue
                decls: dict[str, CelType | str] = {
                    name: _VALUE_TYPES.get(next(iter(value)), DYN)
                    for name, value in (test.get("bindings") or {}).items()
                }
                for decl in test.get("type_env") or []:
                    if "ident" in decl:
                        decls[decl["name"]] = _conformance_type(decl["ident"]["type"])
                try:
                    tree = parse(test["expr"])
                except sf.ParseError:
                    continue
                checked += 1
                try:
                    result = check(tree, decls)
                except CheckError as e:
                    failures.append(f"{path.name} {test['name']}: {e.diagnostics[0].message}")
                    continue
                expected = test["expect"].get("value")
                if expected is not None:
                    value_type = _VALUE_TYPES.get(next(iter(expected)), DYN)
                    if not (
                        is_assignable(result, value_type)
                        or type(result) is type(value_type)  # list/map/type element detail
                    ):
                        failures.append(f"{path.name} {test['name']}: inferred {result}")
    assert checked > 1000
    assert failures == []
