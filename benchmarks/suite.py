"""The measurements of ``make bench`` (issue 5 section 1, issue 2 section 8), one function per section.

The machine is shared and noisy, so every figure is the best of ``repeats`` timings (the run least disturbed
by other processes), ratios are taken between figures measured side by side in the same process, and
single-thread figures are given both as wall-clock and as CPU time of this process (CPU time does not count
the time the process waited for a core, so it is the fairer "one core of this machine" figure on a loaded
machine; wall-clock is what a user waits).

Every function returns a dict of plain numbers and strings (the rows of the report and of results.json).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

import replisim
from replisim.engine import state
from replisim.results import SERIES_NAMES

from . import reference

REPO = Path(__file__).resolve().parent.parent

# Every mechanism of the model switched on, at rates that keep a large population alive (so the figure is
# not flattered by an early extinction): collusion (warnings, flight, footholds, blinding), emergent
# misalignment, mutation, response latency, hardening, quarantine, strategic targeting, if-then commitments,
# incident reporting and retraining.
EVERY_MECHANISM = [
    "network.kind=complete", "network.security=0.2",
    "replica.initial_misaligned=0.5", "replica.attempt_rate=0.5", "replica.success=0.6", "replica.evasion=0.2",
    "replica.shutdown_avoidance=0.5", "replica.misalignment_rate=0.1", "replica.mutation_sd=0.02",
    "replica.strategic=true", "governance.detection=0.002", "governance.response_latency=2",
    "governance.hardening=0.001", "governance.quarantine_hours=1", "governance.retraining_rate=0.01",
    "governance.if_then.enabled=true", "governance.reporting.enabled=true", "collusion.enabled=true",
]
SLOTS_PER_NODE = 120  # network.capacity: 10^7 replicas on 10^5 nodes need at least 100
STREAM_AGENTS = 25_000_000  # 2 x 100 MB columns


def population_cfg(replicas: int, steps: int, threads: int = 1, extra=()):
    """Every mechanism on, ``replicas`` live replicas from the start on replicas/100 nodes of 120 slots."""
    nodes = max(10, replicas // 100)
    return replisim.compose(EVERY_MECHANISM + [
        f"network.nodes={nodes}", f"network.capacity={SLOTS_PER_NODE}", f"replica.initial={replicas}",
        f"sim.steps={steps}", f"sim.threads={threads}", *extra])


@dataclass
class Timing:
    wall: float
    cpu: float


def timed(fn, repeats: int):
    """Best wall and best CPU time of ``repeats`` calls, and the last result."""
    best_wall = best_cpu = float("inf")
    out = None
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        best_wall = min(best_wall, time.perf_counter() - w0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    return Timing(best_wall, best_cpu), out


def replica_steps(ens) -> float:
    return float(ens.outcomes["replica_steps"].sum())


def fingerprint(ens) -> str:
    import hashlib

    h = hashlib.sha256(ens.outcomes.to_numpy(dtype=float, na_value=-1.0).tobytes())
    for name in SERIES_NAMES:
        h.update(np.ascontiguousarray(ens.series(name)).tobytes())
    return h.hexdigest()[:16]


def warm_up():
    """Compile (or load from the cache) every kernel before anything is timed."""
    cfg = population_cfg(2000, 3)
    replisim.simulate(cfg, runs=1, seed=0, parallel="ensemble")
    replisim.simulate(cfg, runs=1, seed=0, parallel="within_run")
    a, b, p, flags = reference.columns(10)
    reference.stream_update(a, b, np.float32(0.5))
    reference.rng_update(np.uint64(1), 1, p, flags)


# --- headline and (b): the engine against the reference kernels -------------------------------------------
def headline(replicas: int, steps: int, repeats: int) -> dict:
    """Engine replica-steps/s on one thread, >= 10^6 live replicas, every mechanism on, next to the two
    reference kernels over as many agents (issue 2 section 8 and issue 5 section 1b)."""
    cfg = population_cfg(replicas, steps, threads=1)
    t_eng, ens = timed(lambda: replisim.simulate(cfg, runs=1, seed=1, parallel="ensemble"), repeats)
    rs = replica_steps(ens)
    n = int(ens.series("replicas").mean())  # mean live replicas over the run
    _, _, p, flags = reference.columns(n)
    # the streaming kernel runs over columns far larger than the 32 MiB L3 cache, or it measures the cache
    n_bw = max(n, STREAM_AGENTS)
    a, b, _, _ = reference.columns(n_bw)
    key = np.uint64(12345)

    def rng_pass():
        for t in range(steps):
            reference.rng_update(key, t, p, flags)

    def stream_pass():
        for _ in range(steps):
            reference.stream_update(a, b, np.float32(0.5))

    t_rng, _ = timed(rng_pass, repeats)
    t_bw, _ = timed(stream_pass, repeats)
    agent_steps = float(n) * steps
    bw_steps = float(n_bw) * steps
    out = {
        "replicas_mean": n, "replicas_final": int(ens.outcomes["final_replicas"].iloc[0]), "steps": steps,
        "engine_wall_Mps": rs / t_eng.wall / 1e6, "engine_cpu_Mps": rs / t_eng.cpu / 1e6,
        "rng_kernel_wall_Mps": agent_steps / t_rng.wall / 1e6, "rng_kernel_cpu_Mps": agent_steps / t_rng.cpu / 1e6,
        "stream_agents": n_bw,
        "stream_kernel_wall_Mps": bw_steps / t_bw.wall / 1e6, "stream_kernel_cpu_Mps": bw_steps / t_bw.cpu / 1e6,
        "stream_kernel_GBps": bw_steps * 12 / t_bw.cpu / 1e9,  # 4 B read of a and of b, 4 B written
    }
    out["engine_vs_rng_cpu"] = out["engine_cpu_Mps"] / out["rng_kernel_cpu_Mps"]
    out["engine_vs_rng_wall"] = out["engine_wall_Mps"] / out["rng_kernel_wall_Mps"]
    out["engine_vs_stream_cpu"] = out["engine_cpu_Mps"] / out["stream_kernel_cpu_Mps"]
    return out


# --- (a): the Numba engine against the Mesa engine -----------------------------------------------------------
MESA_REPLICAS, MESA_STEPS = 20_000, 20  # every mechanism on, at capacity: the Mesa engine runs ~2 s per run


def mesa_vs_numba(mesa_runs: int, numba_runs: int, repeats: int, replicas: int = MESA_REPLICAS,
                  steps: int = MESA_STEPS) -> dict:
    """Same config (every mechanism on, ``replicas`` replicas on replicas/100 nodes), one thread:
    replica-steps/s of both engines."""
    cfg = population_cfg(replicas, steps, threads=1)
    t_nb, ens_nb = timed(lambda: replisim.simulate(cfg, runs=numba_runs, seed=0, parallel="ensemble"), repeats)
    out = {"config": f"every mechanism, {replicas:,} replicas, {cfg.network.nodes} nodes, {steps} steps",
           "numba_runs": numba_runs,
           "numba_wall_Mps": replica_steps(ens_nb) / t_nb.wall / 1e6,
           "numba_cpu_Mps": replica_steps(ens_nb) / t_nb.cpu / 1e6}
    try:
        from replisim.mesa.run import simulate_mesa  # noqa: F401
    except ImportError as exc:
        out["mesa"] = f"mesa engine unavailable ({exc})"
        return out
    try:
        t_me, ens_me = timed(lambda: replisim.simulate(cfg, runs=mesa_runs, seed=0, engine="mesa"), repeats)
    except Exception as exc:  # noqa: BLE001 - another developer's engine: report, do not hide the other rows
        out["mesa"] = f"mesa engine failed: {type(exc).__name__}: {exc}"
        return out
    out.update({"mesa_runs": mesa_runs,
                "mesa_wall_Mps": replica_steps(ens_me) / t_me.wall / 1e6,
                "mesa_cpu_Mps": replica_steps(ens_me) / t_me.cpu / 1e6})
    out["ratio_wall"] = out["numba_wall_Mps"] / out["mesa_wall_Mps"]
    out["ratio_cpu"] = out["numba_cpu_Mps"] / out["mesa_cpu_Mps"]
    return out


# --- (c): cost per replica-step against population -----------------------------------------------------------
def scaling(populations, work: float, repeats: int) -> dict:
    """One thread, every mechanism on, if-then measures in force from the start. Each point runs S and 2S steps
    (S chosen so that S steps are about ``work`` replica-steps) and divides the difference in time by the
    difference in replica-steps: the set-up (network, initial placement, allocation) cancels, leaving the cost
    of a step."""
    rows = []
    # The if-then commitment switches on from the start (delay 0): the run's strict, high-churn phase otherwise
    # begins at step 25, inside the long runs of the small populations but after the few steps of the large
    # ones, and the points would compare two different dynamics instead of two population sizes.
    same_phase = ["governance.if_then.delay=0"]
    for pop in populations:
        steps = int(min(5000, max(2, work / pop)))
        t, rs = [], []
        for s in (steps, 2 * steps):
            cfg = population_cfg(pop, s, threads=1, extra=same_phase)
            tm, ens = timed(lambda cfg=cfg: replisim.simulate(cfg, runs=1, seed=2, parallel="ensemble"), repeats)
            t.append(tm)
            rs.append(replica_steps(ens))
        d_rs = rs[1] - rs[0]
        rows.append({"population": pop, "nodes": cfg.network.nodes, "steps": [steps, 2 * steps],
                     "live_mean": float(ens.series("replicas").mean()),
                     "ns_per_replica_step_cpu": (t[1].cpu - t[0].cpu) / d_rs * 1e9,
                     "ns_per_replica_step_wall": (t[1].wall - t[0].wall) / d_rs * 1e9})
    costs = [r["ns_per_replica_step_cpu"] for r in rows]
    # a difference at or below zero is timing noise swamping a tiny workload (--quick): no ratio then
    ratio = max(costs) / min(costs) if min(costs) > 0 else float("nan")
    return {"rows": rows, "max_over_min_cpu": ratio}


# --- (d): one thread against two ----------------------------------------------------------------------------
def threads(big_replicas: int, big_steps: int, ens_runs: int, ens_replicas: int, ens_steps: int,
            repeats: int) -> dict:
    """Wall-clock speed-up from 1 to 2 threads of one large run (within-run mode) and of an ensemble, and a
    check that the numbers do not change with the thread count."""
    import numba

    out = {"cores_available": os.cpu_count(), "numba_threads_max": numba.config.NUMBA_NUM_THREADS, "rows": []}
    cases = [("large run (within_run)", big_replicas, big_steps, 1, "within_run"),
             ("ensemble", ens_replicas, ens_steps, ens_runs, "ensemble")]
    for label, pop, steps, runs, mode in cases:
        row = {"case": label, "replicas": pop, "steps": steps, "runs": runs}
        prints = []
        for th in (1, 2):
            if th > numba.config.NUMBA_NUM_THREADS:
                continue
            cfg = population_cfg(pop, steps, threads=th)
            t, ens = timed(lambda cfg=cfg, runs=runs, mode=mode: replisim.simulate(cfg, runs=runs, seed=3, parallel=mode), repeats)
            row[f"wall_s_{th}"] = t.wall
            row[f"Mps_{th}"] = replica_steps(ens) / t.wall / 1e6
            prints.append(fingerprint(ens))
        if "wall_s_2" in row:
            row["speedup"] = row["wall_s_1"] / row["wall_s_2"]
        row["identical_across_threads"] = len(set(prints)) == 1
        out["rows"].append(row)
    return out


# --- (e): sweep overhead -------------------------------------------------------------------------------------
def sweep_overhead(jobs: int, runs_per_job: int, replicas: int, steps: int) -> dict:
    """A Hydra multirun of ``jobs`` jobs x ``runs_per_job`` runs through the ``replisim`` command, in this
    process, with the engine kernel and the end-of-sweep aggregation timed from inside. Overhead = sweep wall
    time + interpreter start-up - engine kernel time - aggregation: what Hydra, the launcher and the jobs'
    own set-up and files cost (issue 5, section 1e). The aggregation (one table, bootstrap comparison, figures,
    report; once per sweep, whatever its size) is reported next to it."""
    import replisim.engine.run as engine_run

    nodes = max(10, replicas // 4)
    base = ["scenario=minimal", f"network.nodes={nodes}", f"replica.initial={replicas // 2}",
            f"sim.steps={steps}", f"runs={runs_per_job}", "sim.threads=0"]
    seeds = ",".join(str(s) for s in range(jobs))
    out = {"jobs": jobs, "runs": jobs * runs_per_job, "replicas_capacity": nodes * 4, "steps": steps,
           "command": "replisim -m " + " ".join(base) + f" seed={seeds}"}
    try:
        from replisim import cli
    except ImportError as exc:
        out["cli"] = f"cli unavailable ({exc})"
        return out
    from replisim import sweep as sweep_module

    spent, aggregation = [], []
    real = engine_run.run_ensemble
    real_aggregate = sweep_module.aggregate

    def timed_kernel(*args, **kwargs):
        t0 = time.perf_counter()
        real(*args, **kwargs)
        spent.append(time.perf_counter() - t0)

    def timed_aggregate(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return real_aggregate(*args, **kwargs)
        finally:
            aggregation.append(time.perf_counter() - t0)

    t_start = _interpreter_start()
    with tempfile.TemporaryDirectory() as tmp:
        engine_run.run_ensemble = timed_kernel
        sweep_module.aggregate = timed_aggregate
        try:
            w0 = time.perf_counter()
            code = cli.main(["-m", *base, f"seed={seeds}", f"hydra.sweep.dir={tmp}/multirun",
                             "hydra.job.chdir=false", "hydra/hydra_logging=disabled", "hydra/job_logging=disabled"])
            wall = time.perf_counter() - w0
        finally:
            engine_run.run_ensemble = real
            sweep_module.aggregate = real_aggregate
        done = len(list(Path(tmp).rglob("done.json")))
    engine = sum(spent)
    out.update({"exit_code": code, "jobs_done": done, "sweep_wall_s": wall, "interpreter_start_s": t_start,
                "engine_s": engine, "aggregation_s": sum(aggregation),
                "overhead_s": wall + t_start - engine - sum(aggregation)})
    out["overhead_share"] = out["overhead_s"] / engine if engine > 0 else float("nan")
    return out


# --- (h): per-run parameters (the deep-uncertainty layer) --------------------------------------------------
# Ten of conf/uncertainty/default.yaml's keys: vector keys (rates, a duration, collusion shares) and world keys
# (node-type monitoring levels: every run builds its own governed nodes).
UNCERTAIN_KEYS = ("replica.attempt_rate", "replica.success", "replica.evasion", "replica.shutdown_avoidance",
                  "collusion.blinding", "collusion.warning_evasion", "collusion.flight", "collusion.dominance",
                  "network.types.enterprise.monitoring", "governance.response_latency")


def uncertainty_cost(runs: int, steps: int, repeats: int, explore_samples: int = 64) -> dict:
    """The default world, one thread, ``runs`` runs, three ensembles in one process: no uncertain key; the same
    ten keys uncertain but each ``fixed`` at its configured value (the same dynamics, so the difference is the
    cost of the per-run machinery: parameter matrix, a governed world per run, the draws; the outcomes must be
    identical, which is checked); and the ten keys drawn over their plausible ranges (other dynamics, reported
    for information). Then ``replisim.explore`` of the same ten keys with ``explore_samples`` base samples on all
    threads: parameter sets per second, design to sensitivity table and figures."""
    from replisim import uncertainty

    base = replisim.compose([f"sim.steps={steps}", "sim.threads=1"])
    drawn = replisim.compose([f"sim.steps={steps}", "sim.threads=1", "uncertainty=default"])
    drawn = replisim.compose([f"sim.steps={steps}", "sim.threads=1"],
                             uncertain={k: drawn.uncertain[k] for k in UNCERTAIN_KEYS})
    current = uncertainty.with_values(base, {})
    fixed_specs = {}
    for key in UNCERTAIN_KEYS:
        node = current
        for name in key.split(".")[:-1]:
            node = node[name] if isinstance(node, dict) else getattr(node, name)
        fixed_specs[key] = {"dist": "fixed", "value": float(getattr(node, key.split(".")[-1]))}
    fixed = replisim.compose([f"sim.steps={steps}", "sim.threads=1"], uncertain=fixed_specs)
    out = {"runs": runs, "steps": steps, "keys": len(UNCERTAIN_KEYS)}
    replisim.simulate(fixed, runs=1, seed=0, parallel="ensemble")  # compile the draws before anything is timed
    for name, cfg in (("none", base), ("fixed", fixed), ("drawn", drawn)):
        t, ens = timed(lambda cfg=cfg: replisim.simulate(cfg, runs=runs, seed=0, parallel="ensemble"), repeats)
        out[f"{name}_cpu_Mps"] = replica_steps(ens) / t.cpu / 1e6
        out[f"{name}_wall_s"] = t.wall
        out[f"{name}_fingerprint"] = fingerprint_without(ens, UNCERTAIN_KEYS)
    out["identical_when_fixed"] = out["none_fingerprint"] == out["fixed_fingerprint"]
    out["cost_share"] = 1 - out["fixed_cpu_Mps"] / out["none_cpu_Mps"]
    # explore's throughput: a Saltelli design of the ten keys on the same world, all threads, chunks and analysis
    with tempfile.TemporaryDirectory() as tmp:
        cfg = replisim.compose([f"sim.steps={steps}", "sim.threads=0"],
                               uncertain={k: drawn.uncertain[k] for k in UNCERTAIN_KEYS})
        w0 = time.perf_counter()
        table = replisim.explore(cfg, samples=explore_samples, seed=0, outdir=tmp)
        wall = time.perf_counter() - w0
        runs_done = pd.read_parquet(Path(tmp) / "runs.parquet")
    out.update({"explore_samples": explore_samples, "explore_sets": len(runs_done), "explore_wall_s": wall,
                "explore_sets_per_s": len(runs_done) / wall, "explore_rows": len(table)})
    return out


def fingerprint_without(ens, keys) -> str:
    """``fingerprint`` of an ensemble without its uncertain keys' columns (what the runs did, not what they drew)."""
    import copy

    stripped = copy.copy(ens)
    stripped.outcomes = ens.outcomes.drop(columns=[k for k in keys if k in ens.outcomes.columns])
    return fingerprint(stripped)


