"""One run from setup to horizon, and an ensemble of runs spread over threads."""

import numpy as np
from numba import prange

from ..results import O, S
from .jit import jit
from .kernels import (
    DEAD,
    MISALIGNED,
    NEVER,
    NOT_WARNED,
    ORDER_DTYPE,
    TRAIT_DTYPE,
    TRAIT_UNIT,
    act,
    find,
    find_root,
    node_record_table,
    resolve,
    to_trait,
    trait,
)
from .parallel import act_par, resolve_par
from .params import P
from .rng import BLOCK, PHASE_INIT, below, run_key, stream


@jit(refcount=False)
def place_initial(rkey, n0, n_mis, skill0, evasion0, avoid0, capacity, occ,
                  node, lineage, generation, skill, evasion, avoid, flags, order_left):
    """Put the initial replicas on uniformly drawn nodes with a free slot; the first n_mis are misaligned.
    Returns how many were placed: n0, unless the network has fewer free slots (which ``simulate`` rules out
    before it runs; the rest are not placed, rather than written to a node that does not exist)."""
    state = stream(rkey, 0, PHASE_INIT, 0)
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
        node[k] = nd
        lineage[k] = k
        generation[k] = 0
        skill[k] = skill_q
        evasion[k] = evasion_q
        avoid[k] = avoid_q
        flags[k] = MISALIGNED if k < n_mis else 0
        order_left[k] = -1
    return n0


@jit(refcount=False)
def tally_initial(n0, node, lineage, flags, node_mis, node_coal, coal_forest, collusion):
    """Node tallies of step 0, after ``place_initial`` counted the occupancy: misaligned replicas per node, and
    (collusion on) the coalitions of misaligned replicas placed on one node merged.

    Every initial replica is its own coalition, numbered by its lineage, which grows with its row; so the
    first misaligned replica placed on a node holds the smallest id there, and the others join it directly
    (``coal_forest``), the forest that ``union`` would build (the smaller id is the root), without its searches.
    """
    for v in range(node_mis.shape[0]):
        node_mis[v] = 0
        node_coal[v] = -1
    for i in range(n0):
        if flags[i] & MISALIGNED:
            nd = node[i]
            node_mis[nd] += 1
            if collusion:
                first = node_coal[nd]
                if first < 0:
                    node_coal[nd] = lineage[i]
                else:
                    coal_forest[lineage[i]] = first


@jit(refcount=False)
def count_coalitions(n, flags, lineage, coal_forest, seen):
    """Distinct coalitions among the misaligned replicas of the table (``seen``: zeros, one per coalition id)."""
    coalitions = 0
    for i in range(n):
        if flags[i] & MISALIGNED:
            r = find(coal_forest, lineage[i])
            if seen[r] == 0:
                seen[r] = 1
                coalitions += 1
    return coalitions


@jit
def arrival_overflow(size):
    """Columns of the arrivals' overflow buffer (node, lineage, generation, skill, evasion, avoidance, flags):
    the arrivals of a step that find no row at the table's free end (``kernels.put_arrival``)."""
    return (np.empty(size, np.int32), np.empty(size, np.int32), np.empty(size, np.uint16),
            np.empty(size, TRAIT_DTYPE), np.empty(size, TRAIT_DTYPE), np.empty(size, TRAIT_DTYPE),
            np.empty(size, np.uint8))


# What validate mode checks after every step; check_invariants returns the number of the first one broken.
INVARIANTS = (
    "",
    "replica count outside [0, slots]",
    "dead replica left in the table",
    "a misaligned replica outside its node's coalition",
    "node occupancy does not match the replica table",
    "node occupancy above capacity or negative",
    "initial replicas without a free slot",
)
UNPLACED = 6


