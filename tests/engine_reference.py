"""A slow, plain-Python reference of the engine's step, used only by the tests.

It is written from the documented model (the step order in :mod:`replisim.step` and docs/ODD.md), not
copied from the kernels, and it draws the same random numbers in the same order: SplitMix64 is re-implemented
here with Python integers, one stream per (run, step, phase, block of ``BLOCK`` replica slots). On a small state
the kernels and this reference must therefore give identical arrays, bit for bit; any difference is a
difference in what the two do, not in luck.

Contents: ``place_initial``, ``act`` (steps 2-4), ``resolve`` (steps 5-7, with the serial engine's selection
sampling or the within-run parallel engine's priority rule) and ``run`` (a whole run: step 1, the governance
update, plus the series and outcomes).

``act`` and ``resolve`` take the same arguments as the kernels (and mutate them the same way), so a test can
call both on copies of one state. Two things are deliberately different and compared only up to meaning:
union-find here never compresses paths, so ``coal_parent`` is compared by the roots it implies
(:func:`coalition_roots`); and the kernels' forest marks a root with -1, where ``coal_parent`` points a root at
itself (the tests translate between the two).

Synchronous update: every decision of a step is taken against the state at the start of the step. ``act``
therefore only records what this step's detections cause (``incidents`` per node, ``warned`` nodes) and
reads security, quarantine and warnings as they were; ``resolve`` applies them at the end of the step, so a
node hardened or quarantined in step t is harder or offline from step t + 1 (for ``quarantine_steps`` steps),
and the mates on the node of a detected misaligned replica evade better from step t + 1 (``warn_until`` per
node: a warning reaches the detected replica's node, not its whole coalition).
"""

from __future__ import annotations

import math

import numpy as np

from replisim.engine.params import P
from replisim.engine.rng import BLOCK, PHASE_ACT, PHASE_INIT, PHASE_RESOLVE

MASK = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
M1 = 0xBF58476D1CE4E5B9
M2 = 0x94D049BB133111EB

MISALIGNED, DEAD, MOVING = 1, 2, 4
NEVER_GAP = 2**62
MAX_GENERATION = 65535
PHASE_SELECT = 4  # key of the priority hash of the within-run parallel engine


# --- SplitMix64 with Python integers ----------------------------------------------------------------------------
def mix64(z: int) -> int:
    z &= MASK
    z = ((z ^ (z >> 30)) * M1) & MASK
    z = ((z ^ (z >> 27)) * M2) & MASK
    return z ^ (z >> 31)


def run_key(seed: int, run: int) -> int:
    return mix64(mix64(int(seed) + GOLDEN) + GOLDEN * (int(run) + 1))


def stream_state(rkey: int, step: int, phase: int, block: int) -> int:
    h = mix64(int(rkey) + GOLDEN * (int(step) + 1))
    h = mix64(h + GOLDEN * phase)
    return mix64(h + GOLDEN * (block + 1))