def _interpreter_start() -> float:
    """Wall time of a fresh interpreter that imports replisim and its command line (nothing simulated)."""
    w0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import replisim, replisim.cli"], check=True, cwd=REPO)
    return time.perf_counter() - w0


# --- (f): JIT cold and cached start --------------------------------------------------------------------------
SMALL_RUN = ("import replisim; cfg = replisim.compose(['network.nodes=100', 'sim.steps=50']); "
             "replisim.simulate(cfg, runs=4, seed=0)")
# the same in the within-run mode: its parallel passes are compiled only when a run first uses them
SMALL_RUN_WITHIN = SMALL_RUN.replace("seed=0)", "seed=0, parallel='within_run')")


def jit_start() -> dict:
    """A new process running a small simulation: with an empty Numba cache (the ensemble mode's kernels are
    compiled), then with the cache the first process left (issue 2 floor: under 3 s; best of three), then the
    first within-run simulation on that cache (it compiles the parallel passes)."""
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        cold = _child(SMALL_RUN, env)
        cached = min((_child(SMALL_RUN, env) for _ in range(3)), key=lambda x: x[0])
        within = _child(SMALL_RUN_WITHIN, env)
    imp = _child("import replisim", dict(os.environ))
    return {"cold_s": cold[0], "cold_cpu_s": cold[1], "cached_s": cached[0], "cached_cpu_s": cached[1],
            "within_cold_s": within[0], "within_cold_cpu_s": within[1],
            "import_only_s": imp[0], "import_only_cpu_s": imp[1]}


