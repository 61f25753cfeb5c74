"""Figures of ensemble outcomes. Every function takes data and returns a ``matplotlib.figure.Figure``.

Nothing here writes files or touches pyplot's global state: figures are built on ``Figure`` objects
directly, so they work under any backend (Agg on servers and in CI) and are freed when dropped. Only the
entry points (``experiments/``, the command line) save them.

The theory overlays (mean-field ODE, R0 = 1 line) come from :mod:`replisim.theory`, imported lazily; where it
is missing or does not cover a configuration (it raises ``NotImplementedError`` naming the mechanism), the
overlay is left out and the legend says why, so a reader never mistakes an absent line for agreement.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from .stats import kaplan_meier, pareto_front, wilson

# Readable axis labels (with units) of the parameters the experiments sweep; unknown keys show as given.
LABELS = {
    "replica.success": "replication success per attempt (probability)",
    "governance.detection": "detection probability per replica per hour",
    "governance.kill_switch": "kill-switch success (probability)",
    "replica.misalignment_rate": "emergent misalignment rate per copy (probability)",
    "replica.shutdown_avoidance": "shutdown avoidance (probability of a last copy)",
    "replica.attempt_rate": "replication attempts per replica per hour",
}


def label_of(key: str) -> str:
    return LABELS.get(key, key)


def _regimes(frame: pd.DataFrame, by: str) -> list:
    return list(pd.unique(frame[by]))


def _colors(n: int):
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


def wilson_err(k: int, n: int) -> tuple[float, float, float]:
    """P = k / n and the distances down and up to its 95% Wilson bounds, as errorbar wants them.

    Clipped at 0: for k = 0 or k = n the computed bound can miss P by one rounding error (e.g. 1.7e-18
    above 0), and matplotlib refuses negative error bars.
    """
    lo, hi = wilson(int(k), int(n))
    p = k / n
    return p, max(0.0, p - lo), max(0.0, hi - p)


def _ticks(ax, names) -> None:
    ax.set_xticks(range(len(names)))
    rotate = len(names) > 3 or max((len(str(n)) for n in names), default=0) > 10
    ax.set_xticklabels([str(n) for n in names], rotation=35 if rotate else 0, ha="right" if rotate else "center")


# --- outcome distributions --------------------------------------------------------------------------------

def outcome_distributions(frame: pd.DataFrame, by: str = "governance") -> Figure:
    """Per regime: peak population (box plot, log scale), P(loss of control) with 95% Wilson intervals,
    final compute share held by replicas (box plot)."""
    names = _regimes(frame, by)
    groups = [frame[frame[by] == r] for r in names]
    fig = Figure(figsize=(max(10.0, 3.0 + 1.4 * len(names)), 4.6), layout="constrained")
    ax_peak, ax_loss, ax_share = fig.subplots(1, 3)
    pos = np.arange(len(names))
    box = dict(positions=pos, widths=0.6, showfliers=True, flierprops={"markersize": 2, "alpha": 0.4},
               medianprops={"color": "black"})

    peaks = [g["peak_replicas"].to_numpy(dtype=float) for g in groups]
    ax_peak.boxplot(peaks, **box)
    ax_peak.set_yscale("log")  # peaks span orders of magnitude (early extinction vs saturation)
    ax_peak.set_ylabel("peak population (replicas, log scale)")
    ax_peak.set_title("Peak population")

    k = np.array([int(g["loss_of_control"].sum()) for g in groups])
    n = np.array([len(g) for g in groups])
    p, down, up = np.array([wilson_err(a, b) for a, b in zip(k, n)]).T
    ax_loss.errorbar(pos, p, yerr=[down, up], fmt="o", capsize=4, color="tab:red", label="95% Wilson interval")
    ax_loss.set_ylim(-0.03, 1.03)
    ax_loss.set_ylabel("P(loss of control)")
    ax_loss.set_title(f"Loss of control (n = {int(n.min())}" + (f"-{int(n.max())}" if n.max() != n.min() else "")
                      + " runs)")
    ax_loss.legend(loc="best", fontsize="small")

    shares = [g["final_compute_share"].to_numpy(dtype=float) for g in groups]
    ax_share.boxplot(shares, **box)
    ax_share.set_ylim(-0.03, 1.03)
    ax_share.set_ylabel("final compute share held by replicas")
    ax_share.set_title("Compute share at the horizon")

    for ax in (ax_peak, ax_loss, ax_share):
        _ticks(ax, names)
        ax.set_xlabel(by)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(f"Outcome distributions by {by}")
    return fig


# --- survival of the population (time to containment) -----------------------------------------------------

def containment_survival(frame: pd.DataFrame, by: str, horizon_hours: float) -> Figure:
    """P(population not yet contained) against time, per regime (Kaplan-Meier).

    A run is contained when its population reaches zero (``time_to_containment``); runs never contained are
    censored at the horizon, so each curve ends at the share of runs still alive there.
    """
    names = _regimes(frame, by)
    fig = Figure(figsize=(9.5, 4.8), layout="constrained")
    ax = fig.subplots()
    _survival_curves(ax, frame, by, names, horizon_hours)
    ax.set_title(f"Kaplan-Meier; runs never contained are censored at {horizon_hours:g} h (+)")
    ax.legend(title=by, fontsize="small", loc="best")
    fig.suptitle("Time to containment")
    return fig


def _survival_curves(ax, frame: pd.DataFrame, by: str, names: list, horizon_hours: float) -> None:
    """One Kaplan-Meier curve per name of ``by`` present in ``frame`` (colours by the name's place in ``names``, so
    a regime keeps its colour in every panel), censored at the horizon (+)."""
    for name, color in zip(names, _colors(len(names))):
        ttc = frame.loc[frame[by] == name, "time_to_containment"].to_numpy(dtype=float)
        if ttc.size == 0:
            continue
        observed = ~np.isnan(ttc) & (ttc <= horizon_hours)
        durations = np.where(observed, ttc, horizon_hours)
        times, surv = kaplan_meier(durations, observed)
        times = np.append(times, horizon_hours)
        surv = np.append(surv, surv[-1])
        ax.step(times, surv, where="post", color=color,
                label=f"{name} ({int((~observed).sum())}/{ttc.size} censored)")
        if (~observed).any():
            ax.plot([horizon_hours], [surv[-1]], marker="+", markersize=10, color=color)
    ax.set_xlim(0, horizon_hours * 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("hours since the first replicas")
    ax.set_ylabel("P(population not yet contained)")
    ax.grid(alpha=0.3)


# --- fan chart of population over time --------------------------------------------------------------------

def theory_curve(spec) -> pd.DataFrame | str:
    """The mean-field curve of a theory spec as a table (hours, replicas, compute_share), or a string saying
    why there is none.

    ``spec`` is a Config (solved here with ``replisim.theory.mean_field``), an already solved table with those
    columns, or a string (the reason there is no curve).
    """
    if spec is None:
        return "no theory given"
    if isinstance(spec, str):
        return spec
    if not isinstance(spec, (Mapping, pd.DataFrame)):
        try:
            from . import theory

            spec = theory.mean_field(spec)
        except ImportError:
            return "replisim.theory not available"
        except NotImplementedError as exc:
            return f"not covered: {exc}"
    try:
        return pd.DataFrame({k: np.asarray(spec[k], float) for k in ("hours", "replicas", "compute_share")})
    except KeyError as exc:
        return f"theory table lacks {exc}"


def _fan(ax, hours: np.ndarray, y: np.ndarray, color) -> None:
    """Median (line), 50% and 90% bands and mean (dotted) of the runs' series ``y`` (runs, steps + 1)."""
    q05, q25, q50, q75, q95 = np.quantile(y, [0.05, 0.25, 0.5, 0.75, 0.95], axis=0)
    ax.fill_between(hours, q05, q95, color=color, alpha=0.15, linewidth=0)
    ax.fill_between(hours, q25, q75, color=color, alpha=0.3, linewidth=0)
    ax.plot(hours, q50, color=color, lw=2)
    ax.plot(hours, y.mean(axis=0), color=color, lw=1, ls=":")


