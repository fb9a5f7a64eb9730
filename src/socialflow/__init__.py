"""socialflow: rules, workflows and permissions for social-media operations teams.

>>> import socialflow as sf
>>> sf.cel.compile("1 + 2").evaluate()
3

See ``docs/`` for the triage DSL (``sf.load``/``sf.loads``/``sf.loads_many``), the access model
(``bundle.access(...)``) and the CEL engine (``sf.cel``).
"""

from socialflow import cel, serde
from socialflow.access.engine import Access
from socialflow.access.model import (
    AccessDecision,
    Grant,
    OrgNode,
    Principal,
    Violation,
    records_from_json,
)
from socialflow.bundle import Bundle, load, loads, loads_many
from socialflow.errors import (
    CheckError,
    Diagnostic,
    EvalError,
    InputError,
    LimitExceededError,
    ParseError,
    SerializationError,
    Severity,
    SocialflowError,
    SourceError,
    SourceLimitError,
    UsageError,
)
from socialflow.testing.runner import TestResult, run_tests
from socialflow.timing.calendar import Calendar, OpeningHours
from socialflow.timing.escalation import EscalationPlan, EscalationPolicy, EscalationStep
from socialflow.timing.sla import SlaDeadlines, SlaPolicy
from socialflow.triage.decision import ConditionError, Decision, Explanation, Override, RuleTrace
from socialflow.workflow.engine import Workflow
from socialflow.workflow.model import ALLOW_ALL, Effect, Event, Instance, StepResult, Timer

__version__ = "0.1.0.dev0"

__all__ = [
    "ALLOW_ALL",
    "Access",
    "AccessDecision",
    "Bundle",
    "Calendar",
    "CheckError",
    "ConditionError",
    "Decision",
    "Diagnostic",
    "Effect",
    "EscalationPlan",
    "EscalationPolicy",
    "EscalationStep",
    "EvalError",
    "Event",
    "Explanation",
    "Grant",
    "InputError",
    "Instance",
    "LimitExceededError",
    "OpeningHours",
    "OrgNode",
    "Override",
    "ParseError",
    "Principal",
    "RuleTrace",
    "SerializationError",
    "Severity",
    "SlaDeadlines",
    "SlaPolicy",
    "SocialflowError",
    "SourceError",
    "SourceLimitError",
    "StepResult",
    "TestResult",
    "Timer",
    "UsageError",
    "Violation",
    "Workflow",
    "cel",
    "load",
    "loads",
    "loads_many",
    "records_from_json",
    "run_tests",
    "serde",
]
