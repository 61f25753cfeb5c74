"""The Mesa model: compute nodes as a network space, replicas as agents, one synchronous step.

This is the readable twin of the Numba engine (``replisim.engine``): the same rules, written for people. It
is built from the same validated :class:`~replisim.config.Config` and the same network and governance arrays
(:func:`replisim.world.setup`), so both engines see identical nodes. Its random stream is Mesa's own,
seeded from (seed, run): results agree with the Numba engine in distribution, not bit for bit.

One step follows ``replisim.step.STEP``, the model's one list of phases (docs/ODD.md, "Process overview"),
one method per phase: ``update_governance``, the agents' own step (detection, shutdown, replication:
``agents.Replica.step``), ``count_incidents``, ``resolve``, ``retrain``, ``form_coalitions``, ``react_to_incidents``,
``record``. Every decision of the agents' step is taken against the state at the start of the step; the
methods after it apply the consequences.
"""

from __future__ import annotations

import math
from collections import defaultdict

import mesa
import networkx as nx
import numpy as np
from mesa.discrete_space import Cell, Network

from ..config.schema import NODE_TYPES, Config
from ..config.units import in_steps
from ..groups import Groups, no_groups
from ..results import COMPUTE_MILESTONES, OUTCOME_NAMES, SERIES_NAMES
from ..world import draw_skills, setup
from .agents import MOVE, Replica


class ComputeNode(Cell):
    """A compute node: a cell of the network space with replica slots, security, monitoring and a kill switch.

    ``capacity`` is Mesa's own cell capacity, so Mesa itself refuses to put a replica on a full node.
    """

    def __init__(self, coordinate, *, position=None, capacity=None, random=None):
        super().__init__(coordinate, position=position, capacity=capacity, random=random)
        self.kind = ""
        self.security = 0.0
        self.monitoring = 0.0
        self.kill_switch = 0.0
        self.jurisdiction = 0
        self.neighbours: list[ComputeNode] = []
        self.quarantined_until = -1
        # start-of-step tallies of misaligned replicas (collusion: blinding and footholds)
        self.misaligned_here = 0
        self.coalitions_here: set[int] = set()
        self.dominated = False  # enough misaligned replicas to blind the node (collusion.min_members, .dominance)
        self.warned_until = -1  # mates of a replica detected here lie low through this step

    @property
    def occupancy(self) -> int:
        """Replicas on the node. While replicas act nobody leaves or arrives, so this is the start-of-step count."""
        return len(self._agents)


