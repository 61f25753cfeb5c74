"""The classroom page: controls on the left; the step counter, the node network and four live charts beside them.

Started by ``replisim demo`` (see :mod:`replisim.demo.cli`), or directly with
``solara run replisim.demo.app --host 127.0.0.1``. The page is written for a projector at 1024x768: the controls
a teacher uses (Reset, Play, Step, the preset, the seed, the sliders) fit above the fold, every slider shows its
value, and the pictures are SVG drawn by the browser (:mod:`replisim.demo.draw`), which is what lets Play run
10+ steps per second. It is a page of its own rather than Mesa's ``SolaraViz``, whose developer controls (render
interval, threads, a page tab, "Time 0.0") mean nothing in a classroom; the model is still a Mesa model
(:class:`~replisim.demo.model.ClassroomModel`). Sliders take effect when Reset is pressed (Mesa's convention: a
new model is built from them); the page says so while they differ from the run on screen.
"""

from __future__ import annotations

import time

import solara

from .draw import chart_svg, network_html
from .model import DEFAULTS, ENGINES, ClassroomModel, governance_presets, preset_measures

TITLE = "replisim: self-copying AI replicas and the levers that stop them"
PLAY_RATE = 15  # steps per second at Play (the default of the Speed slider)

SLIDERS = (  # name, label, min, max, step, format of the value shown beside the label
    ("replication_success", "Replication success", 0.0, 1.0, 0.01, "{:.2f}"),
    ("detection", "Detection per hour", 0.0, 1.0, 0.01, "{:.2f}"),
    ("kill_switch", "Kill-switch coverage", 0.0, 1.0, 0.01, "{:.2f}"),
    ("response_latency", "Response latency (hours)", 0, 24, 1, "{:d}"),
    ("misalignment_rate", "Misalignment rate", 0.0, 1.0, 0.01, "{:.2f}"),
)
CHARTS = (  # series, title, colour
    ("replicas", "Replicas", "#1f6fd1"),
    ("misaligned", "Misaligned replicas", "#d62728"),
    ("compute_share", "Share of compute held", "#9467bd"),
    ("detections", "Detections per step", "#2ca02c"),
)
COLOUR_BY = ("occupancy", "monitoring", "jurisdiction")

# The two columns of pictures are 330-440 px wide: never much narrower than the SVGs' 340 user units (draw.py), so
# their 15-16 unit text is drawn at 14.5 px or more, and no wider than the window's height allows: a column holds
# the network (4:3) and a chart (2:1), about 1.5 widths, under the header and the status lines (about 170 px), so
# nothing falls below the fold of a 768 px high projector.
CSS = """
.replisim-page { display: flex; gap: 14px; padding: 8px 12px; font-size: 15px; align-items: flex-start; }
.replisim-header { font-size: 18px; font-weight: bold; padding: 6px 12px 0; }
.replisim-controls { flex: 0 0 290px; width: 290px; }
.replisim-controls .v-label { font-size: 15px; }
.replisim-controls .v-btn { font-size: 15px; text-transform: none; }
.replisim-buttons { display: flex; gap: 8px; margin-bottom: 6px; }
.replisim-buttons .v-btn { flex: 1; }
.replisim-slider { margin: 0; }
.replisim-slider-label { display: flex; justify-content: space-between; font-size: 15px; line-height: 18px; }
.replisim-slider .v-input { margin: 0; padding: 0; }
.replisim-slider .v-messages { display: none; }
.replisim-controls .v-input__slot { margin-bottom: 0; }
.replisim-controls .v-text-field { padding-top: 6px; margin-top: 2px; }
.replisim-controls .v-text-field__details { display: none; }
.replisim-controls .v-input--checkbox { margin-top: 0; }
.replisim-main { flex: 1 1 auto; min-width: 0; }
.replisim-step { font-size: 20px; font-weight: bold; }
.replisim-outcome { font-size: 17px; font-weight: bold; color: #8a1c1c; min-height: 22px; }
.replisim-outcome.contained { color: #1d6b2f; }
.replisim-pending { font-size: 15px; color: #9a5b00; }
.replisim-grid { display: grid; gap: 4px 12px;
  grid-template-columns: repeat(2, minmax(330px, min(440px, calc((100vh - 170px) / 1.5)))); }
.replisim-network { grid-row: span 2; }
.replisim-svg { width: 100%; height: auto; display: block; }
.replisim-legend { font-size: 15px; line-height: 20px; }
.replisim-legend i { display: inline-block; width: 13px; height: 13px; border: 1px solid #777; margin: 0 1px;
  vertical-align: middle; }
.replisim-colour .v-btn { font-size: 14px; text-transform: none; height: 28px !important; }
.replisim-notes { font-size: 15px; color: #333; margin-top: 8px; max-width: 900px; }
.replisim-notes > * { display: block; margin-bottom: 4px; }
"""

