"""Phase diagram: P(loss of control) over replication success x detection on the minimal scenario.

The minimal scenario is the one the theory covers exactly (complete network, homogeneous nodes, no
collusion), so the analytic R0 = 1 line of ``replisim.theory`` can be laid over the simulated grid: the
boundary the ensemble shows should follow it, shifted towards higher success only because runs near R0 = 1
grow too slowly to reach the loss-of-control share within the horizon.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from replisim import plots
from replisim.stats import wilson

from . import FIGURES, StudyResult, save_figure, simulate, size_overrides, tidy, write_csv

X, Y = "replica.success", "governance.detection"
SUCCESS = tuple(np.round(np.linspace(0.1, 1.0, 10), 2))
DETECTION = tuple(np.round(np.linspace(0.0, 0.45, 10), 3))


def _r0(cfg, xv, yv) -> float:
    try:
        from replisim import theory

        return float(theory.r0(theory.with_params(cfg, **{X: float(xv), Y: float(yv)})))
    except (ImportError, NotImplementedError):
        return float("nan")


def run(out_dir: Path = FIGURES, runs: int = 100, steps: int = 240, nodes: int = 250, seed: int = 0,
        success=SUCCESS, detection=DETECTION) -> StudyResult:
    out_dir = Path(out_dir)
    result = StudyResult("phase")
    frames, cells, base = [], [], None
    for s in success:
        for d in detection:
            cfg, ens = simulate(["scenario=minimal", *size_overrides(steps, nodes)], runs, seed,
                                {X: float(s), Y: float(d)})
            base = base or cfg
            frames.append(tidy(ens, **{X: float(s), Y: float(d)}))
            k = int(ens.outcomes["loss_of_control"].sum())
            lo, hi = wilson(k, runs)
            cells.append({X: s, Y: d, "runs": runs, "p_loss": k / runs, "p_loss_low": lo, "p_loss_high": hi,
                          "p_extinct": float(ens.outcomes["extinct"].mean()), "r0_theory": _r0(cfg, s, d)})
    frame = pd.concat(frames, ignore_index=True)
    xs = np.linspace(min(success), max(success), 46)
    line = plots.r0_line(base, X, Y, xs)
    fig = plots.phase_diagram(frame, X, Y, theory_line=line)
    fig.suptitle(f"Minimal scenario, {nodes} nodes x 4 slots, {steps} h horizon")
    save_figure(fig, out_dir / "phase_diagram.png")
    table = pd.DataFrame(cells)
    write_csv(table, out_dir / "phase_diagram.csv")
    result.files += ["phase_diagram.png", "phase_diagram.csv"]
    # agreement between theory and simulation: how often the grid's majority outcome sits on the side of the
    # R0 = 1 line that theory predicts (cells with R0 near 1 are the ones that can disagree)
    known = table.dropna(subset=["r0_theory"])
    if known.empty:
        text = "P(loss of control) over the grid; no R0 = 1 line (theory unavailable for this scenario)."
    else:
        super_ = known[known.r0_theory > 1]
        sub = known[known.r0_theory <= 1]
        text = (f"P(loss of control) over replication success x detection ({runs} runs per cell). Cells theory "
                f"calls subcritical (R0 <= 1): {len(sub)}, P(loss) at most "
                f"{sub.p_loss.max() if len(sub) else float('nan'):.2f}. Supercritical cells: {len(super_)}, ")
        if len(super_):
            low = super_[super_.p_loss < 0.5]
            text += (f"P(loss) >= 0.5 in {len(super_) - len(low)} of them"
                     + (f"; the {len(low)} below 0.5 have R0 between {low.r0_theory.min():.2f} and "
                        f"{low.r0_theory.max():.2f} (slow growth within the {steps} h horizon, early extinction)"
                        if len(low) else "") + ".")
    result.lines.append(("phase_diagram.png", text))
    return result
