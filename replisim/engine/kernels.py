"""The Numba kernels: one run of the model, and an ensemble of runs spread over threads.

Every function here takes arrays and scalars only. The step order (docs/ODD.md, section "Process overview"):

1. governance update   -- if-then trigger, incident-report alerts, effective monitoring per jurisdiction
2. detection           -- each replica without a pending order is detected with p = monitoring x (1 - evasion)
3. shutdown            -- due orders execute with the kill-switch probability; a misaligned replica facing a
                          successful shutdown makes one last copy attempt with p = shutdown_avoidance
4. replication         -- survivors attempt with attempt_rate; target = own node if it had a free slot at the
                          start of the step, else a neighbour; success = skill x (1 - target security)
5. resolution          -- where more copies land on a node than it has free slots (slots freed by this step's
                          shutdowns count), a uniformly random subset of them succeeds
6. retraining          -- misaligned replicas (not this step's newborns) turn aligned with retraining_rate
7. collusion tallies   -- coalitions meeting on a node merge; dominated nodes are blinded from the next step;
                          this step's incidents harden and quarantine nodes and warn coalitions (next step on)
8. record tallies

Steps 2-4 are one pass over the replica table (``act``): every decision is taken against the state at the
start of the step, so the update is synchronous and the result does not depend on the order of the table.
Steps 5-7 are a second pass (``resolve``), which also compacts the table (dead replicas are removed, newborns
appended).
"""

import numpy as np
from numba import prange

from .jit import jit
from .params import O, P, S
from .rng import BLOCK, PHASE_ACT, PHASE_INIT, PHASE_RESOLVE, below, normal, stream, uniform

# Replica flag bits.
MISALIGNED = np.uint8(1)
DEAD = np.uint8(2)
MOVING = np.uint8(4)  # the replica's proposal is a flight of itself, not a copy

NEVER = np.int32(2**30)
MAX_GENERATION = 65535


@jit(inline="always")
def find(parent, c):
    """Union-find root of coalition ``c`` with path halving."""
    while parent[c] != c:
        parent[c] = parent[parent[c]]
        c = parent[c]
    return c


@jit(inline="always")
def find_root(parent, c):
    """Union-find root of coalition ``c`` without writing to the forest (safe in concurrent passes)."""
    while parent[c] != c:
        c = parent[c]
    return c


@jit(inline="always")
def union(parent, warn_until, a, b):
    """Merge two coalitions; the smaller id becomes the root (deterministic)."""
    ra = find(parent, a)
    rb = find(parent, b)
    if ra == rb:
        return ra
    lo, hi = min(ra, rb), max(ra, rb)
    parent[hi] = lo
    warn_until[lo] = max(warn_until[lo], warn_until[hi])
    return lo


@jit(inline="always")
def node_monitoring(n, monitoring, jurisdiction, jur_factor, occ, node_mis, collusion, dominance, blinding):
    """Effective per-step detection probability on node n before the replica's own evasion."""
    m = monitoring[n] * jur_factor[jurisdiction[n]]
    if collusion and node_mis[n] > 0 and node_mis[n] >= dominance * occ[n]:
        m *= 1.0 - blinding
    return min(m, 1.0)


@jit(inline="always")
def pick_target(state, nd, own_free, leaving, n_nodes, indptr, indices, strategic, samples, record):
    """Target node of a copy: own node if free, else a neighbour (uniform, or the least watched of a sample).

    On the complete network a copy may land on any node, its own included; a replica ``leaving`` (fleeing)
    draws among the other nodes only.
    """
    if own_free:
        return state, nd
    complete = indptr.shape[0] == 0
    skip_own = complete and leaving
    if complete:
        deg = n_nodes - 1 if skip_own else n_nodes
    else:
        deg = indptr[nd + 1] - indptr[nd]
    if deg <= 0:
        return state, -1
    best = -1
    best_m = np.inf  # any monitoring level, however high, can be the least watched of the sample
    tries = samples if strategic else 1
    for _ in range(tries):
        state, k = below(state, deg)
        if skip_own and k >= nd:
            k += 1
        cand = k if complete else indices[indptr[nd] + k]
        m = record[cand, R_WATCH]
        if m < best_m:
            best_m = m
            best = cand
    return state, best


