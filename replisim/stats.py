"""Small statistics used in summaries and reports: Wilson intervals and quantile summaries."""

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
    """Probabilities with 95% Wilson intervals; medians and 5-95% quantiles of counts and shares."""
    rows = []
    n = len(outcomes)
    for col in ("extinct", "loss_of_control"):
        k = int(outcomes[col].sum())
        lo, hi = wilson(k, n)
        rows.append({"statistic": f"P({col})", "value": k / n, "low": lo, "high": hi})
    for col in ("peak_replicas", "final_replicas", "time_to_containment", "peak_compute_share",
                "final_compute_share", "detections", "shutdowns", "avoidance_events", "max_generation",
                "collateral_node_hours"):
        x = outcomes[col].to_numpy(dtype=float)
        x = x[~np.isnan(x)]
        if x.size == 0:
            rows.append({"statistic": f"median {col}", "value": np.nan, "low": np.nan, "high": np.nan})
            continue
        rows.append({"statistic": f"median {col}", "value": float(np.median(x)),
                     "low": float(np.quantile(x, 0.05)), "high": float(np.quantile(x, 0.95))})
    return pd.DataFrame(rows)
