"""``socialflow step``: events through fresh instances, timers between them,
every result a JSON line, bad lines rejected with their number."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from socialflow.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = str(ROOT / "examples" / "workflows")
SUBJECT = {"id": "post-1", "account": "acct-uk", "author": "ana", "needs_legal": True}


def write(tmp_path: Path, lines: list[object | str]) -> Path:
    path = tmp_path / "events.jsonl"
    path.write_text(
        "".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines),
        encoding="utf-8",
    )
    return path


def event(instance: str, name: str, actor: str, at: str, **more: object) -> dict[str, object]:
    return {"instance": instance, "event": name, "actor": actor, "at": at, **more}


def test_a_stream_through_the_content_workflow(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = write(
        tmp_path,
        [
            event("p1", "submit", "ana", "2026-11-23T09:05:00Z", subject=SUBJECT, id="a"),
            event("p1", "legal_approve", "ana", "2026-11-23T09:10:00Z"),
            event("p1", "legal_approve", "lee", "2026-11-23T09:15:00Z"),
            event(
                "p2",
                "submit",
                "bob",
                "2026-11-23T10:00:00Z",
                subject={"account": "x", "author": "bob"},
            ),
            event("p2", "approve", "hana", "2026-11-30T10:00:00Z"),
        ],
    )
    out = tmp_path / "out.jsonl"
    status = main(
        [
            "step",
            EXAMPLES,
            str(events),
            "--workflow",
            "content_approval",
            "--allow-all",
            "-o",
            str(out),
        ]
    )
    assert status == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(r["line"], r["event"], r["accepted"], r["state"]) for r in rows] == [
        (1, "submit", True, "legal_review"),
        (2, "legal_approve", False, "legal_review"),
        (3, "legal_approve", True, "hub_review"),
        (4, "submit", True, "hub_review"),
        (5, None, True, "expired"),  # the timers due by then, as their own result
        (5, "approve", False, "expired"),
    ]
    assert rows[1]["reason"] == "guard_failed"
    assert rows[4]["effects"] == [
        {"name": "escalate", "args": ["stale_review"]},
        {"name": "notify", "args": [["queue", "bureau_desk"]]},
    ]
    assert rows[0]["next_deadline"] == "2026-11-26T09:05:00Z"
    err = capsys.readouterr().err
    assert "5 events for 2 instances: 3 accepted, 2 refused" in err


def test_bad_lines_are_rejected_with_their_number_and_nothing_is_lost(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = event("p1", "submit", "ana", "2026-11-23T09:05:00Z", subject=SUBJECT)
    path = tmp_path / "events.jsonl"
    lines = [
        json.dumps(good).encode(),
        b"not json",
        b'{"instance": "p1", "event": "submit"}',
        json.dumps(event("p1", "submit", "ana", "yesterday")).encode(),
        json.dumps(event("p1", "submit", "ana", "2026-11-22T00:00:00Z")).encode(),
        b"[1, 2]",
        b'{"instance": "p\xff", "event": "x"}',
        json.dumps({**good, "colour": "red"}).encode(),
        json.dumps({**good, "data": [1]}).encode(),
        json.dumps(event("p3", "submit", "ana", "2026-11-23T09:05:00Z", subject=[1])).encode(),
        json.dumps(event("p1", "bogus", "ana", "2026-11-23T09:06:00Z")).encode(),
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    out, rejects = tmp_path / "out.jsonl", tmp_path / "bad.jsonl"
    status = main(
        ["step", EXAMPLES, str(path), "--workflow", "content_approval", "--allow-all",
         "-o", str(out), "--rejects", str(rejects)]
    )  # fmt: skip
    assert status == 1
    results = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    bad = [json.loads(x) for x in rejects.read_text(encoding="utf-8").splitlines()]
    assert sorted({r["line"] for r in results} | {b["line"] for b in bad}) == list(range(1, 12))
    errors = {b["line"]: b["error"] for b in bad}
    assert "invalid JSON" in errors[2]
    assert errors[3] == "`actor` must be a string"
    assert errors[4].startswith("`at`:")
    assert "time order" in errors[5]
    assert errors[6] == "expected a JSON object"
    assert "not UTF-8" in errors[7] and "byte" in errors[7]
    assert errors[8].startswith("unknown field `colour`")
    assert errors[9] == "`data` must be an object"
    assert errors[10] == "`subject` must be an object"
    assert results[-1]["reason"] == "unknown_event"
    assert "line 2: rejected" in capsys.readouterr().err


def test_requires_needs_access_records(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = write(
        tmp_path, [event("p1", "submit", "ana", "2026-11-23T09:05:00Z", subject=SUBJECT)]
    )
    assert main(["step", EXAMPLES, str(events), "--workflow", "content_approval"]) == 2
    assert "--access RECORDS.json or --allow-all" in capsys.readouterr().err
    records = tmp_path / "access.json"
    records.write_text(
        json.dumps(
            {
                "nodes": [
                    {"id": "hub", "kind": "hub"},
                    {"id": "acct-uk", "kind": "account", "parent": "hub"},
                ],
                "principals": [{"id": "ana"}],
                "grants": [{"principal": "ana", "role": "contributor", "scope": "hub"}],
            }
        ),
        encoding="utf-8",
    )
    out = tmp_path / "out.jsonl"
    args = [
        "step",
        EXAMPLES,
        str(events),
        "--workflow",
        "content_approval",
        "--access",
        str(records),
    ]
    assert main([*args, "-o", str(out)]) == 0
    assert json.loads(out.read_text(encoding="utf-8"))["accepted"] is True


def test_until_fires_the_remaining_timers_and_instances_are_written(tmp_path: Path) -> None:
    events = write(
        tmp_path,
        [event("i1", "acknowledge", "rita", "2026-11-23T10:05:00Z", subject={"account": "a"})],
    )
    out, final = tmp_path / "out.jsonl", tmp_path / "instances.jsonl"
    status = main(
        ["step", EXAMPLES, str(events), "--workflow", "incident", "--allow-all", "-o", str(out),
         "--until", "2026-11-23T11:00:00Z", "--instances", str(final), "--no-summary"]
    )  # fmt: skip
    assert status == 0
    rows = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert rows[-1]["line"] is None and rows[-1]["state"] == "open"
    (instance,) = [json.loads(x) for x in final.read_text(encoding="utf-8").splitlines()]
    assert instance["schema"] == "socialflow.instance/1" and instance["state"] == "open"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workflow", "incidnet"], "did you mean `incident`"),
        (["--workflow", "incident", "--until", "soon"], "--until"),
        (["--workflow", "incident", "-o", "/nonexistent/x.jsonl"], "is not a folder"),
    ],
)
def test_bad_arguments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    events = write(tmp_path, [])
    assert main(["step", EXAMPLES, str(events), "--allow-all", *args]) == 2
    assert message in capsys.readouterr().err
