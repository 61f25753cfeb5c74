"""Within-run parallel passes: one run's replica table split over threads (a single huge run).

The ensemble mode puts whole runs on threads. A single run of 10^7 replicas has one run only, so here the
slots of one run are split instead. The random streams are already per (run, step, phase, block of BLOCK
slots), so the blocks can be processed in any order by any thread. What stays shared is handled without atomics:

* act: each thread adds its node counters (freed slots, proposals, incidents) to its own row of a
  (3, chunks, nodes) buffer and its tallies to one row per block; rows are summed afterwards in a fixed order
  (integer counts; the float tallies are summed block by block), so the totals do not depend on the split.
* resolve: the serial pass decides, node by node, which proposals get the free slots by selection sampling in
  table order, which is inherently sequential. Here every proposal gets a random priority, a hash of
  (run, step, slot) that is distinct for distinct slots; a node with S free slots and P > S proposals accepts
  the S smallest priorities. That is again a uniformly random subset of size S (the same distribution), and it
  does not depend on which thread looks at which proposal. The rest of resolve (births with mutation and
  emergent misalignment, retraining) draws from the same per-block streams in the same order as the serial
  pass, minus the selection draws.
* tallies and removal of the dead: each chunk of blocks adds its deaths, departures and retrainings to its own
  row of node counters (summed afterwards), and lists its blocks' vacated slots; one serial pass over the
  vacated slots only fills them from the end of the table, as the serial pass does; newborns and flights are
  moved after them, and only they are tallied one by one (coalitions may merge on arrival).

So a run in this mode gives the same numbers for any thread count, and numbers distributed like the ensemble
mode's (not the same numbers: the selection rule consumes no draws from the block streams).
"""

import numpy as np
from numba import prange

from .jit import jit
from .kernels import (
    U,
    act_range,
    apply_warnings,
    fill_holes,
    list_to_settle,
    node_record,
    place_arrivals,
    report_incidents,
    reset_nodes,
    retrain_between,
    retraining_gap,
    settle,
    tally_arrivals,
)
from .params import P
from .rng import BLOCK, GOLDEN, PHASE_RESOLVE, mix64, stream

PHASE_SELECT = 4  # key of the priority hash of proposals (apart from the act/resolve streams)
NONE_ACCEPTED, ALL_ACCEPTED, BY_PRIORITY = 0, 1, 2  # rule of a node; list_to_settle relies on NONE_ACCEPTED = 0


