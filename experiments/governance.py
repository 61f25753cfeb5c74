"""Governance comparison under both Pan et al. (2024) presets, with posterior uncertainty on replication skill.

For each scenario (pan2024_llama31_70b: 5/10 trials; pan2024_qwen25_72b: 9/10) every shipped governance preset
is simulated with ``replica.success_prior=true``: each run draws its skill from the Beta posterior of the
published trials, so the spread of outcomes includes what we do not know about the model's skill.
Writes per scenario: outcome distributions, containment survival, safety-cost figures, the comparison table
against ``none`` (CSV and Markdown) and the Kaplan-Meier curves (CSV).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from replisim import plots, report, stats

from . import (
    FIGURES,
    WORLD_NODES,
    WORLD_STEPS,
    StudyResult,
    governance_presets,
    save_figure,
    size_overrides,
    tidy,
    try_simulate,
    write_csv,
    write_text,
)

SCENARIOS = {"pan2024_llama31_70b": "llama31_70b", "pan2024_qwen25_72b": "qwen25_72b"}
FIG_TITLES = {"outcomes": "Outcome distributions by governance", "containment": "Time to containment",
              "safety_cost": "Safety against cost", "fan": "Population over time"}


def _km_table(frame: pd.DataFrame, horizon: float) -> pd.DataFrame:
    rows = []
    for name, g in frame.groupby("governance", sort=False):
        ttc = g["time_to_containment"].to_numpy(dtype=float)
        observed = ~np.isnan(ttc)
        times, surv = stats.kaplan_meier(np.where(observed, ttc, horizon), observed)
        rows += [{"governance": name, "hours": t, "p_not_contained": s} for t, s in zip(times, surv)]
    return pd.DataFrame(rows)


def _finding(cmp: pd.DataFrame, label: str) -> str:
    """One honest line from the comparison table: baseline risk, best regime, which differences are real."""
    base = cmp.iloc[0]
    rest = cmp.iloc[1:]
    if rest.empty:
        return f"{label}: only the baseline preset `none` is available: P(loss) = {base.p_loss:.2f}."
    best = rest.sort_values(["p_loss", "median_collateral_node_hours"]).iloc[0]
    sig = rest[rest.loss_verdict == "lower"]["governance"].tolist()
    text = (f"{label}: P(loss of control) {base.p_loss:.2f} without governance; lowest under `{best.governance}` "
            f"{best.p_loss:.2f} (difference {best.diff_p_loss:+.2f}, 95% CI [{best.diff_p_loss_low:+.2f}, "
            f"{best.diff_p_loss_high:+.2f}]). ")
    text += (f"Lower by more than {report.PRACTICAL['probability']:.2f} (the whole 95% interval): "
             f"{', '.join(f'`{s}`' for s in sig)}." if sig
             else f"No regime lowers P(loss) by more than {report.PRACTICAL['probability']:.2f} "
                  "(the whole 95% interval).")
    lower = rest[rest.peak_verdict == "lower"]
    if len(lower):
        text += (f" Median peak population {base.median_peak:,.0f} without governance; lower by more than 10% under "
                 + ", ".join(f"`{r.governance}` ({r.median_peak:,.0f})" for r in lower.itertuples()) + ".")
    return text


def pareto_text(cmp: pd.DataFrame) -> str:
    """The regimes on the Pareto front of a comparison table, with their P(loss) and median cost."""
    front = stats.pareto_front(cmp["median_collateral_node_hours"], cmp["p_loss"])
    return ", ".join(f"`{cmp.iloc[i, 0]}` (P(loss) {cmp.p_loss.iloc[i]:.2f}, "
                     f"{cmp.median_collateral_node_hours.iloc[i]:,.0f} node-h)" for i in front)


def contained_text(cmp: pd.DataFrame) -> str:
    """Share of runs contained (population 0 by the horizon) per regime of a comparison table."""
    return ", ".join(f"`{g}` {p:.2f}" for g, p in zip(cmp.iloc[:, 0], cmp.p_extinct))


def run(out_dir: Path = FIGURES, runs: int = 300, steps: int = WORLD_STEPS, nodes: int = WORLD_NODES, seed: int = 0,
        scenarios=tuple(SCENARIOS), presets=None) -> StudyResult:
    """Simulate every (scenario, preset) pair and write the comparison figures, tables and report."""
    out_dir = Path(out_dir)
    presets = list(presets) if presets is not None else governance_presets()
    result = StudyResult("governance")
    horizon = float(steps)  # hours: the packaged scenarios use sim.hours_per_step = 1
    for scenario in scenarios:
        short = SCENARIOS.get(scenario, scenario)
        frames = []
        for preset in presets:
            over = [f"scenario={scenario}", f"governance={preset}", "replica.success_prior=true",
                    *size_overrides(steps, nodes)]
            cfg, ens = try_simulate(over, runs, seed, result.notes)
            if ens is None:
                continue
            horizon = steps * cfg.sim.hours_per_step
            frames.append(tidy(ens, scenario=scenario, governance=preset))
        if not frames:
            continue
        frame = pd.concat(frames, ignore_index=True)
        baseline = "none" if "none" in set(frame["governance"]) else frame["governance"].iloc[0]
        cmp = report.compare(frame, by="governance", baseline=baseline)
        figs = plots.regime_figures(frame, {}, by="governance", horizon_hours=horizon)
        title = f"{scenario}, skill ~ Beta posterior, {nodes} nodes, {horizon:g} h"
        for key, fig in figs.items():
            fig.suptitle(f"{FIG_TITLES.get(key, key)}: {title}")
            name = f"governance_{short}_{key}.png"
            save_figure(fig, out_dir / name)
            result.files.append(name)
        write_csv(cmp.assign(scenario=scenario), out_dir / f"governance_{short}.csv")
        write_csv(_km_table(frame, horizon), out_dir / f"governance_{short}_containment.csv")
        md = report.markdown(frame, cmp, f"Governance regimes against `{baseline}`: {title}")
        write_text(md, out_dir / f"governance_{short}_report.md")
        result.files += [f"governance_{short}.csv", f"governance_{short}_containment.csv",
                         f"governance_{short}_report.md"]
        result.lines.append((f"governance_{short}_outcomes.png", _finding(cmp, scenario)))
        result.lines.append((f"governance_{short}_containment.png",
                             f"{scenario}: share of runs contained (population 0) by {horizon:g} h: "
                             f"{contained_text(cmp)}."))
        result.lines.append((f"governance_{short}_safety_cost.png",
                             f"{scenario}: Pareto front (no regime cheaper and safer): {pareto_text(cmp)}."))
    return result