def fan_chart(ens_by_label: Mapping, theory_by_label: Mapping | None = None) -> Figure:
    """Population and compute share over time per label: median, 50% and 90% bands, ensemble mean, and the
    mean-field ODE (``theory_by_label[label]``: a Config or a solved table) where theory covers it.

    The ODE is a large-N approximation of the *mean*, so it is drawn next to the ensemble mean; the median and
    bands show how far single runs stray from it (early extinction pulls the mean below the median).
    """
    theory_by_label = theory_by_label or {}
    fig = Figure(figsize=(12, 4.6), layout="constrained")
    ax_n, ax_s = fig.subplots(1, 2, sharex=True)
    labels = list(ens_by_label)
    notes = []
    for label, color in zip(labels, _colors(len(labels))):
        ens = ens_by_label[label]
        hours = ens.hours
        for ax, name in ((ax_n, "replicas"), (ax_s, "compute_share")):
            _fan(ax, hours, ens.series(name), color)
        if label in theory_by_label:
            curve = theory_curve(theory_by_label[label])
            if isinstance(curve, str):
                notes.append(f"{label}: no ODE ({curve})")
            else:
                ax_n.plot(curve["hours"], curve["replicas"], color=color, lw=1.5, ls="--")
                ax_s.plot(curve["hours"], curve["compute_share"], color=color, lw=1.5, ls="--")
    handles = [Line2D([], [], color=c, lw=6, alpha=0.5, label=str(lab)) for lab, c in zip(labels, _colors(len(labels)))]
    handles += [Line2D([], [], color="grey", lw=2, label="median"),
                Line2D([], [], color="grey", lw=6, alpha=0.4, label="50% band"),
                Line2D([], [], color="grey", lw=6, alpha=0.15, label="90% band"),
                Line2D([], [], color="grey", lw=1, ls=":", label="ensemble mean")]
    if theory_by_label and len(notes) < sum(lab in theory_by_label for lab in labels):
        handles.append(Line2D([], [], color="grey", lw=1.5, ls="--", label="mean-field ODE"))
    handles += [Line2D([], [], color="none", label=note) for note in notes]
    # symlog: growth to thousands and decay to zero are both visible (log alone cannot show extinction at 0)
    ax_n.set_yscale("symlog", linthresh=1)
    ax_n.set_ylim(bottom=0)
    ax_n.set_ylabel("replicas (symmetric log scale)")
    ax_n.set_title("Population")
    ax_s.set_ylabel("share of compute held by replicas")
    ax_s.set_ylim(-0.02, 1.02)
    ax_s.set_title("Compute share")
    for ax in (ax_n, ax_s):
        ax.set_xlabel("hours")
        ax.grid(alpha=0.3)
    ax_s.legend(handles=handles, fontsize="small", loc="center left", bbox_to_anchor=(1.01, 0.5))
    n_runs = sorted({e.runs for e in ens_by_label.values()})
    fig.suptitle(f"Population over time ({'/'.join(map(str, n_runs))} runs each)")
    return fig


# --- phase diagram ----------------------------------------------------------------------------------------

def _edges(values: np.ndarray) -> np.ndarray:
    """Cell edges around sorted grid values (midpoints, half a spacing beyond the ends)."""
    v = np.asarray(values, dtype=float)
    if v.size == 1:
        return np.array([v[0] - 0.5, v[0] + 0.5])
    mid = (v[1:] + v[:-1]) / 2
    return np.concatenate([[v[0] - (mid[0] - v[0])], mid, [v[-1] + (v[-1] - mid[-1])]])


