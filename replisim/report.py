"""Comparison of governance regimes against a baseline: effect sizes with bootstrap intervals and tests.

``compare(frame)`` takes the tidy outcome table of several ensembles (one row per run, a column naming the
regime) and returns one row per regime:

* P(loss of control) with its 95% Wilson interval, median peak population, median collateral node-hours,
  P(contained) (extinct by the horizon);
* the difference to the baseline in P(loss of control) and in median peak population, each with a 95%
  percentile bootstrap interval (``scipy.stats.bootstrap``, fixed seed, so the table is reproducible);
* a two-sided test of each difference: Fisher's exact test on the 2x2 table of loss of control (exact, so it
  stays valid for the small counts near P = 0 or 1 that governance comparisons produce), and the Mann-Whitney
  U test on peak population (rank-based: peak populations are heavy-tailed and bounded by capacity, so a
  t-test's normality is not available); Holm-adjusted p-values across the regimes of one table, because an
  analyst reads all the rows at once.

``markdown(frame, comparison, title)`` renders the table with its methods; the CSV is ``comparison.to_csv``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from .results import LOSS_OF_CONTROL
from .stats import wilson

CONFIDENCE = 0.95
N_RESAMPLES = 4999  # odd, so percentile ends fall on resamples; ~0.3% Monte Carlo error on a 95% end point
BOOTSTRAP_SEED = 20240  # fixed: the same frame always gives the same intervals

COLUMNS = (
    "runs", "p_loss", "p_loss_low", "p_loss_high",
    "diff_p_loss", "diff_p_loss_low", "diff_p_loss_high", "p_value_loss", "p_value_loss_holm",
    "median_peak", "diff_median_peak", "diff_median_peak_low", "diff_median_peak_high",
    "p_value_peak", "p_value_peak_holm", "median_collateral_node_hours", "p_contained",
)


def _mean(a, axis=-1):
    return np.mean(a, axis=axis)


def _median(a, axis=-1):
    return np.median(a, axis=axis)


def bootstrap_diff(x: np.ndarray, y: np.ndarray, statistic=_mean, seed: int = BOOTSTRAP_SEED,
                   n_resamples: int = N_RESAMPLES) -> tuple[float, float, float]:
    """``statistic(x) - statistic(y)`` with a 95% percentile bootstrap interval (independent resampling).

    Percentile rather than BCa: BCa's jackknife acceleration is undefined for constant or nearly constant
    samples (all runs lose control; medians of tied counts), which are common here and would give NaN.
    When both samples are constant every resample gives the same value, so the interval has zero width;
    that case is answered directly instead of asking scipy to bootstrap degenerate data.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    d = float(statistic(x) - statistic(y))
    if np.all(x == x[0]) and np.all(y == y[0]):
        return d, d, d
    res = stats.bootstrap((x, y), lambda a, b, axis=-1: statistic(a, axis) - statistic(b, axis),
                          vectorized=True, paired=False, confidence_level=CONFIDENCE, method="percentile",
                          n_resamples=n_resamples, rng=np.random.default_rng(seed))
    lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
    if not (np.isfinite(lo) and np.isfinite(hi)):  # defensive: degenerate resamples
        return d, d, d
    return d, lo, hi


def holm(p_values) -> np.ndarray:
    """Holm step-down adjustment (controls the family-wise error rate; NaN entries are left out)."""
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    idx = np.flatnonzero(~np.isnan(p))
    if idx.size == 0:
        return out
    order = idx[np.argsort(p[idx], kind="stable")]
    m = order.size
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out


def _mannwhitney(x: np.ndarray, y: np.ndarray) -> float:
    both = np.concatenate([x, y])
    if np.all(both == both[0]):
        return 1.0  # no difference at all; scipy would divide by a zero variance
    return float(stats.mannwhitneyu(x, y, alternative="two-sided").pvalue)


