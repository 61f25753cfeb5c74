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
    never = [r for r in lines["regime"] if r not in set(crossing["regime"])]
    parts = [f"`{r.regime}` {r.value:.3g} [{r.low:.3g}, {r.high:.3g}]" for r in crossing.itertuples()]
    text = (f"P(contained) against the attempt rate per hour (log grid over the registry's 0.001 - 0.5; the default "
            f"world assumes 0.02). Rate at which each regime stops containing (P below {TARGET}): "
            + ("; ".join(parts) if parts else "none crosses")
            + (f". No crossing in the range: {', '.join(f'`{r}`' for r in never)} (contains throughout or "
               "never)." if never else "."))
    result.lines.append(("containment_frontier.png", text))
    return result
