"""socialflow: rules, workflows and permissions for social-media operations teams."""

from socialflow import cel
from socialflow.errors import (
    CheckError,
    EvalError,
    InputError,
    LimitExceededError,
    ParseError,
    SocialflowError,
    SourceError,
    UsageError,
)

__version__ = "0.1.0.dev0"

__all__ = [
    "CheckError",
    "EvalError",
    "InputError",
    "LimitExceededError",
    "ParseError",
    "SocialflowError",
    "SourceError",
    "UsageError",
    "cel",
]
