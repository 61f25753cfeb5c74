"""experiments/: every study's entry point runs on a tiny configuration and writes readable outputs atomically."""

import numpy as np
import pandas as pd
import pytest

from experiments import (
    analysis,
    avoidance,
    collusion,
    fan,
    frontier,
    governance,
    governance_presets,
    make_figures,
    misalignment,
    phase,
)

TINY = dict(runs=4, steps=12, nodes=30)
PNG = b"\x89PNG\r\n\x1a\n"


def _check(out, result, csv_columns):
    assert result.lines and all(text for _, text in result.lines)
    for name in result.files:
        path = out / name
        assert path.stat().st_size > 0, name
        if name.endswith(".png"):
            assert path.read_bytes()[:8] == PNG, name
    for name, cols in csv_columns.items():
        table = pd.read_csv(out / name)
        assert set(cols) <= set(table.columns), (name, table.columns)
        assert len(table) > 0
    assert not list(out.glob(".*.tmp")), "temporary files left behind"


def test_presets_are_discovered_from_the_packaged_conf():
    from importlib.resources import files

    names = governance_presets()
    assert names[0] == "none"
    on_disk = {p.name[:-5] for p in (files("replisim.conf") / "governance").iterdir() if p.name.endswith(".yaml")}
    assert set(names) == on_disk


def test_governance_study(tmp_path):
    with pytest.warns(UserWarning, match="no_such_preset"):
        res = governance.run(tmp_path, **TINY, scenarios=["pan2024_llama31_70b"], presets=["none", "no_such_preset"])
    _check(tmp_path, res, {"governance_llama31_70b.csv": ["governance", "p_loss", "diff_p_loss_low"],
                           "governance_llama31_70b_containment.csv": ["hours", "p_not_contained"]})
    # a preset that does not compose is skipped and reported, not fatal
    assert len(res.notes) == 1 and "no_such_preset" in res.notes[0]
    assert (tmp_path / "governance_llama31_70b_report.md").read_text().startswith("# Governance regimes")


def test_phase_study(tmp_path):
    res = phase.run(tmp_path, **TINY, success=(0.2, 0.9), detection=(0.05, 0.4))
    _check(tmp_path, res, {"phase_diagram.csv": ["replica.success", "governance.detection", "p_loss", "r0_theory"]})
    table = pd.read_csv(tmp_path / "phase_diagram.csv")
    assert len(table) == 4 and np.isfinite(table.r0_theory).all()


def test_collusion_study(tmp_path):
    res = collusion.run(tmp_path, **TINY, presets=["none", "light_touch"])
    _check(tmp_path, res, {"collusion.csv": ["governance", "collusion", "diff_p_loss", "p_value_loss"],
                           "collusion_off.csv": ["governance", "p_loss", "median_collateral_node_hours"]})


def test_avoidance_study(tmp_path):
    res = avoidance.run(tmp_path, **TINY, detection=(0.2, 0.6))
    _check(tmp_path, res, {"shutdown_avoidance.csv": ["replica.shutdown_avoidance", "governance.detection", "p_loss"]})


def test_misalignment_study(tmp_path):
    res = misalignment.run(tmp_path, **TINY, rates=(0.0, 0.1))
    _check(tmp_path, res, {"misalignment.csv": ["collusion", "replica.misalignment_rate", "median_misaligned_final"]})
    table = pd.read_csv(tmp_path / "misalignment.csv")
    # replicas start aligned: with rate 0 none can be misaligned at the end
    assert (table.loc[table["replica.misalignment_rate"] == 0, "median_misaligned_final"] == 0).all()


def test_fan_study(tmp_path):
    res = fan.run(tmp_path, **TINY, detection=(0.1, 0.3))
    _check(tmp_path, res, {"fan_chart.csv": ["label", "hours", "median", "mean", "ode"]})
    table = pd.read_csv(tmp_path / "fan_chart.csv")
    assert table["ode"].notna().all()  # the minimal scenario is covered by the theory


def test_frontier_study(tmp_path):
    res = frontier.run(tmp_path, **TINY)
    _check(tmp_path, res, {"containment_frontier.csv": ["regime", "replica.attempt_rate", "p", "low", "high"],
                           "containment_frontier_lines.csv": ["regime", "value", "low", "high", "note"]})
    assert set(pd.read_csv(tmp_path / "containment_frontier.csv")["regime"]) == set(governance_presets())


def test_analysis_study(tmp_path):
    res = analysis.run(tmp_path, runs=4, steps=12, nodes=30, worlds=4, nfe=8)
    _check(tmp_path, res, {"analysis_sensitivity.csv": ["outcome", "parameter", "S1", "ST", "ST_conf"],
                           "analysis_pareto.csv": ["p_loss", "collateral_p90"],
                           "analysis_presets.csv": ["preset", "p_loss", "dominated_by"]})


def test_make_figures_writes_readme_and_leaves_demo_and_bench_alone(tmp_path):
    (tmp_path / "demo.png").write_bytes(b"demo")
    (tmp_path / "bench_speed.png").write_bytes(b"bench")
    assert make_figures.main(["--out", str(tmp_path), "--only", "fan", "--scale", "0.01", "--steps", "12",
                              "--nodes", "30"]) == 0
    readme = (tmp_path / "README.md").read_text()
    assert "`fan_chart.png`" in readme and "![fan_chart.png](fan_chart.png)" in readme
    assert (tmp_path / "demo.png").read_bytes() == b"demo"
    assert (tmp_path / "bench_speed.png").read_bytes() == b"bench"
    assert make_figures.main(["--scale", "0"]) == 2
    with pytest.raises(SystemExit):
        make_figures.main(["--only", "nonsense"])
