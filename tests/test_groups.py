"""Group series (``simulate(..., groups=...)``): the replicas on each group of nodes at every step (issue 13)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

import replisim
from replisim.config.schema import NODE_TYPES
from replisim.groups import MAX_LABELS

NODES = 3000
# many nodes, few replicas: sparse steps happen (test_reproducibility's world, shorter); every mechanism that
# moves replicas between nodes is on, and validate mode checks the list of nodes a sparse step visits
SPARSE_WORLD = [
    "scenario=default", f"network.nodes={NODES}", "replica.initial=20", "sim.steps=80", "jurisdictions=three_blocs",
    "replica.attempt_rate=0.3", "governance.detection=0.05", "governance.response_latency=2",
    "governance.quarantine_hours=3", "collusion.enabled=true", "collusion.flight=0.5", "sim.validate=true",
]
GROUPS = {"type": "node_type", "jur": "jurisdiction", "mod3": np.arange(NODES) % 3}


def with_sparse_share(cfg, share):
    return dataclasses.replace(cfg, sim=dataclasses.replace(cfg.sim, sparse_share=share))


@pytest.fixture(scope="module")
def cfg():
    return replisim.compose(SPARSE_WORLD)


@pytest.fixture(scope="module")
def grouped(cfg):
    return replisim.simulate(cfg, runs=6, seed=3, groups=GROUPS)


def assert_sums_to_replicas(ens, names):
    replicas = ens.series("replicas")
    for name in names:
        np.testing.assert_array_equal(ens.group_series(name).sum(axis=1), replicas, err_msg=name)


def test_groups_add_up_to_the_replicas_and_end_where_the_survivors_are(grouped):
    assert grouped.outcomes["births"].sum() > 0 and grouped.outcomes["flights"].sum() > 0
    assert_sums_to_replicas(grouped, GROUPS)
    assert grouped.group_labels("type") == tuple(NODE_TYPES)
    assert grouped.group_labels("jur") == ("us", "china", "eu", "haven")
    assert grouped.group_labels("mod3") == ("0", "1", "2")
    assert grouped.group_series("jur").shape == (6, 4, 81)
    # the last step is the survivors per node type and per jurisdiction, counted apart at the horizon
    o = grouped.outcomes
    np.testing.assert_array_equal(grouped.group_series("type")[:, :, -1],
                                  o[[f"final_on_{t}" for t in NODE_TYPES]].to_numpy())
    np.testing.assert_array_equal(grouped.group_series("jur")[:, :, -1],
                                  o[[f"final_in_{j}" for j in grouped.group_labels("jur")]].to_numpy())
    # not trivially one label: replicas sit in several groups of each grouping
    for name in GROUPS:
        assert (grouped.group_series(name).sum(axis=(0, 2)) > 0).sum() >= 2, name


def test_a_user_label_array_counts_its_own_nodes(cfg):
    """Labels that are not a world attribute: node index mod 3, summed over the labels, and one label for every
    node (all replicas in it)."""
    ens = replisim.simulate(cfg, runs=3, seed=5, groups={"mod3": np.arange(NODES) % 3,
                                                         "one": np.zeros(NODES, np.int64)})
    assert_sums_to_replicas(ens, ("mod3", "one"))
    np.testing.assert_array_equal(ens.group_series("one")[:, 0], ens.series("replicas"))


def test_sparse_steps_count_the_same(cfg, grouped):
    """Never sparse (0), whenever allowed (1e9) and the default (``grouped``) give the same group series."""
    assert np.median(grouped.series("nodes_occupied")[:, 1:]) < 0.25 * NODES  # sparse steps happen
    for share in (0.0, 1e9):
        other = replisim.simulate(with_sparse_share(cfg, share), runs=6, seed=3, groups=GROUPS)
        for name in GROUPS:
            np.testing.assert_array_equal(other.group_series(name), grouped.group_series(name), err_msg=name)


def test_groups_change_nothing_else(cfg, grouped):
    plain = replisim.simulate(cfg, runs=6, seed=3)
    pd.testing.assert_frame_equal(plain.outcomes, grouped.outcomes, check_exact=True)
    for name in plain.series_data:
        np.testing.assert_array_equal(plain.series(name), grouped.series(name), err_msg=name)
    assert plain.group_data == {}
    with pytest.raises(KeyError, match="none"):
        plain.group_series("jur")


def test_within_run_passes_count_groups_too():
    cfg = replisim.compose(["network.nodes=200", "sim.steps=30", "jurisdictions=three_blocs"])
    ens = replisim.simulate(cfg, runs=2, seed=1, parallel="within_run", groups={"jur": "jurisdiction"})
    assert ens.series("replicas")[:, -1].sum() > 0
    assert_sums_to_replicas(ens, ("jur",))


@pytest.mark.parametrize("groups, named", [
    ([1, 2], "groups=list"),
    ({"x": "region"}, "groups['x']='region'"),
    ({"x": np.arange(10)}, "groups['x']: an array of shape (10,)"),
    ({"x": np.full(NODES, -1)}, "groups['x']: labels from -1"),
    ({"x": np.full(NODES, MAX_LABELS)}, f"labels from {MAX_LABELS}"),
    ({"x": np.zeros(NODES)}, "groups['x']: an array of float64"),
    ({"x": np.zeros(NODES, bool)}, "an array of bool"),
    ({"": "node_type"}, "groups key ''"),
])
def test_bad_groups_are_refused_by_name(cfg, groups, named):
    with pytest.raises(replisim.ConfigError, match="allowed") as err:
        replisim.simulate(cfg, runs=1, seed=0, groups=groups)
    assert named in str(err.value)


def test_the_memory_estimate_counts_the_group_series():
    cfg = replisim.compose([f"network.nodes={NODES}", "sim.steps=1000", "sim.memory_limit_gb=0.05"])
    replisim.simulate(cfg, runs=1, seed=0, groups={"jur": "jurisdiction"})  # a few rows fit
    with pytest.raises(replisim.ConfigError, match=r"groups= \(1000 labels\)"):
        replisim.simulate(cfg, runs=10, seed=0, groups={"many": np.arange(NODES) % 1000})


def test_group_series_survive_parquet_and_concat(grouped, tmp_path):
    grouped.to_parquet(tmp_path)
    back = replisim.Ensemble.from_parquet(tmp_path)
    for name in GROUPS:
        assert back.group_labels(name) == grouped.group_labels(name)
        np.testing.assert_array_equal(back.group_series(name), grouped.group_series(name))
    both = replisim.Ensemble.concat([grouped, back])
    np.testing.assert_array_equal(both.group_series("jur"),
                                  np.concatenate([grouped.group_series("jur")] * 2))
    # results written again without groups do not read back the old ones
    dataclasses.replace(grouped, group_data={}).to_parquet(tmp_path)
    assert replisim.Ensemble.from_parquet(tmp_path).group_data == {}


def test_the_mesa_engine_counts_the_same_groups():
    cfg = replisim.compose(["network.nodes=60", "sim.steps=25", "jurisdictions=three_blocs"])
    groups = {"type": "node_type", "jur": "jurisdiction", "mod3": np.arange(60) % 3}
    mesa = replisim.simulate(cfg, runs=3, seed=2, engine="mesa", groups=groups)
    numba = replisim.simulate(cfg, runs=3, seed=2, groups=groups)
    assert mesa.series("replicas")[:, -1].sum() > 0
    assert_sums_to_replicas(mesa, groups)
    o = mesa.outcomes
    np.testing.assert_array_equal(mesa.group_series("type")[:, :, -1],
                                  o[[f"final_on_{t}" for t in NODE_TYPES]].to_numpy())
    for name in groups:
        assert mesa.group_labels(name) == numba.group_labels(name)
        assert mesa.group_series(name).shape == numba.group_series(name).shape
