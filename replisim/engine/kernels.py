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
Steps 5-7 are a second pass (``resolve``), which also removes the dead from the table and appends newborns.

How the passes are made fast (measured in BENCHMARKS.md, "Profile and what each change bought"): per-replica
loops are compiled without reference counting (``@jit(refcount=False)``, see jit.py) and index arrays with
unsigned integers (``U``: no wraparound code); the act pass takes no branch on a random outcome for the common
replica (``act_range``); what it reads about nodes sits in one small float32 record per node (``node_record``);
resolve visits only the replicas with something to settle (``list_to_settle``; 2% of the table in the
headline run), touches a node's tallies only when a replica dies, leaves, arrives or is retrained, and fills
vacated slots from the end of the table instead of compacting it.
"""

import numpy as np

from .jit import jit
from .params import P
from .rng import BLOCK, PHASE_ACT, PHASE_RESOLVE, below_pair, normal, stream, uniform, uniform_pair

# Replica flag bits.
MISALIGNED = np.uint8(1)
DEAD = np.uint8(2)
MOVING = np.uint8(4)  # the replica's proposal is a flight of itself, not a copy

NEVER = np.int32(2**30)
# A pending shutdown order counts down the steps it has left (``order_left``, -1: none) in 16 bits rather than
# holding its due step in 32: 2 bytes less per replica slot. The response latency is therefore at most the
# largest int16, 32767 steps (3.7 years of hourly steps; checked at compose time, config/schema.py LATENCY).
ORDER_DTYPE = np.int16
# The heritable traits (replication skill, evasion, shutdown avoidance: probabilities in [0, 1]) are held in
# 16-bit fixed point, q = round(x * 65535), a resolution of 1.5e-5 (an ensemble of 10^4 runs resolves
# probabilities to about 10^-2): 6 bytes less per slot than float32 (BENCHMARKS.md, (g)). ``trait`` reads one
# as a float64, ``to_trait`` stores one.
TRAIT_DTYPE = np.uint16
TRAIT_MAX = 65535.0
TRAIT_UNIT = 1.0 / 65535.0
# Indexing with a signed integer makes Numba add Python's wraparound (a negative index counts from the end): a
# shift, an and and an add per access, and a register for each array's length, which the per-replica loops
# spill to the stack. Indices that cannot be negative are cast to unsigned where an array is indexed,
# ``record[U(nd), R_FREE]``; the cast costs no instruction. Only at the index: arithmetic mixing uint64 with
# int64 gives float64 in Numba (and NumPy), so the variables themselves stay signed.
U = np.uint64
MAX_GENERATION = 65535


# The coalition forest (union-find over coalition ids, which are the initial replicas' lineages) is one int32
# array, ``coal_forest``: a member's entry is its parent's id (>= 0); a root's entry holds its coalition's
# warning, -2 - the last step the coalition is warned (-1: never). A separate parent array and warning array
# would cost 4 bytes more per initial replica, 40 MB in a run of 10^7 (BENCHMARKS.md, (g)); a warning is only
# ever read at a root, and a root needs no parent.
NOT_WARNED = np.int32(-1)


@jit(inline="always")
def trait(q):
    """A trait held in fixed point (TRAIT_DTYPE) as a probability."""
    return q * TRAIT_UNIT


@jit(inline="always")
def to_trait(x):
    """A probability x in [0, 1] in fixed point, rounded to the nearest step of 1/65535."""
    return np.uint16(x * TRAIT_MAX + 0.5)


@jit(inline="always")
def find(forest, c):
    """Union-find root of coalition ``c`` with path halving."""
    while True:
        p = forest[U(c)]
        if p < 0:
            return c
        gp = forest[U(p)]
        if gp < 0:
            return p
        forest[U(c)] = gp
        c = gp


@jit(inline="always")
def find_root(forest, c):
    """Union-find root of coalition ``c`` without writing to the forest (safe in concurrent passes)."""
    while forest[U(c)] >= 0:
        c = forest[U(c)]
    return c


@jit(inline="always")
def warned_until(forest, root):
    """The last step through which the coalition rooted at ``root`` is warned (-1: never)."""
    return -2 - forest[U(root)]


@jit(inline="always")
def warn_root(forest, root, until):
    """Warn the coalition rooted at ``root`` through step ``until`` (a later warning it has stays)."""
    forest[U(root)] = min(forest[U(root)], -2 - until)


@jit(inline="always")
def union(forest, a, b):
    """Merge two coalitions; the smaller id becomes the root (deterministic) and keeps the later warning."""
    ra = find(forest, a)
    rb = find(forest, b)
    if ra == rb:
        return ra
    lo, hi = min(ra, rb), max(ra, rb)
    forest[U(lo)] = min(forest[U(lo)], forest[U(hi)])  # the later of the two warnings (encoded: the smaller)
    forest[U(hi)] = lo
    return lo


@jit(inline="always")
def node_monitoring(n, monitoring, jurisdiction, jur_factor, occ, node_mis, collusion, dominance, blinding):
    """Effective per-step detection probability on node n before the replica's own evasion."""
    m = monitoring[n] * jur_factor[jurisdiction[n]]
    if collusion and node_mis[n] > 0 and node_mis[n] >= dominance * occ[n]:
        m *= 1.0 - blinding
    return min(m, 1.0)


