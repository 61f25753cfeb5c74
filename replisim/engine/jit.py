"""The project's one Numba decorator, so every kernel is compiled the same way.

``cache=True``: a second process reuses the compiled machine code (start-up in well under 3 s).
``nogil=True``: kernels release the GIL, so Python threads could overlap them.
``fastmath`` is off on purpose: random-number arithmetic and probability comparisons must give the same
bits on every run and thread count; the engine is bound by memory and branches, not by floating point.
``error_model="numpy"``: no Python-style zero-division checks inside hot loops.

``@jit(refcount=False)`` compiles a kernel without Numba's reference counting of arrays (``_nrt=False``), for
the per-replica loops. With it on, every call of a helper that takes arrays (even one inlined with
``inline="always"``) increments and decrements each array's reference count with atomic instructions, in every
iteration: measured on the resolve loop, 20 ns per replica with the node-tally helper against 7 ns with its
body written out (benchmarks/BENCHMARKS.md, "Profile"). A kernel compiled this way cannot allocate arrays; the
callers (``run_one``) allocate everything and pass it in.
"""

from numba import njit

JIT_OPTIONS = dict(cache=True, nogil=True, error_model="numpy")


def jit(fn=None, refcount=True, **overrides):
    """``@jit``, ``@jit(parallel=True)`` or ``@jit(refcount=False)``: njit with the project's options."""
    options = {**JIT_OPTIONS, **overrides}
    if not refcount:
        options["_nrt"] = False
    if fn is None:
        return lambda f: njit(**options)(f)
    return njit(**options)(fn)
