"""Uncertain inputs drawn per run (replisim.uncertainty, replisim.config.uncertain).

The strongest check is exact: a run's random streams depend on (seed, run) only, so run r of an ensemble with
uncertain keys must give the same outcomes, bit for bit, as run r of the ensemble whose configuration fixes
each key at the value run r drew. That holds the per-run parameter matrix (vector keys, in steps), the per-run
worlds (node-type levels and static measures) and the per-run skill to the engine's ordinary set-up.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import replisim
from replisim import uncertainty
from replisim.config import ConfigError
from replisim.config.uncertain import registry_range

SMALL = ["scenario=minimal", "network.nodes=200", "sim.steps=60"]
# one key of each kind: a vector key (a rate), a world key (a governance override of node monitoring), the skill
MIXED = {
    "replica.attempt_rate": {"dist": "loguniform", "low": 0.05, "high": 0.5},
    "governance.detection": {"dist": "uniform", "low": 0.0, "high": 0.6},
    "replica.success": {"dist": "beta", "successes": 5, "trials": 10},
}
# the default world, small: node-type levels, collusion, latency (a duration) and an integer key
WORLD = ["network.nodes=150", "sim.steps=120", "replica.attempt_rate=0.2"]
WORLD_KEYS = {
    "network.types.enterprise.monitoring": {"dist": "loguniform", "low": 0.0003, "high": 0.3},
    "network.types.hyperscale_cloud.kill_switch": {"dist": "uniform", "low": 0.3, "high": 1.0},
    "governance.response_latency": {"dist": "triangular", "low": 0, "high": 48, "mode": 6},
    "collusion.min_members": {"dist": "uniform", "low": 2, "high": 6},
    "collusion.blinding": {"dist": "uniform"},
    "governance.licensing.compliance": {"dist": "uniform", "low": 0.0, "high": 0.5},
}


def _outcomes_without_keys(ens, keys):
    return ens.outcomes.drop(columns=list(keys)).reset_index(drop=True)


# --- the contract of compose ---------------------------------------------------------------------------------


def test_compose_carries_validated_distributions():
    cfg = replisim.compose(SMALL, uncertain=MIXED)
    assert list(cfg.uncertain) == list(MIXED)
    assert cfg.uncertain["governance.detection"].high == 0.6


@pytest.mark.parametrize("key,spec,expected", [
    ("governance.detection", {"dist": "uniform", "low": 0.0, "high": 1.5}, "outside the key's allowed range"),
    ("replica.attempt_rate", {"dist": "normal", "mean": 0.1, "sd": 0.0}, "sd > 0"),
    ("replica.attempt_rate", {"dist": "loguniform", "low": 0.0, "high": 0.1}, "low > 0"),
    ("replica.attempt_rate", {"dist": "uniform", "low": 0.3, "high": 0.1}, "low < high"),
    ("replica.attempt_rate", {"dist": "triangular", "low": 0.1, "high": 0.3, "mode": 0.5}, "low <= mode <= high"),
    ("replica.success", {"dist": "beta"}, "needs a and b"),
    ("replica.success", {"dist": "beta", "successes": 11, "trials": 10}, "successes <= trials"),
    ("replica.success", {"dist": "fixed"}, "needs value"),
    ("governance.detection", {"dist": "gamma"}, "uncertain.governance.detection.dist='gamma' is not allowed"),
    ("network.nodes", {"dist": "uniform", "low": 10, "high": 20}, "sweep it instead"),
    ("network.mix.enterprise", {"dist": "uniform", "low": 0.1, "high": 0.2}, "changes the network itself"),
    ("replica.trial_successes", {"dist": "uniform", "low": 1, "high": 5}, "beta distribution"),
    ("sim.steps", {"dist": "uniform", "low": 1, "high": 5}, "a setting of the experiment"),
    ("collusion.enabled", {"dist": "uniform", "low": 0, "high": 1}, "not a number"),
    ("replica.no_such_key", {"dist": "uniform", "low": 0, "high": 1}, "not a key of the schema"),
    ("network.types.mainframe.monitoring", {"dist": "uniform", "low": 0, "high": 1}, "unknown node type"),
    ("governance.detection", {"dist": "uniform", "hgh": 1}, "unknown field"),
    ("network.degree", {"dist": "uniform", "low": 2, "high": 4}, "sweep it instead"),
])
def test_a_bad_distribution_is_one_error_naming_the_key(key, spec, expected):
    with pytest.raises(ConfigError) as err:
        replisim.compose(SMALL, uncertain={key: spec})
    assert key in str(err.value) and expected in str(err.value), str(err.value)


def test_success_prior_and_an_uncertain_success_are_one_too_many():
    with pytest.raises(ConfigError, match="replica.success_prior=true"):
        replisim.compose([*SMALL, "replica.success_prior=true"], uncertain={"replica.success": {"dist": "uniform"}})


def test_ranges_left_out_are_the_registry_plausible_ranges():
    cfg = replisim.compose(SMALL, uncertain={"replica.attempt_rate": {"dist": "loguniform"}})
    spec = uncertainty.specs(cfg)["replica.attempt_rate"]
    assert (spec.low, spec.high) == registry_range("replica.attempt_rate") == (0.001, 0.5)


def test_the_uncertainty_group_composes_from_the_command_line_form():
    cfg = replisim.compose(["uncertainty=default"])
    assert "replica.attempt_rate" in cfg.uncertain and len(cfg.uncertain) >= 10
    assert replisim.compose([]).uncertain == {}


# --- the draws -------------------------------------------------------------------------------------------------

DISTRIBUTIONS = {
    "uniform": ({"dist": "uniform", "low": 0.1, "high": 0.4}, stats.uniform(0.1, 0.3)),
    "loguniform": ({"dist": "loguniform", "low": 0.001, "high": 0.5}, stats.loguniform(0.001, 0.5)),
    "triangular": ({"dist": "triangular", "low": 0.1, "high": 0.5, "mode": 0.2}, stats.triang(0.25, 0.1, 0.4)),
    "beta a b": ({"dist": "beta", "a": 2.0, "b": 5.0}, stats.beta(2, 5)),
    "beta trials": ({"dist": "beta", "successes": 9, "trials": 10}, stats.beta(10, 2)),
    "beta mean": ({"dist": "beta", "mean": 0.3, "trials": 20, "low": 0.0, "high": 0.5},
                  stats.beta(0.6 * 20, 0.4 * 20, loc=0, scale=0.5)),
    "normal": ({"dist": "normal", "mean": 0.05, "sd": 0.1}, stats.truncnorm(-0.5, 9.5, loc=0.05, scale=0.1)),
}


@pytest.mark.parametrize("name", list(DISTRIBUTIONS))
def test_draws_follow_their_distribution(name):
    """Kolmogorov-Smirnov against SciPy's distribution, 4,000 runs. alpha = 0.001: a correct sampler fails one
    case in a thousand, while a wrong parameterisation (a swapped shape, a missed truncation) moves the
    distribution function by more than 0.03, which 4,000 draws detect with a p-value far below 1e-6."""
    spec, dist = DISTRIBUTIONS[name]
    cfg = replisim.compose(SMALL, uncertain={"replica.attempt_rate": spec})
    values = uncertainty.draw(cfg, 3, np.arange(4000))["replica.attempt_rate"]
    assert stats.kstest(values, dist.cdf).pvalue > 1e-3


def test_integer_keys_draw_whole_numbers_within_range():
    cfg = replisim.compose(SMALL, uncertain={"collusion.min_members": {"dist": "uniform", "low": 2, "high": 6}})
    values = uncertainty.draw(cfg, 0, np.arange(2000))["collusion.min_members"]
    assert set(np.unique(values)) == {2, 3, 4, 5, 6}


def test_a_key_draw_depends_on_seed_run_and_key_only():
    one = replisim.compose(SMALL, uncertain={"replica.attempt_rate": MIXED["replica.attempt_rate"]})
    both = replisim.compose(SMALL, uncertain=MIXED)
    runs = np.arange(100, 160)
    a = uncertainty.draw(one, 5, runs)["replica.attempt_rate"]
    b = uncertainty.draw(both, 5, runs)["replica.attempt_rate"]
    np.testing.assert_array_equal(a, b)  # adding other keys changes nothing
    np.testing.assert_array_equal(a[10:], uncertainty.draw(one, 5, runs[10:])["replica.attempt_rate"])
    assert not np.array_equal(a, uncertainty.draw(one, 6, runs)["replica.attempt_rate"])


# --- the engines honour the draws ----------------------------------------------------------------------------


@pytest.mark.parametrize("world,keys", [(SMALL, MIXED), (WORLD, WORLD_KEYS)], ids=["minimal", "default world"])
def test_each_run_equals_the_fixed_configuration_of_its_draws(world, keys):
    cfg = replisim.compose([*world, "sim.threads=1"], uncertain=keys)
    ens = replisim.simulate(cfg, runs=12, seed=4)
    assert set(keys) <= set(ens.outcomes.columns)
    for r in (0, 5, 11):
        drawn = {key: ens.outcomes[key].iloc[r] for key in keys}
        fixed = uncertainty.with_values(cfg, drawn)
        one = replisim.simulate(fixed, runs=1, seed=4, first_run=r)
        mine = _outcomes_without_keys(ens, keys).iloc[[r]].reset_index(drop=True)
        theirs = one.outcomes[mine.columns]
        assert mine.equals(theirs), (r, drawn)
    # the draws matter: not every run is alike
    assert ens.outcomes["peak_replicas"].nunique() > 1


def test_results_do_not_depend_on_threads_or_chunking():
    cfg = replisim.compose(WORLD, uncertain=WORLD_KEYS)
    one = replisim.simulate(replisim.compose([*WORLD, "sim.threads=1"], uncertain=WORLD_KEYS), runs=16, seed=2)
    two = replisim.simulate(replisim.compose([*WORLD, "sim.threads=2"], uncertain=WORLD_KEYS), runs=16, seed=2)
    parts = [replisim.simulate(cfg, runs=8, seed=2, first_run=k) for k in (0, 8)]
    assert one.outcomes.equals(two.outcomes)
    import pandas as pd

    joined = pd.concat([p.outcomes for p in parts], ignore_index=True)
    assert one.outcomes.equals(joined)


def test_an_uncertain_detection_moves_the_outcome_the_way_theory_says():
    """On the minimal scenario, runs that drew a detection above the critical level (R0 < 1) die out more
    often than runs below it: a check that the world key reaches the engine at all, with a margin of 0.3 in
    P(extinct) that 300 runs resolve (Wilson half-widths about 0.08 per half)."""
    from replisim import theory

    cfg = replisim.compose(["scenario=minimal", "network.nodes=300", "sim.steps=150"],
                           uncertain={"governance.detection": {"dist": "uniform", "low": 0.0, "high": 0.6}})
    ens = replisim.simulate(cfg, runs=300, seed=0)
    critical = theory.critical_detection(cfg)  # R0 = 1 (per hour, on the minimal world)
    high = ens.outcomes["governance.detection"] > critical
    assert ens.outcomes["extinct"][high].mean() - ens.outcomes["extinct"][~high].mean() > 0.3


def test_a_design_sets_the_values():
    cfg = replisim.compose(SMALL)
    values = np.linspace(0.0, 0.6, 6)
    ens = replisim.simulate(cfg, runs=6, seed=1, design={"governance.detection": values})
    np.testing.assert_array_equal(ens.outcomes["governance.detection"], values)
    with pytest.raises(ConfigError, match="outside"):
        replisim.simulate(cfg, runs=6, seed=1, design={"governance.detection": values + 1})
    with pytest.raises(ConfigError, match="one value per run"):
        replisim.simulate(cfg, runs=5, seed=1, design={"governance.detection": values})


def test_the_mesa_engine_runs_the_same_draws():
    """Mesa's runs take the same values as the Numba engine's (same draws), and each equals the Mesa run of the
    fixed configuration of its draws (Mesa's stream too depends on (seed, run) only)."""
    cfg = replisim.compose(["scenario=minimal", "network.nodes=40", "sim.steps=15"], uncertain=MIXED)
    mesa = replisim.simulate(cfg, runs=3, seed=2, engine="mesa")
    numba = replisim.simulate(cfg, runs=3, seed=2)
    for key in MIXED:
        np.testing.assert_array_equal(mesa.outcomes[key], numba.outcomes[key])
    drawn = {key: mesa.outcomes[key].iloc[1] for key in MIXED}
    one = replisim.simulate(uncertainty.with_values(cfg, drawn), runs=1, seed=2, first_run=1, engine="mesa")
    mine = _outcomes_without_keys(mesa, MIXED).iloc[[1]].reset_index(drop=True)
    assert mine.equals(one.outcomes[mine.columns])
