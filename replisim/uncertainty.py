"""Uncertain inputs drawn per run: every run of an ensemble gets its own value of each uncertain key.

A configuration's ``uncertain`` mapping (``replisim.compose(..., uncertain={...})`` or the ``uncertainty``
config group) gives keys distributions; ``replisim.config.uncertain`` checks them. This module draws and
applies them:

* ``draw``: the values of every run, from the run's own counter-based stream (``engine.rng.key_uniforms``:
  a function of (seed, run, key), so a value never depends on the thread count, the chunking of the runs, the
  launcher, or which other keys are uncertain), turned into the key's distribution by its quantile function.
  A design chosen elsewhere (Sobol or Latin-hypercube samples of ``replisim explore``) passes its values
  instead, through ``simulate(..., design=...)``.
* how the values reach the engine, by kind of key (``kind_of``):
  - ``vector``: a scalar of the parameter vector (``engine.params.KEYS``): the ensemble's (runs x parameters)
    matrix gets the run's value, in steps (``config.units``);
  - ``skill``: ``replica.success``, the run's initial replication skill (as the trial prior draws it);
  - ``world``: anything the network's node arrays are built from (node-type levels, footprint, governance
    measures acting at set-up, jurisdictions' factors): the run gets its own governed node arrays, built by the
    same functions as the ensemble's (``network.node_values``, ``governance.apply_governance``) on the
    ensemble's graph and node types, and the engine reads run r's row of the stacked arrays.
* ``with_values``: the Config of one run (for the Mesa engine, which builds each run from a Config).
"""

from __future__ import annotations

import dataclasses
import zlib

import numpy as np

from .config import Config, ConfigError
from .config.uncertain import key_field, resolved
from .config.units import DURATIONS, RATES, per_step

SKILL_KEY = "replica.success"


def group_file(name: str = "default") -> dict:
    """The ``uncertain`` mapping of a file of the ``uncertainty`` config group (conf/uncertainty/NAME.yaml), read
    without Hydra (for code running inside the Hydra app, where composing anew would reset Hydra's state)."""
    from importlib.resources import files

    from omegaconf import OmegaConf

    text = (files("replisim.conf") / "uncertainty" / f"{name}.yaml").read_text()
    return OmegaConf.to_container(OmegaConf.create(text)).get("uncertain") or {}


def specs(cfg: Config) -> dict:
    """The resolved distribution of each uncertain key (defaults filled in), in the mapping's order."""
    return {key: resolved(key, spec, key_field(key, cfg)) for key, spec in cfg.uncertain.items()}


def tag(key: str) -> int:
    """The stream tag of a key: a hash of its name (CRC-32), stable across sessions and machines."""
    return zlib.crc32(key.encode())


def distribution(spec):
    """The frozen SciPy distribution of a resolved spec (``specs``); None for ``fixed``."""
    from scipy import stats

    if spec.dist == "fixed":
        return None
    if spec.dist == "uniform":
        return stats.uniform(spec.low, spec.high - spec.low)
    if spec.dist == "loguniform":
        return stats.loguniform(spec.low, spec.high)
    width = spec.high - spec.low
    if spec.dist == "triangular":
        return stats.triang((spec.mode - spec.low) / width, loc=spec.low, scale=width)
    if spec.dist == "beta":
        return stats.beta(spec.a, spec.b, loc=spec.low, scale=width)
    if spec.dist == "normal":
        return stats.truncnorm((spec.low - spec.mean) / spec.sd, (spec.high - spec.mean) / spec.sd, loc=spec.mean,
                               scale=spec.sd)
    raise ConfigError(f"dist={spec.dist!r} is not allowed")  # pragma: no cover - the schema's choices


def quantile(key: str, spec, u: np.ndarray, integer: bool = False) -> np.ndarray:
    """The values of ``key`` at the probabilities ``u`` (its distribution's quantile function); whole numbers
    for an integer key (rounded to the nearest)."""
    u = np.asarray(u, np.float64)
    dist = distribution(spec)
    x = np.full(u.shape, float(spec.value)) if dist is None else dist.ppf(u)
    # rounding can leave a hair outside the support; the support lies inside the key's range (checked)
    lo, hi = (spec.value, spec.value) if dist is None else (spec.low, spec.high)
    x = np.clip(x, lo, hi)
    return np.rint(x) if integer else x


def draw(cfg: Config, seed: int, runs: np.ndarray) -> dict[str, np.ndarray]:
    """Each uncertain key's value in each of the runs ``runs`` (run indices) of the ensemble of ``seed``."""
    from .engine.rng import key_uniforms

    if not cfg.uncertain:
        return {}
    keys = list(cfg.uncertain)
    u = key_uniforms(np.uint64(seed), np.asarray(runs, np.int64), np.array([tag(k) for k in keys], np.int64))
    resolved_specs = specs(cfg)
    return {key: quantile(key, resolved_specs[key], u[:, k], key_field(key, cfg).integer)
            for k, key in enumerate(keys)}


def kind_of(key: str) -> str:
    """How a key's per-run value reaches the engine: ``vector``, ``skill`` or ``world`` (module docstring)."""
    from .engine.params import KEYS

    if key == SKILL_KEY:
        return "skill"
    return "vector" if key in KEYS else "world"


