"""``python -m benchmarks`` (``make bench``): measure, print, and write BENCHMARKS.md, benchmarks/results.json and
figures/bench_scaling.png, figures/bench_threads.png, figures/bench_peer.png.

``--quick`` runs every section on tiny sizes (the smoke test uses it; its figures mean nothing), ``--only``
picks sections, ``--out`` writes somewhere else than the repository (results.json, BENCHMARKS.md and figures
go under that directory).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

from . import hosts, peer, report, suite

SECTIONS = report.SECTION_NAMES
MARK_START = "<!-- bench:results:start -->"
MARK_END = "<!-- bench:results:end -->"

FULL = dict(repeats=3, head_repeats=7, head_replicas=1_000_000, head_steps=30, mesa_runs=1, numba_runs=20,
            mesa_replicas=suite.MESA_REPLICAS, mesa_steps=suite.MESA_STEPS,
            populations=(10**3, 10**4, 10**5, 10**6, 10**7), scaling_work=1e8,
            big_replicas=10**7, big_steps=4, ens_runs=16, ens_replicas=10**4, ens_steps=300,
            sweep_jobs=10, sweep_runs=100, sweep_replicas=10**4, sweep_steps=500,
            mem_replicas=10**7, mem_steps=5, unc_runs=32, unc_steps=720, unc_explore=64,
            peer_sizes=(10**4, 10**5, 10**6), peer_steps=100, peer_big_steps=None, peer_nodes=10**4, peer_runs=20,
            hosts_sizes=(10**3, 10**4, 10**5, 10**6, 10**7), hosts_work=2e7, few_nodes=10**6, few_steps=200)
QUICK = dict(repeats=1, head_repeats=1, head_replicas=5_000, head_steps=5, mesa_runs=1, numba_runs=2,
             mesa_replicas=2000, mesa_steps=3,
             populations=(10**3, 10**4), scaling_work=2e5,
             big_replicas=20_000, big_steps=3, ens_runs=4, ens_replicas=1000, ens_steps=10,
             sweep_jobs=2, sweep_runs=2, sweep_replicas=400, sweep_steps=10,
             mem_replicas=20_000, mem_steps=2, unc_runs=2, unc_steps=10, unc_explore=2,
             peer_sizes=(1000, 2000), peer_steps=10, peer_big_steps=None, peer_nodes=1000, peer_runs=3,
             hosts_sizes=(1000, 4000), hosts_work=2e4, few_nodes=5000, few_steps=10)


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def cpu_description() -> str:
    """The CPU model and its L2 and L3 caches, read from Linux (figures are only comparable on one machine)."""
    model, caches = platform.processor() or platform.machine(), []
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        for index in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
            level = (index / "level").read_text().strip()
            if level in ("2", "3"):
                size = (index / "size").read_text().strip()
                kib = int(size[:-1]) if size.endswith("K") and size[:-1].isdigit() else None
                caches.append(f"L{level} " + (f"{kib // 1024} MiB" if kib and kib % 1024 == 0 else size))
    except OSError:
        pass
    return model + (f" ({', '.join(caches)})" if caches else "")


def stream_bandwidth(agents: int = suite.STREAM_AGENTS, repeats: int = 3) -> float:
    """GB/s of the streaming reference kernel over ``agents`` float32 agents (12 bytes each: two read, one
    written), best of ``repeats``: the machine's memory bandwidth as the engine's kernels see it."""
    import numpy as np

    from . import reference

    a, b, _, _ = reference.columns(agents)
    reference.stream_update(a[:10], b[:10], np.float32(0.5))
    best = float("inf")
    for _ in range(repeats):
        c0 = time.process_time()
        reference.stream_update(a, b, np.float32(0.5))
        best = min(best, time.process_time() - c0)
    return agents * 12 / best / 1e9


def measure(sections, p: dict, command: str) -> dict:
    results = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "command": command,
               "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
                          f"Python {platform.python_version()}",
               "load": " ".join(f"{x:.1f}" for x in os.getloadavg()), "repeats": p["repeats"], "params": p}
    suite.warm_up()
    # every figure is tied to the machine it was measured on: CPU model, caches and streaming bandwidth
    machine = f"{cpu_description()}, streaming {stream_bandwidth(suite.STREAM_AGENTS if p is FULL else 10**6):.1f} GB/s"
    for name in sections:
        print(f"[bench] {name} ...", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        if name == "headline":
            results[name] = suite.headline(p["head_replicas"], p["head_steps"], p["head_repeats"])
        elif name == "mesa":
            results[name] = suite.mesa_vs_numba(p["mesa_runs"], p["numba_runs"], p["repeats"], p["mesa_replicas"],
                                                p["mesa_steps"])
        elif name == "scaling":
            results[name] = suite.scaling(p["populations"], p["scaling_work"], p["repeats"])
        elif name == "threads":
            results[name] = suite.threads(p["big_replicas"], p["big_steps"], p["ens_runs"], p["ens_replicas"],
                                          p["ens_steps"], p["repeats"])
        elif name == "sweep":
            results[name] = suite.sweep_overhead(p["sweep_jobs"], p["sweep_runs"], p["sweep_replicas"], p["sweep_steps"])
        elif name == "jit":
            results[name] = suite.jit_start()
            if p is FULL:  # the main job takes minutes: not in the smoke test
                results[name].update(suite.main_job())
        elif name == "memory":
            results[name] = suite.memory_and_big_run(p["mem_replicas"], p["mem_steps"])
        elif name == "uncertainty":
            results[name] = suite.uncertainty_cost(p["unc_runs"], p["unc_steps"], p["repeats"], p["unc_explore"])
        elif name == "hosts":
            results[name] = hosts.hosts(p["hosts_sizes"], p["hosts_work"], p["repeats"], p["few_nodes"],
                                        p["few_steps"])
        elif name == "peer":
            results[name] = peer.compare(p["peer_sizes"], p["peer_steps"], p["repeats"], p["peer_nodes"],
                                         p["peer_steps"], p["peer_runs"], p["peer_big_steps"])
        results[name]["measured"] = (f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {machine}, "
                                     f"load average {os.getloadavg()[0]:.1f}, `{command}`")
        print(f"[bench] {name} done in {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    return results


def update_markdown(path: Path, body: list[str]) -> None:
    """Replace the generated block of BENCHMARKS.md (the hand-written notes around it stay)."""
    text = path.read_text() if path.exists() else f"# Benchmarks\n\n{MARK_START}\n{MARK_END}\n"
    if MARK_START not in text:
        text += f"\n{MARK_START}\n{MARK_END}\n"
    head, rest = text.split(MARK_START, 1)
    _, tail = rest.split(MARK_END, 1)
    write_atomic(path, (head + MARK_START + "\n" + "\n".join(body) + "\n" + MARK_END + tail).encode())


def update_history(path: Path, results: dict) -> dict:
    """benchmarks/history.json: the latest figures of every section per machine (the CPU model and caches name
    the machine), so that figures measured on different machines are never compared unknowingly. Returns it."""
    history = json.loads(path.read_text()) if path.exists() else {}
    machine = cpu_description()
    entry = history.setdefault(machine, {})
    for name in SECTIONS:
        if name in results:
            entry[name] = results[name]
    write_atomic(path, (json.dumps(history, indent=2, sort_keys=True, default=float) + "\n").encode())
    return history


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    ap.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated subset of {','.join(SECTIONS)}")
    ap.add_argument("--out", default=None, help="directory for the outputs (default: the repository)")
    args = ap.parse_args(argv)
    sections = [s for s in args.only.split(",") if s]
    unknown = [s for s in sections if s not in SECTIONS]
    if unknown:
        print(f"python -m benchmarks: error: --only={','.join(unknown)} is not allowed; choose from "
              f"{','.join(SECTIONS)}", file=sys.stderr)
        return 2
    p = QUICK if args.quick else FULL
    command = "python -m benchmarks" + (" --quick" if args.quick else "") + (
        f" --only {args.only}" if args.only != ",".join(SECTIONS) else "")
    results = measure(sections, p, command)
    body = report.lines(results)
    print("\n".join(body))
    root = Path(args.out) if args.out else suite.REPO
    json_path = root / "benchmarks" / "results.json"
    # results.json keeps the latest figures of every section, so a partial run (--only) updates its sections
    old = json.loads(json_path.read_text()) if json_path.exists() and not args.quick else {}
    # the peer section's curves are the figure's data (1,200 numbers): the figure keeps them, results.json not
    stored = {k: ({kk: vv for kk, vv in v.items() if kk != "curves"} if k == "peer" else v) for k, v in results.items()}
    merged = {**old, **stored}
    write_atomic(json_path, (json.dumps(merged, indent=2, sort_keys=True, default=float) + "\n").encode())
    history = update_history(root / "benchmarks" / "history.json", stored) if not args.quick else {}
    update_markdown(root / "BENCHMARKS.md", report.lines(merged) + report.history_lines(history))
    for key, plot, name in (("scaling", report.scaling_figure, "bench_scaling.png"),
                            ("threads", report.threads_figure, "bench_threads.png"),
                            ("peer", peer.figure, "bench_peer.png")):
        if key in results and (key != "peer" or "curves" in results[key]):
            fig = plot(results[key])
            out = root / "figures" / name
            out.parent.mkdir(parents=True, exist_ok=True)
            tmp = out.with_name(f".{name}.{os.getpid()}.tmp.png")
            fig.savefig(tmp, dpi=120)
            os.replace(tmp, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