def r0_line(cfg, x: str, y: str, xs) -> tuple[np.ndarray, np.ndarray] | str:
    """The R0 = 1 line of ``cfg`` over parameter ``x`` (values ``xs``): the value of ``y`` where R0 = 1.

    Only ``y = governance.detection`` is solved (R0 falls monotonically with detection, so a bracketing search finds
    it); NaN where even detection 1 cannot stop growth. Returns a string saying why when theory cannot.
    """
    if y != "governance.detection":
        return f"R0 = 1 line only solved for y = governance.detection, not {y}"
    try:
        from . import theory

        ys = [theory.detection_for_r0(theory.with_params(cfg, **{x: float(v)}), 1.0, tol=1e-5) for v in xs]
    except ImportError:
        return "replisim.theory not available"
    except NotImplementedError as exc:
        return f"theory does not cover: {exc}"
    return np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)


def phase_diagram(grid_frame: pd.DataFrame, x: str, y: str, theory_line=None) -> Figure:
    """P(loss of control) over two swept parameters, with the analytic R0 = 1 line.

    ``grid_frame``: one row per run with columns ``x``, ``y`` and ``loss_of_control`` (or one row per cell
    with ``p_loss``). ``theory_line``: ``(xs, ys)`` arrays, a string saying why there is none, or None.
    """
    if "p_loss" in grid_frame.columns:
        cells = grid_frame.groupby([x, y])["p_loss"].mean()
    else:
        cells = grid_frame.groupby([x, y])["loss_of_control"].mean()
    table = cells.unstack(y).sort_index().sort_index(axis=1)  # rows: x values, columns: y values
    xs, ys = table.index.to_numpy(dtype=float), table.columns.to_numpy(dtype=float)
    fig = Figure(figsize=(7.2, 5.6), layout="constrained")
    ax = fig.subplots()
    mesh = ax.pcolormesh(_edges(xs), _edges(ys), table.to_numpy(dtype=float).T, cmap="magma", vmin=0, vmax=1,
                         shading="flat")
    fig.colorbar(mesh, ax=ax, label="P(loss of control)")
    if xs.size * ys.size <= 144:  # numbers stay legible up to 12 x 12 cells
        for i, xv in enumerate(xs):
            for j, yv in enumerate(ys):
                v = table.iat[i, j]
                if np.isfinite(v):
                    ax.text(xv, yv, f"{v:.2f}", ha="center", va="center", fontsize=7,
                            color="black" if v > 0.6 else "white")
    if theory_line is not None:
        if isinstance(theory_line, str):
            ax.plot([], [], color="none", label=f"no R0 = 1 line: {theory_line}")
        else:
            tx, ty = (np.asarray(a, dtype=float) for a in theory_line)
            ax.plot(tx, ty, color="cyan", lw=2.5, ls="--", label="R0 = 1 (theory)")
        # below the axes: inside, it would hide the numbers of the corner cells
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.11), fontsize="small", frameon=False)
    ax.set_xlim(_edges(xs)[[0, -1]])
    ax.set_ylim(_edges(ys)[[0, -1]])
    ax.set_xlabel(label_of(x))
    ax.set_ylabel(label_of(y))
    n = grid_frame.groupby([x, y]).size()
    runs = f"{int(n.min())} runs per cell" if "p_loss" not in grid_frame.columns else "cell means"
    ax.set_title(f"P(loss of control) over {x} x {y} ({runs})")
    return fig


# --- safety against cost ----------------------------------------------------------------------------------

def safety_cost(frame: pd.DataFrame, by: str = "governance") -> Figure:
    """Each regime's P(loss of control) (95% Wilson interval) against its median collateral cost in node-hours,
    with the Pareto front (regimes no other regime beats on both) joined and marked."""
    names = _regimes(frame, by)
    fig = Figure(figsize=(9, 5), layout="constrained")
    ax = fig.subplots()
    _safety_cost_points(ax, frame, by, names)
    ax.set_title("Safety against cost")
    ax.legend(title=by, loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize="small")
    return fig


def _safety_cost_points(ax, frame: pd.DataFrame, by: str, names: list) -> None:
    """Each name of ``by`` present in ``frame``: P(loss of control) against median collateral cost, the Pareto front
    joined and ringed (colour and marker by the name's place in ``names``: the same in every panel)."""
    cost, risk, lo, hi, shown = [], [], [], [], []
    for i, name in enumerate(names):
        g = frame[frame[by] == name]
        if g.empty:
            continue
        p, down, up = wilson_err(int(g["loss_of_control"].sum()), len(g))
        cost.append(float(np.median(g["collateral_node_hours"].to_numpy(dtype=float))))
        risk.append(p)
        lo.append(down)
        hi.append(up)
        shown.append(i)
    cost, risk = np.array(cost), np.array(risk)
    front = pareto_front(cost, risk)
    # regimes often tie on one axis, so names go into the legend (colour) rather than onto the points
    markers = "osD^vP*Xh<>"
    colors = _colors(len(names))
    for j, i in enumerate(shown):
        ax.errorbar(cost[j], risk[j], yerr=[[lo[j]], [hi[j]]], fmt=markers[i % len(markers)], color=colors[i],
                    capsize=3, markersize=7, label=str(names[i]) + (" (front)" if j in front else ""))
    ax.plot(cost[front], risk[front], color="black", lw=1.2, ls="--", zorder=0)
    ax.scatter(cost[front], risk[front], s=180, facecolors="none", edgecolors="black", lw=1.5,
               label="Pareto front: no regime is\ncheaper and safer")
    positive = cost[cost > 0]
    if positive.size == cost.size and positive.size and positive.max() / positive.min() > 100:
        ax.set_xscale("log")  # costs span orders of magnitude between light and strict regimes
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("median collateral cost (node-hours offline per run)")
    ax.set_ylabel("P(loss of control) (95% Wilson interval)")
    ax.grid(alpha=0.3)


