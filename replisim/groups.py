"""Group series: the replicas on each group of nodes at every step (``simulate(..., groups=...)``).

A grouping gives every node one label; the engines add up, each step, the replicas on the nodes of each label.
Two groupings come from the world itself (``node_type``, ``jurisdiction``); any other is an integer array of one
label per node. Below both engines: each reads the ``Groups`` built here and writes one row per label.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import ConfigError
from .config.schema import NODE_TYPES

# the labels a user's grouping may have: each label is a row of (runs x (steps + 1)) float64
MAX_LABELS = 1024
BUILT_IN = ("node_type", "jurisdiction")


@dataclass(frozen=True)
class Groups:
    """Groupings resolved against one network.

    ``names``: the groupings in the caller's order. ``labels``: per grouping, the names of its labels.
    ``row``: int32 (nodes, groupings): node v's row of the group series in grouping g (the groupings' rows follow
    one another: grouping g's rows start after the labels of the ones before it), so the engines add a node's
    replicas to ``row[v, g]`` for every g without knowing where one grouping ends."""

    names: tuple
    labels: tuple
    row: np.ndarray

    @property
    def rows(self) -> int:
        """Rows of the group series: the labels of every grouping."""
        return sum(len(labels) for labels in self.labels)

    def split(self, values: np.ndarray) -> dict:
        """The engines' (runs, rows, steps + 1) array as one (runs, labels, steps + 1) view per grouping."""
        out, start = {}, 0
        for name, labels in zip(self.names, self.labels):
            out[name] = (labels, values[:, start:start + len(labels)])
            start += len(labels)
        return out


def no_groups(n_nodes: int) -> Groups:
    """No grouping: no rows, and nothing for the engines to add."""
    return Groups((), (), np.zeros((n_nodes, 0), np.int32))


def resolve(groups, net) -> Groups:
    """The ``groups`` argument of ``simulate`` (None, or a dict of name -> "node_type", "jurisdiction" or one
    integer label per node) resolved against the network ``net``; a bad entry raises ConfigError naming it."""
    if groups is None:
        return no_groups(net.nodes)
    if not isinstance(groups, dict):
        raise ConfigError(f"groups={type(groups).__name__}: allowed: None or a dict of name -> 'node_type', "
                          f"'jurisdiction' or an integer array of one label per node ({net.nodes} nodes)")
    if not groups:
        return no_groups(net.nodes)
    names, labels, columns = [], [], []
    offset = 0
    for name, spec in groups.items():
        if not isinstance(name, str) or not name:
            raise ConfigError(f"groups key {name!r}: allowed: a non-empty string")
        node_label, label_names = _labels(name, spec, net)
        names.append(name)
        labels.append(label_names)
        columns.append(offset + node_label)
        offset += len(label_names)
    return Groups(tuple(names), tuple(labels), np.ascontiguousarray(np.stack(columns, axis=1), np.int32))


def _labels(name: str, spec, net) -> tuple[np.ndarray, tuple]:
    """Node labels (int64, 0..k-1) and label names of one grouping."""
    if isinstance(spec, str):
        if spec == "node_type":
            return net.node_type.astype(np.int64), tuple(NODE_TYPES)
        if spec == "jurisdiction":
            return net.jurisdiction.astype(np.int64), tuple(net.jurisdiction_names)
        raise ConfigError(f"groups[{name!r}]={spec!r} is not allowed; allowed: {', '.join(map(repr, BUILT_IN))} "
                          "or an integer array of one label per node")
    values = np.asarray(spec)
    allowed = (f"allowed: {', '.join(map(repr, BUILT_IN))} or an array of {net.nodes} integers (one per node) "
               f"in 0..{MAX_LABELS - 1}")
    if values.ndim != 1 or values.shape[0] != net.nodes:
        raise ConfigError(f"groups[{name!r}]: an array of shape {values.shape}; {allowed}")
    if values.dtype == np.bool_ or not np.issubdtype(values.dtype, np.integer):
        raise ConfigError(f"groups[{name!r}]: an array of {values.dtype}; {allowed}")
    if values.size and (values.min() < 0 or values.max() >= MAX_LABELS):
        raise ConfigError(f"groups[{name!r}]: labels from {values.min()} to {values.max()}; {allowed}")
    k = int(values.max()) + 1 if values.size else 0
    return values.astype(np.int64), tuple(str(j) for j in range(k))
