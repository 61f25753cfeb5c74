"""Comparison of governance regimes against a baseline: differences with intervals valid for the data, and a
verdict that says whether a difference is large enough to matter.

``compare(frame)`` takes the tidy outcome table of several ensembles (one row per run, a column naming the
regime) and returns one row per regime, against the baseline regime:

* P(loss of control) and P(contained) (no replica left at the horizon: ``replisim.terms``), each with its 95%
  Wilson score interval, and the difference to the baseline with Newcombe's hybrid score interval (Newcombe
  1998, method 10: built from the two Wilson intervals, so it keeps its coverage at 0 and 1 and never collapses
  to zero width: 0/200 against 0/200 gives [-0.019, +0.019]); Fisher's exact test of the 2 x 2 table,
  Holm-adjusted across the table's regimes;
* medians of the hours to reach 10% of compute, of the peak and of the final population, each with a
  distribution-free 95% interval from order statistics (valid for any distribution, ties and constant samples
  included; a run that never reaches 10% counts as reaching it after the horizon, so the median is censored
  only when half the runs never reach it); the difference of two medians gets the interval of the two
  97.5% intervals (Bonferroni: both hold together with probability >= 95%, whatever the data);
* a verdict per outcome: ``lower`` or ``higher`` when the whole interval of the difference lies beyond the
  practical threshold (PRACTICAL: 0.05 in a probability, 10% of the baseline's median in a count or a time),
  ``no material change`` when it lies within it, ``inconclusive`` otherwise. A p-value says whether a
  difference is there; the verdict says whether it matters: with 200 runs a shift of one replica is never
  ``lower``.

``markdown(frame, comparison, title)`` renders the table with its methods, warns when an outcome is the same
in every row (the comparison cannot separate the regimes on it) and names the outcome that does.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from .stats import wilson
from .terms import P_LABELS, definitions_sentence, fmt_interval, fmt_num, fmt_p

CONFIDENCE = 0.95
# what counts as a difference that matters: an absolute change of a probability, a relative change of a median
PRACTICAL = {"probability": 0.05, "relative": 0.10}
TIME_COLUMN = "hours_to_10pct_compute"

COLUMNS = (
    "runs",
    "p_loss", "p_loss_low", "p_loss_high", "diff_p_loss", "diff_p_loss_low", "diff_p_loss_high",
    "p_value_loss", "p_value_loss_holm", "loss_verdict",
    "p_extinct", "p_extinct_low", "p_extinct_high", "diff_p_extinct", "diff_p_extinct_low", "diff_p_extinct_high",
    "p_value_extinct", "p_value_extinct_holm", "extinct_verdict",
    "median_hours_to_10pct", "median_hours_to_10pct_low", "median_hours_to_10pct_high", "hours_to_10pct_verdict",
    "median_peak", "median_peak_low", "median_peak_high", "diff_median_peak", "diff_median_peak_low",
    "diff_median_peak_high", "p_value_peak", "p_value_peak_holm", "peak_verdict",
    "median_final", "median_final_low", "median_final_high",
    "median_collateral_node_hours",
)
VERDICTS = ("lower", "higher", "no material change", "inconclusive")


def newcombe(k1: int, n1: int, k2: int, n2: int, confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """p1 - p2 with Newcombe's hybrid score interval (method 10 of Newcombe 1998) from the Wilson intervals."""
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = wilson(k1, n1, confidence)
    l2, u2 = wilson(k2, n2, confidence)
    d = p1 - p2
    return d, d - float(np.hypot(p1 - l1, u2 - p2)), d + float(np.hypot(u1 - p1, p2 - l2))


