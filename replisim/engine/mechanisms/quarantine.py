"""Quarantine and hardening: a node with incidents (detections on it) this step is hardened (its security
rises by ``hardening`` per incident) and taken offline for ``governance.quarantine_hours`` (in steps), both from the next step
on; nothing leaves or enters a quarantined node, and its capacity counts as collateral cost.

Owns: ``nodes.security`` (the run's copy), ``nodes.quar_until`` (last step offline, -1: never).
"""

from ..jit import jit

PARAMETERS = (
    ("HARDENING", "governance.hardening"),
    ("QUARANTINE_STEPS", "governance.quarantine_hours"),
)


@jit(inline="always")
def quarantined(nodes, v, t):
    """Node v is offline in step t."""
    return nodes.quar_until[v] >= t


@jit(inline="always")
def react(nodes, v, t, hardening, quarantine_steps):
    """This step's incidents on node v harden and quarantine it from the next step on."""
    incidents = nodes.incidents[v]
    if incidents > 0:
        nodes.security[v] = min(1.0, nodes.security[v] + hardening * incidents)
        if quarantine_steps > 0:
            nodes.quar_until[v] = t + quarantine_steps
