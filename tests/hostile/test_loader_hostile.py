"""Hostile input for the loader: nothing leaks, nothing hangs.

Whatever text or path arrives, ``sf.loads``, ``sf.load`` and ``socialflow check``
end in socialflow's own errors (``ParseError``/``CheckError`` with a position
where there is one, ``UsageError`` for a path that cannot be a rule file), and
in time proportional to the text:

- the reproducers of each leak and hang, through the API and the command;
- the filesystem: broken links, FIFOs, devices, folders named ``*.sf``, files
  too large, paths that cannot exist;
- passes that were superlinear (role chains, misspelt names, calendars,
  workflows) under a CPU-time bound;
- a fuzz of the loader: mutated example files, generated deep nesting, and
  extreme numbers and durations in every numeric position.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import socialflow as sf
from socialflow.bundle import MAX_SOURCE_SIZE
from socialflow.cli import main

ROOT = Path(__file__).resolve().parents[2]
HEADER = "schema M { a: int, t?: string }\ninput msg: M\nqueue q\n"
DIGITS_4301 = "9" * 4301
TOO_LONG = "99999999999999999999d"


# --------------------------------------------------------------------------- #
# helpers


@contextlib.contextmanager
def cpu_under(seconds: float) -> Iterator[None]:
    """Fail when the block uses more than ``seconds`` of CPU time."""
    start = time.process_time()
    yield
    spent = time.process_time() - start
    assert spent < seconds, f"took {spent:.2f} s of CPU time (bound: {seconds} s)"


@contextlib.contextmanager
def no_hang(seconds: int = 10) -> Iterator[None]:
    """Turn a blocked call (a FIFO opened for reading) into a failure."""
    if not hasattr(signal, "SIGALRM"):
        yield
        return

    def hung(*_: Any) -> None:
        raise TimeoutError(f"blocked for {seconds} s")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def outcome(load: Callable[[], Any], what: str = "") -> sf.SourceError | None:
    """Run a load: ``None`` when it succeeds, the ``SourceError`` when it fails;
    anything else fails the test with the traceback and ``what`` was loaded."""
    try:
        load()
    except sf.SourceError as e:
        internal = [d for d in e.diagnostics if d.code == "internal_error"]
        assert not internal, f"{internal[0].message}\n--- input:\n{what[:2000]!r}"
        return e
    except Exception:
        pytest.fail(f"leaked:\n{traceback.format_exc()}\n--- input:\n{what[:2000]!r}")
    return None


def loads_error(text: str, name: str = "h.sf") -> sf.SourceError:
    error = outcome(lambda: sf.loads(text, name), text)
    assert error is not None, "loaded without an error"
    return error


def usage_error(load: Callable[[], Any]) -> str:
    try:
        load()
    except sf.UsageError as e:
        return str(e)
    except Exception:
        pytest.fail(f"not a UsageError:\n{traceback.format_exc()}")
    pytest.fail("no error")


def check(capsys: pytest.CaptureFixture[str], *paths: Path | str) -> tuple[int, str]:
    """``socialflow check PATH...`` in process: the status and standard error."""
    status = main(["check", *map(str, paths)])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return status, err


def first(error: sf.SourceError) -> tuple[str, str, str]:
    """Code, location and message of the first error (warnings come along too)."""
    d = next(d for d in error.diagnostics if d.severity is sf.Severity.ERROR)
    assert d.span is not None
    return d.code, d.span.location(), d.message


# --------------------------------------------------------------------------- #
# the reproducers: each through sf.loads, sf.load and `socialflow check`


def _chain_of_schemas(n: int) -> str:
    return (
        "".join(f"schema S{i} {{ a: S{i + 1} }}\n" for i in range(n))
        + f"schema S{n} {{ a: int }}\n"
    )


REPRODUCERS: list[tuple[str, str, str, str, str]] = [
    # id, text, code, line:col, message fragment
    (
        "list-type-1000-deep",
        "schema S { a: " + "list(" * 1000 + "int" + ")" * 1000 + " }\n",
        "nesting_too_deep",
        "1:175",
        "type nests deeper than 32 levels",
    ),
    (
        "2000-chained-schemas",
        _chain_of_schemas(2000),
        "nesting_too_deep",
        "1901:8",
        "values of schema `S1900` nest 101 levels deep",
    ),
    (
        "sla-duration",
        f"sla s {{ first_response {TOO_LONG} }}\n",
        "literal_out_of_range",
        "1:24",
        f"duration `{TOO_LONG}` is out of range",
    ),
    (
        "escalation-after",
        f"queue q\nescalation e {{\n  level 1 notify queue q\n  level 2 after {TOO_LONG} notify queue q\n}}\n",
        "literal_out_of_range",
        "4:17",
        "duration",
    ),
    (
        "repeat-after",
        f"queue q\nescalation e {{\n  level 1 notify queue q\n  repeat 2 after {TOO_LONG}\n}}\n",
        "literal_out_of_range",
        "4:18",
        "duration",
    ),
    (
        "workflow-timeout-after",
        f"workflow w {{\n  state a initial\n  state b final\n  timeout a after {TOO_LONG} to b\n}}\n",
        "literal_out_of_range",
        "4:19",
        "duration",
    ),
    (
        "precedence-4301-digits",
        f"{HEADER}rule r {{ precedence {DIGITS_4301} when true then route q }}\n",
        "literal_out_of_range",
        "4:21",
        "integer literal `99999999999999999999...` is out of range",
    ),
    (
        "precedence-2**63",
        f"{HEADER}rule r {{ precedence 9223372036854775808 then route q }}\n",
        "literal_out_of_range",
        "4:21",
        "integer literal `9223372036854775808` is out of range",
    ),
    (
        "precedence-below-int64",
        f"{HEADER}rule r {{ precedence -9223372036854775809 then route q }}\n",
        "literal_out_of_range",
        "4:21",
        "`-9223372036854775809`",
    ),
    (
        "level",
        f"queue q\nescalation e {{ level {DIGITS_4301} notify queue q }}\n",
        "literal_out_of_range",
        "2:22",
        "integer literal",
    ),
    (
        "repeat",
        f"queue q\nescalation e {{ level 1 notify queue q repeat 0x{'f' * 17} }}\n",
        "literal_out_of_range",
        "2:46",
        "integer literal",
    ),
    (
        "expect-version",
        "workflow w { state a initial }\n"
        f'test "t" {{ workflow w\n  start at "2026-01-01T00:00:00Z"\n  expect version {DIGITS_4301}\n}}\n',
        "literal_out_of_range",
        "4:18",
        "integer literal",
    ),
    (
        "cel-integer-5000-digits",
        f"{HEADER}rule r {{ when msg.a == {'9' * 5000} then route q }}\n",
        "literal_out_of_range",
        "4:24",
        "integer literal",
    ),
    (
        "cr-only-newlines",
        "// rules\rschema M { a: int }\rinput msg: M\rqueue q\rrule r { when msg.a = 1 then route q }\r",
        "syntax_error",
        "5:21",
        "equality is written `==`",
    ),
    (
        "crlf-newlines",
        "// rules\r\nschema M { a: int }\r\ninput msg: M\r\nqueue q\r\nrule r { when msg.a = 1 then route q }\r\n",
        "syntax_error",
        "5:21",
        "equality is written `==`",
    ),
    (
        "map-key-type",
        "schema M { a: map(list(int), int) }\ninput msg: M\n",
        "invalid_type",
        "1:19",
        "`list(int)` cannot be a map key type",
    ),
]


@pytest.mark.parametrize(
    ("text", "code", "where", "message"),
    [r[1:] for r in REPRODUCERS],
    ids=[r[0] for r in REPRODUCERS],
)
def test_reproducer_through_loads_load_and_check(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    text: str,
    code: str,
    where: str,
    message: str,
) -> None:
    with cpu_under(3):
        error = loads_error(text, "h.sf")
    assert first(error)[:2] == (code, f"h.sf:{where}")
    assert message in first(error)[2]

    path = tmp_path / "h.sf"
    path.write_bytes(text.encode("utf-8"))  # bytes: the \r stay as written
    with cpu_under(3):
        error = outcome(lambda: sf.load(path), text)
    assert error is not None
    assert first(error)[:2] == (code, f"{path}:{where}")

    with cpu_under(3):
        status, err = check(capsys, path)
    assert status == 2
    assert f"{path}:{where}: error[{code}]: " in err
    assert message in err


def test_a_cr_only_file_loads_like_its_lf_twin() -> None:
    text = "// rules\nschema M { a: int }\ninput msg: M\nqueue q\nrule r { when msg.a == 1 then route q }\n"
    lf = sf.loads(text, "lf.sf")
    cr = sf.loads(text.replace("\n", "\r"), "cr.sf")
    crlf = sf.loads(text.replace("\n", "\r\n"), "crlf.sf")
    assert [r.name for r in cr.program.rules] == [r.name for r in lf.program.rules] == ["r"]
    assert [r.name for r in crlf.program.rules] == ["r"]
    assert cr.program.rules[0].span.location() == "cr.sf:5:1"


def test_a_byte_order_mark_is_not_a_character() -> None:
    bundle = sf.loads("\ufeffqueue q\nrule r { then route q }\n", "bom.sf")
    assert bundle.program.rules[0].span.location() == "bom.sf:2:1"


@pytest.mark.parametrize("terms", [248, 300, 399, 1000, 5000])
@pytest.mark.parametrize("term", ["msg.a == 1", "false"])
def test_a_long_or_chain_loads_or_is_too_deep(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], terms: int, term: str
) -> None:
    # whether the CEL checker takes a chain this long is its business; the
    # constant-condition lint must not turn it into a RecursionError
    text = f"{HEADER}rule r {{ when {' || '.join([term] * terms)} then route q }}\n"
    with cpu_under(3):
        error = outcome(lambda: sf.loads(text, "or.sf"), text)
    if error is not None:
        assert [d.code for d in error.diagnostics if d.severity.value == "error"] == [
            "nesting_too_deep"
        ]
    path = tmp_path / "or.sf"
    path.write_text(text, encoding="utf-8")
    with cpu_under(3):
        status, err = check(capsys, path)
    assert status == (0 if error is None else 2)
    if error is not None:
        assert "error[nesting_too_deep]" in err


def test_a_deep_and_chain_in_two_conflicting_rules_is_not_analysed_recursively() -> None:
    chain = " && ".join(["msg.a == 1"] * 3000)
    text = f"{HEADER}queue q2\nrule r1 {{ when {chain} then route q }}\nrule r2 {{ when {chain} then route q2 }}\n"
    with cpu_under(3):
        error = loads_error(text)
    assert {d.code for d in error.diagnostics} <= {"nesting_too_deep", "conflicting_rules"}


def test_a_chain_of_schemas_under_the_depth_limit_loads_and_triages() -> None:
    from datetime import UTC, datetime

    n = 90
    text = (
        "".join(f"schema S{i} {{ a?: S{i + 1}, l: list(int) }}\n" for i in range(n))
        + f"schema S{n} {{ a: int }}\ninput msg: S0\nqueue q\n"
        + "rule r { when has(msg.a) then route q }\n"
    )
    with cpu_under(3):
        bundle = sf.loads(text)
    message: dict[str, Any] = {"a": 1}
    for _ in range(n):
        message = {"a": message, "l": [1]}
    assert bundle.triage(message, datetime(2026, 1, 1, tzinfo=UTC)).route == "q"


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("rule r { precedence 9223372036854775807 then route q }", True),
        ("rule r { precedence -9223372036854775808 then route q }", True),
        ("rule r { precedence 0x7fffffffffffffff then route q }", True),
        ("rule r { precedence 0x8000000000000000 then route q }", False),
        ("rule r { precedence 000000000000000000000000001 then route q }", True),
        ("sla s { first_response 36500d }\nrule r { then route q; sla s }", True),
        ("sla s { first_response 36500d1s }\nrule r { then route q; sla s }", False),
        ("sla s { first_response 36501d }\nrule r { then route q; sla s }", False),
        ("sla s { first_response 3153600000s }\nrule r { then route q; sla s }", True),
        ("sla s { first_response 3153600001s }\nrule r { then route q; sla s }", False),
        (
            "sla s { first_response 0000000000000000000000001h }\nrule r { then route q; sla s }",
            True,
        ),
    ],
)
def test_the_limits_are_exact(text: str, ok: bool) -> None:
    error = outcome(lambda: sf.loads(f"{HEADER}{text}\n", "l.sf"), text)
    if ok:
        assert error is None
    else:
        assert error is not None and first(error)[0] == "literal_out_of_range"


def test_a_schema_type_at_the_nesting_limit_loads() -> None:
    text = "schema S { a: " + "list(" * 32 + "int" + ")" * 32 + " }\ninput msg: S\n"
    assert sf.loads(text).program.schemas["S"].fields[0].type.count("list") == 32


# --------------------------------------------------------------------------- #
# encodings


def test_a_file_that_is_not_utf8_is_a_parse_error_at_the_byte(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "rules"
    folder.mkdir()
    path = folder / "latin1.sf"
    path.write_bytes("queue q\n\tqueue café\n".encode("latin-1"))
    for target in (path, folder):
        error = outcome(lambda target=target: sf.load(target))
        assert error is not None and isinstance(error, sf.ParseError)
        code, where, message = first(error)
        assert (code, where, message) == (
            "invalid_encoding",
            f"{path}:2:14",  # display columns: the tab counts four
            "byte `0xE9` is not valid UTF-8",
        )
        assert "save the file as UTF-8" in str(error)
    status, err = check(capsys, path)
    assert status == 2
    assert f"{path}:2:14: error[invalid_encoding]: byte `0xE9` is not valid UTF-8" in err
    assert "\ufffd" in err  # the snippet shows a replacement character, not the byte


def test_a_binary_file_is_refused_at_its_first_bad_byte(tmp_path: Path) -> None:
    path = tmp_path / "x.sf"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    error = outcome(lambda: sf.load(path))
    assert error is not None and first(error)[:2] == ("invalid_encoding", f"{path}:1:1")
    assert "`0x89`" in first(error)[2]


def test_lone_surrogates_in_text_are_parse_errors() -> None:
    assert first(loads_error("queue q\nqueue \udcff\n"))[::2] == (
        "invalid_encoding",
        "byte `0xFF` is not valid UTF-8",
    )
    assert first(loads_error('queue q "\ud800"\n'))[::2] == (
        "invalid_encoding",
        "lone surrogate `U+D800` is not a character",
    )


# --------------------------------------------------------------------------- #
# the filesystem

needs_symlinks = pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks")
needs_fifos = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs")
needs_dev_zero = pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A folder of rules that load, to which each test adds one hostile entry."""
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "a.sf").write_text("queue q\nrule r { then route q }\n", encoding="utf-8")
    return rules


