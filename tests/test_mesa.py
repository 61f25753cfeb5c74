"""Unit tests of the Mesa model (replisim.mesa): deterministic corner cases, invariants, data collection."""

import inspect

import numpy as np
import pandas as pd
import pytest

import replisim
from replisim.config.schema import NODE_TYPES
from replisim.mesa import Replica, ReplicationModel, simulate_mesa
from replisim.mesa.run import run_model
from replisim.results import OUTCOME_NAMES, SERIES_NAMES, placement_names

SMALL = ["scenario=minimal", "network.nodes=60", "sim.steps=30"]


def compose(*extra):
    return replisim.compose([*SMALL, *extra])


def test_certain_detection_and_kill_switch_end_every_run_in_one_step():
    # detection 1 and kill switch 1, no latency, aligned replicas (no last copy): all die at step 1
    cfg = compose("governance.detection=1.0", "governance.kill_switch=1.0", "replica.initial=7")
    ens = simulate_mesa(cfg, runs=5, seed=3)
    out = ens.outcomes
    assert out["extinct"].all()
    assert (out["detections"] == 7).all() and (out["shutdowns"] == 7).all()
    assert (out["births"] == 0).all() and (out["final_replicas"] == 0).all()
    assert (out["time_to_containment"] == 1.0).all()
    assert (ens.series("replicas")[:, 0] == 7).all()
    assert (ens.series("replicas")[:, 1:] == 0).all()


def test_last_copy_keeps_a_doomed_population_constant():
    # Every misaligned replica is detected and shut down each step and always makes its last copy, which always
    # succeeds (skill 1, no security) onto its own node (capacity 10 > 5 replicas: the own node is never full).
    cfg = compose("governance.detection=1.0", "governance.kill_switch=1.0", "replica.initial=5",
                  "replica.initial_misaligned=1.0", "replica.shutdown_avoidance=1.0", "replica.success=1.0",
                  "replica.attempt_rate=0.0", "network.capacity=10", "sim.steps=12")
    out = simulate_mesa(cfg, runs=3, seed=1).outcomes
    assert (out["final_replicas"] == 5).all()
    assert (out["max_generation"] == 12).all()
    assert (out["births"] == 5 * 12).all() and (out["avoidance_events"] == 5 * 12).all()
    assert (out["shutdowns"] == 5 * 12).all()


def test_capacity_is_never_exceeded_and_tallies_match_the_agents():
    # a crowded, colluding population with last copies and flights: resolution is exercised on full nodes
    cfg = compose("network.kind=random_regular", "network.degree=4", "network.capacity=2", "network.nodes=40",
                  "replica.initial=20", "replica.initial_misaligned=1.0", "replica.success=0.9", "replica.attempt_rate=0.9",
                  "replica.shutdown_avoidance=0.8", "governance.detection=0.3", "governance.kill_switch=0.7",
                  "governance.response_latency=2", "collusion.enabled=true", "collusion.flight=0.9", "sim.steps=40")
    model = ReplicationModel(cfg, seed=5, run=0)
    flights = 0
    while model.running and model.steps < model.horizon:
        model.step()
        for node in model.nodes:
            assert node.occupancy <= node.capacity
        assert sum(node.occupancy for node in model.nodes) == len(model.agents)
        assert all(not r.dead and r.cell is not None for r in model.agents)
        flights += model.flights
    assert model.peak >= 60  # the network (80 slots) really was crowded
    assert flights > 0  # and replicas really fled


def test_datacollector_has_one_column_per_series_and_one_row_per_step():
    cfg = compose("governance.detection=0.05", "network.nodes=30")
    model = run_model(ReplicationModel(cfg, seed=2, run=4))
    frame = model.datacollector.get_model_vars_dataframe()
    assert tuple(frame.columns) == SERIES_NAMES
    assert len(frame) == cfg.sim.steps + 1
    assert frame["replicas"].iloc[0] == cfg.replica.initial
    assert np.allclose(frame["compute_share"], frame["replicas"] / model.total_compute)
    assert (frame["nodes_occupied"] <= frame["replicas"]).all()
    assert model.series().shape == (len(SERIES_NAMES), cfg.sim.steps + 1)


def test_same_seed_same_result_other_seed_other_result():
    cfg = compose("governance.detection=0.1", "replica.mutation_sd=0.05", "replica.misalignment_rate=0.2")
    a = simulate_mesa(cfg, runs=4, seed=9)
    b = simulate_mesa(cfg, runs=4, seed=9)
    c = simulate_mesa(cfg, runs=4, seed=10)
    pd.testing.assert_frame_equal(a.outcomes, b.outcomes)
    for name in SERIES_NAMES:
        assert np.array_equal(a.series(name), b.series(name))
    assert not a.outcomes["replica_steps"].equals(c.outcomes["replica_steps"])


