"""Shutdown avoidance: a misaligned replica facing a successful shutdown makes one last copy attempt, with its
heritable avoidance trait as the probability (Palisade-style shutdown resistance, as a copy before it goes).

Owns: the avoidance trait (inherited, mutated with the others), the avoidance tally.
"""

from ..jit import jit
from ..rng import uniform
from ..state import T, U, trait

PARAMETERS = (("SHUTDOWN_AVOIDANCE", "replica.shutdown_avoidance"),)


@jit(inline="always")
def last_copy(state, i, frame, tallies):
    """Replica i (misaligned, shut down now) tries one last copy? Draws one uniform. Returns (state, gate):
    1.0 (the copy is proposed like any other, with the replica's skill) or 0.0."""
    state, u = uniform(state)
    if u < trait(frame.table.avoid[U(i)]):
        tallies[T.AVOIDANCE] += 1.0
        return state, 1.0
    return state, 0.0
