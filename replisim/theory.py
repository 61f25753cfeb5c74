"""Closed-form and numerical theory of the engine's process, used to hold the engine to account.

The engine packs copies onto the parent's own node while that node had a free slot at the start of the step,
and only spills to a uniformly drawn node when it was full. So in the early phase (network nearly empty) the
independent unit is not a replica but the *colony* of one node: the replicas on a node compete for its slots,
while copies spilled from a full node found new colonies on empty nodes, independently of each other. A
colony's state is its configuration: how many of its replicas carry no shutdown order, and how many carry one
due in r = 0 .. latency-1 steps. This module builds, for every node class (nodes with the same capacity,
security, monitoring and kill switch), the exact one-step law of a colony from the step schedule of
``replisim.step.STEP`` (as the engine's act pass, ``replisim.engine.act``, does it) and derives from it:

- the early phase as a multi-type Galton-Watson process whose individuals are colonies (one generation = one
  step): ``extinction_probability`` (the minimal fixed point of the generating functions, iterated from 0;
  ``steps=T`` gives P(extinct by step T) exactly), ``growth_rate`` (dominant eigenvalue of the mean matrix),
  ``r0`` (lifetime offspring: see its docstring), ``critical_detection`` and ``r0_grid``;
- the large-N limit as the law of the node-occupancy distribution, where the copies spilled by full nodes
  arrive at each node as a Poisson stream: ``mean_field`` solves it as an ODE with ``solve_ivp``
  (continuous-time approximation: each step's transition spread over one unit of time) or, with
  ``method="map"``, iterates the exact synchronous large-N map, which is what the engine converges to.

Covered: the complete network, any node mix and jurisdiction factors (static), response latency, kill switch,
evasion, security, shutdown avoidance of misaligned replicas, and collusion among misaligned replicas in the
early phase (``EarlyPhase``: R0, growth, extinction, critical detection). Collusion enters the colony exactly:
a colony is one coalition on one node, so blinding is a function of the colony's size (members >=
max(collusion.min_members, collusion.dominance x capacity)), a warning adds a timer to the colony's state (the
steps it still lies low, collusion.warning_hours after a detection among it), and the foothold cuts the
security of the colony's own node for its copies; copies spilled to fresh nodes meet no mate there (the
early-phase limit), so the foothold does not help them. Not covered (``NotImplementedError`` naming the
mechanism): other topologies, collusion's flight (it needs a pending order: covered only with no response
latency, where orders execute at once), collusion in the large-N limit (``mean_field``, ``logistic``: there
coalitions merge across nodes), strategic targets, trait mutation, skill drawn per run, hardening, quarantine,
if-then triggers, incident reporting, and alignment that changes within a lineage while shutdown avoidance or
collusion matters (misalignment_rate on aligned lineages, retraining).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cache

import numpy as np
import pandas as pd
from scipy.integrate import solve_ivp
from scipy.optimize import brentq
from scipy.stats import binom, poisson

from .config.schema import Config
from .config.units import in_steps

__all__ = [
    "critical_detection",
    "detection_for_r0",
    "expected_replicas",
    "extinction_probability",
    "extinction_probability_single",
    "growth_rate",
    "logistic",
    "mean_field",
    "offspring_per_step",
    "r0",
    "r0_grid",
    "what_it_would_take",
    "with_params",
]

MAX_CONFIGS = 5000  # colony configurations per node class the enumeration accepts


@dataclass(frozen=True)
class NodeClass:
    """Nodes that behave alike: share of all nodes, slots, copy success onto them, detection, kill."""

    share: float
    capacity: int
    success: float  # skill x (1 - security): P(a copy proposed onto this node succeeds)
    detect: float  # per-step detection probability of a hosted replica without an order (evasion included)
    kill: float  # P(an executed shutdown order succeeds)
    watch: float = 0.0  # monitoring x jurisdiction factor before the cap at 1 (what blinding cuts)
    security: float = 0.0


@dataclass(frozen=True)
class Collusion:
    """Collusion's per-step constants as the engine applies them to a colony of misaligned replicas."""

    blinding: float
    dominance: float
    min_members: int
    warning_steps: int
    warning_evasion: float
    foothold: float
    evasion: float  # the replicas' own evasion (detection is capped at 1 before it applies)
    skill: float


@dataclass(frozen=True)
class Model:
    classes: tuple
    latency: int
    attempt: float
    avoid: float  # shutdown avoidance of the misaligned lineages (0 where no misaligned replica exists)
    n0: int
    n_mis0: int
    nodes: int
    total_compute: float
    hours_per_step: float
    steps: int
    collusion: Collusion | None = None  # None: collusion off (it acts on misaligned lineages only)


def with_params(cfg: Config, **kw) -> Config:
    """A copy of ``cfg`` with dotted keys replaced, e.g. ``with_params(cfg, **{"governance.detection": 0.2})``."""
    for key, value in kw.items():
        head, _, tail = key.partition(".")
        sub = getattr(cfg, head)
        cfg = dataclasses.replace(cfg, **{head: with_params(sub, **{tail: value}) if tail else value})
    return cfg


