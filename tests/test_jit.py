"""The engine's compile options do what jit.py says they do.

``@jit(refcount=False)`` relies on Numba's ``_nrt`` option, which is not part of Numba's documented API: if a
Numba release stopped honouring it, the per-replica loops would silently get three times slower (see jit.py).
This test compiles a loop that passes arrays to an inlined helper both ways and reads the generated LLVM IR.
"""

import numpy as np

from replisim.engine.jit import jit


def _loop_calling_a_helper(**options):
    @jit(inline="always", cache=False)
    def bump(i, a, b):
        a[i] += b[i]

    @jit(cache=False, **options)
    def loop(a, b):
        for i in range(a.shape[0]):
            bump(i, a, b)

    a, b = np.zeros(8), np.ones(8)
    loop(a, b)
    assert a.sum() == 8.0  # both versions compute the same thing
    return "\n".join(loop.inspect_llvm().values())


def test_refcount_false_removes_reference_counting_from_loops():
    # the default: array arguments are reference counted (the increments are inlined atomic adds, the
    # decrements calls to NRT_decref)
    assert "NRT_decref" in _loop_calling_a_helper()
    assert "NRT_" not in _loop_calling_a_helper(refcount=False)
