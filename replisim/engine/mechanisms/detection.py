"""Detection and shutdown: monitoring detects a replica with p = monitoring x (1 - evasion); a shutdown order
executes ``response_latency`` steps later and succeeds with the kill-switch probability.

Owns: the pending order of each replica (``order_left``, an int16 countdown, -1: none), the detected replicas'
incidents per node (read by quarantine, reporting and if-then), the detection and shutdown tallies. The
collateral cost of monitoring (false positives) and of shutdowns is charged in ``engine.run``.
"""

from ..jit import jit
from ..rng import uniform
from ..state import DEAD, R_KILL, T, U, trait

PARAMETERS = (
    ("RESPONSE_LATENCY", "governance.response_latency"),
    ("EVASION", "replica.evasion"),
    ("FALSE_POSITIVE_RATE", "governance.false_positive_rate"),
    ("SHUTDOWN_COST", "governance.shutdown_cost_hours"),
)


@jit(inline="always")
def watched(nodes, jur_factor, v):
    """How closely node v is watched this step: its monitoring times its jurisdiction's factor in force."""
    return nodes.monitoring[v] * jur_factor[nodes.jurisdiction[v]]


@jit(inline="always")
def detected(u, p, evasion_q):
    """Detection of a replica by the uniform u, p the node's detection probability: u < p x (1 - evasion).
    ``p`` bounds the event, so a caller reads the replica's evasion only when u < p, which is rare."""
    return u < p * (1.0 - trait(evasion_q))


@jit(inline="always")
def issue_order(i, nd, latency, frame, counters, tallies):
    """Replica i on node nd is detected: an order is issued (``latency`` steps to go; the caller counts it
    down from there) and an incident is counted on the node, whose consequences (hardening, quarantine,
    reports) wait for the end of the step (synchronous update)."""
    tallies[T.DETECTIONS] += 1.0
    tallies[T.DETECTED_SKILL] += frame.table.skill[U(i)]
    counters.incidents[U(nd)] += 1
    return latency


@jit(inline="always")
def shut_down(state, i, nd, f, kill_floor, frame, counters, tallies):
    """A due order executes: the replica dies with the node's kill-switch probability (at least the if-then
    floor). Draws one uniform. Returns (state, True if it died)."""
    state, u = uniform(state)
    dies = u < max(frame.record[U(nd), R_KILL], kill_floor)
    if dies:
        frame.table.flags[U(i)] = f | DEAD
        counters.freed[U(nd)] += 1
        tallies[T.SHUTDOWNS] += 1.0
    return state, dies
