"""``optimize``: the best policies at each cost, robust over the sampled worlds.

A policy is a value for each lever (``DEFAULT_LEVERS``: monitoring floors per data-centre node type, the response
latency, kill-switch mandates, know-your-customer, quarantine). It is judged on the same sample of worlds every
time: ``worlds`` draws of the configuration's uncertain keys (``replisim.uncertainty``, runs 0 .. worlds - 1 of
the seed: common random numbers, so two policies differ only by their levers), one run per world, in one
compiled call. Two objectives, both minimized:

* ``p_loss``: the share of the sampled worlds in which control is lost (the probability of loss of control
  under the uncertainty as sampled), with its Wilson 95% interval;
* ``collateral_p90``: the 90th percentile of collateral node-hours over the worlds (the cost in a bad but
  plausible world, a high quantile rather than the mean, so that a policy cheap on average but ruinous in a
  tenth of the worlds does not look cheap), with a distribution-free 95% interval.

The search is NSGA-II from Platypus (the optimizer the EMA Workbench uses), seeded through Python's ``random``
module, which Platypus draws from. The governance presets are judged on the same worlds, and each is listed with
the found policies that dominate it.
"""

from __future__ import annotations

import dataclasses
import json
import random
from pathlib import Path

import numpy as np
import pandas as pd

from . import uncertainty
from .config import Config, ConfigError
from .config.uncertain import key_field

DEFAULT_LEVERS = {
    "governance.monitoring_floor.frontier_lab": (0.0, 0.3),
    "governance.monitoring_floor.hyperscale_cloud": (0.0, 0.3),
    "governance.monitoring_floor.enterprise": (0.0, 0.3),
    "governance.monitoring_floor.academic": (0.0, 0.3),
    "governance.kill_switch_mandate.enterprise": (0.0, 1.0),
    "governance.response_latency": (0.0, 72.0),
    "governance.kyc": (0.0, 0.5),
    "governance.quarantine_hours": (0.0, 168.0),
}
OBJECTIVES = ("p_loss", "collateral_p90")


def _check_levers(cfg: Config, levers: dict) -> dict:
    out = {}
    for key, bounds in levers.items():
        info = key_field(key, cfg)
        lo, hi = (float(b) for b in bounds)
        if not info.low <= lo < hi <= info.high:
            raise ConfigError(f"levers.{key}=({lo:g}, {hi:g}): allowed: low < high inside the key's range "
                              f"[{info.low:g}, {info.high:g}]")
        out[key] = (lo, hi)
    return out


