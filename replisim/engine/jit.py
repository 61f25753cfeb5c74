"""The project's one Numba decorator, so every kernel is compiled the same way.

``cache=True``: a second process reuses the compiled machine code (start-up in well under 3 s).
``nogil=True``: kernels release the GIL, so Python threads could overlap them.
``fastmath`` is off on purpose: random-number arithmetic and probability comparisons must give the same
bits on every run and thread count; the engine is bound by memory and branches, not by floating point.
``error_model="numpy"``: no Python-style zero-division checks inside hot loops.

``@jit(refcount=False)`` compiles a kernel without Numba's reference counting of arrays (``_nrt=False``), for
the per-replica loops. With it on, every call of a helper that takes arrays (even one inlined with
``inline="always"``) increments and decrements each array's reference count with atomic instructions, in every
iteration: measured on the resolve loop, 20 ns per replica with the node-tally helper against 7 ns with its
body written out (benchmarks/BENCHMARKS.md, "Profile"). A kernel compiled this way cannot allocate arrays; the
callers (``run_one``) allocate everything and pass it in.

The cache is kept per version of the engine's sources (``CACHE_DIR``): Numba checks a cached kernel against
its own file only, but the machine code of a kernel includes the kernels it calls from other files, so after
an edit of ``act.py`` the cached ``run_one`` (``run.py``) would go on running the old step. A directory
named by a hash of every engine source file cannot hold such stale code.
"""

import contextlib
import hashlib
import os
from pathlib import Path

import numba
from numba import njit

JIT_OPTIONS = dict(cache=True, nogil=True, error_model="numpy")


ENGINE = Path(__file__).resolve().parent
# Files outside the engine package whose constants the kernels compile in: the results schema's enums index
# the series and outcome arrays inside ``run_one``.
COMPILED_IN = (ENGINE.parent / "results.py",)


def sources_digest(engine: Path = ENGINE, compiled_in=COMPILED_IN) -> str:
    """A hash of every source file of the engine package (its subpackages included) and of ``compiled_in``."""
    h = hashlib.sha256()
    files = [(p.relative_to(engine).as_posix(), p) for p in sorted(engine.rglob("*.py"))
             if "__pycache__" not in p.parts]
    files += [(p.name, p) for p in compiled_in]
    for name, path in files:
        h.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


# under the user's NUMBA_CACHE_DIR if set, else next to the sources (as Numba's own default)
CACHE_DIR = Path(os.environ.get("NUMBA_CACHE_DIR") or ENGINE / "__pycache__") / (
    "replisim-engine-" + sources_digest())


def prune_stale_caches(current: Path = CACHE_DIR) -> list[Path]:
    """Delete the cache directories of earlier versions of the engine's sources next to ``current`` (each
    edit of the engine leaves one behind, tens of MB after a day of work). Called when ``current`` does not
    exist yet, i.e. once per new version. Errors are ignored: a directory another process is still using is
    its business. Returns the directories removed."""
    import shutil

    removed = []
    for old in current.parent.glob("replisim-engine-*"):
        if old != current and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
            removed.append(old)
    return removed


if not CACHE_DIR.exists():
    prune_stale_caches()


@contextlib.contextmanager
def _engine_cache_dir():
    """Numba picks a function's cache location when it is decorated; point it at CACHE_DIR for that moment only
    (``numba.config.CACHE_DIR`` is process-wide, and other packages' functions keep their own)."""
    before = numba.config.CACHE_DIR
    numba.config.CACHE_DIR = str(CACHE_DIR)
    try:
        yield
    finally:
        numba.config.CACHE_DIR = before


def cold(kernel) -> bool:
    """Whether calling ``kernel`` now compiles it: no machine code for it in this process, none in the cache
    (Numba's index file of the kernel in ``CACHE_DIR``). False under ``NUMBA_DISABLE_JIT``: nothing compiles."""
    if getattr(kernel, "signatures", True):  # machine code in this process, or a plain Python function
        return False
    source = Path(kernel.py_func.__code__.co_filename).stem  # Numba names the index by the source file
    return not any(CACHE_DIR.rglob(f"{source}.{kernel.py_func.__qualname__}-*.nbi"))


def jit(fn=None, refcount=True, **overrides):
    """``@jit``, ``@jit(parallel=True)`` or ``@jit(refcount=False)``: njit with the project's options."""
    options = {**JIT_OPTIONS, **overrides}
    if not refcount:
        options["_nrt"] = False

    def decorate(f):
        if not options.get("cache"):
            return njit(**options)(f)
        with _engine_cache_dir():
            return njit(**options)(f)

    return decorate if fn is None else decorate(fn)