def check_design(cfg: Config, design: dict, runs: int) -> dict[str, np.ndarray]:
    """A design passed to ``simulate``: a value per run for keys that may vary, each inside its allowed range."""
    out = {}
    for key, values in design.items():
        info = key_field(key, cfg)
        values = np.asarray(values, np.float64)
        if values.shape != (runs,):
            raise ConfigError(f"design[{key!r}] has shape {values.shape}; allowed: one value per run ({runs},)")
        if not np.all(np.isfinite(values)) or values.min() < info.low or values.max() > info.high:
            raise ConfigError(f"design[{key!r}] holds values outside [{info.low:g}, {info.high:g}], the key's "
                              "allowed range")
        out[key] = np.rint(values) if info.integer else values
    return out


def param_matrix(cfg: Config, values: dict[str, np.ndarray], runs: int) -> np.ndarray:
    """The (runs x parameters) matrix of the ensemble: ``pack(cfg)`` in every row, each ``vector`` key's column
    replaced by the runs' values in the engine's units. One row (shared) when no vector key varies."""
    from .engine.params import KEYS, pack

    base = pack(cfg)
    vector = [key for key in values if kind_of(key) == "vector"]
    if not vector:
        return base[None, :]
    matrix = np.repeat(base[None, :], runs, axis=0)
    h = cfg.sim.hours_per_step
    for key in vector:
        v = np.asarray(values[key], np.float64)
        if key in RATES:
            v = np.asarray(per_step(v, h), np.float64)
        elif key in DURATIONS:
            v = np.floor(v / h + 0.5)
        matrix[:, KEYS.index(key)] = v
    return matrix


def _replaced(node, path: list[str], value):
    """``node`` with the entry at ``path`` set to ``value``: the objects along the path are copied (dataclasses
    by ``dataclasses.replace``, mappings by ``dict``), everything else is shared. A run's Config costs a few
    copies instead of a deep copy of the whole configuration (0.3 ms a run)."""
    head, rest = path[0], path[1:]
    if isinstance(node, dict):
        out = dict(node)
        out[head] = _replaced(node[head], rest, value) if rest else value
        return out
    return dataclasses.replace(node, **{head: _replaced(getattr(node, head), rest, value) if rest else value})


def with_values(cfg: Config, values: dict) -> Config:
    """A copy of ``cfg`` with each key of ``values`` set (one run's draws) and no uncertain keys left. Only the
    parts on the keys' paths are new objects; the rest is shared with ``cfg`` (treat both as read-only)."""
    run_cfg = dataclasses.replace(cfg, uncertain={})
    for key, value in values.items():
        value = int(round(value)) if key_field(key, cfg).integer else float(value)
        run_cfg = _replaced(run_cfg, key.split("."), value)
    return run_cfg


def world_keys(values: dict) -> list[str]:
    return [key for key in values if kind_of(key) == "world"]


def run_worlds(cfg: Config, net, seed: int, values: dict, runs: int) -> list:
    """The governed node arrays of each of ``runs`` runs when world keys are uncertain (none: an empty list, every
    run on the ensemble's world), on the ensemble's graph and node types (``net``)."""
    from .governance import compliance_draws

    if not world_keys(values):
        return []
    draws = compliance_draws(seed, net.capacity.shape[0])
    return [run_governance(cfg, net, seed, values, row, draws) for row in range(runs)]


def run_governance(cfg: Config, net, seed: int, values: dict, row: int, draws=None):
    """The governed node arrays of one run whose world keys take their ``row``-th values, on the ensemble's
    graph and node types (``net``); ``draws``: the ensemble's ``governance.compliance_draws``."""
    from .governance import apply_governance
    from .network import node_values

    run_cfg = with_values(cfg, {key: values[key][row] for key in world_keys(values)})
    capacity, security, monitoring, kill = node_values(run_cfg, net.node_type)
    run_net = dataclasses.replace(net, capacity=capacity, security=security, monitoring=monitoring,
                                  kill_switch=kill)
    gov = apply_governance(run_cfg, run_net, seed, draws)
    initial = int(values["replica.initial"][row]) if "replica.initial" in values else cfg.replica.initial
    if initial > int(gov.capacity.sum()):
        raise ConfigError(f"replica.initial={initial} exceeds the capacity left by governance "
                          f"({int(gov.capacity.sum())}) in the world a run drew from uncertain keys "
                          f"({', '.join(world_keys(values))}); allowed: distributions that leave room")
    return gov


def drawn_columns(values: dict, governed: list) -> dict:
    """The outcome columns of what the runs drew, for ``ensemble.from_arrays``: a column per uncertain key (named
    by the key, the run's value) and the slots withheld in each run's own world (``governed``; none: the columns
    of the ensemble's world stay)."""
    cols = {key: np.asarray(v, np.float64) for key, v in values.items()}
    if governed:
        cols["withheld_slots_licensing"] = np.array([g.withheld_licensing for g in governed], np.int64)
        cols["withheld_slots_export_controls"] = np.array([g.withheld_export for g in governed], np.int64)
    return cols


def annotate(ens, cfg: Config, values: dict):
    """Add to an Ensemble's metadata the distributions its runs drew from (its columns: ``drawn_columns``)."""
    if not values:
        return ens
    ens.meta["uncertain"] = {key: {k: v for k, v in dataclasses.asdict(spec).items() if v is not None}
                             for key, spec in specs(cfg).items() if key in cfg.uncertain}
    ens.meta["uncertain_keys"] = list(values)
    return ens
