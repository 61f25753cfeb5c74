"""Side by side: ``python -m benchmarks.compare OTHER [--python PY] [--rounds R] [--repeats K]``.

Runs the headline case (10^6 replicas, 30 steps, every mechanism, one thread) in new processes of this checkout
and of another checkout ``OTHER`` (for instance a ``git worktree`` of the commit before a change), alternating
R rounds, each process keeping the best CPU time of K runs after a warm-up. Speeds are only comparable measured
like this, on one machine in one session: the same code gives 25-33 M replica-steps/s from one minute to the
next on a shared two-core machine (BENCHMARKS.md). ``--python`` is the interpreter for ``OTHER`` (default: this
one; it must import the other checkout's replisim, which running inside that directory does).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHILD = """
import sys, time
sys.path.insert(0, '.')
import replisim
from benchmarks.suite import population_cfg, replica_steps
cfg = population_cfg(1_000_000, 30, threads=1)
ens = replisim.simulate(cfg, runs=1, seed=1, parallel="ensemble")
best = float("inf")
for _ in range({repeats}):
    t = time.process_time()
    ens = replisim.simulate(cfg, runs=1, seed=1, parallel="ensemble")
    best = min(best, time.process_time() - t)
print(replica_steps(ens) / best / 1e6)
"""


def headline(checkout: Path, python: str, repeats: int) -> float:
    """M replica-steps/s (CPU time, best of ``repeats``) of the headline case in a new process in ``checkout``."""
    out = subprocess.run([python, "-c", CHILD.format(repeats=repeats)], cwd=checkout, check=True,
                         capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.compare", description=__doc__.splitlines()[0])
    ap.add_argument("other", type=Path, help="the other checkout")
    ap.add_argument("--python", default=sys.executable, help="interpreter for the other checkout")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=7)
    a = ap.parse_args(argv)
    here, there = [], []
    for k in range(a.rounds):
        there.append(headline(a.other, a.python, a.repeats))
        here.append(headline(REPO, sys.executable, a.repeats))
        print(f"round {k + 1}: other {there[-1]:.2f}, this {here[-1]:.2f} M replica-steps/s", flush=True)
    print(f"best: other {max(there):.2f}, this {max(here):.2f} ({max(here) / max(there):.3f}x); "
          f"median: other {statistics.median(there):.2f}, this {statistics.median(here):.2f} "
          f"({statistics.median(here) / statistics.median(there):.3f}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
