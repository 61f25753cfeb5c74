"""The engine's compile options do what jit.py says they do.

``@jit(refcount=False)`` relies on Numba's ``_nrt`` option, which is not part of Numba's documented API: if a
Numba release stopped honouring it, the per-replica loops would silently get three times slower (see jit.py).
This test compiles a loop that passes arrays to an inlined helper both ways and reads the generated LLVM IR.
"""

from pathlib import Path

import numpy as np

from replisim.engine.jit import jit


def _loop_calling_a_helper(**options):
    @jit(inline="always", cache=False)
    def bump(i, a, b):
        a[i] += b[i]

    @jit(cache=False, **options)
    def loop(a, b):
        for i in range(a.shape[0]):
            bump(i, a, b)

    a, b = np.zeros(8), np.ones(8)
    loop(a, b)
    assert a.sum() == 8.0  # both versions compute the same thing
    return "\n".join(loop.inspect_llvm().values())


def test_refcount_false_removes_reference_counting_from_loops():
    # the default: array arguments are reference counted (the increments are inlined atomic adds, the
    # decrements calls to NRT_decref)
    assert "NRT_decref" in _loop_calling_a_helper()
    assert "NRT_" not in _loop_calling_a_helper(refcount=False)


def test_kernel_cache_is_keyed_by_every_engine_source(tmp_path):
    """A cached kernel contains the code of the kernels it calls from other files; the cache directory is named
    by a hash of all engine sources, so editing any of them can never leave a stale kernel in use."""
    import shutil
    from pathlib import Path

    import numba

    from replisim.engine import act, run
    from replisim.engine import jit as engine_jit

    assert engine_jit.CACHE_DIR.name == "replisim-engine-" + engine_jit.sources_digest()
    for kernel in (act.act, run.run_one):
        assert Path(kernel._cache._cache_path).is_relative_to(engine_jit.CACHE_DIR)
    assert numba.config.CACHE_DIR != str(engine_jit.CACHE_DIR)  # set only while decorating the engine's kernels
    copy = tmp_path / "engine"
    shutil.copytree(Path(act.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert engine_jit.sources_digest(copy) == engine_jit.sources_digest()
    (copy / "act.py").write_text((copy / "act.py").read_text() + "\n# an edit\n")
    assert engine_jit.sources_digest(copy) != engine_jit.sources_digest()
    # a mechanism unit, in the engine's subpackage, is part of the version too
    (copy / "act.py").write_text(act.__loader__.get_source(act.__name__))
    unit = copy / "mechanisms" / "quarantine.py"
    unit.write_text(unit.read_text() + "\n# an edit\n")
    assert engine_jit.sources_digest(copy) != engine_jit.sources_digest()
    # the results schema is compiled into run_one: an edit of it is a new version of the engine too
    results = tmp_path / "results.py"
    results.write_text(engine_jit.COMPILED_IN[0].read_text() + "\n# an edit\n")
    assert engine_jit.sources_digest(compiled_in=(results,)) != engine_jit.sources_digest()


def test_stale_cache_directories_are_pruned(tmp_path):
    from replisim.engine.jit import prune_stale_caches

    current = tmp_path / "replisim-engine-new"
    for name in ("replisim-engine-old1", "replisim-engine-old2", "replisim-engine-new", "someone-else"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "kernel.nbi").write_bytes(b"x")
    removed = prune_stale_caches(current)
    assert sorted(p.name for p in removed) == ["replisim-engine-old1", "replisim-engine-old2"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["replisim-engine-new", "someone-else"]


def test_one_ensemble_kernel_for_plain_uncertain_and_designed_runs():
    """Every way into the engine hands run_runs arguments of one type: a second specialization would
    compile the whole step again (a minute of a cold start; a design's read-only skill column once did)."""
    import replisim
    from replisim.engine import run

    small = ["sim.steps=5", "network.nodes=30"]
    replisim.simulate(replisim.compose(small), runs=2, seed=1)
    replisim.simulate(replisim.compose(small + ["uncertainty=default"]), runs=2, seed=1)
    skill = np.full(4, 0.5)[::2]  # a strided, read-only design column
    skill.flags.writeable = False
    replisim.simulate(replisim.compose(small), runs=2, seed=1, design={"replica.success": skill})
    # one per type of the last two arguments (far, check: a large network or validate mode in another test of
    # this process compiles its own)
    kinds = [tuple(str(a) for a in sig[-2:]) for sig in run.run_runs.signatures]
    assert len(kinds) == len(set(kinds)), run.run_runs.signatures


# prints: the cache directory, the kernel's cache hits and misses, and whether it was cold before and after the call
KERNEL_MODULE = '''
from replisim.engine.jit import CACHE_DIR, cold, jit


@jit
def twice(x):
    return 2.0 * x


if __name__ == "__main__":
    before = cold(twice)
    assert twice(1.5) == 3.0
    print(CACHE_DIR, twice.stats.cache_hits.get(twice.signatures[0], 0), len(twice.stats.cache_misses), before,
          cold(twice))
'''


def test_processes_share_the_compile_cache_named_by_numba_cache_dir(tmp_path):
    """A cluster shares one compile cache by pointing NUMBA_CACHE_DIR at a shared directory (docs/sweeps.md):
    two processes that start together on an empty cache both compile and both succeed (Numba writes each file
    atomically), and a third process loads the kernel from the cache instead of compiling it."""
    import os
    import subprocess
    import sys

    (tmp_path / "kernel.py").write_text(KERNEL_MODULE)
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "shared-cache")}
    cmd = [sys.executable, str(tmp_path / "kernel.py")]
    first = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120)[0].split() for p in first]
    assert all(p.returncode == 0 for p in first)
    assert all(Path(o[0]).is_relative_to(tmp_path / "shared-cache") for o in outs)
    assert any(o[2] == "1" for o in outs)  # at least one of them compiled (a cache miss)
    third = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, check=True).stdout.split()
    assert third[1] == "1" and third[2] == "0", third  # loaded from the shared cache: one hit, no miss


