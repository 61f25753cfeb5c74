"""replisim.theory against hand-derived closed forms, and the engine against replisim.theory.

Statistical checks use fixed seeds (so they are reproducible), and each states its tolerance and why. The
theory is exact for the early phase of the engine's process (colonies of one node are independent until
copies start landing on occupied nodes), and the large-N map is the engine's exact N -> infinity limit.
"""

import numpy as np
import pytest
from scipy.stats import binom

import replisim
from replisim import theory as th

Q, A, S = 0.1, 0.5, 0.5  # minimal scenario: detection x kill switch, attempt rate, success


def minimal(*overrides):
    return replisim.compose(["scenario=minimal", "sim.threads=1", *overrides])


def fixed_point(f, x0, n=100_000):
    x = np.asarray(x0, dtype=float)
    for _ in range(n):
        x = f(x)
    return x


# ------------------------------------------------------------------ closed forms (no engine involved)

def test_capacity_one_latency_zero_closed_forms():
    # With one slot per node every copy spills, so a colony is one replica: x = q + (1-q)(1-as) x + (1-q) as x^2
    cfg = minimal("network.capacity=1", "replica.initial=3")
    q, as_ = Q, A * S
    x = q / ((1 - q) * as_)
    # float32 node arrays (monitoring 0.1 is stored as 0.10000000149) bound the agreement to ~1e-7
    assert th.extinction_probability_single(cfg) == pytest.approx(x, rel=1e-6)
    assert th.extinction_probability(cfg) == pytest.approx(x**3, rel=1e-6)
    assert th.r0(cfg) == pytest.approx(as_ * (1 - q) / q, rel=1e-6)
    assert th.growth_rate(cfg) == pytest.approx((1 - q) * (1 + as_), rel=1e-6)
    # R0 = 1 where as (1 - q) = q, i.e. detection = as / (1 + as) with kill switch 1
    assert th.critical_detection(cfg) == pytest.approx(as_ / (1 + as_), abs=1e-7)


def test_offspring_per_step_table():
    # latency 2, kill 0.6: no order -> detected 0.1 -> order in 1 step -> executes next step (killed 0.6)
    cfg = minimal("governance.response_latency=2", "governance.kill_switch=0.6")
    t = th.offspring_per_step(cfg)
    assert np.allclose(t.groupby("state").probability.sum(), 1.0)
    assert set(t.state) == {0, 1, 2}
    p = t.set_index(["state", "next_state", "proposes"]).probability
    assert p[(0, 2, True)] == pytest.approx(Q * A)  # detected, copies while the order waits
    assert p[(2, 1, False)] == pytest.approx(1 - A)
    assert p[(1, -1, False)] == pytest.approx(0.6)  # executes; aligned replicas make no last copy
    assert p[(1, 0, True)] == pytest.approx(0.4 * A)  # failed kill clears the order


def test_capacity_one_latency_one_closed_forms():
    # States N (no order) and P (order executes this step). From N: detected p -> P; replicates either way.
    # From P: killed with k, else back to N and replicates.
    p, k = 0.2, 0.7
    cfg = minimal("network.capacity=1", "replica.initial=1", "governance.response_latency=1",
                  f"governance.detection={p}", f"governance.kill_switch={k}")
    as_ = A * S

    def f(x):
        xn, xp = x
        g = 1 - as_ + as_ * xn  # one step's offspring: a fresh replica founds a fresh lineage
        return np.array([(1 - p) * g * xn + p * g * xp, k + (1 - k) * g * xn])

    xn = fixed_point(f, [0.0, 0.0])[0]
    assert th.extinction_probability(cfg) == pytest.approx(xn, rel=1e-6)
    # lifetime replicating steps from N: E = 1 + p(1-k)(1 + E) + ... => E = (1 + p(1-k)) / (p k)
    assert th.r0(cfg) == pytest.approx(as_ * (1 + p * (1 - k)) / (p * k), rel=1e-6)