def _uncovered(cfg: Config) -> list:
    """What of ``cfg`` the theory does not cover: (description, the name of what is switched off to cover it,
    the overrides that switch it off, how switching it off moves the real requirement), in the order of the checks."""
    r, g, c = cfg.replica, cfg.governance, cfg.collusion
    n_mis0 = int(round(r.initial_misaligned * r.initial))
    ever_mis = n_mis0 > 0 or r.misalignment_rate > 0
    colluding = c.enabled and ever_mis
    # alignment that changes within a lineage matters where misaligned replicas act differently
    mis_matters = r.shutdown_avoidance > 0 or colluding
    with_what = "shutdown avoidance" if r.shutdown_avoidance > 0 else "collusion"
    latency = cfg.governance.response_latency
    pending_orders = in_steps(cfg)["governance.response_latency"] > 0
    checks = [
        (cfg.network.kind != "complete", f"network.kind={cfg.network.kind} (only the complete network is covered)",
         "network topology", {"network.kind": "complete"}, "either way"),
        (colluding and c.flight > 0 and pending_orders,
         f"collusion.flight={c.flight} with governance.response_latency={latency:g} (a replica under a pending "
         "order flees)", f"response latency {latency:g} h", {"governance.response_latency": 0.0}, "higher"),
        (r.strategic, "replica.strategic=true", "strategic targets", {"replica.strategic": False}, "higher"),
        (r.mutation_sd > 0, f"replica.mutation_sd={r.mutation_sd} (traits must be inherited unchanged)",
         "trait mutation", {"replica.mutation_sd": 0.0}, "either way"),
        (r.success_prior, "replica.success_prior=true (skill drawn per run)", "skill drawn per run",
         {"replica.success_prior": False}, "either way"),
        (g.hardening > 0, f"governance.hardening={g.hardening}", "hardening", {"governance.hardening": 0.0}, "lower"),
        (g.quarantine_hours > 0, f"governance.quarantine_hours={g.quarantine_hours}", "quarantine",
         {"governance.quarantine_hours": 0.0}, "lower"),
        (g.if_then.enabled, "governance.if_then.enabled=true", "if-then commitments",
         {"governance.if_then.enabled": False}, "lower"),
        (g.reporting.enabled, "governance.reporting.enabled=true", "incident reporting",
         {"governance.reporting.enabled": False}, "lower"),
        (mis_matters and n_mis0 < r.initial and r.misalignment_rate > 0,
         f"replica.misalignment_rate={r.misalignment_rate} on aligned lineages with {with_what}",
         "emergent misalignment", {"replica.misalignment_rate": 0.0}, "higher"),
        (mis_matters and ever_mis and g.retraining_rate > 0,
         f"governance.retraining_rate={g.retraining_rate} with {with_what}", "retraining",
         {"governance.retraining_rate": 0.0}, "lower"),
    ]
    return [(what, name, off, direction) for bad, what, name, off, direction in checks if bad]


def build_model(cfg: Config) -> Model:
    """The node classes and step parameters of ``cfg`` (raises NotImplementedError for uncovered mechanisms)."""
    uncovered = _uncovered(cfg)
    if uncovered:
        raise NotImplementedError(f"replisim.theory does not cover {uncovered[0][0]}")
    from .world import setup

    net, gov = setup(cfg, cfg.seed)  # gov.monitoring: per step
    r = cfg.replica
    per_step = in_steps(cfg)
    watch = gov.monitoring.astype(np.float64) * gov.jur_monitoring[net.jurisdiction]
    detect = np.minimum(watch, 1.0) * (1.0 - r.evasion)
    kill = gov.kill_switch.astype(np.float64) * gov.jur_kill[net.jurisdiction]
    security = gov.security.astype(np.float64)
    success = r.success * (1.0 - security)
    keys = np.stack([gov.capacity.astype(np.float64), success, detect, kill, watch, security], axis=1)
    uniq, counts = np.unique(keys, axis=0, return_counts=True)
    classes = tuple(
        NodeClass(share=c / net.nodes, capacity=int(u[0]), success=float(u[1]), detect=float(u[2]), kill=float(u[3]),
                  watch=float(u[4]), security=float(u[5]))
        for u, c in zip(uniq, counts)
    )
    n_mis0 = int(round(r.initial_misaligned * r.initial))
    co = cfg.collusion
    collusion = Collusion(
        blinding=co.blinding, dominance=co.dominance, min_members=int(co.min_members),
        warning_steps=int(per_step["collusion.warning_hours"]), warning_evasion=co.warning_evasion,
        foothold=co.foothold, evasion=r.evasion, skill=r.success,
    ) if co.enabled and (n_mis0 > 0 or r.misalignment_rate > 0) else None
    return Model(
        classes=classes,
        latency=int(per_step["governance.response_latency"]),
        attempt=per_step["replica.attempt_rate"],
        avoid=r.shutdown_avoidance,
        n0=r.initial,
        n_mis0=n_mis0,
        nodes=net.nodes,
        total_compute=gov.total_compute,
        hours_per_step=cfg.sim.hours_per_step,
        steps=cfg.sim.steps,
        collusion=collusion,
    )


# ---------------------------------------------------------------------------------------------------------
# One colony, one step


@cache
def configs(capacity: int, n_states: int) -> tuple:
    """All colony configurations: count of replicas per order state, total <= capacity (empty one first)."""
    out = []

    def rec(prefix, left):
        if len(prefix) == n_states:
            out.append(tuple(prefix))
            return
        for k in range(left + 1):
            rec(prefix + [k], left - k)

    rec([], capacity)
    # by size; within a size, more replicas without an order first, so index 1 is a fresh colony (1, 0, ...)
    out.sort(key=lambda c: (sum(c), tuple(-k for k in c)))
    return tuple(out)


