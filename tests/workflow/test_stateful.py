"""A hypothesis state machine drives the example content-approval workflow and
a small independent model of it, step by step, and checks they agree.

The model is written from the workflow's description (examples/workflows/
content_approval.sf), not from the engine: a dict of state and data, the
guards as Python, and the timers as "expires after" rules.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import socialflow as sf

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "workflows"
WORKFLOW = sf.load(EXAMPLES).workflow("content_approval")
T0 = datetime(2026, 11, 23, 9, tzinfo=UTC)
PEOPLE = ("ana", "lee", "hana")
H = timedelta(hours=1)

#: (event, from, to) without guards; guarded ones are decided in `_model_step`
_MOVES = {
    ("request_changes", "legal_review"): "changes_requested",
    ("request_changes", "hub_review"): "changes_requested",
    ("reject", "legal_review"): "rejected",
    ("reject", "hub_review"): "rejected",
    ("unschedule", "scheduled"): "approved",
    ("publish", "approved"): "published",
    ("publish", "scheduled"): "published",
    ("revise", "rejected"): "draft",
    ("revise", "expired"): "draft",
    ("archive", "published"): "archived",
    ("archive", "rejected"): "archived",
    ("archive", "expired"): "archived",
}
#: state -> how long it may stay before it expires
_EXPIRES = {"legal_review": 72 * H, "hub_review": 120 * H, "approved": 168 * H}


class ContentApproval(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.subject: dict[str, Any] = {"id": "p", "account": "acct-uk", "author": "ana"}
        self.now = T0
        self.instance = WORKFLOW.start("p", subject=self.subject, now=T0)
        self.counter = 0
        # the model
        self.state = "draft"
        self.entered = T0
        self.data: dict[str, Any] = {}

    @rule(needs_legal=st.booleans())
    @precondition(lambda self: self.state == "draft" and self.counter == 0)
    def decide_legal(self, needs_legal: bool) -> None:
        self.subject["needs_legal"] = needs_legal

    @rule(minutes=st.sampled_from([1, 30, 600, 2900, 7300, 10_100]))
    def wait(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)
        self.instance = WORKFLOW.advance(self.instance, self.now, subject=self.subject).instance
        self._model_timers()

    @rule(
        event=st.sampled_from(WORKFLOW.events),
        actor=st.sampled_from(PEOPLE),
        publish_in=st.one_of(st.none(), st.integers(-120, 3000)),
    )
    def event(self, event: str, actor: str, publish_in: int | None) -> None:
        data = None
        if publish_in is not None:
            when = self.now + timedelta(minutes=publish_in)
            data = {"publish_at": sf.cel.format_timestamp(when)}
        self.counter += 1
        result = WORKFLOW.step(
            self.instance,
            sf.Event(event, actor=actor, id=f"e{self.counter}", data=data),
            subject=self.subject,
            now=self.now,
            access=sf.ALLOW_ALL,
        )
        expected = self._model_step(event, actor, publish_in)
        assert result.accepted == expected, (event, actor, self.state, result.reason)
        self.instance = result.instance

    def _model_step(self, event: str, actor: str, publish_in: int | None) -> bool:
        state, author = self.state, self.subject["author"]
        legal = self.subject.get("needs_legal") is True
        target: str | None = None
        if state == "archived":
            return False
        if event == "submit" and state in ("draft", "changes_requested"):
            target = "legal_review" if legal else "hub_review"
        elif event == "legal_approve" and state == "legal_review" and actor != author:
            self.data["legal_approved_by"] = actor
            target = "hub_review"
        elif (
            event == "approve"
            and state == "hub_review"
            and actor != author
            and self.data.get("legal_approved_by") != actor
        ):
            self.data["approved_by"] = actor
            target = "approved"
        elif (
            event == "schedule"
            and state == "approved"
            and publish_in is not None
            and publish_in > 0
        ):
            self.data["publish_at"] = self.now + timedelta(minutes=publish_in)
            target = "scheduled"
        else:
            target = _MOVES.get((event, state))
        if target is None:
            return False
        self.state, self.entered = target, self.now
        return True

    def _model_timers(self) -> None:
        while True:
            limit = _EXPIRES.get(self.state)
            if limit is not None and self.now >= self.entered + limit:
                self.state, self.entered = "expired", self.entered + limit
                continue
            if self.state == "scheduled" and self.now >= self.data["publish_at"]:
                self.state, self.entered = "published", self.data["publish_at"]
                continue
            return

    @invariant()
    def same_state(self) -> None:
        assert self.instance.state == self.state
        assert self.instance.entered_at == self.entered

    @invariant()
    def approvals_hold(self) -> None:
        if self.instance.state in ("approved", "scheduled", "published"):
            assert self.instance.data["approved_by"] != self.subject["author"]


TestContentApproval = ContentApproval.TestCase
TestContentApproval.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
