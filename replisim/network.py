"""The compute network, built once at setup: node types, per-node defaults, jurisdictions, and CSR adjacency.

Graph generators come from networkx (random_regular, scale_free = Barabasi-Albert, small_world =
Watts-Strogatz); the ``datacenter`` hierarchy (regions > sites > machines) is a nested stochastic block model
written with numpy. ``complete`` builds no edges at all: the engine draws a target uniformly from all nodes.
The engine only ever sees the CSR arrays ``indptr`` and ``indices``.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np
import scipy.sparse as sp

from .config.schema import NODE_TYPES, Config, node_slots


@dataclass(frozen=True)
class Network:
    node_type: np.ndarray  # int8 index into NODE_TYPES
    capacity: np.ndarray  # int32 replica slots
    security: np.ndarray  # float32
    monitoring: np.ndarray  # float32
    kill_switch: np.ndarray  # float32
    jurisdiction: np.ndarray  # int16 index into jurisdiction_names
    jurisdiction_names: tuple
    indptr: np.ndarray  # int64 CSR row pointers (empty for the complete network)
    indices: np.ndarray  # int32 CSR column indices
    position: np.ndarray  # float32 (nodes, 2) layout hint for drawings; region/site structure

    @property
    def nodes(self) -> int:
        return int(self.capacity.shape[0])

    @property
    def total_capacity(self) -> int:
        return int(self.capacity.sum())

    def neighbours(self, v: int) -> np.ndarray:
        if self.indptr.size == 0:
            return np.arange(self.nodes)
        return self.indices[self.indptr[v] : self.indptr[v + 1]]


def _counts(shares: np.ndarray, n: int) -> np.ndarray:
    """Split n items by shares with largest-remainder rounding (counts sum exactly to n)."""
    raw = shares / shares.sum() * n
    counts = np.floor(raw).astype(np.int64)
    counts[np.argsort(-(raw - counts), kind="stable")[: n - counts.sum()]] += 1
    return counts


def _datacenter_edges(n, regions, sites, degree, rng):
    """Each machine links to ~degree others: 80% in its site, 15% in its region, 5% anywhere."""
    site_of = np.arange(n) * (regions * sites) // n
    region_of = site_of // sites
    src = np.repeat(np.arange(n), max(1, degree // 2))
    level = rng.random(src.size)
    dst = np.empty_like(src)
    site_start = np.searchsorted(site_of, np.arange(regions * sites))
    site_end = np.searchsorted(site_of, np.arange(regions * sites), side="right")
    reg_start = np.searchsorted(region_of, np.arange(regions))
    reg_end = np.searchsorted(region_of, np.arange(regions), side="right")
    s = site_of[src]
    r = region_of[src]
    in_site = level < 0.8
    in_region = (level >= 0.8) & (level < 0.95)
    anywhere = level >= 0.95
    span = site_end[s] - site_start[s]
    dst[in_site] = site_start[s[in_site]] + (rng.random(in_site.sum()) * span[in_site]).astype(np.int64)
    span = reg_end[r] - reg_start[r]
    dst[in_region] = reg_start[r[in_region]] + (rng.random(in_region.sum()) * span[in_region]).astype(np.int64)
    dst[anywhere] = rng.integers(0, n, anywhere.sum())
    keep = src != dst
    pos = np.stack([region_of + 0.8 * (site_of % sites) / sites, rng.random(n)], axis=1)
    return src[keep], dst[keep], pos


def _edges(cfg: Config, rng: np.random.Generator):
    net = cfg.network
    n, kind = net.nodes, net.kind
    seed = int(rng.integers(2**31))
    if kind == "random_regular":
        g = nx.random_regular_graph(net.degree, n, seed=seed)
    elif kind == "scale_free":
        g = nx.barabasi_albert_graph(n, max(1, net.degree // 2), seed=seed)
    elif kind == "small_world":
        g = nx.watts_strogatz_graph(n, net.degree, net.rewire, seed=seed)
    elif kind == "datacenter":
        return _datacenter_edges(n, net.regions, net.sites_per_region, net.degree, rng)
    else:
        raise ValueError(f"network.kind={kind!r} builds no edge list")
    e = np.asarray(g.edges(), dtype=np.int64).reshape(-1, 2)
    angle = 2 * np.pi * np.arange(n) / n
    return e[:, 0], e[:, 1], np.stack([np.cos(angle), np.sin(angle)], axis=1)


def _csr(src, dst, n):
    a = sp.coo_matrix((np.ones(src.size, np.int8), (src, dst)), shape=(n, n)).tocsr()
    a = ((a + a.T) > 0).tocsr()  # undirected, no duplicate edges
    return a.indptr.astype(np.int64), a.indices.astype(np.int32)


def node_values(cfg: Config, type_idx: np.ndarray):
    """Replica slots, security, monitoring (per hour) and kill-switch coverage of each node, from its type's
    defaults and the global overrides ``network.capacity`` / ``network.security``. The per-run worlds of uncertain
    node-type levels (``replisim.uncertainty``) are rebuilt from here on the ensemble's node types."""
    net = cfg.network
    table = [net.types.get(t) for t in NODE_TYPES]

    def per_type(attr, dtype):
        values = np.array([getattr(tc, attr) if tc is not None else 0 for tc in table], dtype=dtype)
        return values[type_idx]

    # replica slots per node: how many replicas of the model's footprint its memory holds (or the type's capacity)
    slots = np.array([node_slots(tc, cfg.replica.footprint_gb) if tc is not None else 0 for tc in table], np.int32)
    capacity = slots[type_idx]
    security = per_type("security", np.float32)
    if net.capacity is not None:
        capacity[:] = net.capacity
    if net.security is not None:
        security[:] = net.security
    return capacity, security, per_type("monitoring", np.float32), per_type("kill_switch", np.float32)


