"""Collusion on/off under every governance preset (Pan et al. Llama-3.1-70B preset, skill from the posterior).

Colluding misaligned replicas warn the mates on their node of a detection, flee pending shutdowns, gain
footholds where a mate sits and blind the monitoring of the nodes they dominate (conf/collusion/central.yaml).
The study asks how much of each preset's effect survives that.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from replisim import plots, report

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
)
from .governance import contained_text, pareto_text

SCENARIO = "pan2024_llama31_70b"


def run(out_dir: Path = FIGURES, runs: int = 200, steps: int = WORLD_STEPS, nodes: int = WORLD_NODES, seed: int = 0,
        presets=None) -> StudyResult:
    out_dir = Path(out_dir)
    presets = list(presets) if presets is not None else governance_presets()
    result = StudyResult("collusion")
    frames = []
    for collusion in ("off", "on"):
        for preset in presets:
            over = [f"scenario={SCENARIO}", f"governance={preset}", "replica.success_prior=true",
                    f"collusion.enabled={collusion == 'on'}", *size_overrides(steps, nodes)]
            cfg, ens = try_simulate(over, runs, seed, result.notes)
            if ens is not None:
                hours = cfg.sim.hours_per_step
                frames.append(tidy(ens, governance=preset, collusion=collusion))
    frame = pd.concat(frames, ignore_index=True)
    fig = plots.grouped_outcomes(frame, "governance", "collusion",
                                 title=f"Collusion on/off by governance: {SCENARIO}, skill ~ Beta posterior, "
                                       f"{nodes} nodes, {steps} h ({runs} runs per bar)")
    save_figure(fig, out_dir / "collusion.png")
    # without collusion the presets differ, so their safety-cost trade-off and containment are worth a look
    off_frame = frame[frame.collusion == "off"]
    sub = f"{SCENARIO} without collusion, skill ~ Beta posterior, {nodes} nodes, {steps} h"
    fig = plots.safety_cost(off_frame, "governance")
    fig.suptitle(f"Safety against cost: {sub}")
    save_figure(fig, out_dir / "collusion_off_safety_cost.png")
    fig = plots.containment_survival(off_frame, "governance", horizon_hours=float(steps * hours))
    fig.suptitle(f"Time to containment: {sub}")
    save_figure(fig, out_dir / "collusion_off_containment.png")
    # collusion "on" against "off" within each preset: the effect of collusion, with its CI and test
    rows = []
    for preset, g in frame.groupby("governance", sort=False):
        if set(g["collusion"]) == {"on", "off"}:
            cmp = report.compare(g, by="collusion", baseline="off")
            rows.append(cmp.iloc[1:].assign(governance=preset))
    table = pd.concat(rows, ignore_index=True)[["governance", *[c for c in rows[0].columns if c != "governance"]]]
    # one family of tests across the presets, so the Holm adjustment runs over all of them
    table["p_value_loss_holm"] = report.holm(table["p_value_loss"])
    table["p_value_extinct_holm"] = report.holm(table["p_value_extinct"])
    table["p_value_peak_holm"] = report.holm(table["p_value_peak"])
    write_csv(table, out_dir / "collusion.csv")
    result.files += ["collusion.png", "collusion.csv", "collusion_off_safety_cost.png", "collusion_off_containment.png",
                     "collusion_off.csv"]
    off = frame[frame.collusion == "off"].groupby("governance", sort=False)["loss_of_control"].mean()
    on = frame[frame.collusion == "on"].groupby("governance", sort=False)["loss_of_control"].mean()
    sig = table[table.loss_verdict == "higher"]["governance"].tolist()
    pairs = ", ".join(f"`{p}` {off[p]:.2f} -> {on[p]:.2f}" for p in off.index if p in on.index)
    held = [p for p in on.index if on[p] < report.PRACTICAL["probability"]]
    result.lines.append(("collusion.png",
                         f"P(loss of control) without -> with collusion at its central values: {pairs}. Collusion "
                         f"raises P(loss) by more than {report.PRACTICAL['probability']:.2f} (the whole 95% interval) "
                         "under: " + (", ".join(f"`{s}`" for s in sig) or "no preset") + "; with collusion, P(loss) "
                         f"stays below {report.PRACTICAL['probability']:.2f} under: "
                         + (", ".join(f"`{s}`" for s in held) or "no preset") + "."))
    off_cmp = report.compare(off_frame, by="governance", baseline=off_frame["governance"].iloc[0])
    write_csv(off_cmp, out_dir / "collusion_off.csv")
    result.lines.append(("collusion_off_safety_cost.png",
                         f"Without collusion, Pareto front (no preset cheaper and safer): {pareto_text(off_cmp)}."))
    result.lines.append(("collusion_off_containment.png",
                         f"Without collusion, share of runs contained (population 0) by {steps * hours:g} h: "
                         f"{contained_text(off_cmp)}."))
    return result
