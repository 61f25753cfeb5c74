"""The resolve pass: proposals are settled, survivors retrained, the dead removed, arrivals placed and this
step's incidents take effect for the next (``replisim.step.STEP``: resolution, retraining, coalitions,
consequences).

Written so that a replica that stays put costs almost nothing:

* node tallies are updated, not recounted: only a replica that dies, leaves, arrives or is retrained changes
  its node's counts (and only arrivals can merge coalitions), so the pass never reads a stayer's node;
* a vacated slot (a death, or a flight: the replica leaves its slot and arrives with the newborns) is filled
  by the last live row of the table, instead of compacting every row after the first death;
* each block of the table is first scanned, without a branch, for the replicas with something to settle
  (``list_to_settle`` into ``frame.events``, scratch of BLOCK entries: proposals onto nodes with free slots,
  deaths, flights; 2% of the table in the headline run, 6% in its high-churn phase:
  ``benchmarks.profile --count-listed``), and only those are visited one by one;
* retraining events come as geometric gaps between the survivors they hit (``misalignment.survive``), so the
  survivors between two listed replicas are passed over (``retrain_between``) with the same draws in the
  same order;
* a node without free slots refuses a proposal at once, without a draw.
"""

from collections import namedtuple

import numpy as np

from .jit import jit
from .mechanisms import collusion, misalignment, quarantine, replication
from .params import P
from .rng import BLOCK, GOLDEN, PHASE_RESOLVE, mix64, stream, uniform
from .state import DEAD, MAX_GENERATION, MISALIGNED, MOVING, T, U, enlist, visit, visited
from .table import fill_holes, place_arrivals, put_arrival

# The node counts a settled replica changes: the run's node arrays in the serial pass, a chunk's private
# deltas in the within-run parallel pass.
NodeCounts = namedtuple("NodeCounts", ("occ", "node_mis"))


@jit(refcount=False)
def free_slots(t, nodes, listed, sparse):
    """Free slots of each node for this step's copies: capacity - start-of-step occupancy + the slots freed by
    this step's shutdowns; none on a quarantined node. Returns the quarantined capacity. A sparse step visits
    the listed nodes only: every other node is empty and not quarantined, and its free slots, its capacity,
    were written when it was last listed (``state.Listed``). Then nodes that are empty and not quarantined
    leave the list: their record row (written at the start of this step) and free slots hold until a replica
    arrives. A dense step writes the list anew in node order, in the same pass (the listed nodes' order matters
    to no result; read in node order, the list costs no cache miss)."""
    quarantined_cap = 0.0
    kept = 0
    for k in range(visited(listed, sparse, nodes.capacity.shape[0])):
        v = visit(listed, sparse, k)
        offline = quarantine.quarantined(nodes, v, t)
        if offline:
            nodes.slots_left[v] = 0
            quarantined_cap += nodes.capacity[v]
        else:
            nodes.slots_left[v] = nodes.capacity[v] - nodes.occ[v] + nodes.freed[v]
        nodes.freed[v] = 0
        if not sparse:
            keep = offline or nodes.occ[v] > 0
            listed.mark[v] = keep
            listed.nodes[kept] = v
            kept += keep
    if sparse:
        for k in range(listed.count[0]):
            v = listed.nodes[k]
            if nodes.occ[v] > 0 or quarantine.quarantined(nodes, v, t):
                listed.nodes[kept] = v
                kept += 1
            else:
                listed.mark[v] = 0
    listed.count[0] = kept
    return quarantined_cap


@jit(refcount=False)
def consequences(t, params, frame, sparse):
    """This step's detections take effect from the next step on: nodes with incidents are hardened and
    quarantined, coalitions with a detected member warned. Incidents happen where replicas are: a sparse
    step visits the listed nodes only."""
    nodes, listed = frame.nodes, frame.listed
    hardening = params[P.HARDENING]
    quarantine_steps = int(params[P.QUARANTINE_STEPS])
    for k in range(visited(listed, sparse, nodes.incidents.shape[0])):
        v = visit(listed, sparse, k)
        quarantine.react(nodes, v, t, hardening, quarantine_steps)
        nodes.incidents[v] = 0
    collusion.apply_warnings(t, int(params[P.WARNING_STEPS]), frame.coal, listed, sparse)


