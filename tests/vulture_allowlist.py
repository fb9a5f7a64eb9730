"""Names vulture reports as unused that are used, with the reason (read by
``vulture src tests tests/vulture_allowlist.py``; never imported or run).

Everything else vulture finds is dead: delete it.
"""

# ruff: noqa: B018, F821 - bare names are how vulture allowlists work

# lark calls the grammar import hook with (base_path, grammar_path)
base_path
# attributes of lark's Token and UnexpectedInput, set by the lean lexer and LALR
# loop in _syntax.py for lark's own code to read
end_column
interactive_parser
# an option set on google-re2's Options object
log_errors
# public API users read: documented in docs/, not called inside socialflow
Span.column
Decision.respond
Decision.ignore
CheckedProgram.queues
CheckedWorkflow.data_fields
Workflow.next_deadline
Workflow.available
# listed for readers of cel/ast.py (the docstring refers to it)
COMPREHENSION_KINDS
# pytest hooks and fixtures are called by pytest
pytest_addoption
# test data that documents itself (a hostile attribute name; the peer's known bugs)
secret
PEER_BUGS
# hypothesis calls the rules and invariants of a RuleBasedStateMachine
decide_legal
wait
same_state
approvals_hold