class Stream:
    """The random numbers of one pass of one step: a fresh SplitMix64 stream for every block of BLOCK slots."""

    def __init__(self, rkey: int, step: int, phase: int):
        self.rkey, self.step, self.phase = int(rkey), int(step), int(phase)
        self.state = 0

    def enter(self, i: int) -> None:
        """Called before replica slot ``i`` is handled: slot i starts a new block every BLOCK slots."""
        if i % BLOCK == 0:
            self.state = stream_state(self.rkey, self.step, self.phase, i // BLOCK)

    def uniform(self) -> float:
        self.state = (self.state + GOLDEN) & MASK
        return (mix64(self.state) >> 11) * 2.0**-53

    def below(self, n: int) -> int:
        return min(int(self.uniform() * n), n - 1)

    def uniform_pair(self) -> tuple[float, float]:
        """Two uniforms with 32 bits each: the high and the low half of one draw."""
        self.state = (self.state + GOLDEN) & MASK
        x = mix64(self.state)
        return (x >> 32) * 2.0**-32, (x & 0xFFFFFFFF) * 2.0**-32

    def below_pair(self, n: int) -> tuple[int, int]:
        """Two integers uniform on {0, ..., n-1}: multiply-shift of the two 32-bit halves of one draw."""
        self.state = (self.state + GOLDEN) & MASK
        x = mix64(self.state)
        return ((x >> 32) * n) >> 32, ((x & 0xFFFFFFFF) * n) >> 32

    def retraining_gap(self, log_keep: float) -> int:
        """Survivors passed over before the next retraining event (geometric); no draw when the rate is 0."""
        if log_keep == 0.0:
            return NEVER_GAP
        return int(min(math.floor(math.log(1.0 - self.uniform()) / log_keep), NEVER_GAP))

    def normal(self) -> float:
        u1 = self.uniform()
        u2 = self.uniform()
        return math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(2.0 * math.pi * u2)


# --- traits: 16-bit fixed point, q = round(x * 65535) ----------------------------------------------------------
TRAIT_UNIT = 1.0 / 65535.0


def trait(q) -> float:
    return int(q) * TRAIT_UNIT


def to_trait(x: float) -> int:
    return int(x * 65535.0 + 0.5)


# --- coalitions --------------------------------------------------------------------------------------------------
def root(parent, c: int) -> int:
    while parent[c] != c:
        c = parent[c]
    return int(c)


def coalition_roots(parent) -> np.ndarray:
    """The root of every coalition id: the meaning of a union-find array, whatever its path compression."""
    return np.array([root(parent, c) for c in range(len(parent))], dtype=np.int64)


def merge(parent, a: int, b: int) -> int:
    """Merge two coalitions; the smaller root becomes the root."""
    ra, rb = root(parent, a), root(parent, b)
    lo, hi = min(ra, rb), max(ra, rb)
    if lo != hi:
        parent[hi] = lo
    return lo


# --- setup -------------------------------------------------------------------------------------------------------
def place_initial(rkey, n0, n_mis, skill0, evasion0, avoid0, capacity, occ,
                  node, lineage, generation, skill, evasion, avoid, flags, order_left):
    """Initial replicas on uniformly drawn nodes with a free slot (64 tries, then a scan from a random node).

    The first ``n_mis`` replicas are misaligned; each replica is its own lineage and coalition.
    """
    rng = Stream(rkey, 0, PHASE_INIT)
    rng.enter(0)
    n_nodes = len(capacity)
    for k in range(n0):
        nd = -1
        for _ in range(64):
            c = rng.below(n_nodes)
            if occ[c] < capacity[c]:
                nd = c
                break
        if nd < 0:
            start = rng.below(n_nodes)
            ring = [(start + j) % n_nodes for j in range(n_nodes)]
            nd = next(c for c in ring if occ[c] < capacity[c])
        occ[nd] += 1
        node[k] = nd
        lineage[k], generation[k], order_left[k] = k, 0, -1
        skill[k], evasion[k], avoid[k] = to_trait(skill0), to_trait(evasion0), to_trait(avoid0)
        flags[k] = MISALIGNED if k < n_mis else 0


# --- one step ----------------------------------------------------------------------------------------------------
def act(
    t, n, rkey, params, latency, kill_floor, jur_factor,
    node, lineage, skill, evasion, avoid, flags, order_left, target,
    capacity, security, monitoring, kill_switch, jurisdiction, indptr, indices, quar_until,
    occ, freed, prop_left, node_mis, node_coal, coal_parent, warn_until, alert_from, jur_kill, jur_reporting,
    incidents, warned, tallies,
):
    """Steps 2-4 (detection, shutdown, replication proposals) of every replica.

    ``tallies``: [0] detections, [1] shutdowns, [2] last-copy (avoidance) events, [3] successful proposals,
    [4] sum of the skill of detected replicas. A successful proposal is ``target[i] = node`` and one more
    ``prop_left[node]``; a replica that flees proposes to move itself (flag MOVING).

    The order of the draws, per block of BLOCK slots (the engine's, see ``engine.act.act_range``): first every
    replica of the block in table order draws one 64-bit number whose two 32-bit halves are its detection
    and proposal uniforms; a replica neither detected nor under a pending order then draws its target (one
    draw per two candidates) and proposes with probability attempt x success. Then the block's detected
    replicas and those with a pending order, in table order: kill switch (an order due), last copy or
    flight, a new proposal uniform, the target. The probabilities the engine keeps per node in its float32
    node record are rounded to float32 here too.
    """
    collusion = params[P.COLLUSION] > 0
    flight = float(params[P.FLIGHT]) if collusion else 0.0
    strategic = params[P.STRATEGIC] > 0
    samples = int(params[P.STRATEGIC_SAMPLES]) if strategic else 1
    complete = len(indptr) == 0
    n_nodes = len(capacity)
    f32 = lambda x: float(np.float32(x))  # noqa: E731 -- a value as the node record stores it

    def monitored(v):
        """Detection probability on node v before the replica's own evasion."""
        m = float(monitoring[v]) * float(jur_factor[jurisdiction[v]])
        # dominated: enough misaligned replicas, counted against what the node can hold (not its occupants)
        dominated = node_mis[v] >= max(params[P.MIN_MEMBERS], params[P.DOMINANCE] * capacity[v])
        if collusion and dominated:
            m *= 1.0 - params[P.BLINDING]
        return min(m, 1.0)

    def watched(v):
        """Monitoring a strategic replica sees on node v."""
        return f32(float(monitoring[v]) * float(jur_factor[jurisdiction[v]]))

    def propose(i, v, gate, leaving, u, rng):
        """Step 4 for replica i on node v: target, then a copy (or a flight) with probability gate x success."""
        mis = bool(flags[i] & MISALIGNED)
        if quar_until[v] >= t:  # a quarantined node sends nothing
            gate = 0.0
        skip_own = complete and leaving  # a fleeing replica leaves its node
        degree = (n_nodes - 1 if skip_own else n_nodes) if complete else int(indptr[v + 1] - indptr[v])
        tg = -1
        if degree > 0:  # the candidates are drawn even when the own node wins below
            def neighbour(k):
                if skip_own and k >= v:
                    k += 1
                return k if complete else int(indices[indptr[v] + k])
            pair = rng.below_pair(degree)
            tg = neighbour(pair[0])
            best = watched(tg)
            for j in range(1, samples):  # strategic replicas keep the least watched of a few neighbours
                if j % 2 == 0:
                    pair = rng.below_pair(degree)
                cand = neighbour(pair[j % 2])
                if watched(cand) < best:
                    tg, best = cand, watched(cand)
        if occ[v] < capacity[v] and not leaving:
            tg = v  # own node had a free slot at the start of the step
        if tg < 0:
            tg, gate = v, 0.0
        if quar_until[tg] >= t:  # a quarantined node receives nothing
            gate = 0.0
        cut = 0.0
        if collusion and mis and node_mis[tg] > 0 and root(coal_parent, node_coal[tg]) == root(coal_parent, lineage[i]):
            cut = float(params[P.FOOTHOLD])  # a coalition-mate sits there
        if u < gate * (trait(skill[i]) * (1.0 - float(security[tg]) * (1.0 - cut))):
            target[i] = tg
            prop_left[tg] += 1
            tallies[3] += 1.0
            if leaving:
                flags[i] |= MOVING
        else:
            target[i] = -1

    rng = Stream(rkey, t, PHASE_ACT)  # prop_left: zero, as the last resolve left it
    for start in range(0, n, BLOCK):
        block = range(start, min(n, start + BLOCK))
        rng.enter(start)
        rare = []
        for i in block:
            v = int(node[i])
            mis = bool(flags[i] & MISALIGNED)
            # 2. detection of a replica without a pending order; mates on a warned node evade better
            m = monitored(v)
            if collusion and mis and warn_until[v] >= t:
                m = f32(m * (1.0 - params[P.WARNING_EVASION]))
            else:
                m = f32(m)
            u, u_prop = rng.uniform_pair()
            if order_left[i] >= 0 or u < float(m) * (1.0 - trait(evasion[i])):
                rare.append(i)
                continue
            propose(i, v, float(params[P.ATTEMPT_RATE]), False, u_prop, rng)
        for i in rare:
            v = int(node[i])
            mis = bool(flags[i] & MISALIGNED)
            if order_left[i] < 0:  # detected in this step: the order executes after ``latency`` more steps
                order_left[i] = latency
                tallies[0] += 1.0
                tallies[4] += int(skill[i])  # in fixed point
                incidents[v] += 1  # hardening and quarantine follow at the end of the step
                j0 = jurisdiction[v]
                if params[P.REPORTING] > 0 and jur_reporting[j0]:
                    alert_from[j0] = min(alert_from[j0], t + 1)
                    for j in range(len(alert_from)):
                        if j != j0 and jur_reporting[j]:
                            alert_from[j] = min(alert_from[j], t + int(params[P.REPORTING_DELAY]))
                if collusion and mis:
                    warned[v] = 1  # the mates on this node are warned from the next step
            else:
                order_left[i] -= 1  # one step of its latency has passed
            # 3. shutdown of a due order; a misaligned replica that is shut down may make one last copy
            gate, leaving = float(params[P.ATTEMPT_RATE]), False
            if order_left[i] <= 0:
                order_left[i] = -1
                if rng.uniform() < max(f32(float(kill_switch[v]) * float(jur_kill[jurisdiction[v]])), kill_floor):
                    flags[i] |= DEAD
                    freed[v] += 1
                    tallies[1] += 1.0
                    gate = 0.0
                    if mis and rng.uniform() < trait(avoid[i]):
                        gate = 1.0
                        tallies[2] += 1.0
            elif mis and flight > 0.0 and rng.uniform() < flight:
                gate, leaving = 1.0, True
            propose(i, v, gate, leaving, rng.uniform(), rng)


def resolve(
    t, n, rkey, params,
    node, lineage, generation, skill, evasion, avoid, flags, order_left, target,
    b_node, b_lineage, b_generation, b_skill, b_evasion, b_avoid, b_flags,
    capacity, security, quar_until, occ, freed, prop_left, slots_left, node_mis, node_coal, coal_parent, warn_until,
    incidents, warned, tallies, selection="sequential",
):
    """Steps 5-7: capacity resolution, births, retraining, removal of the dead, node tallies. Returns the count.

    ``tallies``: [5] births, [6] flights, [7] capacity of quarantined nodes. Last, this step's incidents harden
    and quarantine their nodes and warned nodes get their warning (effective from the next step).

    ``selection``: how a node with more successful proposals than free slots picks the accepted ones, both a
    uniformly random subset: ``sequential`` (selection sampling in table order, drawing from the block streams;
    the serial engine) or ``priority`` (the free-slot count of smallest random priorities, a hash of (run, step,
    slot) that draws nothing from the block streams; the within-run parallel engine).
    """
    collusion = params[P.COLLUSION] > 0
    sd = params[P.MUTATION_SD]
    mis_rate = params[P.MISALIGNMENT_RATE]
    log_keep = math.log1p(-float(params[P.RETRAINING_RATE]))

    # 5. free slots: capacity - start-of-step occupancy + this step's deaths; none on a quarantined node
    offline = quar_until >= t
    slots_left[:] = np.where(offline, 0, capacity - occ + freed)
    tallies[7] = float(capacity[offline].sum())

    if selection == "priority":
        winners = _priority_winners(rkey, t, n, target, prop_left, slots_left)
    rng = Stream(rkey, t, PHASE_RESOLVE)
    arrivals, holes = [], []  # arrivals: newborns and (serial engine) replicas in flight, in table order
    births = 0
    gap = 0
    for i in range(n):
        rng.enter(i)
        if i % BLOCK == 0:  # retraining events: a geometric gap between them, drawn at the start of each block
            gap = rng.retraining_gap(log_keep)
        f = int(flags[i])
        tg = int(target[i])
        accept = False
        if selection == "priority":
            accept = i in winners
        elif tg >= 0 and slots_left[tg] > 0:
            # selection sampling: each of the prop_left remaining proposals gets one of slots_left slots
            # with probability slots_left / prop_left, which accepts a uniformly random subset (a node without
            # free slots refuses at once, and its remaining count is never needed again)
            pl, sl = int(prop_left[tg]), int(slots_left[tg])
            accept = sl >= pl or rng.uniform() * pl < sl
            prop_left[tg] = pl - 1
        flight_to = -1
        if accept:
            slots_left[tg] -= 1
            if f & MOVING:
                flight_to = tg
                tallies[6] += 1.0
            else:
                child_mis = f & MISALIGNED
                if not child_mis and mis_rate > 0.0 and rng.uniform() < mis_rate:
                    child_mis = MISALIGNED
                traits = [int(skill[i]), int(evasion[i]), int(avoid[i])]
                if sd > 0.0:  # mutation: a normal step, clipped to [0, 1], back in fixed point
                    traits = [to_trait(min(max(trait(q) + sd * rng.normal(), 0.0), 1.0)) for q in traits]
                arrivals.append((tg, int(lineage[i]), min(int(generation[i]) + 1, MAX_GENERATION), *traits,
                                 child_mis))
                births += 1
        if f & DEAD:
            holes.append(i)
            continue
        f &= ~MOVING
        # 6. retraining: every survivor is an independent Bernoulli(rate) trial; it turns a misaligned one aligned
        if gap == 0:
            f &= ~MISALIGNED
            gap = rng.retraining_gap(log_keep)
        else:
            gap -= 1
        flags[i] = f
        if flight_to >= 0:  # the replica leaves its slot and arrives with the newborns
            arrivals.append((flight_to, int(lineage[i]), int(generation[i]), skill[i], evasion[i], avoid[i], f))
            holes.append(i)
    if selection == "priority":
        prop_left[:] = 0

    # removal of the dead: the last live rows fill the vacated slots below the new end; arrivals follow, in
    # table order
    rows = lambda idx: [(int(node[i]), int(lineage[i]), int(generation[i]), skill[i], evasion[i], avoid[i],  # noqa: E731
                         int(flags[i]), int(order_left[i])) for i in idx]
    dead = set(holes)
    table = rows(range(n))
    live = n - len(holes)
    tail = [i for i in range(n - 1, live - 1, -1) if i not in dead]  # live rows at or after the new end
    for hole, src in zip([h for h in holes if h < live], tail):
        table[hole] = table[src]
    table = table[:live]
    table += [(nd, lin, gen, s, e, a, fl, -1) for nd, lin, gen, s, e, a, fl in arrivals]
    for w, (nd, lin, gen, s, e, a, fl, due) in enumerate(table):
        node[w], lineage[w], generation[w] = nd, lin, gen
        skill[w], evasion[w], avoid[w], flags[w], order_left[w] = s, e, a, fl, due
    for b, (nd, lin, gen, s, e, a, fl) in enumerate(arrivals):
        b_node[b], b_lineage[b], b_generation[b] = nd, lin, gen
        b_skill[b], b_evasion[b], b_avoid[b], b_flags[b] = s, e, a, fl
    tallies[5] = births

    # 6. node tallies; misaligned replicas that share a node form one coalition
    occ[:] = 0
    freed[:] = 0
    node_mis[:] = 0
    node_coal[:] = -1
    for nd, lin, _, _, _, _, fl, _ in table:
        occ[nd] += 1
        if fl & MISALIGNED:
            node_mis[nd] += 1
            if collusion:
                node_coal[nd] = lin if node_coal[nd] < 0 else merge(coal_parent, node_coal[nd], lin)
    if collusion:
        for v in np.flatnonzero(node_coal >= 0):
            node_coal[v] = root(coal_parent, node_coal[v])

    # effects of this step's detections, from the next step on
    for v in np.flatnonzero(incidents):
        security[v] = min(1.0, float(security[v]) + params[P.HARDENING] * int(incidents[v]))
        if params[P.QUARANTINE_STEPS] > 0:
            quar_until[v] = t + int(params[P.QUARANTINE_STEPS])
    incidents[:] = 0
    for v in np.flatnonzero(warned):
        warn_until[v] = max(warn_until[v], t + int(params[P.WARNING_STEPS]))
    warned[:] = 0
    prop_left[:] = 0  # the proposal counts are spent: zero for the next act pass
    return len(table)


def _priority_winners(rkey, t, n, target, prop_left, slots_left) -> set:
    """Slots whose proposal is accepted under the priority rule: per node, the free-slot count of smallest
    priorities mix64(key + GOLDEN (i + 1)), key = the stream of (run, step, phase 4, block 0)."""
    key = stream_state(rkey, t, PHASE_SELECT, 0)
    by_node: dict[int, list] = {}
    for i in range(n):
        if target[i] >= 0:
            by_node.setdefault(int(target[i]), []).append((mix64(key + GOLDEN * (i + 1)), i))
    winners = set()
    for v, proposals in by_node.items():
        assert len(proposals) == prop_left[v]
        free = max(int(slots_left[v]), 0)
        winners.update(i for _, i in sorted(proposals)[:free])
    return winners


# --- a whole run -------------------------------------------------------------------------------------------------
def run(params, rkey, skill0, total_compute, capacity, security0, monitoring, kill_switch, jurisdiction, indptr,
        indices, jur_monitoring, jur_kill, jur_reporting, jur_fp_weight):
    """One run from placement to horizon. Returns (series[name] -> array(steps + 1), outcomes[name] -> value).

    Step 1, the governance update, is here: once an if-then commitment has triggered and its delay has passed,
    monitoring is multiplied, shutdowns succeed at least with the if-then floor and the response latency drops
    to the if-then latency (never above the normal one); a jurisdiction alerted by an incident report
    multiplies its monitoring. The trigger: cumulative detections reach the incident threshold, or the mean
    skill of a step's detected replicas reaches the capability threshold.
    """
    steps, n0 = int(params[P.STEPS]), int(params[P.INITIAL])
    hours = float(params[P.HOURS_PER_STEP])
    n_nodes, n_jur = len(capacity), len(jur_monitoring)
    slots = max(int(np.sum(capacity)), n0)
    i32, f32, u16 = np.int32, np.float32, np.uint16
    s = dict(node=np.zeros(slots, i32), lineage=np.zeros(slots, i32), generation=np.zeros(slots, np.uint16),
             skill=np.zeros(slots, u16), evasion=np.zeros(slots, u16), avoid=np.zeros(slots, u16),
             flags=np.zeros(slots, np.uint8), order_left=np.zeros(slots, np.int16), target=np.zeros(slots, i32),
             b_node=np.zeros(slots, i32), b_lineage=np.zeros(slots, i32), b_generation=np.zeros(slots, np.uint16),
             b_skill=np.zeros(slots, u16), b_evasion=np.zeros(slots, u16), b_avoid=np.zeros(slots, u16),
             b_flags=np.zeros(slots, np.uint8),
             capacity=capacity, security=np.asarray(security0, f32).copy(), monitoring=monitoring,
             kill_switch=kill_switch, jurisdiction=jurisdiction, indptr=indptr, indices=indices,
             quar_until=np.full(n_nodes, -1, i32), occ=np.zeros(n_nodes, i32), freed=np.zeros(n_nodes, i32),
             prop_left=np.zeros(n_nodes, i32), slots_left=np.zeros(n_nodes, i32), node_mis=np.zeros(n_nodes, i32),
             node_coal=np.full(n_nodes, -1, i32), coal_parent=np.arange(n0).astype(i32),
             warn_until=np.full(n_nodes, -1, i32), alert_from=np.full(n_jur, 2**30, i32), jur_kill=jur_kill,
             jur_reporting=jur_reporting, incidents=np.zeros(n_nodes, i32), warned=np.zeros(n_nodes, np.uint8),
             tallies=np.zeros(8))
    n_mis0 = int(round(params[P.INITIAL_MISALIGNED] * n0))
    place_initial(rkey, n0, n_mis0, skill0, params[P.EVASION], params[P.SHUTDOWN_AVOIDANCE], capacity, s["occ"],
                  s["node"], s["lineage"], s["generation"], s["skill"], s["evasion"], s["avoid"], s["flags"],
                  s["order_left"])
    for i in range(n0):  # misaligned initial replicas placed on one node merge at once (collusion on)
        if s["flags"][i] & MISALIGNED:
            v = s["node"][i]
            s["node_mis"][v] += 1
            if params[P.COLLUSION] <= 0:
                continue  # no coalitions
            if s["node_coal"][v] < 0:
                s["node_coal"][v] = s["lineage"][i]
            else:
                s["node_coal"][v] = merge(s["coal_parent"], s["node_coal"][v], s["lineage"][i])

    names = ("replicas", "misaligned", "compute_share", "nodes_occupied", "detections", "shutdowns", "births",
             "collateral")
    series = {k: np.zeros(steps + 1) for k in names}
    n = n0
    total = dict(detections=0, shutdowns=0, avoidance_events=0, births=0, flights=0, collateral=0.0, replica_steps=0)
    triggered, contained_at = -1, np.nan

    def record(t, det=0, shut=0, born=0, collateral=0.0):
        series["replicas"][t] = n
        series["misaligned"][t] = int(np.count_nonzero(s["flags"][:n] & MISALIGNED))
        series["compute_share"][t] = n / total_compute
        series["nodes_occupied"][t] = int(np.count_nonzero(s["occ"])) if n else 0
        series["detections"][t], series["shutdowns"][t], series["births"][t] = det, shut, born
        series["collateral"][t] = collateral

    record(0)
    for t in range(1, steps + 1):
        if n == 0:  # extinct: nothing happens any more
            record(t)
            continue
        total["replica_steps"] += n
        # 1. governance update
        strict = params[P.IF_THEN] > 0 and triggered >= 0 and t >= triggered + params[P.IF_THEN_DELAY]
        latency = int(params[P.RESPONSE_LATENCY])
        if strict:
            latency = min(latency, int(params[P.IF_THEN_LATENCY]))
        kill_floor = float(params[P.IF_THEN_KILL]) if strict else 0.0
        jur_factor = np.array(jur_monitoring, dtype=np.float64)
        if params[P.REPORTING] > 0:
            jur_factor[s["alert_from"] <= t] *= params[P.REPORTING_MONITORING]
        if strict:
            jur_factor *= params[P.IF_THEN_MONITORING]
        s["tallies"][:] = 0.0
        act(t, n, rkey, params, latency, kill_floor, jur_factor, s["node"], s["lineage"], s["skill"], s["evasion"],
            s["avoid"], s["flags"], s["order_left"], s["target"], capacity, s["security"], monitoring, kill_switch,
            jurisdiction, indptr, indices, s["quar_until"], s["occ"], s["freed"], s["prop_left"], s["node_mis"],
            s["node_coal"], s["coal_parent"], s["warn_until"], s["alert_from"], jur_kill, jur_reporting,
            s["incidents"], s["warned"], s["tallies"])
        det, shut, last_copies, _, detected_skill = (s["tallies"][k] for k in range(5))
        total["detections"] += int(det)
        total["shutdowns"] += int(shut)
        total["avoidance_events"] += int(last_copies)
        if params[P.IF_THEN] > 0 and triggered < 0 and total["detections"] > 0:
            mean_skill = detected_skill * TRAIT_UNIT / det if det > 0 else 0.0
            if total["detections"] >= params[P.IF_THEN_INCIDENTS] or mean_skill >= params[P.IF_THEN_CAPABILITY]:
                triggered = t
        n = resolve(t, n, rkey, params, s["node"], s["lineage"], s["generation"], s["skill"], s["evasion"],
                    s["avoid"], s["flags"], s["order_left"], s["target"], s["b_node"], s["b_lineage"],
                    s["b_generation"], s["b_skill"], s["b_evasion"], s["b_avoid"], s["b_flags"], capacity,
                    s["security"], s["quar_until"], s["occ"], s["freed"], s["prop_left"], s["slots_left"],
                    s["node_mis"], s["node_coal"], s["coal_parent"], s["warn_until"], s["incidents"], s["warned"],
                    s["tallies"])
        born, moved, quarantined = (s["tallies"][k] for k in (5, 6, 7))
        total["births"] += int(born)
        total["flights"] += int(moved)
        # collateral node-hours: executed shutdowns, capacity held in quarantine, slots lost to false positives,
        # slots withheld by licensing and export caps
        fp_slots = params[P.FALSE_POSITIVE_RATE] * float(np.dot(jur_factor, jur_fp_weight))
        withheld = total_compute - float(np.sum(capacity))
        collateral = shut * params[P.SHUTDOWN_COST] + hours * (quarantined + fp_slots + withheld)
        total["collateral"] += collateral
        record(t, det, shut, born, collateral)
        if n == 0 and np.isnan(contained_at):
            contained_at = t * hours

    live = range(n)
    misaligned_roots = {root(s["coal_parent"], s["lineage"][i]) for i in live if s["flags"][i] & MISALIGNED}
    final_share = n / total_compute
    outcomes = dict(
        extinct=n == 0, loss_of_control=n > 0 and final_share >= params[P.LOSS_SHARE],
        peak_replicas=int(series["replicas"].max()), final_replicas=n, time_to_containment=contained_at,
        peak_compute_share=float(series["compute_share"].max()), final_compute_share=final_share,
        detections=total["detections"], shutdowns=total["shutdowns"], avoidance_events=total["avoidance_events"],
        max_generation=max((int(s["generation"][i]) for i in live), default=0),
        misaligned_final=int(series["misaligned"][-1]), collateral_node_hours=total["collateral"],
        births=total["births"], flights=total["flights"], coalitions_final=len(misaligned_roots),
        if_then_triggered_step=float(triggered) if triggered >= 0 else np.nan,
        mean_skill_final=float(np.mean(s["skill"][:n] * TRAIT_UNIT)) if n else np.nan,
        replica_steps=total["replica_steps"],
    )
    return series, outcomes
