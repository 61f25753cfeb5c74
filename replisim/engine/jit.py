"""The project's one Numba decorator, so every kernel is compiled the same way.

``cache=True``: a second process reuses the compiled machine code (start-up in well under 3 s).
``nogil=True``: kernels release the GIL, so Python threads could overlap them.
``fastmath`` is off on purpose: random-number arithmetic and probability comparisons must give the same
bits on every run and thread count; the engine is bound by memory and branches, not by floating point.
``error_model="numpy"``: no Python-style zero-division checks inside hot loops.
"""

from numba import njit

JIT_OPTIONS = dict(cache=True, nogil=True, error_model="numpy")


def jit(fn=None, **overrides):
    """``@jit`` or ``@jit(parallel=True)``: njit with the project's options."""
    options = {**JIT_OPTIONS, **overrides}
    if fn is None:
        return lambda f: njit(**options)(f)
    return njit(**options)(fn)
