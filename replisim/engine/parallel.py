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

from .act import ActView, RecordView, act_range, acting, node_record
from .jit import jit
from .mechanisms import reporting
from .params import P
from .resolve import (
    ALL_ACCEPTED,
    BY_PRIORITY,
    NONE_ACCEPTED,
    NodeCounts,
    Selection,
    accepted,
    consequences,
    free_slots,
    place,
    priority,
    settle_block,
)
from .rng import BLOCK, stream
from .state import Arrivals, Coalitions, Counters, Jurisdictions, Links, Nodes, T, Table

PHASE_SELECT = 4  # key of the priority hash of proposals (apart from the act/resolve streams)
ACT_TALLIES = T.PROPOSALS + 2  # the act pass's tallies: detections .. detected skill


@jit(parallel=True)
def act_par(t, n, rkey, params, latency, kill_floor, frame, bufs, far=None):
    """The act pass of one run over threads; same arguments as ``act.act`` plus the private buffers ``bufs``
    (``state.ParallelBuffers``): ``node_buf`` (3, chunks, nodes) and ``block_tallies`` (blocks, tallies).

    A parallel loop's body can capture arrays, scalars and flat named tuples that are arguments or built by
    their constructor in this function (Numba 0.68 takes those apart and puts them together again), not the
    frame's nested tuples: the parts of the frame the act pass reads are taken apart before the loop and put
    together again inside it (``act.RecordView``, ``act.ActView``), and so are the pass's constants
    (``acting``)."""
    nb = (n + BLOCK - 1) // BLOCK
    node_buf, block_tallies = bufs.node_buf, bufs.block_tallies
    n_chunks = node_buf.shape[1]
    nodes = frame.nodes
    freed, prop_left, incidents = nodes.freed, nodes.prop_left, nodes.incidents
    n_nodes = nodes.capacity.shape[0]
    cap, sec, mon, kill, jur_of, quar, occ, _, _, slots, mis, coal, _ = nodes
    j_mon, j_kill, j_rep, j_fp, j_factor, j_alert = frame.jur
    node, lineage, generation, skill, evasion, avoid, flags, order_left, target = frame.table
    indptr, indices = frame.links
    forest, warned, warn_until = frame.coal
    record = frame.record
    for c in prange(n_chunks):  # the node record, a chunk of nodes each
        part = RecordView(Nodes(cap, sec, mon, kill, jur_of, quar, occ, freed, prop_left, slots, mis, coal, incidents),
                          Jurisdictions(j_mon, j_kill, j_rep, j_fp, j_factor, j_alert),
                          Coalitions(forest, warned, warn_until), record)
        node_record(c * n_nodes // n_chunks, (c + 1) * n_nodes // n_chunks, t, params, part)
    for c in prange(n_chunks):
        how = acting(params, latency, kill_floor)
        view = ActView(Table(node, lineage, generation, skill, evasion, avoid, flags, order_left, target),
                        record, Links(indptr, indices), Coalitions(forest, warned, warn_until))
        fr = node_buf[0, c]
        pr = node_buf[1, c]
        ic = node_buf[2, c]
        fr[:] = 0
        pr[:] = 0
        ic[:] = 0
        for b in range(c * nb // n_chunks, (c + 1) * nb // n_chunks):
            bt = block_tallies[b]
            bt[:] = 0.0
            act_range(b * BLOCK, min(n, (b + 1) * BLOCK), t, rkey, how, view, Counters(fr, pr, ic), bt, far)
    for v in prange(freed.shape[0]):
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
    tallies = frame.tallies
    for b in range(nb):  # fixed order: float sums independent of the thread count
        for k in range(ACT_TALLIES):
            tallies[k] += block_tallies[b, k]
    if params[P.REPORTING] > 0:
        reporting.report(t, int(params[P.REPORTING_DELAY]), nodes, frame.jur, frame.listed, False)


@jit(parallel=True)
def select_by_priority(n, pkey, target, nodes, bufs):
    """Resolution without a sequential pass: per node, accept all, none, or the S smallest priorities."""
    prop_left, slots_left = nodes.prop_left, nodes.slots_left
    rule, threshold, offset = bufs.rule, bufs.threshold, bufs.offset
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
def resolve_par(t, n, rkey, params, frame, arrivals, bufs):
    """The resolve pass of one run over threads; same arguments and result as ``resolve.resolve``, with the
    private buffers ``bufs`` (``state.ParallelBuffers``: rule, threshold and offset per node, block counts and
    tallies, node_buf) and one list of events per chunk in ``frame.events``. Blocks are settled by the same
    ``resolve.settle_block``, with random priorities instead of selection sampling.

    Like the serial pass it updates node tallies instead of recounting them (each chunk of blocks adds its
    deaths, departures and retrainings to its own row of ``node_buf``; the rows are summed afterwards) and fills
    vacated slots from the end of the table (a serial pass over the vacated slots only). Its per-replica loops
    are kernels of their own, compiled without reference counting (see jit.py): in a parallel loop the atomic
    reference counts of shared arrays would also bounce between the cores."""
    on = params[P.COLLUSION] > 0
    nb = (n + BLOCK - 1) // BLOCK
    node_buf, block_tallies, block_counts, rule, threshold, _ = bufs
    n_chunks = node_buf.shape[1]
    nodes, target = frame.nodes, frame.table.target
    occ, node_mis, prop_left, slots_left = nodes.occ, nodes.node_mis, nodes.prop_left, nodes.slots_left
    frame.tallies[T.QUARANTINED] = free_slots(t, nodes, frame.listed, False)
    pkey = stream(rkey, t, PHASE_SELECT, 0)
    select_by_priority(n, pkey, target, nodes, bufs)
    prop_left[:] = 0
    # arrivals (copies and flights) per block, then each block's first arrival row (table.put_arrival)
    for b in prange(nb):
        count_block(b, n, pkey, target, rule, threshold, block_counts)
    arrived = np.int64(0)  # not a literal (resolve.resolve)
    for b in range(nb):
        block_counts[b, 1] = arrived
        arrived += block_counts[b, 0]
    # births, flights, retraining and vacated slots, chunk by chunk of blocks; node deltas per chunk (the
    # table and the overflow buffer are put together again inside the loop, as in act_par)
    node, lineage, generation, skill, evasion, avoid, flags, order_left, _ = frame.table
    a_node, a_lineage, a_generation, a_skill, a_evasion, a_avoid, a_flags = arrivals
    events = frame.events
    for c in prange(n_chunks):
        table = Table(node, lineage, generation, skill, evasion, avoid, flags, order_left, target)
        overflow = Arrivals(a_node, a_lineage, a_generation, a_skill, a_evasion, a_avoid, a_flags)
        sel = Selection(True, pkey, rule, threshold, prop_left, slots_left, False)
        d_occ = node_buf[0, c]
        d_mis = node_buf[1, c]
        d_occ[:] = 0
        d_mis[:] = 0
        for b in range(c * nb // n_chunks, (c + 1) * nb // n_chunks):
            _, v, f = settle_block(b, n, t, rkey, params, sel, n + block_counts[b, 1], b * BLOCK,
                                   NodeCounts(d_occ, d_mis), table, overflow, events[c])
            block_counts[b, 2] = v
            block_tallies[b, T.FLIGHTS] = f
    for v in prange(occ.shape[0]):
        for c in range(n_chunks):
            occ[v] += node_buf[0, c, v]
            node_mis[v] += node_buf[1, c, v]
    # vacated slots, in table order, filled from the end of the table; arrivals moved down to follow (a serial
    # forward copy: the ranges overlap)
    n_live = place(n, gather_holes(nb, block_counts, target), arrived, frame, arrivals, on, False)
    consequences(t, params, frame, False)
    flights = 0.0
    for b in range(nb):
        flights += block_tallies[b, T.FLIGHTS]
    frame.tallies[T.BIRTHS] = arrived - flights
    frame.tallies[T.FLIGHTS] += flights
    return n_live


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
def gather_holes(nb, block_counts, holes):
    """Move the blocks' lists of vacated slots (block b's at holes[b * BLOCK:], block_counts[b, 2] of them) to
    one list at the front of ``holes``, ascending (a forward copy: an entry never moves up). Returns its length."""
    k = 0
    for b in range(nb):
        for h in range(block_counts[b, 2]):
            holes[k] = holes[b * BLOCK + h]
            k += 1
    return k