def refused(capsys: pytest.CaptureFixture[str], target: Path | str, message: str) -> None:
    """``sf.load`` and ``socialflow check`` both refuse ``target`` with ``message``."""
    with no_hang(), cpu_under(2):
        assert message in usage_error(lambda: sf.load(target))
        status, err = check(capsys, target)
    assert status == 2
    assert message in err


@needs_symlinks
def test_a_broken_symlink_is_refused(capsys: pytest.CaptureFixture[str], folder: Path) -> None:
    link = folder / "x.sf"
    link.symlink_to(folder / "missing.sf")
    refused(capsys, folder, f"`{link}` is a broken symbolic link")
    refused(capsys, link, f"`{link}` is a broken symbolic link")


def test_a_folder_named_like_a_rule_file_is_scanned_not_read(folder: Path) -> None:
    inner = folder / "x.sf"
    inner.mkdir()
    (inner / "more.sf").write_text("queue q2\nrule r2 { then route q2 }\n", encoding="utf-8")
    bundle = sf.load(folder)
    assert [r.name for r in bundle.program.rules] == ["r", "r2"]
    empty = folder.parent / "empty"
    (empty / "y.sf").mkdir(parents=True)
    assert usage_error(lambda: sf.load(empty)) == f"no `.sf` files in folder `{empty}`"


