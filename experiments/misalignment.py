"""Emergent misalignment: replicas start aligned; each copy turns misaligned with ``replica.misalignment_rate``.

Runs on the Pan et al. Llama-3.1-70B preset (skill from the posterior) with no governance preset and a uniform
detection of 0.03 per hour on every node (a mean time to detect of 33 h), where aligned replicas are contained
and the outcome can show what misalignment changes, with collusion on and off. Misaligned replicas avoid shutdown
and, with collusion, cooperate; aligned ones do neither.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from replisim import plots

from . import FIGURES, WORLD_NODES, WORLD_STEPS, StudyResult, governance_presets, simulate, size_overrides, tidy
from .sweeps import write_sweep

SCENARIO = "pan2024_llama31_70b"
RATES = (0.0, 0.001, 0.01, 0.03, 0.1, 0.3)
GOVERNANCE = "none"
DETECTION = 0.03  # per hour, on every node, when the governance is `none`


def run(out_dir: Path = FIGURES, runs: int = 200, steps: int = WORLD_STEPS, nodes: int = WORLD_NODES, seed: int = 0,
        rates=RATES, governance: str | None = None) -> StudyResult:
    out_dir = Path(out_dir)
    result = StudyResult("misalignment")
    governance = GOVERNANCE if governance is None else governance
    if governance not in governance_presets():
        raise ValueError(f"governance={governance!r} is not a shipped preset; choose one of "
                         f"{', '.join(governance_presets())}")
    gov_over = [f"governance={governance}"] + ([f"governance.detection={DETECTION}"] if governance == "none" else [])
    frames = []
    for collusion in ("off", "on"):
        for r in rates:
            _, ens = simulate([f"scenario={SCENARIO}", "replica.success_prior=true", "replica.initial_misaligned=0",
                               f"collusion.enabled={collusion == 'on'}", *gov_over, *size_overrides(steps, nodes)],
                              runs, seed, {"replica.misalignment_rate": float(r)})
            frames.append(tidy(ens, collusion=collusion, **{"replica.misalignment_rate": r}))
    frame = pd.concat(frames, ignore_index=True)
    gov_label = governance + (f" + detection {DETECTION}/h" if governance == "none" else "")
    fig = plots.sweep_lines(frame, "replica.misalignment_rate", hue="collusion",
                            title=f"Emergent misalignment: {SCENARIO} starting aligned, {gov_label} governance, "
                                  f"{nodes} nodes, {steps} h, {runs} runs per point")
    positive = [r for r in rates if r > 0]
    if positive:  # rates span decades and include 0: symlog keeps 0 on the axis
        for ax in fig.axes:
            ax.set_xscale("symlog", linthresh=min(positive))
            ax.set_xlim(-0.3 * min(positive), 1.5 * max(positive))
    table = write_sweep(fig, frame, ["collusion", "replica.misalignment_rate"], out_dir, "misalignment", result)
    piv = table.pivot(index="replica.misalignment_rate", columns="collusion", values="p_loss")
    lo_r, hi_r = min(rates), max(rates)
    text = (f"Replicas start aligned; under `{gov_label}` governance P(loss) goes from "
            f"{piv.loc[lo_r, 'off']:.2f} (rate {lo_r}) to "
            f"{piv.loc[hi_r, 'off']:.2f} (rate {hi_r}) without collusion and from {piv.loc[lo_r, 'on']:.2f} to "
            f"{piv.loc[hi_r, 'on']:.2f} with it.")
    result.lines.append(("misalignment.png", text))
    return result