def test_shutdown_avoidance_closed_form():
    # A killed misaligned replica makes its last copy with v (no attempt draw): F = q(1 - vs + vs x) + (1-q)(1-as+as x)x
    v, d = 0.6, 0.2
    cfg = minimal("network.capacity=1", "replica.initial=1", "replica.initial_misaligned=1",
                  f"replica.shutdown_avoidance={v}", f"governance.detection={d}")
    q, as_, vs = d, A * S, v * S
    a2, a1, a0 = (1 - q) * as_, (1 - q) * (1 - as_) + q * vs - 1, q * (1 - vs)
    x = (-a1 - np.sqrt(a1**2 - 4 * a2 * a0)) / (2 * a2)
    assert th.extinction_probability(cfg) == pytest.approx(x, rel=1e-6)
    assert th.r0(cfg) == pytest.approx(as_ * (1 - q) / q + vs, rel=1e-6)
    # aligned replicas comply: the same config without misalignment has no last copy
    aligned = th.with_params(cfg, **{"replica.initial_misaligned": 0.0})
    assert th.r0(aligned) == pytest.approx(as_ * (1 - q) / q, rel=1e-6)


def test_capacity_two_colony_by_hand():
    # Colony of 1 on a 2-slot node: dies q; else its copy (as) fills the own node. Full colony (2): each replica
    # dies with q, each survivor spills a copy with as that founds a fresh colony; its own node gets nothing.
    cfg = minimal("network.capacity=2", "replica.initial=1")
    q, as_ = Q, A * S

    def f(x):
        x1, x2 = x
        g = 1 - as_ + as_ * x1
        f1 = q + (1 - q) * (1 - as_) * x1 + (1 - q) * as_ * x2
        f2 = q**2 + 2 * q * (1 - q) * g * x1 + (1 - q) ** 2 * g**2 * x2
        return np.array([f1, f2])

    x1 = fixed_point(f, [0.0, 0.0])[0]
    assert th.extinction_probability(cfg) == pytest.approx(x1, rel=1e-6)
    # P(extinct by step T) is the T-th iterate from 0
    x = np.zeros(2)
    for _ in range(5):
        x = f(x)
    assert th.extinction_probability(cfg, steps=5) == pytest.approx(x[0], rel=1e-6)


def test_mean_field_capacity_one_fixed_point():
    # Occupied share y; spilled copies reach a node as Poisson(l), l = y (1-q) a s; a node takes one if it is
    # empty or its replica was shut down: y' = y(1-q) + (1 - y(1-q)) (1 - exp(-l)).
    cfg = minimal("network.capacity=1", "network.nodes=5000", "replica.initial=500", "sim.steps=400")
    q = Q

    def f(y):
        return y * (1 - q) + (1 - y * (1 - q)) * (1 - np.exp(-y * (1 - q) * A * S))

    y = fixed_point(f, 0.5, n=5000)
    for method in ("map", "ode"):
        mf = th.mean_field(cfg, method=method)
        assert mf.compute_share.iloc[-1] == pytest.approx(y, rel=1e-5)
        assert mf.replicas.iloc[0] == pytest.approx(500, rel=1e-3)
    assert list(mf.columns) == ["step", "hours", "replicas", "compute_share"]


def test_r0_monotone_and_threshold():
    cfg = minimal("governance.response_latency=1")
    grid = th.r0_grid(cfg, [0.3, 0.5, 0.7], [0.1, 0.2, 0.3, 0.5])
    assert np.all(np.diff(grid, axis=1) < 0)  # more detection, fewer offspring
    assert np.all(np.diff(grid, axis=0) > 0)  # more skill, more offspring
    dc = th.critical_detection(cfg)
    for d, supercritical in ((dc * 0.95, True), (dc * 1.05, False)):
        c = th.with_params(cfg, **{"governance.detection": d})
        assert (th.r0(c) > 1) == supercritical
        assert (th.growth_rate(c) > 1) == supercritical  # the two thresholds coincide
        assert (th.extinction_probability_single(c) < 1) == supercritical


