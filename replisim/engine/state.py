"""The state frame: everything one run holds, as named tuples of preallocated columns.

Every kernel takes the frame (or one of its parts) whole, plus a parameter vector and a few scalars, instead of
each column as an argument. Numba compiles a named tuple of arrays to a plain struct: reading ``frame.table.node``
costs nothing at run time, so the passes keep the speed of kernels that took 35 arrays.

Parts of the frame (``Frame``):

* ``table`` (``Table``): the replica table, one row per replica slot, struct of arrays; rows 0..n-1 live.
* ``nodes`` (``Nodes``): the governed nodes (read-only, shared by the runs of an ensemble) and the run's
  node state (security after hardening, quarantine, occupancy and the per-step counters).
* ``links`` (``Links``): the network in CSR form (empty arrays: the complete network).
* ``jur`` (``Jurisdictions``): per-jurisdiction factors and the monitoring factor in force this step.
* ``coal`` (``Coalitions``): the coalition forest (``mechanisms.collusion``) and this step's warned flags.
* ``record``: the per-step node record the act pass reads (``R_*`` columns, ``node_record_table``).
* ``events``: resolve's list of one block's replicas with something to settle (one row per chunk).
* ``tallies`` (``T``): the counts of the step just done.
* ``listed`` (``Listed``): the nodes a sparse step visits (below).

Beside the frame, ``run_one`` keeps the small overflow buffer (``Arrivals``) for a step's arrivals that find no
row at the table's free end (``table.put_arrival``): it grows geometrically between steps, and a buffer outside
the frame grows without rebuilding the frame.

Widths are chosen on purpose (bytes per replica slot: 23, BENCHMARKS.md "(g)"): int32 nodes and lineages, the
heritable traits in 16-bit fixed point, the pending order as an int16 countdown, flags as bits of one byte.
"""

from collections import namedtuple
from enum import IntEnum

import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from ..config.schema import NODE_TYPES
from ..results import N_OUTCOMES
from .jit import jit
from .rng import BLOCK

# Replica flag bits.
MISALIGNED = np.uint8(1)
DEAD = np.uint8(2)
MOVING = np.uint8(4)  # the replica's proposal is a flight of itself, not a copy

NEVER = np.int32(2**30)
# A pending shutdown order counts down the steps it has left (``order_left``, -1: none) in 16 bits rather than
# holding its due step in 32: 2 bytes less per replica slot. The response latency is therefore at most the
# largest int16, 32767 steps (3.7 years of hourly steps; checked at compose time, config/units.py LATENCY_STEPS).
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


@jit(inline="always")
def trait(q):
    """A trait held in fixed point (TRAIT_DTYPE) as a probability."""
    return q * TRAIT_UNIT


@jit(inline="always")
def to_trait(x):
    """A probability x in [0, 1] in fixed point, rounded to the nearest step of 1/65535."""
    return np.uint16(x * TRAIT_MAX + 0.5)


Table = namedtuple("Table", ("node", "lineage", "generation", "skill", "evasion", "avoid", "flags", "order_left",
                             "target"))
Arrivals = namedtuple("Arrivals", ("node", "lineage", "generation", "skill", "evasion", "avoid", "flags"))
Nodes = namedtuple("Nodes", ("capacity", "security", "monitoring", "kill_switch", "jurisdiction", "quar_until",
                             "occ", "freed", "prop_left", "slots_left", "node_mis", "node_coal", "incidents"))
Links = namedtuple("Links", ("indptr", "indices"))
Jurisdictions = namedtuple("Jurisdictions", ("monitoring", "kill", "reporting", "fp_weight", "factor", "alert_from"))
Coalitions = namedtuple("Coalitions", ("forest", "warned", "warn_until"))
# The listed nodes: every node that holds replicas, every quarantined one, and every node emptied or released
# from quarantine since its row of the record and its free slots were last written. ``nodes[:count[0]]`` lists
# them (each once: ``mark`` is 1 for a listed node). A node off the list holds no replicas, so nothing happens on
# it: its record row and free slots stay as last written, and a step where the listed nodes and the replicas are
# few (``sim.sparse_share``) visits only the listed ones in its per-node passes (``visited`` / ``visit``), so the
# cost of a step follows the replicas, not the size of the network. Nodes join the list when a replica arrives
# (``enlist``) and leave it in ``resolve.free_slots`` once empty and not quarantined.
Listed = namedtuple("Listed", ("nodes", "mark", "count"))
Frame = namedtuple("Frame", ("table", "nodes", "links", "jur", "coal", "record", "events", "tallies", "listed"))
# The governed network of an ensemble, built once in Python (replisim.world) and shared by its runs.
World = namedtuple("World", ("capacity", "security", "monitoring", "kill_switch", "jurisdiction", "indptr",
                             "indices", "jur_monitoring", "jur_kill", "jur_reporting", "jur_fp_weight",
                             "total_compute", "col_type", "col_jur", "group_row"))
