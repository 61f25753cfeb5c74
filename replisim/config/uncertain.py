"""Uncertain keys: which keys may vary from run to run, and the checks of their distributions.

A configuration's ``uncertain`` mapping gives keys a distribution (``schema.UncertainCfg``) instead of one
value; every run of an ensemble draws its own value of each (``replisim.uncertainty``). This module holds what
the configuration layer decides about it: which keys may be uncertain (``key_field``), the support of each
distribution, which must lie inside the key's allowed range (``support``), and the default ranges, the
parameter registry's plausible ones (``registry_range``).

Keys that cannot vary per run, and why:

* the network itself (nodes, degree, rewiring, regions and sites, the node mix, jurisdictions' shares): every
  run of an ensemble shares one graph and one assignment of node types; sweep these instead;
* settings of the experiment (``sim.*``, ``runs``, ``seed``, labels) and switches (``*.enabled``, booleans,
  choices): not numbers about the world;
* ``replica.trial_successes``, ``replica.trial_total``: they define replication skill's Beta prior; give
  ``replica.success`` a ``beta`` distribution instead.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
import typing

from .errors import ConfigError
from .schema import NODE_TYPES, PROB, Config, JurisdictionCfg, NodeTypeCfg

GRAPH_KEYS = ("network.nodes", "network.degree", "network.rewire", "network.regions", "network.sites_per_region",
              "network.kind")
TRIAL_KEYS = ("replica.trial_successes", "replica.trial_total")
# mappings of node type -> level (governance levers), each entry a probability
TYPE_MAPPINGS = ("governance.monitoring", "governance.monitoring_floor", "governance.kill_switch_mandate")


@dataclasses.dataclass(frozen=True)
class KeyInfo:
    """What an uncertain key is: its allowed range and whether its values are whole numbers."""

    key: str
    low: float
    high: float
    integer: bool


def _refuse(key: str, why: str) -> ConfigError:
    return ConfigError(f"uncertain.{key}: {why}")


def _numeric(key: str, f: dataclasses.Field, kind) -> KeyInfo:
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    base = args[0] if args else kind
    if base is bool or f.metadata.get("choices") or base not in (int, float):
        raise _refuse(key, "not a number (a switch, a choice or a label); allowed: numeric keys, e.g. "
                           "replica.attempt_rate")
    lo, hi = f.metadata.get("range") or (None, None)
    return KeyInfo(key, -math.inf if lo is None else float(lo), math.inf if hi is None else float(hi), base is int)


def key_field(key: str, cfg: Config) -> KeyInfo:
    """The allowed range of an uncertain key, or a ConfigError saying why the key cannot vary per run."""
    return _key_field(key, tuple(cfg.jurisdictions.regions), cfg.jurisdictions.name)


@functools.lru_cache(maxsize=4096)
def _key_field(key: str, regions: tuple, jurisdictions: str) -> KeyInfo:
    """``key_field`` by what it depends on (the jurisdictions' names), cached: every run's Config asks again."""
    parts = key.split(".")
    if key in GRAPH_KEYS or key.startswith("network.mix.") or (key.startswith("jurisdictions.regions.")
                                                             and key.endswith(".share")):
        raise _refuse(key, "changes the network itself, which every run of an ensemble shares; allowed: sweep it "
                           f"instead (replisim -m {key}=a,b)")
    if key in TRIAL_KEYS:
        raise _refuse(key, "defines the Beta prior of replica.success; allowed: give replica.success a beta "
                           "distribution (successes, trials)")
    if parts[0] in ("sim", "runs", "seed", "scenario", "uncertain"):
        raise _refuse(key, "a setting of the experiment, not an uncertainty about the world; allowed: keys of "
                           "network.types, replica, governance, collusion, jurisdictions, outcome")
    if len(parts) == 4 and key.startswith("network.types."):
        if parts[2] not in NODE_TYPES:
            raise _refuse(key, f"unknown node type '{parts[2]}'; allowed: {', '.join(NODE_TYPES)}")
        hints = typing.get_type_hints(NodeTypeCfg)
        fields = {f.name: f for f in dataclasses.fields(NodeTypeCfg)}
        if parts[3] not in fields:
            raise _refuse(key, f"no such field; allowed: {', '.join(fields)}")
        return _numeric(key, fields[parts[3]], hints[parts[3]])
    if len(parts) == 3 and ".".join(parts[:2]) in TYPE_MAPPINGS:
        if parts[2] not in NODE_TYPES:
            raise _refuse(key, f"unknown node type '{parts[2]}'; allowed: {', '.join(NODE_TYPES)}")
        return KeyInfo(key, PROB[0], PROB[1], False)
    if len(parts) == 4 and key.startswith("jurisdictions.regions."):
        if parts[2] not in regions:
            raise _refuse(key, f"no jurisdiction '{parts[2]}' in jurisdictions={jurisdictions}; allowed: "
                               f"{', '.join(regions)}")
        hints = typing.get_type_hints(JurisdictionCfg)
        fields = {f.name: f for f in dataclasses.fields(JurisdictionCfg)}
        if parts[3] not in fields:
            raise _refuse(key, f"no such field; allowed: {', '.join(fields)}")
        return _numeric(key, fields[parts[3]], hints[parts[3]])
    cls, f, kind = Config, None, None
    for k, name in enumerate(parts):
        fields = {g.name: g for g in dataclasses.fields(cls)} if dataclasses.is_dataclass(cls) else {}
        if name not in fields:
            raise _refuse(key, "not a key of the schema; run 'replisim --cfg job' to list keys")
        f, kind = fields[name], typing.get_type_hints(cls)[name]
        if k < len(parts) - 1:
            cls = kind
    if dataclasses.is_dataclass(kind) or typing.get_origin(kind) is dict:
        raise _refuse(key, "a section, not a key; allowed: one of its numeric keys")
    return _numeric(key, f, kind)


def registry_range(key: str) -> tuple[float, float] | None:
    """The parameter registry's plausible range of a key as numbers, where it states one as 'lo - hi'."""
    from .registry import REGISTRY, TYPE_FIELDS

    parts = key.split(".")
    if key.startswith("network.types.") and len(parts) == 4:
        entry = TYPE_FIELDS.get(parts[3])
    elif ".".join(parts[:2]) in TYPE_MAPPINGS:
        entry = REGISTRY.get(".".join(parts[:2]))
    else:
        entry = REGISTRY.get(key)
    m = re.fullmatch(r"\s*([-+0-9.eE]+)\s*-\s*([-+0-9.eE]+)\s*", entry.plausible) if entry else None
    return (float(m.group(1)), float(m.group(2))) if m else None


def _given(spec, key: str, *names) -> None:
    missing = [n for n in names if getattr(spec, n) is None]
    if missing:
        raise _refuse(key, f"dist={spec.dist} needs {' and '.join(missing)}")


def resolved(key: str, spec, info: KeyInfo):
    """The distribution of ``key`` with its defaults filled in: a ``schema.UncertainCfg`` whose low and high
    are set (the registry's plausible range where left out; for ``normal``, the key's allowed range) and whose
    beta shapes are a and b."""
    changes = {}
    if spec.dist in ("uniform", "loguniform", "triangular") and (spec.low is None or spec.high is None):
        rr = registry_range(key)
        if rr is None:
            raise _refuse(key, f"dist={spec.dist} needs low and high (the registry states no numeric range for "
                               "this key)")
        changes.update(low=rr[0] if spec.low is None else spec.low, high=rr[1] if spec.high is None else spec.high)
    if spec.dist == "beta":
        changes.update(low=0.0 if spec.low is None else spec.low, high=1.0 if spec.high is None else spec.high)
        if spec.a is not None or spec.b is not None:
            _given(spec, key, "a", "b")
        elif spec.successes is not None:
            _given(spec, key, "successes", "trials")
            if not 0 <= spec.successes <= spec.trials:
                raise _refuse(key, f"successes={spec.successes} with trials={spec.trials}; allowed: 0 <= "
                                   "successes <= trials")
            changes.update(a=1.0 + spec.successes, b=1.0 + spec.trials - spec.successes)
        elif spec.mean is not None:
            _given(spec, key, "mean", "trials")
            lo, hi = changes["low"], changes["high"]
            if not (lo < spec.mean < hi) or spec.trials <= 0:
                raise _refuse(key, f"mean={spec.mean} with trials={spec.trials}; allowed: low < mean < high and "
                                   "trials > 0")
            m = (spec.mean - lo) / (hi - lo)
            changes.update(a=m * spec.trials, b=(1 - m) * spec.trials)
        else:
            raise _refuse(key, "dist=beta needs a and b, successes and trials, or mean and trials")
    if spec.dist == "normal":
        _given(spec, key, "mean", "sd")
        changes.update(low=max(info.low, -math.inf if spec.low is None else spec.low),
                       high=min(info.high, math.inf if spec.high is None else spec.high))
    if spec.dist == "triangular" and spec.mode is None:
        lo, hi = changes.get("low", spec.low), changes.get("high", spec.high)
        changes["mode"] = (lo + hi) / 2
    return dataclasses.replace(spec, **changes)


def support(key: str, spec) -> tuple[float, float]:
    """Smallest and largest value a resolved distribution can give."""
    if spec.dist == "fixed":
        return spec.value, spec.value
    return spec.low, spec.high


def check_spec(key: str, spec, info: KeyInfo) -> None:
    """Refuse a distribution that is incomplete, degenerate, or reaches outside the key's allowed range."""
    if spec.dist == "fixed":
        _given(spec, key, "value")
    spec = resolved(key, spec, info)
    lo, hi = support(key, spec)
    numbers = [x for x in (lo, hi, spec.mode, spec.mean, spec.sd, spec.a, spec.b) if x is not None]
    if spec.dist != "normal" and not all(math.isfinite(x) for x in numbers):
        raise _refuse(key, f"dist={spec.dist} with a non-finite parameter; allowed: finite numbers")
    if spec.dist != "fixed" and not lo < hi:
        raise _refuse(key, f"dist={spec.dist} with low={lo:g} >= high={hi:g}; allowed: low < high")
    if spec.dist == "loguniform" and lo <= 0:
        raise _refuse(key, f"dist=loguniform with low={lo:g}; allowed: low > 0")
    if spec.dist == "triangular" and not lo <= spec.mode <= hi:
        raise _refuse(key, f"dist=triangular with mode={spec.mode:g}; allowed: low <= mode <= high")
    if spec.dist == "beta" and (spec.a <= 0 or spec.b <= 0):
        raise _refuse(key, f"dist=beta with a={spec.a:g}, b={spec.b:g}; allowed: a > 0 and b > 0")
    if spec.dist == "normal" and not (math.isfinite(spec.mean) and math.isfinite(spec.sd) and spec.sd > 0):
        raise _refuse(key, f"dist=normal with mean={spec.mean}, sd={spec.sd}; allowed: finite mean, sd > 0")
    if lo < info.low or hi > info.high:
        allowed = f"[{info.low:g}, {info.high:g}]" if math.isfinite(info.high) else f">= {info.low:g}"
        raise _refuse(key, f"dist={spec.dist} reaches [{lo:g}, {hi:g}], outside the key's allowed range; "
                           f"allowed: {allowed}")


def check(cfg: Config) -> None:
    """Every uncertain key may vary per run and its distribution lies inside the key's allowed range."""
    for key, spec in cfg.uncertain.items():
        info = key_field(key, cfg)
        check_spec(key, spec, info)
        if key == "replica.success" and cfg.replica.success_prior:
            raise _refuse(key, "replica.success_prior=true draws replication skill from the trials already; "
                               "allowed: one of the two (a beta distribution here does what the prior does)")
