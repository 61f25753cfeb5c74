"""Statistical cross-check: the Mesa engine and the Numba engine produce the same distributions.

The two engines share nothing but the rules (docs/ODD.md) and the setup: the same validated Config, the same
master seed, hence the same network, governance arrays and per-run skills (replisim.world.setup and
draw_skills). Their random streams are unrelated (Numba: counter-based SplitMix64 keyed by (seed, run); Mesa:
numpy's PCG64 seeded with [seed, run]), so the runs of one engine are independent of the other's, and equal
rules must give equal distributions of every outcome.

For each scenario, 500 runs per engine; per scenario six tests:
- two-sample Kolmogorov-Smirnov tests on peak and final population, detections, generation depth
  (max_generation) and collateral node-hours (shutdowns, quarantine, false alarms, withheld capacity);
- Fisher's exact test on the extinction counts (a 2 x 2 table: extinct / not, per engine);
and, where the world has more than one jurisdiction, a KS test per jurisdiction on the replica-steps spent on
its nodes (the run's per-step group series, ``simulate(..., groups=...)``, summed over the steps): where the
replicas gather, e.g. in a haven.

Tolerance. There are N_TESTS = 5 scenarios x 6 tests + 14 jurisdictions (4 + 4 + 2 + 4: the branching scenario
has one) = 44 tests in this file. Each uses alpha = 1e-3 / 44 = 2.3e-5 (Bonferroni), so that the probability of
a false alarm anywhere in the file is at most 1e-3 when the engines agree: the file fails by chance about once
in a thousand runs of CI. With 500 runs per engine the KS test at that alpha rejects when the two empirical
CDFs differ by more than D = sqrt(-ln(alpha / 2) / 2) * sqrt(2 / 500) = 0.151 somewhere; Fisher's test
detects a change of roughly 0.12 in an extinction probability near 0.5. The
outcomes are integers, for which the KS p-value is conservative (ties): this lowers the false-alarm rate further
and costs some power. ``test_the_check_detects_a_small_change_of_rules`` shows that the same machinery rejects
a 15% change in the detection probability, so a passing check is evidence, not an artefact of low power.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import replisim

pytestmark = pytest.mark.slow

RUNS = 500
FILE_ALPHA = 1e-3
KS_OUTCOMES = ("peak_replicas", "final_replicas", "detections", "max_generation", "collateral_node_hours")

SCENARIOS = {
    # the textbook branching process: complete network of identical nodes, no latency; extinction ~ 0.6
    "branching": ["scenario=minimal", "network.nodes=100", "sim.steps=60", "replica.initial=3",
                  "governance.detection=0.17"],
    # misaligned, colluding replicas (warnings, footholds, blinding, flight) with a response latency of 2 steps
    "collusion_latency": ["network=random_regular", "network.nodes=100", "network.degree=6", "network.capacity=2",
                          "sim.steps=60", "replica.initial=6", "replica.initial_misaligned=0.5", "replica.success=0.6",
                          "governance.detection=0.5", "governance.kill_switch=0.8", "governance.response_latency=2",
                          "collusion.enabled=true", "collusion.flight=0.5"],
    # aligned replicas turn misaligned (misalignment_rate), then resist shutdown; quarantine and hardening
    "misalignment_incidents": ["network=small_world", "network.nodes=100", "network.capacity=3", "sim.steps=60",
                               "replica.initial=4", "replica.initial_misaligned=0", "replica.misalignment_rate=0.3",
                               "replica.shutdown_avoidance=0.6", "collusion.enabled=true", "governance.detection=0.2",
                               "governance.kill_switch=0.9", "governance.response_latency=1",
                               "governance.quarantine_hours=2", "governance.hardening=0.1"],
    # a regulated bloc and a haven, if-then commitments, incident reporting, latency 3, scale-free network
    "havens_if_then": ["network=scale_free", "network.nodes=120", "network.capacity=2", "sim.steps=60",
                       "jurisdictions=with_haven", "governance=if_then", "governance.reporting.enabled=true",
                       "governance.reporting.delay=4", "governance.response_latency=3", "replica.initial=5",
                       "replica.success=0.7", "governance.if_then.delay=10"],
    # strategic targets on a datacenter hierarchy, trait mutation, retraining of misaligned replicas
    "strategic_datacenter": ["network=datacenter", "network.nodes=120", "network.capacity=2", "network.regions=2",
                             "network.sites_per_region=4", "sim.steps=60", "replica.initial=5", "replica.success=0.7",
                             "replica.strategic=true", "replica.mutation_sd=0.05", "governance.retraining_rate=0.05",
                             "collusion.enabled=true", "governance.detection=0.1"],
}

def _jurisdictions(overrides) -> int:
    """How many jurisdictions a scenario's world has (from its configuration: fixed before any run)."""
    return len(replisim.compose(overrides).jurisdictions.regions)


GROUPS = {"jur": "jurisdiction"}  # the per-step replicas on each jurisdiction's nodes, in both engines
N_GROUP_TESTS = sum(n for n in map(_jurisdictions, SCENARIOS.values()) if n > 1)
N_TESTS = len(SCENARIOS) * (len(KS_OUTCOMES) + 1) + N_GROUP_TESTS
ALPHA = FILE_ALPHA / N_TESTS


