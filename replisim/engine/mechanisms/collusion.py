"""Collusion: misaligned replicas that meet on a node form one coalition; coalitions blind the monitors of
nodes they dominate, open the door where a mate sits (foothold), warn their mates when one is detected, and
flee a pending shutdown.

Owns: the coalition forest and the warned flags (``frame.coal``), each node's coalition (``nodes.node_coal``).

The coalition forest (union-find over coalition ids, which are the initial replicas' lineages) is one int32
array, ``coal.forest``: a member's entry is its parent's id (>= 0); a root's entry holds its coalition's
warning, -2 - the last step the coalition is warned (-1: never). A separate parent array and warning array
would cost 4 bytes more per initial replica, 40 MB in a run of 10^7 (BENCHMARKS.md, (g)); a warning is only
ever read at a root, and a root needs no parent.
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
    ("BLINDING", "collusion.blinding"),
)

NOT_WARNED = np.int32(-1)


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
def blinded(m, nodes, v, on, dominance, blinding):
    """Node v's detection probability ``m`` after blinding: misaligned replicas holding at least the
    ``dominance`` share of the node's replicas cut its monitoring by ``blinding`` (collusion ``on``)."""
    mis = nodes.node_mis[v]
    if on and mis > 0 and mis >= dominance * nodes.occ[v]:
        m *= 1.0 - blinding
    return m


@jit(inline="always")
def warned_detection(p, forest, coal, t, warning_evasion):
    """Detection probability ``p`` of a misaligned replica of coalition root ``coal`` (-1: none): a warned
    coalition lies low."""
    return p * (1.0 - warning_evasion) if coal >= 0 and warned_until(forest, coal) >= t else p


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
def apply_warnings(t, warn_steps, coal):
    """Coalitions with a member detected this step are warned from the next step on, for ``warn_steps``."""
    forest, warned = coal.forest, coal.warned
    # the flags are read eight at a time: ``warned`` is as long as the initial population, and few are set
    whole = warned.shape[0] // 8 * 8
    words = warned[:whole].view(np.uint64)
    for w in range(words.shape[0]):
        if words[w] != 0:
            for c in range(8 * w, 8 * w + 8):
                warn(t, warn_steps, c, forest, warned)
    for c in range(whole, warned.shape[0]):
        warn(t, warn_steps, c, forest, warned)


@jit(inline="always")
def warn(t, warn_steps, c, forest, warned):
    """Coalition c, if flagged in ``warned``, is warned until t + warn_steps; the flag is cleared."""
    if warned[c]:
        warn_root(forest, find(forest, c), t + warn_steps)
        warned[c] = 0


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
