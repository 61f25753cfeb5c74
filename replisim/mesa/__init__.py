"""The Mesa engine: the same model as the Numba engine, written to be read (agents.py fits on a slide).

``simulate(cfg, engine="mesa")`` runs it through :func:`replisim.mesa.run.simulate_mesa`.
"""

from .agents import Replica
from .model import ComputeNode, ReplicationModel
from .run import simulate_mesa

__all__ = ["ComputeNode", "Replica", "ReplicationModel", "simulate_mesa"]
