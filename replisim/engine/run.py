"""One run from set-up to horizon (``run_one``), and an ensemble of runs spread over threads.

``run_one`` holds the step: the ordered list ``replisim.step.STEP``, phase by phase (``tests/test_step.py``
holds this function, the Mesa model and docs/ODD.md to that list).
"""

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..results import COMPUTE_MILESTONES, MILESTONE_OUTCOMES, O, S
from .act import act
from .jit import jit
from .mechanisms import collusion, if_then, reporting
from .parallel import act_par, resolve_par
from .params import P
from .resolve import resolve
from .rng import PHASE_INIT, below, run_key, stream
from .state import (
    DEAD,
    MISALIGNED,
    TRAIT_UNIT,
    T,
    arrival_overflow,
    enlist,
    new_frame,
    new_parallel_buffers,
    to_trait,
    trait,
    visit,
    visited,
    world_row,
)


@jit(refcount=False)
def place_initial(rkey, n0, n_mis, skill0, evasion0, avoid0, nodes, table):
    """Put the initial replicas on uniformly drawn nodes with a free slot; the first n_mis are misaligned.
    Returns how many were placed: n0, unless the network has fewer free slots (which ``simulate`` rules out
    before it runs; the rest are not placed, rather than written to a node that does not exist)."""
    state = stream(rkey, 0, PHASE_INIT, 0)
    capacity, occ = nodes.capacity, nodes.occ
    n_nodes = capacity.shape[0]
    skill_q, evasion_q, avoid_q = to_trait(skill0), to_trait(evasion0), to_trait(avoid0)
    for k in range(n0):
        nd = -1
        for _ in range(64):
            state, c = below(state, n_nodes)
            if occ[c] < capacity[c]:
                nd = c
                break
        if nd < 0:  # nearly full network: take the first free node after a random start
            state, c = below(state, n_nodes)
            for j in range(n_nodes):
                c2 = (c + j) % n_nodes
                if occ[c2] < capacity[c2]:
                    nd = c2
                    break
        if nd < 0:
            return k
        occ[nd] += 1
        table.node[k] = nd
        table.lineage[k] = k
        table.generation[k] = 0
        table.skill[k] = skill_q
        table.evasion[k] = evasion_q
        table.avoid[k] = avoid_q
        table.flags[k] = MISALIGNED if k < n_mis else 0
        table.order_left[k] = -1
    return n0


# What validate mode checks after every step; check_invariants returns the number of the first one broken.
INVARIANTS = (
    "",
    "replica count outside [0, slots]",
    "dead replica left in the table",
    "a misaligned replica outside its node's coalition",
    "node occupancy does not match the replica table",
    "node occupancy above capacity or negative",
    "initial replicas without a free slot",
    "proposal counts left on a node after the step",
    "an occupied or quarantined node missing from the list of nodes a sparse step visits",
)
UNPLACED = 6


@jit
def check_invariants(n, t, frame, on, max_slots):
    """Validate mode, after step t: occupancy within capacity, counts conserved, no dead replica left in the
    table, (with collusion ``on``) every misaligned replica in the coalition its node records, which the act
    pass relies on, no proposal count left for the next act pass, and every node a sparse step must visit
    listed (``state.Listed``). Returns 0, or the index in ``INVARIANTS`` of the first broken invariant (a code,
    not an exception: one raised inside a compiled parallel loop reaches the caller as a bare SystemError)."""
    table, nodes, forest = frame.table, frame.nodes, frame.coal.forest
    capacity, occ = nodes.capacity, nodes.occ
    if n < 0 or n > max_slots:
        return 1
    seen = np.zeros(capacity.shape[0], dtype=np.int64)
    for i in range(n):
        if table.flags[i] & DEAD:
            return 2
        seen[table.node[i]] += 1
        if on and table.flags[i] & MISALIGNED:
            coal = nodes.node_coal[table.node[i]]
            if coal < 0 or collusion.find_root(forest, table.lineage[i]) != collusion.find_root(forest, coal):
                return 3
    listed = frame.listed
    for v in range(capacity.shape[0]):
        if seen[v] != occ[v]:
            return 4
        if occ[v] > capacity[v] or occ[v] < 0:
            return 5
        if nodes.prop_left[v] != 0:
            return 7
        if (occ[v] > 0 or nodes.quar_until[v] >= t) and listed.mark[v] == 0:
            return 8
    for k in range(listed.count[0]):
        if listed.mark[listed.nodes[k]] != 1:
            return 8
    return 0


