"""Time in hours: the configuration states rates per hour and delays in hours; the engines count in steps.

A *rate* is the probability that the event happens within one hour (a replica attempts a copy, a monitor
detects it, a warned replica flees, a misaligned replica is retrained). The process behind it has a constant
hazard, so a step of ``h = sim.hours_per_step`` hours uses ``1 - (1 - p)^h``: halving the step length and
doubling the steps keeps the chance of the event per hour. At ``h = 1`` the per-step value is ``p`` itself,
bit for bit. A *duration* (a response latency, a quarantine, a warning, a delay) is in hours and becomes the
nearest whole number of steps.

Multipliers that act during a run (a jurisdiction's monitoring factor, incident-report alerts, if-then
factors, a coalition's blinding and warnings, a replica's evasion) scale the per-step detection probability;
to first order in that probability this is the same as scaling the hourly one, and exact at ``h = 1``.

Both engines read a run's per-step values from :func:`in_steps` (the compiled engine through
``engine.params.pack``, the Mesa model directly) and the per-step monitoring of each node from
``replisim.governance.apply_governance``, so they cannot convert differently.
"""

from __future__ import annotations

import math
from operator import attrgetter

import numpy as np

from .errors import ConfigError

# keys whose value is a probability per hour (node monitoring levels are converted on the node arrays)
RATES = ("replica.attempt_rate", "collusion.flight", "governance.retraining_rate")
# keys in hours, and the most steps the engine can count for each (int16 order countdowns; int32 step sums)
LATENCY_STEPS = 32767  # engine.state.ORDER_DTYPE counts a pending order down in int16
DURATION_STEPS = 2**30 - 1  # engine.state.NEVER = 2^30: the current step plus a duration stays below 2^31
DURATIONS = {
    "governance.response_latency": LATENCY_STEPS,
    "governance.if_then.response_latency": LATENCY_STEPS,
    "governance.quarantine_hours": DURATION_STEPS,
    "governance.if_then.delay": DURATION_STEPS,
    "governance.reporting.delay": DURATION_STEPS,
    "collusion.warning_hours": DURATION_STEPS,
}
_READ = {key: attrgetter(key) for key in (*RATES, *DURATIONS)}


def per_step(p_per_hour, hours: float):
    """The probability within one step of ``hours`` hours of an event with probability ``p_per_hour`` within
    an hour (constant hazard). Exact identity at one hour per step; works on floats and arrays."""
    if hours == 1.0:
        return p_per_hour
    p = np.clip(np.asarray(p_per_hour, dtype=np.float64), 0.0, 1.0)
    # 1 - (1 - p)^h, computed as -expm1(h log1p(-p)) to keep small rates exact; p = 1 stays 1
    with np.errstate(divide="ignore"):
        q = -np.expm1(hours * np.log1p(-p))
    return float(q) if np.ndim(q) == 0 else q


def steps_of(duration_hours: float, hours: float) -> int:
    """A duration in hours as the nearest whole number of steps of ``hours`` hours (halves round up)."""
    return int(math.floor(duration_hours / hours + 0.5))


def in_steps(cfg) -> dict[str, float]:
    """The per-step value of every rate and duration of a validated Config, by its schema key."""
    h = cfg.sim.hours_per_step
    out = {key: float(per_step(_READ[key](cfg), h)) for key in RATES}
    out.update({key: float(steps_of(_READ[key](cfg), h)) for key in DURATIONS})
    return out


def check_step_counts(cfg) -> None:
    """Every duration, in steps, within what the engine can count; and the horizon in hours finite."""
    h = cfg.sim.hours_per_step
    if not math.isfinite(h) or not math.isfinite(cfg.sim.steps * h):
        raise ConfigError(f"sim.hours_per_step={h!r} is not a finite length; allowed: a finite number of hours > 0")
    for key, most in DURATIONS.items():
        value = _READ[key](cfg)
        if not math.isfinite(value):
            raise ConfigError(f"{key}={value!r} is not a finite duration; allowed: hours in [0, {most * h:g}]")
        steps = steps_of(value, h)
        if steps > most:
            raise ConfigError(
                f"{key}={value!r} hours is {steps} steps of sim.hours_per_step={h:g}; the engine counts at most "
                f"{most} steps (allowed: <= {most * h:g} hours at this step length)")
