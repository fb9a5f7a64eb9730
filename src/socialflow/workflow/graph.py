"""Workflow diagrams as text: Mermaid ``stateDiagram-v2`` and Graphviz DOT.

In: a :class:`~socialflow.dsl.program.CheckedWorkflow`.  Out: the diagram
source as a string.  Pure and deterministic: no I/O, and everything is drawn
in declaration order (states, then transitions and their sources, then
timers), never in set or hash order.  Rendering DOT to SVG runs a program, so
it lives in the CLI (:mod:`socialflow.cli.graph`), not here.

What is drawn:

* every state; the initial one from a start marker, final ones to an end
  marker (Mermaid ``[*]``) or as double circles (DOT);
* one edge per source of each transition, labelled ``EVENT``, then
  ``requires PERMISSION`` and ``[GUARD]`` when present;
* a timer with a target as a dashed edge (DOT) labelled ``after 48h`` or
  ``at CEL``;
* a timer without a target does not leave its state (no exit or enter
  effects run), so it is not drawn as a self-loop but as a note on its state,
  ``after 72h emit notify(queue leads)``, next to ``while STATE escalate POLICY``.

Durations are shown as written in the source (``48h``, ``7d``, ``1h30m``);
guards and ``at`` instants as their CEL text on one line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

from socialflow.cel.checker import unparse
from socialflow.dsl import ast
from socialflow.dsl.program import CheckedEffect, CheckedTimeout, CheckedWorkflow

__all__ = ["to_dot", "to_mermaid"]

_LINE_BREAK: Final = re.compile(r"\s*\n\s*")

#: Characters a Mermaid label cannot hold as such, as Mermaid entity codes
#: (``#NN;``, decoded when the diagram is rendered).
_MERMAID_ENTITIES: Final = {
    '"': "#34;",
    "#": "#35;",
    "%": "#37;",
    ":": "#58;",
    ";": "#59;",
    "<": "#60;",
    ">": "#62;",
    "{": "#123;",
    "}": "#125;",
}
#: ``&`` (common in guards: ``a && b``) renders as itself unless it starts an
#: HTML entity (``&lt;``), so only that ``&`` is escaped.
_MERMAID_SPECIAL: Final = re.compile(
    "[" + re.escape("".join(_MERMAID_ENTITIES)) + "]|&(?=#?[A-Za-z0-9]+;)"
)
#: Mermaid reads any line holding ``direction LR`` (etc.) as a direction statement.
_MERMAID_DIRECTION: Final = re.compile(r"(direction) +(tb|bt|rl|lr)", re.IGNORECASE)
#: Words Mermaid's state-diagram syntax claims; a state so named gets an alias.
_MERMAID_RESERVED: Final = frozenset(
    {
        "as",
        "class",
        "classdef",
        "click",
        "default",
        "direction",
        "end",
        "hide",
        "left",
        "note",
        "of",
        "right",
        "scale",
        "state",
        "statediagram",
        "statediagram-v2",
        "style",
    }
)

_DOT_START: Final = "[*]"  # never a state name: states are identifiers


# -- shared: what each element says ---------------------------------------------------------


def _one_line(text: str) -> str:
    return _LINE_BREAK.sub(" ", text.strip())


def _cel(text: ast.CelText) -> str:
    """The CEL text on one line; the canonical form if the text holds a comment
    (joining its lines would otherwise swallow the code after the comment)."""
    if "//" in text.text or "#" in text.text:
        return unparse(text.expr)
    return _one_line(text.text)


def _when(timeout: CheckedTimeout) -> str:
    """``after 48h`` or ``at data.publish_at``, as written."""
    if timeout.at is not None:
        return f"at {_cel(timeout.at)}"
    return timeout.when


def _effect(effect: CheckedEffect) -> str:
    shown = ", ".join(a if isinstance(a, str) else f"{a[0]} {a[1]}" for a in effect.args)
    return f"{effect.name}({shown})"


def _edges(workflow: CheckedWorkflow) -> Iterator[tuple[str, str, tuple[str, ...], bool]]:
    """``(source, target, label lines, is_timer)`` for every edge, in declaration order."""
    for t in workflow.transitions:
        lines = [t.event]
        if t.requires is not None:
            lines.append(f"requires {t.requires}")
        if t.guard is not None:
            lines.append(f"[{_cel(t.guard)}]")
        for source in t.sources:
            yield source, t.target, tuple(lines), False
    for timeout in workflow.timeouts:
        if timeout.target is not None:
            yield timeout.state, timeout.target, (_when(timeout),), True


def _notes(workflow: CheckedWorkflow) -> list[tuple[str, tuple[str, ...]]]:
    """``(state, lines)`` for the states that have escalations or timers without
    a target, in state declaration order."""
    lines: dict[str, list[str]] = {}
    for w in workflow.whiles:
        lines.setdefault(w.state, []).append(f"while {w.state} escalate {w.policy.name}")
    for timeout in workflow.timeouts:
        if timeout.target is None:
            text = _when(timeout)
            if timeout.effects:
                text += " emit " + ", ".join(_effect(e) for e in timeout.effects)
            lines.setdefault(timeout.state, []).append(text)
    return [(s, tuple(lines[s])) for s in workflow.states if s in lines]


def _finals(workflow: CheckedWorkflow) -> list[str]:
    return [s for s in workflow.states if s in workflow.finals]


def _title(workflow: CheckedWorkflow) -> str:
    if workflow.display:
        return f"{workflow.name}: {_one_line(workflow.display)}"
    return workflow.name


# -- Mermaid ----------------------------------------------------------------------------------


def _mermaid_text(text: str) -> str:
    escaped = _MERMAID_SPECIAL.sub(
        lambda m: _MERMAID_ENTITIES.get(m.group(), "#38;"), _one_line(text)
    )
    return _MERMAID_DIRECTION.sub(r"\1#32;\2", escaped)


def _mermaid_ids(workflow: CheckedWorkflow) -> dict[str, str]:
    """State name -> Mermaid id: the name itself unless Mermaid claims the word."""
    taken = {s.lower() for s in workflow.states}
    ids: dict[str, str] = {}
    for state in workflow.states:
        if state.lower() not in _MERMAID_RESERVED:
            ids[state] = state
            continue
        alias = f"{state}_"
        while alias.lower() in taken or alias.lower() in _MERMAID_RESERVED:
            alias += "_"
        taken.add(alias.lower())
        ids[state] = alias
    return ids


def to_mermaid(workflow: CheckedWorkflow) -> str:
    """``workflow`` as a Mermaid ``stateDiagram-v2`` (ends with a newline)."""
    ids = _mermaid_ids(workflow)
    title = _MERMAID_DIRECTION.sub(r"\1#32;\2", _one_line(_title(workflow)))
    out = ["stateDiagram-v2", f"    %% workflow {title}"]
    for state in workflow.states:
        if ids[state] == state:
            out.append(f"    {state}")
        else:
            out.append(f'    state "{state}" as {ids[state]}')
    out.append(f"    [*] --> {ids[workflow.initial]}")
    for source, target, lines, _timer in _edges(workflow):
        label = _mermaid_text(" ".join(lines))
        out.append(f"    {ids[source]} --> {ids[target]} : {label}")
    for state in _finals(workflow):
        out.append(f"    {ids[state]} --> [*]")
    for state, lines in _notes(workflow):
        out.append(f"    note right of {ids[state]}")
        out.extend(f"        {_mermaid_text(line)}" for line in lines)
        out.append("    end note")
    return "\n".join(out) + "\n"


# -- Graphviz DOT -----------------------------------------------------------------------------


def _dot_string(text: str) -> str:
    """A DOT quoted string; ``\\n`` in the result breaks label lines."""
    escaped = _one_line(text).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _dot_label(lines: tuple[str, ...]) -> str:
    return '"' + "\\n".join(_dot_string(line)[1:-1] for line in lines) + '"'


def to_dot(workflow: CheckedWorkflow) -> str:
    """``workflow`` as a Graphviz ``digraph``, left to right (ends with a newline)."""
    out = [
        f"digraph {_dot_string(workflow.name)} {{",
        f"    graph [rankdir=LR, label={_dot_string(_title(workflow))}, labelloc=t,"
        ' fontname="Helvetica"];',
        '    node [shape=box, style=rounded, fontname="Helvetica"];',
        '    edge [fontname="Helvetica", fontsize=10];',
        f'    {_dot_string(_DOT_START)} [shape=point, width=0.15, label=""];',
    ]
    for state in workflow.states:
        attrs = [f"label={_dot_string(state)}"]
        if state in workflow.finals:
            attrs.append("shape=doublecircle")
        if state == workflow.initial:
            attrs.append("penwidth=2")
        out.append(f"    {_dot_string(state)} [{', '.join(attrs)}];")
    out.append(f"    {_dot_string(_DOT_START)} -> {_dot_string(workflow.initial)};")
    for source, target, lines, timer in _edges(workflow):
        style = ", style=dashed" if timer else ""
        out.append(
            f"    {_dot_string(source)} -> {_dot_string(target)} [label={_dot_label(lines)}{style}];"
        )
    for state, lines in _notes(workflow):
        note = _dot_string(f"{state} (note)")  # a space: never a state name
        out.append(f"    {note} [shape=note, fontsize=10, label={_dot_label(lines)}];")
        out.append(f"    {note} -> {_dot_string(state)} [style=dotted, arrowhead=none];")
    out.append("}")
    return "\n".join(out) + "\n"
