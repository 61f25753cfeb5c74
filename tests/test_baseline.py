"""The engine against the fixed-seed baseline in tests/baseline/baseline.json.

Integers must match exactly, float sums to a relative 1e-9, hashes of the outcome table and series exactly.
A failure means the engine now does something different for the same seed. If that is intended (a model
change, not a speed-up), run ``make baseline`` and commit the new baseline.json with the change.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

# loaded by path, so the test does not depend on how pytest puts tests/ on sys.path
_spec = importlib.util.spec_from_file_location("baseline_regenerate", Path(__file__).parent / "baseline" / "regenerate.py")
regen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(regen)

HINT = "if this change is intended, run `make baseline` (python -m tests.baseline.regenerate) and commit baseline.json"


@pytest.fixture(scope="module")
def stored():
    assert regen.BASELINE.exists(), f"{regen.BASELINE} is missing; {HINT}"
    return regen.load()


def test_cases_are_the_recorded_ones(stored):
    assert set(stored) == set(regen.CASES), HINT
    for name, overrides in regen.CASES.items():
        assert stored[name]["overrides"] == overrides, f"{name}: the case changed; {HINT}"


@pytest.mark.parametrize("name", list(regen.CASES))
def test_engine_matches_baseline(stored, name):
    expected = stored[name]
    actual = regen.summarize_case(expected["overrides"], expected["runs"], expected["seed"])
    changed = regen.differences(expected, actual)
    assert not changed, f"{name}: {len(changed)} difference(s) from the baseline: " + "; ".join(changed[:8]) + f". {HINT}"


def test_baseline_is_not_trivial(stored):
    """The cases exercise the model: replicas are born, detected, shut down; some runs end extinct, some not."""
    total = {col: sum(case["outcomes"][col]["sum"] for case in stored.values())
             for col in ("births", "detections", "shutdowns", "avoidance_events", "extinct", "flights")}
    assert all(v > 0 for v in total.values()), total
    assert any(case["outcomes"]["extinct"]["sum"] < case["runs"] for case in stored.values())


def test_differences_are_detected():
    """The comparison itself can fail: a changed integer, float, hash or key is reported."""
    base = {"a": {"sum": 3}, "b": {"sum": 1.0, "sha256": "x"}}
    assert regen.differences(base, base) == []
    assert regen.differences(base, {"a": {"sum": 4}, "b": {"sum": 1.0, "sha256": "x"}})
    assert regen.differences(base, {"a": {"sum": 3}, "b": {"sum": 1.0 + 1e-6, "sha256": "x"}})
    assert regen.differences(base, {"a": {"sum": 3}, "b": {"sum": 1.0 + 1e-12, "sha256": "x"}}) == []
    assert regen.differences(base, {"a": {"sum": 3}, "b": {"sum": 1.0, "sha256": "y"}})
    assert regen.differences(base, {"a": {"sum": 3}})
