"""Small statistics used in summaries, reports and figures: Wilson intervals, quantile summaries, Kaplan-Meier
survival curves and Pareto fronts."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats


def wilson(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (good coverage also near 0 and 1)."""
    if n == 0:
        return (np.nan, np.nan)
    z = stats.norm.ppf(0.5 + confidence / 2)
    p = successes / n
    denom = 1 + z**2 / n
    centre = (p + z**2 / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    # at k = 0 or k = n the exact bound is 0 or 1; the formula leaves round-off there
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return (low, high)


def summarize(outcomes: pd.DataFrame) -> pd.DataFrame:
    """Probabilities with 95% Wilson intervals (labelled as the terminal table and the report label them:
    ``terms.P_LABELS``); medians with the 5-95% spread of the runs. The ``interval`` column says which a row's
    ``low`` and ``high`` are; the median time to containment is over the contained runs only (the others have
    none), and its row says so."""
    from .terms import P_LABELS

    rows = []
    n = len(outcomes)
    for col in ("extinct", "loss_of_control"):
        k = int(outcomes[col].sum())
        lo, hi = wilson(k, n)
        rows.append({"statistic": P_LABELS[col], "value": k / n, "low": lo, "high": hi,
                     "interval": "Wilson 95% interval"})
    for col in ("peak_replicas", "final_replicas", "time_to_containment", "peak_compute_share",
                "final_compute_share", "detections", "shutdowns", "avoidance_events", "max_generation",
                "collateral_node_hours"):
        x = outcomes[col].to_numpy(dtype=float)
        x = x[~np.isnan(x)]
        name = f"median {col}" + (f" (the {x.size} contained runs)" if col == "time_to_containment" else "")
        if x.size == 0:
            rows.append({"statistic": name, "value": np.nan, "low": np.nan, "high": np.nan,
                         "interval": "5-95% of runs"})
            continue
        rows.append({"statistic": name, "value": float(np.median(x)),
                     "low": float(np.quantile(x, 0.05)), "high": float(np.quantile(x, 0.95)),
                     "interval": "5-95% of runs"})
    return pd.DataFrame(rows)


def kaplan_meier(durations, observed) -> tuple[np.ndarray, np.ndarray]:
    """Kaplan-Meier estimate: event times t_i (with 0 first) and S(t_i) = prod_{t_j <= t_i} (1 - d_j / n_j).

    d_j: events at t_j; n_j: subjects still at risk at t_j (duration >= t_j, so a subject censored at t_j
    counts as at risk at t_j, the usual convention). Returns ``(times, survival)`` of the right-continuous
    step function.
    """
    t = np.asarray(durations, dtype=float)
    e = np.asarray(observed, dtype=bool)
    if t.shape != e.shape:
        raise ValueError(f"kaplan_meier: durations {t.shape} and observed {e.shape} differ in shape")
    event_times = np.unique(t[e])
    surv = 1.0
    times, values = [0.0], [1.0]
    for tj in event_times:
        at_risk = int(np.sum(t >= tj))
        d = int(np.sum((t == tj) & e))
        surv *= 1.0 - d / at_risk
        times.append(float(tj))
        values.append(surv)
    return np.array(times), np.array(values)


def pareto_front(cost, risk) -> np.ndarray:
    """Indices of the points no other point beats on both cost and risk (lower is better), by ascending cost.

    A point is dominated when another is no worse on both and strictly better on one.
    """
    c = np.asarray(cost, dtype=float)
    r = np.asarray(risk, dtype=float)
    keep = []
    for i in range(c.size):
        dominated = np.any((c <= c[i]) & (r <= r[i]) & ((c < c[i]) | (r < r[i])))
        if not dominated:
            keep.append(i)
    keep = np.array(keep, dtype=int)
    return keep[np.lexsort((r[keep], c[keep]))] if keep.size else keep


def quantile_interval(x, q: float, confidence: float = 0.95) -> tuple[float, float, float]:
    """The q-quantile of ``x`` and its distribution-free interval [x_(j), x_(k)] (1-based order statistics).

    j is the largest rank with P(B <= j - 1) <= (1 - confidence) / 2 and k the smallest with P(B >= k) <=
    (1 - confidence) / 2, for B ~ Binomial(n, q) (the number of values below the population q-quantile): the
    interval covers it with probability >= ``confidence`` for any distribution. Too few values for an end give
    -inf / +inf there.
    """
    x = np.sort(np.asarray(x, dtype=float))
    n = x.size
    if n == 0:
        return (np.nan, np.nan, np.nan)
    tail = (1 - confidence) / 2
    ranks = np.arange(n + 1)
    below = stats.binom.cdf(ranks - 1, n, q)  # P(B <= r - 1) for r = 0 .. n
    ok_lo = np.flatnonzero(below[1:] <= tail) + 1
    above = stats.binom.sf(ranks - 1, n, q)  # P(B >= r)
    ok_hi = np.flatnonzero(above[1:] <= tail) + 1
    lo = float(x[ok_lo.max() - 1]) if ok_lo.size else -np.inf
    hi = float(x[ok_hi.min() - 1]) if ok_hi.size else np.inf
    return float(np.quantile(x, q)), lo, hi