@jit(refcount=False)
def record(series, group_series, t, n, frame, world, sparse, collateral):
    """Series of step t (the counts of ``frame.tallies``); returns the misaligned replicas counted. Every occupied
    node is listed: a sparse step counts the occupied among the listed, and adds their replicas to the rows of
    ``group_series`` their labels name (``world.group_row``, ``replisim.groups``), so the groups cost what the
    replicas do."""
    flags, occ, tallies, group_row = frame.table.flags, frame.nodes.occ, frame.tallies, world.group_row
    mis = 0
    for i in range(n):
        mis += flags[i] & MISALIGNED
    occupied = 0
    for k in range(visited(frame.listed, sparse, occ.shape[0])):
        v = visit(frame.listed, sparse, k)
        if occ[v] > 0:
            occupied += 1
            for g in range(group_row.shape[1]):
                group_series[group_row[v, g], t] += occ[v]
    series[S.REPLICAS, t] = n
    series[S.MISALIGNED, t] = mis
    series[S.COMPUTE_SHARE, t] = n / world.total_compute
    series[S.NODES_OCCUPIED, t] = occupied
    series[S.DETECTIONS, t] = tallies[T.DETECTIONS]
    series[S.SHUTDOWNS, t] = tallies[T.SHUTDOWNS]
    series[S.BIRTHS, t] = tallies[T.BIRTHS]
    series[S.COLLATERAL, t] = collateral
    return mis


@jit(refcount=False)
def update_governance(t, params, jur, strict):
    """The governance update of step t: each jurisdiction's monitoring factor in force (its own, raised once
    alerted by an incident report, raised again by if-then measures in force). Returns the false-positive
    weight (monitoring in force times the jurisdiction's share of monitored capacity, summed) and whether a
    factor changed (every node's record row changes then: a dense step)."""
    reporting_on = params[P.REPORTING] > 0
    fp_weight = 0.0
    changed = False
    for j in range(jur.monitoring.shape[0]):
        f = jur.monitoring[j]
        f *= reporting.alert_factor(jur, j, t, reporting_on, params[P.REPORTING_MONITORING])
        if strict:
            f *= params[P.IF_THEN_MONITORING]
        changed |= jur.factor[j] != f
        jur.factor[j] = f
        fp_weight += f * jur.fp_weight[j]
    return fp_weight, changed


