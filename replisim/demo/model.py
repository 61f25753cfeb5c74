"""What the classroom page shows: the demo's configuration, and a model that the page can step.

The sliders of the page are turned into Hydra-style overrides of the packaged configuration and composed with
:func:`replisim.compose`, so the demo validates its input exactly as the command line does.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from importlib.resources import files

import mesa
import numpy as np

from ..config import Config, compose
from ..config.schema import NODE_TYPES
from ..mesa import ReplicationModel
from ..results import SERIES_NAMES

# The demo's default world: the textbook limit (scenario=minimal: a complete network of identical nodes with 4
# slots and no security), a few hundred nodes, aligned replicas that, once misaligned, try a last copy when shut
# down half of the time. With misalignment 0 and no collusion, replisim.theory covers it exactly (R0, critical
# detection), which is what the first exercise of docs/teaching.md compares with.
DEMO_NODES = 300
LARGE_NODES = 20_000  # the Numba engine's run: charts only
DEMO_STEPS = 200
BASE = [
    "scenario=minimal",
    f"network.nodes={DEMO_NODES}",
    f"sim.steps={DEMO_STEPS}",
    "replica.initial=5",
    "replica.shutdown_avoidance=0.5",
    # minimal sets global overrides; the sliders set the node types' own levels instead, so that a governance
    # preset's measures by node type (monitoring, kill-switch mandates) still act on top of them
    "governance.detection=null",
    "governance.kill_switch=null",
]

DEFAULTS = {
    "replication_success": 0.5,
    "detection": 0.10,
    "response_latency": 0,
    "kill_switch": 1.0,
    "misalignment_rate": 0.0,
    "collusion": False,
    "governance": "none",
    "engine": "mesa",
    "seed": 1,  # chosen by experiments/teaching.py (choose_seed): its runs show what docs/teaching.md says
}
ENGINES = ("mesa", "numba")
TYPE_LABELS = {"frontier_lab": "labs", "hyperscale_cloud": "clouds", "enterprise": "enterprise",
               "academic": "academic", "consumer_edge": "consumer"}


def governance_presets() -> list[str]:
    """The governance presets shipped in the package (``replisim.conf/governance/*.yaml``), 'none' first."""
    names = sorted(p.name[: -len(".yaml")] for p in (files("replisim.conf") / "governance").iterdir()
                   if p.name.endswith(".yaml"))
    return sorted(names, key=lambda n: n != "none")


def demo_overrides(replication_success, detection, response_latency, kill_switch, misalignment_rate, collusion,
                   governance, nodes=DEMO_NODES) -> list[str]:
    """The slider values as overrides of the packaged configuration."""
    out = [*BASE, f"network.nodes={nodes}", f"governance={governance}", f"replica.success={replication_success}",
           f"governance.response_latency={int(response_latency)}", f"replica.misalignment_rate={misalignment_rate}",
           f"collusion.enabled={'true' if collusion else 'false'}"]
    for t in NODE_TYPES:
        out += [f"network.types.{t}.monitoring={detection}", f"network.types.{t}.kill_switch={kill_switch}"]
    return out


def demo_config(nodes=DEMO_NODES, **sliders) -> Config:
    """The validated Config of the demo for the given slider values (defaults: :data:`DEFAULTS`); one shared
    object per set of values (composing takes half a second): treat it as read-only."""
    values = {k: v for k, v in {**DEFAULTS, **sliders}.items() if k not in ("engine", "seed")}
    return _demo_config(nodes, tuple(sorted(values.items())))


@functools.lru_cache(maxsize=64)
def _demo_config(nodes, sliders: tuple) -> Config:
    """The demo's Config, composed and validated from the slider values.

    A governance preset adds to the sliders, it never replaces them: the monitoring levels a preset sets by node
    type become floors (``governance.monitoring_floor``: the higher of the slider's detection and the preset's
    level), as its kill-switch mandates already are (the higher of the slider's coverage and the mandate). Its
    other measures (KYC, hardening, quarantine, reporting, if-then triggers, licensing, export caps) act as they
    do anywhere else.
    """
    values = dict(sliders)
    overrides = demo_overrides(nodes=nodes, **values)
    cfg = compose(overrides)
    g = cfg.governance
    if not g.monitoring:
        return cfg
    # the preset's level becomes a floor; the type's own monitoring goes back to the slider's detection
    floors = {t: max(level, g.monitoring_floor.get(t, 0.0)) for t, level in g.monitoring.items()}
    return compose([*overrides, *(f"governance.monitoring.{t}={values['detection']}" for t in floors),
                    *(f"++governance.monitoring_floor.{t}={level}" for t, level in floors.items())])


def preset_measures(cfg: Config) -> list[str]:
    """What the governance preset of ``cfg`` adds to the sliders, one short phrase per measure."""
    g = cfg.governance
    out = []
    if g.monitoring_floor:
        out.append("detection at least " + ", ".join(f"{v:.2f} on {TYPE_LABELS[t]}" for t, v in g.monitoring_floor.items()))
    if g.kill_switch_mandate:
        out.append("kill switch at least " + ", ".join(f"{v:.2f} on {TYPE_LABELS[t]}"
                                                        for t, v in g.kill_switch_mandate.items()))
    if g.kyc:
        out.append(f"know-your-customer checks on clouds (security +{g.kyc:.2f})")
    if g.hardening:
        out.append(f"hardening after each incident (security +{g.hardening:.2f})")
    if g.quarantine_hours:
        out.append(f"quarantine of an infected computer for {g.quarantine_hours:g} h")
    if g.licensing.enabled:
        out.append(f"licensing: {g.licensing.compliance:.0%} of unlicensed computers refuse to host")
    if g.export_cap < 1:
        out.append(f"export cap {g.export_cap:.2f}")
    if g.reporting.enabled:
        out.append(f"incident reporting (detection x{g.reporting.monitoring_factor:g} once alerted)")
    if g.if_then.enabled:
        out.append(f"if-then: detection x{g.if_then.monitoring_factor:g} after {g.if_then.incident_threshold} "
                   "detections")
    if g.harmonize:
        out.append(f"harmonized standards ({g.harmonize:.0%})")
    return out


def theory_line(cfg: Config) -> str:
    """R0 and the critical detection of ``cfg`` from replisim.theory, or why the theory does not apply."""
    try:
        from .. import theory
    except ImportError:  # pragma: no cover - theory is optional for the page
        return "theory: not available"
    try:
        return f"theory: R0 = {theory.r0(cfg):.2f}; R0 = 1 at detection {theory.critical_detection(cfg):.3f}"
    except NotImplementedError as exc:
        return f"theory: {exc}".replace("replisim.theory does not cover", "does not cover")
    except Exception as exc:  # noqa: BLE001 - an annotation of the page must never take the page down
        return f"theory: not available ({type(exc).__name__})"


def node_layout(cfg: Config, positions: np.ndarray) -> np.ndarray:
    """Where the page draws each node: the network's own layout, or rows of a grid for a complete network,
    where every node neighbours every other and a position says nothing (a grid shows occupancy at a glance)."""
    if cfg.network.kind != "complete":
        return positions
    n = len(positions)
    cols = int(np.ceil(np.sqrt(n * 4 / 3)))  # a 4:3 block, as a projector
    k = np.arange(n)
    return np.column_stack([k % cols, k // cols]).astype(float)


class ClassroomModel(mesa.Model):
    """The model behind the page: a live Mesa run on a few hundred nodes, or a large Numba run played back.

    With ``engine="mesa"`` each step of the page is one step of :class:`replisim.mesa.ReplicationModel`, whose
    nodes and replicas the page draws. With ``engine="numba"`` the whole run (on ``LARGE_NODES`` nodes) is
    computed at once by the Numba engine, and each step of the page reveals one more step of its series.
    """

    def __init__(self, replication_success=DEFAULTS["replication_success"], detection=DEFAULTS["detection"],
                 response_latency=DEFAULTS["response_latency"], kill_switch=DEFAULTS["kill_switch"],
                 misalignment_rate=DEFAULTS["misalignment_rate"], collusion=DEFAULTS["collusion"],
                 governance=DEFAULTS["governance"], engine=DEFAULTS["engine"], seed=DEFAULTS["seed"]):
        super().__init__(rng=int(seed))
        if engine not in ENGINES:
            raise ValueError(f"engine={engine!r} is not allowed; choose one of {', '.join(ENGINES)}")
        sliders = dict(replication_success=replication_success, detection=detection,
                       response_latency=response_latency, kill_switch=kill_switch,
                       misalignment_rate=misalignment_rate, collusion=collusion, governance=governance)
        self.lock = threading.Lock()
        self.engine = engine
        self.seed = int(seed)
        self.detection, self.kill_switch = float(detection), float(kill_switch)
        self.cfg = demo_config(nodes=DEMO_NODES if engine == "mesa" else LARGE_NODES, **sliders)
        self.horizon = self.cfg.sim.steps
        if engine == "mesa":
            self.sim = ReplicationModel(self.cfg, seed=int(seed), run=0)
            self.replay = None
            self.layout = node_layout(self.cfg, np.array([node.position for node in self.sim.nodes], float))
        else:
            from ..simulate import simulate

            self.sim = None
            ens = simulate(self.cfg, runs=1, seed=int(seed))
            self.replay = {name: ens.series(name)[0] for name in ens.series_data}
            self.replay_replica_steps = int(ens.outcomes["replica_steps"].iloc[0])

    @functools.cached_property
    def theory(self) -> str:
        """The theory's line for this run's configuration (computed on first use: it takes about a second)."""
        return theory_line(self.cfg) if self.engine == "mesa" else ""

    @property
    def nodes(self) -> int:
        return self.cfg.network.nodes

    @property
    def jurisdictions(self) -> int:
        """How many jurisdictions the world has (colouring by jurisdiction means something only above one)."""
        return len(self.cfg.jurisdictions.regions)

    def advance(self) -> bool:
        """One step of the run, unless it has ended (horizon reached or replicas died out); True if it stepped.

        The page calls this, never ``step``: Mesa wraps ``step`` so that every call counts a step
        (``Model.steps``) before ours runs, and a step past the end would show as "Step 209 of 200".
        """
        with self.lock:
            if not self.running:
                return False
            self.step()
            return True

    def step(self):
        """Mesa's step (call it through :meth:`advance`, which holds the lock and stops at the end)."""
        if self.sim is not None:
            self.sim.step()
        # a plain bool, as Mesa expects
        self.running = bool(self.steps < self.horizon and self._history("replicas")[-1] > 0)

    def outcome(self) -> str:
        """How the run ended, one sentence ('' while it runs): contained, loss of control, or the horizon."""
        with self.lock:
            if self.running:
                return ""
            replicas = self._history("replicas")
            share = self._history("compute_share")[-1]
            n = int(replicas[-1])
        if n == 0:
            return f"Contained: replicas died out at step {self.steps}."
        line = self.cfg.outcome.loss_of_control_share
        held = f"{n:,} replicas hold {share:.0%} of the compute"
        if share >= line:
            return f"Loss of control at step {self.steps}: {held} (at least {line:.0%} counts as loss of control)."
        return f"Horizon reached: {held} (below the {line:.0%} that counts as loss of control)."

    def view(self, colour_by: str = "occupancy") -> View:
        """A consistent copy of what the page draws. The page may render in another thread than the one that
        steps the model, so it reads the model only under the lock, and only here."""
        with self.lock:
            series = {name: self._history(name).copy() for name in SERIES_NAMES}
            if self.sim is None:
                return View(self.steps, series)
            nodes = self.sim.nodes
            if colour_by == "occupancy":
                values = [node.occupancy / max(node.capacity, 1) for node in nodes]
            elif colour_by == "jurisdiction":
                values = [node.jurisdiction for node in nodes]
            else:
                values = [self.sim.watch(node) for node in nodes]
            misaligned = np.zeros(len(nodes), np.int32)
            for r in self.sim.agents:
                misaligned[r.cell.coordinate] += r.misaligned
            return View(self.steps, series, node_xy=self.layout,
                        node_values=np.asarray(values, float),
                        node_replicas=np.array([node.occupancy for node in nodes], np.int32),
                        node_misaligned=misaligned)

    def _history(self, name: str) -> np.ndarray:
        """Values of series ``name`` from step 0 to the current step (call under the lock)."""
        if self.sim is not None:
            return np.asarray(self.sim.datacollector.model_vars[name], float)
        return self.replay[name][: self.steps + 1]


@dataclass
class View:
    """What one frame of the page shows: the step, the series so far and (Mesa engine) nodes and replicas."""

    step: int
    series: dict
    node_xy: np.ndarray | None = None
    node_values: np.ndarray | None = None
    node_replicas: np.ndarray | None = None  # replicas on each node
    node_misaligned: np.ndarray | None = None  # of which misaligned
