"""Invariants over hypothesis-generated configurations (issue 2, section 7).

Every generated configuration runs with ``sim.validate=true``: after every step the engine checks that no node
holds more replicas than its capacity, that the node tallies equal the replica table and that no dead replica is
left in it. On top, the outputs of every run must be consistent with each other: population accounting
(replicas[t] = replicas[t-1] + births[t] - shutdowns[t]), outcomes equal to what the series say, shares in
[0, 1], misaligned <= replicas, and so on.
"""

from __future__ import annotations

import dataclasses
import importlib

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st

import replisim
from replisim.config.schema import Config
from replisim.engine import state as estate
from replisim.engine.run import INVARIANTS, check_invariants
from replisim.results import COMPUTE_MILESTONES

KINDS = ("complete", "random_regular", "scale_free", "small_world", "datacenter")
prob = st.floats(0.0, 1.0, allow_nan=False)
small_prob = st.floats(0.0, 0.3, allow_nan=False)
lowers = st.floats(0.0, 0.9, allow_nan=False)  # collusion's cuts (schema.LOWERS: they never erase a probability)
busy = st.floats(0.3, 1.0)  # replication rates high enough that copies, full nodes and conflicts happen


@st.composite
def configs(draw):
    """A small random configuration with every mechanism drawn on or off, validated like a user's."""
    cfg = Config()
    kind = draw(st.sampled_from(KINDS))
    nodes = draw(st.integers(8, 50))
    degree = draw(st.integers(1, 3)) * 2  # even: random_regular needs nodes x degree even
    capacity = draw(st.one_of(st.none(), st.integers(1, 4)))
    licensing = capacity is not None and capacity >= 2 and draw(st.booleans())
    net = dataclasses.replace(cfg.network, kind=kind, nodes=nodes, degree=min(degree, nodes - 2), capacity=capacity,
                              security=draw(st.one_of(st.none(), st.floats(0.0, 0.6))), regions=draw(st.integers(1, 3)),
                              sites_per_region=draw(st.integers(1, 3)), rewire=draw(prob))
    # initial replicas: a share of the slots there surely are (every node has at least one, or `capacity`; under
    # licensing, whose compliance is at most 0.5 here, at least half of `capacity`)
    sure = capacity // 2 if licensing else (capacity or 1)
    initial = draw(st.integers(1, max(1, sure * nodes // 2)))
    replica = dataclasses.replace(
        cfg.replica, initial=initial, initial_misaligned=draw(prob), attempt_rate=draw(busy), success=draw(busy),
        success_prior=draw(st.booleans()), evasion=draw(prob), shutdown_avoidance=draw(prob),
        misalignment_rate=draw(small_prob), mutation_sd=draw(small_prob), strategic=draw(st.booleans()),
        strategic_samples=draw(st.integers(1, 3)))
    gov = cfg.governance
    governance = dataclasses.replace(
        gov, detection=draw(st.one_of(st.none(), prob)), kill_switch=draw(st.one_of(st.none(), prob)),
        response_latency=draw(st.integers(0, 3)), hardening=draw(small_prob), kyc=draw(small_prob),
        quarantine_hours=float(draw(st.integers(0, 3))), retraining_rate=draw(small_prob),
        licensing=dataclasses.replace(gov.licensing, enabled=licensing, compliance=draw(st.floats(0.0, 0.5))),
        if_then=dataclasses.replace(gov.if_then, enabled=draw(st.booleans()), incident_threshold=draw(st.integers(1, 5)),
                                    delay=draw(st.integers(0, 5)), response_latency=draw(st.integers(0, 2))),
        reporting=dataclasses.replace(gov.reporting, enabled=draw(st.booleans()), delay=draw(st.integers(0, 4))))
    collusion = dataclasses.replace(
        cfg.collusion, enabled=draw(st.booleans()), warning_evasion=draw(lowers),
        warning_hours=float(draw(st.integers(0, 5))), flight=draw(prob), foothold=draw(prob), dominance=draw(prob),
        min_members=draw(st.integers(1, 4)), blinding=draw(lowers))
    sim = dataclasses.replace(cfg.sim, steps=draw(st.integers(5, 40)), hours_per_step=draw(st.sampled_from([0.5, 1.0, 3.0])),
                              validate=True)
    return replisim.validate(dataclasses.replace(cfg, network=net, replica=replica, governance=governance,
                                                 collusion=collusion, sim=sim))


def check_outputs(cfg, ens) -> None:
    o = ens.outcomes
    s = {name: ens.series(name) for name in ens.series_data}
    n = s["replicas"]
    runs, width = n.shape
    assert width == cfg.sim.steps + 1
    for name, arr in s.items():
        assert np.isfinite(arr).all() and (arr >= 0).all(), f"series {name} negative or not finite"
    for name in ("replicas", "misaligned", "nodes_occupied", "detections", "shutdowns", "births"):
        np.testing.assert_array_equal(s[name], np.round(s[name]), err_msg=f"{name} not a count")
    assert (n[:, 0] == cfg.replica.initial).all()
    # accounting: replicas die only by shutdown and appear only by birth (flights move them)
    np.testing.assert_array_equal(np.diff(n, axis=1), s["births"][:, 1:] - s["shutdowns"][:, 1:])
    # at most one detection and one shutdown per replica alive at the start of the step
    assert (s["shutdowns"][:, 1:] <= n[:, :-1]).all() and (s["detections"][:, 1:] <= n[:, :-1]).all()
    # capacity: never more replicas than slots, never more occupied nodes than nodes or replicas
    assert (s["compute_share"] <= 1.0).all()
    share = s["compute_share"]
    per_replica = share[n > 0] / n[n > 0]  # 1 / total compute: the same for every run and step of an ensemble
    np.testing.assert_allclose(per_replica, per_replica[0], rtol=1e-12)
    assert (share[n == 0] == 0).all()
    assert (s["nodes_occupied"] <= np.minimum(n, cfg.network.nodes)).all()
    assert ((n > 0) == (s["nodes_occupied"] > 0)).all()
    assert (s["misaligned"] <= n).all()
    # extinction is absorbing, and the outcomes say what the series say
    dead = n == 0
    assert (dead[:, :-1] <= dead[:, 1:]).all(), "a population came back from zero"
    np.testing.assert_array_equal(o["peak_replicas"], n.max(axis=1))
    np.testing.assert_array_equal(o["final_replicas"], n[:, -1])
    np.testing.assert_array_equal(o["misaligned_final"], s["misaligned"][:, -1])
    np.testing.assert_array_equal(o["extinct"], n[:, -1] == 0)
    np.testing.assert_array_equal(o["peak_compute_share"], s["compute_share"].max(axis=1))
    np.testing.assert_array_equal(o["final_compute_share"], s["compute_share"][:, -1])
    first_zero = np.where(dead.any(axis=1), dead.argmax(axis=1), -1)
    expected_ttc = np.where(first_zero >= 0, first_zero * cfg.sim.hours_per_step, np.nan)
    np.testing.assert_array_equal(o["time_to_containment"], expected_ttc)
    for name in ("detections", "shutdowns", "births"):
        np.testing.assert_array_equal(o[name], s[name].sum(axis=1), err_msg=name)
    np.testing.assert_allclose(o["collateral_node_hours"], s["collateral"].sum(axis=1), rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(o["replica_steps"], n[:, :-1].sum(axis=1))
    # collateral by cause adds up to the total
    causes = o[["collateral_shutdowns", "collateral_quarantine", "collateral_false_alarms", "collateral_withheld"]]
    np.testing.assert_allclose(causes.sum(axis=1), o["collateral_node_hours"], rtol=1e-9, atol=1e-9)
    assert (causes.to_numpy() >= -1e-9).all()
    # the first hour at which the compute share reached 1%, 10%, 50%: what the series say (NaN: censored)
    for milestone, col in zip(COMPUTE_MILESTONES, ("hours_to_1pct_compute", "hours_to_10pct_compute",
                                                    "hours_to_50pct_compute")):
        hit = share >= milestone
        expected = np.where(hit.any(axis=1), hit.argmax(axis=1) * cfg.sim.hours_per_step, np.nan)
        np.testing.assert_array_equal(o[col], expected, err_msg=col)
    # the survivors, counted by node type and by jurisdiction, are the final population both ways
    on_type = o[[c for c in o.columns if c.startswith("final_on_")]].sum(axis=1)
    in_jur = o[[c for c in o.columns if c.startswith("final_in_")]].sum(axis=1)
    np.testing.assert_array_equal(on_type, o["final_replicas"])
    np.testing.assert_array_equal(in_jur, o["final_replicas"])
    assert (o["shutdowns"] <= o["detections"]).all() and (o["avoidance_events"] <= o["shutdowns"]).all()
    assert (o["loss_of_control"] <= ~o["extinct"]).all()
    np.testing.assert_array_equal(o["loss_of_control"],
                                  (o["final_compute_share"] >= cfg.outcome.loss_of_control_share) & ~o["extinct"])
    assert (o["max_generation"] <= cfg.sim.steps).all()
    assert (o["max_generation"][o["births"] == 0] == 0).all()
    assert (o["coalitions_final"] <= np.minimum(o["misaligned_final"], cfg.replica.initial)).all()
    skill = o["mean_skill_final"].to_numpy()
    assert np.array_equal(np.isnan(skill), o["extinct"].to_numpy())
    assert ((skill[~np.isnan(skill)] >= 0) & (skill[~np.isnan(skill)] <= 1)).all()
    # mechanisms that are off leave no trace
    if not cfg.collusion.enabled:
        assert (o["flights"] == 0).all()
    if not cfg.governance.if_then.enabled:
        assert o["if_then_triggered_step"].isna().all()
    if cfg.replica.initial_misaligned == 0 and cfg.replica.misalignment_rate == 0:
        assert (s["misaligned"] == 0).all()
    if cfg.replica.mutation_sd == 0 and cfg.replica.shutdown_avoidance == 0:
        assert (o["avoidance_events"] == 0).all()


@settings(max_examples=36, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(cfg=configs(), seed=st.integers(0, 2**32 - 1))
def test_invariants_hold_every_step(cfg, seed):
    note(f"network={cfg.network.kind} nodes={cfg.network.nodes} capacity={cfg.network.capacity} "
         f"initial={cfg.replica.initial} collusion={cfg.collusion.enabled}")
    assert cfg.sim.validate  # the invariants are checked after every step
    ens = replisim.simulate(cfg, runs=3, seed=seed)  # an invariant broken in any step raises here
    check_outputs(cfg, ens)
    event(f"network {cfg.network.kind}")
    event("some run extinct" if ens.outcomes["extinct"].any() else "no run extinct")
    event("births" if ens.outcomes["births"].sum() else "no births")


def test_compute_share_series_matches_replicas():
    """The scaled comparison above in plain words, on a network whose total capacity is known."""
    cfg = replisim.compose(["scenario=minimal", "network.nodes=25", "network.capacity=4", "sim.steps=30"])
    ens = replisim.simulate(cfg, runs=3, seed=1)
    np.testing.assert_array_equal(ens.series("compute_share"), ens.series("replicas") / 100.0)
    check_outputs(cfg, ens)


# --- validate mode can fail -----------------------------------------------------------------------------------
def _state(capacity, occ, node, flags, node_coal=None, coal_forest=None, edit=None):
    """Arguments of check_invariants after step 1: an engine frame (``state.new_frame``) holding the given table
    and node counts, each replica its own lineage and coalition (``coal_forest`` all -1: roots, see
    mechanisms.collusion.find), the occupied nodes listed; with ``node_coal``, collusion is on; ``edit(frame)``
    breaks something else."""
    a = np.asarray
    nodes, n = len(capacity), len(node)
    zeros = np.zeros(nodes)
    world = estate.World(a(capacity, np.int32), zeros, zeros, zeros, np.zeros(nodes, np.int32),
                         np.zeros(0, np.int64), np.zeros(0, np.int32), np.ones(1), np.ones(1), np.ones(1, np.bool_),
                         np.ones(1), float(sum(capacity)), np.zeros(nodes, np.int32), np.zeros(nodes, np.int32),
                         np.zeros((nodes, 0), np.int32))
    frame = estate.new_frame(world, 10, n, 1)
    frame.table.node[:n] = node
    frame.table.lineage[:n] = np.arange(n)
    frame.table.flags[:n] = flags
    frame.nodes.occ[:] = occ
    collusion = node_coal is not None
    frame.nodes.node_coal[:] = node_coal if collusion else -1
    frame.coal.forest[:] = coal_forest if coal_forest is not None else -1
    for v in np.flatnonzero(np.asarray(occ) > 0):
        frame.listed.nodes[frame.listed.count[0]] = v
        frame.listed.mark[v] = 1
        frame.listed.count[0] += 1
    if edit is not None:
        edit(frame)
    return (n, 1, frame, collusion, 10)


def _unlist(frame):
    frame.listed.mark[:] = 0
    frame.listed.count[0] = 0


def _quarantine_unlisted(frame):
    frame.nodes.quar_until[1] = 5  # node 1 (empty) quarantined until step 5, but not listed


@pytest.mark.parametrize("broken, state", [
    ("node occupancy above capacity or negative", _state([1, 2], [2, 0], [0, 0], [0, 0])),
    ("node occupancy does not match the replica table", _state([2, 2], [1, 0], [0, 1], [0, 0])),
    ("dead replica left in the table", _state([2, 2], [1, 0], [0], [2])),
    # two misaligned replicas on node 0 in coalitions that never merged: the act pass would misread one of them
    ("a misaligned replica outside its node's coalition",
     _state([2, 2], [2, 0], [0, 0], [1, 1], node_coal=[0, -1])),
    # the next act pass would add its proposals to a count left over
    ("proposal counts left on a node after the step",
     _state([2, 2], [1, 0], [0], [0], edit=lambda f: f.nodes.prop_left.__setitem__(1, 1))),
    # a sparse step would skip a node with replicas, or leave a quarantined one's record row stale
    ("an occupied or quarantined node missing from the list of nodes a sparse step visits",
     _state([2, 2], [1, 0], [0], [0], edit=_unlist)),
    ("an occupied or quarantined node missing from the list of nodes a sparse step visits",
     _state([2, 2], [1, 0], [0], [0], edit=_quarantine_unlisted)),
])
def test_check_invariants_rejects_broken_states(broken, state):
    assert INVARIANTS[check_invariants(*state)] == broken


def test_check_invariants_accepts_a_consistent_state():
    assert check_invariants(*_state([2, 3], [2, 1], [0, 1, 0], [0, 1, 0])) == 0
    # with collusion: replicas 0 and 1 (misaligned, node 0) merged into coalition 0; node 1 holds no misaligned one
    assert check_invariants(*_state([2, 3], [2, 1], [0, 0, 1], [1, 1, 0], node_coal=[0, -1],
                                    coal_forest=[-1, 0, -1])) == 0


@pytest.mark.parametrize("validate", [True, False])
def test_validate_mode_stops_a_broken_run(monkeypatch, validate):
    """Through the public path: a network that cannot hold the initial replicas is caught in validate mode only."""
    sim_module = importlib.import_module("replisim.simulate")  # the module; replisim.simulate is the function
    real_setup = sim_module.setup

    def broken_setup(cfg, seed, graph=None):
        net, gov = real_setup(cfg, seed, graph)
        capacity = np.zeros_like(gov.capacity)
        capacity[0] = 2  # 5 replicas, 2 slots: placement has to overfill
        return net, dataclasses.replace(gov, capacity=capacity)

    monkeypatch.setattr(sim_module, "setup", broken_setup)
    cfg = replisim.compose(["scenario=minimal", "network.nodes=10", "network.capacity=2", "replica.initial=5",
                            "sim.steps=3", "governance.detection=0", f"sim.validate={str(validate).lower()}"])
    if validate:
        with pytest.raises(AssertionError, match="run 0 broke an invariant after step 0: initial replicas without "
                                                 r"a free slot \(4 of 4 runs"):
            replisim.simulate(cfg, runs=4, seed=0)
    else:  # the replicas that do not fit are left out (not written to a node that does not exist)
        ens = replisim.simulate(cfg, runs=4, seed=0)
        assert (ens.series("replicas")[:, 0] == 2).all()