@jit
def run_one(params, rkey, skill0, world, series, group_series, outcome, status, within=None, far=None, check=None):
    """Simulate one run on ``world`` (``state.World``); write its per-step tallies into ``series``, the replicas
    per group of nodes into ``group_series`` (a row per label of ``world.group_row``; no rows: no groups) and its
    outcomes into ``outcome``.

    ``status`` (int64[3]) reports while and after the run: [2] the steps done so far (written after every step,
    so a caller's thread can show progress while this compiled call runs: kernels release the GIL); in validate
    mode (``sim.validate``: ``check`` True, not None), where the invariants are checked after every step, the
    first broken one stops the run with its number (``INVARIANTS``) in [0] and its step in [1] (left 0 when all
    held). Like ``within``, ``check``'s type decides what is compiled: a run without checks never compiles them.

    ``within=None``: the serial passes (ensemble mode). ``within``, the private buffers of the within-run parallel
    passes (``state.new_parallel_buffers`` with k chunks; pass the thread count, the numbers do not depend on
    k): the run's replica table is spread over threads (``parallel.act_par``/``resolve_par``): same model and
    distribution, but not the serial passes' numbers. Which passes a call uses is decided by the type of
    ``within`` when it is compiled (Numba prunes the ``within is None`` branches), so the ensemble mode never
    compiles the parallel passes: they cost a cold start about 40 s (BENCHMARKS.md, "Cold start"). ``far`` in
    the same way picks the act pass for a node record larger than the caches (``state.far_hint``).
    """
    steps = int(params[P.STEPS])
    n0 = int(params[P.INITIAL])
    total_compute = world.total_compute
    slots = 0
    for v in range(world.capacity.shape[0]):
        slots += world.capacity[v]
    # slots withheld by static measures (licensing, export caps): a cost of the measure charged every step
    withheld = total_compute - slots
    slots = max(slots, n0)
    on = params[P.COLLUSION] > 0
    hours = params[P.HOURS_PER_STEP]
    base_latency = int(params[P.RESPONSE_LATENCY])
    # the table is preallocated to the network's capacity: it can never hold more
    if within is None:
        chunks = 1
    else:
        chunks = within.node_buf.shape[1]
    frame = new_frame(world, slots, n0, chunks)
    serial = new_parallel_buffers(world.capacity.shape[0], slots, 0)  # empty: the serial passes' placeholder
    # arrivals that find no row at the table's free end: at most as many as a step's shutdowns (put_arrival)
    arrivals = arrival_overflow(np.int64(1024))  # not a literal: one compiled arrival_overflow (resolve.resolve)
    table, nodes, tallies = frame.table, frame.nodes, frame.tallies

    n_mis0 = int(round(params[P.INITIAL_MISALIGNED] * n0))
    n = place_initial(rkey, n0, n_mis0, skill0, params[P.EVASION], params[P.SHUTDOWN_AVOIDANCE], nodes, table)
    if check is not None and n < n0:
        status[0] = UNPLACED
        return
    # node tallies of step 0: each initial replica is its own coalition; misaligned ones placed on one node meet
    collusion.tally_initial(n, table, nodes, frame.coal.forest, on)
    n_nodes = nodes.capacity.shape[0]
    for v in range(n_nodes):
        if nodes.occ[v] > 0:
            enlist(frame.listed, v)
    record(series, group_series, np.int64(0), n, frame, world, np.bool_(False), 0.0)  # no literals (as above)
    # a step's per-node passes visit only the listed nodes when they are few (state.Listed): the share counts the
    # listed nodes at the step's start, what those passes visit (plus the nodes the step's arrivals newly occupy);
    # never in the first step (no record row written yet) or when a monitoring factor changes (every row does)
    sparse_below = params[P.SPARSE_SHARE] * n_nodes

    peak = n
    peak_share = n / total_compute
    # first hour at which the share of compute reached each milestone (-1: not yet)
    reached = np.full(len(COMPUTE_MILESTONES), -1.0)
    reach_milestones(reached, peak_share, 0.0)
    contained_at = -1.0
    det_total = 0.0
    shut_total = 0.0
    avoid_total = 0.0
    births_total = 0.0
    flights_total = 0.0
    collateral_total = 0.0
    # collateral by cause: executed shutdowns, quarantine, false alarms, withheld capacity (node-hours)
    cost_shutdowns = 0.0
    cost_quarantine = 0.0
    cost_false_alarms = 0.0
    replica_steps = 0.0
    trig_step = -1
    mis = n_mis0
    for t in range(1, steps + 1):
        status[2] = t - 1  # steps done
        if n == 0:  # nothing left: the list (every occupied node: none) is all record needs to visit
            tallies[:] = 0.0
            record(series, group_series, t, np.int64(0), frame, world, np.bool_(True), 0.0)
            continue
        replica_steps += n
        # governance: if-then measures in force, incident-report alerts -> monitoring, kill floor, latency
        strict = if_then.in_force(params[P.IF_THEN] > 0, trig_step, params[P.IF_THEN_DELAY], t)
        latency = min(int(params[P.IF_THEN_LATENCY]) if strict else base_latency, base_latency)
        kill_floor = params[P.IF_THEN_KILL] if strict else 0.0
        fp_weight, changed = update_governance(t, params, frame.jur, strict)
        sparse = within is None and t > 1 and not changed and frame.listed.count[0] < sparse_below
        tallies[:] = 0.0
        # detection, shutdown, replication (one pass over the replicas), then the incidents' reports
        if within is None:
            act(t, n, rkey, params, latency, kill_floor, frame, sparse, far)
        else:
            act_par(t, n, rkey, params, latency, kill_floor, frame, within, far)
        det_total += tallies[T.DETECTIONS]
        shut_total += tallies[T.SHUTDOWNS]
        avoid_total += tallies[T.AVOIDANCE]
        proposals = int(tallies[T.PROPOSALS])
        # the if-then trigger reads this step's incidents
        if params[P.IF_THEN] > 0 and trig_step < 0 and if_then.triggers(
                det_total, tallies[T.DETECTIONS], tallies[T.DETECTED_SKILL] * TRAIT_UNIT,
                params[P.IF_THEN_INCIDENTS], params[P.IF_THEN_CAPABILITY]):
            trig_step = t
        overflow = min(proposals, int(tallies[T.SHUTDOWNS]))  # arrivals beyond the table's free end <= freed
        if overflow > arrivals.node.shape[0]:
            arrivals = arrival_overflow(max(overflow, 2 * arrivals.node.shape[0]))
        # resolution, retraining, coalitions, consequences of the incidents (one pass over the replicas)
        if within is None:
            n = resolve(t, n, rkey, params, frame, arrivals, serial, sparse)
        else:
            n = resolve_par(t, n, rkey, params, frame, arrivals, within)
        births_total += tallies[T.BIRTHS]
        flights_total += tallies[T.FLIGHTS]
        # record
        step_shutdowns = tallies[T.SHUTDOWNS] * params[P.SHUTDOWN_COST]
        step_quarantine = hours * tallies[T.QUARANTINED]
        step_false_alarms = hours * params[P.FALSE_POSITIVE_RATE] * fp_weight
        collateral = step_shutdowns + step_quarantine + step_false_alarms + hours * withheld
        collateral_total += collateral
        cost_shutdowns += step_shutdowns
        cost_quarantine += step_quarantine
        cost_false_alarms += step_false_alarms
        mis = record(series, group_series, t, n, frame, world, sparse, collateral)
        if check is not None:
            code = check_invariants(n, t, frame, on, slots)
            if code != 0:
                status[0] = code
                status[1] = t
                return
        peak = max(peak, n)
        peak_share = max(peak_share, n / total_compute)
        reach_milestones(reached, n / total_compute, t * hours)
        if n == 0 and contained_at < 0:
            contained_at = t * hours

    status[2] = steps
    max_gen = 0
    skill_sum = 0.0
    for i in range(n):
        max_gen = max(max_gen, int(table.generation[i]))
        skill_sum += trait(table.skill[i])
    coalitions = collusion.count_coalitions(n, table, frame.coal.forest, np.zeros(n0 if n > 0 else 0, np.uint8))
    final_share = n / total_compute
    outcome[O.EXTINCT] = 1.0 if n == 0 else 0.0
    outcome[O.LOSS_OF_CONTROL] = 1.0 if final_share >= params[P.LOSS_SHARE] and n > 0 else 0.0
    outcome[O.PEAK_REPLICAS] = peak
    outcome[O.FINAL_REPLICAS] = n
    outcome[O.TIME_TO_CONTAINMENT] = contained_at if contained_at >= 0 else np.nan
    outcome[O.PEAK_COMPUTE_SHARE] = peak_share
    outcome[O.FINAL_COMPUTE_SHARE] = final_share
    outcome[O.DETECTIONS] = det_total
    outcome[O.SHUTDOWNS] = shut_total
    outcome[O.AVOIDANCE_EVENTS] = avoid_total
    outcome[O.MAX_GENERATION] = max_gen
    outcome[O.MISALIGNED_FINAL] = mis
    outcome[O.COLLATERAL_NODE_HOURS] = collateral_total
    outcome[O.BIRTHS] = births_total
    outcome[O.FLIGHTS] = flights_total
    outcome[O.COALITIONS_FINAL] = coalitions
    outcome[O.IF_THEN_TRIGGERED_STEP] = trig_step if trig_step >= 0 else np.nan
    outcome[O.MEAN_SKILL_FINAL] = skill_sum / n if n > 0 else np.nan
    outcome[O.REPLICA_STEPS] = replica_steps
    for k in range(len(COMPUTE_MILESTONES)):
        outcome[MILESTONE_OUTCOMES[k]] = reached[k] if reached[k] >= 0 else np.nan
    outcome[O.COLLATERAL_SHUTDOWNS] = cost_shutdowns
    outcome[O.COLLATERAL_QUARANTINE] = cost_quarantine
    outcome[O.COLLATERAL_FALSE_ALARMS] = cost_false_alarms
    # the rest: withheld slots, charged every step until the horizon or containment (as collateral is)
    outcome[O.COLLATERAL_WITHHELD] = collateral_total - cost_shutdowns - cost_quarantine - cost_false_alarms
    # where the survivors sit: one count per node type and per jurisdiction (world.col_type / col_jur)
    for i in range(n):
        v = table.node[i]
        outcome[world.col_type[v]] += 1.0
        outcome[world.col_jur[v]] += 1.0


