"""The official CEL conformance tests (JSON vendored in ``conformance_data/``; see
``conformance_support.data_dir`` for the fallbacks), run against both backends.

Every test not listed in ``conformance_expected_failures.txt`` must pass;
a listed one must fail (strict: the suite fails when it starts passing, so the
list stays true).  Protocol-buffer tests are skipped: DESIGN.md puts messages,
enums and wrappers out of scope.
"""

from __future__ import annotations

import pytest

from tests.cel.conformance_support import Case, cases, data_dir, expected_failures, run

DATA = data_dir()
CASES: list[Case] = list(cases(DATA)) if DATA is not None else []
EXPECTED = expected_failures()


@pytest.mark.skipif(
    DATA is None, reason="CEL conformance data not found (set SOCIALFLOW_CEL_CONFORMANCE)"
)
@pytest.mark.parametrize("backend", ["compiled", "interpreted"])
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_conformance(case: Case, backend: str) -> None:
    if "proto" in case.needs:
        pytest.skip("protobuf messages are out of scope (DESIGN.md)")
    passed, detail = run(case, backend)
    if case.id in EXPECTED:
        assert not passed, f"expected failure now passes, remove it from the list: {case.id}"
        pytest.xfail(EXPECTED[case.id])
    assert passed, detail


@pytest.mark.skipif(DATA is None, reason="CEL conformance data not found")
def test_core_subset_is_the_documented_837() -> None:
    assert sum(c.core for c in CASES) == 837


@pytest.mark.skipif(DATA is None, reason="CEL conformance data not found")
def test_every_expected_failure_names_a_test() -> None:
    known = {c.id for c in CASES}
    assert sorted(set(EXPECTED) - known) == []