def replica_events(detect: float, kill: float, attempt: float, avoid: float, latency: int) -> list:
    """Per order state: {(next state or -1 for dead, 1 if it proposes a copy, 1 if detected now): probability}.

    Order states: 0 = no order; 1 + r = an order that executes in r steps (r = 0: this step). Follows
    ``engine.act.act_rare``: detection only without a pending order, then due orders execute (a failed one clears
    the order and the replica goes on to replicate), then survivors attempt with ``attempt``; a killed misaligned
    replica proposes its last copy with ``avoid`` (no attempt draw). A detection is what warns colluding mates.
    """
    p, k, a, v = detect, kill, attempt, avoid
    out = []

    def add(d, key, pr):
        if pr > 0:
            d[key] = d.get(key, 0.0) + pr

    none = {}
    if latency == 0:
        add(none, (0, 1, 0), (1 - p) * a)
        add(none, (0, 0, 0), (1 - p) * (1 - a))
        add(none, (0, 1, 1), p * (1 - k) * a)  # detected, the kill failed: the order is cleared
        add(none, (0, 0, 1), p * (1 - k) * (1 - a))
        add(none, (-1, 1, 1), p * k * v)
        add(none, (-1, 0, 1), p * k * (1 - v))
    else:
        add(none, (0, 1, 0), (1 - p) * a)
        add(none, (0, 0, 0), (1 - p) * (1 - a))
        add(none, (latency, 1, 1), p * a)  # state 1 + (latency - 1)
        add(none, (latency, 0, 1), p * (1 - a))
    out.append(none)
    for r in range(latency):
        d = {}
        if r == 0:
            add(d, (-1, 1, 0), k * v)
            add(d, (-1, 0, 0), k * (1 - v))
            add(d, (0, 1, 0), (1 - k) * a)
            add(d, (0, 0, 0), (1 - k) * (1 - a))
        else:
            add(d, (r, 1, 0), a)  # state 1 + r -> 1 + (r - 1)
            add(d, (r, 0, 0), 1 - a)
        out.append(d)
    return out


def replica_outcomes(detect: float, kill: float, attempt: float, avoid: float, latency: int) -> list:
    """Per order state: {(next state or -1 for dead, 1 if it proposes a copy): probability} (``replica_events``
    without the detection flag)."""
    out = []
    for events in replica_events(detect, kill, attempt, avoid, latency):
        d = {}
        for (nxt, prop, _), pr in events.items():
            d[(nxt, prop)] = d.get((nxt, prop), 0.0) + pr
        out.append(d)
    return out


def _detection_levels(cls: NodeClass, coll: Collusion | None) -> tuple:
    """A misaligned replica's detection on a node of class ``cls``: (plain, blinded, warned, blinded and warned),
    as ``engine.act.node_record`` and ``detection.detected`` compute it."""
    if coll is None:
        return (cls.detect,) * 4
    out = []
    for warned in (0, 1):
        for blinded in (0, 1):
            watch = min(cls.watch * (1.0 - coll.blinding * blinded), 1.0)
            out.append(watch * (1.0 - coll.warning_evasion * warned) * (1.0 - coll.evasion))
    return tuple(out)


def _colony_laws(cfgs: tuple, outs: list) -> dict:
    """{config: {(survivors config, proposals, 1 if any replica was detected): probability}} for every config,
    its replicas acting independently with the per-state events ``outs`` (built one replica at a time)."""
    law = {cfgs[0]: {(cfgs[0], 0, 0): 1.0}}
    for c in cfgs[1:]:
        j = next(i for i, x in enumerate(c) if x > 0)
        smaller = list(c)
        smaller[j] -= 1
        d = {}
        for (surv, props, det), pb in law[tuple(smaller)].items():
            for (nxt, prop, hit), pr in outs[j].items():
                if nxt >= 0:
                    s2 = list(surv)
                    s2[nxt] += 1
                    key = (tuple(s2), props + prop, det | hit)
                else:
                    key = (surv, props + prop, det | hit)
                d[key] = d.get(key, 0.0) + pb * pr
        law[c] = d
    return law


