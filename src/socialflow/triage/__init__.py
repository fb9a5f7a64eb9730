"""Triage: compile a checked program's rules and evaluate messages into decisions."""