# The per-run parts of the World when uncertain keys give each run its own governed nodes (replisim.uncertainty):
# row r of each array is run r's (``world_row``); the graph, node types, jurisdictions and groups stay the World's.
Worlds = namedtuple("Worlds", ("capacity", "security", "monitoring", "kill_switch", "jur_monitoring", "jur_kill",
                               "jur_fp_weight", "total_compute"))
# What a replica's act-pass events add to per node: the serial pass hands it the run's node arrays, the
# within-run parallel pass a private row per thread.
Counters = namedtuple("Counters", ("freed", "prop_left", "incidents"))
# Private buffers of the within-run parallel passes (engine.parallel; empty in the ensemble mode).
ParallelBuffers = namedtuple("ParallelBuffers", ("node_buf", "block_tallies", "block_counts", "rule", "threshold",
                                                 "offset"))


class T(IntEnum):
    """Entry of each count of a step in ``frame.tallies`` (float64)."""

    DETECTIONS = 0
    SHUTDOWNS = 1
    AVOIDANCE = 2  # last copies attempted by replicas facing a successful shutdown
    PROPOSALS = 3
    DETECTED_SKILL = 4  # the detected replicas' skill summed in fixed point (an integer: any order, one total)
    BIRTHS = 5
    FLIGHTS = 6
    QUARANTINED = 7  # capacity of the quarantined nodes (slots)


N_TALLIES = len(T)


def world_of(net, gov, group_row=None) -> World:
    """The World tuple of a network and its governed node arrays (replisim.world.setup).

    ``col_type`` / ``col_jur``: per node, the outcome column that counts the replicas left on it at the horizon
    by node type and by jurisdiction (``results.placement_names``: after the O columns, types first).
    ``group_row``: int32 (nodes, groupings), node v's row of the group series in each grouping
    (``replisim.groups.Groups.row``); None: no grouping, no group series.
    """
    if group_row is None:
        group_row = np.zeros((net.nodes, 0), np.int32)
    col_type = (N_OUTCOMES + net.node_type.astype(np.int32)).astype(np.int32)
    col_jur = (N_OUTCOMES + len(NODE_TYPES) + net.jurisdiction.astype(np.int32)).astype(np.int32)
    return World(gov.capacity, gov.security, gov.monitoring, gov.kill_switch, net.jurisdiction, net.indptr,
                 net.indices, gov.jur_monitoring, gov.jur_kill, gov.jur_reporting, gov.jur_fp_weight,
                 float(gov.total_compute), col_type, col_jur, group_row)


def worlds_of(governed, world: World) -> Worlds:
    """The Worlds of a list of governed node arrays, one per run (an empty list: no rows, every run on
    ``world``)."""
    if not governed:
        n_nodes, n_jur = world.capacity.shape[0], world.jur_monitoring.shape[0]
        return Worlds(np.zeros((0, n_nodes), np.int32), np.zeros((0, n_nodes), world.security.dtype),
                      np.zeros((0, n_nodes), np.float32), np.zeros((0, n_nodes), world.kill_switch.dtype),
                      np.zeros((0, n_jur)), np.zeros((0, n_jur)), np.zeros((0, n_jur)), np.zeros(0))
    return Worlds(*(np.stack([getattr(g, name) for g in governed]).astype(getattr(world, name).dtype)
                    for name in Worlds._fields[:-1]),
                  np.array([g.total_compute for g in governed], np.float64))


@jit
def world_row(world, worlds, r):
    """The World of run r: its own row of ``worlds`` where the ensemble has per-run worlds, else ``world``."""
    if worlds.total_compute.shape[0] == 0:
        return world
    return World(worlds.capacity[r], worlds.security[r], worlds.monitoring[r], worlds.kill_switch[r],
                 world.jurisdiction, world.indptr, world.indices, worlds.jur_monitoring[r], worlds.jur_kill[r],
                 world.jur_reporting, worlds.jur_fp_weight[r], worlds.total_compute[r], world.col_type, world.col_jur,
                 world.group_row)


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


# Above this many nodes (a 2 MiB node record: the L2 cache of many cores) the record no longer stays in the
# caches: the act pass asks for each replica's row a few replicas ahead, and reads a target's row only when the
# replica's uniform could still mean success (replication.propose).
FAR_NODES = 65536
PREFETCH = 16  # how many slots ahead the act pass asks for a replica's record row


def far_hint(n_nodes: int):
    """The ``far`` argument of the kernels down to ``act.act_range`` for a network of ``n_nodes``: True above
    ``FAR_NODES``, else None. Its *type* picks the code compiled (with None, Numba prunes the branches that
    ``far is None`` rules out), so a process that runs only small networks never compiles the far case's act
    pass (about 8 s of a cold start); both cases give the same numbers, so a caller that leaves it None on a
    large network only runs slower."""
    return True if n_nodes > FAR_NODES else None