def colony_law(cls: NodeClass, attempt: float, avoid: float, latency: int, coll: Collusion | None = None) -> dict:
    """One-step law of every non-empty state of a node of class ``cls`` with nothing arriving.

    A state is a configuration (replicas per order state) and, with collusion (``coll``), the steps the
    colony still lies low after a warning (0 .. collusion.warning_steps; always 0 without collusion). Returns the
    outcomes as rows of arrays ``src`` (state index), ``surv`` (the survivors: a code, configuration index x
    (warning steps + 1) + the next warning timer), ``free`` (slots left for copies: capacity - survivors), ``own``
    (successful proposals onto the own node: non-full nodes), ``spill`` (proposals sent to uniformly drawn nodes:
    full nodes), ``prob``; plus ``configs`` (each state's configuration), ``size`` and ``add`` (state index after
    adding j fresh replicas to survivors code i; 0 where the node is empty).
    """
    n_states = latency + 1
    cfgs = configs(cls.capacity, n_states)
    timers = coll.warning_steps + 1 if coll is not None else 1
    if len(cfgs) * timers > MAX_CONFIGS:
        raise NotImplementedError(
            f"a node of capacity {cls.capacity} with response_latency={latency} has {len(cfgs) * timers} colony "
            f"states (limit {MAX_CONFIGS})"
        )
    cindex = {c: i for i, c in enumerate(cfgs)}
    # states: the empty node, then every non-empty configuration with each warning timer (a fresh colony first)
    states = [(0, 0)] + [(ci, w) for ci in range(1, len(cfgs)) for w in range(timers)]
    sindex = {st: i for i, st in enumerate(states)}
    levels = _detection_levels(cls, coll)
    laws = {lv: _colony_laws(cfgs, replica_events(lv, cls.kill, attempt, avoid, latency)) for lv in set(levels)}
    blind_at = max(coll.min_members, coll.dominance * cls.capacity) if coll is not None else np.inf
    cap = cls.capacity
    rows = []
    for si, (ci, w) in enumerate(states):
        c = cfgs[ci]
        level = levels[(sum(c) >= blind_at) + 2 * (w > 0)]
        for (surv, props, det), pb in laws[level][c].items():
            nxt_w = timers - 1 if det and timers > 1 else max(w - 1, 0)
            rows.append((si, cindex[surv] * timers + nxt_w, props, pb, sum(c) == cap))
    ent = np.array(rows, dtype=np.float64).reshape(-1, 5)
    src, surv = ent[:, 0].astype(np.int64), ent[:, 1].astype(np.int64)
    props, pb, full = ent[:, 2], ent[:, 3], ent[:, 4] > 0
    # non-full nodes: copies target the own node and each succeeds with s_own -> b successes, Binomial(props, s_own)
    # (a colluding colony's own node is a mate's: the foothold cuts its security)
    s_own = cls.success if coll is None else coll.skill * (1.0 - cls.security * (1.0 - coll.foothold))
    parts = [(src[full], surv[full], np.zeros(full.sum()), props[full], pb[full])]
    for b in range(int(props.max()) + 1 if len(props) else 0):
        sel = ~full & (props >= b)
        parts.append((src[sel], surv[sel], np.full(sel.sum(), b), np.zeros(sel.sum()),
                      pb[sel] * binom.pmf(b, props[sel], s_own)))
    src, surv, own, spill, prob = (np.concatenate(x) for x in zip(*parts))
    own, spill = own.astype(np.int64), spill.astype(np.int64)
    # merge rows with the same outcome (full nodes: proposals all go to random nodes, none to the own node)
    n_codes = len(cfgs) * timers
    key = (src * n_codes + surv) * (cap + 1) ** 2 + own * (cap + 1) + spill
    uniq, inv = np.unique(key, return_inverse=True)
    prob = np.bincount(inv, weights=prob)
    keep = prob > 0
    uniq, prob = uniq[keep], prob[keep]
    spill = uniq % (cap + 1)
    own = (uniq // (cap + 1)) % (cap + 1)
    surv = (uniq // (cap + 1) ** 2) % n_codes
    src = uniq // ((cap + 1) ** 2 * n_codes)
    cfg_sizes = np.array([sum(c) for c in cfgs], dtype=np.int64)
    sizes = np.array([cfg_sizes[ci] for ci, _ in states], dtype=np.int64)
    # next state after adding j newborns (order state 0) to survivors code i
    add = np.full((n_codes, cap + 1), -1, dtype=np.int64)
    for code in range(n_codes):
        ci, w = divmod(code, timers)
        c = cfgs[ci]
        for j in range(cap - sum(c) + 1):
            after = cindex[(c[0] + j,) + c[1:]]
            add[code, j] = 0 if after == 0 else sindex[(after, w)]
    return {
        "configs": tuple(cfgs[ci] for ci, _ in states),
        "size": sizes.astype(np.float64),
        "src": src.astype(np.int64),
        "surv": surv.astype(np.int64),
        "free": (cap - cfg_sizes[surv // timers]).astype(np.int64),
        "own": own.astype(np.int64),
        "spill": spill.astype(np.float64),
        "prob": prob,
        "add": add,
    }


def offspring_per_step(cfg: Config) -> pd.DataFrame:
    """One replica's step, per node class and order state: next order state (-1: shut down), whether it
    proposes a copy, probability. Order states: 0 = no order, 1 + r = an order executing in r steps.

    The building block of every result here; proposals onto the own node succeed with the class's
    ``success`` and compete for its free slots, proposals from a full node go to a uniformly drawn node.
    """
    m = build_model(cfg)
    if m.collusion is not None and m.n_mis0 > 0:
        raise NotImplementedError("replisim.theory.offspring_per_step does not cover collusion: a colluding "
                                  "replica's step depends on its colony (colony_law)")
    avoid = m.avoid if m.n_mis0 > 0 else 0.0
    rows = []
    for ci, c in enumerate(m.classes):
        for state, outs in enumerate(replica_outcomes(c.detect, c.kill, m.attempt, avoid, m.latency)):
            for (nxt, prop), pr in sorted(outs.items()):
                rows.append((ci, c.capacity, c.success, state, nxt, bool(prop), pr))
    return pd.DataFrame(rows, columns=["node_class", "capacity", "success", "state", "next_state", "proposes",
                                       "probability"])


def _laws(m: Model, misaligned: bool) -> list:
    """Colony laws per node class for the misaligned lineages (shutdown avoidance and collusion act) or the
    aligned ones."""
    avoid = m.avoid if misaligned else 0.0
    coll = m.collusion if misaligned else None
    return [colony_law(c, m.attempt, avoid, m.latency, coll) if c.capacity > 0 else None for c in m.classes]


# ---------------------------------------------------------------------------------------------------------
# Early phase: colonies as a multi-type Galton-Watson process


class EarlyPhase:
    """Types = (node class, non-empty colony state); one generation = one step."""

    def __init__(self, m: Model, misaligned: bool):
        self.m = m
        self.laws = _laws(m, misaligned)
        self.offset = []
        n = 0
        for law in self.laws:
            self.offset.append(n)
            n += 0 if law is None else len(law["configs"]) - 1  # the empty configuration is no type
        self.n_types = n
        # a spilled proposal lands on class t with its share and succeeds with its success -> founds a colony
        self.found = np.array([c.share * c.success if c.capacity > 0 else 0.0 for c in m.classes])
        self.fresh = np.array([self.offset[i] for i, law in enumerate(self.laws) if law is not None])
        self.found_live = np.array([self.found[i] for i, law in enumerate(self.laws) if law is not None])
        src, nxt, spill, prob = [], [], [], []
        for ci, law in enumerate(self.laws):
            if law is None:
                continue
            own = np.minimum(law["own"], law["free"])  # no arrivals in the early phase
            after = law["add"][law["surv"], own]
            keep = law["src"] > 0
            # type index of a non-empty config i of class ci is offset + i - 1; the empty one maps to n (x = 1)
            src.append(self.offset[ci] + law["src"][keep] - 1)
            nxt.append(np.where(after[keep] == 0, n, self.offset[ci] + after[keep] - 1))
            spill.append(law["spill"][keep])
            prob.append(law["prob"][keep])
        self.src = np.concatenate(src)
        self.nxt = np.concatenate(nxt)
        self.spill = np.concatenate(spill)
        self.prob = np.concatenate(prob)
        self.class_of = np.concatenate(
            [np.full(len(law["configs"]) - 1, ci) for ci, law in enumerate(self.laws) if law is not None]
        )
        self.size = np.concatenate([law["size"][1:] for law in self.laws if law is not None])

    def pgf(self, x: np.ndarray) -> np.ndarray:
        """Offspring generating functions F(x): P(no descendant type-wise) one step on."""
        xe = np.append(x, 1.0)
        h = 1.0 - self.found_live.sum() + self.found_live @ x[self.fresh]  # one spilled proposal
        return np.bincount(self.src, weights=self.prob * xe[self.nxt] * h**self.spill, minlength=self.n_types)

    def jacobian(self, x: np.ndarray) -> np.ndarray:
        """dF_i / dx_j at x."""
        n = self.n_types
        xe = np.append(x, 1.0)
        h = 1.0 - self.found_live.sum() + self.found_live @ x[self.fresh]
        jac = np.zeros((n, n + 1))
        np.add.at(jac, (self.src, self.nxt), self.prob * h**self.spill)
        dh_rows = self.prob * xe[self.nxt] * self.spill * h ** np.maximum(self.spill - 1, 0)
        dh = np.bincount(self.src, weights=dh_rows, minlength=n)
        jac[:, self.fresh] += np.outer(dh, self.found_live)
        return jac[:, :n]

    def extinction(self, steps: int | None = None, tol: float = 1e-13) -> np.ndarray:
        """P(extinct by ``steps``) per type (F^steps(0)); ``steps=None``: the minimal fixed point of F.

        The fixed point: plain iteration from 0 (monotone, towards the minimal fixed point), finished by
        Newton steps, which converge monotonically from below for generating functions; the result is
        checked as a fixed point and the iteration goes on where a Newton step leaves [0, 1].
        """
        x = np.zeros(self.n_types)
        if steps is not None:
            for _ in range(steps):
                x = self.pgf(x)
            return x
        if self.r0() <= 1.0:
            return np.ones(self.n_types)
        eye = np.eye(self.n_types)
        for _ in range(1000):
            for _ in range(50):
                x = self.pgf(x)
            y = x
            for _ in range(30):
                try:
                    y = y - np.linalg.solve(eye - self.jacobian(y), y - self.pgf(y))
                except np.linalg.LinAlgError:
                    break
                if not np.all((y >= -1e-12) & (y <= 1 + 1e-12)):
                    break
                if np.max(np.abs(self.pgf(y) - y)) < tol:
                    return np.clip(y, 0.0, 1.0)
        raise RuntimeError("the extinction probabilities did not converge")

    def mean_matrix(self) -> np.ndarray:
        """M[i, j] = expected type-j individuals one step after one type-i individual."""
        n = self.n_types
        mm = np.zeros((n, n + 1))
        np.add.at(mm, (self.src, self.nxt), self.prob)
        spawned = np.bincount(self.src, weights=self.prob * self.spill, minlength=n)
        mm[:, self.fresh] += np.outer(spawned, self.found_live)
        return mm[:, :n]

    def r0(self) -> float:
        """Spectral radius of the colony next-generation matrix (see ``r0``)."""
        live = [ci for ci, law in enumerate(self.laws) if law is not None]
        k = np.zeros((len(live), len(live)))
        for row, ci in enumerate(live):
            sel = self.class_of[self.src] == ci
            o = self.offset[ci]
            nc = len(self.laws[ci]["configs"]) - 1
            p = np.zeros((nc, nc + 1))
            np.add.at(p, (self.src[sel] - o, np.where(self.nxt[sel] == self.n_types, nc, self.nxt[sel] - o)),
                      self.prob[sel])
            spawn = np.bincount(self.src[sel] - o, weights=(self.prob * self.spill)[sel], minlength=nc)
            a = np.eye(nc) - p[:, :nc]
            try:
                visits = np.linalg.solve(a.T, np.eye(nc)[0])  # expected steps spent in each config
            except np.linalg.LinAlgError:
                return np.inf
            if not np.all(np.isfinite(visits)) or visits.min() < -1e-9 or np.linalg.cond(a) > 1e15:
                return np.inf  # the colony never dies out (no shutdown possible)
            k[row] = (visits @ spawn) * self.found_live
        return float(np.max(np.abs(np.linalg.eigvals(k))))

    def initial(self) -> np.ndarray:
        """Where an initial replica starts: a uniformly drawn node with a free slot, as a fresh colony."""
        w = np.array([self.m.classes[ci].share for ci, law in enumerate(self.laws) if law is not None])
        return w / w.sum()


def _phases(cfg: Config) -> list:
    """(early phase, number of initial lineages) for the misaligned and the aligned initial replicas."""
    m = build_model(cfg)
    differ = m.avoid > 0 or m.collusion is not None  # the misaligned lineages act differently
    groups = [(True, m.n_mis0), (False, m.n0 - m.n_mis0)] if differ else [(False, m.n0)]
    return [(EarlyPhase(m, mis), n) for mis, n in groups if n > 0]


def extinction_probability_single(cfg: Config, steps: int | None = None) -> float:
    """P(the lineage of one initial replica dies out) [by step ``steps``] in the early phase.

    Uses the misaligned lineage when the initial replicas are misaligned (shutdown avoidance applies).
    """
    ep, _ = _phases(cfg)[0]
    return float(ep.initial() @ ep.extinction(steps)[ep.fresh])


def extinction_probability(cfg: Config, steps: int | None = None) -> float:
    """P(all ``replica.initial`` lineages die out) [by step ``steps``]: independent lineages on distinct nodes.

    Exact for the engine as long as the network is large against the lineages' size while extinction is
    being decided (spills onto already occupied nodes are neglected); ``steps=cfg.sim.steps`` is the
    probability the engine reports ``extinct`` at its horizon.
    """
    out = 1.0
    for ep, n in _phases(cfg):
        out *= float(ep.initial() @ ep.extinction(steps)[ep.fresh]) ** n
    return out


def r0(cfg: Config) -> float:
    """Basic reproduction number of the early phase; R0 <= 1 iff extinction is certain.

    Because copies fill the parent's own node first, the unit that reproduces independently is the colony of
    a node, founded by one replica: R0 is the expected number of new colonies (replicas spilled onto fresh
    nodes) a colony founded by one replica seeds over its lifetime (spectral radius over node classes). With
    node capacity 1 a colony is one replica and R0 is the replica's expected lifetime offspring, e.g.
    a s (1 - q) / q for latency 0 (q = detection x kill switch). Where the initial replicas are misaligned
    and avoid shutdown, this is the R0 of their lineages.
    """
    return _phases(cfg)[0][0].r0()


def growth_rate(cfg: Config) -> float:
    """Per-step growth factor of the expected population in the early phase (dominant eigenvalue)."""
    ep = _phases(cfg)[0][0]
    return float(np.max(np.abs(np.linalg.eigvals(ep.mean_matrix()))))


def expected_replicas(cfg: Config, steps: int) -> np.ndarray:
    """E[replicas] at steps 0 .. ``steps`` in the early phase (no capacity limit beyond the own node)."""
    out = np.zeros(steps + 1)
    for ep, n in _phases(cfg):
        mm = ep.mean_matrix()
        v = np.zeros(ep.n_types)
        v[ep.fresh] = n * ep.initial()
        for t in range(steps + 1):
            out[t] += v @ ep.size
            v = v @ mm
    return out


def detection_for_r0(cfg: Config, target: float = 1.0, tol: float = 1e-12, rtol: float = 1e-7) -> float:
    """``governance.detection`` at which R0 equals ``target`` (R0 falls with detection), to ``tol`` + ``rtol`` x
    the level.

    Returns 0.0 if R0 <= target even without detection, and nan if R0 > target even at detection 1. Bisection
    only while the lower end's R0 is infinite (a colony that never dies out), then Brent's method on log R0 (close
    to linear in the level where R0 ~ 1 / detection) over the finite bracket: about 13 evaluations of R0 instead
    of bisection's 34, each of which enumerates every class's colony law. ``rtol`` 1e-7: the engine's rates are
    float32 (``build_model`` rounds them as the engine does), so R0 is a step function of the level on a grid of
    about 6e-8 relative; a finer tolerance only walks along one step.
    """
    seen: dict[float, float] = {}

    def f(d):
        if d not in seen:  # brentq evaluates the bracket's ends again
            seen[d] = np.log(max(r0(with_params(cfg, **{"governance.detection": d})), 1e-300) / target)
        return seen[d]

    lo, hi = 0.0, 1.0
    f_lo = f(lo)
    if f_lo <= 0:
        return 0.0
    if f(hi) > 0:
        return float("nan")
    while not np.isfinite(f_lo) and hi - lo > tol:
        mid = 0.5 * (lo + hi)
        f_mid = f(mid)
        if f_mid > 0:
            lo, f_lo = mid, f_mid
        else:
            hi = mid
    if hi - lo <= tol:
        return 0.5 * (lo + hi)
    return float(brentq(f, lo, hi, xtol=tol, rtol=rtol))


def critical_detection(cfg: Config) -> float:
    """The detection level at which R0 = 1 (nan if even detection 1 cannot stop growth)."""
    return detection_for_r0(cfg, 1.0)


def r0_grid(cfg: Config, success_values, detection_values) -> np.ndarray:
    """R0 over ``replica.success`` (rows) x ``governance.detection`` (columns)."""
    out = np.empty((len(success_values), len(detection_values)))
    for i, s in enumerate(success_values):
        for j, d in enumerate(detection_values):
            out[i, j] = r0(with_params(cfg, **{"replica.success": float(s), "governance.detection": float(d)}))
    return out


# ---------------------------------------------------------------------------------------------------------
# Large N: the node-occupancy distribution


class MeanField:
    """Occupancy distribution per node class; spilled copies arrive at each node as a Poisson stream."""

    def __init__(self, m: Model):
        if m.collusion is not None and m.n_mis0 > 0:
            raise NotImplementedError(
                "replisim.theory.mean_field does not cover collusion (coalitions merge across nodes at large N)"
            )
        if m.avoid > 0 and 0 < m.n_mis0 < m.n0:
            raise NotImplementedError(
                "replisim.theory.mean_field does not cover a mix of aligned and misaligned replicas with "
                "shutdown avoidance"
            )
        self.m = m
        self.laws = _laws(m, m.n_mis0 > 0)
        self.live = [ci for ci, law in enumerate(self.laws) if law is not None]
        self.sizes = [self.laws[ci]["size"] for ci in self.live]
        self.splits = np.cumsum([len(s) for s in self.sizes])[:-1]
        self.nodes = np.array([m.classes[ci].share * m.nodes for ci in self.live])
        self.success = np.array([m.classes[ci].success for ci in self.live])
        self.arrivals = {ci: self._arrivals(ci) for ci in self.live}
        self.spill_rate = []
        for ci in self.live:
            law = self.laws[ci]
            self.spill_rate.append(np.bincount(law["src"], weights=law["prob"] * law["spill"],
                                               minlength=len(law["configs"])))

    def x0(self) -> np.ndarray:
        """Initial occupancy: replicas placed one by one on uniformly drawn nodes with a free slot.

        As N -> infinity the occupancy shares x_k follow dx_k/du = (x_{k-1} - x_k) / F in u = replicas placed
        per node (no flow out of the full state), F = share of nodes with a free slot; integrated up to N0 / N.
        """
        caps = [self.m.classes[ci].capacity for ci in self.live]
        w = self.nodes / self.nodes.sum()
        cuts = np.cumsum([c + 1 for c in caps])[:-1]

        def rhs(_u, y):
            parts = np.split(y, cuts)
            free = max(sum(wi * (1.0 - p[-1]) for wi, p in zip(w, parts)), 1e-12)
            out = []
            for p in parts:
                d = np.zeros_like(p)
                d[:-1] -= p[:-1]
                d[1:] += p[:-1]
                out.append(d / free)
            return np.concatenate(out)

        y0 = np.concatenate([np.eye(c + 1)[0] for c in caps])
        u = self.m.n0 / self.nodes.sum()
        y = solve_ivp(rhs, (0.0, u), y0, method="RK45", rtol=1e-10, atol=1e-13).y[:, -1]
        parts = []
        for ci, occ in zip(self.live, np.split(y, cuts)):
            cfgs = self.laws[ci]["configs"]
            x = np.zeros(len(cfgs))
            for i, c in enumerate(cfgs):
                if c[0] == sum(c):  # every initial replica is without a shutdown order
                    x[i] = occ[c[0]]
            parts.append(x)
        return np.concatenate(parts)

    def _arrivals(self, ci: int):
        """Per class, every (outcome row, j arrivals taken) pair: flat matrix index, probability, j, tail flag."""
        law = self.laws[ci]
        n = len(law["configs"])
        free, own = law["free"], law["own"]
        room = np.maximum(free - own, 0)  # arrivals that still fit after the own copies
        idx, prob, js, tail = [], [], [], []
        for j in range(int(room.max()) + 1):
            sel = room >= j
            acc = np.minimum(own[sel], free[sel]) + j
            idx.append(law["src"][sel] * n + law["add"][law["surv"][sel], acc])
            prob.append(law["prob"][sel])
            js.append(np.full(sel.sum(), j))
            tail.append(room[sel] == j)  # the node fills up: P(M >= j), else P(M = j)
        return n, np.concatenate(idx), np.concatenate(prob), np.concatenate(js), np.concatenate(tail)

    def transition(self, ci: int, lam: float) -> np.ndarray:
        """One-step transition matrix of a class-ci node receiving Poisson(lam) successful spilled copies."""
        n, idx, prob, js, tail = self.arrivals[ci]
        jmax = int(js.max())
        pmf = poisson.pmf(np.arange(jmax + 1), lam)
        sf = poisson.sf(np.arange(jmax + 1) - 1, lam)  # P(M >= j)
        w = prob * np.where(tail, sf[js], pmf[js])
        return np.bincount(idx, weights=w, minlength=n * n).reshape(n, n)

    def _lams(self, parts) -> np.ndarray:
        attempts = sum(nn * (x @ r) for nn, x, r in zip(self.nodes, parts, self.spill_rate))
        return attempts / self.m.nodes * self.success

    def step(self, x: np.ndarray) -> np.ndarray:
        parts = np.split(x, self.splits)
        lams = self._lams(parts)
        return np.concatenate([p @ self.transition(ci, lam) for p, ci, lam in zip(parts, self.live, lams)])

    def rhs(self, _t, x):
        return self.step(x) - x

    def replicas(self, x: np.ndarray) -> np.ndarray:
        """Replicas of state(s) ``x`` (configs along the first axis)."""
        size = np.concatenate([nn * s for nn, s in zip(self.nodes, self.sizes)])
        return size @ x


def mean_field(cfg: Config, t_eval=None, method: str = "ode") -> pd.DataFrame:
    """Large-N population and compute share at steps ``t_eval`` (default 0 .. sim.steps).

    ``method="ode"`` (default) solves dx/dt = x (T(x) - I) with ``solve_ivp``, x the node-occupancy
    distribution and T(x) the engine's one-step node transition given the Poisson stream of copies spilled by
    full nodes: the continuous-time approximation (same equilibrium as the engine's large-N limit, smoother
    transient). ``method="map"`` iterates x <- x T(x) step by step: the engine's exact large-N limit.
    Columns: step, hours, replicas, compute_share.

    Against the engine (minimal scenario, 20,000 nodes x 4 slots, 8,000 initial replicas, mean of 6 runs,
    latency 0 and 2): the map within 0.5% at every step; the ODE runs ahead while growing (it grows at
    rho - 1 per unit time instead of log rho), within 3.7% of total capacity, and within 0.2% on the plateau.
    """
    m = build_model(cfg)
    mf = MeanField(m)
    steps = m.steps if t_eval is None else int(np.ceil(np.max(t_eval)))
    t_eval = np.arange(steps + 1, dtype=np.float64) if t_eval is None else np.asarray(t_eval, dtype=np.float64)
    x0 = mf.x0()
    if method == "ode":
        sol = solve_ivp(mf.rhs, (0.0, float(t_eval.max())), x0, t_eval=t_eval, method="RK45", rtol=1e-7,
                        atol=1e-11)
        if not sol.success:
            raise RuntimeError(f"solve_ivp failed: {sol.message}")
        reps = mf.replicas(sol.y)
    elif method == "map":
        traj = [x0]
        for _ in range(steps):
            traj.append(mf.step(traj[-1]))
        full = mf.replicas(np.array(traj).T)
        reps = np.interp(t_eval, np.arange(steps + 1), full)
    else:
        raise ValueError(f"method={method!r} is not allowed; choose one of ode, map")
    return pd.DataFrame({
        "step": t_eval,
        "hours": t_eval * m.hours_per_step,
        "replicas": reps,
        "compute_share": reps / m.total_compute,
    })


def logistic(cfg: Config, t_eval=None) -> pd.DataFrame:
    """Reference closed form N(t) = K / (1 + (K / N0 - 1) g^-t): early growth factor g, plateau K of the map.

    Only a reference: the engine's own-node placement makes the approach to the plateau non-logistic.
    """
    m = build_model(cfg)
    t = np.arange(m.steps + 1, dtype=np.float64) if t_eval is None else np.asarray(t_eval, dtype=np.float64)
    g = growth_rate(cfg)
    mf = MeanField(m)
    x = mf.x0()
    for _ in range(2000):
        y = mf.step(x)
        if np.max(np.abs(y - x)) < 1e-13:
            break
        x = y
    k = mf.replicas(x)
    n = k / (1.0 + (k / m.n0 - 1.0) * g ** (-t)) if k > 0 else np.zeros_like(t)
    return pd.DataFrame({"step": t, "hours": t * m.hours_per_step, "replicas": n, "compute_share": n / m.total_compute})


# ---------------------------------------------------------------------------------------------------------
# What it would take: the early-phase threshold of a configuration, with what the theory cannot cover switched off

def what_it_would_take(cfg: Config) -> dict:
    """R0 of ``cfg``'s early phase and the uniform detection level that brings it to 1, on the nearest covered
    configuration: every mechanism the theory does not cover is switched off (``_uncovered``), and a response
    latency too long to enumerate is replaced by none. Returns ``{"r0", "critical_detection" (per hour; nan: no
    level suffices), "max_latency_hours" (the longest response at which R0 <= 1 with this regime's monitoring;
    nan where R0 > 1), "max_latency_exact" (False: only a lower bound), "max_latency_why" (why not exact),
    "relaxed" (names of what was switched off, each with the direction it moves the real requirement), "text"
    (one line for the report)}``.
    """
    uncovered = _uncovered(cfg)
    c = cfg
    for _, _, off, _ in uncovered:
        c = with_params(c, **off)
    relaxed = [f"{name} ({direction})" for _, name, _, direction in uncovered]
    try:
        r = r0(c)
    except NotImplementedError:  # a colony too large to enumerate at this latency
        relaxed.append(f"response latency {cfg.governance.response_latency:g} h (higher)")
        c = with_params(c, **{"governance.response_latency": 0.0})
        r = r0(c)
    crit = critical_detection(c)  # governance.detection: per hour, like every rate of the configuration
    max_latency, exact, why = float("nan"), False, ""
    if r <= 1:
        max_latency, exact, why = _max_latency(c)
    out = {"r0": r, "critical_detection": crit, "max_latency_hours": max_latency, "max_latency_exact": exact,
           "max_latency_why": why if r <= 1 else "",
           "relaxed": relaxed}
    out["text"] = _take_text(out)
    return out


def _max_latency(cfg: Config, limit_hours: float = 168.0) -> tuple[float, bool, str]:
    """The longest response latency (whole steps, in hours, up to ``limit_hours``) at which R0 stays <= 1,
    whether that is exact, and if not, why: the theory stops (colonies too large to enumerate, or a mechanism it
    does not cover with a latency, such as collusion's flight) or the limit is reached before R0 passes 1, so
    the answer is only known to be at least that."""
    best = 0.0
    step = cfg.sim.hours_per_step
    latency = step
    while latency <= limit_hours:
        try:
            if r0(with_params(cfg, **{"governance.response_latency": latency})) > 1:
                return best, True, ""
        except NotImplementedError as exc:
            return best, False, str(exc).removeprefix("replisim.theory does not cover ")
        best = latency
        latency += step
    return best, False, f"R0 <= 1 up to the {limit_hours:g} h searched"


def _take_text(t: dict) -> str:
    off = f"; switched off: {', '.join(t['relaxed'])}" if t["relaxed"] else ""
    scope = f"(early-phase theory{off}; in brackets, how each moves the real requirement)" if off else \
        "(early-phase theory, exact for this configuration)"
    crit = t["critical_detection"]
    if t["r0"] <= 1:
        lat = t["max_latency_hours"]
        latency = (f"; a response may take up to {lat:g} h" if t["max_latency_exact"]
                   else f"; a response may take at least {lat:g} h (beyond, the theory stops: {t['max_latency_why']})")
        return f"R0 = {t['r0']:.3g} <= 1: the replicas die out{latency} {scope}"
    r0_text = f"R0 = {t['r0']:.3g} > 1" if np.isfinite(t["r0"]) else \
        "R0 beyond numerical range (a colony practically never dies out)"
    if not np.isfinite(crit):
        need = "no detection level on every node brings R0 to 1 with these kill switches"
    else:
        need = (f"detection of {crit:.3g} per hour on every node (a mean time to detect of "
                f"{1 / crit:,.0f} h) with these kill switches brings R0 to 1")
    return f"{r0_text}: {need} {scope}"