def median_interval(x, confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """Median of ``x`` and its distribution-free interval [x_(j), x_(n+1-j)] (1-based order statistics).

    j is the largest rank with P(B <= j - 1) <= (1 - confidence) / 2 for B ~ Binomial(n, 1/2); the interval
    covers the population median with probability >= ``confidence`` for any distribution, discrete ones
    included. Values may be +inf (censored after the horizon); with too few runs for any j the ends are
    -inf / +inf.
    """
    x = np.sort(np.asarray(x, dtype=float))
    n = x.size
    if n == 0:
        return (np.nan, np.nan, np.nan)
    alpha = 1 - confidence
    k = int(stats.binom.ppf(alpha / 2, n, 0.5))  # the smallest k with P(B <= k) >= alpha / 2
    j = (k if stats.binom.cdf(k, n, 0.5) <= alpha / 2 else k - 1) + 1  # the largest j, P(B <= j - 1) <= alpha/2
    med = float(np.median(x))
    lo = float(x[j - 1]) if j >= 1 else -np.inf
    hi = float(x[n - j]) if j >= 1 else np.inf
    return med, lo, hi


def verdict(low: float, high: float, threshold: float) -> str:
    """``lower``/``higher`` when the interval [low, high] of a difference lies wholly beyond -/+threshold,
    ``no material change`` when it lies within [-threshold, threshold], else ``inconclusive``."""
    if np.isnan(low) or np.isnan(high):
        return "inconclusive"
    if high < -threshold:
        return "lower"
    if low > threshold:
        return "higher"
    if -threshold <= low and high <= threshold:
        return "no material change"
    return "inconclusive"


def _median_diff(x, y) -> tuple[float, float, float]:
    """median(x) - median(y) and the interval from the two 97.5% median intervals (>= 95% together)."""
    mx, lx, hx = median_interval(x, 1 - (1 - CONFIDENCE) / 2)
    my, ly, hy = median_interval(y, 1 - (1 - CONFIDENCE) / 2)
    with np.errstate(invalid="ignore"):
        return float(np.median(x) - np.median(y)), float(lx - hy), float(hx - ly)


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


def _fisher(k1, n1, k2, n2) -> float:
    return float(stats.fisher_exact([[k1, n1 - k1], [k2, n2 - k2]], alternative="two-sided").pvalue)


def _times(g: pd.DataFrame) -> np.ndarray:
    """Hours to 10% of compute; a run that never got there counts as +inf (after the horizon)."""
    if TIME_COLUMN not in g.columns:  # a table from before the outcome existed
        return np.full(len(g), np.nan)
    t = g[TIME_COLUMN].to_numpy(dtype=float)
    return np.where(np.isnan(t), np.inf, t)


def compare(frame: pd.DataFrame, by: str = "governance", baseline: str = "none") -> pd.DataFrame:
    """Each regime (value of ``by``) against ``baseline``; one row per regime, baseline first.

    ``frame`` needs the outcome columns ``loss_of_control``, ``extinct``, ``peak_replicas``, ``final_replicas``
    and ``collateral_node_hours`` (``hours_to_10pct_compute`` where it has it). Raises ``ValueError`` naming
    the missing column or baseline and what is available.
    """
    need = [by, "loss_of_control", "extinct", "peak_replicas", "final_replicas", "collateral_node_hours"]
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
    nb = len(base)
    b_loss, b_ext = int(base["loss_of_control"].sum()), int(base["extinct"].sum())
    b_peak = base["peak_replicas"].to_numpy(dtype=float)
    b_times = _times(base)
    peak_threshold = PRACTICAL["relative"] * max(float(np.median(b_peak)), 1.0)
    b_med_time = median_interval(b_times)[0]
    finite = np.concatenate([t[np.isfinite(t)] for t in map(_times, groups.values())])
    time_scale = b_med_time if np.isfinite(b_med_time) else (finite.max() if finite.size else np.nan)
    rows = []
    for name, g in groups.items():
        n = len(g)
        loss, ext = int(g["loss_of_control"].sum()), int(g["extinct"].sum())
        peak = g["peak_replicas"].to_numpy(dtype=float)
        times = _times(g)
        row = {by: name, "runs": n}
        for key, k, kb in (("loss", loss, b_loss), ("extinct", ext, b_ext)):
            lo, hi = wilson(k, n, CONFIDENCE)
            # the baseline is not compared with itself
            d, dlo, dhi = (np.nan,) * 3 if name == baseline else newcombe(k, n, kb, nb)
            row |= {f"p_{key}": k / n, f"p_{key}_low": lo, f"p_{key}_high": hi, f"diff_p_{key}": d,
                    f"diff_p_{key}_low": dlo, f"diff_p_{key}_high": dhi,
                    f"p_value_{key}": np.nan if name == baseline else _fisher(k, n, kb, nb),
                    f"{key}_verdict": "-" if name == baseline else verdict(dlo, dhi, PRACTICAL["probability"])}
        mt = median_interval(times)
        if name == baseline or np.isnan(time_scale):
            time_verdict = "-"
        elif np.isinf(mt[1]) and np.isinf(median_interval(b_times)[1]):
            time_verdict = "not reached in either"
        else:
            _, tlo, thi = _median_diff(times, b_times)
            time_verdict = verdict(tlo, thi, PRACTICAL["relative"] * time_scale)
        row |= {"median_hours_to_10pct": mt[0], "median_hours_to_10pct_low": mt[1],
                "median_hours_to_10pct_high": mt[2], "hours_to_10pct_verdict": time_verdict}
        mp = median_interval(peak)
        dp = (np.nan,) * 3 if name == baseline else _median_diff(peak, b_peak)
        row |= {"median_peak": mp[0], "median_peak_low": mp[1], "median_peak_high": mp[2],
                "diff_median_peak": dp[0], "diff_median_peak_low": dp[1], "diff_median_peak_high": dp[2],
                "p_value_peak": np.nan if name == baseline else _mannwhitney(peak, b_peak),
                "peak_verdict": "-" if name == baseline else verdict(dp[1], dp[2], peak_threshold)}
        mf = median_interval(g["final_replicas"].to_numpy(dtype=float))
        row |= {"median_final": mf[0], "median_final_low": mf[1], "median_final_high": mf[2],
                "median_collateral_node_hours": float(np.median(g["collateral_node_hours"].to_numpy(dtype=float)))}
        rows.append(row)
    out = pd.DataFrame(rows)
    for key in ("loss", "extinct", "peak"):
        out[f"p_value_{key}_holm"] = holm(out[f"p_value_{key}"])
    return out[[by, *COLUMNS]]


def _fmt_p(p: float) -> str:
    if np.isnan(p):
        return "-"
    return "<0.001" if p < 1e-3 else f"{p:.3f}"


def _diff(d, lo, hi) -> str:
    return "-" if np.isnan(d) else f"{d:+.3f} [{lo:+.3f}, {hi:+.3f}]"


def _interval(v, lo, hi, fmt=fmt_num) -> str:
    return f"{fmt(v)} {fmt_interval(lo, hi, fmt)}"


# outcomes whose sameness across every row the report warns about, and the columns that show them
_SEPARATING = ((P_LABELS["loss_of_control"], "p_loss"), (P_LABELS["extinct"], "p_extinct"),
               ("median hours to 10% of compute", "median_hours_to_10pct"), ("median peak", "median_peak"),
               ("median final population", "median_final"))


def separation_warnings(comparison: pd.DataFrame) -> list[str]:
    """One line per probability that is 0 in every row or 1 in every row: the table cannot separate the
    regimes on it; the line names the first outcome that does differ between rows (or says none does)."""
    varies = [label for label, col in _SEPARATING
              if col in comparison and comparison[col].replace([np.inf], 1e300).nunique(dropna=False) > 1]
    lines = []
    for label, col in _SEPARATING[:2]:
        values = comparison[col].to_numpy(dtype=float)
        if values.size > 1 and (np.all(values == 0) or np.all(values == 1)):
            other = next((v for v in varies if v != label), None)
            hint = f"read {other}, which does" if other else "no outcome of this table does"
            lines.append(f"{label} is {values[0]:.0f} in every row: this comparison cannot separate the regimes "
                         f"on it; {hint}.")
    return lines


def markdown(frame: pd.DataFrame, comparison: pd.DataFrame, title: str, context: list[str] | None = None,
             notes: dict | None = None) -> str:
    """A Markdown report: the comparison table, what was run, and how the numbers were computed.

    ``comparison`` is the output of :func:`compare`, or several of them stacked with grouping columns
    inserted in front (e.g. one comparison per scenario); those columns are shown first. ``context``: lines
    saying what was run (e.g. the fixed overrides); ``notes``: per value of the compared column, one line
    (e.g. what it would take, from ``replisim.theory``).
    """
    cols = list(comparison.columns)
    by = cols[cols.index("runs") - 1]  # compare() returns [by, runs, ...]; anything before by groups tables
    groups = cols[:cols.index(by)]
    baseline = comparison[by].iloc[0]
    lines = [f"# {title}", ""]
    said = []
    for col in ("scenario", "seed"):
        if col in frame.columns and col not in groups:
            said.append(f"{col}: {', '.join(map(str, pd.unique(frame[col])))}")
    runs = sorted(set(comparison["runs"]))
    said.append(f"runs per {by}: {', '.join(map(fmt_num, runs))}")
    lines += ["; ".join(said) + ".", ""]
    lines += [f"- {c}" for c in context or []]
    if context:
        lines.append("")
    warnings = separation_warnings(comparison)
    lines += [f"> **Note.** {w}" for w in warnings]
    if warnings:
        lines.append("")
    head = "".join(f"| {g} " for g in groups)
    lines += [
        f"{head}| {by} | runs | {P_LABELS['loss_of_control']} [95% CI] | diff vs {baseline} [95% CI] | verdict "
        f"| {P_LABELS['extinct']} [95% CI] | diff vs {baseline} [95% CI] | verdict "
        f"| median hours to 10% of compute [95% CI] | verdict | median peak [95% CI] | verdict "
        f"| median final [95% CI] | median collateral node-hours |",
        "|---" * len(groups) + "|---|---:|---|---|---|---|---|---|---|---|---|---|---|---:|",
    ]
    for _, r in comparison.iterrows():
        lines.append(
            "".join(f"| {r[g]} " for g in groups)
            + f"| {r[by]} | {fmt_num(r['runs'])} "
            f"| {_interval(r['p_loss'], r['p_loss_low'], r['p_loss_high'], fmt_p)} "
            f"| {_diff(r['diff_p_loss'], r['diff_p_loss_low'], r['diff_p_loss_high'])} "
            f"| {r['loss_verdict']} "
            f"| {_interval(r['p_extinct'], r['p_extinct_low'], r['p_extinct_high'], fmt_p)} "
            f"| {_diff(r['diff_p_extinct'], r['diff_p_extinct_low'], r['diff_p_extinct_high'])} "
            f"| {r['extinct_verdict']} "
            f"| {_interval(r['median_hours_to_10pct'], r['median_hours_to_10pct_low'], r['median_hours_to_10pct_high'])} "
            f"| {r['hours_to_10pct_verdict']} "
            f"| {_interval(r['median_peak'], r['median_peak_low'], r['median_peak_high'])} | {r['peak_verdict']} "
            f"| {_interval(r['median_final'], r['median_final_low'], r['median_final_high'])} "
            f"| {fmt_num(r['median_collateral_node_hours'])} |"
        )
    if notes:
        lines += ["", "What it would take:", ""]
        lines += [f"- `{name}`: {notes[name]}" for name in comparison[by] if name in notes]
    family = (f"within each combination of {', '.join(groups)}" if groups
              else f"over the {max(len(comparison) - 1, 0)} comparisons of this table")
    lines += [
        "",
        "Methods: probabilities carry 95% Wilson score intervals; their differences against the baseline carry "
        "Newcombe's hybrid score intervals (method 10), which keep their coverage at 0 and 1. Medians carry "
        "distribution-free 95% intervals from order statistics; a difference of medians, the interval of the "
        "two 97.5% intervals. Verdict: `lower`/`higher` when the whole interval of the difference lies beyond "
        f"the practical threshold ({PRACTICAL['probability']:.2f} in a probability, "
        f"{PRACTICAL['relative']:.0%} of the baseline's median in a count or a time), `no material change` "
        "when it lies within it, `inconclusive` otherwise. Fisher's exact tests (loss of control, containment) "
        f"and Mann-Whitney U (peak) are Holm-adjusted {family} and kept in comparison.csv. A run that never "
        "reaches 10% of compute counts as reaching it after the horizon (`never`: half the runs or more "
        f"never did). {definitions_sentence()} Collateral cost: "
        "docs/governance.md, \"Collateral cost\" (node-hours of shutdowns, quarantine, false alarms and withheld "
        "capacity; the outcome table splits it by cause).",
        "",
    ]
    return "\n".join(lines)
