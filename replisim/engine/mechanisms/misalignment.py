"""Misalignment and retraining: a copy of an aligned parent turns misaligned with the misalignment rate
(emergent misalignment, Betley et al. 2025); every surviving misaligned replica is retrained to aligned with
the retraining rate per step (not this step's newborns).

Owns: the MISALIGNED flag bit and the per-node count of misaligned replicas (``nodes.node_mis``).
"""

import numpy as np

from ..jit import jit
from ..rng import uniform
from ..state import MISALIGNED, MOVING, U

PARAMETERS = (
    ("INITIAL_MISALIGNED", "replica.initial_misaligned"),
    ("MISALIGNMENT_RATE", "replica.misalignment_rate"),
    ("RETRAINING_RATE", "governance.retraining_rate"),
)

NEVER_GAP = 2**62


@jit(inline="always")
def at_birth(state, f, rate):
    """The misalignment of a copy of a parent with flags f: the parent's, or (aligned parent) misaligned with
    ``rate``, one uniform drawn when the parent is aligned and the rate positive."""
    mis = f & MISALIGNED
    if not mis and rate > 0.0:
        state, u = uniform(state)
        if u < rate:
            mis = MISALIGNED
    return state, mis


@jit(inline="always")
def retraining_gap(state, log_keep):
    """Survivors to pass over before the next retraining event: geometric, P(gap >= k) = (1 - rate)^k, with
    ``log_keep = log(1 - rate)`` (0: rate 0, never)."""
    if log_keep == 0.0:
        return state, NEVER_GAP
    state, u = uniform(state)
    return state, int(min(np.floor(np.log(1.0 - u) / log_keep), NEVER_GAP))


@jit(inline="always")
def survive(state, gap, log_keep, f):
    """Flags of a surviving replica for the next step: flight done, and retraining.

    Every survivor is retrained independently with the retraining rate, which turns a misaligned one aligned.
    Rather than a draw per survivor, the survivors between two retraining events are skipped over (``gap``,
    geometric; see ``retraining_gap``): the same Bernoulli sequence, at one draw per event. Returns
    (state, gap, flags)."""
    f = f & ~MOVING
    if gap == 0:
        f = f & ~MISALIGNED
        state, gap = retraining_gap(state, log_keep)
    else:
        gap -= 1
    return state, gap, f


@jit(inline="always")
def retrain_between(state, gap, log_keep, pos, stop, table, node_mis):
    """Retraining of the survivors pos..stop-1 of a block, none of which has anything else to settle: those the
    retraining gaps land on are retrained (``survive`` for each, without visiting the others). Returns
    (state, gap)."""
    flags, node = table.flags, table.node
    while gap < stop - pos:
        pos += gap
        f = flags[U(pos)]
        if f & MISALIGNED:
            node_mis[U(node[U(pos)])] -= 1
            flags[U(pos)] = f & ~MISALIGNED
        pos += 1
        state, gap = retraining_gap(state, log_keep)
    return state, gap - (stop - pos)
