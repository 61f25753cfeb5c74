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


def pack(cfg) -> np.ndarray:
    """The parameter vector of a validated Config (booleans as 0.0 or 1.0; rates per step, durations in steps)."""
    steps = in_steps(cfg)
    return np.array([steps[key] if key in steps else float(read(cfg)) for key, read in zip(KEYS, _READ)],
                    dtype=np.float64)
