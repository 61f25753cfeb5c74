"""An adapter for the EMA Workbench: ``model(cfg)`` is an EMA ``Model`` with replisim's uncertainties, levers and
outcomes, so ``perform_experiments``, PRIM and ``optimize`` work on it unchanged.

    from ema_workbench import perform_experiments
    from ema_workbench.analysis import prim
    import replisim, replisim.ema
    cfg = replisim.compose(["uncertainty=default"])
    m = replisim.ema.model(cfg, levers={"governance.response_latency": (0, 72)})
    experiments, outcomes = perform_experiments(m, scenarios=100, policies=4)

* uncertainties: ``cfg.uncertain``, each with its own distribution (``RealParameter.from_dist`` with the same
  SciPy distribution ``replisim.uncertainty`` draws from; an integer key as an ``IntegerParameter`` over its
  support; ``fixed`` keys are left out, they do not vary);
* levers: any keys that may vary per run, given as ``{key: (low, high)}``;
* outcomes: the mean over ``runs`` runs of each of ``exploration.DEFAULT_OUTCOMES`` (for loss of control: the
  share of runs that lost control; a milestone never reached counts as the horizon).

EMA names must be Python identifiers: a key's dots become double underscores (``replica__attempt_rate``);
``key_of`` turns a name back. Each experiment simulates ``runs`` runs whose random streams are chosen by the
experiment's own values (a hash of them), so an experiment gives the same outcomes however the workbench orders or
spreads its experiments.
"""

from __future__ import annotations

import warnings
import zlib

import numpy as np

from . import uncertainty
from .config import Config, ConfigError
from .config.uncertain import key_field
from .exploration import DEFAULT_OUTCOMES, outcome_values


def name_of(key: str) -> str:
    return key.replace(".", "__")


def key_of(name: str) -> str:
    return name.replace("__", ".")


def _ema():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the workbench warns on import that optional parallel back ends are absent
        import ema_workbench
    return ema_workbench


def model(cfg: Config, levers: dict | None = None, outcomes=DEFAULT_OUTCOMES, runs: int = 1, name: str = "replisim"):
    """An EMA Workbench ``Model`` of ``cfg`` (module docstring)."""
    ema = _ema()
    if isinstance(runs, bool) or not isinstance(runs, int) or runs < 1:
        raise ConfigError(f"runs={runs!r}: allowed: an integer >= 1")
    fixed = uncertainty.with_values(cfg, {})
    horizon = cfg.sim.steps * cfg.sim.hours_per_step

    def function(**kwargs):
        from .simulate import simulate

        values = {key_of(k): float(v) for k, v in kwargs.items()}
        first = zlib.crc32(repr(sorted(values.items())).encode()) * runs
        ens = simulate(fixed, runs=runs, seed=cfg.seed, first_run=first,
                       design={k: np.full(runs, v) for k, v in values.items()})
        return {o: float(np.mean(outcome_values(ens.outcomes, o, horizon))) for o in outcomes}

    m = ema.Model(name, function=function)
    unc = []
    for key, spec in uncertainty.specs(cfg).items():
        dist = uncertainty.distribution(spec)
        if dist is None:
            continue
        if key_field(key, cfg).integer:
            unc.append(ema.IntegerParameter(name_of(key), int(spec.low), int(spec.high)))
        else:
            unc.append(ema.RealParameter.from_dist(name_of(key), dist))
    m.uncertainties = unc
    lev = []
    for key, bounds in (levers or {}).items():
        info = key_field(key, cfg)
        lo, hi = bounds
        if not info.low <= lo < hi <= info.high:
            raise ConfigError(f"levers.{key}=({lo}, {hi}): allowed: low < high inside [{info.low:g}, {info.high:g}]")
        lev.append(ema.IntegerParameter(name_of(key), int(lo), int(hi)) if info.integer
                   else ema.RealParameter(name_of(key), float(lo), float(hi)))
    m.levers = lev
    m.outcomes = [ema.ScalarOutcome(o, kind=ema.ScalarOutcome.MINIMIZE) for o in outcomes]
    return m