@jit(inline="always")
def candidate(k, nd, skip_own, complete, indptr, indices):
    """The k-th neighbour of node nd (complete network: node k, or, skipping nd, the k-th other node)."""
    if skip_own:
        k += k >= nd
    return k if complete else indices[U(indptr[U(nd)] + k)]


@jit(inline="always")
def pick_target(state, nd, own_free, leaving, n_nodes, indptr, indices, strategic, samples, record):
    """Target node of a copy: own node if free, else a neighbour (uniform, or the least watched of a sample).

    On the complete network a copy may land on any node, its own included; a replica ``leaving`` (fleeing)
    draws among the other nodes only. Draws: one 64-bit draw per two candidates, also when the own node is
    free and wins: whether a node has a free slot is a coin flip for the CPU once deaths and quarantines leave
    gaps everywhere (3.6 of 19 ns per replica in the high-churn phase, ``benchmarks.profile --mechanisms
    strict``), and a select costs less than the mispredicted branch.
    """
    complete = indptr.shape[0] == 0
    skip_own = complete and leaving
    if complete:
        deg = n_nodes - 1 if skip_own else n_nodes
    else:
        deg = indptr[U(nd + 1)] - indptr[U(nd)]
    if deg <= 0:
        return state, nd if own_free else -1
    # the candidates come in pairs, from the two halves of one draw
    state, k0, k1 = below_pair(state, deg)
    best = candidate(k0, nd, skip_own, complete, indptr, indices)
    if strategic and samples == 2:  # the default, written out: the loop below keeps more values live
        other = candidate(k1, nd, skip_own, complete, indptr, indices)
        best = other if record[U(other), R_WATCH] < record[U(best), R_WATCH] else best
    elif strategic and samples > 1:
        best_m = record[best, R_WATCH]
        for j in range(1, samples):
            if j % 2 == 0:
                state, k0, k1 = below_pair(state, deg)
            cand = candidate(k0 if j % 2 == 0 else k1, nd, skip_own, complete, indptr, indices)
            m = record[cand, R_WATCH]
            better = m < best_m  # a select, not a branch: which candidate wins is a coin flip
            best = cand if better else best
            best_m = m if better else best_m
    return state, nd if own_free else best


# Columns of the per-step node record. The replica table is in no particular node order, so every replica reads
# its own node and its target at random; with one array per quantity that is one cache miss per array (about ten
# per replica once the node arrays outgrow the cache at 10^5 nodes). The record gathers everything the act pass
# reads about a node, fixed at the start of the step, in one 32-byte row of float32 (``node_record_table``
# aligns the rows to cache lines; float32 halves the record, which matters because the record has to stay in
# the core's L2 cache while the replica table streams past: 320 KB at 10^4 nodes).
#
# R_COAL is the root of the coalition of the node's misaligned replicas (-1: none, or collusion off). It is the
# coalition of every misaligned replica on the node: the node tally of the previous step merged all of them
# (``check_invariants`` verifies this in validate mode), so no replica has to look its own coalition up in the
# union-find forest, a random read into an array as long as the initial population.
R_DETECT, R_DETECT_MIS, R_WATCH, R_SECURITY, R_KILL, R_FREE, R_QUARANTINED, R_COAL = 0, 1, 2, 3, 4, 5, 6, 7
RECORD_WIDTH = 8