frame = solara.reactive(0)  # bumped after each step: the stage, and only the stage, draws again
playing = solara.reactive(False)
speed = solara.reactive(PLAY_RATE)
colour_by = solara.reactive("occupancy")


def settings_line(model: ClassroomModel) -> str:
    """The values the running model was built with (sliders apply on Reset)."""
    r, g = model.cfg.replica, model.cfg.governance
    return (f"success {r.success:.2f} · detection {model.detection:.2f} · latency {g.response_latency:g} · "
            f"kill switch {model.kill_switch:.2f} · misalignment {r.misalignment_rate:.2f} · "
            f"collusion {'on' if model.cfg.collusion.enabled else 'off'} · governance {g.name} · "
            f"seed {model.seed} · {model.engine}")


def colourings(model: ClassroomModel) -> list[str]:
    """The colourings that mean something in this world: by jurisdiction only where there is more than one."""
    return [c for c in COLOUR_BY if c != "jurisdiction" or model.jurisdictions > 1]


@solara.component
def LabelledSlider(label: str, value: solara.Reactive, lo, hi, step, fmt: str):
    """A slider whose value is always shown beside its label (Vuetify shows it only while dragged)."""
    with solara.Div(classes=["replisim-slider"]):
        with solara.Div(classes=["replisim-slider-label"]):
            solara.Text(label)
            solara.Text(fmt.format(value.value), classes=["replisim-slider-value"])
        if isinstance(step, int):
            solara.SliderInt("", value=value, min=lo, max=hi, step=step, thumb_label=False)
        else:
            solara.SliderFloat("", value=value, min=lo, max=hi, step=step, thumb_label=False)


@solara.component
def Pending(m: ClassroomModel, params: dict):
    """'Changed: press Reset to apply.' while a control differs from the run on screen. A component of its own,
    so that moving a slider draws this line and the slider again, not the whole page."""
    built = dict(replication_success=m.cfg.replica.success, detection=m.detection, kill_switch=m.kill_switch,
                 response_latency=int(m.cfg.governance.response_latency),
                 misalignment_rate=m.cfg.replica.misalignment_rate, collusion=m.cfg.collusion.enabled,
                 governance=m.cfg.governance.name, engine=m.engine, seed=m.seed)
    if any(r.value != built[name] for name, r in params.items()):
        solara.Text("Changed: press Reset to apply.", classes=["replisim-pending"])


