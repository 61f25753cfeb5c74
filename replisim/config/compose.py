"""Compose a validated :class:`Config` from the packaged ``conf/`` tree and Hydra-style overrides.

This is the only place outside the command line that touches Hydra. Hydra's errors are rewritten into
one-line :class:`ConfigError` messages with a "did you mean" where a key or option is close to a real one.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Sequence

from .errors import ConfigError
from .schema import RENAMED, Config
from .validate import did_you_mean, validate

CONFIG_MODULE = "replisim.conf"
SCHEMA_NAME = "replisim_schema"


def schema_node():
    """The structured schema as an OmegaConf node, with no jurisdiction.

    Jurisdictions always come from the ``jurisdictions`` config group; Hydra merges dictionaries, so a default
    region left in the schema could never be removed by a group file that names other regions.
    """
    from omegaconf import OmegaConf

    node = OmegaConf.structured(Config)
    node.jurisdictions.regions = {}
    return node


@functools.cache
def _merge_schema():
    """``schema_node()`` built once for ``to_config`` (40 ms, once per job of a sweep otherwise); only ever
    read: ``OmegaConf.merge`` copies its inputs."""
    return schema_node()


def register_schema() -> None:
    """Register the structured schema with Hydra's ConfigStore (idempotent)."""
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(name=SCHEMA_NAME, node=schema_node())


def _all_keys(cls, prefix="") -> list[str]:
    keys = []
    for f in dataclasses.fields(cls):
        keys.append(prefix + f.name)
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        if dataclasses.is_dataclass(default):
            keys += _all_keys(type(default), prefix + f.name + ".")
    return keys


def _group_options(group: str) -> list[str]:
    from importlib.resources import files

    root = files(CONFIG_MODULE) / group
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".yaml"))


def explain_hydra_error(exc: Exception) -> ConfigError:
    """Turn a Hydra/OmegaConf exception into a one-line ConfigError."""
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    full = f"{exc}\n{exc.__cause__ or ''}"
    m = re.search(r"Key '([^']+)' is not in struct\s+full_key: (\S+)\s+reference_type=Dict", full)
    if m:  # a new entry of a mapping (e.g. governance.monitoring) needs Hydra's '+' append form
        entry, full_key = m.groups()
        mapping = full_key[: -len(entry) - 1]
        return ConfigError(
            f"{full_key}: '{entry}' is a new entry of the mapping '{mapping}'; allowed: add it as '+{full_key}=<value>'"
        )
    m = re.search(r"Value '([^']*)' is not a valid bool.*\s+full_key: (\S+)", full)
    if m:
        return ConfigError(f"{m.group(2)}={m.group(1)!r} has the wrong type; allowed: true or false")
    m = re.search(r"Error merging override \+?([\w.]+)=.*\n.*Invalid type assigned: dict is not a subclass of (\w+)", full)
    if m:
        key = m.group(1)
        parent = ".".join(key.split(".")[:-1])
        return ConfigError(
            f"{parent}: a new {m.group(2)} cannot be assembled from single overrides; "
            f"allowed: define it in a YAML file of its config group (e.g. conf/jurisdictions/) and select that file"
        )
    m = re.search(r"Key '[^']+' not in '\w+'\s+full_key: (\S+)", full) or re.search(
        r"Could not override '([^']+)'", full
    )
    if m:
        key = m.group(1).lstrip("+~")
        if key in RENAMED:
            return ConfigError(f"{key} was renamed; use {RENAMED[key]}")
        return ConfigError(f"unknown key '{key}'{did_you_mean(key, _all_keys(Config))}; run 'replisim --cfg job' to list keys")
    m = re.search(r"Could not find '([^/']+)/([^']+)'", full)
    if m:
        group, option = m.groups()
        try:
            options = _group_options(group)
        except Exception:  # noqa: BLE001 - unknown group
            options = []
        return ConfigError(
            f"{group}={option}: no such option; allowed: {', '.join(options)}{did_you_mean(option, options)}"
        )
    m = re.search(r"Value '([^']*)' (?:of type '[^']+' )?could not be converted to (\w+)", full)
    if m:
        key_m = re.search(r"full_key: (\S+)", full)
        key = key_m.group(1) if key_m else "?"
        return ConfigError(f"{key}={m.group(1)!r} has the wrong type; allowed: {m.group(2)}")
    return ConfigError(msg)