def build_network(cfg: Config, rng: np.random.Generator) -> Network:
    """Draw node types, jurisdictions and edges for ``cfg`` from ``rng`` (one network per ensemble)."""
    net = cfg.network
    n = net.nodes
    names = list(net.mix)
    counts = _counts(np.array([net.mix[t] for t in names], float), n)
    type_idx = np.repeat([NODE_TYPES.index(t) for t in names], counts).astype(np.int8)
    rng.shuffle(type_idx)
    capacity, security, monitoring, kill_switch = node_values(cfg, type_idx)
    regions = cfg.jurisdictions.regions
    jnames = tuple(regions)
    jcounts = _counts(np.array([regions[j].share for j in jnames], float), n)
    jurisdiction = np.repeat(np.arange(len(jnames)), jcounts).astype(np.int16)
    if net.kind == "complete":
        indptr, indices = np.zeros(0, np.int64), np.zeros(0, np.int32)
        angle = rng.random(n) * 2 * np.pi
        radius = np.sqrt(rng.random(n))
        position = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    else:
        src, dst, position = _edges(cfg, rng)
        indptr, indices = _csr(src, dst, n)
        # contiguous jurisdictions follow the layout (regions of a datacenter, arcs of a ring)
    return Network(
        node_type=type_idx,
        capacity=capacity,
        security=security,
        monitoring=monitoring,
        kill_switch=kill_switch,
        jurisdiction=jurisdiction,
        jurisdiction_names=jnames,
        indptr=indptr,
        indices=indices,
        position=position.astype(np.float32),
    )


NODE_ATTRIBUTES = ("type", "capacity", "security", "monitoring", "kill_switch", "jurisdiction")


