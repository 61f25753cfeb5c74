"""The act pass: detection, shutdown and replication proposals of every replica, against start-of-step state
(``replisim.step.STEP``: detection, shutdown, replication, in this order for each replica).

Every decision is taken against the state at the start of the step, so the update is synchronous and the
result does not depend on the order of the table. The pass first writes the node record (``state.R_*``):
what it reads about each node, fixed for the step.

How the pass is made fast (measured in BENCHMARKS.md, "Profile and what each change bought"): per-replica loops
are compiled without reference counting (``@jit(refcount=False)``, see jit.py) and index arrays with unsigned
integers (``U``: no wraparound code); the common replica takes no branch on a random outcome
(``act_range``); what it reads about nodes sits in one small float32 record per node.
"""

from collections import namedtuple

import numpy as np

from .jit import jit
from .mechanisms import avoidance, collusion, detection, quarantine, replication, reporting
from .params import P
from .rng import BLOCK, PHASE_ACT, stream, uniform, uniform_pair
from .state import (
    MISALIGNED,
    MOVING,
    PREFETCH,
    R_COAL,
    R_DETECT,
    R_DETECT_MIS,
    R_FREE,
    R_KILL,
    R_QUARANTINED,
    R_SECURITY,
    R_WATCH,
    Counters,
    T,
    U,
    coalitions,
    prefetch_row,
)

# The constants of one act pass: what the mechanisms' hooks read besides the frame.
Acting = namedtuple("Acting", ("attempt", "strategic", "samples", "foothold", "flight", "latency", "kill_floor"))
# The parts of the frame the act pass over the replicas reads (a Frame serves as well): the within-run parallel
# pass builds one inside its parallel loop, which cannot capture tuples of arrays.
ActView = namedtuple("ActView", ("table", "record", "links", "coal"))
# The parts node_record reads (a Frame serves as well): the parallel pass builds one per chunk of nodes.
RecordView = namedtuple("RecordView", ("nodes", "jur", "coal", "record"))
RARE = np.int32(-2)  # target mark of a replica left to the second loop of act_range


@jit(inline="always")
def acting(params, latency, kill_floor):
    """The pass's constants, read once: inside the loop every store to an array could alias ``params`` for
    the compiler. Foothold and flight are collusion's: 0 with collusion off."""
    colluding = params[P.COLLUSION] > 0
    return Acting(params[P.ATTEMPT_RATE], params[P.STRATEGIC] > 0, int(params[P.STRATEGIC_SAMPLES]),
                  params[P.FOOTHOLD] if colluding else 0.0, params[P.FLIGHT] if colluding else 0.0,
                  latency, kill_floor)


# What node_record reads from the parameters, read once (inside the loop a store to the record could alias
# ``params`` for the compiler).
Blinding = namedtuple("Blinding", ("on", "dominance", "min_members", "blinding", "warning_evasion"))


@jit(inline="always")
def blinding_of(params):
    return Blinding(params[P.COLLUSION] > 0, params[P.DOMINANCE], params[P.MIN_MEMBERS], params[P.BLINDING],
                    params[P.WARNING_EVASION])


@jit(inline="always")
def write_row(v, t, how, frame):
    """Row v of the node record from start-of-step state (the act pass writes none of its inputs)."""
    nodes, record = frame.nodes, frame.record
    j = nodes.jurisdiction[v]
    watch = detection.watched(nodes, frame.jur.factor, v)
    det = min(collusion.blinded(watch, nodes, v, how.on, how.dominance, how.min_members, how.blinding), 1.0)
    coal = collusion.node_coalition(frame.coal.forest, nodes.node_coal, v, how.on)
    record[v, R_DETECT] = det
    # the misaligned replicas here are mates of coalition ``coal``; warned, they evade better
    record[v, R_DETECT_MIS] = collusion.warned_detection(det, frame.coal, v, t, how.warning_evasion)
    record[v, R_WATCH] = watch
    record[v, R_SECURITY] = nodes.security[v]
    record[v, R_KILL] = nodes.kill_switch[v] * frame.jur.kill[j]
    record[v, R_FREE] = 1.0 if nodes.occ[v] < nodes.capacity[v] else 0.0
    record[v, R_QUARANTINED] = 1.0 if quarantine.quarantined(nodes, v, t) else 0.0
    coalitions(record)[v, R_COAL] = coal


@jit(refcount=False)
def node_record(lo, hi, t, params, frame):
    """Rows lo..hi-1 of the node record (every row: a dense step, or a chunk of them in the parallel pass)."""
    how = blinding_of(params)
    for v in range(lo, hi):
        write_row(v, t, how, frame)


@jit(refcount=False)
def listed_record(t, params, frame):
    """The rows of the listed nodes (a sparse step): the others hold no replicas, and their rows, last written
    when they were listed, still hold (``state.Listed``)."""
    how = blinding_of(params)
    listed = frame.listed
    for k in range(listed.count[0]):
        write_row(listed.nodes[k], t, how, frame)


@jit(refcount=False)
def act(t, n, rkey, params, latency, kill_floor, frame, sparse, far=None):
    """The serial act pass over the table's n live rows; then this step's incident reports. ``frame.tallies``
    receives detections, shutdowns, avoidance events, proposals and the detected replicas' skill (``T``).
    ``sparse``: the node record is written for the listed nodes only (``state.Listed``). ``far``: None, or True
    for a node record larger than the caches (``state.far_hint``: its type picks the code, see ``act_range``)."""
    nodes = frame.nodes
    if sparse:
        listed_record(t, params, frame)
    else:
        node_record(0, nodes.capacity.shape[0], t, params, frame)
    how = acting(params, latency, kill_floor)
    act_range(0, n, t, rkey, how, ActView(frame.table, frame.record, frame.links, frame.coal),
              Counters(nodes.freed, nodes.prop_left, nodes.incidents), frame.tallies, far)
    if params[P.REPORTING] > 0:
        reporting.report(t, int(params[P.REPORTING_DELAY]), nodes, frame.jur, frame.listed, sparse)