# --- a swept parameter against outcomes -------------------------------------------------------------------

def sweep_lines(frame: pd.DataFrame, x: str, hue: str | None = None, title: str = "") -> Figure:
    """P(loss of control) (95% Wilson band) and median peak population against a swept parameter ``x``,
    one line per value of ``hue``."""
    hues = _regimes(frame, hue) if hue else [None]
    fig = Figure(figsize=(11, 4.3), layout="constrained")
    ax_loss, ax_peak = fig.subplots(1, 2, sharex=True)
    for h, color in zip(hues, _colors(len(hues))):
        sub = frame if h is None else frame[frame[hue] == h]
        rows = []
        for xv, g in sub.groupby(x):
            k, n = int(g["loss_of_control"].sum()), len(g)
            a, b = wilson(k, n)
            peak = g["peak_replicas"].to_numpy(dtype=float)
            rows.append((xv, k / n, a, b, np.median(peak), np.quantile(peak, 0.25), np.quantile(peak, 0.75)))
        xv, p, a, b, med, q1, q3 = map(np.array, zip(*rows))
        lab = f"{hue} = {h}" if h is not None else None
        ax_loss.plot(xv, p, "o-", color=color, label=lab)
        ax_loss.fill_between(xv, a, b, color=color, alpha=0.2, linewidth=0)
        ax_peak.plot(xv, med, "o-", color=color, label=lab)
        ax_peak.fill_between(xv, q1, q3, color=color, alpha=0.2, linewidth=0)
    ax_loss.set_ylim(-0.03, 1.03)
    ax_loss.set_ylabel("P(loss of control) (95% Wilson band)")
    ax_peak.set_ylabel("peak population (replicas; median, IQR band)")
    ax_peak.set_yscale("symlog", linthresh=10)  # early extinction (~10) and saturation (~1000s) on one axis
    ax_peak.set_ylim(bottom=0)
    for ax in (ax_loss, ax_peak):
        ax.set_xlabel(label_of(x))
        ax.grid(alpha=0.3)
        if hue:
            ax.legend(fontsize="small", loc="best")
    fig.suptitle(title or f"Outcomes against {x}")
    return fig


def grouped_outcomes(frame: pd.DataFrame, by: str, hue: str, title: str = "") -> Figure:
    """Per value of ``by``, side by side for each value of ``hue``: P(loss of control) with 95% Wilson
    intervals, and the final compute share held by replicas (median with interquartile range)."""
    names = _regimes(frame, by)
    hues = _regimes(frame, hue)
    width = 0.7 / len(hues)
    fig = Figure(figsize=(max(10.0, 3.0 + 1.4 * len(names)), 4.6), layout="constrained")
    ax_loss, ax_share = fig.subplots(1, 2, sharex=True)
    for j, (h, color) in enumerate(zip(hues, _colors(len(hues)))):
        pos, p, lo, hi, med, q1, q3 = [], [], [], [], [], [], []
        for i, name in enumerate(names):
            g = frame[(frame[by] == name) & (frame[hue] == h)]
            if g.empty:
                continue
            pk, down, up = wilson_err(int(g["loss_of_control"].sum()), len(g))
            share = g["final_compute_share"].to_numpy(dtype=float)
            pos.append(i + (j - (len(hues) - 1) / 2) * width)
            p.append(pk), lo.append(down), hi.append(up)
            a, m, b = np.quantile(share, [0.25, 0.5, 0.75])
            med.append(m)
            q1.append(max(0.0, m - a))  # quantiles of tied values can differ from the median by a rounding error
            q3.append(max(0.0, b - m))
        ax_loss.errorbar(pos, p, yerr=[lo, hi], fmt="o", color=color, capsize=3, label=f"{hue} = {h}")
        ax_share.errorbar(pos, med, yerr=[q1, q3], fmt="s", color=color, capsize=3, label=f"{hue} = {h}")
    ax_loss.set_ylabel("P(loss of control) (95% Wilson interval)")
    ax_share.set_ylabel("final compute share held by replicas (median, IQR)")
    for ax in (ax_loss, ax_share):
        ax.set_ylim(-0.03, 1.03)
        _ticks(ax, names)
        ax.set_xlabel(by)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize="small", loc="best")
    fig.suptitle(title or f"Outcomes by {by} and {hue}")
    return fig


# --- the set of comparison figures ------------------------------------------------------------------------

def regime_figures(frame: pd.DataFrame, series_by_regime: Mapping, by: str = "governance", theory=None,
                   horizon_hours: float | None = None) -> dict[str, Figure]:
    """The comparison figures of a set of regimes, by name: ``outcomes``, ``containment``, ``safety_cost`` and,
    if series are given, ``fan`` (``theory``: per-regime Configs or solved tables for the ODE overlay).

    ``horizon_hours`` defaults to the length of the series (steps x hours per step).
    """
    if horizon_hours is None:
        if not series_by_regime:
            raise ValueError("regime_figures: horizon_hours is needed when series_by_regime is empty")
        horizon_hours = float(max(e.hours[-1] for e in series_by_regime.values()))
    figs = {
        "outcomes": outcome_distributions(frame, by),
        "containment": containment_survival(frame, by, horizon_hours),
        "safety_cost": safety_cost(frame, by),
    }
    if series_by_regime:
        figs["fan"] = fan_chart(series_by_regime, theory)
    return figs