def test_what_it_would_take_is_exact_where_the_theory_covers_the_configuration():
    cfg = minimal("network.capacity=1")
    t = th.what_it_would_take(cfg)
    assert t["relaxed"] == [] and "exact for this configuration" in t["text"]
    assert t["r0"] == pytest.approx(th.r0(cfg))
    as_ = A * S
    assert t["critical_detection"] == pytest.approx(as_ / (1 + as_), abs=1e-7)  # the closed form above
    assert t["text"].startswith(f"R0 = {t['r0']:.3g} > 1: detection of {t['critical_detection']:.3g} per hour")


def test_what_it_would_take_finds_the_longest_safe_response():
    # detection 0.5, kill 1, capacity 1: R0 = as (1 - q) / q = 0.25 at latency 0; waiting lets replicas copy
    cfg = minimal("network.capacity=1", "governance.detection=0.5")
    t = th.what_it_would_take(cfg)
    longest = t["max_latency_hours"]
    assert t["r0"] <= 1 and t["max_latency_exact"] and longest >= 1
    at = th.r0(th.with_params(cfg, **{"governance.response_latency": longest}))
    beyond = th.r0(th.with_params(cfg, **{"governance.response_latency": longest + 1}))
    assert at <= 1 < beyond
    assert f"a response may take up to {longest:g} h" in t["text"]


def test_what_it_would_take_names_what_it_switched_off():
    """On the default world (collusion central): trait mutation, and the response latency (collusion's flight
    needs a pending order, and the colonies outgrow the enumeration) are switched off, each named with the
    direction it moves the real requirement; collusion stays in, and R0 is that of the relaxed world."""
    cfg = replisim.compose([])
    assert cfg.collusion.enabled
    t = th.what_it_would_take(cfg)
    assert "trait mutation (either way)" in t["relaxed"] and "response latency 24 h (higher)" in t["relaxed"]
    assert not any("collusion" in r for r in t["relaxed"])
    relaxed = th.with_params(cfg, **{"replica.mutation_sd": 0.0, "governance.response_latency": 0.0})
    assert t["r0"] == pytest.approx(th.r0(relaxed))
    no_collusion = th.r0(th.with_params(relaxed, **{"collusion.enabled": False}))
    assert t["r0"] > 2 * no_collusion  # collusion counts in the answer
    assert "switched off: response latency 24 h (higher), trait mutation (either way)" in t["text"]


def test_uncovered_mechanisms_raise():
    with pytest.raises(NotImplementedError, match="collusion.flight"):
        th.r0(replisim.compose(["replica.mutation_sd=0"]))  # flight under the default world's 24 h latency
    with pytest.raises(NotImplementedError, match="mean_field does not cover collusion"):
        th.mean_field(replisim.compose(["replica.mutation_sd=0", "governance.response_latency=0"]))
    with pytest.raises(NotImplementedError, match="network.kind"):
        th.mean_field(minimal("network.kind=random_regular"))


# ------------------------------------------------------------------ collusion in the early phase

def colluding(*overrides):
    """The minimal world with misaligned, colluding replicas that do not avoid shutdown."""
    return minimal("collusion.enabled=true", "replica.initial_misaligned=1", "replica.shutdown_avoidance=0",
                   *overrides)


def test_warning_closed_form():
    """Capacity 1, latency 0, kill switch k, a warning of one step that multiplies detection by (1 - w).
    A colony is one replica, in state 0 (not warned) or 1 (warned: a detection it survived last step). With
    q_0 = q, q_1 = q (1 - w) and one spilled proposal per step founding a colony with a s:
    x_i = q_i k + q_i (1 - k) g x_1 + (1 - q_i) g x_0, g = 1 - a s + a s x_0 (extinction), and
    m_i = a s (1 - q_i k) + q_i (1 - k) m_1 + (1 - q_i) m_0 (lifetime colonies founded; R0 = m_0)."""
    k, w = 0.5, 0.5
    cfg = colluding("network.capacity=1", f"governance.kill_switch={k}", "collusion.warning_hours=1",
                    f"collusion.warning_evasion={w}")
    q, as_ = [Q, Q * (1 - w)], A * S

    def f(x):
        g = 1 - as_ + as_ * x[0]
        return np.array([q[i] * k + q[i] * (1 - k) * g * x[1] + (1 - q[i]) * g * x[0] for i in (0, 1)])

    x = fixed_point(f, [0.0, 0.0])
    m = np.linalg.solve([[q[0], -q[0] * (1 - k)], [-(1 - q[1]), 1 - q[1] * (1 - k)]],
                        [as_ * (1 - q[0] * k), as_ * (1 - q[1] * k)])
    assert th.extinction_probability_single(cfg) == pytest.approx(x[0], rel=1e-6)
    assert th.r0(cfg) == pytest.approx(m[0], rel=1e-6)
    # without the warning the same world has R0 = a s (1 - q k) / (q k): the warning must raise it
    assert m[0] > as_ * (1 - Q * k) / (Q * k) * 1.01


