"""The configuration schema: the single source of defaults and limits.

Every key a user may set is a field here. Hydra composes YAML files in ``conf/`` on top of these
dataclasses (structured configs), so a key that is not declared here fails at composition. Ranges and
choices live in each field's metadata and are checked by :func:`replisim.config.validate.validate`,
which names the key, the value and what is allowed.

The engine never sees Hydra: it receives the validated :class:`Config` dataclass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Dict, Optional

PROB = (0.0, 1.0)  # a probability or share
POS = (1, None)  # a positive count
NONNEG = (0, None)
# seeds and run indices enter the counter-based streams as signed 64-bit integers
SEEDS = (0, 2**63 - 1)
# Durations and delays are in hours (replisim.config.units turns them into steps of sim.hours_per_step). In
# steps the engine adds one to the current step in int32 (quarantine end, warning end, alert step;
# engine.state.NEVER = 2^30 is its "never") and counts a pending order down in int16: units.check_step_counts
# holds each duration, in steps, to what the engine can count (larger values overflowed: quarantine silently
# off, a warning corrupting the coalition forest, a crash). The horizon bounds the current step.
HOURS = (0.0, None)
LOWERS = (0.0, 0.9)  # a cut that lowers a probability and never erases it (collusion's blinding and warnings)
HORIZON = (1, 2**30 - 1)
# Keys that were renamed: an override or config file that sets one is told its successor.
RENAMED = {
    "governance.quarantine_steps": "governance.quarantine_hours (hours, not steps)",
    "collusion.warning_steps": "collusion.warning_hours (hours, not steps)",
}

NODE_TYPES = ("frontier_lab", "hyperscale_cloud", "enterprise", "academic", "consumer_edge")
NETWORK_KINDS = ("complete", "random_regular", "scale_free", "small_world", "datacenter")
PARALLEL_MODES = ("auto", "ensemble", "within_run")
# distributions of an uncertain key (replisim.config.uncertain): drawn per run, within the key's allowed range
DISTRIBUTIONS = ("fixed", "uniform", "loguniform", "triangular", "beta", "normal")


def _f(default, *, range=None, choices=None, doc=""):
    """A schema field with its allowed range or choices kept in metadata."""
    meta = {"range": range, "choices": choices, "doc": doc}
    if isinstance(default, (dict, list)):
        return field(default_factory=lambda d=default: type(d)(d), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class NodeTypeCfg:
    """Defaults of one kind of compute node."""

    memory_gb: float = _f(640.0, range=(0.0, None), doc="accelerator memory per node, GB")
    capacity: Optional[int] = _f(None, range=POS,
                                 doc="if set, replica slots per node (else memory_gb / replica.footprint_gb, floored)")
    security: float = _f(0.2, range=PROB, doc="scales down replication success onto the node")
    monitoring: float = _f(0.05, range=PROB, doc="P(a hosted replica is detected within an hour)")
    kill_switch: float = _f(0.8, range=PROB, doc="probability that a shutdown order succeeds")


def node_slots(node_type: NodeTypeCfg, footprint_gb: float) -> int:
    """Replica slots of a node of this type: its capacity if set, else how many replicas of ``footprint_gb``
    its accelerator memory holds (0 when not even one fits)."""
    if node_type.capacity is not None:
        return node_type.capacity
    return int(math.floor(node_type.memory_gb / footprint_gb + 1e-9))


def _default_node_types() -> dict:
    # Memory per node from hardware specifications (replisim/config/registry.py: 8 x H200, 8 x H100, 4 x L40S,
    # 4 x A100 80 GB, the most common consumer GPU). Monitoring per hour from intrusion dwell times: enterprise
    # the M-Trends median (10 days: ln 2 / 240 h = 0.003), consumer machines IBM's mean time to identify a breach
    # (194 days: 0.0002), labs and clouds an order of magnitude faster than the median, universities a third of
    # it (assumptions, registry TYPE_FIELDS). Security and kill switch are assumptions.
    return {
        "frontier_lab": NodeTypeCfg(memory_gb=1128.0, security=0.6, monitoring=0.02, kill_switch=0.95),
        "hyperscale_cloud": NodeTypeCfg(memory_gb=640.0, security=0.3, monitoring=0.01, kill_switch=0.9),
        "enterprise": NodeTypeCfg(memory_gb=192.0, security=0.3, monitoring=0.003, kill_switch=0.7),
        "academic": NodeTypeCfg(memory_gb=320.0, security=0.1, monitoring=0.001, kill_switch=0.6),
        "consumer_edge": NodeTypeCfg(memory_gb=8.0, security=0.1, monitoring=0.0002, kill_switch=0.3),
    }


@dataclass
class NetworkCfg:
    kind: str = _f("complete", choices=NETWORK_KINDS, doc="topology of the compute network")
    nodes: int = _f(1000, range=POS, doc="number of compute nodes")
    degree: int = _f(8, range=(2, None), doc="mean degree (random_regular, small_world, scale_free=2m)")
    rewire: float = _f(0.1, range=PROB, doc="small_world rewiring probability")
    regions: int = _f(4, range=POS, doc="datacenter: regions")
    sites_per_region: int = _f(5, range=POS, doc="datacenter: sites per region")
    capacity: Optional[int] = _f(None, range=POS, doc="if set, every node has this capacity")
    security: Optional[float] = _f(None, range=PROB, doc="if set, every node has this security")
    mix: Dict[str, float] = _f(
        {"frontier_lab": 0.01, "hyperscale_cloud": 0.09, "enterprise": 0.3, "academic": 0.1, "consumer_edge": 0.5},
        doc="share of nodes of each type",
    )
    types: Dict[str, NodeTypeCfg] = field(default_factory=_default_node_types, metadata={"doc": "node type defaults"})


@dataclass
class ReplicaCfg:
    initial: int = _f(10, range=POS, doc="replicas at step 0")
    footprint_gb: float = _f(160.0, range=(1e-3, None),
                             doc="accelerator memory one replica needs, GB (model size, precision, context)")
    initial_misaligned: float = _f(1.0, range=PROB, doc="share of initial replicas that are misaligned")
    attempt_rate: float = _f(0.5, range=PROB, doc="P(a replica attempts a copy within an hour)")
    success: float = _f(0.5, range=PROB, doc="replication skill: success probability onto an unsecured node")
    success_prior: bool = _f(False, doc="draw skill per run from Beta(1+trial_successes, 1+failures)")
    trial_successes: int = _f(5, range=NONNEG, doc="successful self-replication trials (Pan et al. 2024)")
    trial_total: int = _f(10, range=POS, doc="self-replication trials")
    evasion: float = _f(0.0, range=PROB, doc="scales down detection: monitoring x (1 - evasion)")
    shutdown_avoidance: float = _f(0.0, range=PROB, doc="P(last copy) of a misaligned replica facing shutdown")
    misalignment_rate: float = _f(0.0, range=PROB, doc="P(an aligned parent's copy turns misaligned)")
    mutation_sd: float = _f(0.0, range=(0.0, 1.0), doc="sd of Gaussian trait mutation per copy")
    strategic: bool = _f(False, doc="prefer weakly monitored neighbours as targets")
    strategic_samples: int = _f(2, range=POS, doc="neighbours a strategic replica compares")


@dataclass
class IfThenCfg:
    enabled: bool = _f(False, doc="stricter measures switch on when a threshold is crossed")
    incident_threshold: int = _f(10, range=POS, doc="cumulative detected incidents that trigger")
    capability_threshold: float = _f(1.0, range=PROB, doc="mean skill of detected replicas that triggers")
    delay: float = _f(24.0, range=HOURS, doc="hours from trigger to effect")
    monitoring_factor: float = _f(3.0, range=(1.0, 100.0), doc="monitoring multiplier once triggered")
    kill_switch: float = _f(0.95, range=PROB, doc="kill-switch floor once triggered")
    response_latency: float = _f(0.0, range=HOURS, doc="hours from detection to shutdown once triggered")


@dataclass
class ReportingCfg:
    enabled: bool = _f(False, doc="jurisdictions share incident reports")
    delay: float = _f(24.0, range=HOURS, doc="hours before a report reaches other jurisdictions")
    monitoring_factor: float = _f(2.0, range=(1.0, 100.0), doc="monitoring multiplier of alerted jurisdictions")


@dataclass
class LicensingCfg:
    enabled: bool = _f(False, doc="only licensed nodes (labs, clouds) may host frontier models")
    compliance: float = _f(0.8, range=PROB, doc="P(an unlicensed node refuses frontier models), per node")
    monitoring: float = _f(0.2, range=PROB, doc="monitoring floor on licensed nodes")


@dataclass
class GovernanceCfg:
    name: str = _f("none", doc="label of the regime in tables and figures")
    detection: Optional[float] = _f(None, range=PROB, doc="if set, monitoring of every node (P per hour)")
    kill_switch: Optional[float] = _f(None, range=PROB, doc="if set, kill-switch coverage of every node")
    response_latency: float = _f(24.0, range=HOURS, doc="hours from detection to shutdown")
    monitoring: Dict[str, float] = _f({}, doc="compute monitoring by node type, P per hour (overrides the type default)")
    monitoring_floor: Dict[str, float] = _f(
        {}, doc="monitoring floor by node type, P per hour (endpoint or provider telemetry; raises, never lowers)")
    kill_switch_mandate: Dict[str, float] = _f({}, doc="kill-switch coverage floor by node type")
    hardening: float = _f(0.0, range=PROB, doc="security gained by a node per incident on it")
    kyc: float = _f(0.0, range=PROB, doc="know-your-customer: extra security on hyperscale cloud nodes")
    licensing: LicensingCfg = field(default_factory=LicensingCfg)
    if_then: IfThenCfg = field(default_factory=IfThenCfg)
    reporting: ReportingCfg = field(default_factory=ReportingCfg)
    export_cap: float = _f(1.0, range=PROB, doc="share of nodes of export-controlled jurisdictions that keep their accelerators")
    harmonize: float = _f(
        0.0, range=PROB, doc="common standard: moves each lax jurisdiction's monitoring and kill-switch factors toward 1"
    )
    quarantine_hours: float = _f(0.0, range=HOURS, doc="hours a node is offline after an incident on it")
    retraining_rate: float = _f(0.0, range=PROB, doc="P(a misaligned replica is retrained within an hour)")
    false_positive_rate: float = _f(0.01, range=PROB, doc="slots taken offline per unit monitoring (per hour)")
    shutdown_cost_hours: float = _f(1.0, range=(0.0, None), doc="node-hours lost per executed shutdown")


@dataclass
class JurisdictionCfg:
    share: float = _f(1.0, range=PROB, doc="share of global compute nodes")
    regime: str = _f("default", doc="label of the local regime")
    monitoring_factor: float = _f(1.0, range=(0.0, 100.0), doc="local multiplier on monitoring")
    kill_switch_factor: float = _f(1.0, range=(0.0, 1.0), doc="local multiplier on kill-switch coverage")
    reporting: bool = _f(True, doc="takes part in incident reporting")
    export_controlled: bool = _f(False, doc="subject to governance.export_cap")


@dataclass
class JurisdictionsCfg:
    name: str = _f("single", doc="label of the jurisdiction set")
    regions: Dict[str, JurisdictionCfg] = field(default_factory=lambda: {"global": JurisdictionCfg()})


@dataclass
class CollusionCfg:
    enabled: bool = _f(False, doc="misaligned replicas of one coalition cooperate")
    warning_evasion: float = _f(0.5, range=LOWERS, doc="detection cut for mates on the node of a detected replica")
    warning_hours: float = _f(24.0, range=HOURS, doc="hours a warning lasts")
    flight: float = _f(0.3, range=PROB, doc="P(a replica awaiting shutdown flees to a neighbour within an hour)")
    foothold: float = _f(0.5, range=PROB, doc="cut in target security where a coalition-mate sits")
    dominance: float = _f(0.5, range=PROB, doc="share of a node's capacity a coalition must fill to blind it")
    min_members: int = _f(2, range=POS, doc="fewest misaligned replicas on a node that can blind it")
    blinding: float = _f(0.5, range=LOWERS, doc="cut in monitoring of a dominated node (never all of it)")


@dataclass
class SimCfg:
    steps: int = _f(2160, range=HORIZON, doc="steps per run (2160 one-hour steps: 90 days)")
    hours_per_step: float = _f(1.0, range=(1e-6, None), doc="hours per step (rates and delays are per hour)")
    max_replicas: Optional[int] = _f(None, range=POS, doc="preallocated replica slots (default: total capacity)")
    memory_limit_gb: Optional[float] = _f(None, range=(0.0, None), doc="refuse configs above this estimate")
    validate: bool = _f(False, doc="check invariants every step (slow)")
    threads: int = _f(0, range=NONNEG, doc="threads (0 = all cores)")
    chunk: Optional[int] = _f(None, range=NONNEG, doc="set by 'replisim explore --launcher' for its jobs: the chunk of "
                                                       "the design a job runs (results do not depend on it)")
    sparse_share: Optional[float] = _f(None, range=(0.0, None), doc="a step visits only the nodes that hold "
                                       "replicas (or were just emptied or quarantined) when they are fewer than this "
                                       "share of the nodes; 0: never; none: 0.5 on networks of up to 100,000 nodes, "
                                       "0.25 on larger ones (results do not depend on it)")
    parallel: str = _f("auto", choices=PARALLEL_MODES,
                       doc="threads share out whole runs (ensemble) or one run's replicas (within_run); "
                           "auto: within_run for runs of >= 2^22 replica slots")


@dataclass
class OutcomeCfg:
    loss_of_control_share: float = _f(0.1, range=PROB, doc="compute share held at the horizon = loss of control "
                                                            "(every live replica counts: replisim.results.LOSS_OF_CONTROL)")
    drivers: int = _f(32, range=(0, 4096), doc="main job: Saltelli base samples per regime of the report's 'what "
                                                "drives this' section (a power of 2; 0: no section)")


@dataclass
class UncertainCfg:
    """The distribution of one uncertain key (``Config.uncertain``): each run draws its own value.

    Which fields a distribution reads (replisim.config.uncertain says it again where one is missing):
    ``fixed``: value. ``uniform``, ``loguniform``: low, high. ``triangular``: low, high, mode. ``beta``: a and
    b, or successes and trials (the posterior Beta(1 + successes, 1 + trials - successes) of a uniform prior),
    or mean and trials (Beta(mean x trials, (1 - mean) x trials)), on [low, high] (default [0, 1]).
    ``normal``: mean, sd, truncated to [low, high] and to the key's allowed range. low and high left out take
    the parameter registry's plausible range of the key.
    """

    dist: str = _f("uniform", choices=DISTRIBUTIONS, doc="distribution family")
    value: Optional[float] = _f(None, doc="fixed: the value")
    low: Optional[float] = _f(None, doc="lower end (default: the registry's plausible range)")
    high: Optional[float] = _f(None, doc="upper end (default: the registry's plausible range)")
    mode: Optional[float] = _f(None, doc="triangular: the peak (default: the middle)")
    mean: Optional[float] = _f(None, doc="normal, beta: the mean")
    sd: Optional[float] = _f(None, doc="normal: the standard deviation before truncation")
    a: Optional[float] = _f(None, doc="beta: first shape")
    b: Optional[float] = _f(None, doc="beta: second shape")
    successes: Optional[int] = _f(None, doc="beta: successes of the trials behind it")
    trials: Optional[int] = _f(None, doc="beta: trials behind it")


@dataclass
class Config:
    """A whole replisim configuration."""

    scenario: str = _f("default", doc="label of the scenario")
    network: NetworkCfg = field(default_factory=NetworkCfg)
    replica: ReplicaCfg = field(default_factory=ReplicaCfg)
    governance: GovernanceCfg = field(default_factory=GovernanceCfg)
    jurisdictions: JurisdictionsCfg = field(default_factory=JurisdictionsCfg)
    collusion: CollusionCfg = field(default_factory=CollusionCfg)
    sim: SimCfg = field(default_factory=SimCfg)
    outcome: OutcomeCfg = field(default_factory=OutcomeCfg)
    runs: int = _f(200, range=POS, doc="runs per ensemble")
    seed: int = _f(0, range=SEEDS, doc="master seed")
    # keys whose value each run draws from a distribution (the deep-uncertainty layer; conf/uncertainty/)
    uncertain: Dict[str, UncertainCfg] = field(default_factory=dict,
                                               metadata={"doc": "uncertain keys: a distribution per key, drawn per run"})
