"""Bit-identical results for repeated calls, for 1 and 2 threads, and for any chunking of the runs (issue 2, §3)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

import replisim

RUNS = 10

# Every mechanism that draws random numbers is on, so every stream is exercised.
ALL_ON = [
    "scenario=default", "network=small_world", "network.nodes=150", "sim.steps=60",
    "governance.response_latency=2", "governance.hardening=0.05", "governance.quarantine_hours=3",
    "governance.retraining_rate=0.02", "replica.strategic=true", "replica.success_prior=true",
]


@pytest.fixture(scope="module")
def cfg():
    return replisim.compose(ALL_ON)


def with_threads(cfg, threads):
    return dataclasses.replace(cfg, sim=dataclasses.replace(cfg.sim, threads=threads))


def assert_identical(a, b):
    pd.testing.assert_frame_equal(a.outcomes, b.outcomes, check_exact=True)
    assert set(a.series_data) == set(b.series_data)
    for name in a.series_data:
        np.testing.assert_array_equal(a.series(name), b.series(name), err_msg=name)


def test_not_trivial(cfg):
    """The comparisons below mean something only if runs differ from one another and things happen."""
    ens = replisim.simulate(cfg, runs=RUNS, seed=1)
    o = ens.outcomes
    assert o["births"].sum() > 0 and o["detections"].sum() > 0 and o["shutdowns"].sum() > 0
    assert o["skill"].nunique() == RUNS
    assert len({tuple(row) for row in ens.series("replicas")}) > 1


def test_repeated_calls(cfg):
    assert_identical(replisim.simulate(cfg, runs=RUNS, seed=1), replisim.simulate(cfg, runs=RUNS, seed=1))


def test_one_and_two_threads(cfg):
    one = replisim.simulate(with_threads(cfg, 1), runs=RUNS, seed=1)
    two = replisim.simulate(with_threads(cfg, 2), runs=RUNS, seed=1)
    assert_identical(one, two)


def test_chunked_runs(cfg):
    whole = replisim.simulate(cfg, runs=RUNS, seed=1)
    head = replisim.simulate(cfg, runs=4, seed=1)
    tail = replisim.simulate(cfg, runs=6, seed=1, first_run=4)
    assert tail.outcomes["run"].tolist() == list(range(4, 10))
    joined = pd.concat([head.outcomes, tail.outcomes], ignore_index=True)
    pd.testing.assert_frame_equal(whole.outcomes, joined, check_exact=True)
    for name in whole.series_data:
        np.testing.assert_array_equal(whole.series(name), np.vstack([head.series(name), tail.series(name)]))


def test_progress_bar_does_not_change_results(cfg):
    # progress=True runs the ensemble in chunks of a few runs
    assert_identical(replisim.simulate(cfg, runs=RUNS, seed=1),
                     replisim.simulate(cfg, runs=RUNS, seed=1, progress=True))


def test_seed_from_config_and_argument_agree(cfg):
    from_cfg = replisim.simulate(dataclasses.replace(cfg, seed=5), runs=4)
    assert_identical(from_cfg, replisim.simulate(cfg, runs=4, seed=5))


def test_different_seeds_differ(cfg):
    a = replisim.simulate(cfg, runs=RUNS, seed=1)
    b = replisim.simulate(cfg, runs=RUNS, seed=2)
    assert not np.array_equal(a.series("replicas"), b.series("replicas"))
    assert not np.array_equal(a.outcomes["skill"], b.outcomes["skill"])


def test_runs_of_one_ensemble_differ(cfg):
    # same config and seed, different run index: independent streams
    ens = replisim.simulate(cfg, runs=RUNS, seed=1)
    rows = ens.series("replicas")
    assert len({tuple(r) for r in rows}) == RUNS


# --- within-run parallel mode: one run's replica table over threads ------------------------------------------------
# Blocks of rng.BLOCK slots are the unit of work, so the run must hold several blocks for threads to share it.
WITHIN = ["scenario=default", "network.nodes=4000", "network.capacity=4", "replica.initial=9000", "sim.steps=12",
          "governance.response_latency=1", "governance.quarantine_hours=2", "governance.hardening=0.05",
          "governance.retraining_rate=0.05", "collusion.flight=0.5"]


@pytest.fixture(scope="module")
def within_cfg():
    return replisim.compose(WITHIN)


def test_within_run_mode_one_and_two_threads(within_cfg):
    one = replisim.simulate(with_threads(within_cfg, 1), runs=2, seed=4, parallel="within_run")
    two = replisim.simulate(with_threads(within_cfg, 2), runs=2, seed=4, parallel="within_run")
    assert one.meta["parallel"] == two.meta["parallel"] == "within_run"
    assert one.outcomes["births"].sum() > 0 and one.outcomes["flights"].sum() > 0
    assert_identical(one, two)


def test_within_run_mode_repeated_and_chunked(within_cfg):
    whole = replisim.simulate(within_cfg, runs=2, seed=4, parallel="within_run")
    assert_identical(whole, replisim.simulate(within_cfg, runs=2, seed=4, parallel="within_run"))
    second = replisim.simulate(within_cfg, runs=1, seed=4, first_run=1, parallel="within_run")
    pd.testing.assert_frame_equal(whole.outcomes.iloc[1:].reset_index(drop=True), second.outcomes, check_exact=True)


# A large network that the replicas fill slowly: most steps qualify for the sparse per-node passes
# (engine.state.Listed), with every node-level mechanism on: collusion (warnings, blinding, footholds, flight),
# quarantine and hardening, incident reporting across jurisdictions, an if-then commitment, strategic targeting.
SPARSE_WORLD = [
    "scenario=default", "network.nodes=3000", "replica.initial=20", "sim.steps=150", "jurisdictions=three_blocs",
    "replica.attempt_rate=0.3", "governance.detection=0.05", "governance.response_latency=2",
    "governance.hardening=0.05", "governance.quarantine_hours=3", "governance.reporting.enabled=true",
    "governance.if_then.enabled=true", "replica.strategic=true", "collusion.enabled=true", "collusion.flight=0.5",
    "sim.validate=true",
]


def with_sparse_share(cfg, share):
    return dataclasses.replace(cfg, sim=dataclasses.replace(cfg.sim, sparse_share=share))


def test_sparse_steps_change_nothing():
    """sim.sparse_share decides only which nodes a step's per-node passes visit: never (0), the default, or
    whenever allowed (1e9) give the same bits, in validate mode (which also checks the list of nodes kept for
    sparse steps after every step)."""
    cfg = replisim.compose(SPARSE_WORLD)
    dense = replisim.simulate(with_sparse_share(cfg, 0.0), runs=6, seed=3)
    o = dense.outcomes
    assert o["detections"].sum() > 0 and o["flights"].sum() > 0 and o["births"].sum() > 0
    # the population stays a small share of the nodes for most of the horizon: sparse steps happen
    assert np.median(dense.series("nodes_occupied")[:, 1:]) < 0.25 * 3000
    for share in (None, 0.25, 1e9):
        assert_identical(dense, replisim.simulate(with_sparse_share(cfg, share), runs=6, seed=3))


def test_sparse_share_left_at_none_follows_the_network_size():
    """sim.sparse_share at none packs the measured break-even for the network's size (engine.params): half the
    nodes up to CACHED_NODES, a quarter above; a value given is packed as it is."""
    from replisim.engine.params import CACHED_NODES, SPARSE_SHARE_CACHED, SPARSE_SHARE_LARGE, P, pack

    assert replisim.compose([]).sim.sparse_share is None
    for nodes, share in ((1000, SPARSE_SHARE_CACHED), (CACHED_NODES, SPARSE_SHARE_CACHED),
                         (CACHED_NODES + 1, SPARSE_SHARE_LARGE)):
        cfg = replisim.compose(["scenario=minimal", f"network.nodes={nodes}"])
        assert pack(cfg)[P.SPARSE_SHARE] == share
    assert pack(replisim.compose(["sim.sparse_share=0.7"]))[P.SPARSE_SHARE] == 0.7