@needs_symlinks
def test_a_link_to_a_folder_is_not_followed(folder: Path, tmp_path: Path) -> None:
    (folder / "loop").symlink_to(folder)  # a cycle, if it were followed
    (folder / "loop.sf").symlink_to(folder)
    assert [r.name for r in sf.load(folder).program.rules] == ["r"]


@needs_symlinks
def test_a_link_to_a_file_is_followed(folder: Path, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.txt"
    target.write_text("queue q3\nrule r3 { then route q3 }\n", encoding="utf-8")
    (folder / "linked.sf").symlink_to(target)
    assert [r.name for r in sf.load(folder).program.rules] == ["r", "r3"]


@needs_fifos
def test_a_fifo_is_refused_without_being_opened(
    capsys: pytest.CaptureFixture[str], folder: Path
) -> None:
    fifo = folder / "x.sf"
    os.mkfifo(fifo)
    refused(capsys, folder, f"`{fifo}` is a FIFO (named pipe), not a rule file")
    refused(capsys, fifo, f"`{fifo}` is a FIFO (named pipe), not a rule file")


@needs_symlinks
@needs_dev_zero
def test_a_link_to_dev_zero_is_refused(capsys: pytest.CaptureFixture[str], folder: Path) -> None:
    link = folder / "x.sf"
    link.symlink_to("/dev/zero")
    refused(capsys, folder, f"`{link}` is a device, not a rule file")
    refused(capsys, link, f"`{link}` is a device, not a rule file")
    refused(capsys, "/dev/zero", "`/dev/zero` is a device, not a rule file")


def test_a_file_over_the_size_limit_is_refused_unread(
    capsys: pytest.CaptureFixture[str], folder: Path
) -> None:
    big = folder / "big.sf"
    with big.open("wb") as handle:
        handle.truncate(MAX_SOURCE_SIZE + 1)  # sparse: nothing is written
    refused(capsys, big, f"`{big}` is larger than 10,485,760 bytes, the limit for a rule file")
    refused(capsys, folder, f"`{big}` is larger than 10,485,760 bytes")


def test_text_over_the_size_limit_is_refused() -> None:
    with cpu_under(2):
        error = loads_error(" " * (MAX_SOURCE_SIZE + 1), "big.sf")
    assert first(error)[:2] == ("source_too_long", "big.sf:1:1")


def test_text_at_the_size_limit_loads() -> None:
    text = "queue q\n" + " " * (MAX_SOURCE_SIZE - 8)
    with cpu_under(10):
        assert sf.loads(text).program.queues == {"q": None}


def test_paths_that_cannot_be_rule_files(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    missing = tmp_path / "missing.sf"
    refused(capsys, missing, f"no such file or folder: `{missing}`")
    refused(capsys, tmp_path / "a.sf" / "b.sf", "no such file or folder")
    assert "contains a NUL character" in usage_error(lambda: sf.load("a\0b.sf"))
    status, err = check(capsys, "a\0b.sf")
    assert status == 2 and "NUL" in err


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads everything")
def test_an_unreadable_file_or_folder_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], folder: Path
) -> None:
    locked = folder / "locked.sf"
    locked.write_text("queue z\n", encoding="utf-8")
    locked.chmod(0)
    try:
        refused(capsys, locked, f"cannot read `{locked}`: Permission denied")
    finally:
        locked.chmod(0o644)
    sub = folder / "sub"
    sub.mkdir()
    sub.chmod(0)
    try:
        refused(capsys, folder, f"cannot read folder `{sub}`: Permission denied")
    finally:
        sub.chmod(0o755)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: sf.load(b"rules.sf"), "not bytes"),
        (lambda: sf.load([1]), "not int"),
        (lambda: sf.load(None), "not NoneType"),
        (lambda: sf.loads(b"queue q"), "must be a string"),
        (lambda: sf.loads("queue q", name=1), "not int"),
        (lambda: sf.loads("queue q", limits={}), "socialflow.cel.Limits"),
    ],
    ids=["bytes-path", "int-path", "none", "bytes-text", "int-name", "bad-limits"],
)
def test_api_misuse_is_a_usage_error(call: Callable[[], Any], message: str) -> None:
    assert message in usage_error(call)


