"""The results schema: the per-step series and the per-run outcomes, the same for both engines.

Below both engines, so that the Numba engine, the Mesa model, the ensemble and the demo name the columns alike
without importing each other. The Numba kernels index their arrays with these enums, so this file is part of
the engine's compiled code (``engine.jit.sources_digest`` hashes it with the engine's sources).
"""

from enum import IntEnum


class S(IntEnum):
    """Row of each per-step series in the series array (runs, series, steps + 1)."""

    REPLICAS = 0
    MISALIGNED = 1
    COMPUTE_SHARE = 2
    NODES_OCCUPIED = 3
    DETECTIONS = 4
    SHUTDOWNS = 5
    BIRTHS = 6
    COLLATERAL = 7


SERIES_NAMES = tuple(s.name.lower() for s in S)


class O(IntEnum):
    """Column of each per-run outcome in the outcome array (runs, outcomes)."""

    EXTINCT = 0
    LOSS_OF_CONTROL = 1
    PEAK_REPLICAS = 2
    FINAL_REPLICAS = 3
    TIME_TO_CONTAINMENT = 4
    PEAK_COMPUTE_SHARE = 5
    FINAL_COMPUTE_SHARE = 6
    DETECTIONS = 7
    SHUTDOWNS = 8
    AVOIDANCE_EVENTS = 9
    MAX_GENERATION = 10
    MISALIGNED_FINAL = 11
    COLLATERAL_NODE_HOURS = 12
    BIRTHS = 13
    FLIGHTS = 14
    COALITIONS_FINAL = 15
    IF_THEN_TRIGGERED_STEP = 16
    MEAN_SKILL_FINAL = 17
    REPLICA_STEPS = 18


OUTCOME_NAMES = tuple(o.name.lower() for o in O)

# What the outcome ``loss_of_control`` counts, said once (the report's methods text and docs/ODD.md quote it).
# Every live replica counts, aligned or not, on a quarantined node or not: an aligned replica is still a copy
# outside its operators' control, and quarantine stops copies to and from a node without removing the replicas
# on it. The denominator is the network's slots before any measure, so a measure that withholds capacity does
# not raise the share of what is left.
LOSS_OF_CONTROL = ("loss of control: at the horizon, live replicas (aligned and misaligned, on quarantined nodes "
                   "too) hold at least outcome.loss_of_control_share of the network's compute slots before any "
                   "measure")