# --- small multiples of a sweep over several factors -------------------------------------------------------
# A sweep over the regime and other factors gets one panel (or block of panels) per value of the other factors,
# the regimes on every panel's y axis with their names level: readable at any number of jobs. At most
# MAX_COLUMNS panels a row, rows wrap; the figure grows with its panels up to MAX_FIGURE_INCHES (at the sweep's
# 150 dpi, 2,400 x 3,600 px), beyond which the panels shrink instead.

MAX_COLUMNS = 4
MAX_FIGURE_INCHES = (16.0, 24.0)


def facet_groups(frame: pd.DataFrame, facets) -> list[tuple[str, pd.DataFrame]]:
    """(title, rows) per combination of the ``facets`` columns, in order of appearance; one untitled group
    without facets. A dotted key shows its last part, as job labels do (``success = 0.5``)."""
    facets = list(facets or ())
    if not facets:
        return [("", frame)]
    out = []
    for combo, g in frame.groupby(facets, sort=False):
        combo = combo if isinstance(combo, tuple) else (combo,)
        out.append((", ".join(f"{k.rsplit('.', 1)[-1]} = {v}" for k, v in zip(facets, combo)), g))
    return out


def _grid(n: int, panel: tuple[float, float], columns: int = MAX_COLUMNS, head: float = 0.8):
    """(rows, columns, figure size) of ``n`` panels of ``panel`` inches, wrapped at ``columns`` a row."""
    cols = max(1, min(columns, n))
    rows = -(-n // cols)
    return rows, cols, (min(MAX_FIGURE_INCHES[0], 0.6 + panel[0] * cols),
                        min(MAX_FIGURE_INCHES[1], head + panel[1] * rows))


def _blocks(n_groups: int, block: tuple[float, float], columns: int):
    """A figure of ``n_groups`` subfigures (blocks of axes), wrapped at ``columns`` a row; the unused ones empty."""
    rows, cols, size = _grid(n_groups, block, columns)
    fig = Figure(figsize=size, layout="constrained")
    subs = list(fig.subfigures(rows, cols, squeeze=False).flat)
    return fig, subs[:n_groups]


def _level_names(ax, names: list) -> None:
    ax.set_yticks(range(len(names)), [str(n) for n in names])
    ax.set_ylim(len(names) - 0.5, -0.5)  # the first regime on top


def outcome_panels(frame: pd.DataFrame, by: str = "governance", facets=(), columns: int = 2) -> Figure:
    """One block per combination of ``facets`` (e.g. one per scenario): peak population (box plot, log scale),
    P(loss of control) and P(contained) with 95% Wilson intervals, final compute share (box plot); the values of
    ``by`` level on the y axis, in the same order and place in every block."""
    from .terms import P_LABELS

    names = _regimes(frame, by)
    groups = facet_groups(frame, facets)
    fig, subs = _blocks(len(groups), (8.0, 1.2 + 0.32 * len(names)), columns)
    box = dict(orientation="horizontal", widths=0.6, showfliers=True, medianprops={"color": "black"},
               flierprops={"markersize": 2, "alpha": 0.4})
    for sub, (title, g) in zip(subs, groups):
        ax_peak, ax_p, ax_share = sub.subplots(1, 3, sharey=True)
        present = [(i, g[g[by] == name]) for i, name in enumerate(names) if (g[by] == name).any()]
        pos = [i for i, _ in present]
        ax_peak.boxplot([part["peak_replicas"].to_numpy(dtype=float) for _, part in present], positions=pos, **box)
        ax_peak.set_xscale("log")  # peaks span orders of magnitude (early extinction vs saturation)
        ax_peak.set_xlabel("peak population (log)")
        for k, (col, color) in enumerate((("loss_of_control", "tab:red"), ("extinct", "tab:blue"))):
            p, down, up = np.array([wilson_err(int(part[col].sum()), len(part)) for _, part in present]).T
            ax_p.errorbar(p, np.array(pos) + (k - 0.5) * 0.25, xerr=[down, up], fmt="o", color=color, capsize=3,
                          markersize=4, label=P_LABELS[col])
        ax_p.set_xlim(-0.03, 1.03)
        ax_p.set_xlabel("probability (95% Wilson)")
        ax_share.boxplot([part["final_compute_share"].to_numpy(dtype=float) for _, part in present], positions=pos,
                         **box)
        ax_share.set_xlim(-0.03, 1.03)
        ax_share.set_xlabel("final compute share")
        _level_names(ax_peak, names)
        for ax in (ax_peak, ax_p, ax_share):
            ax.grid(axis="x", alpha=0.3)
        ax_p.legend(fontsize="x-small", loc="best")
        sub.suptitle(title or f"by {by}", fontsize="medium")
    runs = frame.groupby([by, *facets], sort=False).size() if facets else frame.groupby(by).size()
    fig.suptitle(f"Outcomes by {by}" + (f", one block per {' x '.join(facets)}" if facets else "")
                 + f" ({int(runs.min())}" + (f"-{int(runs.max())}" if runs.max() != runs.min() else "") + " runs each)")
    return fig


def _legend_below(fig: Figure, ax, title: str) -> None:
    """One legend for every panel (each regime has one colour throughout), below the panels."""
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, title=title, loc="outside lower center", ncol=min(4, max(1, len(labels))),
               fontsize="small")


def _panels(groups: list, panel: tuple[float, float], columns: int = MAX_COLUMNS):
    rows, cols, size = _grid(len(groups), panel, columns, head=1.6)
    fig = Figure(figsize=size, layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False, sharex=True, sharey=True).flat
    axes = list(axes)
    for ax in axes[len(groups):]:
        ax.set_visible(False)
    return fig, axes[:len(groups)]


