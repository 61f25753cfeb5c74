"""Per-cell summary tables of parameter sweeps (the numbers behind the sweep figures)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from replisim.stats import wilson

from . import StudyResult, save_figure, write_csv


def sweep_table(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """One row per combination of ``keys``: runs, P(loss) with Wilson 95% interval, P(extinct), median peak,
    median final misaligned count and median collateral node-hours."""
    rows = []
    for values, g in frame.groupby(keys, sort=True):
        values = values if isinstance(values, tuple) else (values,)
        k, n = int(g["loss_of_control"].sum()), len(g)
        lo, hi = wilson(k, n)
        rows.append({**dict(zip(keys, values)), "runs": n, "p_loss": k / n, "p_loss_low": lo, "p_loss_high": hi,
                     "p_extinct": float(g["extinct"].mean()),
                     "median_peak": float(np.median(g["peak_replicas"])),
                     "median_misaligned_final": float(np.median(g["misaligned_final"])),
                     "median_collateral_node_hours": float(np.median(g["collateral_node_hours"]))})
    return pd.DataFrame(rows)


def write_sweep(fig, frame: pd.DataFrame, keys: list[str], out_dir, name: str, result: StudyResult) -> pd.DataFrame:
    """Save a sweep's figure as ``name.png`` and its :func:`sweep_table` as ``name.csv``; return the table."""
    save_figure(fig, out_dir / f"{name}.png")
    table = sweep_table(frame, keys)
    write_csv(table, out_dir / f"{name}.csv")
    result.files += [f"{name}.png", f"{name}.csv"]
    return table