def test_a_deep_folder_tree_is_scanned(tmp_path: Path) -> None:
    current = tmp_path
    for _ in range(60):  # deeper than a recursive walk would like with a small stack
        current = current / "d"
    current.mkdir(parents=True)
    (current / "x.sf").write_text("queue q\n", encoding="utf-8")
    assert sf.load(tmp_path).program.queues == {"q": None}


# --------------------------------------------------------------------------- #
# passes that were superlinear


def _roles(n: int) -> str:
    perms = ", ".join(f"p{i}" for i in range(n + 1))
    chain = "".join(f"role r{i} extends r{i + 1} {{ p{i} }}\n" for i in range(n))
    return f"permission {perms}\n{chain}role r{n} {{ p{n} }}\n"


def test_5000_roles_in_a_chain_load_in_linear_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = _roles(5000)
    with cpu_under(2):
        bundle = sf.loads(text)
    assert len(bundle.program.roles["r0"]) == 5001
    assert bundle.program.roles["r5000"] == frozenset({"p5000"})
    path = tmp_path / "roles.sf"
    path.write_text(text, encoding="utf-8")
    # about 1 s here; late in a full run the collector's scans of the whole
    # session's heap are billed to the block too (3.2 s once in CI), while a
    # quadratic pass over 5,000 roles would take minutes
    with cpu_under(6):
        assert check(capsys, path)[0] == 0