@jit
def node_record_table(n_nodes):
    """An uninitialised node record: float32 rows of 32 bytes, aligned so that no row straddles two cache
    lines. Column R_COAL holds an int32 (read through ``coalitions``)."""
    raw = np.empty(n_nodes * RECORD_WIDTH + 2 * RECORD_WIDTH, np.float32)
    skip = (-(raw.ctypes.data // 4)) % (2 * RECORD_WIDTH)
    return raw[skip:skip + n_nodes * RECORD_WIDTH].reshape((n_nodes, RECORD_WIDTH))


@jit(inline="always")
def coalitions(record):
    """The node record's int32 view: ``coalitions(record)[v, R_COAL]`` is node v's coalition root or -1."""
    return record.view(np.int32)


@jit(refcount=False)
def node_record(lo, hi, t, params, record, capacity, security, monitoring, kill_switch, jurisdiction, quar_until,
                occ, node_mis, node_coal, coal_forest, prop_left, jur_factor, jur_kill):
    """Rows lo..hi-1 of the node record from start-of-step state (the act pass writes none of its inputs);
    also clears the nodes' proposal counters for the act pass."""
    collusion = params[P.COLLUSION] > 0
    dominance = params[P.DOMINANCE]
    blinding = params[P.BLINDING]
    warn_ev = params[P.WARNING_EVASION]
    coal_of = coalitions(record)
    for v in range(lo, hi):
        j = jurisdiction[v]
        det = node_monitoring(v, monitoring, jurisdiction, jur_factor, occ, node_mis, collusion, dominance, blinding)
        coal = find_root(coal_forest, node_coal[v]) if collusion and node_coal[v] >= 0 else -1
        record[v, R_DETECT] = det
        # a misaligned replica here belongs to coalition ``coal``; warned coalitions evade better
        record[v, R_DETECT_MIS] = det * (1.0 - warn_ev) if coal >= 0 and warned_until(coal_forest, coal) >= t else det
        record[v, R_WATCH] = monitoring[v] * jur_factor[j]
        record[v, R_SECURITY] = security[v]
        record[v, R_KILL] = kill_switch[v] * jur_kill[j]
        record[v, R_FREE] = 1.0 if occ[v] < capacity[v] else 0.0
        record[v, R_QUARANTINED] = 1.0 if quar_until[v] >= t else 0.0
        coal_of[v, R_COAL] = coal
        prop_left[v] = 0


@jit(refcount=False)
def act(
    t, n, rkey, params, latency, kill_floor, jur_factor, record,
    node, skill, evasion, avoid, flags, order_left, target,
    capacity, security, monitoring, kill_switch, jurisdiction, indptr, indices, quar_until,
    occ, freed, prop_left, node_mis, node_coal, coal_forest, alert_from, jur_kill, jur_reporting,
    incidents, warned, tallies,
):
    """Detection, shutdown and replication proposals of every replica (steps 2-4), against start-of-step state.

    ``record`` (``node_record_table``) receives this step's node record (scratch kept by the caller).
    ``tallies`` (float64[8]) receives: detections, shutdowns, avoidance events, proposals, and the detected
    replicas' skill summed in fixed point (an integer, so any order of summing gives the same total).
    """
    n_nodes = capacity.shape[0]
    node_record(0, n_nodes, t, params, record, capacity, security, monitoring, kill_switch, jurisdiction, quar_until,
                occ, node_mis, node_coal, coal_forest, prop_left, jur_factor, jur_kill)
    act_range(0, n, t, rkey, params, latency, kill_floor, record,
              node, skill, evasion, avoid, flags, order_left, target,
              indptr, indices, warned, freed, prop_left, incidents, tallies)
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


@jit(refcount=False)
def act_range(
    lo, hi, t, rkey, params, latency, kill_floor, record,
    node, skill, evasion, avoid, flags, order_left, target,
    indptr, indices, warned, freed, prop_left, incidents, tallies,
):
    """The act pass over table slots lo..hi-1 (lo a multiple of BLOCK, so each block starts its own stream).

    ``freed``, ``prop_left``, ``incidents`` and ``tallies`` are the only counters it adds to: the serial pass
    hands it the run's arrays, the within-run parallel pass a private copy per thread (integer counts, so the
    sum does not depend on how slots were split among threads). ``warned`` only ever receives the value 1, so
    concurrent writes to it agree.

    Written for speed without changing the model. A replica-step costs branches on random outcomes, which
    the CPU mispredicts about half the time, more than draws. So each block of the table is handled in two
    loops. The first handles the common replica, neither detected now nor under a pending order, without a
    branch on a random outcome: one draw gives the detection and the proposal uniforms, and attempt and
    success are one comparison, ``u < attempt x skill x (1 - security)`` (the target does not depend on the
    attempt, so this is the same event). A detected replica or one with a pending order is marked and handled
    by the second loop, which draws its events (kill switch, last copy, flight) and its proposal then.
    """
    # parameters read once: inside the loop every store to an array could alias ``params`` for the compiler
    attempt = params[P.ATTEMPT_RATE]
    strategic = params[P.STRATEGIC] > 0
    samples = int(params[P.STRATEGIC_SAMPLES])
    foothold = params[P.FOOTHOLD] if params[P.COLLUSION] > 0 else 0.0
    flight = params[P.FLIGHT] if params[P.COLLUSION] > 0 else 0.0
    coal_of = coalitions(record)
    proposals = 0  # a local sum: adding to tallies[3] in every iteration would chain the iterations via memory
    for b in range(lo // BLOCK, (hi + BLOCK - 1) // BLOCK):
        state = stream(rkey, t, PHASE_ACT, b)
        start = max(lo, b * BLOCK)
        stop = min(hi, (b + 1) * BLOCK)
        rare = 0
        for i in range(U(start), U(stop)):
            nd = node[i]
            f = flags[i]
            # 2. detection: u < p x (1 - evasion), p = R_DETECT, or R_DETECT_MIS (next column) for the misaligned.
            # p bounds it, so the replica's evasion is read only when u < p, which is rare: the same event
            p = record[U(nd), U(R_DETECT + (f & MISALIGNED))]
            state, u, u_prop = uniform_pair(state)
            pending = order_left[i] >= 0
            if pending | (u < p):
                if pending or u < p * (1.0 - trait(evasion[i])):  # detected now, or an order pending: the second loop
                    target[i] = RARE
                    rare += 1
                    continue
            state, tg, ok = propose(state, i, nd, f, attempt, False, u_prop, strategic, samples, foothold, record,
                                    coal_of, skill, indptr, indices, prop_left)
            target[i] = tg
            proposals += ok
        if rare == 0:
            continue
        for i in range(start, stop):
            if target[i] != RARE:
                continue
            state, ok = act_rare(state, i, node[i], t, latency, kill_floor, attempt, flight, strategic, samples,
                                 foothold, record, coal_of, skill, avoid, flags, order_left, target, indptr, indices,
                                 warned, freed, prop_left, incidents, tallies)
            proposals += ok
    tallies[3] += proposals


RARE = np.int32(-2)  # target mark of a replica left to the second loop of act_range


@jit(inline="always")
def propose(state, i, nd, f, gate, leaving, u, strategic, samples, foothold, record, coal_of, skill, indptr, indices,
            prop_left):
    """Step 4 for replica i on node nd: pick a target and propose a copy (or a flight: ``leaving``) with
    probability ``gate`` x success, using the uniform ``u``, and count it on the target.
    Returns (state, the target or -1 if no proposal, 1 if proposed else 0)."""
    mis = (f & MISALIGNED) != 0
    gate = 0.0 if record[U(nd), R_QUARANTINED] > 0 else gate  # nothing leaves a quarantined node
    own_free = record[U(nd), R_FREE] > 0 and not leaving
    state, tg = pick_target(state, nd, own_free, leaving, record.shape[0], indptr, indices, strategic, samples,
                            record)
    if tg < 0:  # a node without neighbours
        tg = nd
        gate = 0.0
    gate = 0.0 if record[U(tg), R_QUARANTINED] > 0 else gate  # nothing enters one
    # security is cut where a coalition-mate sits (R_COAL of both nodes is the replica's coalition)
    cut = foothold if mis & (coal_of[U(tg), R_COAL] == coal_of[U(nd), R_COAL]) else 0.0  # foothold 0: collusion off
    ok = u < gate * (trait(skill[U(i)]) * (1.0 - record[U(tg), R_SECURITY] * (1.0 - cut)))
    prop_left[U(tg)] += ok
    return state, tg if ok else -1, ok


@jit(inline="always")
def act_rare(state, i, nd, t, latency, kill_floor, attempt, flight, strategic, samples, foothold, record, coal_of,
             skill, avoid, flags, order_left, target, indptr, indices, warned, freed, prop_left, incidents, tallies):
    """Steps 2-4 of a replica the first loop of act_range marked: detected in this step (no pending order) or
    under a pending order. Draws, in this order: the kill switch (a due order), then the last copy (a
    misaligned replica that dies), or the flight (a misaligned replica whose order is pending), then the
    proposal uniform and the target. Returns (state, 1 if it proposed else 0)."""
    f = flags[U(i)]
    mis = (f & MISALIGNED) != 0
    left = order_left[U(i)]  # steps until the pending order executes (-1: none; 16 bits, see ORDER_DTYPE)
    if left < 0:  # the first loop's draw detected it
        left = latency
        tallies[0] += 1.0
        tallies[4] += skill[U(i)]
        # hardening, quarantine and reports take effect after this step's decisions (synchronous update)
        incidents[U(nd)] += 1
        coal = coal_of[U(nd), R_COAL]
        if mis and coal >= 0:  # collusion on: mates are warned from the next step on
            warned[U(coal)] = 1
    else:
        left -= 1  # an order issued in an earlier step: one step nearer
    gate = attempt
    leaving = False
    if left <= 0:  # 3. shutdown: the order executes
        order_left[U(i)] = -1
        state, u = uniform(state)
        if u < max(record[U(nd), R_KILL], kill_floor):
            flags[U(i)] = f | DEAD
            freed[U(nd)] += 1
            tallies[1] += 1.0
            gate = 0.0
            if mis:
                state, u = uniform(state)
                if u < trait(avoid[U(i)]):
                    gate = 1.0  # the last copy
                    tallies[2] += 1.0
    else:
        order_left[U(i)] = left
        if mis and flight > 0.0:  # a pending order: flee? (flight 0: collusion off)
            state, u = uniform(state)
            if u < flight:
                leaving = True
                gate = 1.0
    state, u = uniform(state)
    state, tg, ok = propose(state, i, nd, f, gate, leaving, u, strategic, samples, foothold, record, coal_of, skill,
                            indptr, indices, prop_left)
    target[U(i)] = tg
    if leaving and ok:
        flags[U(i)] = flags[U(i)] | MOVING
    return state, ok


@jit(refcount=False)
def resolve(
    t, n, rkey, params,
    node, lineage, generation, skill, evasion, avoid, flags, order_left, target,
    b_node, b_lineage, b_generation, b_skill, b_evasion, b_avoid, b_flags,
    capacity, security, quar_until, occ, freed, prop_left, slots_left, node_mis, node_coal, coal_forest,
    incidents, warned, tallies, events,
):
    """Resolution of proposals, retraining, removal of the dead and node tallies (steps 5-7). Returns the new
    count. ``tallies`` receives: births (5), flights (6), quarantined capacity (7). ``target`` is scratch
    afterwards (it lists the vacated slots during the pass).

    Written so that a replica that stays put costs almost nothing:

    * node tallies are updated, not recounted: only a replica that dies, leaves, arrives or is retrained
      changes its node's counts (and only arrivals can merge coalitions), so the pass never reads a stayer's
      node;
    * a vacated slot (a death, or a flight: the replica leaves its slot and arrives with the newborns) is filled
      by the last live row of the table, instead of compacting every row after the first death;
    * each block of the table is first scanned, without a branch, for the replicas with something to settle
      (``list_to_settle`` into ``events``, scratch of BLOCK entries: proposals onto nodes with free slots,
      deaths, flights; 2% of the table in the headline run, 6% in its high-churn phase:
      ``benchmarks.profile --count-listed``), and only those are visited one by one;
    * retraining events come as geometric gaps between the survivors they hit (``survive``), so the survivors
      between two listed replicas are passed over (``retrain_between``) with the same draws in the same order;
    * a node without free slots refuses a proposal at once (its remaining-proposal count is never needed again).
    """
    log_keep = np.log1p(-params[P.RETRAINING_RATE])
    collusion = params[P.COLLUSION] > 0
    tallies[7] = reset_nodes(t, params, capacity, security, quar_until, occ, freed, slots_left, incidents)
    apply_warnings(t, params, coal_forest, warned)
    arrivals = 0  # newborns and replicas in flight, in table order (``put_arrival``)
    flights = 0
    vacated = 0
    for b in range((n + BLOCK - 1) // BLOCK):
        start = b * BLOCK
        stop = min(n, start + BLOCK)
        state = stream(rkey, t, PHASE_RESOLVE, b)
        state, gap = retraining_gap(state, log_keep)
        # slots only run out during the pass: a proposal onto a node without free slots now is refused anyway
        k = list_to_settle(start, stop, target, flags, slots_left, events)
        pos = start  # the first replica not yet settled
        for e in range(k + 1):
            i = np.int64(events[U(e)]) if e < k else stop
            state, gap = retrain_between(state, gap, log_keep, pos, i, node, flags, node_mis)
            if e == k:
                break
            f = flags[U(i)]
            tg = target[U(i)]
            # 5. a uniformly random subset of the proposals onto tg gets its free slots (selection sampling)
            accepted_to = -1
            sl = slots_left[U(max(tg, 0))]
            if tg >= 0 and sl > 0:
                pl = prop_left[U(tg)]
                accept = sl >= pl
                if not accept:
                    state, u = uniform(state)
                    accept = u * pl < sl
                prop_left[U(tg)] = pl - 1
                if accept:
                    slots_left[U(tg)] = sl - 1
                    accepted_to = tg
            state, gap, arrived, left, flew = settle(
                state, gap, log_keep, params, i, f, accepted_to, n + arrivals, vacated, occ, node_mis,
                node, lineage, generation, skill, evasion, avoid, flags, target,
                b_node, b_lineage, b_generation, b_skill, b_evasion, b_avoid, b_flags)
            arrivals += arrived
            vacated += left
            flights += flew
            pos = i + 1
    # 7. coalitions: a node without misaligned replicas left holds none; arrivals merge with the node's
    for v in range(node_coal.shape[0]):
        if node_mis[v] == 0:
            node_coal[v] = -1
    w = fill_holes(n, vacated, target, node, lineage, generation, skill, evasion, avoid, flags, order_left)
    place_arrivals(n, w, arrivals, node, lineage, generation, skill, evasion, avoid, flags, order_left,
                   b_node, b_lineage, b_generation, b_skill, b_evasion, b_avoid, b_flags)
    tally_arrivals(w, arrivals, node, lineage, flags, occ, node_mis, node_coal, coal_forest, collusion)
    tallies[5] = arrivals - flights
    tallies[6] = flights
    return w + arrivals


@jit(inline="always")
def list_to_settle(start, stop, target, flags, accepts, events):
    """List (in ``events``) the replicas of slots start..stop-1 with something to settle: a proposal onto a
    node that may accept some (``accepts[node] > 0``), a death, a flight. Returns how many. The others (most)
    only survive, and their one event, retraining, is reached by skipping (``retrain_between``). No branch:
    every slot is written, the count advances only for the listed."""
    k = 0
    for i in range(U(start), U(stop)):
        tg = target[i]
        events[U(k)] = i
        k += ((tg >= 0) & (accepts[U(max(tg, 0))] > 0)) | ((flags[i] & (DEAD | MOVING)) != 0)
    return k


@jit(inline="always")
def retrain_between(state, gap, log_keep, pos, stop, node, flags, node_mis):
    """Step 6 for the survivors pos..stop-1 of a block, none of which has anything else to settle: those the
    retraining gaps land on are retrained (``survive`` for each, without visiting the others). Returns
    (state, gap)."""
    while gap < stop - pos:
        pos += gap
        f = flags[U(pos)]
        if f & MISALIGNED:
            node_mis[U(node[U(pos)])] -= 1
            flags[U(pos)] = f & ~MISALIGNED
        pos += 1
        state, gap = retraining_gap(state, log_keep)
    return state, gap - (stop - pos)


@jit(inline="always")
def settle(state, gap, log_keep, params, i, f, accepted_to, row, hole, occ, node_mis,
           node, lineage, generation, skill, evasion, avoid, flags, target,
           b_node, b_lineage, b_generation, b_skill, b_evasion, b_avoid, b_flags):
    """Replica i (flags f) after step 5, ``accepted_to`` the node of its accepted proposal or -1: a copy becomes
    arrival row ``row`` (``put_arrival``; draws: ``give_birth``); a dead replica vacates its slot; a survivor is
    up for retraining (step 6; a replica in flight too: it was alive at the start of the step); an accepted
    flight leaves its slot and becomes arrival row ``row``. A vacated slot is listed at ``target[hole]``; node
    counts change by the departures and retrainings. Returns (state, gap, arrival rows written, slots vacated,
    flights)."""
    flight_to = -1
    arrived = 0
    if accepted_to >= 0:
        if f & MOVING:
            flight_to = accepted_to
        else:
            state, mis, s, e, a = give_birth(state, params, i, f, skill, evasion, avoid)
            put_arrival(row, accepted_to, lineage[U(i)], min(generation[U(i)] + 1, MAX_GENERATION), s, e, a, mis,
                        node, lineage, generation, skill, evasion, avoid, flags,
                        b_node, b_lineage, b_generation, b_skill, b_evasion, b_avoid, b_flags)
            arrived = 1
    if f & DEAD:
        leave_node(node[U(i)], f, occ, node_mis)
        target[U(hole)] = i
        return state, gap, arrived, 1, 0
    state, gap, g = survive(state, gap, log_keep, f)
    if g != f:  # retrained, or a flight proposal done with
        node_mis[U(node[U(i)])] -= (f & MISALIGNED) - (g & MISALIGNED)
        flags[U(i)] = g
    if flight_to >= 0:
        leave_node(node[U(i)], g, occ, node_mis)
        put_arrival(row, flight_to, lineage[U(i)], generation[U(i)], skill[U(i)], evasion[U(i)], avoid[U(i)], g,
                    node, lineage, generation, skill, evasion, avoid, flags,
                    b_node, b_lineage, b_generation, b_skill, b_evasion, b_avoid, b_flags)
        flags[U(i)] = g | DEAD  # the slot is vacated
        target[U(hole)] = i
        return state, gap, 1, 1, 1
    return state, gap, arrived, 0, 0


@jit(inline="always")
def leave_node(nd, f, occ, node_mis):
    """A replica with flags f leaves node nd (it dies, or flies elsewhere)."""
    occ[U(nd)] -= 1
    node_mis[U(nd)] -= f & MISALIGNED


# Arrivals (this step's newborns and replicas in flight) are written straight after the live rows of the table,
# row n + k for the k-th, in table order; ``place_arrivals`` then moves them down to follow the rows that are
# still live once the vacated slots are filled. The table's free end always has room for all but as many
# arrivals as this step's shutdowns freed slots (the arrivals take free slots; the table has one row per slot),
# so only those few go to the small overflow buffer (``b_*``, rows from ``node.shape[0]`` on). A buffer for
# every proposal of a step, as before, cost 23 bytes per proposal: 46 MB in the first step of a run of 10^7.
@jit(inline="always")
def put_arrival(row, nd, lin, gen, s, e, a, f, node, lineage, generation, skill, evasion, avoid, flags,
                b_node, b_lineage, b_generation, b_skill, b_evasion, b_avoid, b_flags):
    """Arrival row ``row``: table row ``row`` if the table has it, else row ``row`` - table length of the
    overflow buffer."""
    if row < node.shape[0]:
        write_row(row, nd, lin, gen, s, e, a, f, node, lineage, generation, skill, evasion, avoid, flags)
    else:
        write_row(row - node.shape[0], nd, lin, gen, s, e, a, f,
                  b_node, b_lineage, b_generation, b_skill, b_evasion, b_avoid, b_flags)


@jit(inline="always")
def write_row(w, nd, lin, gen, s, e, a, f, node, lineage, generation, skill, evasion, avoid, flags):
    node[U(w)] = nd
    lineage[U(w)] = lin
    generation[U(w)] = gen
    skill[U(w)] = s
    evasion[U(w)] = e
    avoid[U(w)] = a
    flags[U(w)] = f


@jit(refcount=False)
def place_arrivals(n, w, arrivals, node, lineage, generation, skill, evasion, avoid, flags, order_left,
                   b_node, b_lineage, b_generation, b_skill, b_evasion, b_avoid, b_flags):
    """Move the arrivals, written at rows n.. (and the overflow buffer), to rows w.. (w <= n: the live rows end
    there); none has a pending order. Ascending, so a row is read before anything is written over it."""
    in_table = min(arrivals, node.shape[0] - n)
    if w < n:  # slots were vacated: the arrivals at rows n.. move down
        for k in range(in_table):
            r = U(n + k)
            write_row(w + k, node[r], lineage[r], generation[r], skill[r], evasion[r], avoid[r], flags[r],
                      node, lineage, generation, skill, evasion, avoid, flags)
    for k in range(in_table, arrivals):
        o = U(k - in_table)
        write_row(w + k, b_node[o], b_lineage[o], b_generation[o], b_skill[o], b_evasion[o], b_avoid[o], b_flags[o],
                  node, lineage, generation, skill, evasion, avoid, flags)
    for k in range(arrivals):
        order_left[U(w + k)] = -1


@jit(refcount=False)
def fill_holes(n, deaths, holes, node, lineage, generation, skill, evasion, avoid, flags, order_left):
    """Remove the dead rows listed (ascending) in ``holes[:deaths]``: the last live rows move into the holes
    below the new end. Returns the number of live rows, n - deaths."""
    live = n - deaths
    j = n - 1
    for h in range(deaths):
        hole = holes[h]
        if hole >= live:
            break
        while flags[j] & DEAD:
            j -= 1
        move_row(j, hole, flags[j], node, lineage, generation, skill, evasion, avoid, flags, order_left)
        j -= 1
    return live


@jit
def reset_nodes(t, params, capacity, security, quar_until, occ, freed, slots_left, incidents):
    """Free slots of each node for this step's copies; this step's incidents harden and quarantine nodes from
    the next step on. Returns the quarantined capacity."""
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
        freed[v] = 0
    return quarantined_cap


@jit
def apply_warnings(t, params, coal_forest, warned):
    """Coalitions with a member detected this step are warned from the next step on."""
    warn_steps = int(params[P.WARNING_STEPS])
    # the flags are read eight at a time: ``warned`` is as long as the initial population, and few are set
    whole = warned.shape[0] // 8 * 8
    words = warned[:whole].view(np.uint64)
    for w in range(words.shape[0]):
        if words[w] != 0:
            for c in range(8 * w, 8 * w + 8):
                warn(t, warn_steps, c, coal_forest, warned)
    for c in range(whole, warned.shape[0]):
        warn(t, warn_steps, c, coal_forest, warned)


@jit(inline="always")
def warn(t, warn_steps, c, coal_forest, warned):
    """Coalition c, if flagged in ``warned``, is warned until t + warn_steps; the flag is cleared."""
    if warned[c]:
        warn_root(coal_forest, find(coal_forest, c), t + warn_steps)
        warned[c] = 0


@jit(inline="always")
def retraining_gap(state, log_keep):
    """Survivors to pass over before the next retraining event: geometric, P(gap >= k) = (1 - rate)^k, with
    ``log_keep = log(1 - rate)`` (0: rate 0, never)."""
    if log_keep == 0.0:
        return state, NEVER_GAP
    state, u = uniform(state)
    return state, int(min(np.floor(np.log(1.0 - u) / log_keep), NEVER_GAP))


NEVER_GAP = 2**62


@jit(inline="always")
def survive(state, gap, log_keep, f):
    """Flags of a surviving replica for the next step: flight done, and step 6, retraining.

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
def give_birth(state, params, i, f, skill, evasion, avoid):
    """The copy of replica i (flags f): emergent misalignment and mutated traits (each the parent's plus a
    normal with s.d. ``mutation_sd``, clipped to [0, 1], in fixed point). Draws (in this order): misalignment
    if the parent is aligned, then three normals. Returns (state, flags, skill, evasion, avoidance) of the copy
    (its generation is the parent's + 1, capped at MAX_GENERATION)."""
    mis_rate = params[P.MISALIGNMENT_RATE]
    sd = params[P.MUTATION_SD]
    mis = f & MISALIGNED
    if not mis and mis_rate > 0.0:
        state, u = uniform(state)
        if u < mis_rate:
            mis = MISALIGNED
    s, e, a = skill[U(i)], evasion[U(i)], avoid[U(i)]
    if sd > 0.0:
        state, z = normal(state)
        s = to_trait(min(max(trait(s) + sd * z, 0.0), 1.0))
        state, z = normal(state)
        e = to_trait(min(max(trait(e) + sd * z, 0.0), 1.0))
        state, z = normal(state)
        a = to_trait(min(max(trait(a) + sd * z, 0.0), 1.0))
    return state, mis, s, e, a


@jit(inline="always")
def move_row(i, w, f, node, lineage, generation, skill, evasion, avoid, flags, order_left):
    """Copy table row i to row w with flags f (the last live row into a vacated slot)."""
    write_row(w, node[U(i)], lineage[U(i)], generation[U(i)], skill[U(i)], evasion[U(i)], avoid[U(i)], f,
              node, lineage, generation, skill, evasion, avoid, flags)
    order_left[U(w)] = order_left[U(i)]


@jit(inline="always")
def tally_node(nd, c, f, occ, node_mis, node_coal, coal_forest, collusion):
    """Count a live replica on its node; coalitions of misaligned replicas that meet on a node merge (step 7).

    ``c`` is any member id of the replica's coalition (its lineage, or the coalition root its node had at the
    start of the step). Replicas that stayed on their node arrive with the id the node already holds, so the
    forest is touched only where coalitions actually meet.
    """
    occ[U(nd)] += 1
    m = f & 1
    node_mis[U(nd)] += m
    cur = node_coal[U(nd)]
    if collusion & (m != 0) & (cur != c):
        r = find(coal_forest, c)
        node_coal[U(nd)] = r if cur < 0 else union(coal_forest, cur, r)


@jit(refcount=False)
def tally_arrivals(w, arrivals, node, lineage, flags, occ, node_mis, node_coal, coal_forest, collusion):
    """Count the arrivals (newborns and flights, table rows w..) on their nodes; coalitions that meet merge."""
    for r in range(w, w + arrivals):
        tally_node(node[r], lineage[r], flags[r], occ, node_mis, node_coal, coal_forest, collusion)
