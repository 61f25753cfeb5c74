"""The within-run parallel mode (one run's replica table over threads) against the ensemble mode.

Within-run mode settles competing proposals by random priorities instead of sequential selection sampling, so it
gives different numbers from the ensemble mode; these tests hold it to (1) the same numbers for 1 and 2 threads,
(2) the same distribution of outcomes as the ensemble mode, and (3) the model's invariants every step.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import stats

import replisim
from replisim.engine.rng import BLOCK
from replisim.results import SERIES_NAMES
from replisim.simulate import WITHIN_RUN_SLOTS, parallel_mode

# Every mechanism on, on a network that is full after a few steps, so that most steps have nodes with more
# proposals than free slots (the part of resolve that differs between the modes). 6 x 1000 x 4 = 24,000 slots
# is 6 random-stream blocks, so two threads really split the table.
CROWDED = [
    "network.kind=complete", "network.nodes=6000", "network.capacity=4", "network.security=0.2",
    "replica.initial=3000", "replica.initial_misaligned=0.5", "replica.attempt_rate=0.5", "replica.success=0.6",
    "replica.evasion=0.2", "replica.shutdown_avoidance=0.5", "replica.misalignment_rate=0.1",
    "replica.mutation_sd=0.02", "replica.strategic=true", "governance.detection=0.02",
    "governance.response_latency=1", "governance.hardening=0.01", "governance.quarantine_hours=1",
    "governance.retraining_rate=0.02", "governance.if_then.enabled=true", "governance.reporting.enabled=true",
    "collusion.enabled=true", "sim.steps=40",
]


def with_threads(cfg, threads):
    return dataclasses.replace(cfg, sim=dataclasses.replace(cfg.sim, threads=threads))


def assert_identical(a, b):
    np.testing.assert_array_equal(a.outcomes.to_numpy(dtype=float, na_value=-1.0),
                                  b.outcomes.to_numpy(dtype=float, na_value=-1.0))
    for name in SERIES_NAMES:
        np.testing.assert_array_equal(a.series(name), b.series(name))


@pytest.fixture(scope="module")
def crowded():
    cfg = replisim.compose(CROWDED + ["sim.validate=true"])
    assert cfg.network.nodes * cfg.network.capacity >= 4 * BLOCK
    return cfg


def test_within_run_identical_for_one_and_two_threads(crowded):
    one = replisim.simulate(with_threads(crowded, 1), runs=3, seed=11, parallel="within_run")
    two = replisim.simulate(with_threads(crowded, 2), runs=3, seed=11, parallel="within_run")
    assert one.meta["parallel"] == "within_run"
    assert_identical(one, two)
    # the crowding the test relies on: the network fills up, so late steps have nodes with more successful
    # proposals than free slots (the priority rule is exercised, not only "accept all")
    assert (one.series("nodes_occupied")[:, -1] > 0.9 * crowded.network.nodes).all()


def test_within_run_differs_from_ensemble_numbers(crowded):
    """Not a goal in itself: it shows that the first test compares a mode with its own rule, not the serial one."""
    one = with_threads(crowded, 1)
    within = replisim.simulate(one, runs=2, seed=11, parallel="within_run")
    ensemble = replisim.simulate(one, runs=2, seed=11, parallel="ensemble")
    assert not np.array_equal(within.series("replicas"), ensemble.series("replicas"))


# Two-sample Kolmogorov-Smirnov tests of per-run outcomes, 150 runs per mode. Each p-value must exceed 0.001;
# with four statistics the chance that equal distributions fail is below 0.4% (Bonferroni), and the seeds are
# fixed, so the test is deterministic. The power check below shows the same test rejects a 10% change in skill.
KS_RUNS = 150
KS_ALPHA = 1e-3
KS_STATS = ("final_replicas", "detections", "births", "misaligned_final")


def ks_pvalues(a, b):
    return {k: stats.ks_2samp(a.outcomes[k], b.outcomes[k]).pvalue for k in KS_STATS}


@pytest.fixture(scope="module")
def ks_cfg():
    # one thread: within-run numbers do not depend on it (first test), and short runs spend their time waking
    # threads on a loaded machine rather than computing
    return replisim.compose(CROWDED + ["sim.steps=30", "network.nodes=1500", "replica.initial=1000", "sim.threads=1"])


@pytest.mark.slow
def test_within_run_and_ensemble_agree_in_distribution(ks_cfg):
    within = replisim.simulate(ks_cfg, runs=KS_RUNS, seed=21, parallel="within_run")
    ensemble = replisim.simulate(ks_cfg, runs=KS_RUNS, seed=22, parallel="ensemble")
    p = ks_pvalues(within, ensemble)
    assert min(p.values()) > KS_ALPHA, p


@pytest.mark.slow
def test_ks_check_detects_a_small_change(ks_cfg):
    weaker = dataclasses.replace(ks_cfg, replica=dataclasses.replace(ks_cfg.replica, success=0.54))
    within = replisim.simulate(ks_cfg, runs=KS_RUNS, seed=21, parallel="within_run")
    other = replisim.simulate(weaker, runs=KS_RUNS, seed=22, parallel="ensemble")
    assert min(ks_pvalues(within, other).values()) < KS_ALPHA


def test_auto_mode_depends_on_run_size_only(crowded):
    assert parallel_mode(crowded, WITHIN_RUN_SLOTS - 1) == "ensemble"
    assert parallel_mode(crowded, WITHIN_RUN_SLOTS) == "within_run"
    assert parallel_mode(crowded, WITHIN_RUN_SLOTS, "ensemble") == "ensemble"
    assert parallel_mode(crowded, 10, "within_run") == "within_run"
    with pytest.raises(replisim.ConfigError, match="sim.parallel='sideways'"):
        parallel_mode(crowded, 10, "sideways")


def test_a_long_run_in_this_mode_shows_its_steps(capsys):
    """One huge run is one compiled call: the engine reports the steps done as it goes and a thread redraws a
    bar of them (tqdm writes to stderr); the numbers are those of the run without the bar."""
    cfg = replisim.compose(CROWDED + ["runs=1"])
    quiet = replisim.simulate(cfg, parallel="within_run")
    capsys.readouterr()
    shown = replisim.simulate(cfg, parallel="within_run", progress=True)
    err = capsys.readouterr().err
    assert "steps" in err and "40/40" in err, err[-500:]
    assert_identical(quiet, shown)
