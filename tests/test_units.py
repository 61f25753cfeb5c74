"""Time in hours (replisim.config.units): rates per hour and delays in hours, whatever the step length."""

import numpy as np
import pytest

import replisim
from replisim.config.units import DURATIONS, RATES, in_steps, per_step, steps_of
from replisim.engine.params import P, pack


def test_per_step_is_the_hourly_probability_at_one_hour_bit_for_bit():
    p = np.array([0.0, 1e-9, 0.003, 0.5, 1.0])
    assert per_step(p, 1.0) is p
    assert per_step(0.3, 1.0) == 0.3


@pytest.mark.parametrize("p", [1e-12, 0.003, 0.2, 0.5, 0.99])
@pytest.mark.parametrize("h", [0.1, 0.5, 3.0])
def test_steps_compose_to_the_hourly_probability(p, h):
    """Two steps of h/2 hours give the chance of one step of h hours (constant hazard), small rates included."""
    half = per_step(p, h / 2)
    assert 1 - (1 - half) ** 2 == pytest.approx(per_step(p, h), rel=1e-12)
    assert per_step(p, h) == pytest.approx(1 - (1 - p) ** h, rel=1e-12)


def test_certain_and_impossible_events_stay_so():
    assert per_step(1.0, 0.25) == 1.0
    assert per_step(0.0, 4.0) == 0.0


def test_durations_are_the_nearest_whole_number_of_steps():
    assert steps_of(24.0, 1.0) == 24
    assert steps_of(24.0, 0.5) == 48
    assert steps_of(10.0, 4.0) == 3  # 2.5 steps: halves round up
    assert steps_of(0.4, 1.0) == 0


def test_the_parameter_vector_holds_steps_at_half_an_hour():
    cfg = replisim.compose(["governance=if_then", "sim.hours_per_step=0.5", "governance.response_latency=6",
                            "replica.attempt_rate=0.19"])
    params, steps = pack(cfg), in_steps(cfg)
    assert set(steps) == set(RATES) | set(DURATIONS)
    assert params[P.RESPONSE_LATENCY] == 12
    assert params[P.QUARANTINE_STEPS] == 2 * cfg.governance.quarantine_hours
    assert params[P.IF_THEN_DELAY] == 2 * cfg.governance.if_then.delay
    assert params[P.ATTEMPT_RATE] == pytest.approx(1 - 0.81 ** 0.5)
    # node monitoring is converted on the node arrays, where both engines read it
    from replisim.world import setup

    _, gov_half = setup(cfg, 0)
    _, gov_hour = setup(replisim.compose(["governance=if_then"]), 0)
    np.testing.assert_allclose(gov_half.monitoring, 1 - (1 - gov_hour.monitoring.astype(np.float64)) ** 0.5,
                               rtol=1e-6)


def test_halving_the_step_length_gives_the_same_outcomes_in_hours():
    """Half-hour steps over twice the steps against hourly steps: the same process, measured in hours.

    A discrete-time synchronous step differs from the continuous-time process it approximates by O(p) in each
    step's probabilities (newborns wait a step to act; events of one step are ordered). At the per-step
    probabilities used here (at most 0.01 per hour) the difference of P(extinct) between the two step lengths is
    about 0.008 (measured; 0.038 at rates five times higher, 0.017 at two and a half: linear in the step), so
    the tolerance is that bias, 0.015, plus four standard errors of a difference of two proportions of 2,000
    runs each (4 x 0.016). Without the conversion the times in hours would halve; the time to containment is
    held within 15% (measured: 4%).
    """
    base = ["scenario=minimal", "network.nodes=100", "replica.attempt_rate=0.01", "governance.detection=0.006",
            "governance.kill_switch=0.9", "governance.response_latency=10"]
    runs = 2000
    out = {}
    for h, steps in [(1.0, 2000), (0.5, 4000)]:
        cfg = replisim.compose([*base, f"sim.hours_per_step={h}", f"sim.steps={steps}"])
        out[h] = replisim.simulate(cfg, runs=runs, seed=3).outcomes
    p1, p2 = out[1.0]["extinct"].mean(), out[0.5]["extinct"].mean()
    se = np.sqrt(p1 * (1 - p1) / runs + p2 * (1 - p2) / runs)
    assert 0.2 < p1 < 0.8, "the setting must keep both outcomes likely, or the comparison is empty"
    assert abs(p1 - p2) <= 0.015 + 4 * se, (p1, p2)
    t1 = out[1.0]["time_to_containment"].median()
    t2 = out[0.5]["time_to_containment"].median()
    assert 0.85 < t2 / t1 < 1.15, (t1, t2)
    m1, m2 = out[1.0]["peak_replicas"].mean(), out[0.5]["peak_replicas"].mean()
    assert 0.85 < m2 / m1 < 1.15, (m1, m2)
