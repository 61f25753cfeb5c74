"""What it would take: the value of one key at which the probability of an outcome reaches a target.

``what_it_takes(cfg, key, lo, hi, target=0.95, outcome="contained")`` searches ``[lo, hi]`` on the engine.
P(outcome) is taken to be monotone in the key over the interval (more detection, more containment; more
replication skill, less); the direction is read from the two ends.

The search (rounds of runs, each round a design passed to ``simulate``: one compiled call, no per-run Python):

1. where ``replisim.theory`` covers the configuration and the outcome is ``contained``, the theory's own answer
   (the key's value where its extinction probability by the horizon reaches the target, by bisection) centres
   the first round; otherwise the first round spreads over the whole interval;
2. each round runs ``points`` values x ``runs`` runs, fits a logistic curve of the outcome in the key to every
   run so far that lies inside the current bracket (maximum likelihood), and narrows the bracket to the values
   whose fitted log-odds lie within 1.5 of the target's (``LOGIT_BAND``);
3. the answer is the fitted curve's crossing of the target; its 95% interval comes from a bootstrap over the
   runs of the final bracket (resampling runs, refitting, 400 times), so it is the interval of the runs spent.

Each run is an independent draw (its own run index), so the bootstrap is valid: outcomes vary from run to run
at every value; a bracket where every run agrees is widened again rather than given a zero-width interval.
"""

from __future__ import annotations

import math

import numpy as np

from .config import Config, ConfigError
from .config.uncertain import key_field

OUTCOMES = {"contained": "extinct", "controlled": "loss_of_control"}
BOOTSTRAP = 400
# each round narrows the bracket to the values whose fitted log-odds lie within this of the target's (at a
# target of 0.95: fitted probabilities 0.81 - 0.99), where a logistic curve describes the data locally
LOGIT_BAND = 1.5


def _success(ens, outcome: str) -> np.ndarray:
    col = ens.outcomes[OUTCOMES[outcome]].to_numpy(bool)
    return col if outcome == "contained" else ~col


def _fit(x: np.ndarray, y: np.ndarray, scale: float, lo: float) -> tuple[float, float] | None:
    """Maximum-likelihood logistic fit of y on (x - lo) / scale: (intercept, slope), or None where the data do
    not determine a curve (one class only)."""
    from scipy.optimize import minimize

    if y.all() or not y.any():
        return None
    z = (x - lo) / scale

    def nll(beta):
        eta = beta[0] + beta[1] * z
        return float(np.sum(np.logaddexp(0.0, eta) - y * eta))

    def grad(beta):
        p = 1.0 / (1.0 + np.exp(-(beta[0] + beta[1] * z)))
        return np.array([np.sum(p - y), np.sum((p - y) * z)])

    res = minimize(nll, np.zeros(2), jac=grad, method="BFGS")
    return float(res.x[0]), float(res.x[1])


def _crossing(beta, target: float, scale: float, lo: float) -> float:
    a, b = beta
    if b == 0:
        return math.nan
    return lo + scale * (math.log(target / (1 - target)) - a) / b


def _bootstrap_crossings(x: np.ndarray, y: np.ndarray, target: float, scale: float, lo: float,
                         rng: np.random.Generator) -> np.ndarray:
    """The fitted crossing of ``target`` in each of BOOTSTRAP resamples of the runs (x, y); resamples with one
    class only, or with a flat fit, give none."""
    boot = []
    for _ in range(BOOTSTRAP):
        k = rng.integers(0, x.size, x.size)
        bb = _fit(x[k], y[k], scale, lo)
        if bb is not None:
            boot.append(_crossing(bb, target, scale, lo))
    return np.array([v for v in boot if math.isfinite(v)])


def _theory_guess(cfg: Config, key: str, lo: float, hi: float, target: float) -> float | None:
    """The theory's value of the key at which P(extinct by the horizon) reaches the target, where it covers the
    configuration (None otherwise)."""
    from . import theory, uncertainty

    def p(v):
        return theory.extinction_probability(uncertainty.with_values(cfg, {key: v}), cfg.sim.steps)

    try:
        plo, phi = p(lo), p(hi)
    except (NotImplementedError, ValueError, ConfigError):
        return None
    if (plo - target) * (phi - target) > 0:
        return None
    a, b = lo, hi
    for _ in range(50):
        mid = 0.5 * (a + b)
        if (p(mid) - target) * (plo - target) > 0:
            a = mid
        else:
            b = mid
    return 0.5 * (a + b)


