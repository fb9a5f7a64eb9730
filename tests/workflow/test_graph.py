"""Workflow diagrams: Mermaid and DOT text from the pure functions, SVG through
Graphviz, and the ``socialflow graph`` command."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

import socialflow as sf
from socialflow.cli import main
from socialflow.cli.graph import to_svg
from socialflow.dsl.program import CheckedWorkflow
from socialflow.errors import UsageError
from socialflow.workflow.graph import to_dot, to_mermaid

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "workflows"
NAMES = ("content_approval", "incident")
HAS_DOT = shutil.which("dot") is not None


@pytest.fixture(scope="module")
def workflows() -> dict[str, CheckedWorkflow]:
    return dict(sf.load(str(EXAMPLES)).program.workflows)


def _graph(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(["graph", str(EXAMPLES), *args])
    out, err = capsys.readouterr()
    return status, out, err


# -- the pure functions ---------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("render", [to_mermaid, to_dot])
def test_every_state_and_event_is_drawn(
    workflows: dict[str, CheckedWorkflow], name: str, render: Callable[[CheckedWorkflow], str]
) -> None:
    workflow = workflows[name]
    text = render(workflow)
    for state in workflow.states:
        assert re.search(rf"(?<![\w]){re.escape(state)}(?![\w])", text), state
    for event in workflow.events:
        assert re.search(rf"(?<![\w]){re.escape(event)}(?![\w])", text), event


@pytest.mark.parametrize("name", NAMES)
def test_output_is_deterministic(workflows: dict[str, CheckedWorkflow], name: str) -> None:
    workflow = workflows[name]
    assert to_mermaid(workflow) == to_mermaid(workflow)
    assert to_dot(workflow) == to_dot(workflow)
    reloaded = sf.load(str(EXAMPLES)).program.workflows[name]
    assert to_mermaid(reloaded) == to_mermaid(workflow)
    assert to_dot(reloaded) == to_dot(workflow)


def test_mermaid_markers_guards_timers_and_notes(workflows: dict[str, CheckedWorkflow]) -> None:
    text = to_mermaid(workflows["content_approval"])
    lines = text.splitlines()
    assert lines[0] == "stateDiagram-v2"
    assert text.endswith("\n")
    assert "    [*] --> draft" in lines
    assert "    archived --> [*]" in lines
    # one edge per source of a transition, with the permission and the guard
    assert (
        "    legal_review --> hub_review : legal_approve requires review_legal "
        "[actor != subject.author]"
    ) in lines
    assert "    legal_review --> rejected : reject requires approve" in lines
    assert "    hub_review --> rejected : reject requires approve" in lines
    # timers, durations as written (48h stays 48h, 7d stays 7d)
    assert "    hub_review --> expired : after 120h" in lines
    assert "    approved --> expired : after 7d" in lines
    assert "    scheduled --> published : at data.publish_at" in lines
    # a timer without a target stays in its state: a note, not a self-loop
    assert "hub_review --> hub_review" not in text
    assert "        after 48h emit escalate(stale_review)" in lines
    # a guard over several lines is drawn on one
    assert "!(has(data.legal_approved_by) && data.legal_approved_by == actor)]" in text


def test_mermaid_whiles_and_escaping(workflows: dict[str, CheckedWorkflow]) -> None:
    lines = to_mermaid(workflows["incident"]).splitlines()
    assert "    [*] --> open" in lines
    assert "    closed --> [*]" in lines
    assert "    acknowledged --> open : after 30m" in lines
    note = lines.index("    note right of open")
    assert lines[note + 1 : note + 3] == [
        "        while open escalate incident_policy",
        "    end note",
    ]
    # `:` ends a Mermaid label and `"`, `<`, `>` are markup: entity codes instead
    (close,) = [line for line in lines if line.startswith("    resolved --> closed : ")]
    label = close.split(" : ", 1)[1]
    assert ":" not in label
    assert "? 200 #58; 20" in label
    assert "#62;=" in label
    (reopen,) = [line for line in lines if line.startswith("    resolved --> open : ")]
    assert "duration(#34;72h#34;)" in reopen
    assert "#60;=" in reopen


def test_mermaid_aliases_states_named_like_its_keywords() -> None:
    bundle = sf.loads(
        "workflow odd {\n  state note initial\n  state done final\n  on go from note to done\n}\n"
    )
    lines = to_mermaid(bundle.program.workflows["odd"]).splitlines()
    assert '    state "note" as note_' in lines
    assert "    [*] --> note_" in lines
    assert "    note_ --> done : go" in lines


def test_dot_is_well_formed(workflows: dict[str, CheckedWorkflow]) -> None:
    for name in NAMES:
        text = to_dot(workflows[name])
        assert text.startswith(f'digraph "{name}" {{\n')
        assert text.endswith("}\n")
        assert "rankdir=LR" in text
        # braces balance outside quoted strings, and every quote closes
        unquoted = re.sub(r'"(?:[^"\\]|\\.)*"', '""', text)
        assert '"' not in unquoted.replace('""', "")
        depth = 0
        for char in unquoted:
            depth += {"{": 1, "}": -1}.get(char, 0)
            assert depth >= 0
        assert depth == 0


def test_dot_markers_labels_and_timers(workflows: dict[str, CheckedWorkflow]) -> None:
    lines = to_dot(workflows["content_approval"]).splitlines()
    assert '    "[*]" [shape=point, width=0.15, label=""];' in lines
    assert '    "[*]" -> "draft";' in lines
    assert '    "draft" [label="draft", penwidth=2];' in lines
    assert '    "archived" [label="archived", shape=doublecircle];' in lines
    assert (
        '    "legal_review" -> "hub_review" '
        '[label="legal_approve\\nrequires review_legal\\n[actor != subject.author]"];'
    ) in lines
    assert '    "approved" -> "expired" [label="after 7d", style=dashed];' in lines
    assert '    "scheduled" -> "published" [label="at data.publish_at", style=dashed];' in lines
    incident = to_dot(workflows["incident"])
    assert '[now - data.resolved_at <= duration(\\"72h\\")]' in incident
    assert '"open (note)" [shape=note' in incident
    assert 'label="while open escalate incident_policy"' in incident


# -- SVG through Graphviz -------------------------------------------------------------------


@pytest.mark.skipif(not HAS_DOT, reason="Graphviz `dot` is not installed")
def test_svg_with_graphviz(workflows: dict[str, CheckedWorkflow]) -> None:
    svg = to_svg(workflows["incident"])
    assert "<svg" in svg
    assert "acknowledged" in svg


@pytest.mark.skipif(HAS_DOT, reason="Graphviz `dot` is installed")
def test_svg_without_graphviz(workflows: dict[str, CheckedWorkflow]) -> None:
    with pytest.raises(UsageError, match=r"`dot` was not found.*apt install graphviz"):
        to_svg(workflows["incident"])


def test_svg_names_a_missing_program(workflows: dict[str, CheckedWorkflow]) -> None:
    with pytest.raises(UsageError) as info:
        to_svg(workflows["incident"], dot_program="socialflow-no-such-dot")
    message = str(info.value)
    assert "`socialflow-no-such-dot` was not found" in message
    assert "apt install graphviz" in message
    assert "brew install graphviz" in message


# -- the command ----------------------------------------------------------------------------


def test_command_prints_mermaid_by_default(
    capsys: pytest.CaptureFixture[str], workflows: dict[str, CheckedWorkflow]
) -> None:
    status, out, err = _graph(capsys, "--workflow", "incident")
    assert (status, err) == (0, "")
    assert out == to_mermaid(workflows["incident"])
    for state in workflows["incident"].states:
        assert state in out
    for event in workflows["incident"].events:
        assert event in out


def test_command_dot_and_output_file(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    workflows: dict[str, CheckedWorkflow],
) -> None:
    status, out, _ = _graph(capsys, "--workflow", "content_approval", "--format", "dot")
    assert status == 0
    assert out == to_dot(workflows["content_approval"])
    target = tmp_path / "incident.mmd"
    status, out, _ = _graph(capsys, "--workflow", "incident", "-o", str(target))
    assert (status, out) == (0, "")
    assert target.read_text(encoding="utf-8") == to_mermaid(workflows["incident"])


def test_command_svg(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = _graph(capsys, "--workflow", "incident", "--format", "svg")
    if HAS_DOT:
        assert (status, err) == (0, "")
        assert "<svg" in out
    else:
        assert (status, out) == (2, "")
        assert "`dot` was not found" in err
        assert "apt install graphviz" in err


def test_command_svg_without_dot_on_the_path(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    status, out, err = _graph(capsys, "--workflow", "incident", "--format", "svg")
    assert (status, out) == (2, "")
    assert "error: the Graphviz program `dot` was not found" in err
    assert "apt install graphviz" in err
    assert "brew install graphviz" in err


def test_command_unknown_workflow(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = _graph(capsys, "--workflow", "incidnet")
    assert (status, out) == (2, "")
    assert "no workflow `incidnet`" in err
    assert "did you mean `incident`?" in err
    status, _, err = _graph(capsys, "--workflow", "zzz")
    assert status == 2
    assert "(workflows: `content_approval`, `incident`)" in err


def test_command_requires_a_workflow(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = _graph(capsys)
    assert status == 2
    assert "--workflow" in err


def test_the_diagrams_in_the_docs_are_the_current_ones() -> None:
    import re

    from socialflow.workflow.graph import to_mermaid

    doc = (EXAMPLES.parents[1] / "docs" / "workflows.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```mermaid\n(.*?)^```", doc, re.DOTALL | re.MULTILINE)
    program = sf.load(str(EXAMPLES)).program
    wanted = {to_mermaid(program.workflows[n]).rstrip("\n") for n in program.workflows}
    assert {b.rstrip("\n") for b in blocks} == wanted, (
        "regenerate the diagrams: socialflow graph examples/workflows --workflow NAME"
    )
