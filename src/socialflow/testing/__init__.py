"""Testing: the runner of the DSL's ``test`` blocks (and, later, the test author's kit)."""
