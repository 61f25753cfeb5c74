"""Your own network (``simulate(cfg, network=G)``): a networkx graph or an edge list with node attributes."""

from __future__ import annotations

import networkx as nx
import pytest

import replisim
from replisim.config.schema import NODE_TYPES
from replisim.world import setup

BASE = ["network=random_regular", "network.nodes=120", "network.degree=4", "sim.steps=60",
        "replica.attempt_rate=0.3", "jurisdictions=three_blocs"]


def _as_graph(net) -> nx.Graph:
    """The built-in network as a user would hand it over: nodes 0..n-1 with every attribute, edges from the CSR."""
    g = nx.Graph()
    for v in range(net.nodes):
        g.add_node(v, type=NODE_TYPES[net.node_type[v]], capacity=int(net.capacity[v]),
                   security=float(net.security[v]), monitoring=float(net.monitoring[v]),
                   kill_switch=float(net.kill_switch[v]), jurisdiction=net.jurisdiction_names[net.jurisdiction[v]])
    for v in range(net.nodes):
        g.add_edges_from((v, int(w)) for w in net.indices[net.indptr[v]:net.indptr[v + 1]])
    return g


def test_the_built_in_network_handed_over_as_a_graph_gives_the_same_runs():
    cfg = replisim.compose([*BASE, "sim.threads=1"])
    net, _ = setup(cfg, 5)
    own = replisim.simulate(cfg, runs=8, seed=5, network=_as_graph(net))
    built = replisim.simulate(cfg, runs=8, seed=5)
    assert own.outcomes.equals(built.outcomes)
    assert own.meta["network"].startswith("custom: 120 nodes")


def test_an_edge_list_and_defaults_from_the_configuration():
    cfg = replisim.compose(["scenario=minimal", "sim.steps=20"])
    ring = [(k, (k + 1) % 30) for k in range(30)]
    ens = replisim.simulate(cfg, runs=4, seed=0, network=ring)
    assert ens.config.network.nodes == 30
    assert (ens.outcomes["peak_replicas"] <= 30 * cfg.network.capacity).all()
    mesa = replisim.simulate(cfg, runs=2, seed=0, network=ring, engine="mesa")
    assert len(mesa.outcomes) == 2


@pytest.mark.parametrize("attrs,expected", [
    ({"type": "mainframe"}, "type='mainframe'"),
    ({"capacity": -1}, "capacity=-1 is out of range"),
    ({"capacity": 2.5}, "capacity=2.5 is out of range"),
    ({"monitoring": 1.5}, "monitoring=1.5 is out of range"),
    ({"jurisdiction": "atlantis"}, "jurisdiction='atlantis'"),
    ({"colour": "red"}, "attribute 'colour' is not read"),
])
def test_a_bad_node_attribute_is_one_error_naming_the_node(attrs, expected):
    g = nx.path_graph(5)
    g.nodes[2].update(attrs)
    with pytest.raises(replisim.ConfigError, match=expected.replace("(", r"\(")) as err:
        replisim.simulate(replisim.compose(["scenario=minimal", "sim.steps=5"]), runs=1, network=g)
    assert "node 2" in str(err.value) or "colour" in str(err.value)


def test_not_a_network_is_refused():
    with pytest.raises(replisim.ConfigError, match="a networkx graph or a list"):
        replisim.simulate(replisim.compose(["scenario=minimal", "sim.steps=5"]), runs=1, network=42)
