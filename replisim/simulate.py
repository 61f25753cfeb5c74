"""``simulate``: run an ensemble of a validated configuration on the Numba engine (or the Mesa engine)."""

from __future__ import annotations

import dataclasses
import sys

import numpy as np

from . import uncertainty
from .config import Config, ConfigError
from .config.schema import PARALLEL_MODES, SEEDS
from .config.validate import check_memory, validate
from .engine.params import P
from .ensemble import Ensemble, from_arrays, outcome_width
from .groups import resolve as resolve_groups
from .progress import STEP_PROGRESS_MIN, run_bar, step_bar
from .results import SERIES_NAMES
from .world import draw_skills, setup

ENGINES = ("numba", "mesa")
# auto: a run with at least this many replica slots is spread over threads by itself (within_run); smaller
# runs are spread over threads whole (ensemble). 2^22 slots = 1024 random-stream blocks, enough to keep any
# thread count busy inside one run; below it a run's steps are too short to share well. The rule looks at the
# workload only, never at the thread count, so a config and seed give the same numbers on every machine.
WITHIN_RUN_SLOTS = 1 << 22
# runs whose governed nodes are stacked at once when each run has its own (uncertain node-level keys)
WORLDS_CHUNK = 1024




def _as_graph(network):
    """A networkx graph of ``simulate``'s ``network`` argument (an edge list becomes one)."""
    import networkx as nx

    if isinstance(network, nx.Graph):
        return network
    try:
        return nx.Graph([tuple(e) for e in network])
    except (TypeError, ValueError, nx.NetworkXError):
        raise ConfigError(f"network={type(network).__name__}: allowed: a networkx graph or a list of (node, node) "
                          "edges") from None


