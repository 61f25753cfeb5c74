"""Two reference kernels that bound what an agent engine can do on this machine (issue 5, section 1b).

* ``stream_update``: a streaming column update, ``a[i] = a[i] * c + b[i]`` over float32 columns: no branches,
  no randomness, so it runs at the memory bandwidth (reported in agent-updates/s and GB/s).
* ``rng_update``: a struct-of-arrays update with one random draw per agent, from the engine's own SplitMix64
  streams (one stream per block of BLOCK agents, as in the engine), a data-dependent branch and a flag write:
  the RNG-bound limit of an engine that draws at least once per agent and step.

Both are compiled with the engine's decorator, so they get the same Numba options.
"""

import numpy as np

from replisim.engine.jit import jit
from replisim.engine.rng import BLOCK, PHASE_ACT, stream, uniform


@jit
def stream_update(a, b, c):
    for i in range(a.shape[0]):
        a[i] = a[i] * c + b[i]


@jit
def rng_update(rkey, t, p, flags):
    state = np.uint64(0)
    for i in range(p.shape[0]):
        if i % BLOCK == 0:
            state = stream(rkey, t, PHASE_ACT, i // BLOCK)
        state, u = uniform(state)
        if u < p[i]:
            flags[i] ^= np.uint8(1)


def columns(n: int, seed: int = 0):
    """Inputs of both kernels for n agents: two float32 columns, probabilities around 0.5, flags."""
    rng = np.random.default_rng(seed)
    a = rng.random(n, dtype=np.float32)
    b = rng.random(n, dtype=np.float32)
    p = rng.random(n, dtype=np.float32)
    flags = np.zeros(n, np.uint8)
    return a, b, p, flags
