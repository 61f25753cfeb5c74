"""Range, choice and consistency checks of a composed :class:`Config`.

Hydra's structured configs already reject unknown keys and wrong types; this module checks what a type
cannot express (ranges, choices, cross-key constraints, memory) and says it in one line.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os

from .errors import ConfigError
from .limits import LINEAGE, NODE_COUNT, NODE_INDEX, most
from .schema import NODE_TYPES, Config, node_slots
from .uncertain import check as check_uncertain
from .units import check_step_counts

# Bytes held per replica slot by the engine: the replica table of replisim/engine/state.py (23, its target
# column included), rounded up for the overflow buffer and allocator slack.
BYTES_PER_REPLICA_SLOT = 40


def did_you_mean(word: str, allowed) -> str:
    close = difflib.get_close_matches(str(word), list(allowed), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _check_value(key: str, value, meta: dict) -> None:
    lo_hi = meta.get("range")
    choices = meta.get("choices")
    if value is None:
        return
    if choices is not None and value not in choices:
        raise ConfigError(f"{key}={value!r} is not allowed; choose one of {', '.join(choices)}{did_you_mean(value, choices)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{key}={value!r} is not a finite number; allowed: finite values"
                          + (f" in [{lo_hi[0]}, {lo_hi[1]}]" if lo_hi and lo_hi[1] is not None else ""))
    if lo_hi is not None and not isinstance(value, bool):
        lo, hi = lo_hi
        if (lo is not None and value < lo) or (hi is not None and value > hi) or value != value:
            what = f"in [{lo}, {hi}]" if hi is not None else f">= {lo}"
            raise ConfigError(f"{key}={value!r} is out of range; allowed: {what}")


def _walk(obj, prefix: str) -> None:
    for f in dataclasses.fields(obj):
        key = f"{prefix}{f.name}"
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            _walk(value, key + ".")
        elif isinstance(value, dict):
            for k, v in value.items():
                if dataclasses.is_dataclass(v):
                    _walk(v, f"{key}.{k}.")
        else:
            _check_value(key, value, f.metadata)


def _check_node_type_keys(key: str, mapping: dict) -> None:
    for name, v in mapping.items():
        if name not in NODE_TYPES:
            raise ConfigError(f"{key}.{name}: unknown node type; allowed: {', '.join(NODE_TYPES)}{did_you_mean(name, NODE_TYPES)}")
        if not 0.0 <= float(v) <= 1.0:
            raise ConfigError(f"{key}.{name}={v!r} is out of range; allowed: in [0.0, 1.0]")


def _check_widths(cfg: Config) -> None:
    """Counts the engine stores in 32 bits (``config.limits``): past them an index or a slot count would wrap."""
    net = cfg.network
    checks = [("network.nodes", net.nodes, most(NODE_INDEX)), ("replica.initial", cfg.replica.initial, most(LINEAGE))]
    if net.capacity is not None:
        checks.append(("network.capacity", net.capacity, most(NODE_COUNT)))
    for name, t in net.types.items():
        checks.append((f"network.types.{name}: slots per node", node_slots(t, cfg.replica.footprint_gb), most(NODE_COUNT)))
    for key, value, bound in checks:
        if value > bound:
            raise ConfigError(f"{key}={value} is out of range; allowed: <= {bound} (the engine counts it in 32 bits)")


def total_capacity_estimate(cfg: Config) -> int:
    """Expected total replica slots of the network (exact when network.capacity is set)."""
    net = cfg.network
    if net.capacity is not None:
        return net.nodes * net.capacity
    total_mix = sum(net.mix.values())
    mean_cap = sum(net.mix[t] / total_mix * node_slots(net.types[t], cfg.replica.footprint_gb) for t in net.mix)
    return int(net.nodes * mean_cap)


def memory_estimate_bytes(cfg: Config, threads: int = 1) -> int:
    """Peak bytes of an ensemble: the state of each run in flight (replica columns, per-node arrays) plus what
    the ensemble keeps for all ``cfg.runs`` runs (``series_bytes``: the series, float64 per step, and the
    outcome rows)."""
    return run_bytes(cfg) * max(1, threads) + series_bytes(cfg)


def run_bytes(cfg: Config) -> int:
    """Bytes of one run's state: replica columns and per-node arrays."""
    slots = cfg.sim.max_replicas or total_capacity_estimate(cfg)
    return slots * BYTES_PER_REPLICA_SLOT + cfg.network.nodes * 64 + (cfg.sim.steps + 1) * 64


def series_bytes(cfg: Config) -> int:
    """Bytes the ensemble keeps for its runs: every series at every step (float64) and an outcome row (at most
    a few hundred float64 columns, with per-node-type and per-jurisdiction placement)."""
    from ..results import SERIES_NAMES

    return cfg.runs * (len(SERIES_NAMES) * (cfg.sim.steps + 1) * 8 + 512 * 8)