@jit(refcount=False)
def resolve(t, n, rkey, params, frame, arrivals, bufs, sparse):
    """The serial resolve pass: resolution of proposals by selection sampling, retraining, removal of the dead,
    node tallies, consequences of this step's incidents. Returns the new count. ``frame.tallies`` receives
    births, flights and the quarantined capacity (``T``); ``arrivals`` is the overflow buffer
    (``state.arrival_overflow``); ``bufs`` the parallel buffers (empty here). ``table.target`` is scratch
    afterwards (it lists the vacated slots during the pass). ``parallel.resolve_par`` is the same pass over
    threads, by random priorities; both settle blocks with ``settle_block``.

    The proposal counts (``nodes.prop_left``) are left at zero for the next act pass: a sparse step settles
    every proposal, each counting its node down once; a dense one settles only proposals onto nodes with free
    slots and then clears every count (``sparse``: see ``state.Listed``)."""
    on = params[P.COLLUSION] > 0
    nodes = frame.nodes
    frame.tallies[T.QUARANTINED] = free_slots(t, nodes, frame.listed, sparse)
    sel = Selection(False, np.uint64(0), bufs.rule, bufs.threshold, nodes.prop_left, nodes.slots_left, sparse)
    counts = NodeCounts(nodes.occ, nodes.node_mis)
    # np.int64(0), not 0: a counter that starts as the constant 0 has the literal type 0 in type inference's first
    # round, and each kernel it is passed to would be compiled once for that type and once for int64 (a cold
    # start's seconds; tests/test_jit.py holds every kernel of a run to one signature)
    arrived = np.int64(0)  # newborns and replicas in flight, in table order (``table.put_arrival``)
    vacated = np.int64(0)
    flights = np.int64(0)
    for b in range((n + BLOCK - 1) // BLOCK):
        a, v, f = settle_block(b, n, t, rkey, params, sel, n + arrived, vacated, counts, frame.table, arrivals,
                               frame.events[0])
        arrived += a
        vacated += v
        flights += f
    if not sparse:
        nodes.prop_left[:] = 0
    n_live = place(n, vacated, arrived, frame, arrivals, on, sparse)
    consequences(t, params, frame, sparse)
    frame.tallies[T.BIRTHS] = arrived - flights
    frame.tallies[T.FLIGHTS] = flights
    return n_live


# How a pass settles the proposals onto a node with fewer free slots than proposals, either way a uniformly
# random subset of them: by selection sampling in table order (``by_priority`` False: the serial pass; it draws
# from the block streams and counts ``prop_left`` and ``slots_left`` down) or by random priorities (the
# within-run parallel pass: per node a ``rule`` and a priority ``threshold``, no draws; ``parallel``). ``every``:
# settle every proposal, also those onto nodes without free slots (a sparse step, whose proposal counts must
# end at zero), instead of only those onto nodes that may accept some.
Selection = namedtuple("Selection", ("by_priority", "pkey", "rule", "threshold", "prop_left", "slots_left", "every"))
NONE_ACCEPTED, ALL_ACCEPTED, BY_PRIORITY = 0, 1, 2  # rule of a node; list_to_settle relies on NONE_ACCEPTED = 0


@jit(inline="always")
def priority(pkey, i):
    """Random priority of the proposal of slot i: mix64 is a bijection, so distinct slots never tie."""
    return mix64(pkey + GOLDEN * np.uint64(i + 1))


@jit(inline="always")
def accepted(i, tg, pkey, rule, threshold):
    """The proposal of slot i onto node tg is accepted (by the node's rule and priority threshold)."""
    r = rule[tg]
    if r == ALL_ACCEPTED:
        return True
    if r == BY_PRIORITY:
        return priority(pkey, i) <= threshold[tg]
    return False


@jit(inline="always")
def select(state, i, tg, sel):
    """Resolution for the proposal of replica i onto node tg (-1: none). Returns (state, the node it is
    accepted on or -1). Selection sampling: each of the ``prop_left`` remaining proposals onto a node gets one
    of its ``slots_left`` slots with probability slots_left / prop_left (one draw when it is not certain); a
    node without free slots refuses at once (without a draw). Every proposal settled counts its node down."""
    if sel.by_priority:
        return state, tg if tg >= 0 and accepted(i, tg, sel.pkey, sel.rule, sel.threshold) else -1
    accepted_to = -1
    if tg >= 0:
        sl = sel.slots_left[U(tg)]
        pl = sel.prop_left[U(tg)]
        sel.prop_left[U(tg)] = pl - 1
        if sl > 0:
            accept = sl >= pl
            if not accept:
                state, u = uniform(state)
                accept = u * pl < sl
            if accept:
                sel.slots_left[U(tg)] = sl - 1
                accepted_to = tg
    return state, accepted_to


@jit(refcount=False)
def settle_block(b, n, t, rkey, params, sel, row0, hole0, counts, table, arrivals, events):
    """Resolution, births, flights and retraining of block b of the table (slots b x BLOCK .. of the n live):
    the block's arrivals are written from row ``row0`` on (``table.put_arrival``), its vacated slots listed,
    ascending, at ``table.target[hole0]`` on, and node counts change in ``counts``. ``events`` is scratch of
    BLOCK entries. Returns (arrivals, vacated slots, flights) of the block.

    Only the replicas with something to settle are visited one by one (``list_to_settle``); the retraining
    events of the survivors between them are reached by their geometric gaps (``retrain_between``), with the
    same draws in the same order as visiting every survivor."""
    log_keep = np.log1p(-params[P.RETRAINING_RATE])
    target, flags = table.target, table.flags
    start = b * BLOCK
    stop = min(n, start + BLOCK)
    state = stream(rkey, t, PHASE_RESOLVE, b)
    state, gap = misalignment.retraining_gap(state, log_keep)
    # slots only run out during the pass: a proposal onto a node without free slots now is refused anyway
    if sel.by_priority:
        k = list_to_settle(start, stop, target, flags, sel.rule, events, sel.every)
    else:
        k = list_to_settle(start, stop, target, flags, sel.slots_left, events, sel.every)
    arrived = 0
    vacated = 0
    flights = 0
    pos = start  # the first replica not yet settled
    for e in range(k + 1):
        i = np.int64(events[U(e)]) if e < k else stop
        state, gap = misalignment.retrain_between(state, gap, log_keep, pos, i, table, counts.node_mis)
        if e == k:
            break
        state, accepted_to = select(state, i, target[U(i)], sel)
        state, gap, a, v, f = settle(state, gap, log_keep, params, i, flags[U(i)], accepted_to, row0 + arrived,
                                     hole0 + vacated, counts, table, arrivals)
        arrived += a
        vacated += v
        flights += f
        pos = i + 1
    return arrived, vacated, flights


@jit(refcount=False)
def place(n, vacated, arrived, frame, arrivals, on, sparse):
    """After settling: nodes left without misaligned replicas hold no coalition; the vacated slots (listed,
    ascending, at the front of ``table.target``) are filled from the end of the table, the arrivals moved to
    follow the live rows and counted on their nodes, where coalitions that meet merge; their nodes join the
    list of nodes a sparse step visits. Returns the new count. Only nodes that held replicas lose misaligned
    ones: a sparse step visits the listed nodes only."""
    table, nodes, listed = frame.table, frame.nodes, frame.listed
    for k in range(visited(listed, sparse, nodes.node_coal.shape[0])):
        v = visit(listed, sparse, k)
        if nodes.node_mis[v] == 0:
            nodes.node_coal[v] = -1
    w = fill_holes(n, vacated, table.target, table)
    place_arrivals(n, w, arrived, table, arrivals)
    forest = frame.coal.forest
    for r in range(w, w + arrived):
        nd = table.node[r]
        collusion.tally_node(nd, table.lineage[r], table.flags[r], nodes, forest, on)
        enlist(listed, nd)
    return w + arrived


@jit(inline="always")
def list_to_settle(start, stop, target, flags, accepts, events, every):
    """List (in ``events``) the replicas of slots start..stop-1 with something to settle: a proposal onto a
    node that may accept some (``accepts[node] > 0``; any proposal if ``every``), a death, a flight. Returns
    how many. The others (most) only survive, and their one event, retraining, is reached by skipping
    (``retrain_between``), which draws the same as visiting them. No branch: every slot is written, the count
    advances only for the listed."""
    k = 0
    for i in range(U(start), U(stop)):
        tg = target[i]
        events[U(k)] = i
        k += ((tg >= 0) & (every | (accepts[U(max(tg, 0))] > 0))) | ((flags[i] & (DEAD | MOVING)) != 0)
    return k


@jit(inline="always")
def settle(state, gap, log_keep, params, i, f, accepted_to, row, hole, counts, table, arrivals):
    """Replica i (flags f) after resolution, ``accepted_to`` the node of its accepted proposal or -1: a copy
    becomes arrival row ``row`` (``give_birth``); a dead replica vacates its slot; a survivor is up for
    retraining (a replica in flight too: it was alive at the start of the step); an accepted flight leaves its
    slot and becomes arrival row ``row``. A vacated slot is listed at ``table.target[hole]``; ``counts`` change
    by the departures and retrainings. Returns (state, gap, arrival rows written, slots vacated, flights)."""
    flight_to = -1
    arrived = 0
    if accepted_to >= 0:
        if f & MOVING:
            flight_to = accepted_to
        else:
            state = give_birth(state, params, i, f, accepted_to, row, table, arrivals)
            arrived = 1
    if f & DEAD:
        leave_node(table.node[U(i)], f, counts)
        table.target[U(hole)] = i
        return state, gap, arrived, 1, 0
    state, gap, g = misalignment.survive(state, gap, log_keep, f)
    if g != f:  # retrained, or a flight proposal done with
        counts.node_mis[U(table.node[U(i)])] -= (f & MISALIGNED) - (g & MISALIGNED)
        table.flags[U(i)] = g
    if flight_to >= 0:
        leave_node(table.node[U(i)], g, counts)
        put_arrival(row, flight_to, table.lineage[U(i)], table.generation[U(i)], table.skill[U(i)],
                    table.evasion[U(i)], table.avoid[U(i)], g, table, arrivals)
        table.flags[U(i)] = g | DEAD  # the slot is vacated
        table.target[U(hole)] = i
        return state, gap, 1, 1, 1
    return state, gap, arrived, 0, 0


@jit(inline="always")
def give_birth(state, params, i, f, nd, row, table, arrivals):
    """The copy of replica i (flags f) on node nd, written as arrival row ``row``: emergent misalignment and
    mutated traits (each the parent's plus a normal with s.d. ``mutation_sd``, clipped to [0, 1], in fixed
    point); its generation is the parent's + 1, capped at MAX_GENERATION. Draws (in this order):
    misalignment if the parent is aligned, then three normals."""
    state, mis = misalignment.at_birth(state, f, params[P.MISALIGNMENT_RATE])
    state, s, e, a = replication.inherit(state, params[P.MUTATION_SD], table.skill[U(i)], table.evasion[U(i)],
                                         table.avoid[U(i)])
    put_arrival(row, nd, table.lineage[U(i)], min(table.generation[U(i)] + 1, MAX_GENERATION), s, e, a, mis,
                table, arrivals)
    return state


@jit(inline="always")
def leave_node(nd, f, counts):
    """A replica with flags f leaves node nd (it dies, or flies elsewhere)."""
    counts.occ[U(nd)] -= 1
    counts.node_mis[U(nd)] -= f & MISALIGNED