@jit(inline="always")
def reach_milestones(reached, share, now):
    """Mark the milestones of COMPUTE_MILESTONES that ``share`` reaches for the first time at hour ``now``."""
    for k in range(len(COMPUTE_MILESTONES)):
        if reached[k] < 0 and share >= COMPUTE_MILESTONES[k]:
            reached[k] = now


@jit
def run_runs(params, seed, first_run, skill0, world, worlds, series, group_series, outcomes, status, far=None,
             check=None):
    """Runs first_run .. first_run + len(skill0) - 1, one after the other; run r's stream depends only on (seed, r).

    ``params``: the (runs x parameters) matrix, or one row that every run shares. ``worlds``
    (``state.Worlds``): run r's own governed nodes in row r, or no rows (every run on ``world``). ``far``:
    ``state.far_hint`` of the network; ``check``: True in validate mode, else None (``run_one``)."""
    rows = params.shape[0]
    for r in range(skill0.shape[0]):
        run_one(params[r % rows], run_key(seed, first_run + r), skill0[r], world_row(world, worlds, r), series[r],
                group_series[r], outcomes[r], status[r], None, far, check)


# the most runs one call of run_runs takes: each call converts its arguments (tens of microseconds), a run of a
# small world takes as long or longer, and a thread that takes more runs at once can leave the other waiting
MAX_BLOCK = 32


