"""The Numba engine: the model's step compiled over a preallocated state frame.

Layers, bottom up: ``jit`` (the one decorator), ``rng`` (counter-based streams), ``params`` (the parameter
vector), the kernels of the step, and ``run`` (one run from set-up to horizon, and the ensemble over threads).
Nothing here imports Hydra, the Mesa model or anything above ``replisim.config`` and ``replisim.results``;
callers go through :func:`replisim.simulate`. See docs/architecture.md.
"""