ONE_SIGNATURE = '''
import importlib, pkgutil, sys
from numba.core.registry import CPUDispatcher
import replisim
import replisim.engine as engine

modules = [importlib.import_module(m.name) for m in pkgutil.walk_packages(engine.__path__, "replisim.engine.")]
replisim.simulate(replisim.compose(["sim.steps=5", "network.nodes=30"]), runs=3, seed=1)
kernels = {id(f): (m.__name__ + "." + name, f) for m in modules for name, f in vars(m).items()
           if isinstance(f, CPUDispatcher)}
compiled = [name for name, f in kernels.values() if f.signatures]
twice = [(name, [str(s) for s in f.signatures]) for name, f in kernels.values() if len(f.signatures) > 1]
print(len(compiled), twice)
'''


def test_a_cold_start_compiles_each_kernel_once(tmp_path):
    """On an empty cache an ensemble compiles every kernel it reaches for one signature only: a literal argument
    (a constant 0 or False passed to a kernel, or a counter that starts at 0) would compile it a second time for
    the literal's type, and prange's unsigned index a second world_row: each of these once cost a cold start
    seconds (BENCHMARKS.md, "Cold start").
    Runs in a new process, because kernels loaded from the cache do not list the kernels they call."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    out = subprocess.run([sys.executable, "-c", ONE_SIGNATURE], env=env, capture_output=True, text=True,
                         timeout=600, check=True).stdout.split(" ", 1)
    assert int(out[0]) >= 20, out  # the step's kernels were compiled here, not loaded
    assert out[1].strip() == "[]", out[1]


def test_a_cold_kernel_is_told_apart_from_a_cached_one(tmp_path):
    """``jit.cold`` (the main job's "compiling the engine" line): a kernel with no machine code in the process and
    none in the cache is cold; once called, it is not, nor in a new process that finds it in the cache."""
    import os
    import subprocess
    import sys

    (tmp_path / "kernel.py").write_text(KERNEL_MODULE)
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    run = [sys.executable, str(tmp_path / "kernel.py")]
    first = subprocess.run(run, env=env, capture_output=True, text=True, timeout=120, check=True).stdout.split()
    again = subprocess.run(run, env=env, capture_output=True, text=True, timeout=120, check=True).stdout.split()
    assert first[3:] == ["True", "False"], first
    assert again[3:] == ["False", "False"], again