def run_ensemble(params, seed, first_run, skill0, world, worlds, series, group_series, outcomes, status, far=None,
                 check=None, threads=1, done=None):
    """The runs of ``run_runs`` spread over ``threads`` Python threads, each taking the next few runs as it frees
    up, fewer as fewer are left (the kernels release the GIL, and each run writes only its own rows, so the
    numbers do not depend on the thread count or on which thread ran what). ``done(k)`` is called, under a lock,
    as each k runs finish.

    Python threads rather than a ``prange`` loop (``parallel=True``): Numba's parallel compilation of the
    loop cost a cold start about 5 s more than compiling the loop alone (BENCHMARKS.md, "Cold start"), and taking
    runs as threads free up balances runs of very different lengths (some die out at once, others fill the
    network) better than a static split.
    """
    runs = skill0.shape[0]
    lock = threading.Lock()

    def call(start, stop):
        part = slice(start, stop)
        run_runs(params if params.shape[0] == 1 else params[part], seed, first_run + start, skill0[part], world,
                 worlds if worlds.total_compute.shape[0] == 0 else type(worlds)(*(a[part] for a in worlds)),
                 series[part], group_series[part], outcomes[part], status[part], far, check)
        if done is not None:
            with lock:
                done(stop - start)

    if threads <= 1 or runs <= 1:
        if done is None:
            call(0, runs)
        else:  # a call per few runs, so that progress shows
            for start in range(0, runs, MAX_BLOCK):
                call(start, min(runs, start + MAX_BLOCK))
        return
    taken = [0]  # runs handed out so far
    stop_now = threading.Event()

    def worker():
        while not stop_now.is_set():
            with lock:  # guided: large blocks first, single runs at the end, so no thread waits on a long last block
                start = taken[0]
                stop = taken[0] = min(runs, start + max(1, min(MAX_BLOCK, (runs - start) // (4 * threads))))
            if start == stop:
                return
            call(start, stop)

    with ThreadPoolExecutor(max_workers=min(threads, runs), thread_name_prefix="replisim-run") as pool:
        futures = [pool.submit(worker) for _ in range(min(threads, runs))]
        try:
            for f in futures:
                f.result()
        except BaseException:  # Ctrl-C or a failed run: the other threads finish their current runs, then stop
            stop_now.set()
            raise