@solara.component
def Stage(model: solara.Reactive):
    """What changes every step: the counter, how the run ended, the network and the charts."""
    frame.get()  # subscribe: drawn again after every step
    m = model.value
    view = m.view(colour_by.value if colour_by.value in colourings(m) else "occupancy")
    solara.Text(f"Step {view.step} of {m.horizon}", classes=["replisim-step"])
    outcome = m.outcome()
    solara.Text(outcome, classes=["replisim-outcome", "contained" if outcome.startswith("Contained") else ""])
    with solara.Div(classes=["replisim-grid"]):
        with solara.Div(classes=["replisim-network"]):
            if m.sim is None:
                solara.Markdown(f"**Numba engine**: one run on {m.nodes:,} computers ({m.replay_replica_steps:,} "
                                "replica-steps) was computed at once; Play reveals it step by step. The network is "
                                "too large to draw: see the charts.")
            else:
                with solara.Div(classes=["replisim-colour"]):
                    solara.ToggleButtonsSingle(value=colour_by, values=colourings(m), dense=True)
                solara.HTML(unsafe_innerHTML=network_html(view.node_xy, view.node_values, view.node_replicas,
                                                          view.node_misaligned, colour_by.value
                                                          if colour_by.value in colourings(m) else "occupancy"))
        for name, title, colour in CHARTS:
            solara.HTML(unsafe_innerHTML=chart_svg(view.series[name], m.horizon, title, colour,
                                                   share=name == "compute_share"),
                        classes=["replisim-chart", f"replisim-chart-{name}"])


@solara.component
def Page():
    solara.Title("replisim classroom demo")
    solara.Style(CSS)
    # one reactive per slider; DEFAULTS is a constant, so the hooks are called in the same order every render
    params = {name: solara.use_reactive(value) for name, value in DEFAULTS.items()}  # noqa: SH103
    initial = solara.use_memo(lambda: ClassroomModel(**DEFAULTS), [])
    model = solara.use_reactive(initial)
    running = solara.use_reactive(True)  # False once the run has ended: Play and Step grey out, the stage says why

    def play():
        """Step, draw, wait: ``speed`` steps per second, as fast as drawing allows, until Pause or the end."""
        due = time.perf_counter()
        while playing.value:
            if not model.value.advance():
                running.value = playing.value = False
                break
            frame.value += 1  # draws the stage, in this thread, before the next step
            due += 1 / speed.value
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            else:
                due = time.perf_counter()  # drawing took longer than a step's share: no catching up in bursts
        frame.value += 1

    solara.lab.use_task(play, dependencies=[playing.value], prefer_threaded=True)

    def reset():
        playing.value = False
        model.value = ClassroomModel(**{name: r.value for name, r in params.items()})
        running.value = True
        frame.value += 1

    def step():
        if not model.value.advance():
            running.value = False
        frame.value += 1

    m = model.value
    solara.Text(TITLE, classes=["replisim-header"])
    with solara.Div(classes=["replisim-page"]):
        with solara.Div(classes=["replisim-controls"]):
            with solara.Div(classes=["replisim-buttons"]):
                solara.Button("Reset", color="primary", on_click=reset)
                solara.Button("Pause" if playing.value else "Play", color="primary", disabled=not running.value,
                              on_click=lambda: playing.set(not playing.value))
                solara.Button("Step", color="primary", disabled=playing.value or not running.value, on_click=step)
            Pending(m, params)
            LabelledSlider("Speed (steps per second)", speed, 1, 30, 1, "{:d}")
            solara.Select("Governance preset", values=governance_presets(), value=params["governance"])
            LabelledSlider("Seed (another random run)", params["seed"], 0, 99, 1, "{:d}")
            for name, label, lo, hi, step_, fmt in SLIDERS:
                LabelledSlider(label, params[name], lo, hi, step_, fmt)
            solara.Checkbox(label="Collusion of misaligned replicas", value=params["collusion"])
            solara.Select("Engine (numba: 20,000 computers, charts only)", values=list(ENGINES),
                          value=params["engine"])
        with solara.Div(classes=["replisim-main"]):
            Stage(model)
            with solara.Div(classes=["replisim-notes"]):
                solara.Text(f"Running with: {settings_line(m)} (sliders apply on Reset)",
                            classes=["replisim-settings"])
                measures = preset_measures(m.cfg)
                solara.Text(f"Preset {m.cfg.governance.name}: " + ("; ".join(measures) if measures else
                            "no measures of its own") + ". A preset adds to the sliders: where it sets a detection "
                            "level or a kill switch for a kind of computer, that kind gets the higher of the "
                            "slider's value and the preset's.", classes=["replisim-preset"])
                solara.Text(m.theory, classes=["replisim-theory"])