def _check_count(name: str, value, low: int) -> None:
    """An integer argument of simulate (not a bool, not a float), at least ``low``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ConfigError(f"{name}={value!r} is out of range; allowed: an integer >= {low}")


def _set_threads(threads: int) -> None:
    import numba

    numba.set_num_threads(threads if threads > 0 else numba.config.NUMBA_NUM_THREADS)


def parallel_mode(cfg: Config, slots: int, parallel: str | None = None) -> str:
    """``ensemble`` or ``within_run`` for a run of ``slots`` replica slots (see WITHIN_RUN_SLOTS)."""
    mode = parallel or cfg.sim.parallel
    if mode not in PARALLEL_MODES:
        raise ConfigError(f"sim.parallel={mode!r} is not allowed; choose one of {', '.join(PARALLEL_MODES)}")
    if mode == "auto":
        return "within_run" if slots >= WITHIN_RUN_SLOTS else "ensemble"
    return mode


def simulate(cfg: Config, runs: int | None = None, seed: int | None = None, engine: str = "numba",
             progress: bool = False, first_run: int = 0, parallel: str | None = None,
             design: dict | None = None, network=None, groups: dict | None = None) -> Ensemble:
    """Simulate ``runs`` independent runs of ``cfg``; run k uses the random stream of (seed, first_run + k).

    Uncertain keys (``cfg.uncertain``): each run draws its own value of each (``replisim.uncertainty``); the
    outcome table gets a column per key, named by the key, with the run's value. ``design`` (a mapping of key
    to one value per run) sets the values instead, for a sampling design chosen by the caller (``explore``);
    its keys may vary per run as uncertain keys do.

    ``network``: your own network instead of the configured kind: a networkx graph (node attributes ``type``,
    ``capacity``, ``security``, ``monitoring``, ``kill_switch``, ``jurisdiction``, each optional:
    ``replisim.network.from_graph``) or a list of edges. ``network.nodes`` becomes the graph's node count.

    ``groups``: series of the replicas on each group of nodes at every step (``Ensemble.group_series``), a dict of
    name -> ``"node_type"``, ``"jurisdiction"`` or an integer array of one label per node (``replisim.groups``).
    None (the default): none, at no cost. They add runs x labels x (steps + 1) float64 to the results.

    Parallelism (``parallel``, default ``cfg.sim.parallel``, else ``auto``):

    * ``ensemble``: whole runs are spread over threads; each run is the serial reference pass.
    * ``within_run``: runs go one after another, each run's replica table is spread over threads; proposals
      that compete for a node's last slots are settled by random priorities instead of sequential selection
      sampling (same distribution, different numbers from ``ensemble``).
    * ``auto``: ``within_run`` when a run holds at least 2^22 replica slots (the network's total capacity),
      else ``ensemble``. The rule depends on the workload only, not on the thread count.

    Either way results are bit-identical for any thread count and any chunking of the runs.
    """
    if not isinstance(cfg, Config):
        raise ConfigError(f"cfg={type(cfg).__name__}: not a Config; allowed: a Config from replisim.compose(...)")
    if network is not None:  # the graph's own size, so every check and estimate sees the network that runs
        network = _as_graph(network)
        cfg = dataclasses.replace(cfg, network=dataclasses.replace(cfg.network, nodes=network.number_of_nodes()))
    validate(cfg)  # again: a Config changed after compose (dataclasses.replace, theory.with_params) is checked here
    runs = cfg.runs if runs is None else runs
    seed = cfg.seed if seed is None else seed
    if engine not in ENGINES:
        raise ConfigError(f"engine={engine!r} is not allowed; choose one of {', '.join(ENGINES)}")
    _check_count("runs", runs, 1)
    _check_count("seed", seed, 0)
    _check_count("first_run", first_run, 0)
    if seed > SEEDS[1] or first_run + runs - 1 > SEEDS[1]:
        what = "seed" if seed > SEEDS[1] else "first_run + runs"
        raise ConfigError(f"{what}={seed if what == 'seed' else first_run + runs} is out of range; allowed: <= "
                          f"{SEEDS[1]} (the random streams take signed 64-bit integers)")
    run_index = np.arange(first_run, first_run + runs, dtype=np.int64)
    values = uncertainty.draw(cfg, seed, run_index)
    if design is not None:
        if not isinstance(design, dict):
            raise ConfigError(f"design={type(design).__name__}: allowed: a dict of key -> one value per run")
        values.update(uncertainty.check_design(cfg, design, runs))
    if engine == "mesa":
        from .mesa.run import simulate_mesa

        return simulate_mesa(cfg, runs=runs, seed=seed, progress=progress, first_run=first_run, values=values,
                             graph=network, groups=groups)
    from .engine.jit import CACHE_DIR, cold
    from .engine.run import run_ensemble, run_runs
    from .engine.state import far_hint, world_of, worlds_of

    net, gov = setup(cfg, seed, network)
    grouped = resolve_groups(groups, net)
    if grouped.rows:  # the group series are memory the configuration alone does not show
        check_memory(cfg, runs, grouped.rows)
    world = world_of(net, gov, grouped.row)
    params = uncertainty.param_matrix(cfg, values, runs)
    skill0 = draw_skills(cfg, seed, run_index)
    if uncertainty.SKILL_KEY in values:
        # a writable, contiguous copy: a read-only or strided view (a design's column) would compile the
        # ensemble kernel a second time for its type (a minute of a cold start)
        skill0 = np.array(values[uncertainty.SKILL_KEY], np.float64, order="C")
    # runs with their own governed nodes (uncertain world keys): one per run, built by the ensemble's functions
    governed = uncertainty.run_worlds(cfg, net, seed, values, runs)
    initial = values.get("replica.initial")
    if initial is not None and not governed and initial.max() > gov.capacity.sum():
        raise ConfigError(f"uncertain replica.initial reaches {int(initial.max())}, more than the capacity left "
                          f"by governance ({int(gov.capacity.sum())}); allowed: a distribution below it")
    steps = cfg.sim.steps
    series = np.zeros((runs, len(SERIES_NAMES), steps + 1), np.float64)
    group_series = np.zeros((runs, grouped.rows, steps + 1), np.float64)
    outcomes = np.zeros((runs, outcome_width(net)), np.float64)
    # per run: the invariant it broke in validate mode and the step, and the steps done (engine.run.run_one)
    status = np.zeros((runs, 3), np.int64)
    _set_threads(cfg.sim.threads)
    mode = parallel_mode(cfg, int(gov.capacity.sum()), parallel)
    if progress and mode == "ensemble" and cold(run_runs):  # a new machine, or a new version of the engine
        from tqdm.auto import tqdm  # its write keeps the progress bars on screen intact

        tqdm.write(f"replisim: compiling the engine for this machine (once: about 30 s on two cores, then cached in "
                   f"{CACHE_DIR})", file=sys.stderr)
    bar = run_bar(runs, progress)
    far = far_hint(len(gov.capacity))  # the act pass for a node record larger than the caches, or not
    check = True if cfg.sim.validate else None  # the invariants checked after every step (engine.run.run_one)
    if mode == "within_run":
        from .engine.rng import run_key
        from .engine.run import run_one
        from .engine.state import new_parallel_buffers

        for r in range(runs):
            run_world = world_of(net, governed[r], grouped.row) if governed else world
            slots = max(int(run_world.capacity.sum()), int(params[r if len(params) > 1 else 0, P.INITIAL]))
            with step_bar(status[r], steps, progress and steps >= STEP_PROGRESS_MIN):
                # the private buffers of the parallel passes, one row per thread (the numbers do not depend on it)
                within = new_parallel_buffers(len(gov.capacity), slots, _threads())
                run_one(params[r if len(params) > 1 else 0], np.uint64(run_key(np.uint64(seed), first_run + r)),
                        skill0[r], run_world, series[r], group_series[r], outcomes[r], status[r], within, far,
                        check)
            bar.update(1)
        runs_done = runs
    else:
        runs_done = 0
    # per-run node arrays are stacked a chunk at a time: bounded memory, same numbers
    chunk = min(runs, WORLDS_CHUNK) if governed else runs
    for start in range(runs_done, runs, chunk):
        stop = min(runs, start + chunk)
        rows = params if len(params) == 1 else params[start:stop]
        run_ensemble(rows, np.uint64(seed), first_run + start, skill0[start:stop], world,
                     worlds_of(governed[start:stop], world), series[start:stop], group_series[start:stop],
                     outcomes[start:stop], status[start:stop], far, check, threads=_threads(),
                     done=bar.update if progress else None)
    bar.close()
    _raise_if_broken(status, run_index)
    meta = {"engine": "numba", "scenario": cfg.scenario, "governance": cfg.governance.name, "parallel": mode,
            **({"network": f"custom: {net.nodes} nodes, {net.indices.size // 2} edges"} if network is not None else {})}
    ens = from_arrays(outcomes, series, run_index, seed, skill0, cfg.sim.hours_per_step, meta, net, gov,
                      uncertainty.drawn_columns(values, governed))
    ens.config = cfg
    ens.group_data = grouped.split(group_series)
    return uncertainty.annotate(ens, cfg, values)


def _raise_if_broken(status: np.ndarray, run_index: np.ndarray) -> None:
    """Validate mode: stop with the first run whose state broke an invariant (an engine bug, not a user error)."""
    from .engine.run import INVARIANTS

    bad = np.flatnonzero(status[:, 0])
    if bad.size:
        code, step = status[bad[0], :2]
        raise AssertionError(f"validate mode: run {run_index[bad[0]]} broke an invariant after step {step}: "
                             f"{INVARIANTS[code]} ({bad.size} of {len(status)} runs broke one)")


def _threads() -> int:
    import numba

    return numba.get_num_threads()