@jit
def check_invariants(n, node, lineage, flags, capacity, occ, node_coal, coal_forest, collusion, max_slots):
    """Validate mode: occupancy within capacity, counts conserved, no dead replica left in the table, and (with
    collusion) every misaligned replica in the coalition its node records, which the act pass relies on.
    Returns 0, or the index in ``INVARIANTS`` of the first broken invariant (an exception raised inside the
    parallel ensemble loop would reach the caller as a bare SystemError)."""
    if n < 0 or n > max_slots:
        return 1
    seen = np.zeros(capacity.shape[0], dtype=np.int64)
    for i in range(n):
        if flags[i] & DEAD:
            return 2
        seen[node[i]] += 1
        if collusion and flags[i] & MISALIGNED:
            coal = node_coal[node[i]]
            if coal < 0 or find_root(coal_forest, lineage[i]) != find_root(coal_forest, coal):
                return 3
    for v in range(capacity.shape[0]):
        if seen[v] != occ[v]:
            return 4
        if occ[v] > capacity[v] or occ[v] < 0:
            return 5
    return 0


@jit(refcount=False)
def record(series, t, n, flags, occ, total_compute, det, shut, births, collateral):
    mis = 0
    for i in range(n):
        mis += flags[i] & MISALIGNED
    occupied = 0
    for v in range(occ.shape[0]):
        occupied += occ[v] > 0
    series[S.REPLICAS, t] = n
    series[S.MISALIGNED, t] = mis
    series[S.COMPUTE_SHARE, t] = n / total_compute
    series[S.NODES_OCCUPIED, t] = occupied
    series[S.DETECTIONS, t] = det
    series[S.SHUTDOWNS, t] = shut
    series[S.BIRTHS, t] = births
    series[S.COLLATERAL, t] = collateral
    return mis


