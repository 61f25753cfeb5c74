"""The worked example of docs/analysis.md: ``replisim.explore`` and ``replisim.optimize`` on the default world.

* explore: the default world without governance, every key of ``conf/uncertainty/default.yaml`` drawn per run,
  Saltelli's design with ``samples`` base samples: which assumptions drive loss of control, and PRIM's box of the
  worlds where it happens (``analysis_sensitivity.png``, ``analysis_drivers.png``, ``analysis_scenarios.png``);
* optimize: NSGA-II over ``replisim.optimization.DEFAULT_LEVERS`` on ``worlds`` sampled worlds, the presets judged on
  the same worlds (``analysis_pareto.png``).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pandas as pd

from replisim import compose, explore, optimize
from replisim.files import atomic

from . import FIGURES, WORLD_NODES, WORLD_STEPS, StudyResult, size_overrides, write_csv

FIGURE_NAMES = {"sensitivity": "analysis_sensitivity.png", "drivers": "analysis_drivers.png",
                "scenarios": "analysis_scenarios.png"}


def run(out_dir: Path = FIGURES, runs: int = 256, steps: int = WORLD_STEPS, nodes: int = WORLD_NODES, seed: int = 0,
        worlds: int = 32, nfe: int = 200) -> StudyResult:
    """``runs``: Saltelli's base samples (rounded down to a power of 2)."""
    out_dir = Path(out_dir)
    result = StudyResult("analysis")
    samples = 1 << max(1, int(runs).bit_length() - 1)
    cfg = compose(["uncertainty=default", *size_overrides(steps, nodes)])
    with tempfile.TemporaryDirectory() as tmp:
        table = explore(cfg, samples=samples, seed=seed, outdir=tmp)
        for name, target in FIGURE_NAMES.items():
            src = Path(tmp) / "figures" / f"{name}.png"
            if src.exists():
                atomic(out_dir / target, lambda dst, src=src: shutil.copyfile(src, dst))
                result.files.append(target)
        scen = pd.read_csv(Path(tmp) / "scenarios.csv")
        pareto = optimize(cfg, worlds=worlds, nfe=nfe, seed=seed, outdir=Path(tmp) / "optimize")
        presets = pd.read_csv(Path(tmp) / "optimize" / "presets.csv")
        atomic(out_dir / "analysis_pareto.png",
               lambda dst: shutil.copyfile(Path(tmp) / "optimize" / "figures" / "pareto.png", dst))
    write_csv(table, out_dir / "analysis_sensitivity.csv")
    write_csv(scen, out_dir / "analysis_scenarios.csv")
    write_csv(pareto, out_dir / "analysis_pareto.csv")
    write_csv(presets, out_dir / "analysis_presets.csv")
    result.files += ["analysis_pareto.png", "analysis_sensitivity.csv", "analysis_scenarios.csv", "analysis_pareto.csv",
                     "analysis_presets.csv"]
    runs_total = samples * (len(cfg.uncertain) + 2)
    loss = table[table["outcome"] == "loss_of_control"].sort_values("ST", ascending=False)
    if loss["ST"].notna().any():
        top = "; ".join(f"`{r.parameter}` {r.ST:.2f} [{r.ST - r.ST_conf:.2f}, {r.ST + r.ST_conf:.2f}]"
                        for r in loss.head(3).itertuples())
        text = (f"No governance, the {len(cfg.uncertain)} keys of `uncertainty=default` drawn per run ({runs_total:,} "
                f"runs): total-order Sobol indices of loss of control, largest first: {top}.")
    else:
        text = f"No governance ({runs_total:,} runs): loss of control is {loss['note'].iloc[0]}, nothing to share out."
    result.lines.append(("analysis_sensitivity.png", text))
    box = scen[(scen["case"] == "loss_of_control")]
    limits = "; ".join(f"`{r.parameter}` in [{r.low:.3g}, {r.high:.3g}]" for r in box.itertuples()
                       if isinstance(r.parameter, str) and r.parameter)
    first = box.iloc[0]
    result.lines.append(("analysis_scenarios.png",
                         f"PRIM's box of the worlds that lose control without governance ({first['cases']:,} of "
                         f"{first['runs']:,} runs): {limits or 'no restriction'} (coverage {first['coverage']:.2f}, "
                         f"density {first['density']:.2f})."))
    result.lines.append(("analysis_drivers.png", "Loss of control against each of its three strongest drivers, in ten "
                                                 "bins of each (share of runs with Wilson 95% intervals)."))
    beaten = presets["dominated_by"].astype(object).where(presets["dominated_by"].notna(), "").astype(str)
    dominated = presets[beaten.str.strip() != ""]["preset"].tolist()
    safest = pareto.sort_values(["p_loss", "collateral_p90"]).iloc[0]
    result.lines.append(("analysis_pareto.png",
                         f"NSGA-II, {nfe} policies judged on the same {worlds} sampled worlds: {len(pareto)} "
                         f"non-dominated; the safest has P(loss) {safest['p_loss']:.2f} at a 90th-percentile "
                         f"collateral cost of {safest['collateral_p90']:,.0f} node-hours. Presets dominated by a found "
                         f"policy: {', '.join(f'`{p}`' for p in dominated) or 'none'}."))
    return result