def test_run_k_depends_only_on_seed_and_run_index():
    cfg = compose("governance.detection=0.1")
    whole = simulate_mesa(cfg, runs=4, seed=9)
    tail = simulate_mesa(cfg, runs=2, seed=9, first_run=2)
    pd.testing.assert_frame_equal(whole.outcomes.iloc[2:].reset_index(drop=True), tail.outcomes)


def test_simulate_engine_mesa_returns_the_numba_ensemble_layout():
    cfg = compose("governance.detection=0.1", "sim.steps=10")
    mesa = replisim.simulate(cfg, runs=3, seed=0, engine="mesa")
    numba = replisim.simulate(cfg, runs=3, seed=0)
    assert list(mesa.outcomes.columns) == list(numba.outcomes.columns)
    assert list(mesa.outcomes.columns)[3:] == [*OUTCOME_NAMES, *placement_names(NODE_TYPES, ("global",)),
                                                "withheld_slots_licensing", "withheld_slots_export_controls"]
    assert (mesa.outcomes.dtypes == numba.outcomes.dtypes).all()
    assert set(mesa.series_data) == set(numba.series_data)
    assert all(mesa.series(n).shape == numba.series(n).shape for n in SERIES_NAMES)
    assert mesa.meta["engine"] == "mesa"
    # both engines see the same network and the same per-run skills
    assert np.array_equal(mesa.outcomes["skill"], numba.outcomes["skill"])


def test_no_flight_without_collusion_or_without_latency():
    base = ("replica.initial_misaligned=1.0", "governance.detection=0.3", "collusion.flight=1.0")
    no_latency = compose(*base, "collusion.enabled=true", "governance.response_latency=0")
    no_collusion = compose(*base, "collusion.enabled=false", "governance.response_latency=3")
    both = compose(*base, "collusion.enabled=true", "governance.response_latency=3")
    assert simulate_mesa(no_latency, runs=3, seed=0).outcomes["flights"].sum() == 0
    assert simulate_mesa(no_collusion, runs=3, seed=0).outcomes["flights"].sum() == 0
    assert simulate_mesa(both, runs=3, seed=0).outcomes["flights"].sum() > 0


def test_quarantined_nodes_take_no_copies():
    # detection 1 with a kill switch that never works: every occupied node is quarantined from step 2 on, so
    # nothing is born after step 1 (step 1's copies were decided before any incident).
    cfg = compose("governance.detection=1.0", "governance.kill_switch=0.0", "governance.quarantine_hours=50",
                  "replica.success=1.0", "replica.attempt_rate=1.0", "network.capacity=10")
    ens = simulate_mesa(cfg, runs=3, seed=0)
    births = ens.series("births")
    assert (births[:, 1] > 0).all()
    assert (births[:, 2:] == 0).all()


def test_one_replica_step_fits_on_a_slide():
    # the teaching promise of the Mesa engine: Replica.step is short enough to put on a projector
    assert len(inspect.getsource(Replica.step).splitlines()) <= 25


@pytest.mark.parametrize("kind", ["complete", "small_world", "datacenter"])
def test_mesa_space_has_the_numba_network(kind):
    from replisim.world import setup

    cfg = compose(f"network.kind={kind}", "network.nodes=50")
    net, gov = setup(cfg, 4)
    model = ReplicationModel(cfg, seed=4, run=0)
    assert [n.capacity for n in model.nodes] == gov.capacity.tolist()
    if kind != "complete":
        for v in (0, 17, 49):
            assert sorted(n.coordinate for n in model.nodes[v].neighbours) == sorted(net.neighbours(v).tolist())


def test_collateral_counts_withheld_capacity_in_both_engines():
    """Capacity that licensing withholds is a cost charged every step (hours x withheld slots), in the Mesa model
    as in the Numba engine: with nothing else costing (no detection, no false positives, no quarantine) both
    engines' collateral series are exactly that, step by step."""
    cfg = replisim.compose(["scenario=minimal", "network.nodes=60", "network.capacity=2", "sim.steps=6",
                            "governance.licensing.enabled=true", "governance.detection=0",
                            "governance.false_positive_rate=0", "sim.hours_per_step=2"])
    from replisim.world import setup

    _, gov = setup(cfg, 0)
    withheld = gov.total_compute - gov.capacity.sum()
    assert withheld > 0, "licensing withheld nothing: the case does not exercise the cost"
    for engine in ("numba", "mesa"):
        series = replisim.simulate(cfg, runs=2, seed=0, engine=engine).series("collateral")
        np.testing.assert_allclose(series[:, 1:], 2.0 * withheld, err_msg=engine)