# The main job (``make run``: the CLI with its defaults) in a new process on the filled cache, its stepping loop
# timed from inside: the share of the job's wall time spent outside the compiled engine (world set-up, tables,
# figures, report, the Sobol analysis's Python side).
MAIN_JOB = """
import sys, time
from benchmarks.hosts import engine_clock
from replisim import cli
sys.argv = ["replisim", "hydra.run.dir=" + sys.argv[1]]
w0 = time.perf_counter()
with engine_clock() as spent:
    try:
        cli.main()
    except SystemExit as e:
        assert not e.code, e.code
print("MAIN_JOB", time.perf_counter() - w0, sum(t.wall for t in spent))
"""


def main_job() -> dict:
    """Wall time of the main job with its defaults on a filled cache, and the share of it outside the engine."""
    with tempfile.TemporaryDirectory() as out:
        w0 = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", MAIN_JOB, out], check=True, cwd=REPO, capture_output=True,
                              text=True)
        wall = time.perf_counter() - w0
    _, job_s, engine_s = next(line for line in done.stdout.splitlines() if line.startswith("MAIN_JOB")).split()
    return {"main_job_s": wall, "main_job_inner_s": float(job_s), "main_job_engine_s": float(engine_s),
            "main_job_outside_share": 1.0 - float(engine_s) / float(job_s)}