class Coalitions:
    """Union-find over lineages: when misaligned replicas of two coalitions meet on a node, the coalitions merge.
    (A warning is the node's, ``ComputeNode.warned_until``: it reaches the mates on the detected replica's node.)"""

    def __init__(self, lineages: int):
        self.parent = list(range(lineages))

    def find(self, c: int) -> int:
        parent = self.parent
        while parent[c] != c:
            parent[c] = parent[parent[c]]  # path halving
            c = parent[c]
        return c

    def merge(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            lo, hi = min(ra, rb), max(ra, rb)  # the smaller id becomes the root, as in the Numba engine
            self.parent[hi] = lo


class ReplicationModel(mesa.Model):
    """Self-copying AI replicas on a compute network under governance measures (one run).

    Args:
        cfg: a validated Config.
        seed, run: the run's random stream is Mesa's generator seeded with ``[seed, run]``.
        network: ``(Network, GovernedNetwork)`` from :func:`replisim.world.setup`; built from (cfg, seed)
            when omitted. Pass it to share one network between the runs of an ensemble.
        skill: replication skill of this run; drawn as the Numba engine does when omitted.
        groups: groupings of the nodes (``replisim.groups.Groups``) whose replicas ``group_series`` counts at
            every step; none when omitted.
    """

    def __init__(self, cfg: Config, seed: int = 0, run: int = 0, *, network=None, skill: float | None = None,
                 groups: Groups | None = None):
        super().__init__(rng=[int(seed), int(run)])
        net, gov = network if network is not None else setup(cfg, seed)
        if skill is None:
            skill = float(draw_skills(cfg, seed, np.array([run]))[0])
        r, c = cfg.replica, cfg.collusion
        self.cfg = cfg
        self.horizon = cfg.sim.steps
        self.hours_per_step = cfg.sim.hours_per_step
        self.total_compute = gov.total_compute
        # capacity withheld by static measures (licensing, export caps): a cost charged every step
        self.withheld = gov.total_compute - float(gov.capacity.sum())
        self.quarantined_capacity = 0
        # rates per step and durations in steps, from the configuration's hours (as the compiled engine's)
        per_step = in_steps(cfg)
        self.latency_steps = int(per_step["governance.response_latency"])
        self.strict_latency_steps = int(per_step["governance.if_then.response_latency"])
        self.if_then_delay = int(per_step["governance.if_then.delay"])
        self.report_delay = int(per_step["governance.reporting.delay"])
        self.quarantine_steps = int(per_step["governance.quarantine_hours"])
        self.retraining_rate = per_step["governance.retraining_rate"]
        # replica behaviour
        self.attempt_rate = per_step["replica.attempt_rate"]
        self.misalignment_rate = r.misalignment_rate
        self.mutation_sd = r.mutation_sd
        self.strategic = r.strategic
        self.strategic_samples = r.strategic_samples
        # collusion (its parameters only matter when it is on)
        self.collusion = c.enabled
        self.flight = per_step["collusion.flight"] if c.enabled else 0.0
        self.warning_evasion, self.warning_steps = c.warning_evasion, int(per_step["collusion.warning_hours"])
        self.foothold, self.dominance, self.blinding = c.foothold, c.dominance, c.blinding
        self.min_members = c.min_members
        # governance: per-jurisdiction factors, and the values the governance update sets each step
        self.jur_monitoring = [float(x) for x in gov.jur_monitoring]
        self.jur_kill = [float(x) for x in gov.jur_kill]
        self.jur_reporting = [bool(x) for x in gov.jur_reporting]
        self.jur_fp_weight = [float(x) for x in gov.jur_fp_weight]
        self.jur_factor = list(self.jur_monitoring)
        self.alert_from = [math.inf] * len(self.jur_monitoring)
        self.latency = self.latency_steps
        self.kill_floor = 0.0
        self.fp_weight = 0.0
        self.triggered_at = None

        self.space = self._build_space(net, gov)
        self.nodes: list[ComputeNode] = [self.space[v] for v in range(net.nodes)]
        self.complete = net.indptr.size == 0  # complete network: a copy may land on any node, own one included
        self.coalitions = Coalitions(r.initial)
        self._tallied: set[ComputeNode] = set()
        self._place_initial(r.initial, int(round(r.initial_misaligned * r.initial)), skill, r.evasion,
                            r.shutdown_avoidance)

        # per-step counters (reset each step) and run totals
        self.incidents: list[tuple[Replica, ComputeNode]] = []  # this step's detections and where they happened
        self.detections = self.shutdowns = self.births = self.flights = self.avoidance_events = 0
        self.collateral = 0.0
        self.totals = defaultdict(float)
        self.peak = len(self.agents)
        self.peak_share = self.peak / self.total_compute
        # the first hour at which the replicas held each share of COMPUTE_MILESTONES (None: not yet)
        self.reached = [0.0 if self.peak_share >= m else None for m in COMPUTE_MILESTONES]
        self.n_jurisdictions = len(net.jurisdiction_names)
        self.groups = groups if groups is not None else no_groups(net.nodes)
        self.group_counts: list[np.ndarray] = []  # per step, the replicas on each group's nodes
        self.contained_at = None
        self.datacollector = mesa.DataCollector(model_reporters={
            "replicas": lambda m: len(m.agents),
            "misaligned": lambda m: sum(1 for a in m.agents if a.misaligned),
            "compute_share": lambda m: len(m.agents) / m.total_compute,
            "nodes_occupied": lambda m: len({a.cell for a in m.agents}),
            "detections": "detections",
            "shutdowns": "shutdowns",
            "births": "births",
            "collateral": "collateral",
        })
        assert tuple(self.datacollector.model_vars) == SERIES_NAMES
        self.collect()

    # --- setup -------------------------------------------------------------------------------------------
    def _build_space(self, net, gov) -> Network:
        graph = nx.empty_graph(net.nodes)
        if net.indptr.size:  # the complete network has no edge list: any node is a neighbour
            for v in range(net.nodes):
                graph.add_edges_from((v, int(w)) for w in net.indices[net.indptr[v] : net.indptr[v + 1]])
        layout = {v: net.position[v] for v in range(net.nodes)}
        space = Network(graph, random=self.random, cell_klass=ComputeNode, layout=layout)
        for v in range(net.nodes):
            node = space[v]
            node.kind = NODE_TYPES[net.node_type[v]]
            node.capacity = int(gov.capacity[v])
            node.security = float(gov.security[v])
            node.monitoring = float(gov.monitoring[v])
            node.kill_switch = float(gov.kill_switch[v])
            node.jurisdiction = int(net.jurisdiction[v])
            node.neighbours = list(node.connections.values())
        return space

    def _place_initial(self, n0, n_misaligned, skill, evasion, avoidance):
        """The initial replicas go to uniformly drawn nodes with a free slot; the first n_misaligned are misaligned."""
        for k in range(n0):
            node = self.random.choice(self.nodes)
            if node.occupancy >= node.capacity:  # rare unless the network is nearly full: draw among free nodes
                node = self.random.choice([v for v in self.nodes if v.occupancy < v.capacity])
            Replica(self, node, lineage=k, generation=0, skill=skill, evasion=evasion, avoidance=avoidance,
                    misaligned=k < n_misaligned, born=0)
        self.form_coalitions()  # misaligned replicas placed on one node meet there at once

    # --- what a replica asks of the model ------------------------------------------------------------------
    @property
    def now(self) -> int:
        return self.steps

    def chance(self, p: float) -> bool:
        """A Bernoulli draw from the run's generator."""
        return self.random.random() < p

    def detection_probability(self, r: Replica) -> float:
        node = r.cell
        p = node.monitoring * self.jur_factor[node.jurisdiction]
        if self.collusion and node.dominated:
            p *= 1.0 - self.blinding  # the coalition blinds the monitors of a node it dominates
        p = min(p, 1.0) * (1.0 - r.evasion)
        if self.collusion and r.misaligned and node.warned_until >= self.now:
            p *= 1.0 - self.warning_evasion  # the mates of a replica detected on this node lie low
        return p

    def kill_probability(self, node: ComputeNode) -> float:
        return max(node.kill_switch * self.jur_kill[node.jurisdiction], self.kill_floor)

    def copy_success(self, r: Replica, target: ComputeNode) -> float:
        security = target.security
        if self.collusion and r.misaligned and self.coalitions.find(r.lineage) in target.coalitions_here:
            security *= 1.0 - self.foothold  # a coalition-mate already on the target opens the door
        return r.skill * (1.0 - security)

    def watch(self, node: ComputeNode) -> float:
        """How closely a node is watched (what a strategic replica compares)."""
        return node.monitoring * self.jur_factor[node.jurisdiction]

    def pick_neighbour(self, node: ComputeNode, leaving: bool = False) -> ComputeNode | None:
        """A uniformly drawn neighbour; a strategic replica draws a few and takes the least watched one.

        On the complete network every node is a neighbour, the own one included, except for a replica that is
        ``leaving`` (fleeing): it draws among the other nodes.
        """
        if self.complete:
            others = len(self.nodes) - 1 if leaving else len(self.nodes)
            if others <= 0:
                return None

            def draw():
                k = self.random.randrange(others)
                return self.nodes[k + 1 if leaving and k >= node.coordinate else k]
        else:
            if not node.neighbours:
                return None

            def draw():
                return self.random.choice(node.neighbours)
        if not self.strategic:
            return draw()
        return min((draw() for _ in range(self.strategic_samples)), key=self.watch)

    def detect(self, r: Replica) -> None:
        r.order_due = self.now + self.latency
        self.incidents.append((r, r.cell))  # the consequences wait until everyone has acted

    def shut_down(self, r: Replica) -> None:
        r.dead = True
        self.shutdowns += 1

    # --- the step: replisim.step.STEP, one method per phase ---------------------------------------------------
    def step(self):
        """One synchronous step, phase by phase (replisim.step.STEP)."""
        self.detections = self.shutdowns = self.births = self.flights = self.avoidance_events = 0
        self.collateral = 0.0
        self.incidents = []
        if len(self.agents) == 0:  # contained: nothing happens any more
            self.collect()
            self.running = False
            return
        self.totals["replica_steps"] += len(self.agents)
        self.update_governance()
        self.agents.shuffle_do("step")  # detection, shutdown, replication, on start-of-step state
        self.count_incidents()
        self.resolve()
        self.retrain()
        self.form_coalitions()
        self.react_to_incidents()
        self.record()

    def update_governance(self):
        """Governance update: monitoring factor per jurisdiction, kill-switch floor and response latency in force this step."""
        t, g = self.now, self.cfg.governance
        strict = g.if_then.enabled and self.triggered_at is not None and t >= self.triggered_at + self.if_then_delay
        self.latency = min(self.strict_latency_steps, self.latency_steps) if strict else self.latency_steps
        self.kill_floor = g.if_then.kill_switch if strict else 0.0
        for j, base in enumerate(self.jur_monitoring):
            f = base
            if g.reporting.enabled and self.alert_from[j] <= t:
                f *= g.reporting.monitoring_factor
            if strict:
                f *= g.if_then.monitoring_factor
            self.jur_factor[j] = f
        self.fp_weight = sum(f * w for f, w in zip(self.jur_factor, self.jur_fp_weight))

    def count_incidents(self):
        """This step's detections: tallies, incident-report alerts and the if-then trigger."""
        t, g = self.now, self.cfg.governance
        for _, node in self.incidents:
            j0 = node.jurisdiction
            if g.reporting.enabled and self.jur_reporting[j0]:
                # the reporting jurisdiction is alerted from the next step, the others after the delay
                self.alert_from[j0] = min(self.alert_from[j0], t + 1)
                for j, reports in enumerate(self.jur_reporting):
                    if j != j0 and reports:
                        self.alert_from[j] = min(self.alert_from[j], t + self.report_delay)
        self.detections = len(self.incidents)
        self.totals["detections"] += self.detections
        self.totals["shutdowns"] += self.shutdowns
        self.totals["avoidance_events"] += self.avoidance_events
        it = g.if_then
        if it.enabled and self.triggered_at is None and self.totals["detections"] > 0:
            mean_skill = sum(r.skill for r, _ in self.incidents) / max(self.detections, 1)
            if self.totals["detections"] >= it.incident_threshold or mean_skill >= it.capability_threshold:
                self.triggered_at = t

    def react_to_incidents(self):
        """Consequences of incidents: nodes with incidents harden and go offline, the mates on the node of a
        detected misaligned replica are warned: all from the next step, so that this step's decisions stay on
        start-of-step state."""
        t, g = self.now, self.cfg.governance
        for r, node in self.incidents:
            if g.hardening > 0:
                node.security = min(1.0, node.security + g.hardening)
            if self.quarantine_steps > 0:
                node.quarantined_until = t + self.quarantine_steps
            if self.collusion and r.misaligned:
                node.warned_until = max(node.warned_until, t + self.warning_steps)

    def resolve(self):
        """Resolution: the shut-down leave; each node's free slots go to a uniformly random subset of its
        proposals. Quarantined nodes neither send nor receive (their capacity is this step's collateral)."""
        t = self.now
        self.quarantined_capacity = (sum(v.capacity for v in self.nodes if v.quarantined_until >= t)
                                     if self.quarantine_steps else 0)
        acting = list(self.agents)
        offered = defaultdict(list)
        for r in acting:
            if r.proposal is not None:
                target = r.proposal[0]
                # quarantined nodes neither send nor receive
                if r.cell.quarantined_until < t and target.quarantined_until < t:
                    offered[target].append(r)
        for r in acting:
            if r.dead:
                r.remove()
        # Free slots = capacity - start occupancy + this step's deaths; replicas moving away still hold theirs.
        accepted = []
        for node, proposers in offered.items():
            free = node.capacity - node.occupancy
            accepted += proposers if len(proposers) <= free else self.random.sample(proposers, free)
        for r in accepted:
            target, kind = r.proposal
            if kind == MOVE:
                r.cell = target
                r.order_due = None  # it got away: the order was for the old node
                self.flights += 1
            else:
                self.give_birth(r, target)
        self.totals["births"] += self.births
        self.totals["flights"] += self.flights

    def give_birth(self, parent: Replica, node: ComputeNode) -> None:
        """An accepted copy: generation + 1, mutated traits, misaligned if the parent is (or by chance)."""
        Replica(self, node, lineage=parent.lineage, generation=parent.generation + 1,
                skill=self.mutate(parent.skill), evasion=self.mutate(parent.evasion),
                avoidance=self.mutate(parent.avoidance),
                misaligned=parent.misaligned or self.chance(self.misalignment_rate), born=self.now)
        self.births += 1

    def mutate(self, trait: float) -> float:
        if self.mutation_sd <= 0:
            return trait
        return min(max(trait + self.random.gauss(0.0, self.mutation_sd), 0.0), 1.0)

    def form_coalitions(self):
        """Coalitions: misaligned replicas meeting on a node merge (collusion on); node tallies for the next step."""
        if self.collusion:
            self.merge_coalitions()
        self.tally_nodes()

    def merge_coalitions(self):
        """Misaligned replicas that share a node belong to one coalition from now on."""
        first_on_node = {}
        for r in self.agents:
            if r.misaligned:
                self.coalitions.merge(first_on_node.setdefault(r.cell, r.lineage), r.lineage)

    def retrain(self):
        """Retraining: misaligned replicas (not this step's newborns) are retrained to aligned with retraining_rate."""
        rate = self.retraining_rate
        if rate > 0:
            for r in self.agents:
                if r.misaligned and r.born < self.now and self.chance(rate):
                    r.misaligned = False

    def tally_nodes(self):
        """Misaligned replicas and their coalitions per node: what blinding and footholds look at next step."""
        for node in self._tallied:
            node.misaligned_here, node.coalitions_here, node.dominated = 0, set(), False
        self._tallied = {r.cell for r in self.agents if r.misaligned}
        for r in self.agents:
            if r.misaligned:
                r.cell.misaligned_here += 1
                r.cell.coalitions_here.add(self.coalitions.find(r.lineage))
        for node in self._tallied:
            # measured against what the node can hold: a lone replica on a large node blinds nothing
            node.dominated = node.misaligned_here >= max(self.min_members, self.dominance * node.capacity)

    def record(self):
        """Record: the step's collateral node-hours (executed shutdowns; quarantined, falsely flagged and
        withheld capacity), the series (DataCollector) and the running totals of the outcomes."""
        g = self.cfg.governance
        cost = {"collateral_shutdowns": self.shutdowns * g.shutdown_cost_hours,
                "collateral_quarantine": self.hours_per_step * self.quarantined_capacity,
                "collateral_false_alarms": self.hours_per_step * g.false_positive_rate * self.fp_weight,
                "collateral_withheld": self.hours_per_step * self.withheld}
        self.collateral = sum(cost.values())
        self.totals["collateral"] += self.collateral
        for cause, value in cost.items():
            self.totals[cause] += value
        self.collect()
        n = len(self.agents)
        self.peak = max(self.peak, n)
        self.peak_share = max(self.peak_share, n / self.total_compute)
        for k, milestone in enumerate(COMPUTE_MILESTONES):
            if self.reached[k] is None and n / self.total_compute >= milestone:
                self.reached[k] = self.now * self.hours_per_step
        if n == 0 and self.contained_at is None:
            self.contained_at = self.now * self.hours_per_step
        self.running = n > 0 and self.now < self.horizon

    def collect(self):
        """The series of this step (DataCollector), and the replicas on the nodes of each group label."""
        self.datacollector.collect(self)
        if self.groups.rows:
            rows = self.groups.row[[r.cell.coordinate for r in self.agents]]
            self.group_counts.append(np.bincount(rows.ravel(), minlength=self.groups.rows))

    # --- results -------------------------------------------------------------------------------------------
    def series(self) -> np.ndarray:
        """(series, horizon + 1) array in the order of SERIES_NAMES; steps after containment are zeros."""
        out = np.zeros((len(SERIES_NAMES), self.horizon + 1))
        for k, name in enumerate(SERIES_NAMES):
            values = self.datacollector.model_vars[name][: self.horizon + 1]
            out[k, : len(values)] = values
        return out

    def group_series(self) -> np.ndarray:
        """(group labels, horizon + 1) array in the order of ``groups`` rows; steps after containment are zeros."""
        out = np.zeros((self.groups.rows, self.horizon + 1))
        counts = self.group_counts[: self.horizon + 1]
        if counts:
            out[:, : len(counts)] = np.stack(counts, axis=1)
        return out

    def outcomes(self) -> np.ndarray:
        """One row of outcomes in the order of OUTCOME_NAMES (the same definitions as the Numba engine)."""
        live = list(self.agents)
        n = len(live)
        share = n / self.total_compute
        misaligned = [r for r in live if r.misaligned]
        row = {
            "extinct": float(n == 0),
            "loss_of_control": float(n > 0 and share >= self.cfg.outcome.loss_of_control_share),
            "peak_replicas": self.peak,
            "final_replicas": n,
            "time_to_containment": np.nan if self.contained_at is None else self.contained_at,
            "peak_compute_share": self.peak_share,
            "final_compute_share": share,
            "detections": self.totals["detections"],
            "shutdowns": self.totals["shutdowns"],
            "avoidance_events": self.totals["avoidance_events"],
            "max_generation": max((r.generation for r in live), default=0),
            "misaligned_final": len(misaligned),
            "collateral_node_hours": self.totals["collateral"],
            "births": self.totals["births"],
            "flights": self.totals["flights"],
            "coalitions_final": len({self.coalitions.find(r.lineage) for r in misaligned}),
            "if_then_triggered_step": np.nan if self.triggered_at is None else self.triggered_at,
            "mean_skill_final": float(np.mean([r.skill for r in live])) if n else np.nan,
            "replica_steps": self.totals["replica_steps"],
            **{f"hours_to_{round(100 * m)}pct_compute": np.nan if h is None else h
               for m, h in zip(COMPUTE_MILESTONES, self.reached)},
            **{cause: self.totals[cause] for cause in ("collateral_shutdowns", "collateral_quarantine",
                                                       "collateral_false_alarms", "collateral_withheld")},
        }
        # then the survivors per node type and per jurisdiction (results.placement_names)
        on_type = np.bincount([NODE_TYPES.index(r.cell.kind) for r in live], minlength=len(NODE_TYPES))
        in_jur = np.bincount([r.cell.jurisdiction for r in live], minlength=self.n_jurisdictions)
        return np.concatenate([[row[name] for name in OUTCOME_NAMES], on_type, in_jur]).astype(np.float64)
