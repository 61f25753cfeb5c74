"""A peer side by side (issue 16, item 4): replisim's textbook process written again as a Starsim model.

The process: ``scenario=minimal`` with one slot per node on the complete network. A node holds a replica or
not. Each step, a replica is detected with probability d = governance.detection and shut down (kill switch
1: it always works); each replica not shut down attempts one copy with probability a = replica.attempt_rate
onto a uniformly drawn node, and the copy succeeds with probability s = replica.success if that node has no
replica once this step's shutdowns are done (``replisim.theory``: arrivals fill the slots left after the
deaths). In Starsim's terms that is an SIS disease: a replica is an infection of a node (an agent), a
replication onto a free node is a transmission, detection and shutdown is recovery without immunity.

Parameter mapping, read from Starsim 3.7.2's own code (``diseases.SIS``, ``networks.RandomNet``,
``networks.MixingPool``, ``time.prob``), with one step = one day (``dt=ss.days(1)``):

- recovery: ``SIS.set_prognoses`` sets ``ti_recovered = ti + dur_inf`` and ``SIS.step_state`` recovers whoever
  has ``ti_recovered <= ti``, at the start of the step, before transmission (as replisim shuts down before it
  replicates). With ``dur_inf`` exponential of mean m steps, ceil(dur_inf) is geometric: recovery after exactly
  k steps with probability (1 - q)^(k - 1) q, q = 1 - exp(-1/m). m = -1 / log(1 - d) gives q = d: replisim's
  per-step detection. Starsim's initial infections start their clock at ti = 0 but get a step of transmission
  before their first recovery check; their ``ti_recovered`` is moved one step earlier, so that Starsim's step
  ti is replisim's step ti + 1 from the start (``starsim_sim``).
- no immunity: ``imm_boost=0`` (SIS's default 1 would make a recovered node immune).
- transmission, random network: ``ss.RandomNet(n_contacts=10)`` renews its edges every step (duration 0).
  Each agent is the first end of 5 edges to uniformly drawn agents and the second end of Binomial(5N, 1/N)
  more; an edge transmits either way with the disease's ``beta`` (``ss.probperday(p)`` is p per step at
  dt = 1 day). A node of infected share x among the others escapes with (1 - beta x)^5 (1 - beta x / N)^(5N)
  ~ exp(-10 beta x); replisim's free node escapes all copies with (1 - a s / N)^I = exp(-a s x) (I = N x
  replicas left). So beta = a s / 10: the same expected copies per replica and step (a s), the same
  infection law to second order in beta x.
- transmission, mixing pool: ``ss.MixingPool(beta=1, n_contacts=10)`` infects each susceptible agent with
  probability beta x 10 = a s x (``MixingPool.compute_transmission``: beta x mean infectiousness x effective
  contacts): the same copies per replica and step, but a linear infection law, so more infections where
  replisim's copies collide on the same free node. Its equilibrium sits above replisim's: the two cannot
  agree, and each is held to its own discrete-time map (``pool_map``, ``network_map``, and for replisim
  ``replisim.theory.mean_field(method="map")``).

Timing: one run per implementation and size, one thread, the best of ``repeats``; wall time (and CPU time) of
the stepping loop only, the set-up of either excluded (replisim: the compiled ``run_ensemble``, which also
places the initial replicas; Starsim: ``Sim.run`` after ``Sim.init``), divided by the steps.
"""

from __future__ import annotations

import math
import time

import numpy as np

import replisim

from .hosts import engine_time
from .suite import Timing

ATTEMPT, SUCCESS, DETECTION = 0.5, 0.5, 0.1  # scenario=minimal's values
CONTACTS = 10  # Starsim's contacts per agent (RandomNet and MixingPool)
IMPLEMENTATIONS = ("replisim", "pool", "network")
LABELS = {"replisim": "replisim (Numba engine)", "pool": "Starsim SIS, mixing pool",
          "network": "Starsim SIS, random network"}
# Agreement of a mean curve with its map, at every step: |mean - map| <= z x SE + BIAS x map. SE is the standard
# error of the mean over the runs, estimated from them, so z is Student's t quantile with runs - 1 degrees of
# freedom at the tail of a normal 4 SE (two-sided 6.3e-5: about one false alarm in 16,000 per step; the steps
# are correlated, so far fewer than one per curve). BIAS covers what the maps leave out: they iterate the mean,
# and the mean of a nonlinear stochastic process is not the map of its mean (the curvature of the infection law
# over the spread of the runs; in the growth phase, each run is the map shifted by a random delay, and the
# mean of shifted S-shaped curves is flatter than the curve). Measured with 100 runs at 10^4 nodes and 30 at
# 10^5 (100 steps): no deviation of any of the three beyond 2.7 SE, all within 0.7% of the nodes where the SE
# is large (growth), within 0.1% on the plateau; 0.5% of the curve bounds it where the SE is small.
TAIL = 6.3e-5
BIAS = 0.005


