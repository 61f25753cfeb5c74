"""The governance catalogue: every preset and jurisdiction set composes, static measures change the node arrays
as documented, and every measure moves outcomes in its intended direction.

Direction tests compare two ensembles that differ in one measure. Runs are independent, so the difference of
the two means over ``RUNS`` runs is close to normal; a test passes when the difference has the intended sign
and is at least ``Z`` standard errors (Welch) away from zero. Under no effect that happens with probability
below 0.2% (one-sided normal tail at 3), so a pass is evidence of the effect. Measured z-scores with these
seeds: 4.6 for KYC (clouds are only 9% of the nodes a copy draws), 9 to 70 for every other measure; a failure
prints its z-score.
Measures that only cost (false positives, shutdown cost) must leave the dynamics bit-identical and raise the
collateral cost.
"""

from __future__ import annotations

import numpy as np
import pytest

import replisim
from replisim.config import NODE_TYPES, compose
from replisim.config.compose import _group_options
from replisim.governance import apply_governance
from replisim.network import build_network
from replisim.world import setup

PRESETS = ["none", "light_touch", "wide_ranging", "hybrid", "if_then", "compute_governance", "international",
           "export_controls"]
RUNS = 100
Z = 3.0


def per_type(key: str, value: float) -> list[str]:
    # '++' adds keys to the (empty by default) per-type mappings; Hydra's struct mode refuses a plain override
    return [f"++governance.{key}.{t}={value}" for t in NODE_TYPES]


# Small network, short horizon, and a moderate detection level on every node type, so that both stronger and
# weaker measures have room to act before the network saturates.
# A fast-growing world (the wave-1 rates, one jurisdiction, shutdown at once) so that 60 steps show each effect;
# the direction of a measure's effect does not depend on the defaults' slower growth.
BASE = ["network.nodes=200", "sim.steps=60", f"runs={RUNS}", "collusion.enabled=false", *per_type("monitoring", 0.2),
        "replica.attempt_rate=0.5", "governance.response_latency=0", "jurisdictions=single"]


def test_every_preset_in_the_catalogue_composes_with_its_name():
    assert set(_group_options("governance")) == set(PRESETS)
    for name in PRESETS:
        cfg = compose([f"governance={name}"])
        assert cfg.governance.name == name


def test_every_preset_except_none_sets_a_measure():
    none = compose(["governance=none"]).governance
    for name in PRESETS[1:]:
        g = compose([f"governance={name}"]).governance
        changed = [f for f in g.__dataclass_fields__ if f != "name" and getattr(g, f) != getattr(none, f)]
        assert changed, name


@pytest.mark.parametrize("jur", ["single", "three_blocs", "with_haven"])
def test_jurisdiction_sets_compose_and_split_all_nodes(jur):
    cfg = compose([f"jurisdictions={jur}", "network.nodes=1000"])
    shares = {k: r.share for k, r in cfg.jurisdictions.regions.items()}
    assert sum(shares.values()) == pytest.approx(1.0)
    net = build_network(cfg, np.random.default_rng(0))
    counts = np.bincount(net.jurisdiction, minlength=len(shares))
    assert counts.sum() == 1000
    for k, name in enumerate(net.jurisdiction_names):
        assert counts[k] == pytest.approx(1000 * shares[name], abs=1)


def test_haven_jurisdictions_are_lax():
    for jur in ("three_blocs", "with_haven"):
        haven = compose([f"jurisdictions={jur}"]).jurisdictions.regions["haven"]
        assert haven.monitoring_factor < 1 and haven.kill_switch_factor < 1 and not haven.reporting


def _governed(overrides, seed=0):
    cfg = compose(overrides)
    net = build_network(cfg, np.random.default_rng(seed))
    return net, apply_governance(cfg, net)


def test_static_measures_change_node_arrays_as_documented():
    net, none = _governed(["governance=none"])
    cloud = net.node_type == NODE_TYPES.index("hyperscale_cloud")
    lab = net.node_type == NODE_TYPES.index("frontier_lab")
    unlicensed = ~(cloud | lab)
    _, g = _governed(["++governance.monitoring.enterprise=0.4"])
    ent = net.node_type == NODE_TYPES.index("enterprise")
    assert np.all(g.monitoring[ent] == np.float32(0.4)) and np.all(g.monitoring[~ent] == none.monitoring[~ent])
    _, g = _governed(["++governance.kill_switch_mandate.consumer_edge=0.9"])
    edge = net.node_type == NODE_TYPES.index("consumer_edge")
    assert np.all(g.kill_switch[edge] == np.float32(0.9))
    _, g = _governed(["governance.kyc=0.5"])
    assert np.all(g.security[cloud] > none.security[cloud]) and np.all(g.security[~cloud] == none.security[~cloud])
    _, g = _governed(["governance.licensing.enabled=true", "governance.licensing.compliance=0.5"])
    assert g.capacity[unlicensed].sum() < none.capacity[unlicensed].sum()
    assert np.all(g.capacity[~unlicensed] == none.capacity[~unlicensed])
    assert np.all(g.monitoring[lab | cloud] >= 0.2)


