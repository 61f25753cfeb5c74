"""The Numba engine: the model's step compiled over a preallocated state frame.

Modules, bottom up: ``jit`` (the one decorator), ``rng`` (counter-based streams), ``state`` (the state frame),
``mechanisms`` (one unit per mechanism: parameters, owned state, inline hooks), ``params`` (the parameter
vector, built from the units' declarations), ``table`` (rows of the replica table), the passes ``act`` and
``resolve`` (and their within-run parallel versions in ``parallel``), and ``run`` (one run, the step loop, and
the ensemble over threads). The step's order is ``replisim.step.STEP``. Nothing here imports Hydra, the Mesa
model or ``replisim.simulate``; callers go through :func:`replisim.simulate`. See docs/architecture.md.
"""