def to_config(omega_cfg) -> Config:
    """Convert a composed OmegaConf node (schema-typed) into a validated Config dataclass."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    try:
        node = OmegaConf.masked_copy(omega_cfg, [f.name for f in dataclasses.fields(Config)])
        merged = OmegaConf.merge(_merge_schema(), node)
        cfg = OmegaConf.to_object(merged)
    except OmegaConfBaseException as exc:
        raise explain_hydra_error(exc) from None
    return validate(cfg)


def compose(overrides: Sequence[str] = (), config_name: str = "config", uncertain: dict | None = None) -> Config:
    """Compose the packaged configuration with ``overrides`` (Hydra syntax) and validate it.

    ``uncertain``: keys whose value each run draws from a distribution, added to those of the ``uncertainty``
    group (``schema.UncertainCfg``; each distribution checked against its key's allowed range).

    >>> cfg = compose(["scenario=minimal", "network.nodes=1000", "sim.steps=200"])
    >>> cfg = compose(uncertain={"governance.detection": {"dist": "uniform", "low": 0.0, "high": 0.6}})
    """
    if overrides is None or isinstance(overrides, (str, bytes)) or not hasattr(overrides, "__iter__"):
        raise ConfigError(f"overrides={overrides!r}: allowed: a list of override strings such as ['runs=5']")
    cfg = compose_many([list(overrides)], config_name)[0]
    return cfg if uncertain is None else with_uncertain(cfg, uncertain)


def with_uncertain(cfg: Config, uncertain: dict) -> Config:
    """``cfg`` with the distributions of ``uncertain`` (key -> mapping of UncertainCfg fields) added, validated."""
    from .schema import UncertainCfg

    if not isinstance(uncertain, dict):
        raise ConfigError(f"uncertain={uncertain!r}: allowed: a dict of key -> distribution, e.g. "
                          "{'governance.detection': {'dist': 'uniform', 'low': 0.0, 'high': 0.6}}")
    fields = {f.name for f in dataclasses.fields(UncertainCfg)}
    specs = dict(cfg.uncertain)
    for key, spec in uncertain.items():
        if isinstance(spec, UncertainCfg):
            specs[key] = spec
            continue
        if not isinstance(spec, dict):
            raise ConfigError(f"uncertain.{key}={spec!r}: allowed: a mapping such as {{'dist': 'uniform', "
                              "'low': 0.0, 'high': 1.0}")
        unknown = [k for k in spec if k not in fields]
        if unknown:
            raise ConfigError(f"uncertain.{key}.{unknown[0]}: unknown field{did_you_mean(unknown[0], fields)}; "
                              f"allowed: {', '.join(sorted(fields))}")
        for k, v in spec.items():
            if k != "dist" and v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
                raise ConfigError(f"uncertain.{key}.{k}={v!r} has the wrong type; allowed: a number")
        specs[key] = UncertainCfg(**spec)
    return validate(dataclasses.replace(cfg, uncertain=specs))


def compose_many(override_sets: Sequence[Sequence[str]], config_name: str = "config") -> list[Config]:
    """``compose`` of each set of overrides, with Hydra initialised once (a sweep's jobs: about 0.1 s each
    instead of 0.17 s). Raises the ConfigError of the first set that fails."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_module
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    if isinstance(override_sets, (str, bytes)) or not all(
            not isinstance(o, (str, bytes)) and all(isinstance(x, str) for x in o) for o in override_sets):
        raise ConfigError(f"overrides={override_sets[0] if len(override_sets) == 1 else override_sets!r}: allowed: "
                          "a list of override strings such as ['runs=5', 'scenario=minimal']")
    register_schema()
    GlobalHydra.instance().clear()
    composed = []
    try:
        with initialize_config_module(config_module=CONFIG_MODULE, version_base="1.3"):
            for overrides in override_sets:
                composed.append(hydra_compose(config_name=config_name, overrides=list(overrides)))
                _check_no_extra_keys(composed[-1])
                composed[-1] = to_config(composed[-1])
    except (HydraException, OmegaConfBaseException, ValueError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise explain_hydra_error(exc) from None
    finally:
        GlobalHydra.instance().clear()
    return composed


def _check_no_extra_keys(omega_cfg) -> None:
    extra = [k for k in omega_cfg if k not in {f.name for f in dataclasses.fields(Config)} | {"hydra"}]
    if extra:
        raise ConfigError(f"unknown key '{extra[0]}'{did_you_mean(extra[0], _all_keys(Config))}; it is not in the schema")

