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
    # first hour at which live replicas held 1%, 10%, 50% of the slots before any measure (NaN: not by the
    # horizon, i.e. right-censored at sim.steps x sim.hours_per_step)
    HOURS_TO_1PCT_COMPUTE = 19
    HOURS_TO_10PCT_COMPUTE = 20
    HOURS_TO_50PCT_COMPUTE = 21
    # collateral_node_hours by cause (they add up to it): executed shutdowns, quarantined nodes, false alarms,
    # capacity withheld by licensing and export controls (docs/governance.md, "Collateral cost")
    COLLATERAL_SHUTDOWNS = 22
    COLLATERAL_QUARANTINE = 23
    COLLATERAL_FALSE_ALARMS = 24
    COLLATERAL_WITHHELD = 25


OUTCOME_NAMES = tuple(o.name.lower() for o in O)
N_OUTCOMES = len(O)
# the shares of compute whose first crossing is an outcome, in the order of O.HOURS_TO_*PCT_COMPUTE
COMPUTE_MILESTONES = (0.01, 0.10, 0.50)
MILESTONE_OUTCOMES = (O.HOURS_TO_1PCT_COMPUTE, O.HOURS_TO_10PCT_COMPUTE, O.HOURS_TO_50PCT_COMPUTE)


def placement_names(node_types, jurisdictions) -> tuple:
    """Names of the outcome columns after the O columns: live replicas at the horizon on each node type, then
    in each jurisdiction (both engines write them in this order; the table's width depends on the world)."""
    return (tuple(f"final_on_{t}" for t in node_types)
            + tuple(f"final_in_{j}" for j in jurisdictions))

# What the outcome ``loss_of_control`` counts, said once (the report's methods text and docs/ODD.md quote it).
# Every live replica counts, aligned or not, on a quarantined node or not: an aligned replica is still a copy
# outside its operators' control, and quarantine stops copies to and from a node without removing the replicas
# on it. The denominator is the network's slots before any measure, so a measure that withholds capacity does
# not raise the share of what is left.
LOSS_OF_CONTROL = ("loss of control: at the horizon, live replicas (aligned and misaligned, on quarantined nodes "
                   "too) hold at least outcome.loss_of_control_share of the network's compute slots before any "
                   "measure")
