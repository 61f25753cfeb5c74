"""Progress display: a bar of runs, and a bar of one huge run's steps while its compiled call runs."""

from __future__ import annotations

import contextlib
import threading

import numpy as np

STEP_PROGRESS_MIN = 20  # a within-run run of at least this many steps shows a bar of its steps


@contextlib.contextmanager
def step_bar(status: np.ndarray, steps: int, enabled: bool):
    """A bar of one huge run's steps while the compiled call runs: the kernels release the GIL, so a thread
    can read the steps done (``status[2]``, written by the engine after each step) and redraw the bar."""
    if not enabled:
        yield
        return
    from tqdm.auto import tqdm

    done = threading.Event()
    bar = tqdm(total=steps, unit="step", desc="steps", leave=False)

    def poll():
        while not done.wait(0.25):
            bar.update(int(status[2]) - bar.n)

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join()
        bar.update(int(status[2]) - bar.n)
        bar.refresh()  # the last count, even within tqdm's minimum interval between redraws
        bar.close()


class NoBar:
    def update(self, k):
        pass

    def close(self):
        pass


def run_bar(total: int, enabled: bool):
    if not enabled:
        return NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="run", desc="runs", leave=False)