@jit(parallel=True)
def act_par(
    t, n, rkey, params, latency, kill_floor, jur_factor, record,
    node, skill, evasion, avoid, flags, order_left, target,
    capacity, security, monitoring, kill_switch, jurisdiction, indptr, indices, quar_until,
    occ, freed, prop_left, node_mis, node_coal, coal_forest, alert_from, jur_kill, jur_reporting,
    incidents, warned, tallies, node_buf, block_tallies,
):
    """The act pass of one run over threads; same arguments as ``kernels.act`` plus the private buffers
    ``node_buf`` (3, chunks, nodes) int32 and ``block_tallies`` (blocks, 8) float64."""
    nb = (n + BLOCK - 1) // BLOCK
    n_chunks = node_buf.shape[1]
    n_nodes = capacity.shape[0]
    for c in prange(n_chunks):
        node_record(c * n_nodes // n_chunks, (c + 1) * n_nodes // n_chunks, t, params, record, capacity, security,
                    monitoring, kill_switch, jurisdiction, quar_until, occ, node_mis, node_coal, coal_forest,
                    prop_left, jur_factor, jur_kill)
    for c in prange(n_chunks):
        fr = node_buf[0, c]
        pr = node_buf[1, c]
        ic = node_buf[2, c]
        fr[:] = 0
        pr[:] = 0
        ic[:] = 0
        for b in range(c * nb // n_chunks, (c + 1) * nb // n_chunks):
            bt = block_tallies[b]
            bt[:] = 0.0
            act_range(b * BLOCK, min(n, (b + 1) * BLOCK), t, rkey, params, latency, kill_floor, record,
                      node, skill, evasion, avoid, flags, order_left, target,
                      indptr, indices, warned, fr, pr, ic, bt)
    for v in prange(n_nodes):
        f_sum = 0
        p_sum = 0
        i_sum = 0
        for c in range(n_chunks):
            f_sum += node_buf[0, c, v]
            p_sum += node_buf[1, c, v]
            i_sum += node_buf[2, c, v]
        freed[v] += f_sum
        prop_left[v] += p_sum
        incidents[v] += i_sum
    for b in range(nb):  # fixed order: float sums independent of the thread count
        for k in range(5):
            tallies[k] += block_tallies[b, k]
    report_incidents(t, params, jurisdiction, incidents, alert_from, jur_reporting)


@jit(inline="always")
def priority(pkey, i):
    """Random priority of the proposal of slot i: mix64 is a bijection, so distinct slots never tie."""
    return mix64(pkey + GOLDEN * np.uint64(i + 1))


@jit(inline="always")
def accepted(i, tg, pkey, rule, threshold):
    r = rule[tg]
    if r == ALL_ACCEPTED:
        return True
    if r == BY_PRIORITY:
        return priority(pkey, i) <= threshold[tg]
    return False


@jit(parallel=True)
def select_by_priority(n, pkey, target, prop_left, slots_left, rule, threshold, offset):
    """Step 5 without a sequential pass: per node, accept all, none, or the S smallest priorities."""
    n_nodes = prop_left.shape[0]
    contested = 0
    for v in range(n_nodes):
        p, s = prop_left[v], slots_left[v]
        offset[v] = contested
        if p <= s:
            rule[v] = ALL_ACCEPTED
        elif s <= 0:
            rule[v] = NONE_ACCEPTED
        else:
            rule[v] = BY_PRIORITY
            contested += p
    offset[n_nodes] = contested
    if contested == 0:
        return
    prio = np.empty(contested, np.uint64)
    fill = offset[:n_nodes].copy()
    for i in range(n):  # one sequential gather of the contested proposals (a light pass: no random draws)
        tg = target[i]
        if tg >= 0 and rule[tg] == BY_PRIORITY:
            prio[fill[tg]] = priority(pkey, i)
            fill[tg] += 1
    for v in prange(n_nodes):
        if rule[v] == BY_PRIORITY:
            seg = prio[offset[v]:offset[v + 1]]
            seg.sort()
            threshold[v] = seg[slots_left[v] - 1]


@jit(parallel=True)
def resolve_par(
    t, n, rkey, params,
    node, lineage, generation, skill, evasion, avoid, flags, order_left, target,
    b_node, b_lineage, b_generation, b_skill, b_evasion, b_avoid, b_flags,
    capacity, security, quar_until, occ, freed, prop_left, slots_left, node_mis, node_coal, coal_forest,
    incidents, warned, tallies, rule, threshold, offset, block_tallies, block_counts, node_buf, events,
):
    """The resolve pass of one run over threads; same arguments and result as ``kernels.resolve`` plus
    ``rule`` (nodes) int8, ``threshold`` (nodes) uint64, ``offset`` (nodes + 1) int64, ``block_tallies``
    (blocks, 8) float64, ``block_counts`` (blocks, 4) int64, ``node_buf`` (3, chunks, nodes) int32 and
    ``events`` (chunks, BLOCK) int32 (scratch).

    Like the serial pass it updates node tallies instead of recounting them (each chunk of blocks adds its
    deaths, departures and retrainings to its own row of ``node_buf``; the rows are summed afterwards) and fills
    vacated slots from the end of the table (a serial pass over the vacated slots only). Its per-replica loops
    are kernels of their own, compiled without reference counting (see jit.py): in a parallel loop the atomic
    reference counts of shared arrays would also bounce between the cores."""
    collusion = params[P.COLLUSION] > 0
    nb = (n + BLOCK - 1) // BLOCK
    n_chunks = node_buf.shape[1]
    n_nodes = occ.shape[0]
    tallies[7] = reset_nodes(t, params, capacity, security, quar_until, occ, freed, slots_left, incidents)
    apply_warnings(t, params, coal_forest, warned)
    pkey = stream(rkey, t, PHASE_SELECT, 0)
    select_by_priority(n, pkey, target, prop_left, slots_left, rule, threshold, offset)
    prop_left[:] = 0
    # arrivals (copies and flights) per block, then each block's first arrival row (kernels.put_arrival)
    for b in prange(nb):
        count_block(b, n, pkey, target, rule, threshold, block_counts)
    arrivals = 0
    for b in range(nb):
        block_counts[b, 1] = arrivals
        arrivals += block_counts[b, 0]
    # births, flights, retraining and vacated slots, chunk by chunk of blocks; node deltas per chunk
    for c in prange(n_chunks):
        d_occ = node_buf[0, c]
        d_mis = node_buf[1, c]
        d_occ[:] = 0
        d_mis[:] = 0
        for b in range(c * nb // n_chunks, (c + 1) * nb // n_chunks):
            settle_block(b, n, t, rkey, params, pkey, rule, threshold, block_counts, block_tallies, d_occ, d_mis,
                         node, lineage, generation, skill, evasion, avoid, flags, order_left, target,
                         b_node, b_lineage, b_generation, b_skill, b_evasion, b_avoid, b_flags, events[c])
    for v in prange(n_nodes):
        for c in range(n_chunks):
            occ[v] += node_buf[0, c, v]
            node_mis[v] += node_buf[1, c, v]
        if node_mis[v] == 0:
            node_coal[v] = -1
    # vacated slots, in table order, filled from the end of the table; arrivals moved down to follow (a serial
    # forward copy: the ranges overlap)
    w = fill_holes(n, gather_holes(nb, block_counts, target), target, node, lineage, generation, skill, evasion,
                   avoid, flags, order_left)
    place_arrivals(n, w, arrivals, node, lineage, generation, skill, evasion, avoid, flags, order_left,
                   b_node, b_lineage, b_generation, b_skill, b_evasion, b_avoid, b_flags)
    tally_arrivals(w, arrivals, node, lineage, flags, occ, node_mis, node_coal, coal_forest, collusion)
    flights = 0.0
    for b in range(nb):
        flights += block_tallies[b, 6]
    tallies[5] = arrivals - flights
    tallies[6] += flights
    return w + arrivals


@jit(refcount=False)
def count_block(b, n, pkey, target, rule, threshold, block_counts):
    """Accepted proposals (copies and flights) of block b, into block_counts[b, 0]."""
    arrivals = 0
    for i in range(b * BLOCK, min(n, (b + 1) * BLOCK)):
        tg = target[i]
        if tg >= 0 and accepted(i, tg, pkey, rule, threshold):
            arrivals += 1
    block_counts[b, 0] = arrivals


@jit(refcount=False)
def settle_block(b, n, t, rkey, params, pkey, rule, threshold, block_counts, block_tallies, d_occ, d_mis,
                 node, lineage, generation, skill, evasion, avoid, flags, order_left, target,
                 b_node, b_lineage, b_generation, b_skill, b_evasion, b_avoid, b_flags, events):
    """Births, flights and retraining of block b, as the serial pass does them (minus its selection draws);
    the block's vacated slots are listed, ascending, at the start of its own part of ``target``
    (block_counts[b, 2] of them); node deltas go to d_occ and d_mis."""
    log_keep = np.log1p(-params[P.RETRAINING_RATE])
    state = stream(rkey, t, PHASE_RESOLVE, b)
    state, gap = retraining_gap(state, log_keep)
    k = block_counts[b, 1]
    vacated = 0
    flights = 0.0
    start = b * BLOCK
    stop = min(n, start + BLOCK)
    # as kernels.resolve: visit only the replicas with something to settle (NONE_ACCEPTED is 0)
    listed = list_to_settle(start, stop, target, flags, rule, events)
    pos = start
    for e in range(listed + 1):
        i = np.int64(events[U(e)]) if e < listed else stop
        state, gap = retrain_between(state, gap, log_keep, pos, i, node, flags, d_mis)
        if e == listed:
            break
        tg = target[U(i)]
        accepted_to = tg if tg >= 0 and accepted(i, tg, pkey, rule, threshold) else -1
        state, gap, arrived, left, flew = settle(
            state, gap, log_keep, params, i, flags[U(i)], accepted_to, n + k, b * BLOCK + vacated, d_occ, d_mis,
            node, lineage, generation, skill, evasion, avoid, flags, target,
            b_node, b_lineage, b_generation, b_skill, b_evasion, b_avoid, b_flags)
        k += arrived
        vacated += left
        flights += flew
        pos = i + 1
    block_counts[b, 2] = vacated
    block_tallies[b, 6] = flights


@jit(refcount=False)
def gather_holes(nb, block_counts, holes):
    """Move the blocks' lists of vacated slots (block b's at holes[b * BLOCK:], block_counts[b, 2] of them) to
    one list at the front of ``holes``, ascending (a forward copy: an entry never moves up). Returns its length."""
    k = 0
    for b in range(nb):
        for h in range(block_counts[b, 2]):
            holes[k] = holes[b * BLOCK + h]
            k += 1
    return k