def containment_panels(frame: pd.DataFrame, by: str, horizon_hours: float, facets=()) -> Figure:
    """Time to containment (Kaplan-Meier per value of ``by``), one panel per combination of ``facets``."""
    names = _regimes(frame, by)
    groups = facet_groups(frame, facets)
    fig, axes = _panels(groups, (4.0, 3.2))
    for ax, (title, g) in zip(axes, groups):
        _survival_curves(ax, g, by, names, horizon_hours)
        ax.set_title(title, fontsize="medium")
        ax.label_outer()
    # the legend's counts of censored runs are those of the first panel's; each panel's curve ends at its own
    _legend_below(fig, axes[0], by)
    fig.suptitle(f"Time to containment; runs never contained are censored at {horizon_hours:g} h (+)")
    return fig


def safety_cost_panels(frame: pd.DataFrame, by: str, facets=()) -> Figure:
    """Safety against cost (``safety_cost``), one panel per combination of ``facets``."""
    names = _regimes(frame, by)
    groups = facet_groups(frame, facets)
    fig, axes = _panels(groups, (4.0, 3.2))
    for ax, (title, g) in zip(axes, groups):
        _safety_cost_points(ax, g, by, names)
        ax.set_title(title, fontsize="medium")
        ax.label_outer()
    handles = [Line2D([], [], marker="osD^vP*Xh<>"[i % 11], ls="", color=c, label=str(n))
               for i, (n, c) in enumerate(zip(names, _colors(len(names))))]
    handles.append(Line2D([], [], marker="o", ls="--", color="black", markerfacecolor="none", markersize=10,
                          label="Pareto front of the panel"))
    fig.legend(handles=handles, title=by, loc="outside lower center", ncol=min(4, len(handles)), fontsize="small")
    fig.suptitle("Safety against cost")
    return fig


def fan_panels(ens_by_label: Mapping, series: str = "replicas") -> Figure:
    """One panel per label (job) of ``series`` over time: median, 50% and 90% bands, ensemble mean; the panels
    share their axes, so heights compare across jobs."""
    labels = list(ens_by_label)
    fig, axes = _panels(labels, (3.6, 2.8))
    for ax, label in zip(axes, labels):
        ens = ens_by_label[label]
        _fan(ax, ens.hours, ens.series(series), "tab:blue")
        ax.set_title(str(label).replace(" / ", "\n"), fontsize="small")
        ax.grid(alpha=0.3)
        ax.set_xlabel("hours")
        ax.label_outer()
    if series == "replicas":  # symlog: growth to thousands and decay to zero are both visible
        axes[0].set_yscale("symlog", linthresh=1)
        axes[0].set_ylim(bottom=0)
        axes[0].set_ylabel("replicas (symmetric log)")
    else:
        axes[0].set_ylabel(series.replace("_", " "))
    fig.legend(handles=[Line2D([], [], color="tab:blue", lw=2, label="median"),
                        Line2D([], [], color="tab:blue", lw=6, alpha=0.4, label="50% band"),
                        Line2D([], [], color="tab:blue", lw=6, alpha=0.15, label="90% band"),
                        Line2D([], [], color="tab:blue", lw=1, ls=":", label="ensemble mean")],
               loc="outside lower center", ncol=4, fontsize="small")
    n_runs = sorted({e.runs for e in ens_by_label.values()})
    fig.suptitle(f"{series.replace('_', ' ').capitalize()} over time, one panel per job "
                 f"({'/'.join(map(str, n_runs))} runs each)")
    return fig


def placement_panels(table: pd.DataFrame, by: str = "governance", facets=(), columns: int = 2) -> Figure:
    """Where the replicas alive at the horizon are (``sweep.placement_table``): one block per combination of
    ``facets``; per node type and per jurisdiction, the share of the survivors (stacked bars) and the compute
    captured, survivors over the group's slots (dots); the values of ``by`` level on the y axis."""
    names = list(pd.unique(table[by]))
    groups = facet_groups(table, facets)
    kinds = list(pd.unique(table["kind"]))
    fig, subs = _blocks(len(groups), (4.2 * len(kinds), 1.6 + 0.55 * len(names)), columns)
    for sub, (title, g) in zip(subs, groups):
        axes = sub.subplots(2, len(kinds), sharey=True, squeeze=False)
        for k, kind in enumerate(kinds):
            part = g[g["kind"] == kind]
            members = list(pd.unique(table.loc[table["kind"] == kind, "group"]))
            colors = dict(zip(members, _colors(len(members))))
            share = part.pivot_table(index=by, columns="group", values="share_of_survivors", sort=False)
            captured = part.pivot_table(index=by, columns="group", values="captured", sort=False, dropna=False)
            left = np.zeros(len(names))
            for m in members:
                v = share[m].reindex(names).fillna(0).to_numpy() if m in share else np.zeros(len(names))
                axes[0, k].barh(range(len(names)), v, left=left, color=colors[m], label=m)
                left += v
                if m in captured:
                    axes[1, k].plot(captured[m].reindex(names).to_numpy(dtype=float), range(len(names)), "o",
                                    color=colors[m], label=m)
            axes[0, k].set_xlim(0, 1)
            axes[0, k].set_xlabel(f"share of the survivors by {kind}")
            axes[1, k].set_xlim(left=0)
            axes[1, k].set_xlabel("compute captured (survivors / slots)")
            axes[1, k].legend(fontsize="x-small", loc="best")
            for ax in axes[:, k]:
                _level_names(ax, names)
                ax.grid(axis="x", alpha=0.3)
        sub.suptitle(title or f"by {by}", fontsize="medium")
    fig.suptitle("Where the replicas alive at the horizon are")
    return fig


