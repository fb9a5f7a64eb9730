"""Every undeclared-name error helps: a did-you-mean when a declared name is
close, else the declared names (at most eight, then how many more)."""

from __future__ import annotations

import pytest

import socialflow as sf
from socialflow.dsl.check.context import LISTED

HEADER = 'schema M { id: string }\ninput msg: M\nrule r { when msg.id == "x" then route '


def errors(text: str) -> list[sf.Diagnostic]:
    with pytest.raises(sf.CheckError) as info:
        sf.loads(text, "n.sf")
    return [d for d in info.value.diagnostics if d.severity is sf.Severity.ERROR]


def test_a_close_name_is_suggested_and_is_not_reported_unused() -> None:
    with pytest.raises(sf.CheckError) as info:
        sf.loads(HEADER + "biling }\nqueue billing\n", "n.sf")
    (d,) = info.value.diagnostics  # no unused_declaration for `billing`: it was meant
    assert (d.code, d.help) == ("undeclared_queue", "did you mean `billing`?")


def test_without_a_close_name_the_declared_ones_are_listed_sorted() -> None:
    (d,) = errors(HEADER + "support }\nqueue spam\nqueue billing\n")
    assert d.help == "declared queues: `billing`, `spam`"


def test_the_list_is_cut_after_eight_names() -> None:
    queues = "".join(f"queue queue_{i:02}\n" for i in range(20))
    (d,) = errors(HEADER + "x }\n" + queues)
    shown = ", ".join(f"`queue_{i:02}`" for i in range(LISTED))
    assert d.help == f"declared queues: {shown} and {20 - LISTED} more"


def test_nothing_declared_says_so() -> None:
    found = errors(HEADER + "q; sla fast; escalate loud }\nqueue q\n")
    assert [d.help for d in found] == [
        "no SLAs are declared",
        "no escalation policies are declared",
    ]


@pytest.mark.parametrize(
    "text",
    [
        HEADER + "zzz }\nqueue a\n",
        "schema M { id: Zzzzzz }\ninput msg: M\n",
        "schema M { id: string }\ninput msg: Zzzzzz\n",
        "permission view\nrole a extends zzzzzz { view }\n",
        "permission view\nrole a { zzzzzz }\n",
        "permission view\npermit zzzzzz\n",
        "workflow w {\n state a initial\n state b final\n on go from a to zzzzzz\n}\n",
        "workflow w {\n state a initial\n state b final\n on go from a to b\n}\n"
        'test "t" {\n workflow zzzzzz\n start at "2026-11-23T09:00:00Z"\n expect state a\n}\n',
        HEADER + 'q }\nqueue q\ntest "t" {\n given msg = {"id": "1"}\n expect matched zzzzzz\n}\n',
    ],
)
def test_every_undeclared_name_error_has_a_help(text: str) -> None:
    found = [d for d in errors(text) if d.code.startswith(("undeclared_", "unknown_"))]
    assert found
    for d in found:
        assert d.help is not None
        assert d.help.startswith(("did you mean", "declared ", "no ", "types are", "use ")), d
