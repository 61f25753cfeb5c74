"""Capacity from memory: a node holds as many replicas as its accelerator memory fits copies of the model."""

import numpy as np
import pytest

import replisim
from replisim.config.errors import ConfigError
from replisim.config.schema import NODE_TYPES, node_slots
from replisim.network import build_network


def slots_by_type(cfg):
    net = build_network(cfg, np.random.default_rng(0))
    return {t: set(net.capacity[net.node_type == i].tolist()) for i, t in enumerate(NODE_TYPES)
            if (net.node_type == i).any()}


def test_default_slots_are_memory_over_footprint():
    """160 GB per replica (a 70B model at FP16 with its cache) on 1128/640/192/320/8 GB nodes."""
    cfg = replisim.compose([])
    assert cfg.replica.footprint_gb == 160.0
    assert {t: node_slots(cfg.network.types[t], 160.0) for t in NODE_TYPES} == {
        "frontier_lab": 7, "hyperscale_cloud": 4, "enterprise": 1, "academic": 2, "consumer_edge": 0}
    for t, values in slots_by_type(cfg).items():
        assert values == {node_slots(cfg.network.types[t], 160.0)}, t


def test_a_small_model_fits_on_consumer_machines():
    """scenario=small_model (5 GB, a 14B model at 4 bits) gives the consumer GPU one slot and the rest many."""
    cfg = replisim.compose(["scenario=small_model"])
    assert slots_by_type(cfg) == {"frontier_lab": {225}, "hyperscale_cloud": {128}, "enterprise": {38},
                                  "academic": {64}, "consumer_edge": {1}}


def test_exact_fit_is_not_lost_to_rounding():
    """memory / footprint exactly whole (e.g. 0.3 x 3 = 0.9 in floating point) gives that many slots."""
    cfg = replisim.compose(["network.types.enterprise.memory_gb=0.9", "replica.footprint_gb=0.3"])
    assert node_slots(cfg.network.types["enterprise"], 0.3) == 3


def test_capacity_set_directly_wins_over_memory():
    cfg = replisim.compose(["network.types.consumer_edge.capacity=3", "network.capacity=null"])
    assert slots_by_type(cfg)["consumer_edge"] == {3}
    cfg = replisim.compose(["network.capacity=5"])
    assert set(build_network(cfg, np.random.default_rng(0)).capacity.tolist()) == {5}


def test_a_model_that_fits_nowhere_is_refused_naming_the_largest_node():
    with pytest.raises(ConfigError, match=r"replica.footprint_gb=5000 does not fit on any node.*allowed: <= 1128"):
        replisim.compose(["replica.footprint_gb=5000"])


def test_more_initial_replicas_than_slots_is_refused():
    """1000 nodes at 160 GB hold 930 replicas (the mix's node counts times 7/4/1/2/0)."""
    with pytest.raises(ConfigError, match="replica.initial=5000 exceeds the total capacity"):
        replisim.compose(["replica.initial=5000"])
