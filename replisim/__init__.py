"""replisim: which governance measures keep a population of self-copying AI replicas contained, at what cost.

Public API::

    import replisim
    cfg = replisim.compose(["scenario=minimal", "network.nodes=1000", "sim.steps=200"])
    ens = replisim.simulate(cfg, runs=1000, seed=0)
    ens.outcomes            # DataFrame, one row per run
    ens.series("replicas")  # array (runs, steps + 1)
"""

from .config import Config, ConfigError, compose, validate
from .ensemble import Ensemble
from .simulate import simulate

__all__ = ["Config", "ConfigError", "Ensemble", "compose", "simulate", "validate"]
__version__ = "0.1.0"
