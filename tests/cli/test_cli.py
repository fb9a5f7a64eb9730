"""The ``socialflow`` command: in-process through ``main([...])`` and as a process."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import socialflow as sf
from socialflow import cli
from socialflow.cel.values import Type, UInt

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_EXPR = ROOT / "examples" / "cel" / "refund_complaint.cel"
EXAMPLE_DATA = ROOT / "examples" / "messages" / "refund_tweet.json"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


# --------------------------------------------------------------------------- #
# success


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "--version") == (0, f"socialflow {sf.__version__}\n", "")


def test_no_command_prints_help_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys)
    assert status == 2
    assert out == ""
    assert "eval" in err


def test_eval_literal(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "eval", "1 + 2") == (0, "3\n", "")


def test_eval_readme_example(capsys: pytest.CaptureFixture[str]) -> None:
    # The README's quick-start command.
    status, out, err = run(
        capsys, "eval", "--expr-file", str(EXAMPLE_EXPR), "--data", str(EXAMPLE_DATA)
    )
    assert (status, out, err) == (0, "true\n", "")


@pytest.mark.parametrize("path", sorted((ROOT / "examples" / "cel").glob("*.cel")), ids=str)
def test_every_example_expression_runs(capsys: pytest.CaptureFixture[str], path: Path) -> None:
    status, out, err = run(capsys, "eval", "--expr-file", str(path), "--data", str(EXAMPLE_DATA))
    assert (status, err) == (0, "")
    json.loads(out)


def test_example_message_follows_the_message_schema() -> None:
    msg = json.loads(EXAMPLE_DATA.read_text(encoding="utf-8"))["msg"]
    assert set(msg) == {
        "id", "channel", "kind", "account", "text", "lang", "sentiment", "author", "received_at",
    }  # fmt: skip
    assert set(msg["author"]) == {"handle", "followers", "verified"}


def test_var_overrides_data(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(
        capsys,
        "eval", "msg.channel + ':' + channel",
        "--data", str(EXAMPLE_DATA),
        "--var", 'channel="dm"',
        "--var", 'msg={"channel": "facebook"}',
    )  # fmt: skip
    assert (status, out) == (0, '"facebook:dm"\n')


def test_later_var_wins(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "eval", "x", "--var", "x=1", "--var", "x=2")[:2] == (0, "2\n")


def test_expr_file_from_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", _Stdin("// a comment\nx * 2\n"))
    assert run(capsys, "eval", "--expr-file", "-", "--var", "x=21")[:2] == (0, "42\n")


def test_data_from_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", _Stdin('{"x": [1, 2, 3]}'))
    assert run(capsys, "eval", "x.size()", "--data", "-")[:2] == (0, "3\n")


def test_result_json_rendering(capsys: pytest.CaptureFixture[str]) -> None:
    expr = (
        '[timestamp("2026-11-23T10:00:00.5Z"), duration("90m"), duration("1.5s"), b"hi", '
        '1u, 2.0, int, type(timestamp("2026-01-01T00:00:00Z")), null, "é", '
        '{"a": 1, 2: true, false: [1]}]'
    )
    status, out, err = run(capsys, "eval", expr)
    assert (status, err) == (0, "")
    assert json.loads(out) == [
        "2026-11-23T10:00:00.5Z",
        "5400s",
        "1.5s",
        "aGk=",
        1,
        2.0,
        "int",
        "google.protobuf.Timestamp",
        None,
        "é",
        {"a": 1, "2": True, "false": [1]},
    ]
    assert "é" in out  # not \u-escaped


@pytest.mark.parametrize("expr", ["1.0/0.0", "(-1.0)/0.0", "0.0/0.0", "[1, 0.0/0.0]"])
def test_non_finite_doubles_have_no_json_form(
    capsys: pytest.CaptureFixture[str], expr: str
) -> None:
    status, out, err = run(capsys, "eval", expr)
    assert (status, out) == (1, "")
    assert "has no JSON form" in err


def test_indent(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "eval", '{"a": [1]}', "--indent", "2")[:2] == (
        0,
        '{\n  "a": [\n    1\n  ]\n}\n',
    )


def test_to_json_python_values() -> None:
    ts = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    value = {"t": ts, "d": timedelta(minutes=-1), "u": UInt(7), "k": Type("bool"), "l": (1,)}
    assert sf.serde.to_json_value(value) == {
        "t": "2026-11-23T10:00:00Z",
        "d": "-60s",
        "u": 7,
        "k": "bool",
        "l": [1],
    }


def test_to_json_refuses_to_lose_entries() -> None:
    with pytest.raises(ValueError, match="collide"):
        sf.serde.to_json_value({1: "a", "1": "b"})
    with pytest.raises(ValueError, match="no JSON form"):
        sf.serde.to_json_value(object())


def test_colliding_map_keys_is_an_error_not_lost_data(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "eval", '{1: "a", "1": "b"}')
    assert (status, out) == (1, "")
    assert "collide" in err


# --------------------------------------------------------------------------- #
# errors


def test_parse_error_exit_2_with_caret(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "eval", "msg.sentiment < -0.3 &&")
    assert (status, out) == (2, "")
    lines = err.splitlines()
    assert lines[0].startswith("<expr>:1:24: error[syntax_error]: ")
    assert lines[2] == "1 | msg.sentiment < -0.3 &&"
    assert lines[3] == "  | " + " " * 23 + "^"


def test_parse_error_names_the_expression_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rule = tmp_path / "rule.cel"
    rule.write_text("// first line\nmsg.channel = 'twitter'\n", encoding="utf-8")
    status, out, err = run(capsys, "eval", "--expr-file", str(rule))
    assert (status, out) == (2, "")
    assert err.startswith(f"{rule}:2:13: error[syntax_error]: ")
    assert "2 | msg.channel = 'twitter'\n" in err
    assert "  |             ^\n" in err


def test_eval_error_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "eval", "msg.followers / 0", "--var", 'msg={"followers": 10}')
    assert (status, out) == (1, "")
    assert err.splitlines()[0] == "<expr>:1:1: error[division_by_zero]: division by zero"
    assert "^^^" in err


def test_eval_error_missing_key(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, "eval", "msg.nope", "--data", str(EXAMPLE_DATA))
    assert status == 1
    assert "error[no_such_key]" in err


def test_bad_json_file_names_file_and_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{\n  "msg": {"text": "hi",}\n}\n', encoding="utf-8")
    status, out, err = run(capsys, "eval", "msg.text", "--data", str(bad))
    assert (status, out) == (2, "")
    assert err.startswith(f"error: {bad}: line 2, column 24: invalid JSON: ")
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"a": 1, "a": 2}', "duplicate key `a`"),
        ('{"a": NaN}', "`NaN` is not valid JSON"),
        ("[1, 2]", "expected a JSON object whose keys are variable names, got an array"),
        ('{"not-a-name": 1}', "top-level key `not-a-name` is not a valid variable name"),
        ("", "line 1, column 1: invalid JSON"),
    ],
)
def test_bad_data_is_rejected_not_guessed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: str, message: str
) -> None:
    data = tmp_path / "data.json"
    data.write_text(content, encoding="utf-8")
    status, out, err = run(capsys, "eval", "1", "--data", str(data))
    assert (status, out) == (2, "")
    assert str(data) in err
    assert message in err


def test_data_file_not_utf8(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data = tmp_path / "latin1.json"
    data.write_bytes(b'{"a": "caf\xe9"}')
    status, _, err = run(capsys, "eval", "a", "--data", str(data))
    assert status == 2
    assert "is not UTF-8 text" in err


def test_missing_files(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    status, _, err = run(capsys, "eval", "1", "--data", str(tmp_path / "nope.json"))
    assert (status, err) == (2, f"error: data file `{tmp_path / 'nope.json'}` does not exist\n")
    status, _, err = run(capsys, "eval", "--expr-file", str(tmp_path))
    assert status == 2
    assert "is a directory" in err


@pytest.mark.parametrize(
    ("var", "message"),
    [
        ("x=refund", "`refund` is not valid JSON (quote strings twice: --var 'x=\"refund\"')"),
        ("novalue", "expected NAME=JSON"),
        ("1x=1", "expected NAME=JSON"),
    ],
)
def test_bad_var(capsys: pytest.CaptureFixture[str], var: str, message: str) -> None:
    status, out, err = run(capsys, "eval", "1", "--var", var)
    assert (status, out) == (2, "")
    assert message in err


@pytest.mark.parametrize(
    "argv",
    [
        ["eval"],
        ["eval", "1", "--expr-file", "x.cel"],
        ["eval", "--expr-file", "-", "--data", "-"],
        ["eval", "1", "--unknown"],
        ["nosuchcommand"],
    ],
)
def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    status, out, err = run(capsys, *argv)
    assert (status, out) == (2, "")
    assert err


# --------------------------------------------------------------------------- #
# the sub-command registry


def test_registered_command_is_dispatched(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def configure(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("who")

    def hello(args: argparse.Namespace) -> int:
        if args.who == "nobody":
            raise cli.CommandFailed("error: nobody is there", 1)
        print(f"hello {args.who}")
        return 0

    command = cli.Command(name="hello", help="say hello", configure=configure, run=hello)
    monkeypatch.setitem(cli.COMMANDS, "hello", command)
    assert run(capsys, "hello", "alice") == (0, "hello alice\n", "")
    assert run(capsys, "hello", "nobody") == (1, "", "error: nobody is there\n")
    with pytest.raises(ValueError, match="already registered"):
        cli.register(command)


# --------------------------------------------------------------------------- #
# as a process


def _python_m(*argv: str, seed: str = "0", cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONIOENCODING": "utf-8"}
    return subprocess.run(
        [sys.executable, "-m", "socialflow", *argv],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=cwd,
        env=env,
        check=False,
        timeout=60,
    )


def test_python_m_success(tmp_path: Path) -> None:
    proc = _python_m(
        "eval", "--expr-file", str(EXAMPLE_EXPR), "--data", str(EXAMPLE_DATA), cwd=tmp_path
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "true\n", "")


def test_python_m_source_error() -> None:
    proc = _python_m("eval", "msg.text.contains(")
    assert (proc.returncode, proc.stdout) == (2, "")
    assert "error[syntax_error]" in proc.stderr
    assert "^" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_python_m_eval_error() -> None:
    proc = _python_m("eval", "1 / x", "--var", "x=0")
    assert (proc.returncode, proc.stdout) == (1, "")
    assert "error[division_by_zero]: division by zero" in proc.stderr


def test_python_m_bad_json(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"msg": {\n\n  "text": }\n}', encoding="utf-8")
    proc = _python_m("eval", "msg", "--data", str(bad))
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr.startswith(f"error: {bad}: line 3, column 11: invalid JSON")


def test_output_is_the_same_under_any_hash_seed() -> None:
    expr = '{"b": [3, 1], "a": {"z": 1, "y": 2}, "c": ["x", "y"].map(s, s + "!")}'
    outputs = {_python_m("eval", expr, seed=seed).stdout for seed in ("0", "1", "12345")}
    assert len(outputs) == 1
    assert outputs.pop() == '{"b": [3, 1], "a": {"z": 1, "y": 2}, "c": ["x!", "y!"]}\n'


class _Stdin:
    """A minimal stand-in for ``sys.stdin`` (only ``read`` is used)."""

    def __init__(self, text: str) -> None:
        self._text = text

    def read(self) -> str:
        return self._text
