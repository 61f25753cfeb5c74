"""Fan chart of the minimal scenario at three detection levels, with the mean-field ODE of replisim.theory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from replisim import plots

from . import FIGURES, StudyResult, save_figure, simulate, size_overrides, write_csv

DETECTION = (0.1, 0.2, 0.3)  # R0 > 1, near 1, < 1 for the minimal scenario's success 0.5


def run(out_dir: Path = FIGURES, runs: int = 300, steps: int = 240, nodes: int = 250, seed: int = 0,
        detection=DETECTION) -> StudyResult:
    out_dir = Path(out_dir)
    result = StudyResult("fan")
    ens_by, theory_by = {}, {}
    for d in detection:
        cfg, ens = simulate(["scenario=minimal", *size_overrides(steps, nodes)], runs, seed,
                            {"governance.detection": float(d)})
        label = f"detection {d}"
        ens_by[label] = ens
        theory_by[label] = cfg
    # solve the ODE once here (not inside the figure) so the CSV holds the same curve as the figure
    solved = {label: plots.theory_curve(cfg) for label, cfg in theory_by.items()}
    fig = plots.fan_chart(ens_by, solved)
    fig.suptitle(f"Minimal scenario: population over time ({runs} runs each, {nodes} nodes x 4 slots)")
    save_figure(fig, out_dir / "fan_chart.png")
    rows = []
    for label, ens in ens_by.items():
        y = ens.series("replicas")
        q = np.quantile(y, [0.05, 0.25, 0.5, 0.75, 0.95], axis=0)
        ode = solved[label]
        ode_n = (np.full(ens.hours.size, np.nan) if isinstance(ode, str)
                 else np.interp(ens.hours, ode["hours"], ode["replicas"]))
        rows.append(pd.DataFrame({"label": label, "hours": ens.hours, "q05": q[0], "q25": q[1], "median": q[2],
                                  "q75": q[3], "q95": q[4], "mean": y.mean(axis=0), "ode": ode_n}))
    table = pd.concat(rows, ignore_index=True)
    write_csv(table, out_dir / "fan_chart.csv")
    result.files += ["fan_chart.png", "fan_chart.csv"]
    end = table[table.hours == table.hours.max()].set_index("label")
    parts = []
    for label in ens_by:
        r = end.loc[label]
        ode = "no ODE" if np.isnan(r.ode) else f"ODE {r.ode:,.0f}"
        parts.append(f"{label}: mean {r['mean']:,.0f} vs {ode}, median {r['median']:,.0f}")
    result.lines.append(("fan_chart.png", f"Replicas at {table.hours.max():g} h: " + "; ".join(parts) + "."))
    return result
