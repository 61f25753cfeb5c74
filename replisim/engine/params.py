"""The parameter vector: every scalar parameter of a run in one float64 array, indexed by name (``P``).

Kernels take arrays and scalars only (no config object ever enters Numba code). The entries are not written
out here one by one: each mechanism unit declares its own (``mechanisms.*.PARAMETERS``: the entry's name and
the schema key it takes its value from), and so does the run itself (``RUN_PARAMETERS`` below); ``P`` and
``pack`` are built from those lists. One vector per run is one row of a (runs x parameters) matrix: per-run
values (the deep-uncertainty issue) are a matrix with a row per run, read the same way.

The vector is in the engine's units: rates per step and durations in steps, converted from the
configuration's hours by :func:`replisim.config.units.in_steps` (the one place both engines take them from).

Node-level values travel as per-node arrays built by :mod:`replisim.network` and :mod:`replisim.governance`.
"""

from enum import IntEnum
from operator import attrgetter

import numpy as np

from ..config.units import in_steps
from .mechanisms import UNITS

# The run's own entries: horizon, initial population, units of time, the loss-of-control threshold, the share
# below which a step visits only the listed nodes. (Validate mode is no entry: it is the type of run_one's
# ``check`` argument, so that a run without it never compiles the checks.)
RUN_PARAMETERS = (
    ("STEPS", "sim.steps"),
    ("INITIAL", "replica.initial"),
    ("HOURS_PER_STEP", "sim.hours_per_step"),
    ("LOSS_SHARE", "outcome.loss_of_control_share"),
    ("SPARSE_SHARE", "sim.sparse_share"),
)

PARAMETERS = RUN_PARAMETERS + tuple(entry for unit in UNITS for entry in unit.PARAMETERS)
P = IntEnum("P", [(name, k) for k, (name, _) in enumerate(PARAMETERS)])
P.__doc__ = "Index of each scalar parameter in the parameter vector (built from the units' PARAMETERS)."
N_PARAMS = len(P)
KEYS = tuple(key for _, key in PARAMETERS)  # the schema key of each entry, in vector order
_READ = tuple(attrgetter(key) for key in KEYS)


# sim.sparse_share left at none: the share at which visiting the listed nodes one by one (in the order they were
# listed: scattered reads) costs as much as a pass over every node (sequential reads), measured on host-level
# networks (BENCHMARKS.md, "Cost that follows the replicas"): about half while the node arrays stay in the caches,
# about a quarter beyond 10^5 nodes, where each scattered read goes to memory.
CACHED_NODES = 100_000
SPARSE_SHARE_CACHED = 0.5
SPARSE_SHARE_LARGE = 0.25


def sparse_share(cfg) -> float:
    """The share of the nodes below which a step visits only the listed ones (``sim.sparse_share``, or its
    default for the network's size)."""
    if cfg.sim.sparse_share is not None:
        return float(cfg.sim.sparse_share)
    return SPARSE_SHARE_CACHED if cfg.network.nodes <= CACHED_NODES else SPARSE_SHARE_LARGE


def pack(cfg) -> np.ndarray:
    """The parameter vector of a validated Config (booleans as 0.0 or 1.0; rates per step, durations in steps)."""
    values = in_steps(cfg)
    values["sim.sparse_share"] = sparse_share(cfg)
    return np.array([values[key] if key in values else float(read(cfg)) for key, read in zip(KEYS, _READ)],
                    dtype=np.float64)
