"""The classroom page (SolaraViz): the node network, sliders for the levers, and live charts.

Started by ``replisim demo`` (see :mod:`replisim.demo.cli`), or directly with
``solara run replisim.demo.app --host 127.0.0.1``. Sliders take effect when Reset is pressed (Mesa's
convention: a new model is built from them); Step, Play and Reset are in the Controls card.
"""

from __future__ import annotations

import numpy as np
import solara
from matplotlib.figure import Figure
from mesa.visualization import SolaraViz
from mesa.visualization.user_param import Slider

from .model import DEFAULTS, ENGINES, ClassroomModel, View, governance_presets

COLOUR_BY = ("occupancy", "jurisdiction", "monitoring")
colour_by = solara.reactive("occupancy")

MODEL_PARAMS = {
    "replication_success": Slider("Replication success", DEFAULTS["replication_success"], 0.0, 1.0, 0.01),
    "detection": Slider("Detection per hour", DEFAULTS["detection"], 0.0, 1.0, 0.01),
    "response_latency": Slider("Response latency (hours)", DEFAULTS["response_latency"], 0, 24, 1),
    "kill_switch": Slider("Kill-switch coverage", DEFAULTS["kill_switch"], 0.0, 1.0, 0.01),
    "misalignment_rate": Slider("Misalignment rate", DEFAULTS["misalignment_rate"], 0.0, 1.0, 0.01),
    "collusion": {"type": "Checkbox", "value": DEFAULTS["collusion"], "label": "Collusion"},
    "governance": {"type": "Select", "value": DEFAULTS["governance"], "values": governance_presets(),
                   "label": "Governance preset"},
    "engine": {"type": "Select", "value": DEFAULTS["engine"], "values": list(ENGINES),
               "label": "Engine (numba: 20,000 nodes, charts only)"},
    "seed": Slider("Seed", DEFAULTS["seed"], 0, 99, 1),
}

CHARTS = (  # series, title, colour
    ("replicas", "Population (replicas)", "#1f77b4"),
    ("misaligned", "Misaligned replicas", "#d62728"),
    ("compute_share", "Share of compute held", "#9467bd"),
    ("detections", "Detections per step", "#2ca02c"),
)


def network_figure(view: View, by: str, nodes: int) -> Figure:
    """Nodes at their layout positions, coloured by ``by``; each replica a dot beside its node (red: misaligned)."""
    fig = Figure(figsize=(6.4, 6.0), layout="constrained")
    ax = fig.subplots()
    cmap, label, top = {
        "occupancy": ("Greys", "occupied share of slots", 1.0),
        "jurisdiction": ("tab10", "jurisdiction", 9),
        "monitoring": ("viridis", "monitoring (detection per hour)", max(view.node_values.max(), 1e-9)),
    }[by]
    dots = ax.scatter(view.node_xy[:, 0], view.node_xy[:, 1], c=view.node_values, cmap=cmap, s=28,
                      edgecolors="0.6", linewidths=0.4, vmin=0, vmax=top)
    fig.colorbar(dots, ax=ax, shrink=0.6, label=label)
    n = len(view.replica_xy)
    if n:
        jitter = np.random.default_rng(view.step).normal(0, 0.012, (n, 2))  # fixed per step: no dancing dots
        colours = np.where(view.replica_misaligned, "#d62728", "#1f77b4")
        ax.scatter(*(view.replica_xy + jitter).T, c=colours, s=7, zorder=3)
    ax.set_title(f"step {view.step}: {n} replicas ({int(view.replica_misaligned.sum())} misaligned, red) "
                 f"on {nodes} nodes")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_aspect("equal")
    return fig


def chart_figure(y: np.ndarray, horizon: int, name: str, title: str, colour: str) -> Figure:
    fig = Figure(figsize=(4.2, 2.8), layout="constrained")
    ax = fig.subplots()
    ax.plot(np.arange(len(y)), y, color=colour, lw=1.8)
    ax.set_xlim(0, horizon)
    ax.set_ylim(bottom=0)
    ax.set_title(f"{title}: {y[-1]:.1%}" if name == "compute_share" else f"{title}: {y[-1]:.3g}", fontsize=10)
    ax.set_xlabel("step (hours)")
    ax.grid(alpha=0.3)
    return fig


def settings_line(model: ClassroomModel) -> str:
    """The values the running model was built with (sliders apply on Reset)."""
    r, g = model.cfg.replica, model.cfg.governance
    return (f"success {r.success:.2f} · detection {model.detection:.2f} · latency {g.response_latency} · "
            f"kill switch {model.kill_switch:.2f} · misalignment {r.misalignment_rate:.2f} · "
            f"collusion {'on' if model.cfg.collusion.enabled else 'off'} · governance {g.name} · {model.engine}")


def NetworkView(model: ClassroomModel):
    """The node network (Mesa engine) or a note that the large Numba run shows charts only."""
    view = model.view(colour_by.value)
    with solara.Column(classes=["replisim-network"]) as main:
        solara.Text(f"Step {view.step} of {model.horizon}", classes=["replisim-step"])
        solara.Text(f"Running with: {settings_line(model)} (sliders apply on Reset)", classes=["replisim-settings"])
        if model.sim is None:
            solara.Markdown(f"**Numba engine**: one run on {model.nodes:,} nodes ({model.replay_replica_steps:,} "
                            "replica-steps) was computed at once; Play reveals it step by step. "
                            "The network is too large to draw: see the charts.")
        else:
            solara.ToggleButtonsSingle(value=colour_by, values=list(COLOUR_BY))
            solara.FigureMatplotlib(network_figure(view, colour_by.value, model.nodes), format="png")
            solara.Text(model.theory, classes=["replisim-theory"])
    return main


def ChartsView(model: ClassroomModel):
    """Live charts of population, misaligned replicas, compute share and detections."""
    view = model.view()
    with solara.Div(classes=["replisim-charts"]) as main:
        with solara.GridFixed(columns=2):
            for name, title, colour in CHARTS:
                with solara.Div(classes=[f"replisim-chart-{name}"]):
                    solara.FigureMatplotlib(chart_figure(view.series[name], model.horizon, name, title, colour),
                                            format="png")
    return main


@solara.component
def Page():
    model = solara.use_memo(ClassroomModel, [])
    SolaraViz(model, components=[NetworkView, ChartsView], model_params=MODEL_PARAMS, play_interval=150,
              name="replisim: self-copying AI replicas and the levers that stop them")
