"""replisim.plots: each function returns a Figure with the expected axes and artists; the estimators behind
the figures (Kaplan-Meier, Pareto front) against hand-computed examples."""

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import QuadMesh
from matplotlib.figure import Figure

import replisim
from replisim import plots, stats


def _frame(n=40, seed=0):
    """Two regimes: 'none' always grows, 'strict' is contained in half the runs at known times."""
    rng = np.random.default_rng(seed)
    rows = []
    for name, p_loss in (("none", 0.9), ("strict", 0.2)):
        loss = np.arange(n) < round(p_loss * n)
        ttc = np.where(np.arange(n) % 2 == 0, rng.integers(5, 50, n).astype(float), np.nan)
        rows.append(pd.DataFrame({
            "governance": name, "loss_of_control": loss, "extinct": ~np.isnan(ttc),
            "peak_replicas": rng.integers(10, 2000, n), "final_compute_share": rng.uniform(0, 1, n),
            "time_to_containment": ttc, "collateral_node_hours": 10.0 if name == "none" else 1000.0}))
    return pd.concat(rows, ignore_index=True)


@pytest.fixture(scope="module")
def minimal_ensembles():
    cfg = replisim.compose(["scenario=minimal", "network.nodes=30", "sim.steps=30"])
    return cfg, {"a": replisim.simulate(cfg, runs=24, seed=1)}


def _legend_texts(fig):
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend()] + list(fig.legends)
    return [t.get_text() for legend in legends for t in legend.get_texts()]


def test_kaplan_meier_by_hand_with_censoring():
    # events at 1, 2, 3; censored at 2, 4, 5. At t=1: 6 at risk, 1 event -> 5/6. At t=2: 5 at risk (the run
    # censored at 2 still counts), 1 event -> 5/6 * 4/5 = 2/3. At t=3: 3 at risk, 1 event -> 2/3 * 2/3 = 4/9.
    times, surv = stats.kaplan_meier([1, 2, 2, 3, 4, 5], [1, 1, 0, 1, 0, 0])
    assert times == pytest.approx([0, 1, 2, 3])
    assert surv == pytest.approx([1, 5 / 6, 2 / 3, 4 / 9])


def test_kaplan_meier_without_censoring_is_the_empirical_survival():
    t = np.random.default_rng(4).integers(1, 30, 200).astype(float)
    times, surv = stats.kaplan_meier(t, np.ones_like(t, bool))
    assert surv[1:] == pytest.approx([(t > ti).mean() for ti in times[1:]])


def test_pareto_front_by_hand():
    cost = [1, 2, 3, 4, 2]
    risk = [0.9, 0.5, 0.6, 0.1, 0.5]
    # (3, 0.6) is beaten by (2, 0.5); the two (2, 0.5) tie, so neither dominates the other
    assert list(stats.pareto_front(cost, risk)) == [0, 1, 4, 3]


def test_outcome_distributions_has_three_panels_per_regime():
    fig = plots.outcome_distributions(_frame(), "governance")
    assert isinstance(fig, Figure) and len(fig.axes) == 3
    peak, loss, share = fig.axes
    assert peak.get_yscale() == "log"
    assert [t.get_text() for t in loss.get_xticklabels()] == ["none", "strict"]
    points = loss.lines[0].get_ydata()
    assert points == pytest.approx([0.9, 0.2])
    assert "replicas" in peak.get_ylabel() and "compute share" in share.get_ylabel()


def test_containment_survival_ends_at_the_censored_share():
    frame = _frame()
    fig = plots.containment_survival(frame, "governance", horizon_hours=100.0)
    ax = fig.axes[0]
    curves = [line for line in ax.lines if not line.get_label().startswith("_")]
    assert len(curves) == 2
    for line in curves:
        assert line.get_xdata()[-1] == 100.0
        assert line.get_ydata()[-1] == pytest.approx(0.5)  # half the runs never contained
    assert ax.get_xlabel() == "hours since the first replicas"