def compare(frame: pd.DataFrame, by: str = "governance", baseline: str = "none") -> pd.DataFrame:
    """Each regime (value of ``by``) against ``baseline``; one row per regime, baseline first.

    ``frame`` needs the outcome columns ``loss_of_control``, ``peak_replicas``, ``collateral_node_hours`` and
    ``extinct``. Raises ``ValueError`` naming the missing column or baseline and what is available.
    """
    need = [by, "loss_of_control", "peak_replicas", "collateral_node_hours", "extinct"]
    missing = [c for c in need if c not in frame.columns]
    if missing:
        raise ValueError(f"compare: column {missing[0]!r} missing; frame has: {', '.join(map(str, frame.columns))}")
    regimes = list(pd.unique(frame[by]))
    if baseline not in regimes:
        raise ValueError(f"compare: baseline={baseline!r} is not a value of {by!r}; "
                         f"allowed: {', '.join(map(str, regimes))}")
    regimes.remove(baseline)
    regimes.insert(0, baseline)
    groups = {r: frame[frame[by] == r] for r in regimes}
    base = groups[baseline]
    base_loss = base["loss_of_control"].to_numpy(dtype=float)
    base_peak = base["peak_replicas"].to_numpy(dtype=float)
    rows = []
    for k, (name, g) in enumerate(groups.items()):
        loss = g["loss_of_control"].to_numpy(dtype=float)
        peak = g["peak_replicas"].to_numpy(dtype=float)
        n, hits = loss.size, int(loss.sum())
        lo, hi = wilson(hits, n, CONFIDENCE)
        # a different seed per row so rows do not share resampling noise, but each row is reproducible
        d_loss = bootstrap_diff(loss, base_loss, _mean, seed=BOOTSTRAP_SEED + 2 * k)
        d_peak = bootstrap_diff(peak, base_peak, _median, seed=BOOTSTRAP_SEED + 2 * k + 1)
        if name == baseline:
            p_loss = p_peak = np.nan  # a regime is not tested against itself
        else:
            b_hits = int(base_loss.sum())
            table = [[hits, n - hits], [b_hits, base_loss.size - b_hits]]
            p_loss = float(stats.fisher_exact(table, alternative="two-sided").pvalue)
            p_peak = _mannwhitney(peak, base_peak)
        rows.append({
            by: name, "runs": n, "p_loss": hits / n, "p_loss_low": lo, "p_loss_high": hi,
            "diff_p_loss": d_loss[0], "diff_p_loss_low": d_loss[1], "diff_p_loss_high": d_loss[2],
            "p_value_loss": p_loss, "median_peak": float(np.median(peak)),
            "diff_median_peak": d_peak[0], "diff_median_peak_low": d_peak[1], "diff_median_peak_high": d_peak[2],
            "p_value_peak": p_peak,
            "median_collateral_node_hours": float(np.median(g["collateral_node_hours"].to_numpy(dtype=float))),
            "p_contained": float(g["extinct"].to_numpy(dtype=float).mean()),
        })
    out = pd.DataFrame(rows)
    out["p_value_loss_holm"] = holm(out["p_value_loss"])
    out["p_value_peak_holm"] = holm(out["p_value_peak"])
    return out[[by, *COLUMNS]]


def _fmt_p(p: float) -> str:
    if np.isnan(p):
        return "-"
    return "<0.001" if p < 1e-3 else f"{p:.3f}"


def _fmt_num(x: float) -> str:
    if np.isnan(x):
        return "-"
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"


def markdown(frame: pd.DataFrame, comparison: pd.DataFrame, title: str) -> str:
    """A Markdown report: the comparison table, what was run, and how the numbers were computed.

    ``comparison`` is the output of :func:`compare`, or several of them stacked with grouping columns
    inserted in front (e.g. one comparison per scenario); those columns are shown first.
    """
    cols = list(comparison.columns)
    by = cols[cols.index("runs") - 1]  # compare() returns [by, runs, ...]; anything before by groups tables
    groups = cols[:cols.index(by)]
    baseline = comparison[by].iloc[0]
    lines = [f"# {title}", ""]
    context = []
    for col in ("scenario", "seed"):
        if col in frame.columns and col not in groups:
            context.append(f"{col}: {', '.join(map(str, pd.unique(frame[col])))}")
    runs = sorted(set(comparison["runs"]))
    context.append(f"runs per {by}: {', '.join(map(str, runs))}")
    lines += ["; ".join(context) + ".", ""]
    head = "".join(f"| {g} " for g in groups)
    lines += [
        f"{head}| {by} | runs | P(loss of control) [95% CI] | diff vs {baseline} [95% CI] | p (Holm) "
        f"| median peak | diff vs {baseline} [95% CI] | p (Holm) | median collateral node-hours | P(contained) |",
        "|---" * len(groups) + "|---|---:|---|---|---:|---:|---|---:|---:|---:|",
    ]
    for _, r in comparison.iterrows():
        lines.append(
            "".join(f"| {r[g]} " for g in groups)
            + f"| {r[by]} | {r['runs']} | {r['p_loss']:.3f} [{r['p_loss_low']:.3f}, {r['p_loss_high']:.3f}] "
            f"| {r['diff_p_loss']:+.3f} [{r['diff_p_loss_low']:+.3f}, {r['diff_p_loss_high']:+.3f}] "
            f"| {_fmt_p(r['p_value_loss_holm'])} | {_fmt_num(r['median_peak'])} "
            f"| {r['diff_median_peak']:+,.0f} [{r['diff_median_peak_low']:+,.0f}, {r['diff_median_peak_high']:+,.0f}] "
            f"| {_fmt_p(r['p_value_peak_holm'])} | {_fmt_num(r['median_collateral_node_hours'])} "
            f"| {r['p_contained']:.3f} |"
        )
    family = (f"within each combination of {', '.join(groups)}" if groups
              else f"over the {max(len(comparison) - 1, 0)} comparisons of this table")
    lines += [
        "",
        "Methods: P(loss of control) intervals are Wilson score intervals. Differences against the baseline carry "
        f"95% percentile bootstrap intervals (scipy.stats.bootstrap, {N_RESAMPLES} resamples, fixed seed "
        f"{BOOTSTRAP_SEED}). Tests are two-sided: Fisher's exact test for loss of control, Mann-Whitney U for "
        f"peak population (a test of a shift in distribution, not of medians only); p-values are Holm-adjusted "
        f"{family}. {LOSS_OF_CONTROL[0].upper() + LOSS_OF_CONTROL[1:]}. "
        "Collateral: node-hours taken offline by shutdowns, quarantine and false positives.",
        "",
    ]
    return "\n".join(lines)