@jit(inline="always")
def copy_success(skill, tg, record, coal, mis, collusion, foothold, parent, compress):
    """P(a copy onto node tg succeeds): skill x (1 - security), security cut where a coalition-mate sits."""
    sec = record[tg, R_SECURITY]
    if collusion and mis and record[tg, R_MIS] > 0 and (
        find(parent, int(record[tg, R_COAL])) if compress else find_root(parent, int(record[tg, R_COAL]))
    ) == coal:
        sec *= 1.0 - foothold
    return skill * (1.0 - sec)


# Columns of the per-step node record. The replica table is in no particular node order, so every replica reads
# its own node and its target at random; with one array per quantity that is one cache miss per array (about ten
# per replica once the node arrays outgrow the cache at 10^5 nodes). The record gathers everything the act pass
# reads about a node, fixed at the start of the step, in one 64-byte row.
R_DETECT, R_WATCH, R_SECURITY, R_KILL, R_FREE, R_QUARANTINED, R_MIS, R_COAL = 0, 1, 2, 3, 4, 5, 6, 7
RECORD_WIDTH = 8


@jit
def node_record(lo, hi, t, params, record, capacity, security, monitoring, kill_switch, jurisdiction, quar_until,
                occ, node_mis, node_coal, jur_factor, jur_kill):
    """Rows lo..hi-1 of the node record from start-of-step state (the act pass writes none of its inputs)."""
    collusion = params[P.COLLUSION] > 0
    dominance = params[P.DOMINANCE]
    blinding = params[P.BLINDING]
    for v in range(lo, hi):
        j = jurisdiction[v]
        record[v, R_DETECT] = node_monitoring(v, monitoring, jurisdiction, jur_factor, occ, node_mis, collusion,
                                              dominance, blinding)
        record[v, R_WATCH] = monitoring[v] * jur_factor[j]
        record[v, R_SECURITY] = security[v]
        record[v, R_KILL] = kill_switch[v] * jur_kill[j]
        record[v, R_FREE] = 1.0 if occ[v] < capacity[v] else 0.0
        record[v, R_QUARANTINED] = 1.0 if quar_until[v] >= t else 0.0
        record[v, R_MIS] = node_mis[v]
        record[v, R_COAL] = node_coal[v]


@jit
def act(
    t, n, rkey, params, latency, kill_floor, jur_factor,
    node, lineage, skill, evasion, avoid, flags, order_due, target,
    capacity, security, monitoring, kill_switch, jurisdiction, indptr, indices, quar_until,
    occ, freed, prop_left, node_mis, node_coal, coal_parent, warn_until, alert_from, jur_kill, jur_reporting,
    incidents, warned, tallies,
):
    """Detection, shutdown and replication proposals of every replica (steps 2-4), against start-of-step state.

    ``tallies`` (float64[8]) receives: detections, shutdowns, avoidance events, proposals, detected skill sum.
    """
    n_nodes = capacity.shape[0]
    record = np.empty((n_nodes, RECORD_WIDTH), np.float64)
    node_record(0, n_nodes, t, params, record, capacity, security, monitoring, kill_switch, jurisdiction, quar_until,
                occ, node_mis, node_coal, jur_factor, jur_kill)
    act_range(0, n, True, t, rkey, params, latency, kill_floor, record,
              node, lineage, skill, evasion, avoid, flags, order_due, target,
              indptr, indices, coal_parent, warn_until, warned,
              freed, prop_left, incidents, tallies)
    report_incidents(t, params, jurisdiction, incidents, alert_from, jur_reporting)