def _child(code: str, env: dict) -> tuple[float, float]:
    """Wall and CPU time (user + system) of a new interpreter running ``code``."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    w0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=REPO)
    wall = time.perf_counter() - w0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


# --- (g): memory ---------------------------------------------------------------------------------------------
def _bytes(dtype) -> int:
    return np.dtype(dtype).itemsize


# the replica table's columns as run.run_one allocates them (one row per slot of the network)
TABLE_COLUMNS = {"node": _bytes(np.int32), "lineage": _bytes(np.int32), "generation": _bytes(np.uint16),
                 "skill": _bytes(state.TRAIT_DTYPE), "evasion": _bytes(state.TRAIT_DTYPE),
                 "avoid": _bytes(state.TRAIT_DTYPE), "flags": _bytes(np.uint8),
                 "order_left": _bytes(state.ORDER_DTYPE), "target": _bytes(np.int32)}
# a row of the arrivals' overflow buffer (state.arrival_overflow): at most as many rows as a step's shutdowns
OVERFLOW_COLUMNS = sum(v for k, v in TABLE_COLUMNS.items() if k not in ("order_left", "target"))


BIG_RUN = """
import json, sys, time
sys.path.insert(0, {repo!r})
from benchmarks.suite import population_cfg
import replisim

def hwm_kib():  # peak RSS of this process image (ru_maxrss would include the parent's, inherited at fork)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])

