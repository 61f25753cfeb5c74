"""``explore`` (Sobol indices, PRIM boxes) and ``what_it_takes`` held to theory on the minimal scenario.

The minimal scenario is the textbook birth-death process whose early phase ``replisim.theory`` solves exactly:
its R0 and its extinction probability by the horizon say which keys matter and where containment starts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import replisim
from replisim import exploration, theory, uncertainty
from replisim.analysis_cli import main as explore_main
from replisim.config import ConfigError

MINIMAL = ["scenario=minimal", "network.nodes=300", "sim.steps=150"]
KEYS = {
    "governance.detection": {"dist": "uniform", "low": 0.05, "high": 0.6},
    "replica.success": {"dist": "uniform", "low": 0.2, "high": 0.9},
    # collusion is off in the minimal scenario: this key cannot change anything
    "collusion.blinding": {"dist": "uniform", "low": 0.0, "high": 0.9},
}


@pytest.fixture(scope="module")
def explored(tmp_path_factory):
    cfg = replisim.compose(MINIMAL, uncertain=KEYS)
    out = tmp_path_factory.mktemp("explore")
    table = replisim.explore(cfg, samples=128, seed=0, outdir=out)
    return cfg, table, out


def _st(table, outcome, key):
    row = table[(table["outcome"] == outcome) & (table["parameter"] == key)].iloc[0]
    return row["ST"], row["ST_conf"]


def test_the_inert_key_gets_no_share(explored):
    """With common random numbers an inert key changes no run, so Saltelli's estimators give it exactly zero;
    the tolerance 1e-9 allows only floating-point round-off."""
    _, table, _ = explored
    inert = table[table["parameter"] == "collusion.blinding"]
    assert (inert[["S1", "ST"]].abs() < 1e-9).all().all(), inert


def test_the_ranking_agrees_with_the_theory_r0(explored):
    """Theory's R0 = s a (1 - q) / q (q = detection): on these ranges detection moves log R0 more than success
    does. The engine's outcomes must rank the keys the same way, and the leader's total-order index must exceed
    the other's by more than both intervals (so the ranking is not noise)."""
    cfg, table, out = explored
    runs = pd.read_parquet(out / "runs.parquet")
    keys = list(KEYS)
    log_r0 = np.array([np.log(theory.r0(uncertainty.with_values(cfg, {k: row[k] for k in keys[:2]})))
                       for _, row in runs.iterrows()])
    from SALib.analyze import sobol

    theory_st = sobol.analyze(exploration.problem(cfg), log_r0, calc_second_order=False, seed=0)["ST"]
    theory_order = [keys[k] for k in np.argsort(-theory_st[:2])]
    for outcome in ("loss_of_control", "peak_replicas"):
        (st_a, ci_a), (st_b, ci_b) = (_st(table, outcome, k) for k in theory_order)
        assert st_a - ci_a > st_b + ci_b, (outcome, st_a, ci_a, st_b, ci_b)


def test_the_failure_box_is_below_the_critical_detection(explored):
    """PRIM's box of loss of control bounds detection from above near theory's R0 = 1 point: within 0.05 per
    hour (a tenth of the sampled range; the horizon and the capacity bend the engine's edge a little)."""
    cfg, _, out = explored
    scen = pd.read_csv(out / "scenarios.csv")
    box = scen[(scen["case"] == "loss_of_control") & (scen["parameter"] == "governance.detection")]
    assert len(box) == 1
    assert box["high"].iloc[0] == pytest.approx(theory.critical_detection(cfg), abs=0.05)
    assert box["density"].iloc[0] >= exploration.DENSITY_GOAL
    assert "collusion.blinding" not in set(scen["parameter"])


def test_outputs_are_written(explored):
    _, table, out = explored
    assert {"outcome", "parameter", "S1", "S1_conf", "ST", "ST_conf"} <= set(pd.read_csv(out / "sensitivity.csv"))
    for name in ("sensitivity", "drivers", "scenarios"):
        assert (out / "figures" / f"{name}.png").stat().st_size > 10_000
    assert len(pd.read_parquet(out / "runs.parquet")) == 128 * (len(KEYS) + 2)