def check_memory(cfg: Config, runs: int | None = None, group_rows: int = 0) -> None:
    """Raise ConfigError when the ensemble's memory estimate exceeds the limit (``sim.memory_limit_gb``, else half
    the machine). ``runs`` (default ``cfg.runs``) and ``group_rows`` (the labels of ``simulate``'s ``groups``,
    each a row of runs x (steps + 1) float64) are what ``simulate`` is asked for beyond the configuration."""
    if runs is not None:
        cfg = dataclasses.replace(cfg, runs=runs)
    groups = cfg.runs * group_rows * (cfg.sim.steps + 1) * 8
    need = memory_estimate_bytes(cfg) + groups
    limit = int(cfg.sim.memory_limit_gb * (1 << 30)) if cfg.sim.memory_limit_gb else machine_memory_bytes() // 2
    if need > limit:
        # name what takes the memory: the group series, the runs' series (runs x steps) or one run's network
        if groups > max(series_bytes(cfg), run_bytes(cfg)):
            what = f"groups= ({group_rows} labels) with sim.steps={cfg.sim.steps} and runs={cfg.runs}"
        elif series_bytes(cfg) > run_bytes(cfg):
            what = f"sim.steps={cfg.sim.steps} with runs={cfg.runs}"
        else:
            what = f"network.nodes={cfg.network.nodes}"
        raise ConfigError(
            f"{what}: the ensemble needs about {need / (1 << 30):.1f} GiB, "
            f"more than the {limit / (1 << 30):.1f} GiB allowed (half the machine or sim.memory_limit_gb)"
        )


def machine_memory_bytes() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):  # pragma: no cover - non-POSIX
        return 8 << 30


def validate(cfg: Config) -> Config:
    """Raise :class:`ConfigError` on the first invalid value; return ``cfg`` unchanged otherwise."""
    _walk(cfg, "")
    check_step_counts(cfg)
    check_uncertain(cfg)
    net = cfg.network
    _check_node_type_keys("network.mix", net.mix)
    if sum(net.mix.values()) <= 0:
        raise ConfigError(f"network.mix={dict(net.mix)} has no positive share; allowed: shares >= 0 with a positive sum")
    for name in net.mix:
        if name not in net.types:
            raise ConfigError(f"network.mix.{name}: no defaults in network.types for this node type")
    _check_node_type_keys("governance.monitoring", cfg.governance.monitoring)
    _check_node_type_keys("governance.monitoring_floor", cfg.governance.monitoring_floor)
    _check_node_type_keys("governance.kill_switch_mandate", cfg.governance.kill_switch_mandate)
    if net.kind == "random_regular" and (net.nodes * net.degree) % 2:
        raise ConfigError(f"network.degree={net.degree} with network.nodes={net.nodes}: random_regular needs nodes x degree even")
    if net.kind in ("small_world", "scale_free") and net.degree % 2:
        raise ConfigError(f"network.degree={net.degree} is odd; a {net.kind} network gives each node degree / 2 links "
                          f"{'on each side' if net.kind == 'small_world' else 'as it attaches'}, so it would be "
                          f"{net.degree - 1}; allowed: an even degree")
    if net.kind in ("random_regular", "small_world", "scale_free") and net.degree >= net.nodes:
        raise ConfigError(f"network.degree={net.degree} must be below network.nodes={net.nodes} for a {net.kind} network")
    regions = cfg.jurisdictions.regions
    if not regions:
        raise ConfigError("jurisdictions.regions is empty; allowed: at least one jurisdiction")
    share = sum(r.share for r in regions.values())
    if abs(share - 1.0) > 1e-6:
        raise ConfigError(f"jurisdictions.regions shares sum to {share:g}; allowed: shares summing to 1")
    d = cfg.outcome.drivers
    if d and d & (d - 1):
        raise ConfigError(f"outcome.drivers={d} is not allowed; allowed: 0 (no 'what drives this' section) or a power "
                          "of 2 (Saltelli base samples)")
    if cfg.replica.trial_successes > cfg.replica.trial_total:
        raise ConfigError(
            f"replica.trial_successes={cfg.replica.trial_successes} exceeds replica.trial_total={cfg.replica.trial_total}"
        )
    cap = total_capacity_estimate(cfg)
    if cap == 0 and net.capacity is None:
        most = max(net.types[t].memory_gb for t in net.mix if net.mix[t] > 0)
        raise ConfigError(f"replica.footprint_gb={cfg.replica.footprint_gb:g} does not fit on any node (the largest "
                          f"node type in network.mix has {most:g} GB); allowed: <= {most:g}")
    if cfg.replica.initial > cap:
        raise ConfigError(f"replica.initial={cfg.replica.initial} exceeds the total capacity {cap}; allowed: <= {cap}")
    if cfg.sim.max_replicas is not None and cfg.replica.initial > cfg.sim.max_replicas:
        raise ConfigError(f"replica.initial={cfg.replica.initial} exceeds sim.max_replicas={cfg.sim.max_replicas}")
    check_memory(cfg)
    _check_widths(cfg)  # after the memory estimate, which names the larger problem first
    return cfg