def test_fan_chart_bands_median_and_ode_overlay(minimal_ensembles):
    cfg, ens = minimal_ensembles
    fig = plots.fan_chart(ens, {"a": cfg})
    ax_n, ax_s = fig.axes[:2]
    median = np.median(ens["a"].series("replicas"), axis=0)
    assert any(np.allclose(line.get_ydata(), median) for line in ax_n.lines)
    assert len(ax_n.collections) == 2  # 90% and 50% bands
    assert "mean-field ODE" in _legend_texts(fig)
    assert ax_n.get_xlabel() == "hours"


def test_fan_chart_says_why_the_ode_is_missing(minimal_ensembles):
    _, ens = minimal_ensembles
    uncovered = replisim.compose(["scenario=default", "network.nodes=30", "sim.steps=30"])  # collusion
    fig = plots.fan_chart(ens, {"a": uncovered})
    texts = _legend_texts(fig)
    assert "mean-field ODE" not in texts
    assert any(t.startswith("a: no ODE (not covered: ") for t in texts)


def test_phase_diagram_mesh_values_and_theory_line(minimal_ensembles):
    cfg, _ = minimal_ensembles
    grid = pd.DataFrame([(s, d, s > d) for s in (0.2, 0.5, 0.8) for d in (0.1, 0.4) for _ in range(5)],
                        columns=["replica.success", "governance.detection", "loss_of_control"])
    xs = np.array([0.2, 0.5, 0.8])
    line = plots.r0_line(cfg, "replica.success", "governance.detection", xs)
    from replisim import theory

    expected = theory.critical_detection(theory.with_params(cfg, **{"replica.success": 0.5}))
    assert line[1][1] == pytest.approx(expected, abs=1e-4)
    fig = plots.phase_diagram(grid, "replica.success", "governance.detection", theory_line=line)
    ax = fig.axes[0]
    mesh = [c for c in ax.collections if isinstance(c, QuadMesh)][0]
    values = np.asarray(mesh.get_array()).reshape(2, 3)  # rows: detection, columns: success
    np.testing.assert_allclose(values, [[1, 1, 1], [0, 1, 1]])
    assert "R0 = 1 (theory)" in _legend_texts(fig)
    assert "detection" in ax.get_ylabel()
    reason = plots.r0_line(cfg, "replica.success", "replica.attempt_rate", xs)
    fig = plots.phase_diagram(grid, "replica.success", "governance.detection", theory_line=reason)
    assert any(t.startswith("no R0 = 1 line") for t in _legend_texts(fig))


def test_safety_cost_marks_the_front():
    frame = pd.concat([_frame(), _frame().assign(governance="dominated", collateral_node_hours=5000.0)])
    fig = plots.safety_cost(frame, "governance")
    ax = fig.axes[0]
    ring = [c for c in ax.collections if c.get_label().startswith("Pareto front")][0]
    assert len(ring.get_offsets()) == 2  # 'dominated' costs more than 'strict' at the same P(loss)
    assert any(t == "none (front)" for t in _legend_texts(fig))