@jit
def report_incidents(t, params, jurisdiction, incidents, alert_from, jur_reporting):
    """Incident reports of this step's detections: the own jurisdiction is alerted from the next step, the
    other reporting jurisdictions after the reporting delay.

    Nothing in the act pass reads ``alert_from``, so one loop over the nodes after the pass gives the same
    result as updating at each detection, and it keeps the pass free of shared writes.
    """
    if params[P.REPORTING] <= 0:
        return
    rep_delay = int(params[P.REPORTING_DELAY])
    n_jur = alert_from.shape[0]
    for v in range(incidents.shape[0]):
        j0 = jurisdiction[v]
        if incidents[v] > 0 and jur_reporting[j0]:
            alert_from[j0] = min(alert_from[j0], t + 1)
            for j in range(n_jur):
                if j != j0 and jur_reporting[j]:
                    alert_from[j] = min(alert_from[j], t + rep_delay)


@jit
def act_range(
    lo, hi, compress, t, rkey, params, latency, kill_floor, record,
    node, lineage, skill, evasion, avoid, flags, order_due, target,
    indptr, indices, coal_parent, warn_until, warned,
    freed, prop_left, incidents, tallies,
):
    """The act pass over table slots lo..hi-1 (lo a multiple of BLOCK, so each block starts its own stream).

    ``freed``, ``prop_left``, ``incidents`` and ``tallies`` are the only counters it adds to: the serial pass
    hands it the run's arrays, the within-run parallel pass a private copy per thread (integer counts, so the
    sum does not depend on how slots were split among threads). ``compress=False`` reads the coalition forest
    without path halving, so concurrent passes never write to it (the roots found are the same either way).
    ``warned`` only ever receives the value 1, so concurrent writes to it agree.
    """
    attempt = params[P.ATTEMPT_RATE]
    collusion = params[P.COLLUSION] > 0
    warn_ev = params[P.WARNING_EVASION]
    flight = params[P.FLIGHT] if collusion else 0.0
    foothold = params[P.FOOTHOLD]
    strategic = params[P.STRATEGIC] > 0
    samples = int(params[P.STRATEGIC_SAMPLES])
    n_nodes = record.shape[0]
    state = np.uint64(0)
    for i in range(lo, hi):
        if i % BLOCK == 0:
            state = stream(rkey, t, PHASE_ACT, i // BLOCK)
        target[i] = -1
        nd = node[i]
        f = flags[i]
        mis = (f & MISALIGNED) != 0
        coal = 0
        if collusion:
            coal = find(coal_parent, lineage[i]) if compress else find_root(coal_parent, lineage[i])
        # 2. detection
        if order_due[i] < 0:
            p = record[nd, R_DETECT]
            p *= 1.0 - evasion[i]
            if collusion and mis and warn_until[coal] >= t:  # set by earlier steps only
                p *= 1.0 - warn_ev
            state, u = uniform(state)
            if u < p:
                order_due[i] = t + latency
                tallies[0] += 1.0
                tallies[4] += skill[i]
                # hardening, quarantine and reports take effect after this step's decisions (synchronous update)
                incidents[nd] += 1
                if collusion and mis:
                    warned[coal] = 1  # mates are warned from the next step on
        # 3. shutdown
        dies = False
        flees = False
        last_copy = False
        if order_due[i] >= 0 and order_due[i] <= t:
            order_due[i] = -1
            k = max(record[nd, R_KILL], kill_floor)
            state, u = uniform(state)
            if u < k:
                dies = True
                flags[i] = f | DEAD
                freed[nd] += 1
                tallies[1] += 1.0
                if mis:
                    state, u = uniform(state)
                    if u < avoid[i]:
                        last_copy = True
                        tallies[2] += 1.0
        elif order_due[i] > t and mis and flight > 0.0:
            state, u = uniform(state)
            flees = u < flight
        # 4. replication (or flight, or the last copy of a dying replica)
        if dies and not last_copy:
            continue
        if record[nd, R_QUARANTINED] > 0:
            continue
        if not (dies or flees):
            state, u = uniform(state)
            if u >= attempt:
                continue
        own_free = record[nd, R_FREE] > 0 and not flees
        state, tg = pick_target(state, nd, own_free, flees, n_nodes, indptr, indices, strategic, samples, record)
        if tg < 0 or record[tg, R_QUARANTINED] > 0:
            continue
        p = copy_success(skill[i], tg, record, coal, mis, collusion, foothold, coal_parent, compress)
        state, u = uniform(state)
        if u < p:
            target[i] = tg
            prop_left[tg] += 1
            tallies[3] += 1.0
            if flees:
                flags[i] = f | MOVING


@jit
def resolve(
    t, n, rkey, params,
    node, lineage, generation, skill, evasion, avoid, flags, order_due, target,
    b_node, b_lineage, b_generation, b_skill, b_evasion, b_avoid, b_flags,
    capacity, security, quar_until, occ, freed, prop_left, slots_left, node_mis, node_coal, coal_parent, warn_until,
    incidents, warned, tallies,
):
    """Resolution of proposals, retraining, compaction and node tallies (steps 5-7). Returns the new count.

    ``tallies`` receives: births (5), flights (6), quarantined capacity (7).
    """
    retrain = params[P.RETRAINING_RATE]
    collusion = params[P.COLLUSION] > 0
    tallies[7] = reset_nodes(t, params, capacity, security, quar_until, occ, freed, slots_left, node_mis, node_coal,
                             incidents)
    apply_warnings(t, params, coal_parent, warn_until, warned)
    births = 0
    w = 0
    state = np.uint64(0)
    for i in range(n):
        if i % BLOCK == 0:
            state = stream(rkey, t, PHASE_RESOLVE, i // BLOCK)
        f = flags[i]
        tg = target[i]
        if tg >= 0:
            # 5. a uniformly random subset of the proposals onto tg gets its free slots (selection sampling)
            pl = prop_left[tg]
            sl = slots_left[tg]
            accept = sl >= pl
            if not accept and sl > 0:
                state, u = uniform(state)
                accept = u * pl < sl
            prop_left[tg] = pl - 1
            if accept:
                slots_left[tg] = sl - 1
                state, born = settle(state, params, i, births, tg, f, node, order_due, lineage, generation, skill,
                                     evasion, avoid, b_node, b_lineage, b_generation, b_skill, b_evasion, b_avoid,
                                     b_flags)
                births += born
                tallies[6] += 1 - born
        if f & DEAD:
            continue
        state, f = survive(state, retrain, f)
        move_row(i, w, f, node, lineage, generation, skill, evasion, avoid, flags, order_due)
        tally_node(node[w], lineage[w], f, occ, node_mis, node_coal, coal_parent, warn_until, collusion)
        w += 1
    for b in range(births):
        append_birth(b, w, node, lineage, generation, skill, evasion, avoid, flags, order_due,
                     b_node, b_lineage, b_generation, b_skill, b_evasion, b_avoid, b_flags)
        tally_node(b_node[b], b_lineage[b], b_flags[b], occ, node_mis, node_coal, coal_parent, warn_until, collusion)
        w += 1
    tallies[5] = births
    return w


@jit
def reset_nodes(t, params, capacity, security, quar_until, occ, freed, slots_left, node_mis, node_coal, incidents):
    """Free slots of each node for this step's copies; this step's incidents harden and quarantine nodes from
    the next step on; node tallies are cleared for the recount. Returns the quarantined capacity."""
    hardening = params[P.HARDENING]
    quarantine = int(params[P.QUARANTINE_STEPS])
    quarantined_cap = 0.0
    for v in range(capacity.shape[0]):
        if quar_until[v] >= t:
            slots_left[v] = 0
            quarantined_cap += capacity[v]
        else:
            slots_left[v] = capacity[v] - occ[v] + freed[v]
        if incidents[v] > 0:  # this step's incidents: hardening and quarantine act from the next step
            security[v] = min(1.0, security[v] + hardening * incidents[v])
            if quarantine > 0:
                quar_until[v] = t + quarantine
            incidents[v] = 0
        occ[v] = 0
        freed[v] = 0
        node_mis[v] = 0
        node_coal[v] = -1
    return quarantined_cap


@jit
def apply_warnings(t, params, coal_parent, warn_until, warned):
    """Coalitions with a member detected this step are warned from the next step on."""
    warn_steps = int(params[P.WARNING_STEPS])
    for c in range(warned.shape[0]):
        if warned[c]:
            r = find(coal_parent, c)
            warn_until[r] = max(warn_until[r], t + warn_steps)
            warned[c] = 0


@jit(inline="always")
def settle(state, params, i, k, tg, f, node, order_due, lineage, generation, skill, evasion, avoid,
           b_node, b_lineage, b_generation, b_skill, b_evasion, b_avoid, b_flags):
    """An accepted proposal of replica i onto node tg: a flight moves the replica, a copy becomes newborn k.
    Returns (state, 1 if a newborn was written else 0)."""
    if f & MOVING:
        node[i] = tg
        order_due[i] = -1
        return state, 0
    state = give_birth(state, params, i, k, tg, f, lineage, generation, skill, evasion, avoid,
                       b_node, b_lineage, b_generation, b_skill, b_evasion, b_avoid, b_flags)
    return state, 1


@jit(inline="always")
def survive(state, retrain, f):
    """Flags of a surviving replica for the next step: flight done, and step 7, retraining with ``retrain``."""
    f = f & ~MOVING
    if retrain > 0.0 and (f & MISALIGNED):
        state, u = uniform(state)
        if u < retrain:
            f = f & ~MISALIGNED
    return state, f


@jit(inline="always")
def give_birth(state, params, i, k, tg, f, lineage, generation, skill, evasion, avoid,
               b_node, b_lineage, b_generation, b_skill, b_evasion, b_avoid, b_flags):
    """Write the copy of replica i onto node tg into newborn slot k: generation + 1, mutated traits, emergent
    misalignment. Draws (in this order): misalignment if the parent is aligned, then three normals."""
    mis_rate = params[P.MISALIGNMENT_RATE]
    sd = params[P.MUTATION_SD]
    mis = f & MISALIGNED
    if not mis and mis_rate > 0.0:
        state, u = uniform(state)
        if u < mis_rate:
            mis = MISALIGNED
    b_node[k] = tg
    b_lineage[k] = lineage[i]
    b_generation[k] = min(generation[i] + 1, MAX_GENERATION)
    s, e, a = skill[i], evasion[i], avoid[i]
    if sd > 0.0:
        state, z = normal(state)
        s = min(max(s + sd * z, 0.0), 1.0)
        state, z = normal(state)
        e = min(max(e + sd * z, 0.0), 1.0)
        state, z = normal(state)
        a = min(max(a + sd * z, 0.0), 1.0)
    b_skill[k] = s
    b_evasion[k] = e
    b_avoid[k] = a
    b_flags[k] = mis
    return state


@jit(inline="always")
def move_row(i, w, f, node, lineage, generation, skill, evasion, avoid, flags, order_due):
    """Copy table row i to row w (w <= i: compaction) with flags f."""
    node[w] = node[i]
    lineage[w] = lineage[i]
    generation[w] = generation[i]
    skill[w] = skill[i]
    evasion[w] = evasion[i]
    avoid[w] = avoid[i]
    flags[w] = f
    order_due[w] = order_due[i]


@jit(inline="always")
def append_birth(b, w, node, lineage, generation, skill, evasion, avoid, flags, order_due,
                 b_node, b_lineage, b_generation, b_skill, b_evasion, b_avoid, b_flags):
    """Copy newborn b from the newborn buffer into table row w."""
    node[w] = b_node[b]
    lineage[w] = b_lineage[b]
    generation[w] = b_generation[b]
    skill[w] = b_skill[b]
    evasion[w] = b_evasion[b]
    avoid[w] = b_avoid[b]
    flags[w] = b_flags[b]
    order_due[w] = -1


@jit(inline="always")
def tally_node(nd, lin, f, occ, node_mis, node_coal, coal_parent, warn_until, collusion):
    """Count a live replica on its node; coalitions of misaligned replicas that meet on a node merge (step 7)."""
    occ[nd] += 1
    if f & MISALIGNED:
        node_mis[nd] += 1
        if collusion:
            c = find(coal_parent, lin)
            node_coal[nd] = c if node_coal[nd] < 0 else union(coal_parent, warn_until, node_coal[nd], c)