def test_a_role_cycle_is_reported_once_with_its_chain() -> None:
    text = (
        "permission p\n"
        "role a extends b { p }\nrole b extends c { p }\nrole c extends a, d { p }\n"
        "role d extends d { p }\nrole e extends a { p }\n"
    )
    error = loads_error(text, "r.sf")
    cycles = [(d.span.location() if d.span else "", d.message) for d in error.diagnostics]
    assert cycles == [
        ("r.sf:2:6", "role `a` extends itself: a -> b -> c -> a"),
        ("r.sf:5:6", "role `d` extends itself: d -> d"),
    ]
    assert loads_error(text, "r.sf").diagnostics == error.diagnostics  # deterministic


def test_a_long_role_cycle_is_reported_once_quickly() -> None:
    n = 5000
    text = "permission p\n" + "".join(
        f"role r{i} extends r{(i + 1) % n} {{ p }}\n" for i in range(n)
    )
    with cpu_under(2):
        error = loads_error(text)
    assert [d.code for d in error.diagnostics] == ["role_cycle"]


def test_thousands_of_misspelt_names_do_not_make_loading_quadratic() -> None:
    n = 3000
    text = "".join(f"queue queue_{i}\n" for i in range(n)) + "".join(
        f"rule r{i} {{ then route qeueu_{i} }}\n" for i in range(n)
    )
    with cpu_under(4):
        error = loads_error(text)
    undeclared = [d for d in error.diagnostics if d.code == "undeclared_queue"]
    assert len(undeclared) == n
    assert undeclared[0].help == "did you mean `queue_0`?"  # the first ones still get help


