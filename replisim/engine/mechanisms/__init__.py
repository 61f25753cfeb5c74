"""The mechanisms of the model, one unit each.

Each unit declares its parameters (``PARAMETERS``: the name of its entry in the parameter vector and the
schema key it comes from; ``engine.params`` builds the vector from these lists) and the state it owns, and
provides small ``@jit(inline="always")`` hooks that the passes (``engine.act``, ``engine.resolve``) and the
step (``engine.run``) call at the points that ``replisim.step.STEP`` lists. Inlined, a hook costs what the same
lines written in the pass would.

Units: ``replication``, ``detection`` (detection and shutdown), ``avoidance`` (the last copy), ``collusion``,
``misalignment`` (emergent misalignment and retraining), ``quarantine`` (quarantine and hardening),
``if_then`` (if-then commitments), ``reporting`` (incident reporting). Static measures that only change the
nodes before a run (KYC, licensing, export caps, harmonisation) live in ``replisim.governance``.
"""

from . import avoidance, collusion, detection, if_then, misalignment, quarantine, replication, reporting

UNITS = (replication, detection, avoidance, collusion, misalignment, quarantine, if_then, reporting)
