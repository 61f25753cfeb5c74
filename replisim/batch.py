"""``batch``: a grid of configurations, an ensemble each, one tidy table (Mesa's ``batch_run``, Starsim's ``MultiSim``).

    table = replisim.batch(cfg, grid={"replica.success": [0.3, 0.5, 0.7], "governance.detection": [0.1, 0.2]},
                           runs=100, seed=0)

Every combination of the grid's values (their Cartesian product, in the grid's order) is set on ``cfg`` and
validated like an override (any key of the schema, the network's size included: each combination is its own
ensemble), then simulated with the same seed, so combinations differ only by their values (common random numbers).
The table has the grid's keys as its first columns, then the outcome table of each ensemble.
"""

from __future__ import annotations

import itertools

import pandas as pd

from .config import Config, ConfigError


def with_keys(cfg: Config, values: dict) -> Config:
    """``cfg`` with dotted keys set (``{"network.nodes": 500, "network.types.enterprise.monitoring": 0.01}``),
    converted to the schema's types and validated as overrides are (a ConfigError names key and value)."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    from .config.compose import explain_hydra_error, to_config

    def text(v) -> str:
        return "null" if v is None else str(v).lower() if isinstance(v, bool) else str(v)

    try:
        node = OmegaConf.merge(OmegaConf.structured(cfg), OmegaConf.from_dotlist([f"{k}={text(v)}" for k, v in
                                                                                 values.items()]))
    except OmegaConfBaseException as exc:
        raise explain_hydra_error(exc) from None
    return to_config(node)


def batch(cfg: Config, grid: dict, runs: int | None = None, seed: int | None = None, engine: str = "numba",
          progress: bool = False) -> pd.DataFrame:
    """One row per (combination of the grid's values, run): the grid's keys, then the outcomes (module docstring)."""
    from .simulate import simulate

    if not isinstance(cfg, Config):
        raise ConfigError(f"cfg={type(cfg).__name__}: not a Config; allowed: a Config from replisim.compose(...)")
    if not isinstance(grid, dict) or not grid:
        raise ConfigError(f"grid={grid!r}: allowed: a dict of key -> list of values, e.g. "
                          "{'replica.success': [0.3, 0.5]}")
    for key, values in grid.items():
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__") or not list(values):
            raise ConfigError(f"grid[{key!r}]={values!r}: allowed: a non-empty list of values")
    keys = list(grid)
    combos = list(itertools.product(*(list(grid[k]) for k in keys)))
    cfgs = [with_keys(cfg, dict(zip(keys, combo))) for combo in combos]  # every combination checked first
    frames = []
    for combo, c in zip(combos, cfgs):
        ens = simulate(c, runs=runs, seed=seed, engine=engine, progress=progress)
        head = pd.DataFrame({k: [v] * ens.runs for k, v in zip(keys, combo)})
        frames.append(pd.concat([head, ens.outcomes.drop(columns=[k for k in keys if k in ens.outcomes])], axis=1))
    return pd.concat(frames, ignore_index=True)