def check_counts(worlds, nfe, population) -> None:
    """The sizes of a search: whole numbers, at least 2 worlds, 1 evaluation and 2 policies per generation."""
    for name, value, low in (("worlds", worlds, 2), ("nfe", nfe, 1), ("population", population, 2)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ConfigError(f"{name}={value!r}: allowed: an integer >= {low}")


class Evaluator:
    """Judges policies on one fixed sample of worlds (the module docstring's two objectives)."""

    def __init__(self, cfg: Config, worlds: int, seed: int):
        self.cfg, self.worlds, self.seed = cfg, worlds, seed
        self.world_values = uncertainty.draw(cfg, seed, np.arange(worlds))
        self.fixed = uncertainty.with_values(cfg, {})
        self.evaluations = 0

    def __call__(self, policy: dict, cfg: Config | None = None) -> dict:
        from .simulate import simulate
        from .stats import quantile_interval, wilson

        base = self.fixed if cfg is None else uncertainty.with_values(cfg, {})
        design = {**self.world_values, **{k: np.full(self.worlds, v) for k, v in policy.items()}}
        ens = simulate(base, runs=self.worlds, seed=self.seed, design=design)
        self.evaluations += 1
        lost = int(ens.outcomes["loss_of_control"].sum())
        lo, hi = wilson(lost, self.worlds)
        q, qlo, qhi = quantile_interval(ens.outcomes["collateral_node_hours"], 0.9)
        return {"p_loss": lost / self.worlds, "p_loss_low": lo, "p_loss_high": hi, "collateral_p90": q,
                "collateral_p90_low": qlo, "collateral_p90_high": qhi}


def _dominates(a: pd.Series, b: pd.Series) -> bool:
    return all(a[o] <= b[o] for o in OBJECTIVES) and any(a[o] < b[o] for o in OBJECTIVES)


def optimize(cfg: Config, levers: dict | None = None, worlds: int = 64, nfe: int = 400, population: int = 40,
             seed: int | None = None, outdir=None, presets=None, progress: bool = False) -> pd.DataFrame:
    """NSGA-II over ``levers`` (``{key: (low, high)}``, default ``DEFAULT_LEVERS``) for ``nfe`` policy
    evaluations; returns the non-dominated policies (``pareto.csv``): lever values and both objectives with
    their intervals. With ``outdir``: ``pareto.csv``, ``evaluated.csv`` (every policy judged), ``presets.csv``
    (each governance preset on the same worlds and the found policies that dominate it), ``optimize.json`` and
    ``figures/pareto.png``."""
    from platypus import NSGAII, Problem, Real, nondominated

    from .progress import run_bar

    if not isinstance(cfg, Config):
        raise ConfigError(f"cfg={type(cfg).__name__}: not a Config; allowed: a Config from replisim.compose(...)")
    check_counts(worlds, nfe, population)
    levers = _check_levers(cfg, DEFAULT_LEVERS if levers is None else levers)
    # a key the policy sets is not uncertain: the lever takes it out of the sampled worlds (said in optimize.json)
    set_by_policy = [k for k in levers if k in cfg.uncertain]
    cfg = dataclasses.replace(cfg, uncertain={k: v for k, v in cfg.uncertain.items() if k not in levers})
    seed = cfg.seed if seed is None else seed
    keys = list(levers)
    judge = Evaluator(cfg, worlds, seed)
    evaluated = []
    bar = run_bar(nfe, progress)

    def function(x):
        policy = {k: (round(v) if key_field(k, cfg).integer else float(v)) for k, v in zip(keys, x)}
        result = judge(policy)
        evaluated.append({**policy, **result})
        bar.update(1)
        return [result[o] for o in OBJECTIVES]

    problem = Problem(len(keys), len(OBJECTIVES))
    problem.types[:] = [Real(lo, hi) for lo, hi in levers.values()]
    problem.directions[:] = Problem.MINIMIZE
    problem.function = function
    random.seed(seed)  # Platypus draws from Python's random module
    algorithm = NSGAII(problem, population_size=population)
    algorithm.run(nfe)
    bar.close()
    every = pd.DataFrame(evaluated)
    front_solutions = nondominated(algorithm.result)
    front_x = {tuple(float(v) for v in s.variables) for s in front_solutions}
    in_front = every[keys].apply(lambda r: tuple(float(v) for v in r) in front_x, axis=1)
    pareto = every[in_front].drop_duplicates(subset=keys).sort_values(list(OBJECTIVES)).reset_index(drop=True)
    if outdir is None:
        return pareto
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    preset_table = judge_presets(cfg, judge, pareto, presets)
    from .files import write_csv, write_text

    write_csv(outdir / "pareto.csv", pareto)
    write_csv(outdir / "evaluated.csv", every)
    write_csv(outdir / "presets.csv", preset_table)
    summary = {"levers": levers, "worlds": worlds, "nfe": nfe, "population": population, "seed": seed,
               "objectives": {"p_loss": "share of sampled worlds that lose control",
                              "collateral_p90": "90th percentile of collateral node-hours over worlds"},
               "uncertain": list(cfg.uncertain), "levers_taken_out_of_the_uncertainty": set_by_policy,
               "scenario": cfg.scenario}
    write_text(outdir / "optimize.json", json.dumps(summary, indent=2))
    from .files import save_figure
    from .plots import pareto_figure

    save_figure(pareto_figure(every, pareto, preset_table), outdir / "figures" / "pareto.png", dpi=110,
                bbox_inches="tight")
    return pareto


def judge_presets(cfg: Config, judge: Evaluator, pareto: pd.DataFrame, presets=None) -> pd.DataFrame:
    """Each governance preset on the judge's worlds, with the indices (rows of ``pareto``) of the found policies
    that dominate it."""
    from .cli import regimes
    from .thresholds import with_regime

    rows = []
    for name in regimes() if presets is None else presets:
        result = judge({}, with_regime(cfg, name))
        row = pd.Series(result)
        beaten_by = [int(i) for i, p in pareto.iterrows() if _dominates(p, row)]
        rows.append({"preset": name, **result, "dominated_by": " ".join(map(str, beaten_by))})
    return pd.DataFrame(rows)