def test_licensing_and_export_controls_act_node_by_node():
    """A node complies (hosts nothing) or not (keeps every slot); the share that complies is the compliance, within
    4 binomial standard deviations (a false alarm once in ~16,000 seeds), on nodes of every size: flooring each
    node's slots, as the first version did, withheld all of a one-slot node at compliance 0.8."""
    over = ["network.nodes=4000", "network.capacity=1", "governance.licensing.enabled=true",
            "governance.licensing.compliance=0.8"]
    net, none = _governed(over[:2])
    _, g = _governed(over)
    unlicensed = ~np.isin(net.node_type, [NODE_TYPES.index(t) for t in ("frontier_lab", "hyperscale_cloud")])
    kept = g.capacity[unlicensed]
    assert set(np.unique(kept)) <= {0, 1}
    n = unlicensed.sum()
    assert abs((kept == 0).sum() - 0.8 * n) <= 4 * np.sqrt(n * 0.8 * 0.2)
    net, free = _governed(["jurisdictions=three_blocs", "network.nodes=4000"])
    _, capped = _governed(["jurisdictions=three_blocs", "network.nodes=4000", "governance.export_cap=0.3"])
    china = net.jurisdiction == net.jurisdiction_names.index("china")
    withheld = (capped.capacity[china] == 0) & (free.capacity[china] > 0)
    assert np.all((capped.capacity[china] == 0) | (capped.capacity[china] == free.capacity[china]))
    m = (free.capacity[china] > 0).sum()
    assert abs(withheld.sum() - 0.7 * m) <= 4 * np.sqrt(m * 0.7 * 0.3)


def test_monitoring_floor_raises_and_never_lowers():
    net, none = _governed([])
    edge = net.node_type == NODE_TYPES.index("consumer_edge")
    lab = net.node_type == NODE_TYPES.index("frontier_lab")
    _, g = _governed(["++governance.monitoring_floor.consumer_edge=0.002", "++governance.monitoring_floor.frontier_lab=0"])
    assert np.all(g.monitoring[edge] == np.maximum(none.monitoring[edge], np.float32(0.002)))
    assert np.all(g.monitoring[lab] == none.monitoring[lab])  # a floor of 0 lowers nothing
    assert np.all(g.monitoring[edge] > 0)


def test_export_cap_cuts_only_export_controlled_jurisdictions():
    net, free = _governed(["jurisdictions=three_blocs"])
    _, capped = _governed(["jurisdictions=three_blocs", "governance=export_controls"])
    china = net.jurisdiction == net.jurisdiction_names.index("china")
    assert capped.capacity[china].sum() <= 0.3 * free.capacity[china].sum() + china.sum()
    assert np.all(capped.capacity[~china] == free.capacity[~china])
    # with a single jurisdiction nothing is export-controlled
    _, single = _governed(["jurisdictions=single", "governance.export_cap=0.1"])
    _, base = _governed(["jurisdictions=single"])
    assert np.all(single.capacity == base.capacity)


def test_harmonize_lifts_only_lax_jurisdictions():
    net, lax = _governed(["jurisdictions=three_blocs"])
    _, harm = _governed(["jurisdictions=three_blocs", "governance.harmonize=0.5"])
    h = net.jurisdiction_names.index("haven")
    assert harm.jur_monitoring[h] == pytest.approx(0.2 + 0.5 * 0.8)
    assert harm.jur_kill[h] == pytest.approx(0.5 + 0.5 * 0.5)
    strict = [k for k, f in enumerate(lax.jur_monitoring) if f >= 1]
    assert np.all(harm.jur_monitoring[strict] == lax.jur_monitoring[strict])


# --- direction of effect of every measure -------------------------------------------------------------------


def _outcomes(overrides):
    return replisim.simulate(compose(BASE + overrides)).outcomes


def _z(a: np.ndarray, b: np.ndarray) -> float:
    """Welch z of mean(b) - mean(a)."""
    se = np.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
    return float((b.mean() - a.mean()) / se) if se > 0 else float(np.sign(b.mean() - a.mean()) * np.inf)


@pytest.fixture(scope="module")
def base():
    return _outcomes([])