def test_sweep_and_grouped_figures():
    frame = _frame().assign(x=lambda f: np.arange(len(f)) % 3 * 0.1, collusion=lambda f: np.where(
        np.arange(len(f)) % 2 == 0, "on", "off"))
    fig = plots.sweep_lines(frame, "x", hue="collusion")
    assert len(fig.axes) == 2 and len(fig.axes[0].lines) == 2
    fig = plots.grouped_outcomes(frame, "governance", "collusion")
    assert len(fig.axes) == 2 and [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["none", "strict"]


def test_regime_figures_names(minimal_ensembles):
    cfg, ens = minimal_ensembles
    frame = ens["a"].outcomes.assign(governance="none")
    figs = plots.regime_figures(frame, ens, by="governance", theory={"a": cfg})
    assert set(figs) == {"outcomes", "containment", "safety_cost", "fan"}
    assert all(isinstance(f, Figure) for f in figs.values())
    with pytest.raises(ValueError, match="horizon_hours"):
        plots.regime_figures(frame, {}, by="governance")


def test_error_bars_at_zero_and_one_do_not_go_negative():
    # wilson(0, 200) has a lower bound of ~1e-18, one rounding error above P = 0: error bars must still work
    assert plots.wilson_err(0, 200)[1] == 0.0 and plots.wilson_err(200, 200)[2] >= 0.0
    frame = pd.DataFrame({"governance": np.repeat(["none", "strict"], 200), "collusion": "on",
                          "loss_of_control": np.repeat([True, False], 200), "extinct": False,
                          "peak_replicas": 100, "final_compute_share": 0.9991689750692521,
                          "time_to_containment": np.nan, "collateral_node_hours": 1.0})
    for fig in (plots.outcome_distributions(frame, "governance"), plots.safety_cost(frame, "governance"),
                plots.grouped_outcomes(frame, "governance", "collusion")):
        assert isinstance(fig, Figure)


def _two_factor_frame(regimes=8, scenarios=2, n=20):
    """A sweep over the regime and the scenario: regimes x scenarios jobs of n runs."""
    parts = []
    for s in range(scenarios):
        for r in range(regimes):
            f = _frame(n, seed=s * 100 + r)
            parts.append(f[f["governance"] == "none"].assign(governance=f"regime_{r}", scenario=f"scenario_{s}"))
    return pd.concat(parts, ignore_index=True)


def test_a_two_factor_sweep_gets_one_block_per_scenario_with_level_names():
    """16 jobs (8 regimes x 2 scenarios): one block per scenario, the regimes level on the y axis, not 16 rotated
    'regime / scenario' labels on one axis; the figure's width stays bounded however many jobs there are."""
    frame = _two_factor_frame()
    fig = plots.outcome_panels(frame, "governance", ["scenario"])
    assert [sub.get_suptitle() for sub in fig.subfigs] == ["scenario = scenario_0", "scenario = scenario_1"]
    for sub in fig.subfigs:
        first = sub.axes[0]
        assert [t.get_text() for t in first.get_yticklabels()] == [f"regime_{r}" for r in range(8)]
        assert all(t.get_rotation() == 0 for ax in sub.axes for t in ax.get_xticklabels() + ax.get_yticklabels())
    assert fig.get_figwidth() <= plots.MAX_FIGURE_INCHES[0]
    many = _two_factor_frame(regimes=10, scenarios=12, n=4)
    big = plots.outcome_panels(many, "governance", ["scenario"])
    assert len(big.subfigs) == 12
    assert big.get_figwidth() <= plots.MAX_FIGURE_INCHES[0] and big.get_figheight() <= plots.MAX_FIGURE_INCHES[1]
    # the other figures: one panel per scenario, each with every regime's curve or point
    fig = plots.containment_panels(frame, "governance", 100.0, ["scenario"])
    shown = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in shown] == ["scenario = scenario_0", "scenario = scenario_1"]
    assert all(len([ln for ln in ax.lines if not ln.get_label().startswith("_")]) == 8 for ax in shown)
    fig = plots.safety_cost_panels(frame, "governance", ["scenario"])
    assert len([ax for ax in fig.axes if ax.get_visible()]) == 2


def test_fan_panels_draw_one_panel_per_job(minimal_ensembles):
    """A fan chart of many jobs is one panel per job (wrapped at MAX_COLUMNS a row), not pale series overlaid."""
    _, ens = minimal_ensembles
    jobs = {f"regime_{k} / scenario": ens["a"] for k in range(6)}
    fig = plots.fan_panels(jobs)
    shown = [ax for ax in fig.axes if ax.get_visible()]
    assert len(shown) == 6 and all(len(ax.collections) == 2 for ax in shown)  # each: its own 50% and 90% bands
    assert shown[0].get_title() == "regime_0\nscenario"
    assert fig.get_figwidth() <= plots.MAX_FIGURE_INCHES[0]
    assert set(plots.sweep_figures(_two_factor_frame(2, 2).assign(time_to_containment=np.nan), jobs,
                                   facets=["scenario"])) == {"outcomes", "containment", "safety_cost", "fan",
                                                             "fan_compute_share"}