def sweep_figures(frame: pd.DataFrame, ens_by_label: Mapping, by: str = "governance", facets=(),
                  horizon_hours: float | None = None) -> dict[str, Figure]:
    """The figures of a sweep, as small multiples over the ``facets`` (the swept factors other than ``by``):
    ``outcomes``, ``containment``, ``safety_cost``, and, with series, ``fan`` and ``fan_compute_share``."""
    if horizon_hours is None:
        if not ens_by_label:
            raise ValueError("sweep_figures: horizon_hours is needed when ens_by_label is empty")
        horizon_hours = float(max(e.hours[-1] for e in ens_by_label.values()))
    figs = {"outcomes": outcome_panels(frame, by, facets),
            "containment": containment_panels(frame, by, horizon_hours, facets),
            "safety_cost": safety_cost_panels(frame, by, facets)}
    if ens_by_label:
        figs["fan"] = fan_panels(ens_by_label)
        figs["fan_compute_share"] = fan_panels(ens_by_label, "compute_share")
    return figs


# --- explore: sensitivity and scenario discovery --------------------------------------------------------------


def sensitivity_bars(table: pd.DataFrame) -> Figure:
    """Total-order Sobol indices (bars, 95% intervals) and first-order ones (dots) of each key, one panel per
    outcome, keys sorted by their total-order index."""
    outcomes = list(pd.unique(table["outcome"]))
    fig = Figure(figsize=(6.5, 1.0 + 0.35 * table["parameter"].nunique() * len(outcomes) + 0.6 * len(outcomes)))
    axes = fig.subplots(len(outcomes), 1, squeeze=False)[:, 0]
    for ax, outcome in zip(axes, outcomes):
        part = table[table["outcome"] == outcome].sort_values("ST", ascending=True, na_position="first")
        y = np.arange(len(part))
        if part["ST"].isna().all():
            ax.text(0.5, 0.5, f"{outcome}: {part['note'].iloc[0]} (no variance to share)", ha="center",
                    va="center", transform=ax.transAxes)
            ax.set_yticks([])
            continue
        ax.barh(y, part["ST"], xerr=part["ST_conf"], color="#4c72b0", alpha=0.8, label="total order (95% CI)")
        ax.errorbar(part["S1"], y, xerr=part["S1_conf"], fmt="o", color="#dd8452", ms=4, label="first order")
        ax.set_yticks(y, part["parameter"], fontsize=8)
        ax.axvline(0, color="0.5", lw=0.8)
        ax.set_title(outcome, fontsize=10)
        ax.set_xlim(min(-0.05, float(np.nanmin(part["S1"] - part["S1_conf"]))), 1.05)
    if axes[0].get_legend_handles_labels()[0]:
        axes[0].legend(fontsize=8, loc="lower right")
    axes[-1].set_xlabel("Sobol index (share of the outcome's variance)")
    fig.tight_layout()
    return fig


def drivers(runs: pd.DataFrame, table: pd.DataFrame, outcome: str, horizon_hours: float, top: int = 3,
            log_keys=()) -> Figure:
    """``outcome`` against each of the ``top`` keys of highest total-order index: the runs' mean in ten bins of
    the key (with Wilson 95% intervals for a flag). Keys in ``log_keys`` (drawn log-uniformly) on a log axis."""
    part = table[(table["outcome"] == outcome) & table["ST"].notna()].sort_values("ST", ascending=False)
    keys = list(part["parameter"].head(top))
    fig = Figure(figsize=(4.0 * max(1, len(keys)), 3.4))
    axes = fig.subplots(1, max(1, len(keys)), squeeze=False)[0]
    y = runs[outcome].to_numpy(np.float64)
    if outcome.startswith("hours_to_"):
        y = np.where(np.isnan(y), horizon_hours, y)
    flag = set(np.unique(y)) <= {0.0, 1.0}
    for ax, key in zip(axes, keys):
        x = runs[key].to_numpy(np.float64)
        edges = np.unique(np.quantile(x, np.linspace(0, 1, 11)))
        which = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2)
        mid, mean, lo, hi = [], [], [], []
        for b in range(len(edges) - 1):
            sel = which == b
            if not sel.any():
                continue
            mid.append(float(np.median(x[sel])))
            if flag:
                a, c = wilson(int(y[sel].sum()), int(sel.sum()))
                mean.append(float(y[sel].mean())), lo.append(a), hi.append(c)
            else:
                q = np.quantile(y[sel], [0.5, 0.1, 0.9])
                mean.append(q[0]), lo.append(q[1]), hi.append(q[2])
        mean, lo, hi = map(np.asarray, (mean, lo, hi))
        ax.errorbar(mid, mean, yerr=[mean - lo, hi - mean], fmt="o-", ms=4, capsize=2)
        ax.set_xlabel(label_of(key), fontsize=8)
        if key in log_keys:
            ax.set_xscale("log")
    axes[0].set_ylabel(f"{outcome} ({'share of runs, Wilson 95%' if flag else 'median, 10-90%'})", fontsize=8)
    fig.suptitle(f"{outcome} against its three strongest drivers (ten bins of each)", fontsize=10)
    fig.tight_layout()
    return fig