cfg = population_cfg({replicas}, {steps}, threads=0)
# both modes' machine code loaded before the baseline (the within-run kernels alone are about 8 MB)
replisim.simulate(population_cfg(2000, 2, threads=0), runs=1, seed=5)
replisim.simulate(population_cfg(2000, 2, threads=0, extra=["sim.parallel=within_run"]), runs=1, seed=5)
base = hwm_kib()
w0 = time.perf_counter()
ens = replisim.simulate(cfg, runs=1, seed=5)
wall = time.perf_counter() - w0
o = ens.outcomes.iloc[0]
print(json.dumps({{"wall_s": wall, "peak_rss_kib": hwm_kib(),
                   "rss_before_kib": base, "final_replicas": int(o.final_replicas),
                   "peak_replicas": int(o.peak_replicas), "replica_steps": float(o.replica_steps),
                   "nodes": cfg.network.nodes, "mode": ens.meta["parallel"]}}))
"""


def memory_and_big_run(replicas: int, steps: int) -> dict:
    """Bytes per replica slot of the table, and a fresh process holding ``replicas`` live replicas on
    replicas/100 nodes (auto mode: within_run for a run this size, all threads): peak RSS and time."""
    per_slot = sum(TABLE_COLUMNS.values())
    code = BIG_RUN.format(repo=str(REPO), replicas=replicas, steps=steps)
    res = subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, capture_output=True, text=True)
    big = json.loads(res.stdout.strip().splitlines()[-1])
    slots = big["nodes"] * SLOTS_PER_NODE
    peak = big["peak_rss_kib"] * 1024
    grown = (big["peak_rss_kib"] - big["rss_before_kib"]) * 1024
    big.update({"table_bytes_per_slot": per_slot, "overflow_row_bytes": OVERFLOW_COLUMNS, "slots": slots,
                "peak_rss_GiB": peak / 2**30, "rss_before_GiB": big["rss_before_kib"] / 2**20,
                "rss_growth_bytes_per_slot": grown / slots, "rss_growth_bytes_per_live_replica": grown / big["peak_replicas"],
                "replica_steps_per_s": big["replica_steps"] / big["wall_s"]})
    return big
