"""The studies that produce ``figures/``; ``python -m experiments.make_figures`` runs them all.

One module per study; each has a ``run(out_dir, runs=..., steps=..., nodes=..., seed=...)`` entry point that
simulates through the public API (``replisim.compose``, ``replisim.simulate``), writes its figures and the
numbers behind them (CSV) into ``out_dir`` atomically, and returns the README lines describing what it found.
The helpers here are the only code that writes files.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pandas as pd

FIGURES = Path(__file__).resolve().parent.parent / "figures"
DPI = 110


@dataclass
class StudyResult:
    """What a study wrote and what it says: ``lines`` are (file name, one-line finding) for the README."""

    name: str
    files: list[str] = field(default_factory=list)
    lines: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _atomic(path: Path, write) -> None:
    """``replisim.files.atomic``: readers never see a half-written file."""
    from replisim.files import atomic

    atomic(path, write)


def save_figure(fig, path: Path) -> Path:
    """Save a Figure as PNG atomically."""
    _atomic(path, lambda tmp: fig.savefig(tmp, format="png", dpi=DPI))
    return Path(path)


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    _atomic(path, lambda tmp: frame.to_csv(tmp, index=False, float_format="%.6g"))
    return Path(path)


def write_text(text: str, path: Path) -> Path:
    _atomic(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return Path(path)


def governance_presets() -> list[str]:
    """Names of the governance presets shipped in the package (``replisim.conf/governance/*.yaml``), ``none``
    first; found at run time so the study picks up presets added later."""
    from importlib.resources import files

    root = files("replisim.conf") / "governance"
    names = sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".yaml"))
    return sorted(names, key=lambda n: n != "none")


# The default world's horizon (90 days at one hour per step) and network size (conf/config.yaml, network/mixed):
# the studies of the default world run at its own size, since its slower, evidence-based growth needs the horizon.
WORLD_STEPS = 2160
WORLD_NODES = 1000


def size_overrides(steps: int, nodes: int) -> list[str]:
    """Shared overrides that set the size of a study."""
    return [f"sim.steps={steps}", f"network.nodes={nodes}"]


@lru_cache(maxsize=64)
def _compose(overrides: tuple[str, ...]):
    import replisim

    return replisim.compose(list(overrides))


def simulate(overrides: list[str], runs: int, seed: int, params: dict | None = None):
    """Compose ``overrides`` on the packaged conf, set the dotted keys of ``params``, and simulate:
    (Config, Ensemble).

    Sweeps compose each base configuration once and vary numbers through ``params``: a Hydra composition
    costs a fraction of a second, more than a small ensemble, and the result is validated all the same.
    """
    import replisim
    from replisim.theory import with_params

    cfg = _compose(tuple(overrides))
    if params:
        cfg = replisim.validate(with_params(cfg, **params))
    return cfg, replisim.simulate(cfg, runs=runs, seed=seed)


def try_simulate(overrides: list[str], runs: int, seed: int, notes: list[str]):
    """Like :func:`simulate`, but a configuration that does not compose (e.g. a preset that uses a key this
    checkout's schema lacks) is reported in ``notes`` and skipped instead of stopping every other study."""
    from replisim import ConfigError

    try:
        return simulate(overrides, runs, seed)
    except ConfigError as exc:
        msg = f"skipped {' '.join(overrides)}: {exc}"
        warnings.warn(msg, stacklevel=2)
        notes.append(msg)
        return None, None


def tidy(ens, **columns) -> pd.DataFrame:
    """The outcome table of ``ens`` with constant columns (the swept values) added in front."""
    out = ens.outcomes.copy()
    for i, (k, v) in enumerate(columns.items()):
        out.insert(i, k, v)
    return out
