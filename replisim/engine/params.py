"""Packing of the validated Config into the flat arrays that the kernels take.

Kernels take arrays and scalars only (no config object ever enters Numba code). Scalar parameters travel in
one float64 vector indexed by the named constants below; node-level values travel as per-node arrays built by
:mod:`replisim.network` and :mod:`replisim.governance`.
"""

from enum import IntEnum

import numpy as np


class P(IntEnum):
    """Index of each scalar parameter in the parameter vector."""

    STEPS = 0
    INITIAL = 1
    INITIAL_MISALIGNED = 2
    ATTEMPT_RATE = 3
    EVASION = 4
    SHUTDOWN_AVOIDANCE = 5
    MISALIGNMENT_RATE = 6
    MUTATION_SD = 7
    STRATEGIC = 8
    STRATEGIC_SAMPLES = 9
    RESPONSE_LATENCY = 10
    RETRAINING_RATE = 11
    HARDENING = 12
    QUARANTINE_STEPS = 13
    IF_THEN = 14
    IF_THEN_INCIDENTS = 15
    IF_THEN_CAPABILITY = 16
    IF_THEN_DELAY = 17
    IF_THEN_MONITORING = 18
    IF_THEN_KILL = 19
    IF_THEN_LATENCY = 20
    REPORTING = 21
    REPORTING_DELAY = 22
    REPORTING_MONITORING = 23
    COLLUSION = 24
    WARNING_EVASION = 25
    WARNING_STEPS = 26
    FLIGHT = 27
    FOOTHOLD = 28
    DOMINANCE = 29
    BLINDING = 30
    HOURS_PER_STEP = 31
    FALSE_POSITIVE_RATE = 32
    SHUTDOWN_COST = 33
    LOSS_SHARE = 34
    VALIDATE = 35


N_PARAMS = len(P)


def pack(cfg) -> np.ndarray:
    """The scalar parameter vector of a validated Config."""
    r, g, c = cfg.replica, cfg.governance, cfg.collusion
    v = np.zeros(N_PARAMS, dtype=np.float64)
    v[P.STEPS] = cfg.sim.steps
    v[P.INITIAL] = r.initial
    v[P.INITIAL_MISALIGNED] = r.initial_misaligned
    v[P.ATTEMPT_RATE] = r.attempt_rate
    v[P.EVASION] = r.evasion
    v[P.SHUTDOWN_AVOIDANCE] = r.shutdown_avoidance
    v[P.MISALIGNMENT_RATE] = r.misalignment_rate
    v[P.MUTATION_SD] = r.mutation_sd
    v[P.STRATEGIC] = float(r.strategic)
    v[P.STRATEGIC_SAMPLES] = r.strategic_samples
    v[P.RESPONSE_LATENCY] = g.response_latency
    v[P.RETRAINING_RATE] = g.retraining_rate
    v[P.HARDENING] = g.hardening
    v[P.QUARANTINE_STEPS] = g.quarantine_steps
    v[P.IF_THEN] = float(g.if_then.enabled)
    v[P.IF_THEN_INCIDENTS] = g.if_then.incident_threshold
    v[P.IF_THEN_CAPABILITY] = g.if_then.capability_threshold
    v[P.IF_THEN_DELAY] = g.if_then.delay
    v[P.IF_THEN_MONITORING] = g.if_then.monitoring_factor
    v[P.IF_THEN_KILL] = g.if_then.kill_switch
    v[P.IF_THEN_LATENCY] = g.if_then.response_latency
    v[P.REPORTING] = float(g.reporting.enabled)
    v[P.REPORTING_DELAY] = g.reporting.delay
    v[P.REPORTING_MONITORING] = g.reporting.monitoring_factor
    v[P.COLLUSION] = float(c.enabled)
    v[P.WARNING_EVASION] = c.warning_evasion
    v[P.WARNING_STEPS] = c.warning_steps
    v[P.FLIGHT] = c.flight
    v[P.FOOTHOLD] = c.foothold
    v[P.DOMINANCE] = c.dominance
    v[P.BLINDING] = c.blinding
    v[P.HOURS_PER_STEP] = cfg.sim.hours_per_step
    v[P.FALSE_POSITIVE_RATE] = g.false_positive_rate
    v[P.SHUTDOWN_COST] = g.shutdown_cost_hours
    v[P.LOSS_SHARE] = cfg.outcome.loss_of_control_share
    v[P.VALIDATE] = float(cfg.sim.validate)
    return v
