"""Containment frontier: each governance preset's P(contained) against the replicator's attempt rate, and the
rate at which each preset stops containing (``replisim.thresholds.frontier``).

The attempt rate is the model's least known capability (no measurement: 0.001 - 0.5 per hour in the parameter
registry, the default world at 0.02), so it is the capability axis: drawn on a log grid over the registry's range,
the same run indices in every regime. The red line is where P(contained: every replica gone by the horizon)
falls through 0.95.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from replisim import compose, plots
from replisim.thresholds import frontier

from . import FIGURES, WORLD_NODES, WORLD_STEPS, StudyResult, governance_presets, save_figure, size_overrides, write_csv

KEY = "replica.attempt_rate"
RATES = np.geomspace(0.001, 0.5, 8)
TARGET = 0.95


def run(out_dir: Path = FIGURES, runs: int = 60, steps: int = WORLD_STEPS, nodes: int = WORLD_NODES,
        seed: int = 0) -> StudyResult:
    out_dir = Path(out_dir)
    result = StudyResult("frontier")
    cfg = compose(size_overrides(steps, nodes))
    regimes = governance_presets()
    table, lines = frontier(cfg, KEY, RATES, regimes=regimes, runs=runs, target=TARGET, log=True, seed=seed)
    fig = plots.containment_frontier(table, lines, KEY, TARGET, log=True,
                                     title=f"Containment frontier: default world, {nodes} nodes, {steps} h, {runs} "
                                           "runs per point")
    save_figure(fig, out_dir / "containment_frontier.png")
    write_csv(table, out_dir / "containment_frontier.csv")
    write_csv(lines, out_dir / "containment_frontier_lines.csv")
    result.files += ["containment_frontier.png", "containment_frontier.csv", "containment_frontier_lines.csv"]
    crossing = lines[np.isfinite(lines["value"])].sort_values("value", ascending=False)
    never = [r.regime for r in lines.itertuples() if not np.isfinite(r.value) and "below" in r.note]
    always = [r.regime for r in lines.itertuples() if not np.isfinite(r.value) and "above" in r.note]
    parts = [f"`{r.regime}` {r.value:.3g} [{r.low:.3g}, {r.high:.3g}]" for r in crossing.itertuples()]
    best = table.groupby("regime")["p"].max()
    text = (f"P(contained: every replica gone by {steps} h) against the attempt rate per hour (log grid over the "
            f"registry's 0.001 - 0.5; the default world assumes 0.02). Rate at which a regime stops containing (P "
            f"below {TARGET}, logistic fit, 95% interval): " + ("; ".join(parts) if parts else "none crosses")
            + (f". Never at {TARGET} even at 0.001 per hour: "
               + ", ".join(f"`{r}` (at most {best[r]:.2f})" for r in never) if never else "")
            + (f". Contains at every rate: {', '.join(f'`{r}`' for r in always)}" if always else "") + ".")
    result.lines.append(("containment_frontier.png", text))
    return result
