"""``simulate_mesa``: an ensemble of Mesa runs, returned as the same :class:`~replisim.ensemble.Ensemble` as the
Numba engine (same outcome columns, same series)."""

from __future__ import annotations

import numpy as np

from .. import uncertainty
from ..config import Config
from ..ensemble import Ensemble, from_arrays, outcome_width
from ..groups import resolve as resolve_groups
from ..progress import run_bar
from ..results import SERIES_NAMES
from ..world import draw_skills, setup
from .model import ReplicationModel


def run_model(model: ReplicationModel) -> ReplicationModel:
    """Step until the horizon or containment (afterwards every series is zero, which ``series()`` pads)."""
    while model.running and model.steps < model.horizon:
        model.step()
    return model


def simulate_mesa(cfg: Config, runs: int, seed: int, progress: bool = False, first_run: int = 0,
                  values: dict | None = None, graph=None, groups: dict | None = None) -> Ensemble:
    """Runs first_run .. first_run + runs - 1 of ``cfg``, one after another; run k is seeded with [seed, k].

    All runs share one network (built from (cfg, seed) exactly as the Numba engine builds it) and the per-run
    skills of :func:`replisim.world.draw_skills`, so the two engines differ only in their random streams.
    ``values`` (``replisim.uncertainty.draw``, as ``simulate`` passes them): each run's own values of the
    uncertain keys, the same draws as the Numba engine's; run k is built from its own Config and node arrays.
    ``groups``: as ``simulate``'s (``replisim.groups``), counted by each model at every step.
    """
    values = values or {}
    network = setup(cfg, seed, graph)
    grouped = resolve_groups(groups, network[0])
    run_index = np.arange(first_run, first_run + runs, dtype=np.int64)
    skill0 = draw_skills(cfg, seed, run_index)
    if uncertainty.SKILL_KEY in values:
        skill0 = np.asarray(values[uncertainty.SKILL_KEY], np.float64)
    governed = uncertainty.run_worlds(cfg, network[0], seed, values, runs)
    series = np.zeros((runs, len(SERIES_NAMES), cfg.sim.steps + 1))
    outcomes = np.zeros((runs, outcome_width(network[0])))
    group_series = np.zeros((runs, grouped.rows, cfg.sim.steps + 1))
    bar = run_bar(runs, progress)
    for k, run in enumerate(run_index):
        run_cfg = uncertainty.with_values(cfg, {key: v[k] for key, v in values.items()}) if values else cfg
        run_network = (network[0], governed[k]) if governed else network
        model = run_model(ReplicationModel(run_cfg, seed, int(run), network=run_network, skill=float(skill0[k]),
                                           groups=grouped))
        series[k] = model.series()
        group_series[k] = model.group_series()
        outcomes[k] = model.outcomes()
        bar.update(1)
    bar.close()
    meta = {"engine": "mesa", "scenario": cfg.scenario, "governance": cfg.governance.name}
    ens = from_arrays(outcomes, series, run_index, seed, skill0, cfg.sim.hours_per_step, meta, *network,
                      extra=uncertainty.drawn_columns(values, governed))
    ens.config = cfg
    ens.group_data = grouped.split(group_series)
    return uncertainty.annotate(ens, cfg, values)
