"""Collusion: misaligned replicas that meet on a node form one coalition; a coalition that fills enough of a
node blinds its monitors, it opens the door where a mate sits (foothold), a detected member warns its mates on
the same node, and a member under a pending order may flee.

Owns: the coalition forest, each node's warned flag and warning (``frame.coal``), each node's coalition
(``nodes.node_coal``).

Its strength comes from a coalition's size and position, never from being alone (issue 11): a node is
dominated only when its misaligned replicas number at least ``collusion.min_members`` and at least
``collusion.dominance`` x the node's *capacity* (a lone replica on a large node blinds nothing); blinding
lowers monitoring and never erases it (its range stops at 0.9); a warning reaches the mates on the detected
replica's node only, not a whole coalition spread over the network.

The coalition forest is union-find over coalition ids (the initial replicas' lineages), one int32 array,
``coal.forest``: a member's entry is its parent's id, a root's -1.
"""

import numpy as np

from ..jit import jit
from ..rng import uniform
from ..state import MISALIGNED, U

PARAMETERS = (
    ("COLLUSION", "collusion.enabled"),
    ("WARNING_EVASION", "collusion.warning_evasion"),
    ("WARNING_STEPS", "collusion.warning_hours"),
    ("FLIGHT", "collusion.flight"),
    ("FOOTHOLD", "collusion.foothold"),
    ("DOMINANCE", "collusion.dominance"),
    ("MIN_MEMBERS", "collusion.min_members"),
    ("BLINDING", "collusion.blinding"),
)


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
def union(forest, a, b):
    """Merge two coalitions; the smaller id becomes the root (deterministic)."""
    ra = find(forest, a)
    rb = find(forest, b)
    if ra == rb:
        return ra
    lo, hi = min(ra, rb), max(ra, rb)
    forest[U(hi)] = lo
    return lo


@jit(inline="always")
def blinded(m, nodes, v, on, dominance, min_members, blinding):
    """Node v's detection probability ``m`` after blinding (collusion ``on``): misaligned replicas that number
    at least ``min_members`` (>= 1) and at least the ``dominance`` share of the node's capacity cut its
    monitoring by ``blinding`` (< 1)."""
    mis = nodes.node_mis[v]
    if on and mis >= max(min_members, dominance * nodes.capacity[v]):
        m *= 1.0 - blinding
    return m


@jit(inline="always")
def warned_detection(p, coal, v, t, warning_evasion):
    """Detection probability ``p`` of a misaligned replica on node v (``coal.warn_until``): mates of a replica
    detected there lie low while the warning lasts."""
    return p * (1.0 - warning_evasion) if coal.warn_until[v] >= t else p


@jit(inline="always")
def node_coalition(forest, node_coal, v, collusion):
    """The root of node v's coalition at the start of the step, or -1 (none, or collusion off)."""
    return find_root(forest, node_coal[v]) if collusion and node_coal[v] >= 0 else -1


@jit(inline="always")
def flees(state, flight):
    """A misaligned replica under a pending order flees? Draws one uniform when ``flight`` > 0 (0: collusion
    off). Returns (state, True to flee)."""
    if flight > 0.0:
        state, u = uniform(state)
        return state, u < flight
    return state, False


@jit(inline="always")
def tally_node(nd, c, f, nodes, forest, collusion):
    """Count a live replica on its node; coalitions of misaligned replicas that meet on a node merge (coalitions).

    ``c`` is any member id of the replica's coalition (its lineage, or the coalition root its node had at the
    start of the step). Replicas that stayed on their node arrive with the id the node already holds, so the
    forest is touched only where coalitions actually meet.
    """
    nodes.occ[U(nd)] += 1
    m = f & 1
    nodes.node_mis[U(nd)] += m
    cur = nodes.node_coal[U(nd)]
    if collusion & (m != 0) & (cur != c):
        r = find(forest, c)
        nodes.node_coal[U(nd)] = r if cur < 0 else union(forest, cur, r)


@jit
def apply_warnings(t, warn_steps, coal, listed, sparse):
    """Nodes where a misaligned replica was detected this step are warned from the next step on, for
    ``warn_steps`` steps: the mates there lie low (a later warning a node has stays). Detections happen where
    replicas are, so a sparse step visits the listed nodes only (``state.Listed``)."""
    warned, warn_until = coal.warned, coal.warn_until
    if sparse:
        for k in range(listed.count[0]):
            warn(t, warn_steps, listed.nodes[k], warned, warn_until)
        return
    # the flags are read eight at a time: ``warned`` is as long as the network, and few are set
    whole = warned.shape[0] // 8 * 8
    words = warned[:whole].view(np.uint64)
    for w in range(words.shape[0]):
        if words[w] != 0:
            for v in range(8 * w, 8 * w + 8):
                warn(t, warn_steps, v, warned, warn_until)
    for v in range(whole, warned.shape[0]):
        warn(t, warn_steps, v, warned, warn_until)


@jit(inline="always")
def warn(t, warn_steps, v, warned, warn_until):
    """Node v, if flagged in ``warned``, is warned until t + warn_steps; the flag is cleared."""
    if warned[v]:
        warn_until[v] = max(warn_until[v], t + warn_steps)
        warned[v] = 0


@jit(refcount=False)
def tally_initial(n0, table, nodes, forest, collusion):
    """Node tallies of step 0, after ``place_initial`` counted the occupancy: misaligned replicas per node, and
    (collusion on) the coalitions of misaligned replicas placed on one node merged.

    Every initial replica is its own coalition, numbered by its lineage, which grows with its row; so the
    first misaligned replica placed on a node holds the smallest id there, and the others join it directly
    (``forest``), the forest that ``union`` would build (the smaller id is the root), without its searches.
    """
    node_mis, node_coal = nodes.node_mis, nodes.node_coal
    for v in range(node_mis.shape[0]):
        node_mis[v] = 0
        node_coal[v] = -1
    for i in range(n0):
        if table.flags[i] & MISALIGNED:
            nd = table.node[i]
            node_mis[nd] += 1
            if collusion:
                first = node_coal[nd]
                if first < 0:
                    node_coal[nd] = table.lineage[i]
                else:
                    forest[table.lineage[i]] = first


@jit(refcount=False)
def count_coalitions(n, table, forest, seen):
    """Distinct coalitions among the misaligned replicas of the table (``seen``: zeros, one per coalition id)."""
    coalitions = 0
    for i in range(n):
        if table.flags[i] & MISALIGNED:
            r = find(forest, table.lineage[i])
            if seen[r] == 0:
                seen[r] = 1
                coalitions += 1
    return coalitions
