"""Counter-based random streams: every random number is a function of (seed, run, step, phase, block).

Each run owns its streams; within a step, replicas are processed in fixed blocks of ``BLOCK`` slots and
each block draws from its own stream. Nothing depends on which thread runs which run or block, so results
are bit-identical for any thread count and for repeated calls.

The generator is SplitMix64 (Steele, Lea & Flood 2014): a 64-bit counter advanced by the golden-ratio
increment and passed through a strong bit mixer. It passes BigCrush, needs one uint64 of state and inlines
into the kernels, which Numba's global ``np.random`` state cannot do per run.
"""

import numpy as np

from .jit import jit

BLOCK = 4096  # replica slots per random stream
GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_INV53 = 1.0 / 9007199254740992.0  # 2**-53
_INV32 = 1.0 / 4294967296.0  # 2**-32
_LOW32 = np.uint64(0xFFFFFFFF)
_32 = np.uint64(32)

# Phase tags keep the streams of different passes of one step apart.
PHASE_INIT = 1
PHASE_ACT = 2
PHASE_RESOLVE = 3
PHASE_UNCERTAIN = 4  # the run's draws of its uncertain parameters (replisim.uncertainty), before step 1



@jit(inline="always")
def mix64(z):
    z = np.uint64(z)
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@jit(inline="always")
def stream(run_key, step, phase, block):
    """Initial state of the stream for one block of one pass of one step of one run."""
    h = mix64(np.uint64(run_key) + GOLDEN * np.uint64(step + 1))
    h = mix64(h + GOLDEN * np.uint64(phase))
    return mix64(h + GOLDEN * np.uint64(block + 1))


@jit
def run_key(seed, run):
    """The key of run ``run`` under master seed ``seed``."""
    return mix64(mix64(np.uint64(seed) + GOLDEN) + GOLDEN * np.uint64(run + 1))


@jit(inline="always")
def uniform(state):
    """Return (new_state, u) with u uniform on [0, 1)."""
    state = state + GOLDEN
    return state, float(np.int64(mix64(state) >> np.uint64(11))) * _INV53  # int64: one cvtsi2sd, not the uint64 sequence


@jit(inline="always")
def uniform_pair(state):
    """Return (new_state, u, v): two uniforms on [0, 1) with 32 random bits each, from one 64-bit draw.

    For the per-replica events of the act pass, where one draw instead of two saves real time: 32 bits resolve
    probabilities to 2^-32 (2.3e-10), far below anything an ensemble can measure.
    """
    state = state + GOLDEN
    x = mix64(state)
    return state, float(np.int64(x >> _32)) * _INV32, float(np.int64(x & _LOW32)) * _INV32


@jit(inline="always")
def below_pair(state, n):
    """Return (new_state, j, k): two integers uniform on {0, ..., n-1} from the two 32-bit halves of one draw,
    by multiply-shift (Lemire 2019): j = (hi * n) >> 32. No division and no float; each value's probability is
    within n / 2^32 of 1/n relative (2.3e-5 at n = 10^5 nodes)."""
    state = state + GOLDEN
    x = mix64(state)
    m = np.uint64(n)
    return state, np.int64(((x >> _32) * m) >> _32), np.int64(((x & _LOW32) * m) >> _32)


@jit(inline="always")
def below(state, n):
    """Return (new_state, k) with k uniform on {0, ..., n-1}."""
    state, u = uniform(state)
    k = int(u * n)
    return state, min(k, n - 1)


@jit(inline="always")
def normal(state):
    """Return (new_state, z) with z standard normal (Box-Muller)."""
    state, u1 = uniform(state)
    state, u2 = uniform(state)
    return state, np.sqrt(-2.0 * np.log(1.0 - u1)) * np.cos(2.0 * np.pi * u2)


@jit
def key_uniforms(seed, runs, tags):
    """Uniforms on [0, 1) of shape (len(runs), len(tags)): entry (i, k) is the first draw of the stream of run
    ``runs[i]`` for the key tagged ``tags[k]`` (a hash of the key's name), so a run's value of a key depends on
    (seed, run, key) only: not on the other keys, the chunking of the runs or the thread count."""
    out = np.empty((runs.shape[0], tags.shape[0]), np.float64)
    for i in range(runs.shape[0]):
        rkey = run_key(seed, runs[i])
        for k in range(tags.shape[0]):
            _, u = uniform(stream(rkey, 0, PHASE_UNCERTAIN, tags[k]))
            out[i, k] = u
    return out
