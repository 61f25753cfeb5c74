"""The public API contract of issue 2, section 4: names, shapes, dtypes and the Parquet round trip."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import replisim

RUNS, STEPS = 6, 40

REQUIRED_OUTCOMES = [
    "run", "seed", "extinct", "loss_of_control", "peak_replicas", "final_replicas", "time_to_containment",
    "peak_compute_share", "final_compute_share", "detections", "shutdowns", "avoidance_events", "max_generation",
    "misaligned_final",
]
DOCUMENTED_OUTCOMES = REQUIRED_OUTCOMES + [
    "skill", "collateral_node_hours", "births", "flights", "coalitions_final", "if_then_triggered_step",
    "mean_skill_final", "replica_steps",
]
REQUIRED_SERIES = ["replicas", "misaligned", "compute_share", "nodes_occupied", "detections"]
DOCUMENTED_SERIES = REQUIRED_SERIES + ["shutdowns", "births", "collateral"]
REQUIRED_KEYS = [
    "network.kind", "network.nodes", "network.capacity", "replica.initial", "replica.attempt_rate",
    "replica.success", "replica.evasion", "replica.shutdown_avoidance", "replica.misalignment_rate",
    "governance.detection", "governance.response_latency", "governance.kill_switch", "collusion.enabled",
    "sim.steps", "sim.hours_per_step", "outcome.loss_of_control_share",
]


@pytest.fixture(scope="module")
def ens():
    cfg = replisim.compose(["scenario=default", "network.nodes=200", f"sim.steps={STEPS}", "sim.hours_per_step=2"])
    return replisim.simulate(cfg, runs=RUNS, seed=3)


def test_public_names():
    for name in ("compose", "simulate", "Config", "ConfigError", "Ensemble"):
        assert hasattr(replisim, name), name
    assert issubclass(replisim.ConfigError, ValueError)


def test_required_config_keys_exist():
    cfg = replisim.compose([])
    for key in REQUIRED_KEYS:
        obj = cfg
        for part in key.split("."):
            assert hasattr(obj, part), key
            obj = getattr(obj, part)


def test_outcome_columns(ens):
    assert isinstance(ens.outcomes, pd.DataFrame)
    assert set(DOCUMENTED_OUTCOMES) <= set(ens.outcomes.columns)
    assert len(ens.outcomes) == RUNS == ens.runs
    assert ens.outcomes["run"].tolist() == list(range(RUNS))
    assert (ens.outcomes["seed"] == 3).all()


def test_outcome_dtypes(ens):
    o = ens.outcomes
    for col in ("extinct", "loss_of_control"):
        assert o[col].dtype == bool, col
    for col in ("run", "seed", "peak_replicas", "final_replicas", "detections", "shutdowns", "avoidance_events",
                "max_generation", "misaligned_final", "births", "flights", "coalitions_final", "replica_steps"):
        assert pd.api.types.is_integer_dtype(o[col]), col
    for col in ("time_to_containment", "peak_compute_share", "final_compute_share", "collateral_node_hours",
                "skill", "mean_skill_final"):
        assert pd.api.types.is_float_dtype(o[col]), col


@pytest.mark.parametrize("name", DOCUMENTED_SERIES)
def test_series_shape(ens, name):
    arr = ens.series(name)
    assert isinstance(arr, np.ndarray)
    assert arr.shape == (RUNS, STEPS + 1)
    assert np.issubdtype(arr.dtype, np.floating)
    assert np.isfinite(arr).all()


def test_unknown_series_names_the_available_ones(ens):
    with pytest.raises(KeyError, match="replicas"):
        ens.series("replica_count")


def test_time_axis(ens):
    assert ens.steps == STEPS
    assert ens.hours_per_step == 2.0
    np.testing.assert_array_equal(ens.hours, np.arange(STEPS + 1) * 2.0)


def test_time_to_containment_nan_when_not_contained():
    # detection 0: nothing is ever shut down, so no run can be contained
    cfg = replisim.compose(["scenario=minimal", "network.nodes=50", "sim.steps=30", "governance.detection=0"])
    o = replisim.simulate(cfg, runs=5, seed=0).outcomes
    assert not o["extinct"].any()
    assert o["time_to_containment"].isna().all()


def test_time_to_containment_is_the_hour_of_extinction():
    # detection 1, kill switch 1, no replication: every replica dies in step 1
    cfg = replisim.compose(["scenario=minimal", "network.nodes=50", "sim.steps=10", "governance.detection=1",
                            "replica.attempt_rate=0", "sim.hours_per_step=3"])
    ens = replisim.simulate(cfg, runs=4, seed=0)
    assert ens.outcomes["extinct"].all()
    np.testing.assert_array_equal(ens.outcomes["time_to_containment"], 3.0)
    np.testing.assert_array_equal(ens.series("replicas")[:, 1:], 0.0)


def test_summary_is_a_table(ens):
    s = ens.summary()
    assert isinstance(s, pd.DataFrame)
    assert {"statistic", "value", "low", "high", "interval"} <= set(s.columns)
    # the vocabulary of the terminal table and the report (replisim.terms), and what low/high mean per row
    rows = s.set_index("statistic")
    assert rows.loc["P(contained)", "interval"] == "Wilson 95% interval"
    assert rows.loc["P(loss of control)", "value"] == ens.outcomes["loss_of_control"].mean()
    assert rows.loc["median peak_replicas", "interval"] == "5-95% of runs"
    contained = int(ens.outcomes["extinct"].sum())
    assert f"median time_to_containment (the {contained} contained runs)" in rows.index


def test_parquet_round_trip(ens, tmp_path):
    ens.to_parquet(tmp_path / "out")
    files = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert files == ["outcomes.parquet", "series.parquet"], files  # no temporary files left behind
    for name in files:
        head = (tmp_path / "out" / name).read_bytes()
        assert head[:4] == b"PAR1" and head[-4:] == b"PAR1", f"{name} is not a Parquet file"
        assert b"pickle" not in head.lower()
    back = replisim.Ensemble.from_parquet(tmp_path / "out")
    pd.testing.assert_frame_equal(back.outcomes, ens.outcomes)
    assert set(back.series_data) == set(ens.series_data)
    for name, arr in ens.series_data.items():
        # series are stored as float32 (counts and shares below 2^24 are exact)
        np.testing.assert_array_equal(back.series(name), arr.astype(np.float32))
    assert back.hours_per_step == ens.hours_per_step
    assert back.meta == ens.meta


def test_bad_runs_and_engine():
    cfg = replisim.compose(["scenario=minimal", "network.nodes=20", "sim.steps=5"])
    with pytest.raises(replisim.ConfigError, match="runs=0"):
        replisim.simulate(cfg, runs=0)
    with pytest.raises(replisim.ConfigError, match="engine='gpu'.*numba"):
        replisim.simulate(cfg, runs=1, engine="gpu")


def test_batch_and_concat_refuse_what_they_cannot_do():
    import pytest

    import replisim

    cfg = replisim.compose(["scenario=minimal", "network.nodes=50", "sim.steps=10"])
    with pytest.raises(replisim.ConfigError, match="did you mean 'replica.success'"):
        replisim.batch(cfg, grid={"replica.sucess": [0.3]})
    with pytest.raises(replisim.ConfigError, match="replica.success=3.0 is out of range"):
        replisim.batch(cfg, grid={"replica.success": [0.5, 3.0]})
    with pytest.raises(replisim.ConfigError, match="a non-empty list"):
        replisim.batch(cfg, grid={"replica.success": []})
    a = replisim.simulate(cfg, runs=2)
    b = replisim.simulate(replisim.compose(["scenario=minimal", "network.nodes=50", "sim.steps=12"]), runs=2)
    with pytest.raises(ValueError, match="steps, hours per step"):
        replisim.Ensemble.concat([a, b])


def test_a_grid_over_the_network_size_is_its_own_ensemble_each():
    import replisim

    cfg = replisim.compose(["scenario=minimal", "sim.steps=10"])
    table = replisim.batch(cfg, grid={"network.nodes": [40, 80]}, runs=2, seed=3)
    assert list(table.columns[:1]) == ["network.nodes"] and len(table) == 4
    # a combination equals the ensemble of its own configuration, run for run
    alone = replisim.simulate(replisim.compose(["scenario=minimal", "sim.steps=10", "network.nodes=80"]), runs=2, seed=3)
    mine = table[table["network.nodes"] == 80].drop(columns=["network.nodes"]).reset_index(drop=True)
    assert mine.equals(alone.outcomes)
