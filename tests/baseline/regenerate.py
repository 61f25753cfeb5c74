"""Regenerate the fixed-seed baseline on purpose: ``make baseline`` (``python -m tests.baseline.regenerate``).

The baseline holds, for a few small fixed configurations, the sum of every outcome column and a SHA-256 of
the outcome table and of every series. tests/test_baseline.py recomputes them and requires equality: integers
exactly, float sums to a relative 1e-9, hashes exactly. So any change in what the engine does shows up, and
a change that is meant (a model change) is recorded by running this script, which prints what changed, and
committing baseline.json with it. A pure speed-up of the engine must leave the baseline untouched.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

BASELINE = Path(__file__).with_name("baseline.json")
RUNS = 50
SEED = 2024
STEPS = ["network.nodes=200", "sim.steps=100"]
CASES = {
    "minimal": ["scenario=minimal", *STEPS],
    # below the epidemic threshold (0.5 x 0.5 births against 0.3 deaths per replica-step): most runs die out
    "minimal_subcritical": ["scenario=minimal", "governance.detection=0.3", *STEPS],
    "default": ["scenario=default", *STEPS],
    "pan2024_qwen25_72b_prior": ["scenario=pan2024_qwen25_72b", "replica.success_prior=true", *STEPS],
    # every dynamic mechanism on, on a graph with edges
    "mechanisms": ["scenario=default", "network=small_world", "network.degree=6", *STEPS,
                   "governance.response_latency=2", "governance.hardening=0.05", "governance.quarantine_hours=3",
                   "governance.retraining_rate=0.02", "replica.strategic=true", "governance.if_then.enabled=true",
                   "governance.if_then.delay=5", "governance.reporting.enabled=true"],
}
REL_TOL = 1e-9


def _sha256(values: np.ndarray) -> str:
    values = np.ascontiguousarray(values, dtype=np.float64)
    values = np.where(np.isnan(values), np.nan, values)  # one NaN bit pattern
    return hashlib.sha256(values.tobytes()).hexdigest()


def summarize_case(overrides, runs=RUNS, seed=SEED) -> dict:
    import replisim

    ens = replisim.simulate(replisim.compose(overrides), runs=runs, seed=seed)
    outcomes = {}
    for col in ens.outcomes.columns:
        x = ens.outcomes[col].to_numpy()
        if x.dtype.kind in "biu":
            outcomes[col] = {"sum": int(x.astype(np.int64).sum())}
        else:
            x = x.astype(np.float64)
            outcomes[col] = {"sum": math.fsum(x[~np.isnan(x)]), "nan": int(np.isnan(x).sum())}
    series = {name: {"sum": math.fsum(arr.ravel()), "sha256": _sha256(arr)} for name, arr in ens.series_data.items()}
    table = ens.outcomes.to_numpy(dtype=np.float64)
    return {"overrides": list(overrides), "runs": runs, "seed": seed, "outcomes_sha256": _sha256(table),
            "outcomes": outcomes, "series": series}


def compute() -> dict:
    return {name: summarize_case(overrides) for name, overrides in CASES.items()}


def differences(expected, actual, path="") -> list[str]:
    """Where two baselines differ: integers and strings exactly, floats to a relative REL_TOL."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        out = []
        for key in sorted(set(expected) | set(actual)):
            where = f"{path}.{key}" if path else key
            if key not in actual:
                out.append(f"{where}: missing now" + ("" if isinstance(expected[key], dict) else f" (was {expected[key]!r})"))
            elif key not in expected:
                out.append(f"{where}: new" + ("" if isinstance(actual[key], dict) else f" ({actual[key]!r})"))
            else:
                out += differences(expected[key], actual[key], where)
        return out
    if isinstance(expected, float) or isinstance(actual, float):
        if not math.isclose(float(expected), float(actual), rel_tol=REL_TOL, abs_tol=1e-12):
            return [f"{path}: {expected!r} -> {actual!r}"]
        return []
    return [] if expected == actual else [f"{path}: {expected!r} -> {actual!r}"]


def load() -> dict:
    return json.loads(BASELINE.read_text()) if BASELINE.exists() else {}


def write(data: dict) -> None:
    """Write atomically: a temporary file in the same directory, then a rename."""
    fd, tmp = tempfile.mkstemp(dir=BASELINE.parent, prefix=".baseline.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=1, sort_keys=True)
            fh.write("\n")
        os.replace(tmp, BASELINE)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main() -> int:
    old = load()
    new = compute()
    changed = differences(old, new) if old else ["(no previous baseline)"]
    if not changed:
        print(f"baseline unchanged: {BASELINE}")
        return 0
    print(f"{len(changed)} change(s) against the previous baseline:")
    for line in changed:
        print("  " + line)
    write(new)
    print(f"wrote {BASELINE}; commit it together with the change that caused it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