@jit
def run_one(params, rkey, skill0, total_compute,
            capacity, security0, monitoring, kill_switch, jurisdiction, indptr, indices,
            jur_monitoring, jur_kill, jur_reporting, jur_fp_weight,
            series, outcome, status, within=0):
    """Simulate one run; write its per-step tallies into ``series`` and its outcomes into ``outcome``.

    ``status`` (int64[3]) reports while and after the run: [2] the steps done so far (written after every step,
    so a caller's thread can show progress while this compiled call runs: kernels release the GIL); in validate
    mode (``sim.validate``), where the invariants are checked after every step, the first broken one stops the
    run with its number (``INVARIANTS``) in [0] and its step in [1] (left 0 when all held).

    ``within=0``: the serial passes (ensemble mode). ``within=k >= 1``: the run's replica table is spread over
    threads (``parallel.act_par``/``resolve_par``) with k private counter rows (pass the thread count; the
    numbers do not depend on k): same model and distribution, but not the serial passes' numbers.
    """
    steps = int(params[P.STEPS])
    n0 = int(params[P.INITIAL])
    n_nodes = capacity.shape[0]
    n_jur = jur_monitoring.shape[0]
    slots = 0
    for v in range(n_nodes):
        slots += capacity[v]
    # slots withheld by static measures (licensing, export caps): a cost of the measure charged every step
    withheld = total_compute - slots
    slots = max(slots, n0)
    validate = params[P.VALIDATE] > 0
    hours = params[P.HOURS_PER_STEP]
    base_latency = int(params[P.RESPONSE_LATENCY])

    # replica table (struct of arrays, preallocated to the network's capacity: it can never hold more)
    node = np.empty(slots, np.int32)
    lineage = np.empty(slots, np.int32)
    generation = np.empty(slots, np.uint16)
    skill = np.empty(slots, TRAIT_DTYPE)  # traits in 16-bit fixed point (kernels.trait)
    evasion = np.empty(slots, TRAIT_DTYPE)
    avoid = np.empty(slots, TRAIT_DTYPE)
    flags = np.empty(slots, np.uint8)
    order_left = np.empty(slots, ORDER_DTYPE)
    target = np.empty(slots, np.int32)
    # arrivals that find no row at the table's free end: at most as many as a step's shutdowns (put_arrival)
    b_node, b_lineage, b_generation, b_skill, b_evasion, b_avoid, b_flags = arrival_overflow(1024)
    # node state of this run
    security = security0.astype(np.float32)
    occ = np.zeros(n_nodes, np.int32)
    freed = np.zeros(n_nodes, np.int32)
    prop_left = np.zeros(n_nodes, np.int32)
    slots_left = np.zeros(n_nodes, np.int32)
    node_mis = np.zeros(n_nodes, np.int32)
    node_coal = np.full(n_nodes, -1, np.int32)
    quar_until = np.full(n_nodes, -1, np.int32)
    coal_forest = np.full(n0, NOT_WARNED, np.int32)  # every initial replica its own coalition (kernels.find)
    alert_from = np.full(n_jur, NEVER, np.int32)
    jur_factor = np.ones(n_jur, np.float64)
    tallies = np.zeros(8, np.float64)
    node_rec = node_record_table(n_nodes)  # what the act pass reads about each node, rebuilt every step
    incidents = np.zeros(n_nodes, np.int32)  # detections per node this step (hardening, quarantine)
    warned = np.zeros(n0, np.uint8)  # coalitions with a member detected this step
    # resolve's list of one block's replicas with something to settle (one per chunk in the within-run mode)
    events = np.empty((max(within, 1), BLOCK), np.int32)
    # private buffers of the within-run parallel passes (empty in the ensemble mode)
    n_blocks = (slots + BLOCK - 1) // BLOCK if within else 0
    node_buf = np.zeros((3, within, n_nodes if within else 0), np.int32)
    block_tallies = np.zeros((n_blocks, 8), np.float64)
    block_counts = np.zeros((n_blocks, 4), np.int64)
    rule = np.zeros(n_nodes if within else 0, np.int8)
    threshold = np.zeros(n_nodes if within else 0, np.uint64)
    offset = np.zeros(n_nodes + 1 if within else 0, np.int64)

    n_mis0 = int(round(params[P.INITIAL_MISALIGNED] * n0))
    n = place_initial(rkey, n0, n_mis0, skill0, params[P.EVASION], params[P.SHUTDOWN_AVOIDANCE], capacity, occ,
                      node, lineage, generation, skill, evasion, avoid, flags, order_left)
    if validate and n < n0:
        status[0] = UNPLACED
        return
    # node tallies of step 0: each initial replica is its own coalition; misaligned ones placed on one node meet
    tally_initial(n, node, lineage, flags, node_mis, node_coal, coal_forest, params[P.COLLUSION] > 0)
    record(series, 0, n, flags, occ, total_compute, 0.0, 0.0, 0.0, 0.0)

    peak = n
    peak_share = n / total_compute
    contained_at = -1.0
    det_total = 0.0
    shut_total = 0.0
    avoid_total = 0.0
    births_total = 0.0
    flights_total = 0.0
    collateral_total = 0.0
    replica_steps = 0.0
    trig_step = -1
    mis = n_mis0
    for t in range(1, steps + 1):
        status[2] = t - 1  # steps done
        if n == 0:
            record(series, t, 0, flags, occ, total_compute, 0.0, 0.0, 0.0, 0.0)
            continue
        replica_steps += n
        # 1. governance update
        strict = params[P.IF_THEN] > 0 and trig_step >= 0 and t >= trig_step + params[P.IF_THEN_DELAY]
        latency = int(params[P.IF_THEN_LATENCY]) if strict else base_latency
        latency = min(latency, base_latency)
        kill_floor = params[P.IF_THEN_KILL] if strict else 0.0
        fp_weight = 0.0
        for j in range(n_jur):
            f = jur_monitoring[j]
            if params[P.REPORTING] > 0 and alert_from[j] <= t:
                f *= params[P.REPORTING_MONITORING]
            if strict:
                f *= params[P.IF_THEN_MONITORING]
            jur_factor[j] = f
            fp_weight += f * jur_fp_weight[j]
        tallies[:] = 0.0
        if within > 0:
            act_par(t, n, rkey, params, latency, kill_floor, jur_factor, node_rec,
                    node, skill, evasion, avoid, flags, order_left, target,
                    capacity, security, monitoring, kill_switch, jurisdiction, indptr, indices, quar_until,
                    occ, freed, prop_left, node_mis, node_coal, coal_forest, alert_from, jur_kill,
                    jur_reporting, incidents, warned, tallies, node_buf, block_tallies)
        else:
            act(t, n, rkey, params, latency, kill_floor, jur_factor, node_rec,
                node, skill, evasion, avoid, flags, order_left, target,
                capacity, security, monitoring, kill_switch, jurisdiction, indptr, indices, quar_until,
                occ, freed, prop_left, node_mis, node_coal, coal_forest, alert_from, jur_kill,
                jur_reporting, incidents, warned, tallies)
        det_total += tallies[0]
        shut_total += tallies[1]
        avoid_total += tallies[2]
        proposals = int(tallies[3])
        if params[P.IF_THEN] > 0 and trig_step < 0 and det_total > 0:
            mean_skill = tallies[4] * TRAIT_UNIT / max(tallies[0], 1.0)  # of this step's detected replicas
            if det_total >= params[P.IF_THEN_INCIDENTS] or mean_skill >= params[P.IF_THEN_CAPABILITY]:
                trig_step = t
        overflow = min(proposals, int(tallies[1]))  # arrivals beyond the table's free end <= freed slots
        if overflow > b_node.shape[0]:
            b_node, b_lineage, b_generation, b_skill, b_evasion, b_avoid, b_flags = arrival_overflow(
                max(overflow, 2 * b_node.shape[0]))
        if within > 0:
            n = resolve_par(t, n, rkey, params,
                            node, lineage, generation, skill, evasion, avoid, flags, order_left, target,
                            b_node, b_lineage, b_generation, b_skill, b_evasion, b_avoid, b_flags,
                            capacity, security, quar_until, occ, freed, prop_left, slots_left, node_mis, node_coal,
                            coal_forest, incidents, warned, tallies, rule, threshold, offset,
                            block_tallies, block_counts, node_buf, events)
        else:
            n = resolve(t, n, rkey, params,
                        node, lineage, generation, skill, evasion, avoid, flags, order_left, target,
                        b_node, b_lineage, b_generation, b_skill, b_evasion, b_avoid, b_flags,
                        capacity, security, quar_until, occ, freed, prop_left, slots_left, node_mis, node_coal,
                        coal_forest, incidents, warned, tallies, events[0])
        births_total += tallies[5]
        flights_total += tallies[6]
        collateral = tallies[1] * params[P.SHUTDOWN_COST] + hours * (
            tallies[7] + params[P.FALSE_POSITIVE_RATE] * fp_weight + withheld)
        collateral_total += collateral
        mis = record(series, t, n, flags, occ, total_compute, tallies[0], tallies[1], tallies[5], collateral)
        if validate:
            code = check_invariants(n, node, lineage, flags, capacity, occ, node_coal, coal_forest,
                                    params[P.COLLUSION] > 0, slots)
            if code != 0:
                status[0] = code
                status[1] = t
                return
        peak = max(peak, n)
        peak_share = max(peak_share, n / total_compute)
        if n == 0 and contained_at < 0:
            contained_at = t * hours

    status[2] = steps
    max_gen = 0
    skill_sum = 0.0
    for i in range(n):
        max_gen = max(max_gen, int(generation[i]))
        skill_sum += trait(skill[i])
    coalitions = count_coalitions(n, flags, lineage, coal_forest, np.zeros(n0 if n > 0 else 0, np.uint8))
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


@jit(parallel=True)
def run_ensemble(params, seed, first_run, skill0, total_compute,
                 capacity, security0, monitoring, kill_switch, jurisdiction, indptr, indices,
                 jur_monitoring, jur_kill, jur_reporting, jur_fp_weight,
                 series, outcomes, status):
    """Runs first_run .. first_run + len(skill0) - 1 in parallel; run r's stream depends only on (seed, r)."""
    for r in prange(skill0.shape[0]):
        run_one(params, run_key(seed, first_run + r), skill0[r], total_compute,
                capacity, security0, monitoring, kill_switch, jurisdiction, indptr, indices,
                jur_monitoring, jur_kill, jur_reporting, jur_fp_weight,
                series[r], outcomes[r], status[r], 0)