def what_it_takes(cfg: Config, key: str, lo: float, hi: float, target: float = 0.95, outcome: str = "contained",
                  runs: int = 200, points: int = 8, rounds: int = 4, seed: int | None = None,
                  progress: bool = False) -> dict:
    """The value of ``key`` in [lo, hi] at which P(``outcome``) reaches ``target``, with a 95% interval.

    ``outcome``: ``contained`` (every replica gone by the horizon) or ``controlled`` (no loss of control).
    Returns ``{"value", "low", "high", "runs", "direction", "theory", "note"}``: ``value`` is NaN when the
    target is not reached in [lo, hi] (``note`` says at which end it stands).
    """
    from . import uncertainty
    from .simulate import simulate

    if outcome not in OUTCOMES:
        raise ConfigError(f"outcome={outcome!r} is not allowed; choose one of {', '.join(OUTCOMES)}")
    if not (isinstance(target, float | int) and 0 < target < 1):
        raise ConfigError(f"target={target!r}: allowed: a probability strictly between 0 and 1")
    info = key_field(key, cfg)
    if not (math.isfinite(lo) and math.isfinite(hi) and info.low <= lo < hi <= info.high):
        raise ConfigError(f"{key} search interval [{lo}, {hi}]: allowed: low < high inside the key's range "
                          f"[{info.low:g}, {info.high:g}]")
    seed = cfg.seed if seed is None else seed
    fixed = uncertainty.with_values(cfg, {})
    used = [0]  # run indices are handed out in order: every run of the search is an independent draw
    xs, ys = [], []

    def run_at(values: np.ndarray) -> np.ndarray:
        values = np.repeat(values, runs)
        ens = simulate(fixed, runs=values.size, seed=seed, first_run=used[0], design={key: values},
                       progress=progress)
        used[0] += values.size
        xs.append(ens.outcomes[key].to_numpy(np.float64))
        ys.append(_success(ens, outcome))
        return ys[-1].reshape(-1, runs).mean(axis=1)

    ends = run_at(np.array([lo, hi]))
    direction = 1 if ends[1] >= ends[0] else -1
    guess = _theory_guess(fixed, key, lo, hi, target) if outcome == "contained" else None
    if (ends - target).min() > 0 or (ends - target).max() < 0:
        where = "below" if ends.max() < target else "above"
        return {"value": math.nan, "low": math.nan, "high": math.nan, "runs": used[0], "direction": direction,
                "theory": guess, "note": f"P({outcome}) is {where} {target} at both ends ({ends[0]:.2f} at {lo:g}, "
                                         f"{ends[1]:.2f} at {hi:g}): not reached in the interval"}
    a, b = lo, hi
    if guess is not None:  # the theory's answer centres the first round
        half = 0.25 * (hi - lo)
        a, b = max(lo, guess - half), min(hi, guess + half)
    scale = hi - lo
    beta = None
    for _ in range(rounds):
        run_at(np.linspace(a, b, points))
        x, y = np.concatenate(xs), np.concatenate(ys)
        inside = (x >= a) & (x <= b)
        beta = _fit(x[inside], y[inside], scale, lo)
        if beta is None:  # every run in the bracket agrees: the crossing lies outside it
            a, b = lo, hi
            continue
        grid = np.linspace(lo, hi, 2001)
        logit = beta[0] + beta[1] * (grid - lo) / scale
        near = grid[np.abs(logit - math.log(target / (1 - target))) <= LOGIT_BAND]
        if near.size:
            a, b = float(near.min()), float(near.max())
    x, y = np.concatenate(xs), np.concatenate(ys)
    inside = (x >= a) & (x <= b)
    beta = _fit(x[inside], y[inside], scale, lo)
    if beta is None:
        beta = _fit(x, y, scale, lo)
    value = _crossing(beta, target, scale, lo)
    boot = _bootstrap_crossings(x[inside], y[inside], target, scale, lo, np.random.default_rng([seed, 0x746872]))
    low, high = (np.quantile(boot, [0.025, 0.975]) if boot.size >= BOOTSTRAP // 2 else (math.nan, math.nan))
    note = (f"logistic fit to {int(inside.sum()):,} runs in [{a:.4g}, {b:.4g}], 95% bootstrap interval over runs"
            + (f"; theory (branching process, extinction by the horizon): {guess:.4g}" if guess is not None else
               "; the theory does not cover this configuration or outcome"))
    return {"value": float(np.clip(value, lo, hi)), "low": float(low), "high": float(high), "runs": used[0],
            "direction": direction, "theory": guess, "note": note}


def frontier(cfg: Config, key: str, values, regimes=None, runs: int = 100, target: float = 0.95,
             outcome: str = "contained", log: bool = False, seed: int | None = None, progress: bool = False):
    """P(``outcome``) of each regime against one capability axis ``key`` (e.g. ``replica.attempt_rate``), and
    each regime's red line: the value of the key at which P(outcome) falls through ``target``.

    Each regime runs ``runs`` runs at each of ``values`` (one design: one compiled call), the same run indices
    in every regime (common random numbers). The red line is the crossing of a logistic fit of the outcome in
    the key (in log(key) when ``log``) to all of the regime's runs, with a 95% bootstrap interval over runs; NaN
    where P(outcome) does not cross the target inside the values (the regime contains, or fails, throughout).

    Returns ``(table, lines)``: ``table`` one row per (regime, value) with ``p``, ``low``, ``high`` (Wilson 95%),
    ``runs``; ``lines`` one row per regime with ``value``, ``low``, ``high``, ``note``.
    """
    import pandas as pd

    from . import uncertainty
    from .simulate import simulate
    from .stats import wilson

    if outcome not in OUTCOMES:
        raise ConfigError(f"outcome={outcome!r} is not allowed; choose one of {', '.join(OUTCOMES)}")
    values = np.asarray(values, np.float64)
    seed = cfg.seed if seed is None else seed
    regimes = [cfg.governance.name] if regimes is None else list(regimes)
    transform = np.log if log else (lambda v: v)
    rows, lines = [], []
    for regime in regimes:
        reg_cfg = cfg if regime == cfg.governance.name else with_regime(cfg, regime)
        design = np.repeat(values, runs)
        ens = simulate(uncertainty.with_values(reg_cfg, {}), runs=design.size, seed=seed,
                       design={key: design}, progress=progress)
        ok = _success(ens, outcome)
        for k, v in enumerate(values):
            hit = ok[k * runs:(k + 1) * runs]
            lo_w, hi_w = wilson(int(hit.sum()), runs)
            rows.append({"regime": regime, key: v, "runs": runs, "p": hit.mean(), "low": lo_w, "high": hi_w})
        lines.append({"regime": regime, **_red_line(transform(design), ok, target, transform(values), log, seed)})
    return pd.DataFrame(rows), pd.DataFrame(lines)


def with_regime(cfg: Config, regime: str) -> Config:
    """``cfg`` under another governance preset: the preset's governance section, everything else kept."""
    import dataclasses

    from .config import compose

    return dataclasses.replace(cfg, governance=compose([f"governance={regime}"]).governance)


def _red_line(x: np.ndarray, y: np.ndarray, target: float, grid: np.ndarray, log: bool, seed: int) -> dict:
    lo, hi = float(grid.min()), float(grid.max())
    scale = hi - lo
    back = np.exp if log else (lambda v: v)
    p = np.array([y[x == g].mean() for g in grid])
    if (p >= target).all() or (p < target).all():
        where = "above" if (p >= target).all() else "below"
        return {"value": math.nan, "low": math.nan, "high": math.nan,
                "note": f"P {where} {target} at every value: no crossing in the range"}
    beta = _fit(x, y, scale, lo)
    value = _crossing(beta, target, scale, lo)
    boot = _bootstrap_crossings(x, y, target, scale, lo, np.random.default_rng([seed, 0x667274]))
    qlo, qhi = np.quantile(boot, [0.025, 0.975]) if boot.size else (math.nan, math.nan)
    return {"value": float(back(np.clip(value, lo, hi))), "low": float(back(np.clip(qlo, lo, hi))),
            "high": float(back(np.clip(qhi, lo, hi))), "note": "logistic fit, 95% bootstrap interval over runs"}