def test_an_open_line_with_thousands_of_days_and_ranges() -> None:
    n = 3000
    days = ", ".join(["mon"] * n)
    ranges = ", ".join(["09:00-17:00"] * n)
    text = f'calendar c {{ timezone "UTC"\n open {days} {ranges} }}\nsla s {{ first_response 1h, calendar c }}\n'
    with cpu_under(3):
        error = loads_error(text)
    codes = [d.code for d in error.diagnostics if d.severity.value == "error"]
    assert codes[0] == "overlapping_hours"
    assert len(codes) < 3 * n  # one per repeated day and per overlapping range, not per pair


def test_a_workflow_with_thousands_of_transitions_and_states() -> None:
    n = 3000
    states = "".join(f"  state s{i}\n" for i in range(n))
    moves = "".join(f"  on e from s{i}, a to s{(i + 1) % n}\n" for i in range(n))
    bad = "".join(f"  on bad from nowhere{i} to a\n" for i in range(n))
    text = f"workflow w {{\n  state a initial\n  state z final\n{states}{moves}{bad}}}\n"
    with cpu_under(4):
        error = loads_error(text)
    assert sum(d.code == "undeclared_state" for d in error.diagnostics) == n
    assert sum(d.code == "shadowed_transition" for d in error.diagnostics) == 0  # errors first
    ok = f"workflow w {{\n  state a initial\n  state z final\n{states}{moves}  on e from a to z\n}}\n"
    with cpu_under(4):
        bundle = outcome(lambda: sf.loads(ok), ok)
    assert bundle is None


def test_thousands_of_workflows_with_errors() -> None:
    n = 3000
    text = "".join(f"workflow w{i} {{ state a initial\n on e from a to zz }}\n" for i in range(n))
    with cpu_under(4):
        error = loads_error(text)
    assert sum(d.code == "undeclared_state" for d in error.diagnostics) == n


def test_thousands_of_conflicting_rules_with_a_long_first_condition() -> None:
    n = 2000
    long = "has(msg.t) && " + " && ".join(f'msg.t != "{i}"' for i in range(100))
    queues = "".join(f"queue q{i}\n" for i in range(n))
    rules = f"rule r0 {{ when {long} then route q0 }}\n" + "".join(
        f"rule r{i} {{ when msg.a == {i} then route q{i} }}\n" for i in range(1, n)
    )
    with cpu_under(6):
        bundle = sf.loads(HEADER + queues + rules)
    found = [w for w in bundle.warnings if w.code == "conflicting_rules"]
    # every pair conflicts (int equalities are not analysed as exclusive): 20 pairs
    # are listed, then one line counts the rest
    assert found[0].message.startswith("rules `r0` and `r1` ")
    assert len(found) == 21 and found[-1].message.startswith(f"... and {n * (n - 1) // 2 - 20} ")


def test_many_duplicate_declarations_on_one_long_line() -> None:
    text = " ".join(["queue a"] * 20_000)
    with cpu_under(4):
        error = loads_error(text)
    assert len(error.diagnostics) == 20_000  # 19,999 duplicates and the unused warning


# --------------------------------------------------------------------------- #
# fuzz: only socialflow errors, each load under a time bound

EXAMPLE_FILES = sorted((ROOT / "examples").glob("*/*.sf"))
BUNDLES = [
    "\n".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "examples" / d).glob("*.sf")))
    for d in ("triage", "workflows")
]
SEEDS = BUNDLES + [p.read_text(encoding="utf-8") for p in EXAMPLE_FILES]
INSERTIONS = [
    *"()[]{}<>\"'`!-+*/%,;:.=&|?#\\\n\r\t ",
    '"""', "'''", "//", "/*", "\x00", "\ufeff", "\u2028", "é", "\U0001f600",
    " rule ", " when ", " then ", " schema ", " workflow ", " state ", " on ",
    " from ", " to ", " timeout ", " after ", " at ", " role ", " extends ",
    " permission ", " escalation ", " level ", " repeat ", " precedence ",
    " expect ", " given ", " test ", " calendar ", " open ", " sla ", " set ",
    " list(", " map(", " true ", " null ", " in ", " has(", " 0x",
    " 99999999999999999999 ", " 36501d ", " 1e999999 ", " 18446744073709551616u ",
]  # fmt: skip
#: CPU seconds one fuzzed load may take (the examples load in about 0.05 s).
BOUND = 2.0


