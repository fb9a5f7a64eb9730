"""Workflows: finite-state machines over immutable instances (content approval,
incident lifecycles), with permissions, guards, timers and escalation."""
