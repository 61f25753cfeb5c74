"""If-then commitments: once cumulative detections reach the incident threshold, or the detected replicas of a
step reach the capability threshold in mean skill, stricter measures come into force after a delay: monitoring
multiplied, a kill-switch floor, a shorter response latency.

Owns: the trigger step (``engine.run``: -1 until triggered; an outcome column).
"""

from ..jit import jit

PARAMETERS = (
    ("IF_THEN", "governance.if_then.enabled"),
    ("IF_THEN_INCIDENTS", "governance.if_then.incident_threshold"),
    ("IF_THEN_CAPABILITY", "governance.if_then.capability_threshold"),
    ("IF_THEN_DELAY", "governance.if_then.delay"),
    ("IF_THEN_MONITORING", "governance.if_then.monitoring_factor"),
    ("IF_THEN_KILL", "governance.if_then.kill_switch"),
    ("IF_THEN_LATENCY", "governance.if_then.response_latency"),
)


@jit(inline="always")
def in_force(on, trig_step, delay, t):
    """The stricter measures are in force in step t."""
    return on and trig_step >= 0 and t >= trig_step + delay


@jit(inline="always")
def triggers(detections_total, detections, detected_skill, incident_threshold, capability_threshold):
    """This step's detections trigger the commitment: the cumulative count reaches the incident threshold, or
    the mean skill of this step's detected replicas (``detected_skill``: their sum) the capability threshold."""
    if detections_total <= 0:
        return False
    mean_skill = detected_skill / max(detections, 1.0)
    return detections_total >= incident_threshold or mean_skill >= capability_threshold