def _load_bytes(data: bytes, tmp: Path, via_file: bool) -> None:
    text = data.decode("utf-8", "surrogateescape")
    with cpu_under(BOUND):
        outcome(lambda: sf.loads(text, "fuzz.sf"), text)
    if via_file:
        path = tmp / "fuzz.sf"
        path.write_bytes(data)
        with cpu_under(BOUND):
            outcome(lambda: sf.load(path), text)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """An example file or bundle, truncated and mutated at the byte level."""
    data = bytearray(draw(st.sampled_from(SEEDS)).encode("utf-8"))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data)))
        op = draw(st.sampled_from(["truncate", "flip", "insert", "delete", "duplicate", "rename"]))
        if op == "truncate":
            del data[at:]
        elif op == "flip" and data:
            data[min(at, len(data) - 1)] ^= 1 << draw(st.integers(0, 7))
        elif op == "insert":
            data[at:at] = draw(st.sampled_from(INSERTIONS)).encode("utf-8", "surrogatepass")
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 40))]
        elif op == "duplicate":
            data[at:at] = data[at : at + draw(st.integers(1, 200))]
        else:  # one name for another: the text still parses, the checks run
            names = list(_NAME.finditer(data))
            if names:
                m = names[draw(st.integers(0, len(names) - 1))]
                other = draw(st.sampled_from([*names[:50], *_RENAMES]))
                new = other.group() if isinstance(other, re.Match) else other
                data[m.start() : m.end()] = new
    return bytes(data)


_NAME = re.compile(rb"[A-Za-z_][A-Za-z0-9_]*")
_RENAMES = [b"q", b"now", b"msg", b"in", b"null", b"dyn", b"list", b"map", b"int", b"a"]


#: One level of CEL nesting around an expression ``e``.
CEL_WRAPPERS: dict[str, Callable[[str], str]] = {
    "paren": lambda e: f"({e})",
    "list": lambda e: f"[{e}]",
    "map": lambda e: f"{{1: {e}}}",
    "map-key": lambda e: f"{{{e}: 1}}",
    "not": lambda e: f"!{e}",
    "not-paren": lambda e: f"!({e})",
    "neg": lambda e: f"-{e}",
    "neg-paren": lambda e: f"-({e})",
    "select": lambda e: f"{e}.a",
    "index": lambda e: f"{e}[0]",
    "call": lambda e: f"size({e})",
    "method": lambda e: f"{e}.size()",
    "ternary": lambda e: f"(true ? {e} : 1)",
    "or": lambda e: f"{e} || true",
    "and": lambda e: f"true && {e}",
    "plus": lambda e: f"{e} + 1",
    "macro": lambda e: f"[1].exists(x, {e})",
}
TYPE_WRAPPERS: dict[str, Callable[[str], str]] = {
    "list": lambda t: f"list({t})",
    "map": lambda t: f"map(string, {t})",
    "map-key": lambda t: f"map({t}, int)",
}
#: Where a generated expression goes: a whole program with ``{e}`` in one place.
CEL_SITES = [
    HEADER + "rule r { when <E> then route q }\n",
    HEADER + "rule r { when true then route q; set v = <E> }\n",
    HEADER + 'test "t" { given msg = <E>\n at "2026-01-01T00:00:00Z"\n expect route q }\n',
    "permission p\npermit p when <E>\n",
    "workflow w { state a initial\n state b final\n on go from a to b when <E> set x = <E> }\n",
    "workflow w { state a initial\n state b final\n timeout a at <E> to b }\n",
]
TYPE_SITES = [
    "schema M { a: <T> }\ninput msg: M\n",
    "workflow w { state a initial\n data n: <T> }\n",
]


@st.composite
def deeply_nested(draw: st.DrawFn) -> bytes:
    depth = draw(
        st.one_of(st.sampled_from([0, 1, 32, 33, 149, 150, 151, 250, 251]), st.integers(0, 3000))
    )
    if draw(st.booleans()):
        kinds = draw(st.lists(st.sampled_from(sorted(TYPE_WRAPPERS)), min_size=1, max_size=3))
        t = draw(st.sampled_from(["int", "string", "dyn", "M"]))
        for i in range(depth):
            t = TYPE_WRAPPERS[kinds[i % len(kinds)]](t)
        return draw(st.sampled_from(TYPE_SITES)).replace("<T>", t).encode()
    kinds = draw(st.lists(st.sampled_from(sorted(CEL_WRAPPERS)), min_size=1, max_size=3))
    e = draw(st.sampled_from(["msg.a", "true", "1", "principal.x", "data.x", "now"]))
    for i in range(depth):
        e = CEL_WRAPPERS[kinds[i % len(kinds)]](e)
    return draw(st.sampled_from(CEL_SITES)).replace("<E>", e).encode()


BOUNDARY_NUMBERS = [
    "0", "1", "00000000000000000000001", "9223372036854775807", "9223372036854775808",
    "18446744073709551615", "18446744073709551616", "3153600000", "3153600001",
    "36500", "36501", "10000", "10001", "0x7fffffffffffffff", "0x8000000000000000",
    "0x" + "f" * 5000, "9" * 30, DIGITS_4301, "9" * 5000,
]  # fmt: skip
NUMBERS = st.one_of(
    st.sampled_from(BOUNDARY_NUMBERS),
    st.integers(0, 2**70).map(str),
    st.integers(19, 6000).map(lambda n: "9" * n),
)
#: Numbers in the example files (not inside strings, not part of a name).
_NUMBER = re.compile(r"(?<![A-Za-z0-9_.\"])[0-9]+(?![0-9])")


