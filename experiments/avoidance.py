"""Shutdown avoidance on/off against uniform detection (Pan et al. Llama-3.1-70B preset, no collusion).

A misaligned replica facing a successful shutdown makes a last copy attempt with probability
``replica.shutdown_avoidance``. Collusion is switched off so that its blinding does not mask the effect.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from replisim import plots

from . import FIGURES, WORLD_NODES, WORLD_STEPS, StudyResult, simulate, size_overrides, tidy
from .sweeps import write_sweep

SCENARIO = "pan2024_llama31_70b"
# per hour on every node: the default world's transition lies between 0.005 and 0.05 (0.1 and above contain
# every run with or without avoidance)
DETECTION = (0.003, 0.005, 0.01, 0.015, 0.02, 0.03, 0.05)
AVOIDANCE = (0.0, 0.5)  # off, and the Pan preset's value


def run(out_dir: Path = FIGURES, runs: int = 200, steps: int = WORLD_STEPS, nodes: int = WORLD_NODES, seed: int = 0,
        detection=DETECTION, avoidance=AVOIDANCE) -> StudyResult:
    out_dir = Path(out_dir)
    result = StudyResult("avoidance")
    frames = []
    for a in avoidance:
        for d in detection:
            _, ens = simulate([f"scenario={SCENARIO}", "replica.success_prior=true", "collusion.enabled=false",
                               *size_overrides(steps, nodes)], runs, seed,
                              {"replica.shutdown_avoidance": float(a), "governance.detection": float(d)})
            frames.append(tidy(ens, **{"replica.shutdown_avoidance": a, "governance.detection": d}))
    frame = pd.concat(frames, ignore_index=True)
    fig = plots.sweep_lines(frame, "governance.detection", hue="replica.shutdown_avoidance",
                            title=f"Shutdown avoidance on/off: {SCENARIO} without collusion, skill ~ Beta posterior, "
                                  f"{nodes} nodes, {steps} h ({runs} runs per point)")
    table = write_sweep(fig, frame, ["replica.shutdown_avoidance", "governance.detection"], out_dir,
                        "shutdown_avoidance", result)
    piv = table.pivot(index="governance.detection", columns="replica.shutdown_avoidance", values="p_loss")
    lo, hi = min(avoidance), max(avoidance)
    gap = (piv[hi] - piv[lo])
    d_max = gap.idxmax()
    result.lines.append(("shutdown_avoidance.png",
                         f"Shutdown avoidance {hi} vs {lo}: the largest gap in P(loss) is at detection {d_max} "
                         f"({piv.loc[d_max, lo]:.2f} -> {piv.loc[d_max, hi]:.2f}); mean gap over the sweep "
                         f"{gap.mean():+.2f}."))
    return result
