"""Governance measures that act on the network at setup, and the per-jurisdiction arrays the engine needs.

Static measures change node arrays once (the measure is in force from step 0): monitoring by node type,
kill-switch mandates, know-your-customer on clouds, licensing, export controls, the common standard
(``governance.harmonize``, which lifts lax jurisdictions' factors) and the global overrides
``governance.detection`` / ``governance.kill_switch``. Dynamic measures (response latency, hardening after
incidents, quarantine, if-then commitments, incident reporting, retraining) run inside the engine's
governance-update, detection and retraining phases; their parameters travel in the parameter vector.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config.schema import NODE_TYPES, Config
from .config.units import per_step
from .network import Network

LICENSED_TYPES = ("frontier_lab", "hyperscale_cloud")
GOVERNANCE_STREAM = 0x676F76  # spawn key of the generator of per-node compliance: apart from network and runs


@dataclass(frozen=True)
class GovernedNetwork:
    """Node arrays after static measures, plus per-jurisdiction factors."""

    capacity: np.ndarray
    security: np.ndarray
    monitoring: np.ndarray  # float32: P(detection) of a hosted replica within one step (config: per hour)
    kill_switch: np.ndarray
    jur_monitoring: np.ndarray  # float64 multiplier on monitoring per jurisdiction
    jur_kill: np.ndarray  # float64 multiplier on kill-switch coverage per jurisdiction
    jur_reporting: np.ndarray  # bool: takes part in incident reporting
    jur_fp_weight: np.ndarray  # float64: sum of capacity x monitoring per jurisdiction (false-positive cost)
    total_compute: float  # replica slots of the network before any measure (the denominator of compute share)
    withheld_licensing: int = 0  # slots of the nodes whose operators comply with licensing (host nothing)
    withheld_export: int = 0  # slots of the export-controlled nodes kept out of the cap (and not already licensed out)


def compliance_draws(seed: int, nodes: int) -> np.ndarray:
    """The per-node uniform draws of licensing (row 0) and export-control (row 1) compliance of the ensemble of
    ``seed``: the same for every run of it, so the runs with their own worlds (``uncertainty.run_worlds``) draw
    them once instead of seeding a generator again for each run (15 us a run)."""
    return np.random.default_rng([seed, GOVERNANCE_STREAM]).random((2, nodes))


def apply_governance(cfg: Config, net: Network, seed: int = 0, draws: np.ndarray | None = None) -> GovernedNetwork:
    """The node arrays after the static measures, on the network of the ensemble of ``seed``.

    Measures that withhold capacity (licensing, export controls) act node by node: a node complies, and hosts
    nothing, or does not, and keeps all its slots (a Bernoulli draw per node, from the ensemble's own stream).
    Flooring each node's slots instead (the first version) removed every slot of a one-slot node at compliance
    0.8 and 87.5% of an 8-slot node's, not 80%; per node, the expected share withheld is the compliance.
    ``draws``: ``compliance_draws(seed, nodes)`` when the caller has them already.
    """
    g = cfg.governance
    draws = compliance_draws(seed, net.capacity.shape[0]) if draws is None else draws
    capacity = net.capacity.astype(np.int32).copy()
    security = net.security.astype(np.float32).copy()
    monitoring = net.monitoring.astype(np.float32).copy()
    kill = net.kill_switch.astype(np.float32).copy()
    for t, level in g.monitoring.items():
        monitoring[net.node_type == NODE_TYPES.index(t)] = level
    for t, level in g.monitoring_floor.items():  # telemetry that reaches every node of the type
        sel = net.node_type == NODE_TYPES.index(t)
        monitoring[sel] = np.maximum(monitoring[sel], level)
    for t, level in g.kill_switch_mandate.items():
        sel = net.node_type == NODE_TYPES.index(t)
        kill[sel] = np.maximum(kill[sel], level)
    if g.kyc > 0:
        cloud = net.node_type == NODE_TYPES.index("hyperscale_cloud")
        security[cloud] = 1 - (1 - security[cloud]) * (1 - g.kyc)
    withheld_licensing = 0
    if g.licensing.enabled:
        licensed = np.isin(net.node_type, [NODE_TYPES.index(t) for t in LICENSED_TYPES])
        monitoring[licensed] = np.maximum(monitoring[licensed], g.licensing.monitoring)
        # the compliant operators of unlicensed machines refuse to host frontier-scale models
        capacity[~licensed & (draws[0] < g.licensing.compliance)] = 0
    withheld_licensing = int(net.capacity.sum() - capacity.sum())
    regions = [cfg.jurisdictions.regions[name] for name in net.jurisdiction_names]
    controlled = np.array([r.export_controlled for r in regions], bool)
    if g.export_cap < 1 and controlled.any():
        # export controls keep the accelerators of a share 1 - export_cap of the controlled nodes out
        capacity[controlled[net.jurisdiction] & (draws[1] >= g.export_cap)] = 0
    withheld_export = int(net.capacity.sum() - capacity.sum()) - withheld_licensing
    if g.detection is not None:
        monitoring[:] = g.detection
    if g.kill_switch is not None:
        kill[:] = g.kill_switch
    jur_monitoring = np.array([r.monitoring_factor for r in regions], np.float64)
    jur_kill = np.array([r.kill_switch_factor for r in regions], np.float64)
    if g.harmonize > 0:
        # a common international standard lifts lax jurisdictions toward the reference level (factor 1);
        # stricter jurisdictions keep their own, stricter factors
        jur_monitoring = np.where(jur_monitoring < 1, jur_monitoring + g.harmonize * (1 - jur_monitoring), jur_monitoring)
        jur_kill = np.where(jur_kill < 1, jur_kill + g.harmonize * (1 - jur_kill), jur_kill)
    jur_reporting = np.array([r.reporting for r in regions], np.bool_)
    # false alarms take slots offline in proportion to the hourly monitoring (the cost is charged per hour)
    fp = np.bincount(net.jurisdiction, weights=capacity * monitoring.astype(np.float64), minlength=len(regions))
    return GovernedNetwork(
        capacity=capacity,
        security=security,
        monitoring=np.asarray(per_step(monitoring, cfg.sim.hours_per_step), np.float32),
        kill_switch=kill,
        jur_monitoring=jur_monitoring,
        jur_kill=jur_kill,
        jur_reporting=jur_reporting,
        jur_fp_weight=fp.astype(np.float64),
        total_compute=float(net.capacity.sum()),
        withheld_licensing=withheld_licensing,
        withheld_export=withheld_export,
    )