def compare(a, b) -> dict[str, float]:
    """p-values of the six tests between two outcome tables."""
    p = {col: float(stats.ks_2samp(a[col], b[col]).pvalue) for col in KS_OUTCOMES}
    ka, kb = int(a["extinct"].sum()), int(b["extinct"].sum())
    table = [[ka, len(a) - ka], [kb, len(b) - kb]]
    p["extinct"] = float(stats.fisher_exact(table).pvalue)
    return p


def describe(a, b, p) -> str:
    lines = [f"{'test':16s} {'numba mean':>11s} {'mesa mean':>10s} {'p':>9s}  (alpha {ALPHA:.1e})"]
    for col, pv in p.items():
        lines.append(f"{col:16s} {a[col].mean():11.3f} {b[col].mean():10.3f} {pv:9.3g}")
    return "\n".join(lines)


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_mesa_and_numba_agree(name):
    cfg = replisim.compose(SCENARIOS[name])
    seed = 20260 + list(SCENARIOS).index(name)  # one seed for both engines: the same network and skills
    numba_ens = replisim.simulate(cfg, runs=RUNS, seed=seed, groups=GROUPS)
    mesa_ens = replisim.simulate(cfg, runs=RUNS, seed=seed, engine="mesa", groups=GROUPS)
    numba, mesa = numba_ens.outcomes, mesa_ens.outcomes
    p = compare(numba, mesa)
    labels = numba_ens.group_labels("jur")
    assert labels == mesa_ens.group_labels("jur") and len(labels) == _jurisdictions(SCENARIOS[name])  # N_TESTS
    if len(labels) > 1:  # replica-steps on each jurisdiction's nodes (one jurisdiction: the population itself)
        on_numba, on_mesa = (e.group_series("jur").sum(axis=2) for e in (numba_ens, mesa_ens))
        for k, label in enumerate(labels):
            numba[f"steps_on_{label}"], mesa[f"steps_on_{label}"] = on_numba[:, k], on_mesa[:, k]
            p[f"steps_on_{label}"] = float(stats.ks_2samp(on_numba[:, k], on_mesa[:, k]).pvalue)
    report = describe(numba, mesa, p)
    print(f"\n[{name}]\n{report}")
    # the scenario must exercise what it claims (otherwise the comparison says nothing about those rules)
    assert numba["peak_replicas"].mean() > cfg.replica.initial
    if cfg.collusion.enabled and cfg.governance.response_latency > 0:
        assert numba["flights"].sum() > 0 and mesa["flights"].sum() > 0
    failed = [k for k, v in p.items() if v < ALPHA]
    assert not failed, f"{name}: the engines disagree on {failed}\n{report}"


def test_the_check_detects_a_small_change_of_rules():
    """Power: the same six tests tell apart detection 0.17 and 0.17 x 1.15 (Numba against Numba)."""
    base = SCENARIOS["branching"]
    a = replisim.simulate(replisim.compose(base), runs=RUNS, seed=1).outcomes
    b = replisim.simulate(replisim.compose([*base, "governance.detection=0.1955"]), runs=RUNS, seed=2).outcomes
    p = compare(a, b)
    assert min(p.values()) < ALPHA, describe(a, b, p)


def test_the_jurisdiction_check_detects_where_replicas_gather():
    """Power of the per-jurisdiction tests: a haven of 30% of the nodes instead of 20% (Numba against Numba) puts
    half again as many replica-steps in the haven, while peak and final population do not tell the two apart."""
    base = SCENARIOS["havens_if_then"]
    a = replisim.simulate(replisim.compose(base), runs=RUNS, seed=1, groups=GROUPS)
    b = replisim.simulate(replisim.compose([*base, "jurisdictions.regions.haven.share=0.3",
                                            "jurisdictions.regions.regulated.share=0.7"]), runs=RUNS, seed=2,
                          groups=GROUPS)
    haven = a.group_labels("jur").index("haven")
    on_a, on_b = (e.group_series("jur").sum(axis=2)[:, haven] for e in (a, b))
    assert stats.ks_2samp(on_a, on_b).pvalue < ALPHA, (on_a.mean(), on_b.mean())


def test_same_network_for_both_engines():
    """The premise of the check: with one seed, both engines run on identical nodes."""
    from replisim.mesa import ReplicationModel
    from replisim.world import setup

    cfg = replisim.compose(SCENARIOS["strategic_datacenter"])
    net, gov = setup(cfg, 7)
    model = ReplicationModel(cfg, seed=7, run=0)
    for attr in ("capacity", "security", "monitoring", "kill_switch"):
        assert np.allclose([getattr(n, attr) for n in model.nodes], getattr(gov, attr))
    assert all(sorted(n.coordinate for n in model.nodes[v].neighbours) == sorted(net.neighbours(v).tolist())
               for v in range(net.nodes))


# Monitoring 0.3 x jurisdiction factor 10 = 3: every replica is detected every step (p = min(1, 3)), but the kill
# switch never works, so replicas live on and copy. Capacity 1: every copy must go to another node.
HEAVILY_WATCHED = ["scenario=minimal", "network.nodes=100", "network.capacity=1", "sim.steps=20", "replica.initial=5",
                   "governance.detection=0.3", "governance.kill_switch=0.0",
                   "jurisdictions.regions.global.monitoring_factor=10"]


@pytest.mark.parametrize("engine", ["mesa", "numba"])
def test_copies_reach_nodes_whose_effective_monitoring_is_two_or_more(engine):
    out = replisim.simulate(replisim.compose(HEAVILY_WATCHED), runs=20, seed=0, engine=engine).outcomes
    assert out["births"].min() > 0