@jit(refcount=False)
def act_range(lo, hi, t, rkey, how, frame, counters, tallies, far=None):
    """The act pass over table slots lo..hi-1 (``act_blocks``) for a node record that fits the caches (``far``
    None) or one that does not (``far`` True: ``state.far_hint``). A constant ``far`` lets the compiler drop the
    other case's code from each loop, which otherwise costs the common case about 10% (BENCHMARKS.md, (j)); and
    with ``far`` None Numba prunes the far branch before typing it, so the common specialization compiles one
    case only (Numba prunes on a None argument only: the far specialization compiles both, and runs its own)."""
    if far is None:
        act_blocks(lo, hi, t, rkey, how, frame, counters, tallies, False)
    else:
        act_blocks(lo, hi, t, rkey, how, frame, counters, tallies, True)


@jit(inline="always")
def act_blocks(lo, hi, t, rkey, how, frame, counters, tallies, far):
    """The act pass over table slots lo..hi-1 (lo a multiple of BLOCK, so each block starts its own stream).

    ``counters`` and ``tallies`` are the only counts it adds to: the serial pass hands it the run's arrays,
    the within-run parallel pass a private copy per thread (integer counts, so the sum does not depend on how
    slots were split among threads). ``frame.coal.warned`` (per node) only ever receives the value 1, so
    concurrent writes to it agree.

    Written for speed without changing the model. A replica-step costs branches on random outcomes, which
    the CPU mispredicts about half the time, more than draws. So each block of the table is handled in two
    loops. The first handles the common replica, neither detected now nor under a pending order, without a
    branch on a random outcome: one draw gives the detection and the proposal uniforms, and attempt and
    success are one comparison, ``u < attempt x skill x (1 - security)`` (the target does not depend on the
    attempt, so this is the same event). A detected replica or one with a pending order is marked and handled
    by the second loop, which draws its events (kill switch, last copy, flight) and its proposal then.
    """
    table, record = frame.table, frame.record
    node, flags, order_left, target = table.node, table.flags, table.order_left, table.target
    proposals = 0  # a local sum: adding to the tallies in every iteration would chain the iterations via memory
    for b in range(lo // BLOCK, (hi + BLOCK - 1) // BLOCK):
        state = stream(rkey, t, PHASE_ACT, b)
        start = max(lo, b * BLOCK)
        stop = min(hi, (b + 1) * BLOCK)
        rare = 0
        last = U(stop - 1)
        for i in range(U(start), U(stop)):
            if far:  # a record larger than the caches: ask for the row of a replica PREFETCH slots ahead
                prefetch_row(record, node[min(i + U(PREFETCH), last)])
            nd = node[i]
            f = flags[i]
            # detection: p = R_DETECT, or R_DETECT_MIS (next column) for the misaligned
            p = record[U(nd), U(R_DETECT + (f & MISALIGNED))]
            state, u, u_prop = uniform_pair(state)
            pending = order_left[i] >= 0
            if pending | (u < p):
                if pending or detection.detected(u, p, table.evasion[i]):  # the second loop's
                    target[i] = RARE
                    rare += 1
                    continue
            state, tg, ok = replication.propose(state, i, nd, f, how.attempt, False, u_prop, how, frame,
                                                counters.prop_left, far)
            target[i] = tg
            proposals += ok
        if rare == 0:
            continue
        for i in range(start, stop):
            if target[i] != RARE:
                continue
            state, ok = act_rare(state, i, node[i], t, how, frame, counters, tallies, far)
            proposals += ok
    tallies[T.PROPOSALS] += proposals


@jit(inline="always")
def act_rare(state, i, nd, t, how, frame, counters, tallies, far):
    """Detection, shutdown and replication of a replica the first loop of act_range marked: detected in this
    step (no pending order) or under a pending order. Draws, in this order: the kill switch (a due order), then
    the last copy (a misaligned replica that dies), or the flight (a misaligned replica whose order is pending),
    then the proposal uniform and the target. Returns (state, 1 if it proposed else 0)."""
    table = frame.table
    f = table.flags[U(i)]
    mis = (f & MISALIGNED) != 0
    left = table.order_left[U(i)]  # steps until the pending order executes (-1: none; 16 bits, see ORDER_DTYPE)
    if left < 0:  # the first loop's draw detected it
        left = detection.issue_order(i, nd, how.latency, frame, counters, tallies)
        coal = coalitions(frame.record)[U(nd), R_COAL]
        if mis and coal >= 0:  # collusion on: the mates on this node are warned from the next step on
            frame.coal.warned[U(nd)] = 1
    else:
        left -= 1  # an order issued in an earlier step: one step nearer
    gate = how.attempt
    leaving = False
    if left <= 0:  # shutdown: the order executes
        table.order_left[U(i)] = -1
        state, dies = detection.shut_down(state, i, nd, f, how.kill_floor, frame, counters, tallies)
        if dies:
            gate = 0.0
            if mis:
                state, gate = avoidance.last_copy(state, i, frame, tallies)
    else:
        table.order_left[U(i)] = left
        if mis:  # a pending order: flee? (flight 0: collusion off, no draw)
            state, leaving = collusion.flees(state, how.flight)
            gate = 1.0 if leaving else gate
    state, u = uniform(state)
    state, tg, ok = replication.propose(state, i, nd, f, gate, leaving, u, how, frame, counters.prop_left, far)
    table.target[U(i)] = tg
    if leaving and ok:
        table.flags[U(i)] = table.flags[U(i)] | MOVING
    return state, ok