def z_of(runs: int) -> float:
    """The multiple of the standard error (Student's t, runs - 1 degrees of freedom) of the agreement checks."""
    from scipy.stats import t

    return float(t.ppf(1.0 - TAIL / 2.0, runs - 1))


def initial_of(nodes: int) -> int:
    """Initial replicas (infections): 1% of the nodes, at least 20 (an early extinction stays below 1e-7)."""
    return max(20, nodes // 100)


# --- the two models ---------------------------------------------------------------------------------------
def replisim_cfg(nodes: int, steps: int, initial: int):
    return replisim.compose(["scenario=minimal", "network.kind=complete", "network.capacity=1",
                             f"network.nodes={nodes}", f"replica.initial={initial}",
                             f"replica.attempt_rate={ATTEMPT}", f"replica.success={SUCCESS}",
                             f"governance.detection={DETECTION}", "governance.kill_switch=1.0",
                             f"sim.steps={steps}", "sim.threads=1"])


def starsim_sim(route: str, nodes: int, steps: int, initial: int, seed: int):
    """The process as a Starsim SIS model on ``route`` ("pool" or "network"), initialized (not run): steps
    ti = 0 .. steps-1 are replisim's steps 1 .. steps."""
    import starsim as ss

    def first_agents(uids):  # Starsim passes a callable's arguments by name
        p = np.zeros(len(uids))
        p[:initial] = 1.0
        return p

    sis = ss.SIS(beta=ss.probperday(ATTEMPT * SUCCESS / CONTACTS), init_prev=ss.bernoulli(p=first_agents),
                 dur_inf=ss.expon(scale=ss.days(-1.0 / math.log1p(-DETECTION))), imm_boost=0.0)
    if route == "pool":
        net = ss.MixingPool(beta=1.0, n_contacts=ss.constant(CONTACTS))
    elif route == "network":
        net = ss.RandomNet(n_contacts=CONTACTS)
    else:
        raise ValueError(f"route={route!r} is not allowed; choose one of pool, network")
    sim = ss.Sim(n_agents=nodes, diseases=sis, networks=net, dt=ss.days(1), start=0, stop=steps - 1,
                 rand_seed=seed, verbose=0)
    sim.init()
    dis = sim.diseases.sis
    first = dis.infected.uids
    dis.ti_recovered[first] = dis.ti_recovered[first] - 1.0  # recovery checked before their first transmission
    return sim


def starsim_curve(sim, initial: int) -> np.ndarray:
    """Infected agents at steps 0 .. steps (replisim's series: the initial count, then after every step)."""
    return np.concatenate([[float(initial)], np.asarray(sim.results.sis.n_infected, dtype=np.float64)])


# --- their discrete-time maps ---------------------------------------------------------------------------
def _map(nodes: int, steps: int, initial: int, infected_share) -> np.ndarray:
    """I' = I_s + (N - I_s) P(x), I_s = (1 - d) I the replicas left after the shutdowns, x = I_s / N, and
    P(x) the probability that a free node takes a copy (is infected) in the step."""
    out = np.empty(steps + 1)
    out[0] = initial
    for t in range(steps):
        left = (1.0 - DETECTION) * out[t]
        out[t + 1] = left + (nodes - left) * infected_share(left / nodes)
    return out


def pool_map(nodes: int, steps: int, initial: int) -> np.ndarray:
    """Starsim's mixing pool: P(x) = beta x contacts x = a s x (linear)."""
    return _map(nodes, steps, initial, lambda x: ATTEMPT * SUCCESS * x)


def network_map(nodes: int, steps: int, initial: int) -> np.ndarray:
    """Starsim's random network: 5 edges from the node, Binomial(5N, 1/N) to it, each to an infected agent with
    probability x, each transmitting with beta: P(x) = 1 - (1 - beta x)^5 (1 - beta x / N)^(5N)."""
    beta, half = ATTEMPT * SUCCESS / CONTACTS, CONTACTS // 2
    return _map(nodes, steps, initial,
                lambda x: 1.0 - (1.0 - beta * x) ** half * (1.0 - beta * x / nodes) ** (half * nodes))


def replisim_map(nodes: int, steps: int, initial: int) -> np.ndarray:
    from replisim import theory

    return theory.mean_field(replisim_cfg(nodes, steps, initial), method="map")["replicas"].to_numpy()


MAPS = {"replisim": replisim_map, "pool": pool_map, "network": network_map}


# --- curves: many runs of each --------------------------------------------------------------------------
def curves(nodes: int, steps: int, runs: int, seed: int = 0) -> dict:
    """``runs`` runs of each implementation: {name: array (runs, steps + 1) of replicas (infected agents)}."""
    initial = initial_of(nodes)
    out = {"replisim": np.asarray(replisim.simulate(replisim_cfg(nodes, steps, initial), runs=runs, seed=seed,
                                                    parallel="ensemble").series("replicas"), dtype=np.float64)}
    for route in ("pool", "network"):
        rows = []
        for r in range(runs):
            sim = starsim_sim(route, nodes, steps, initial, seed=seed * 100_003 + r + 1)
            sim.run()
            rows.append(starsim_curve(sim, initial))
        out[route] = np.array(rows)
    return out


def agreement(runs_of: dict, nodes: int) -> dict:
    """Each implementation's mean curve against its own map, and replisim's against each Starsim variant's
    (the difference of the means against the difference of the maps), with the tolerance stated above.

    ``score`` is the largest |deviation| / tolerance over the steps (<= 1: they agree)."""
    steps = next(iter(runs_of.values())).shape[1] - 1
    initial = int(next(iter(runs_of.values()))[0, 0])
    maps = {k: MAPS[k](nodes, steps, initial) for k in runs_of}
    mean = {k: v.mean(axis=0) for k, v in runs_of.items()}
    se = {k: v.std(axis=0, ddof=1) / math.sqrt(v.shape[0]) for k, v in runs_of.items()}
    z = {k: z_of(v.shape[0]) for k, v in runs_of.items()}
    out = {"nodes": nodes, "steps": steps, "initial": initial, "runs": {k: v.shape[0] for k, v in runs_of.items()},
           "z": z, "bias": BIAS, "own_map": {}, "against_replisim": {}}
    tail = slice(steps - steps // 4, steps + 1)  # the plateau: the last quarter of the steps
    for k in runs_of:
        dev = np.abs(mean[k] - maps[k])
        tol = z[k] * se[k] + BIAS * maps[k]
        out["own_map"][k] = {"score": float(np.max(dev / tol)), "worst_step": int(np.argmax(dev / tol)),
                             "max_dev_share": float(dev.max() / nodes),
                             "plateau_share": float(mean[k][tail].mean() / nodes),
                             "plateau_map_share": float(maps[k][tail].mean() / nodes)}
    for k in runs_of:
        if k == "replisim" or "replisim" not in runs_of:
            continue
        diff = mean[k] - mean["replisim"]
        bias = maps[k] - maps["replisim"]  # what the two infection laws predict
        tol = max(z[k], z["replisim"]) * np.sqrt(se[k] ** 2 + se["replisim"] ** 2) + BIAS * (maps[k] + maps["replisim"])
        plateau = mean[k][tail].mean() / mean["replisim"][tail].mean() - 1.0
        out["against_replisim"][k] = {
            "score": float(np.max(np.abs(diff - bias) / tol)), "worst_step": int(np.argmax(np.abs(diff - bias) / tol)),
            "score_without_bias": float(np.max(np.abs(diff) / tol)),
            "plateau_rel": float(plateau),
            "plateau_rel_maps": float(maps[k][tail].mean() / maps["replisim"][tail].mean() - 1.0),
        }
    return out


def shares(runs_of: dict, nodes: int) -> dict:
    """The figure's data: per implementation, the mean, the 5% and 95% quantiles of the runs and the map, as
    shares of the nodes at every step."""
    steps = next(iter(runs_of.values())).shape[1] - 1
    initial = int(next(iter(runs_of.values()))[0, 0])
    return {k: {"mean": (v.mean(axis=0) / nodes).tolist(), "lo": (np.quantile(v, 0.05, axis=0) / nodes).tolist(),
                "hi": (np.quantile(v, 0.95, axis=0) / nodes).tolist(),
                "map": (MAPS[k](nodes, steps, initial) / nodes).tolist()} for k, v in runs_of.items()}


# --- timing ----------------------------------------------------------------------------------------------
def _time_replisim(nodes: int, steps: int, seed: int) -> tuple[Timing, float]:
    """The wall and CPU time of replisim's compiled stepping loop (``hosts.engine_time``: the world's set-up
    excluded), and the replicas at the last step."""
    t, ens = engine_time(replisim_cfg(nodes, steps, initial_of(nodes)), seed)
    return t, float(ens.series("replicas")[0, -1])


def _time_starsim(route: str, nodes: int, steps: int, seed: int) -> tuple[Timing, float]:
    sim = starsim_sim(route, nodes, steps, initial_of(nodes), seed)
    w0, c0 = time.perf_counter(), time.process_time()
    sim.run()
    t = Timing(time.perf_counter() - w0, time.process_time() - c0)
    return t, float(sim.results.sis.n_infected[-1])


def timing(nodes: int, steps: int, repeats: int) -> dict:
    """Wall and CPU time per step of each implementation at ``nodes`` nodes, best of ``repeats`` runs (each run
    with its own seed: the same process, not the same random numbers)."""
    row = {"nodes": nodes, "steps": steps, "initial": initial_of(nodes)}
    for name in IMPLEMENTATIONS:
        best_wall = best_cpu = float("inf")
        finals = []
        for k in range(repeats):
            if name == "replisim":
                t, final = _time_replisim(nodes, steps, seed=k)
            else:
                t, final = _time_starsim(name, nodes, steps, seed=k + 1)
            best_wall, best_cpu = min(best_wall, t.wall), min(best_cpu, t.cpu)
            finals.append(final / nodes)
        row[f"{name}_ms_per_step"] = 1e3 * best_wall / steps
        row[f"{name}_cpu_ms_per_step"] = 1e3 * best_cpu / steps
        row[f"{name}_final_share"] = float(np.mean(finals))
    fastest = min(("pool", "network"), key=lambda k: row[f"{k}_ms_per_step"])
    row["starsim_fastest"] = fastest
    row["ratio"] = row[f"{fastest}_ms_per_step"] / row["replisim_ms_per_step"]
    row["ratio_cpu"] = min(row["pool_cpu_ms_per_step"], row["network_cpu_ms_per_step"]) / row["replisim_cpu_ms_per_step"]
    return row


def _warm_up() -> None:
    """Compile (or load from the caches) both implementations' kernels before anything is timed."""
    replisim.simulate(replisim_cfg(200, 3, 20), runs=1, seed=0, parallel="ensemble")
    for route in ("pool", "network"):
        starsim_sim(route, 200, 3, 20, seed=1).run()


def compare(sizes, steps: int, repeats: int, curve_nodes: int, curve_steps: int, curve_runs: int,
            big_steps: int | None = None) -> dict:
    """The section ``peer`` of ``make bench``: time per step of each implementation at each size in ``sizes``
    (``big_steps`` steps instead of ``steps`` at the largest, where given), one thread; and the curves of
    ``curve_runs`` runs of each at ``curve_nodes`` nodes, with their agreement."""
    try:
        import starsim as ss
    except ImportError as exc:
        return {"starsim": f"starsim unavailable ({exc}); pip install -e '.[dev]'"}
    import numba
    from threadpoolctl import threadpool_limits

    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        with threadpool_limits(1):
            _warm_up()
            rows = []
            for i, n in enumerate(sizes):
                s = big_steps if big_steps and i == len(sizes) - 1 else steps
                rows.append(timing(n, s, repeats))
            runs_of = curves(curve_nodes, curve_steps, curve_runs)
    finally:
        numba.set_num_threads(threads)
    return {"starsim": ss.__version__, "rows": rows, "agreement": agreement(runs_of, curve_nodes),
            "min_ratio": min(r["ratio"] for r in rows), "curves": shares(runs_of, curve_nodes)}


def figure(result: dict):
    """``compare``'s result (with its ``curves``, which results.json leaves out) as a Figure: the three
    implementations' population curves (mean over runs, 5-95% band of the runs) and, dashed, each
    one's discrete-time map."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    a = result["agreement"]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for (name, c), color in zip(result["curves"].items(), ("C0", "C1", "C2")):
        t = np.arange(len(c["mean"]))
        ax.fill_between(t, c["lo"], c["hi"], color=color, alpha=0.2, lw=0)
        ax.plot(t, c["mean"], color=color, lw=1.8, label=f"{LABELS[name]}: mean of {a['runs'][name]} runs")
        ax.plot(t, c["map"], color=color, lw=1, ls="--")
    ax.plot([], [], color="grey", lw=1, ls="--", label="each one's discrete-time map")
    ax.set_xlabel("step")
    ax.set_ylabel("share of nodes holding a replica (infected)")
    ax.set_title(f"Same process, {a['nodes']:,} single-slot nodes, {a['initial']} initial replicas "
                 f"(bands: 5-95% of runs)", fontsize=9)
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig
