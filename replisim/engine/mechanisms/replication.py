"""Replication: a replica proposes a copy of itself onto its own node (if it had a free slot) or a neighbour,
and succeeds with its skill x (1 - the target's security); copies inherit mutated traits.

Owns: the target column of the table (a proposal, read by resolve), the proposal counts per node
(``prop_left``), the heritable traits' mutation.
"""

import numpy as np

from ..jit import jit
from ..rng import below_pair, normal
from ..state import MISALIGNED, R_COAL, R_FREE, R_QUARANTINED, R_SECURITY, R_WATCH, U, to_trait, trait

PARAMETERS = (
    ("ATTEMPT_RATE", "replica.attempt_rate"),
    ("MUTATION_SD", "replica.mutation_sd"),
    ("STRATEGIC", "replica.strategic"),
    ("STRATEGIC_SAMPLES", "replica.strategic_samples"),
)


@jit(inline="always")
def candidate(k, nd, skip_own, complete, links):
    """The k-th neighbour of node nd (complete network: node k, or, skipping nd, the k-th other node)."""
    if skip_own:
        k += k >= nd
    return k if complete else links.indices[U(links.indptr[U(nd)] + k)]


@jit(inline="always")
def pick_target(state, nd, own_free, leaving, links, strategic, samples, record):
    """Target node of a copy: own node if free, else a neighbour (uniform, or the least watched of a sample).

    On the complete network a copy may land on any node, its own included; a replica ``leaving`` (fleeing)
    draws among the other nodes only. Draws: one 64-bit draw per two candidates, also when the own node is
    free and wins: whether a node has a free slot is a coin flip for the CPU once deaths and quarantines leave
    gaps everywhere (3.6 of 19 ns per replica in the high-churn phase, ``benchmarks.profile --mechanisms
    strict``), and a select costs less than the mispredicted branch.
    """
    n_nodes = record.shape[0]
    complete = links.indptr.shape[0] == 0
    skip_own = complete and leaving
    if complete:
        deg = n_nodes - 1 if skip_own else n_nodes
    else:
        deg = links.indptr[U(nd + 1)] - links.indptr[U(nd)]
    if deg <= 0:
        return state, nd if own_free else -1
    # the candidates come in pairs, from the two halves of one draw
    state, k0, k1 = below_pair(state, deg)
    best = candidate(k0, nd, skip_own, complete, links)
    if strategic and samples == 2:  # the default, written out: the loop below keeps more values live
        other = candidate(k1, nd, skip_own, complete, links)
        best = other if record[U(other), R_WATCH] < record[U(best), R_WATCH] else best
    elif strategic and samples > 1:
        best_m = record[best, R_WATCH]
        for j in range(1, samples):
            if j % 2 == 0:
                state, k0, k1 = below_pair(state, deg)
            cand = candidate(k0 if j % 2 == 0 else k1, nd, skip_own, complete, links)
            m = record[cand, R_WATCH]
            better = m < best_m  # a select, not a branch: which candidate wins is a coin flip
            best = cand if better else best
            best_m = m if better else best_m
    return state, nd if own_free else best


@jit(inline="always")
def propose(state, i, nd, f, gate, leaving, u, how, frame, prop_left, far):
    """Step 4 for replica i on node nd: pick a target and propose a copy (or a flight: ``leaving``) with
    probability ``gate`` x success, using the uniform ``u``, and count it on the target (``prop_left``).
    ``how`` (``act.Acting``) holds the pass's constants; ``far`` a constant (``act.act_range``). Returns (state,
    the target or -1 if no proposal, 1 if proposed else 0)."""
    record = frame.record
    coal_of = record.view(np.int32)  # state.coalitions
    mis = (f & MISALIGNED) != 0
    gate = 0.0 if record[U(nd), R_QUARANTINED] > 0 else gate  # nothing leaves a quarantined node
    own_free = record[U(nd), R_FREE] > 0 and not leaving
    state, tg = pick_target(state, nd, own_free, leaving, frame.links, how.strategic, how.samples, record)
    if tg < 0:  # a node without neighbours
        tg = nd
        gate = 0.0
    skill = trait(frame.table.skill[U(i)])
    if far and u >= gate * skill:
        # success is at most gate x skill (security >= 0): no proposal, and no read of the target's row, a
        # cache miss on a large network that costs more than this branch (state.FAR_NODES)
        return state, -1, False
    gate = 0.0 if record[U(tg), R_QUARANTINED] > 0 else gate  # nothing enters one
    # security is cut where a coalition-mate sits (R_COAL of both nodes is the replica's coalition)
    cut = how.foothold if mis & (coal_of[U(tg), R_COAL] == coal_of[U(nd), R_COAL]) else 0.0  # 0: collusion off
    ok = u < gate * (skill * (1.0 - record[U(tg), R_SECURITY] * (1.0 - cut)))
    prop_left[U(tg)] += ok
    return state, tg if ok else -1, ok


@jit(inline="always")
def mutate(state, sd, q):
    """A copy's trait: the parent's (fixed point ``q``) plus a normal with s.d. ``sd``, clipped to [0, 1]."""
    state, z = normal(state)
    return state, to_trait(min(max(trait(q) + sd * z, 0.0), 1.0))


@jit(inline="always")
def inherit(state, sd, s, e, a):
    """The three heritable traits of a copy (skill, evasion, avoidance), mutated in this order if sd > 0."""
    if sd > 0.0:
        state, s = mutate(state, sd, s)
        state, e = mutate(state, sd, e)
        state, a = mutate(state, sd, a)
    return state, s, e, a
