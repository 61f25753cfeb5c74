"""Incident reporting: a detection in a reporting jurisdiction alerts it from the next step and the other
reporting jurisdictions after the reporting delay; alerted jurisdictions raise their monitoring.

Owns: ``jur.alert_from`` (first step each jurisdiction is alerted; NEVER: not yet).
"""

from ..jit import jit
from ..state import visit, visited

PARAMETERS = (
    ("REPORTING", "governance.reporting.enabled"),
    ("REPORTING_DELAY", "governance.reporting.delay"),
    ("REPORTING_MONITORING", "governance.reporting.monitoring_factor"),
)


@jit(inline="always")
def alert_factor(jur, j, t, on, factor):
    """Monitoring multiplier of jurisdiction j in step t: ``factor`` once it is alerted (reporting ``on``)."""
    return factor if on and jur.alert_from[j] <= t else 1.0


@jit
def report(t, delay, nodes, jur, listed, sparse):
    """Incident reports of this step's detections (``nodes.incidents``): the own jurisdiction is alerted from
    the next step, the other reporting jurisdictions after ``delay``.

    Nothing in the act pass reads ``alert_from``, so one loop over the nodes after the pass gives the same
    result as updating at each detection, and it keeps the pass free of shared writes. Incidents happen where
    replicas are, so a sparse step visits the listed nodes only (``state.Listed``).
    """
    alert_from, reporting = jur.alert_from, jur.reporting
    n_jur = alert_from.shape[0]
    for k in range(visited(listed, sparse, nodes.incidents.shape[0])):
        v = visit(listed, sparse, k)
        j0 = nodes.jurisdiction[v]
        if nodes.incidents[v] > 0 and reporting[j0]:
            alert_from[j0] = min(alert_from[j0], t + 1)
            for j in range(n_jur):
                if j != j0 and reporting[j]:
                    alert_from[j] = min(alert_from[j], t + delay)