# (measure, overrides of the stronger measure, outcome, intended sign of the change, base overrides)
DIRECTIONS = [
    ("monitoring", per_type("monitoring", 0.3), "replica_steps", -1),
    ("kill_switch_mandate", per_type("kill_switch_mandate", 1.0), "replica_steps", -1),
    ("response_latency", ["governance.response_latency=12"], "replica_steps", +1),
    ("hardening", ["governance.hardening=0.3"], "replica_steps", -1),
    ("kyc", ["governance.kyc=1.0"], "replica_steps", -1),
    ("licensing", ["governance.licensing.enabled=true", "governance.licensing.compliance=0.9"], "replica_steps", -1),
    ("if_then", ["governance.if_then.enabled=true", "governance.if_then.incident_threshold=3",
                 "governance.if_then.delay=0", "governance.if_then.monitoring_factor=5"], "replica_steps", -1),
    ("reporting", ["governance.reporting.enabled=true", "governance.reporting.delay=0",
                   "governance.reporting.monitoring_factor=3"], "replica_steps", -1),
    ("quarantine_steps", ["governance.quarantine_hours=10"], "replica_steps", -1),
    ("quarantine_cost", ["governance.quarantine_hours=10"], "collateral_node_hours", +1),
    ("retraining_rate", ["governance.retraining_rate=0.2"], "misaligned_final", -1),
]


@pytest.mark.parametrize("measure,overrides,outcome,sign", DIRECTIONS, ids=[d[0] for d in DIRECTIONS])
def test_measure_moves_outcome_in_intended_direction(base, measure, overrides, outcome, sign):
    stronger = _outcomes(overrides)
    z = _z(base[outcome].to_numpy(float), stronger[outcome].to_numpy(float))
    assert sign * z >= Z, f"{measure}: z = {z:.2f} for {outcome} (mean {base[outcome].mean():.1f} -> {stronger[outcome].mean():.1f})"


@pytest.mark.parametrize("measure,overrides,jur", [
    # a world where the controlled bloc is large (45% of the nodes, not three_blocs' 15%), long enough (200
    # steps) for the population to press on capacity, where withheld capacity acts
    ("export_cap", ["governance.export_cap=0.1"], ["jurisdictions=three_blocs", "jurisdictions.regions.us.share=0.45",
                                                    "jurisdictions.regions.china.share=0.45", "sim.steps=200"]),
    ("harmonize", ["governance.harmonize=1.0"], ["jurisdictions=with_haven"]),
])
def test_jurisdictional_measure_lowers_population(measure, overrides, jur):
    lax = _outcomes(jur)
    strict = _outcomes(jur + overrides)
    z = _z(lax["replica_steps"].to_numpy(float), strict["replica_steps"].to_numpy(float))
    assert z <= -Z, f"{measure}: z = {z:.2f}"


@pytest.mark.parametrize("overrides", [["governance.false_positive_rate=0.05"], ["governance.shutdown_cost_hours=5"]])
def test_pure_cost_parameters_raise_collateral_and_leave_dynamics_unchanged(base, overrides):
    costly = _outcomes(overrides)
    dynamics = [c for c in base.columns if not c.startswith("collateral")]
    assert base[dynamics].equals(costly[dynamics])
    assert (costly["collateral_node_hours"] > base["collateral_node_hours"]).all()


@pytest.mark.parametrize("overrides", [
    ["governance.licensing.enabled=true", "governance.licensing.compliance=0.5", "governance.licensing.monitoring=0"],
    ["jurisdictions=three_blocs", "governance.export_cap=0.5"],
])
def test_withheld_capacity_is_charged_every_active_step(overrides):
    """Licensing and export caps cost the capacity they withhold: (slots before - after) x hours per step, while
    the population lives. With every other cost source off, that is the whole collateral cost."""
    free = ["network.nodes=100", "sim.steps=40", "sim.hours_per_step=2", "governance.false_positive_rate=0",
            "governance.shutdown_cost_hours=0", "governance.quarantine_hours=0"]
    cfg = compose([*free, *overrides])
    _, gov = setup(cfg, 3)  # the network the ensemble of seed 3 runs on
    withheld = gov.total_compute - gov.capacity.sum()
    assert withheld > 0
    ens = replisim.simulate(cfg, runs=5, seed=3)
    active = (ens.series("replicas")[:, :-1] > 0).sum(axis=1)  # steps that started with a live population
    np.testing.assert_allclose(ens.outcomes["collateral_node_hours"], withheld * 2.0 * active, rtol=1e-12)
    np.testing.assert_allclose(ens.outcomes["collateral_withheld"], withheld * 2.0 * active, rtol=1e-12)
    assert (active > 0).all()
    # the slots withheld, by measure: only the measure switched on withholds any
    by_measure = ens.outcomes[["withheld_slots_licensing", "withheld_slots_export_controls"]].iloc[0]
    assert by_measure.sum() == withheld
    assert (by_measure > 0).sum() == 1
