"""Time the engine's kernels separately: ``python -m benchmarks.profile [--replicas N] [--steps S] [--mechanisms M]``.

``--draws`` also times the bare random-number generator (``rng.uniform`` in a tight loop, no branch on the
outcome), to separate the cost of a draw from the cost of branching on it. ``--repeats R`` runs the profile R
times and keeps each kernel's least disturbed time. ``--count-listed`` also reports the share of replicas
that resolve settles one by one (the rest it passes over), at the price of a slower resolve timing.

``run_one`` runs a whole run inside one compiled call, so a Python profiler sees nothing of it. This drives the
same kernels (``act``, ``resolve``, ``record``) step by step from Python, with the state ``run_one`` would
allocate, and reports the CPU time of this thread per replica for each kernel (the first step, which pays for
the initial placement's cold caches, is left out). Mechanisms: ``all`` (every mechanism, as the headline
benchmark), ``strict`` (the headline run after its if-then commitment switched on: high churn), ``noretrain``
and ``nocollusion`` (the same without retraining or collusion), ``none`` (detection, shutdown and replication
only).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from replisim.engine import act, resolve, state
from replisim.engine.jit import jit
from replisim.engine.mechanisms import collusion
from replisim.engine.params import P, pack
from replisim.engine.rng import run_key, uniform
from replisim.engine.run import place_initial, record
from replisim.world import setup

from .suite import population_cfg

NONE = ["replica.misalignment_rate=0", "replica.mutation_sd=0", "replica.strategic=false",
        "governance.response_latency=0", "governance.hardening=0", "governance.quarantine_hours=0",
        "governance.retraining_rate=0", "governance.if_then.enabled=false", "governance.reporting.enabled=false",
        "collusion.enabled=false"]
# switch mechanisms of suite.EVERY_MECHANISM off
# the headline run once its if-then commitment has switched on (step 25 on): monitoring x 3 and x 2 for the
# incident reports, kill-switch floor 0.95, latency 0 -- a high-churn state (about 1% of replicas detected, shut
# down and replaced per step)
STRICT = ["governance.if_then.enabled=false", "governance.detection=0.012", "governance.kill_switch=0.95",
          "governance.response_latency=0", "governance.reporting.enabled=false"]
VARIANTS = {"all": [], "strict": STRICT, "noretrain": ["governance.retraining_rate=0"],
            "nocollusion": ["collusion.enabled=false"], "none": NONE}


def profile(replicas: int, steps: int, mechanisms: str = "all", count_listed: bool = False) -> dict:
    cfg = population_cfg(replicas, steps + 1, threads=1, extra=VARIANTS[mechanisms])
    net, gov = setup(cfg, 0)
    params = pack(cfg)
    rkey = np.uint64(run_key(np.uint64(1), 0))
    cap = gov.capacity
    slots, n0 = int(cap.sum()), cfg.replica.initial
    # the frame run_one allocates (state.new_frame), with an overflow buffer that never has to grow
    world = state.world_of(net, gov)
    frame = state.new_frame(world, slots, n0, 1)
    arrivals, bufs = state.arrival_overflow(slots), state.new_parallel_buffers(cap.size, slots, 0)
    table, nodes_, tallies = frame.table, frame.nodes, frame.tallies
    place_initial(rkey, n0, int(round(params[P.INITIAL_MISALIGNED] * n0)), cfg.replica.success, params[P.EVASION],
                  params[P.SHUTDOWN_AVOIDANCE], nodes_, table)
    collusion.tally_initial(n0, table, nodes_, frame.coal.forest, params[P.COLLUSION] > 0)
    series, group_series = np.zeros((8, steps + 2)), np.zeros((0, steps + 2))
    spent = {"act": 0.0, "resolve": 0.0, "record": 0.0}
    n, done, listed = n0, 0, 0
    for t in range(1, steps + 2):
        tallies[:] = 0.0
        c0 = time.thread_time()
        act.act(t, n, rkey, params, int(params[P.RESPONSE_LATENCY]), 0.0, frame, False, state.far_hint(len(cap)))
        c1 = time.thread_time()
        if count_listed and t > 1:  # the replicas resolve will list (resolve.resolve); evicts caches it reads
            free = np.where(nodes_.quar_until >= t, 0, cap - nodes_.occ + nodes_.freed)
            tg = table.target[:n]
            listed += int(np.count_nonzero(((tg >= 0) & (free[np.maximum(tg, 0)] > 0))
                                           | ((table.flags[:n] & (state.DEAD | state.MOVING)) != 0)))
        m = resolve.resolve(t, n, rkey, params, frame, arrivals, bufs, False)
        c2 = time.thread_time()
        record(series, group_series, t, m, frame, world, False, 0.0)
        c3 = time.thread_time()
        if t > 1:
            for k, dt in zip(spent, (c1 - c0, c2 - c1, c3 - c2)):
                spent[k] += dt
            done += n
        n = m
    out = {k: v / done * 1e9 for k, v in spent.items()}
    out["total"] = sum(out.values())
    out.update(replicas_final=int(n), replica_steps=done, nodes=cap.size, mechanisms=mechanisms,
               listed_share=listed / done)
    return out


@jit
def _sum_uniforms(n):
    state = np.uint64(1)
    acc = 0.0
    for _ in range(n):
        state, u = uniform(state)
        acc += u
    return acc


def draw_cost(n: int = 100_000_000, repeats: int = 3) -> float:
    """CPU ns per ``rng.uniform`` draw (best of ``repeats``), with no branch on the outcome."""
    _sum_uniforms(10)
    best = np.inf
    for _ in range(repeats):
        t = time.process_time()
        _sum_uniforms(n)
        best = min(best, time.process_time() - t)
    return best / n * 1e9


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.profile", description=__doc__.splitlines()[0])
    ap.add_argument("--replicas", type=int, default=1_000_000)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--mechanisms", choices=tuple(VARIANTS), default="all")
    ap.add_argument("--repeats", type=int, default=1,
                    help="run the whole profile this many times and keep each kernel's least disturbed time")
    ap.add_argument("--count-listed", action="store_true",
                    help="also count the replicas resolve settles one by one (slows the resolve timing down)")
    ap.add_argument("--draws", action="store_true", help="also time the bare random-number generator")
    a = ap.parse_args(argv)
    if a.draws:
        print(f"rng.uniform in a tight loop: {draw_cost():.2f} CPU ns per draw")
    runs = [profile(a.replicas, a.steps, a.mechanisms, a.count_listed) for _ in range(max(1, a.repeats))]
    r = dict(runs[0], **{k: min(x[k] for x in runs) for k in ("act", "resolve", "record")})
    r["total"] = r["act"] + r["resolve"] + r["record"]
    print(f"{a.replicas:,} replicas on {r['nodes']:,} nodes, mechanisms={a.mechanisms}, {a.steps} steps: "
          f"CPU ns per replica-step: act {r['act']:.1f}, resolve {r['resolve']:.1f}, record {r['record']:.1f}, "
          f"total {r['total']:.1f} ({1e3 / r['total']:.1f} M replica-steps/s)"
          + (f"; replicas resolve settles one by one: {100 * r['listed_share']:.1f}%" if a.count_listed else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
