"""``replisim.optimize`` (NSGA-II over levers, robust over sampled worlds) and the EMA Workbench adapter."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import replisim
import replisim.ema
from replisim import theory
from replisim.analysis_cli import optimize_main
from replisim.config import ConfigError
from replisim.optimization import OBJECTIVES

MINIMAL = ["scenario=minimal", "network.nodes=150", "sim.steps=80"]
SUCCESS = {"replica.success": {"dist": "uniform", "low": 0.3, "high": 0.7}}


@pytest.fixture(scope="module")
def optimized(tmp_path_factory):
    out = tmp_path_factory.mktemp("optimize")
    cfg = replisim.compose(MINIMAL, uncertain=SUCCESS)
    pareto = replisim.optimize(cfg, levers={"governance.detection": (0.0, 0.6)}, worlds=40, nfe=120, population=12,
                               seed=1, outdir=out, presets=["none", "if_then"])
    return cfg, pareto, out


def test_the_front_is_non_dominated_and_trades_risk_for_cost(optimized):
    cfg, pareto, out = optimized
    every = pd.read_csv(out / "evaluated.csv")
    for _, p in pareto.iterrows():
        better = (every["p_loss"] <= p["p_loss"]) & (every["collateral_p90"] <= p["collateral_p90"]) & (
            (every["p_loss"] < p["p_loss"]) | (every["collateral_p90"] < p["collateral_p90"]))
        assert not better.any()
    front = pareto.sort_values("collateral_p90")
    assert np.all(np.diff(front["p_loss"].to_numpy()) <= 0)  # more cost buys less risk along the front


def test_the_safest_policy_detects_above_the_critical_level(optimized):
    """Detection is the only lever: the front's safest policy must lie above the R0 = 1 detection of the worlds'
    most capable replicator (success 0.7), where no world grows; the cheapest below it."""
    cfg, pareto, _ = optimized
    critical = theory.critical_detection(replisim.compose([*MINIMAL, "replica.success=0.7"]))
    safest = pareto.sort_values(["p_loss", "collateral_p90"]).iloc[0]
    assert safest["p_loss"] == 0.0 and safest["governance.detection"] > critical * 0.9


def test_outputs_and_presets(optimized):
    _, pareto, out = optimized
    assert set(OBJECTIVES) <= set(pd.read_csv(out / "pareto.csv").columns)
    presets = pd.read_csv(out / "presets.csv")
    assert list(presets["preset"]) == ["none", "if_then"]
    assert (out / "figures" / "pareto.png").stat().st_size > 10_000


def test_optimize_is_reproducible(optimized):
    cfg, pareto, _ = optimized
    again = replisim.optimize(cfg, levers={"governance.detection": (0.0, 0.6)}, worlds=40, nfe=120, population=12,
                              seed=1)
    pd.testing.assert_frame_equal(again, pareto)


@pytest.mark.parametrize("kwargs,expected", [
    ({"levers": {"governance.detection": (0.5, 0.2)}}, "low < high"),
    ({"levers": {"network.nodes": (10, 20)}}, "sweep it instead"),
    ({"worlds": 1}, "worlds=1"),
    ({"nfe": 0}, "nfe=0"),
])
def test_optimize_refuses_bad_input(kwargs, expected):
    with pytest.raises(ConfigError, match=expected):
        replisim.optimize(replisim.compose(MINIMAL), **kwargs)


def test_optimize_command_bad_input_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert optimize_main(["--nfe", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nfe=0" in err
    assert list(tmp_path.iterdir()) == []


# --- the EMA Workbench adapter -----------------------------------------------------------------------------------


def test_ema_model_runs_experiments_prim_and_optimize(tmp_path):
    from ema_workbench import optimize, perform_experiments
    from ema_workbench.analysis import prim

    cfg = replisim.compose(MINIMAL, uncertain={**SUCCESS, "replica.attempt_rate": {"dist": "loguniform",
                                                                                   "low": 0.05, "high": 0.5}})
    model = replisim.ema.model(cfg, levers={"governance.detection": (0.0, 0.6)})
    assert {u.name for u in model.uncertainties} == {"replica__success", "replica__attempt_rate"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        experiments, outcomes = perform_experiments(model, scenarios=24, policies=2)
        assert len(experiments) == 48 and set(outcomes) >= {"loss_of_control", "peak_replicas"}
        x = experiments[["replica__success", "replica__attempt_rate", "governance__detection"]]
        box = prim.Prim(x, outcomes["peak_replicas"] > np.median(outcomes["peak_replicas"])).find_box()
        assert box.coverage > 0
        results = optimize(model, nfe=40, searchover="levers", epsilons=[0.05] * 4, directory=str(tmp_path),
                           filename="archive.tar.gz")
        front = results[0] if isinstance(results, tuple) else results
        assert "governance__detection" in front.columns


def test_ema_experiment_outcomes_depend_on_its_values_only():
    cfg = replisim.compose(MINIMAL, uncertain=SUCCESS)
    model = replisim.ema.model(cfg)
    a = model.function(replica__success=0.5)
    b = model.function(replica__success=0.5)
    assert a == b


def test_ema_levers_are_checked():
    with pytest.raises(ConfigError, match="levers.governance.detection"):
        replisim.ema.model(replisim.compose(MINIMAL), levers={"governance.detection": (0.0, 2.0)})