@intrinsic
def prefetch_row(typingctx, array, row):
    """Ask the CPU to bring row ``row`` of a 2-D array into its caches (LLVM's prefetch: a hint, no effect on
    results). The act pass reads the record row of each replica's node at random; asking for the row of a
    replica a few slots ahead overlaps those cache misses (BENCHMARKS.md, "Fast on every machine")."""
    sig = types.void(array, row)

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        idx = context.cast(builder, args[1], signature.args[1], types.intp)
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [idx, context.get_constant(types.intp, 0)])
        i32, byte_ptr = ir.IntType(32), ir.IntType(8).as_pointer()
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), [byte_ptr, i32, i32, i32]),
                                            "llvm.prefetch.p0")
        # one declaration serves arrays of every dtype: the address as a byte pointer
        builder.call(fn, [builder.bitcast(ptr, byte_ptr), i32(0), i32(3), i32(1)])  # read, keep in all caches, data
        return context.get_dummy_value()

    return sig, codegen


@jit(inline="always")
def coalitions(record):
    """The node record's int32 view: ``coalitions(record)[v, R_COAL]`` is node v's coalition root or -1."""
    return record.view(np.int32)


@jit(inline="always")
def visited(listed, sparse, n_nodes):
    """How many nodes a per-node pass visits: the listed ones in a sparse step, else all ``n_nodes``."""
    return listed.count[0] if sparse else n_nodes


@jit(inline="always")
def visit(listed, sparse, k):
    """The k-th node a per-node pass visits (k < ``visited``)."""
    return listed.nodes[U(k)] if sparse else k


@jit(inline="always")
def enlist(listed, v):
    """Put node v on the list of nodes a sparse step visits, unless it is there already."""
    if listed.mark[U(v)] == 0:
        listed.mark[U(v)] = 1
        listed.nodes[U(listed.count[0])] = v
        listed.count[0] += 1


@jit
def arrival_overflow(size):
    """The arrivals' overflow buffer of ``size`` rows: the arrivals of a step that find no row at the table's
    free end (``table.put_arrival``)."""
    return Arrivals(np.empty(size, np.int32), np.empty(size, np.int32), np.empty(size, np.uint16),
                    np.empty(size, TRAIT_DTYPE), np.empty(size, TRAIT_DTYPE), np.empty(size, TRAIT_DTYPE),
                    np.empty(size, np.uint8))


@jit
def new_frame(world, slots, n0, chunks):
    """The frame of one run on ``world``: a table of ``slots`` rows, a forest of ``n0`` coalitions (one per
    initial replica), ``chunks`` lists of events (1 for the serial passes). Node state starts empty."""
    n_nodes = world.capacity.shape[0]
    n_jur = world.jur_monitoring.shape[0]
    table = Table(np.empty(slots, np.int32), np.empty(slots, np.int32), np.empty(slots, np.uint16),
                  np.empty(slots, TRAIT_DTYPE), np.empty(slots, TRAIT_DTYPE), np.empty(slots, TRAIT_DTYPE),
                  np.empty(slots, np.uint8), np.empty(slots, ORDER_DTYPE), np.empty(slots, np.int32))
    nodes = Nodes(world.capacity, world.security.astype(np.float32), world.monitoring, world.kill_switch,
                  world.jurisdiction, np.full(n_nodes, -1, np.int32), np.zeros(n_nodes, np.int32),
                  np.zeros(n_nodes, np.int32), np.zeros(n_nodes, np.int32), np.zeros(n_nodes, np.int32),
                  np.zeros(n_nodes, np.int32), np.full(n_nodes, -1, np.int32), np.zeros(n_nodes, np.int32))
    jur = Jurisdictions(world.jur_monitoring, world.jur_kill, world.jur_reporting, world.jur_fp_weight,
                        np.ones(n_jur, np.float64), np.full(n_jur, NEVER, np.int32))
    # forest: -1 for a root; warned and warn_until per node (-1: never warned)
    coal = Coalitions(np.full(n0, -1, np.int32), np.zeros(n_nodes, np.uint8), np.full(n_nodes, -1, np.int32))
    listed = Listed(np.empty(n_nodes, np.int32), np.zeros(n_nodes, np.uint8), np.zeros(1, np.int64))
    return Frame(table, nodes, Links(world.indptr, world.indices), jur, coal,
                 node_record_table(n_nodes), np.empty((max(chunks, 1), BLOCK), np.int32),
                 np.zeros(N_TALLIES, np.float64), listed)


@jit
def new_parallel_buffers(n_nodes, slots, chunks):
    """The private buffers of the within-run parallel passes for ``chunks`` threads (0: empty)."""
    n_blocks = (slots + BLOCK - 1) // BLOCK if chunks else 0
    width = n_nodes if chunks else 0
    return ParallelBuffers(np.zeros((3, chunks, width), np.int32), np.zeros((n_blocks, N_TALLIES), np.float64),
                           np.zeros((n_blocks, 4), np.int64), np.zeros(width, np.int8), np.zeros(width, np.uint64),
                           np.zeros(n_nodes + 1 if chunks else 0, np.int64))