def from_graph(cfg: Config, graph, rng: np.random.Generator) -> Network:
    """A Network from a user's graph: a networkx graph, or an edge list (pairs of node labels).

    Nodes are taken in the graph's order. Each node may carry the attributes of ``NODE_ATTRIBUTES``: ``type`` (a
    node type, else drawn by ``network.mix`` shares), ``capacity`` (slots, else the type's), ``security``,
    ``monitoring`` (per hour) and ``kill_switch`` (else the type's), ``jurisdiction`` (a name of
    ``jurisdictions.regions``, else drawn by the regions' shares). Edges are undirected. A bad attribute is a
    ConfigError naming the node, the attribute and what is allowed.
    """
    from .config import ConfigError

    if not isinstance(graph, nx.Graph):
        try:
            pairs = [tuple(e) for e in graph]
        except TypeError:
            raise ConfigError(f"network={type(graph).__name__}: allowed: a networkx graph or a list of (node, node) "
                              "edges") from None
        if any(len(p) != 2 for p in pairs):
            raise ConfigError("network: an edge list holds pairs (node, node); allowed: [(0, 1), (1, 2), ...]")
        graph = nx.Graph(pairs)
    labels = list(graph.nodes)
    n = len(labels)
    if n == 0:
        raise ConfigError("network: the graph has no node; allowed: a graph of at least one node")
    index = {v: k for k, v in enumerate(labels)}
    attrs = [graph.nodes[v] for v in labels]
    unknown = sorted({a for d in attrs for a in d} - set(NODE_ATTRIBUTES))
    if unknown:
        raise ConfigError(f"network: node attribute {unknown[0]!r} is not read; allowed: {', '.join(NODE_ATTRIBUTES)}")
    # node types: given, or drawn like the built-in networks'
    names = list(cfg.network.mix)
    drawn = np.repeat([NODE_TYPES.index(t) for t in names],
                      _counts(np.array([cfg.network.mix[t] for t in names], float), n)).astype(np.int8)
    rng.shuffle(drawn)
    type_idx = drawn.copy()
    for k, d in enumerate(attrs):
        if "type" in d:
            if d["type"] not in NODE_TYPES or d["type"] not in cfg.network.types:
                raise ConfigError(f"network: node {labels[k]!r} type={d['type']!r}; allowed: "
                                  f"{', '.join(t for t in NODE_TYPES if t in cfg.network.types)}")
            type_idx[k] = NODE_TYPES.index(d["type"])
    capacity, security, monitoring, kill_switch = node_values(cfg, type_idx)
    for name, column, cast, low, high in (("capacity", capacity, int, 0, np.iinfo(np.int32).max),
                                          ("security", security, float, 0.0, 1.0),
                                          ("monitoring", monitoring, float, 0.0, 1.0),
                                          ("kill_switch", kill_switch, float, 0.0, 1.0)):
        for k, d in enumerate(attrs):
            if name in d:
                v = d[name]
                ok = isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) and \
                    low <= v <= high and (cast is float or float(v).is_integer())
                if not ok:
                    raise ConfigError(f"network: node {labels[k]!r} {name}={v!r} is out of range; allowed: "
                                      f"{'an integer' if cast is int else 'a number'} in [{low}, {high}]")
                column[k] = cast(v)
    regions = cfg.jurisdictions.regions
    jnames = tuple(regions)
    jurisdiction = np.repeat(np.arange(len(jnames)),
                             _counts(np.array([regions[j].share for j in jnames], float), n)).astype(np.int16)
    rng.shuffle(jurisdiction)
    for k, d in enumerate(attrs):
        if "jurisdiction" in d:
            if d["jurisdiction"] not in jnames:
                raise ConfigError(f"network: node {labels[k]!r} jurisdiction={d['jurisdiction']!r}; allowed: "
                                  f"{', '.join(jnames)} (jurisdictions={cfg.jurisdictions.name})")
            jurisdiction[k] = jnames.index(d["jurisdiction"])
    edges = np.array([(index[a], index[b]) for a, b in graph.edges if a != b], dtype=np.int64).reshape(-1, 2)
    indptr, indices = _csr(edges[:, 0], edges[:, 1], n)
    angle = 2 * np.pi * np.arange(n) / max(n, 1)
    return Network(node_type=type_idx, capacity=capacity, security=security, monitoring=monitoring,
                   kill_switch=kill_switch, jurisdiction=jurisdiction, jurisdiction_names=jnames, indptr=indptr,
                   indices=indices, position=np.stack([np.cos(angle), np.sin(angle)], axis=1).astype(np.float32))