def test_inert_collusion_is_no_collusion():
    """Collusion whose every lever is zero (no blinding, warnings that change nothing, no foothold) is the
    process without collusion, at capacity 4 and latency 0 where colonies of several replicas form."""
    inert = ("collusion.blinding=0", "collusion.warning_evasion=0", "collusion.foothold=0", "collusion.flight=0")
    on = colluding("network.capacity=4", "network.security=0.3", "collusion.warning_hours=3", *inert)
    off = th.with_params(on, **{"collusion.enabled": False})
    assert th.r0(on) == pytest.approx(th.r0(off), rel=1e-9)
    assert th.extinction_probability(on, steps=30) == pytest.approx(th.extinction_probability(off, steps=30),
                                                                     rel=1e-9)


@pytest.mark.parametrize("lever,value", [("collusion.blinding", 0.5), ("collusion.warning_evasion", 0.5),
                                         ("collusion.foothold", 0.5)])
def test_each_collusion_lever_raises_r0(lever, value):
    base = colluding("network.capacity=4", "network.security=0.3", "collusion.warning_hours=3",
                     "collusion.blinding=0", "collusion.warning_evasion=0", "collusion.foothold=0",
                     "collusion.dominance=0.5", "collusion.min_members=2", "governance.detection=0.3")
    assert th.r0(th.with_params(base, **{lever: value})) > 1.01 * th.r0(base)


# ------------------------------------------------------------------ engine against theory

EXTINCTION_POINTS = [
    # latency 0, kill switch 1, one initial replica
    dict(latency=0, kill=1.0, detection=0.1, initial=1),
    # latency 2: an order waits two steps while the replica keeps copying
    dict(latency=2, kill=1.0, detection=0.25, initial=1),
    # kill switch 0.5, two initial lineages
    dict(latency=0, kill=0.5, detection=0.3, initial=2),
    # latency 1, partial kill switch, higher skill
    dict(latency=1, kill=0.7, detection=0.3, initial=1, success=0.7),
    # misaligned replicas that copy themselves when shut down
    dict(latency=0, kill=1.0, detection=0.2, initial=1, misaligned=1.0, avoidance=0.5),
]


@pytest.mark.slow
@pytest.mark.parametrize("point", EXTINCTION_POINTS, ids=lambda p: "-".join(f"{k}={v}" for k, v in p.items()))
def test_extinction_frequency_matches_branching_process(point):
    # The theory gives P(extinct by step T) exactly (T iterations of the generating functions from 0), so the
    # horizon need not be long: the engine's `extinct` at T is compared with that probability (the ultimate
    # extinction probability differs by up to 0.03 at T = 40 for the near-critical points). The branching
    # process is exact while colonies do not meet; on 2000 nodes (8000 slots) a surviving lineage holds a few
    # hundred replicas at T = 40, so spills land on an occupied node with probability < 5%, and only after the
    # lineage is large enough (tens of colonies) that its extinction probability is x^(tens) ~ 0.
    # Tolerance: the central 99% binomial interval of Binomial(10000, p_theory) for the count of extinct runs.
    runs, steps = 10_000, 40
    cfg = minimal(
        "network.nodes=2000", f"sim.steps={steps}", f"replica.initial={point['initial']}",
        f"governance.response_latency={point['latency']}", f"governance.kill_switch={point['kill']}",
        f"governance.detection={point['detection']}", f"replica.success={point.get('success', 0.5)}",
        f"replica.initial_misaligned={point.get('misaligned', 0.0)}",
        f"replica.shutdown_avoidance={point.get('avoidance', 0.0)}",
    )
    p = th.extinction_probability(cfg, steps=steps)
    assert 0.1 < p < 0.9, "choose a point where extinction is neither rare nor certain"
    extinct = int(replisim.simulate(cfg, runs=runs, seed=2024).outcomes["extinct"].sum())
    lo, hi = binom.interval(0.99, runs, p)
    assert lo <= extinct <= hi, f"observed {extinct / runs:.4f}, theory {p:.4f}, 99% interval [{lo}, {hi}]"