@st.composite
def extreme_numbers(draw: st.DrawFn) -> bytes:
    """An example bundle with some of its numbers (integers, the digits of
    durations, times and dates, CEL literals) replaced by extreme ones, or a
    small program with one extreme number in one position."""
    if draw(st.booleans()):
        text = draw(st.sampled_from(BUNDLES))
        spots = list(_NUMBER.finditer(text))
        chosen = sorted(
            draw(st.lists(st.integers(0, len(spots) - 1), min_size=1, max_size=4, unique=True)),
            reverse=True,
        )
        for i in chosen:
            m = spots[i]
            text = text[: m.start()] + draw(NUMBERS) + text[m.end() :]
        return text.encode()
    n = draw(NUMBERS)
    unit = draw(st.sampled_from("dhms"))
    suffix = draw(st.sampled_from(["", "u", ".0", "e10", "e-400"]))
    sign = draw(st.sampled_from(["", "-"]))
    template = draw(
        st.sampled_from(
            [
                HEADER + "rule r { precedence <SIGN><N> then route q }\n",
                "queue q\nescalation e { level <N> notify queue q }\n",
                "queue q\nescalation e { level 1 notify queue q\n level 2 after <N><U> notify queue q }\n",
                "queue q\nescalation e { level 1 notify queue q\n repeat <N> after <N><U> }\n",
                "queue q\nescalation e { level 1 notify queue q\n level 2 after 36500d notify queue q\n repeat <N> after 36500d }\n",
                HEADER
                + "sla s { first_response <N><U>, resolution <N><U>1s }\nrule r { then route q; sla s }\n",
                "workflow w { state a initial\n state b final\n timeout a after <N><U> to b emit notify(count <N>) }\n",
                'workflow w { state a initial }\ntest "t" { workflow w\n start at "2026-01-01T00:00:00Z"\n expect version <N> }\n',
                HEADER + "rule r { when msg.a == <SIGN><N><X> then route q }\n",
                HEADER + "rule r { when <SIGN><N><X> * <N><X> > 0 then route q; set v = <N><X> }\n",
                HEADER + 'rule r { when duration("<N><U>") > duration("1s") then route q }\n',
                HEADER + 'rule r { when now < timestamp("<N>-01-01T00:00:00Z") then route q }\n',
            ]
        )
    )
    for marker, value in (("<SIGN>", sign), ("<N>", n), ("<U>", unit), ("<X>", suffix)):
        template = template.replace(marker, value)
    return template.encode()


FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FUZZ_SLOW = settings(FUZZ, max_examples=1000)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@FUZZ
@given(data=mutated(), via_file=st.booleans())
def test_fuzz_mutated_examples(scratch: Path, data: bytes, via_file: bool) -> None:
    _load_bytes(data, scratch, via_file)


@FUZZ
@given(data=deeply_nested())
def test_fuzz_deep_nesting(scratch: Path, data: bytes) -> None:
    _load_bytes(data, scratch, via_file=False)


@FUZZ
@given(data=extreme_numbers())
def test_fuzz_extreme_numbers(scratch: Path, data: bytes) -> None:
    _load_bytes(data, scratch, via_file=False)


@pytest.mark.slow
@FUZZ_SLOW
@given(data=mutated(), via_file=st.booleans())
def test_fuzz_mutated_examples_at_length(scratch: Path, data: bytes, via_file: bool) -> None:
    _load_bytes(data, scratch, via_file)


@pytest.mark.slow
@FUZZ_SLOW
@given(data=deeply_nested())
def test_fuzz_deep_nesting_at_length(scratch: Path, data: bytes) -> None:
    _load_bytes(data, scratch, via_file=True)


@pytest.mark.slow
@FUZZ_SLOW
@given(data=extreme_numbers())
def test_fuzz_extreme_numbers_at_length(scratch: Path, data: bytes) -> None:
    _load_bytes(data, scratch, via_file=True)


def test_the_fuzz_seeds_load() -> None:
    # the mutations start from programs that load, so every pass is reached
    for text in BUNDLES:
        assert outcome(lambda text=text: sf.loads(text), text) is None


def test_a_recursion_limit_close_to_the_stack_is_still_a_socialflow_error() -> None:
    # even when the host calls from deep in its own stack
    text = f"{HEADER}rule r {{ when {' || '.join(['msg.a == 1'] * 120)} then route q }}\n"

    def deep(n: int) -> sf.SourceError | None:
        if n:
            return deep(n - 1)
        return outcome(lambda: sf.loads(text), text)

    depth = sys.getrecursionlimit() - 250
    deep(depth)