def test_an_interrupted_exploration_resumes_and_distrusts_a_bad_chunk(explored, tmp_path, monkeypatch):
    cfg, table, out = explored
    import shutil

    shutil.copytree(out / "runs", tmp_path / "runs")
    chunks = sorted((tmp_path / "runs").glob("*.parquet"))
    chunks[0].write_bytes(chunks[0].read_bytes()[:100])  # a truncated write
    chunks[1].unlink()  # a chunk never written
    calls = []
    import sys

    simulate_module = sys.modules["replisim.simulate"]  # the module (replisim.simulate is the function)
    original = simulate_module.simulate

    def counted(*args, **kwargs):
        calls.append(kwargs.get("runs"))
        return original(*args, **kwargs)

    monkeypatch.setattr(simulate_module, "simulate", counted)
    again = replisim.explore(cfg, samples=128, seed=0, outdir=tmp_path)
    assert len(calls) == 2  # only the two bad chunks ran again
    pd.testing.assert_frame_equal(again, table)


def test_a_constant_outcome_is_said_not_analysed():
    cfg = replisim.compose(["scenario=minimal", "network.nodes=100", "sim.steps=20", "governance.detection=1.0"],
                           uncertain={"replica.success": {"dist": "uniform", "low": 0.0, "high": 0.1}})
    table = replisim.explore(cfg, samples=8, seed=0)
    lost = table[table["outcome"] == "loss_of_control"]
    assert lost["ST"].isna().all() and lost["note"].str.startswith("constant").all()


def test_explore_refuses_what_it_cannot_do():
    with pytest.raises(ConfigError, match="power of 2"):
        replisim.explore(replisim.compose(MINIMAL, uncertain=KEYS), samples=100)
    with pytest.raises(ConfigError, match="needs uncertain keys"):
        replisim.explore(replisim.compose(MINIMAL), samples=8)


# --- the command line ----------------------------------------------------------------------------------------


def test_explore_command_writes_its_outputs(tmp_path, capsys):
    out = tmp_path / "x"
    code = explore_main(["--samples", "8", "--out", str(out), *MINIMAL, "sim.steps=30"])
    assert code == 0
    assert (out / "sensitivity.csv").exists() and (out / "scenarios.csv").exists()
    assert "loss of control" in capsys.readouterr().out


@pytest.mark.parametrize("argv,expected", [
    (["--samples", "100"], "power of 2"),
    (["--regimes", "nonesuch"], "no such governance preset"),
    (["replica.success=7"], "replica.success=7"),
    (["--mode", "threshold", "--key", "governance.detection"], "needs --low and --high"),
    (["--bogus"], "unrecognized arguments"),
])
def test_explore_command_bad_input_is_one_line(argv, expected, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert explore_main(argv) == 2
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and expected in err and "Traceback" not in err, err
    assert list(tmp_path.iterdir()) == []


# --- what it would take ------------------------------------------------------------------------------------------


def test_the_critical_detection_agrees_with_theory():
    """The detection at which P(extinct by the horizon) reaches 0.95 on the minimal scenario: the engine's answer
    against the branching process's (exact in the early phase on a large network). Tolerance: three times the
    half-width of the engine's 95% interval, at least 0.005 per hour (the theory neglects the few spills onto
    occupied nodes). It also lies within 10% of the R0 = 1 point (ten initial lineages: the 95% crossing sits
    just above it)."""
    cfg = replisim.compose(["scenario=minimal", "network.nodes=2000", "sim.steps=200"])
    res = replisim.what_it_takes(cfg, "governance.detection", 0.01, 0.8, target=0.95, runs=100)
    assert res["theory"] is not None and res["low"] <= res["value"] <= res["high"]
    tol = max(3 * (res["high"] - res["low"]) / 2, 0.005)
    assert res["value"] == pytest.approx(res["theory"], abs=tol)
    assert res["value"] == pytest.approx(theory.critical_detection(cfg), rel=0.10)


def test_a_target_out_of_reach_is_said():
    cfg = replisim.compose(["scenario=minimal", "network.nodes=200", "sim.steps=60"])
    res = replisim.what_it_takes(cfg, "governance.detection", 0.0, 0.05, runs=40)
    assert np.isnan(res["value"]) and "not reached" in res["note"]


@pytest.mark.parametrize("kwargs,expected", [
    ({"outcome": "happy"}, "outcome='happy'"),
    ({"target": 1.0}, "target=1.0"),
    ({"lo": 0.5, "hi": 0.2}, "search interval"),
    ({"lo": 0.0, "hi": 2.0}, "search interval"),
])
def test_what_it_takes_refuses_bad_input(kwargs, expected):
    cfg = replisim.compose(MINIMAL)
    args = {"key": "governance.detection", "lo": 0.0, "hi": 1.0, **kwargs}
    with pytest.raises(ConfigError, match=expected.replace("(", r"\(")):
        replisim.what_it_takes(cfg, **args)
