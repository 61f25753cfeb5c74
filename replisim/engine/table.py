"""Rows of the replica table: writing, moving, removing the dead and placing arrivals.

Arrivals (this step's newborns and replicas in flight) are written straight after the live rows of the table,
row n + k for the k-th, in table order; ``place_arrivals`` then moves them down to follow the rows that are
still live once the vacated slots are filled. The table's free end always has room for all but as many
arrivals as this step's shutdowns freed slots (the arrivals take free slots; the table has one row per slot),
so only those few go to the small overflow buffer (``arrivals``, rows from the table's length on). A
buffer for every proposal of a step, as before, cost 23 bytes per proposal: 46 MB in the first step of a run
of 10^7.
"""

from .jit import jit
from .state import DEAD, U


@jit(inline="always")
def write_row(cols, w, nd, lin, gen, s, e, a, f):
    """Row w of ``cols`` (the table, or the overflow buffer: both have these columns)."""
    cols.node[U(w)] = nd
    cols.lineage[U(w)] = lin
    cols.generation[U(w)] = gen
    cols.skill[U(w)] = s
    cols.evasion[U(w)] = e
    cols.avoid[U(w)] = a
    cols.flags[U(w)] = f


@jit(inline="always")
def put_arrival(row, nd, lin, gen, s, e, a, f, table, arrivals):
    """Arrival row ``row``: table row ``row`` if the table has it, else row ``row`` - table length of the
    overflow buffer."""
    if row < table.node.shape[0]:
        write_row(table, row, nd, lin, gen, s, e, a, f)
    else:
        write_row(arrivals, row - table.node.shape[0], nd, lin, gen, s, e, a, f)


@jit(inline="always")
def move_row(i, w, f, table):
    """Copy table row i to row w with flags f (the last live row into a vacated slot)."""
    write_row(table, w, table.node[U(i)], table.lineage[U(i)], table.generation[U(i)], table.skill[U(i)],
              table.evasion[U(i)], table.avoid[U(i)], f)
    table.order_left[U(w)] = table.order_left[U(i)]


@jit(refcount=False)
def place_arrivals(n, w, count, table, arrivals):
    """Move the ``count`` arrivals, written at rows n.. (and the overflow buffer), to rows w.. (w <= n: the live
    rows end there); none has a pending order. Ascending, so a row is read before anything is written over it."""
    in_table = min(count, table.node.shape[0] - n)
    if w < n:  # slots were vacated: the arrivals at rows n.. move down
        for k in range(in_table):
            r = U(n + k)
            write_row(table, w + k, table.node[r], table.lineage[r], table.generation[r], table.skill[r],
                      table.evasion[r], table.avoid[r], table.flags[r])
    for k in range(in_table, count):
        o = U(k - in_table)
        write_row(table, w + k, arrivals.node[o], arrivals.lineage[o], arrivals.generation[o], arrivals.skill[o],
                  arrivals.evasion[o], arrivals.avoid[o], arrivals.flags[o])
    for k in range(count):
        table.order_left[U(w + k)] = -1


@jit(refcount=False)
def fill_holes(n, deaths, holes, table):
    """Remove the dead rows listed (ascending) in ``holes[:deaths]``: the last live rows move into the holes
    below the new end. Returns the number of live rows, n - deaths."""
    live = n - deaths
    flags = table.flags
    j = n - 1
    for h in range(deaths):
        hole = holes[h]
        if hole >= live:
            break
        while flags[j] & DEAD:
            j -= 1
        move_row(j, hole, flags[j], table)
        j -= 1
    return live
