"""The world of an ensemble, shared by both engines: the network, the governed node arrays and the per-run skills.

Below both engines (``replisim.engine`` and ``replisim.mesa``) and above the configuration: both engines build
their runs from what this module returns, so they see identical nodes and skills.
"""

from __future__ import annotations

import numpy as np

from .config import Config, ConfigError
from .governance import apply_governance
from .network import build_network, from_graph

NETWORK_STREAM = 0x6E6574  # spawn key of the network's generator: apart from every run's stream
SKILL_STREAM = 0x736B6C

def draw_skills(cfg: Config, seed: int, runs: np.ndarray) -> np.ndarray:
    """Replication skill of each run: fixed, or drawn from the Beta posterior of the published trials."""
    r = cfg.replica
    if not r.success_prior:
        return np.full(runs.size, r.success, np.float64)
    a, b = 1 + r.trial_successes, 1 + r.trial_total - r.trial_successes
    return np.array([np.random.default_rng([seed, SKILL_STREAM, int(k)]).beta(a, b) for k in runs])


def network(cfg: Config, seed: int, graph=None):
    """The network of an ensemble before any measure: the configured kind, or ``graph``, a user's own network
    (``network.from_graph``), drawn from the ensemble's network stream."""
    rng = np.random.default_rng([seed, NETWORK_STREAM])
    return build_network(cfg, rng) if graph is None else from_graph(cfg, graph, rng)


def setup(cfg: Config, seed: int, graph=None):
    """Network and governed node arrays of an ensemble (shared by every run of it); ``graph``: a user's own network
    (``network.from_graph``) instead of the configured kind."""
    net = network(cfg, seed, graph)
    gov = apply_governance(cfg, net, seed)
    if cfg.replica.initial > int(gov.capacity.sum()):
        raise ConfigError(
            f"replica.initial={cfg.replica.initial} exceeds the capacity left by governance ({int(gov.capacity.sum())})"
        )
    return net, gov