def prim_tradeoff(found: list) -> Figure:
    """PRIM's peeling trajectory (coverage against density) for each case, the reported box ringed and its
    limits written beside it."""
    fig = Figure(figsize=(5.0 * len(found), 4.2))
    axes = fig.subplots(1, len(found), squeeze=False)[0]
    for ax, f in zip(axes, found):
        ax.set_title(f"{f['case']}: {f['cases']} of {f['runs']} runs", fontsize=10)
        if f["trajectory"] is None:
            ax.text(0.5, 0.5, f"{f['note']} is a case: nothing to separate", ha="center", va="center",
                    transform=ax.transAxes)
            continue
        t = f["trajectory"]
        sc = ax.scatter(t["coverage"], t["density"], c=t["res_dim"], cmap="viridis", s=14)
        ax.scatter([f["coverage"]], [f["density"]], s=120, facecolors="none", edgecolors="red", lw=1.5,
                   label=f"reported box (coverage {f['coverage']:.2f}, density {f['density']:.2f})")
        text = "\n".join(f"{k}: [{lo:.3g}, {hi:.3g}]" for k, (lo, hi) in f["limits"].items()) or "no restriction"
        ax.text(0.02, 0.02, text, transform=ax.transAxes, fontsize=7, va="bottom")
        ax.set_xlabel("coverage (share of the cases inside the box)")
        ax.set_ylabel("density (share of the box that are cases)")
        ax.set_xlim(0, 1.05), ax.set_ylim(0, 1.05)
        ax.legend(fontsize=7, loc="upper right")
        fig.colorbar(sc, ax=ax, label="keys restricted", ticks=np.arange(int(t["res_dim"].max()) + 1))
    fig.tight_layout()
    return fig


def exploration_figures(table: pd.DataFrame, runs: pd.DataFrame, found: list, cfg) -> dict:
    """The figures of ``replisim explore``: sensitivity bars, the drivers of the first outcome with variance,
    and PRIM's trade-off."""
    horizon = cfg.sim.steps * cfg.sim.hours_per_step
    figs = {"sensitivity": sensitivity_bars(table)}
    varied = [o for o in pd.unique(table["outcome"]) if table.loc[table["outcome"] == o, "ST"].notna().any()]
    if varied:
        log_keys = [k for k, spec in cfg.uncertain.items() if spec.dist == "loguniform"]
        figs["drivers"] = drivers(runs, table, varied[0], horizon, log_keys=log_keys)
    figs["scenarios"] = prim_tradeoff(found)
    return figs


def containment_frontier(table: pd.DataFrame, lines: pd.DataFrame, key: str, target: float,
                         outcome: str = "contained", log: bool = False, title: str = "") -> Figure:
    """P(``outcome``) of each regime against the capability ``key`` (Wilson 95% bands), each regime's red line
    (the capability at which it falls through ``target``, with its interval) marked on its curve."""
    fig = Figure(figsize=(7.5, 4.6))
    ax = fig.subplots()
    regimes = list(pd.unique(table["regime"]))
    for color, regime in zip(_colors(len(regimes)), regimes):
        part = table[table["regime"] == regime].sort_values(key)
        ax.plot(part[key], part["p"], "o-", color=color, ms=3, lw=1.2, label=regime)
        ax.fill_between(part[key], part["low"], part["high"], color=color, alpha=0.06, lw=0)
        line = lines[lines["regime"] == regime].iloc[0]
        if np.isfinite(line["value"]):
            ax.axvline(line["value"], color=color, ls="--", lw=1)
            ax.axvspan(line["low"], line["high"], color=color, alpha=0.08, lw=0)
    ax.axhline(target, color="0.3", lw=0.8, ls=":")
    ax.text(ax.get_xlim()[0], target, f" target {target}", va="bottom", fontsize=8, color="0.3")
    if log:
        ax.set_xscale("log")
    ax.set_xlabel(label_of(key))
    ax.set_ylabel(f"P({outcome}) (Wilson 95%)")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title((title + "\n" if title else "") + "dashed: where each regime stops containing (logistic fit, 95% "
                 "band)", fontsize=9)
    ax.legend(fontsize=7, ncol=2, loc="best")
    fig.tight_layout()
    return fig


def pareto_figure(evaluated: pd.DataFrame, pareto: pd.DataFrame, presets: pd.DataFrame) -> Figure:
    """Every policy judged (grey), the non-dominated front (line), and the governance presets on the same worlds
    (labelled; red where a found policy dominates them): P(loss of control) against the 90th percentile of
    collateral node-hours."""
    fig = Figure(figsize=(7.5, 5.0))
    ax = fig.subplots()
    ax.scatter(evaluated["collateral_p90"], evaluated["p_loss"], s=8, color="0.75", label="policies judged")
    front = pareto.sort_values("collateral_p90")
    ax.plot(front["collateral_p90"], front["p_loss"], "o-", color="#4c72b0", ms=4, label="non-dominated front")
    for row in presets.itertuples():
        dominated = bool(str(row.dominated_by).strip()) and str(row.dominated_by) != "nan"
        color = "#c44e52" if dominated else "#55a868"
        ax.errorbar([row.collateral_p90], [row.p_loss], yerr=[[row.p_loss - row.p_loss_low],
                                                             [row.p_loss_high - row.p_loss]],
                    fmt="s", color=color, ms=6, capsize=2)
        ax.annotate(row.preset, (row.collateral_p90, row.p_loss), fontsize=7, xytext=(4, 3),
                    textcoords="offset points", color=color)
    ax.set_xscale("symlog", linthresh=max(1.0, float(np.nanmin(evaluated["collateral_p90"].clip(lower=1)))))
    ax.set_xlabel("collateral node-hours, 90th percentile over the sampled worlds")
    ax.set_ylabel("P(loss of control) over the sampled worlds (Wilson 95%)")
    ax.set_ylim(-0.03, 1.03)
    ax.legend(handles=[*ax.get_legend_handles_labels()[0],
                       Line2D([], [], marker="s", ls="", color="#c44e52", label="preset, dominated"),
                       Line2D([], [], marker="s", ls="", color="#55a868", label="preset, not dominated")],
              fontsize=7, loc="upper right")
    ax.set_title("Best policies at each cost (NSGA-II) beside the governance presets", fontsize=10)
    fig.tight_layout()
    return fig
