"""replisim: which governance measures keep a population of self-copying AI replicas contained, at what cost.

Public API::

    import replisim
    cfg = replisim.compose(["scenario=minimal", "network.nodes=1000", "sim.steps=200"])
    ens = replisim.simulate(cfg, runs=1000, seed=0)
    ens.outcomes            # DataFrame, one row per run
    ens.series("replicas")  # array (runs, steps + 1)

    # deep uncertainty: keys drawn per run, which of them drive the answer, what it would take
    cfg = replisim.compose(uncertain={"governance.detection": {"dist": "uniform", "low": 0.0, "high": 0.6}})
    table = replisim.explore(cfg, samples=256, outdir="explore")   # Sobol indices (DataFrame), PRIM boxes
    replisim.what_it_takes(cfg, "governance.detection", 0.0, 1.0)  # {"value", "low", "high", ...}
    replisim.optimize(cfg, outdir="optimize")                      # the non-dominated policies (DataFrame)
"""

from .batch import batch
from .config import Config, ConfigError, compose, validate
from .ensemble import Ensemble
from .exploration import explore
from .optimization import optimize
from .simulate import simulate
from .thresholds import what_it_takes

__all__ = ["Config", "ConfigError", "Ensemble", "batch", "compose", "explore", "optimize", "simulate", "validate",
           "what_it_takes"]
__version__ = "0.1.0"
