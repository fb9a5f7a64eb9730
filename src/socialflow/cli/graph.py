"""``socialflow graph``: draw a workflow as Mermaid, Graphviz DOT or SVG.

The diagram text comes from the pure :mod:`socialflow.workflow.graph`; SVG
runs the Graphviz ``dot`` program on the DOT text, which is why
:func:`to_svg` lives here, with the other I/O, and not in the library core.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path
from typing import Final

from socialflow._suggest import did_you_mean
from socialflow.cli._io import load_bundle
from socialflow.cli.registry import EXIT_OK, Command, CommandFailed
from socialflow.dsl.program import CheckedWorkflow
from socialflow.errors import UsageError
from socialflow.workflow.graph import to_dot, to_mermaid

__all__ = ["COMMAND", "FORMATS", "to_svg"]

#: The output formats, the first the default.
FORMATS: Final = ("mermaid", "dot", "svg")

#: How long ``dot`` may take before it is given up on (a workflow is small).
_DOT_TIMEOUT_SECONDS: Final = 120.0

_INSTALL_HINT: Final = (
    "install Graphviz (`apt install graphviz`, `brew install graphviz`), "
    "or use `--format dot` or `--format mermaid`"
)


def to_svg(workflow: CheckedWorkflow, dot_program: str = "dot") -> str:
    """``workflow`` drawn as SVG by the Graphviz program ``dot_program``.

    Raises:
        UsageError: the program is not installed (the message says how to get
            it), cannot be run, or fails.
    """
    try:
        done = subprocess.run(
            [dot_program, "-Tsvg"],
            input=to_dot(workflow),
            capture_output=True,
            text=True,
            encoding="utf-8",
            check=False,
            timeout=_DOT_TIMEOUT_SECONDS,
        )
    except FileNotFoundError:
        raise UsageError(
            f"the Graphviz program `{dot_program}` was not found: {_INSTALL_HINT}"
        ) from None
    except subprocess.TimeoutExpired:
        raise UsageError(
            f"the Graphviz program `{dot_program}` did not finish in "
            f"{_DOT_TIMEOUT_SECONDS:g} seconds"
        ) from None
    except OSError as e:
        raise UsageError(f"cannot run the Graphviz program `{dot_program}`: {e.strerror}") from None
    if done.returncode != 0:
        detail = done.stderr.strip() or "no message"
        raise UsageError(
            f"the Graphviz program `{dot_program} -Tsvg` failed "
            f"(exit status {done.returncode}): {detail}"
        )
    return done.stdout


def _configure_graph(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="rule files or folders of *.sf")
    parser.add_argument("--workflow", metavar="NAME", required=True, help="the workflow to draw")
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default=FORMATS[0],
        help="mermaid (stateDiagram-v2, the default), dot (Graphviz) or svg (runs `dot`)",
    )
    parser.add_argument("-o", "--output", metavar="OUT", help="write here (default: stdout)")


def _run_graph(args: argparse.Namespace) -> int:
    workflows = load_bundle(args.paths).program.workflows
    workflow = workflows.get(args.workflow)
    if workflow is None:
        hint = did_you_mean(args.workflow, workflows)
        known = ", ".join(f"`{w}`" for w in workflows) or "none"
        raise CommandFailed(
            f"error: no workflow `{args.workflow}` in the rules"
            + (f"; {hint}" if hint else f" (workflows: {known})")
        )
    if args.format == "svg":
        try:
            text = to_svg(workflow)
        except UsageError as e:
            raise CommandFailed(f"error: {e}") from None
    elif args.format == "dot":
        text = to_dot(workflow)
    else:
        text = to_mermaid(workflow)
    if args.output is None:
        sys.stdout.write(text)
        return EXIT_OK
    try:
        Path(args.output).write_text(text, encoding="utf-8")
    except OSError as e:
        raise CommandFailed(f"error: cannot write `{args.output}`: {e.strerror}") from None
    return EXIT_OK


COMMAND = Command(
    name="graph",
    help="draw a workflow: Mermaid, Graphviz DOT or SVG",
    configure=_configure_graph,
    run=_run_graph,
    epilog=(
        "svg needs the Graphviz `dot` program.\n"
        "exit status: 0 drawn, 2 bad arguments, rules that do not check, an unknown\n"
        "workflow, or no usable `dot`"
    ),
)
