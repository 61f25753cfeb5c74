"""(j) Host-level networks: one slot per node (every node a host, the worm-model setting) on a complete
network, ``scenario=minimal``, from 10^3 to 10^7 nodes (issue 16, item 2).

* **Cost per replica-step** of the stepping loop (``engine.run.run_ensemble``, the world's set-up excluded) at the
  process's equilibrium (half the nodes hold a replica from the start; R0 = 2.5, so about 60% stay occupied),
  beside the RNG-bound reference kernel run over as many agents, in the same process. Goals: within 2x from
  the smallest to the largest network, and the 10^6-node run at least 0.25x the kernel.
* **A few replicas on a large network**: 100 replicas that neither copy nor die on 10^6 nodes, the cost of a step
  with the per-node passes visiting only the listed nodes (``sim.sparse_share``, the default) and visiting
  every node (``sim.sparse_share=0``, what every step cost before). Goal: at most 1 ms a step.
"""

from __future__ import annotations

import contextlib
import time

import numpy as np

import replisim

from . import reference
from .suite import Timing

FEW = 100  # replicas of the "few replicas on a large network" case


def host_cfg(nodes: int, steps: int, initial: int, extra=()):
    return replisim.compose(["scenario=minimal", "network.kind=complete", "network.capacity=1",
                             f"network.nodes={nodes}", f"replica.initial={initial}", f"sim.steps={steps}",
                             "sim.threads=1", *extra])


@contextlib.contextmanager
def engine_clock():
    """While the block runs, every call of the compiled stepping loop (``engine.run.run_ensemble``) is timed: the
    list it yields receives a Timing per call (what ``simulate`` does in Python around it is left out)."""
    import replisim.engine.run as engine_run

    spent = []
    real = engine_run.run_ensemble

    def timed_loop(*args, **kwargs):
        w0, c0 = time.perf_counter(), time.process_time()
        real(*args, **kwargs)
        spent.append(Timing(time.perf_counter() - w0, time.process_time() - c0))

    engine_run.run_ensemble = timed_loop
    try:
        yield spent
    finally:
        engine_run.run_ensemble = real


def engine_time(cfg, seed: int = 1) -> tuple[Timing, object]:
    """The wall and CPU time of the compiled stepping loop of one run (the world's set-up in Python excluded),
    and the ensemble."""
    with engine_clock() as spent:
        ens = replisim.simulate(cfg, runs=1, seed=seed, parallel="ensemble")
    return Timing(sum(t.wall for t in spent), sum(t.cpu for t in spent)), ens


def _best(cfg, repeats: int) -> tuple[Timing, object]:
    runs = [engine_time(cfg) for _ in range(repeats)]
    return Timing(min(t.wall for t, _ in runs), min(t.cpu for t, _ in runs)), runs[-1][1]


def _rng_ns(agents: int, steps: int, repeats: int) -> float:
    """CPU ns per agent-step of the RNG-bound reference kernel over ``agents`` agents."""
    _, _, p, flags = reference.columns(agents)
    key = np.uint64(12345)
    reference.rng_update(key, 0, p[:10], flags[:10])
    best = np.inf
    for _ in range(repeats):
        c0 = time.process_time()
        for t in range(steps):
            reference.rng_update(key, t, p, flags)
        best = min(best, time.process_time() - c0)
    return best / (agents * steps) * 1e9


def hosts(sizes, work: float, repeats: int, few_nodes: int, few_steps: int) -> dict:
    """Cost per replica-step at each size (``work`` replica-steps each, at least 20 steps), and the cost of a
    step with FEW replicas on ``few_nodes`` nodes, sparse and dense."""
    rows = []
    for nodes in sizes:
        initial = nodes // 2
        steps = int(min(20_000, max(20, work / initial)))
        t, ens = _best(host_cfg(nodes, steps, initial), repeats)
        rs = float(ens.outcomes["replica_steps"].iloc[0])
        mean = int(ens.series("replicas").mean())
        rng_ns = _rng_ns(max(mean, 1), min(steps, 50), repeats)
        rows.append({"nodes": nodes, "steps": steps, "replicas_mean": mean, "ns_cpu": t.cpu / rs * 1e9,
                     "ns_wall": t.wall / rs * 1e9, "rng_ns": rng_ns, "vs_rng": rng_ns / (t.cpu / rs * 1e9)})
    costs = [x["ns_cpu"] for x in rows]
    few = {}
    for label, share in (("sparse", []), ("dense", ["sim.sparse_share=0"])):
        cfg = host_cfg(few_nodes, few_steps, FEW, ["replica.attempt_rate=0", "governance.detection=0", *share])
        t, ens = _best(cfg, repeats)
        assert int(ens.outcomes["final_replicas"].iloc[0]) == FEW
        few[label + "_ms"] = t.cpu / few_steps * 1e3
        few[label + "_wall_ms"] = t.wall / few_steps * 1e3
    return {"rows": rows, "spread": max(costs) / min(costs), "few_nodes": few_nodes, "few_steps": few_steps,
            "few_replicas": FEW, **few}