COLLUSION_POINTS = [
    # the default world (mixed nodes, three blocs, per-type monitoring) with the theory's two restrictions:
    # no trait mutation and no response latency (flight needs a pending order)
    dict(collusion="central", detection=0.02),
    dict(collusion="strong", detection=0.05),
]


@pytest.mark.slow
@pytest.mark.parametrize("point", COLLUSION_POINTS, ids=lambda p: f"{p['collusion']}-detection={p['detection']}")
def test_extinction_with_collusion_matches_branching_process(point):
    # P(extinct by step 300) of one colluding lineage on the default world, engine against the colony process
    # with blinding, warnings and footholds. The default network's 1,000 nodes are enough: the engine's
    # frequency at 4,000 nodes was within one standard error of the same theory (measured, 2,000 runs).
    # Tolerance: the central 99% binomial interval of Binomial(10000, p_theory); the theory without collusion
    # must lie outside it by a wide margin, so the test can tell whether collusion is modelled.
    runs, steps = 10_000, 300
    cfg = replisim.compose([f"collusion={point['collusion']}", "replica.mutation_sd=0",
                            "governance.response_latency=0", "replica.initial=1", f"sim.steps={steps}",
                            f"governance.detection={point['detection']}", "sim.threads=1"])
    p = th.extinction_probability(cfg, steps=steps)
    p_without = th.extinction_probability(th.with_params(cfg, **{"collusion.enabled": False}), steps=steps)
    assert 0.1 < p < 0.9, "choose a point where extinction is neither rare nor certain"
    lo, hi = binom.interval(0.99, runs, p)
    assert abs(p_without - p) * runs > 3 * (hi - lo)
    # the theory reads the network drawn from cfg.seed: the engine must use the same one
    extinct = int(replisim.simulate(cfg, runs=runs, seed=cfg.seed).outcomes["extinct"].sum())
    assert lo <= extinct <= hi, f"observed {extinct / runs:.4f}, theory {p:.4f}, 99% interval [{lo}, {hi}]"


@pytest.mark.slow
def test_collusion_never_makes_perfect_monitoring_useless():
    """Issue 11's criterion on the default world: detection 1, kill switch 1, no latency contains the replicas
    under every collusion preset; strong collusion makes it harder, as the theory says. Tolerance: the engine's
    P(extinct) (200 runs, the 10 default initial replicas, mutation off so the theory applies) within the
    central 99% binomial interval of the theory's P(extinct by the horizon)."""
    runs, steps = 200, 500
    for preset in ("none", "central", "strong"):
        cfg = replisim.compose([f"collusion={preset}", "governance.detection=1", "governance.kill_switch=1",
                                "governance.response_latency=0", "replica.mutation_sd=0", f"sim.steps={steps}"])
        out = replisim.simulate(cfg, runs=runs, seed=cfg.seed).outcomes
        p = th.extinction_probability(cfg, steps=steps)
        lo, hi = binom.interval(0.99, runs, p)
        assert out["loss_of_control"].sum() == 0, preset
        assert lo <= out["extinct"].sum() <= hi, f"{preset}: observed {out['extinct'].mean()}, theory {p:.4f}"
        assert p > (0.9 if preset == "strong" else 0.999), preset


@pytest.mark.slow
@pytest.mark.parametrize("latency", [0, 2])
def test_mean_trajectory_matches_large_n_limit(latency):
    # 20,000 nodes of capacity 4 (80,000 slots), 8,000 initial replicas, growth to the capacity-limited plateau.
    # Tolerances:
    # - exact large-N map: 3% of the map at every step. Run-to-run noise: the growth phase carries the
    #   branching martingale's spread, CV ~ sqrt(Var W / N0) ~ 1.7% per run (Var W ~ 2.4 per replica here),
    #   so the 6-run mean has sd ~ 0.7% and 3% is > 4 sd; on the plateau the noise is ~0.1%. Ignoring the
    #   own-node packing (the closed-form logistic with the same growth rate and plateau) is off by ~29%.
    # - solve_ivp ODE (each step's transition spread over unit time): it grows at rate rho - 1 instead of
    #   log(rho), so it runs ahead during growth; measured L-inf 3.5% of total capacity (bound 5%), and it has
    #   the same equilibrium (within 0.5% from step 60 on).
    runs, steps = 6, 80
    cfg = minimal("network.nodes=20000", f"sim.steps={steps}", "replica.initial=8000",
                  f"governance.response_latency={latency}")
    mean = replisim.simulate(cfg, runs=runs, seed=7).series("replicas").mean(axis=0)
    exact = th.mean_field(cfg, method="map").replicas.to_numpy()
    ode = th.mean_field(cfg, method="ode").replicas.to_numpy()
    capacity = 20000 * 4
    assert np.max(np.abs(mean / exact - 1)) < 0.03
    assert np.max(np.abs(mean - ode)) / capacity < 0.05
    assert np.max(np.abs(mean[60:] / ode[60:] - 1)) < 0.005
    assert np.max(np.abs(th.logistic(cfg).replicas.to_numpy() / exact - 1)) > 0.1  # the test can tell


@pytest.mark.slow
def test_mean_field_default_scale_plateau():
    # The packaged minimal scenario (1000 nodes, 10 initial replicas): the plateau of the finite network sits
    # within 2% of the large-N limit (fluctuations of ~3600 replicas are ~1%, finite-N bias O(1/N)).
    cfg = minimal()
    mean = replisim.simulate(cfg, runs=4, seed=3).series("replicas")[:, 300:].mean()
    plateau = th.mean_field(cfg).replicas.to_numpy()[300:].mean()
    assert mean == pytest.approx(plateau, rel=0.02)


@pytest.mark.slow
def test_growth_switches_at_r0_one():
    # R0 = 0.8 and 1.25 set by detection. E[replicas at T] of the early phase is linear theory (v M^T), exact
    # while colonies do not meet (5000 nodes, populations of tens). Tolerance: 4 standard errors of the
    # 2000-run mean (CLT; the supercritical population is skewed but 2000 runs is plenty).
    runs, steps, n0 = 2000, 60, 20
    base = minimal("network.nodes=5000", f"sim.steps={steps}", f"replica.initial={n0}")
    finals = {}
    for target in (0.8, 1.25):
        d = th.detection_for_r0(base, target)
        cfg = th.with_params(base, **{"governance.detection": d})
        assert th.r0(cfg) == pytest.approx(target, rel=1e-6)
        reps = replisim.simulate(cfg, runs=runs, seed=11).series("replicas")[:, steps]
        expected = th.expected_replicas(cfg, steps)[steps]
        se = reps.std(ddof=1) / np.sqrt(runs)
        assert abs(reps.mean() - expected) < 4 * se, f"R0={target}: engine {reps.mean():.2f}, theory {expected:.2f}"
        finals[target] = reps.mean(), th.growth_rate(cfg)
    (sub, g_sub), (sup, g_sup) = finals[0.8], finals[1.25]
    assert g_sub < 1 < g_sup
    assert sub < 0.8 * n0 and sup > 1.5 * n0  # decays below, grows above the threshold
