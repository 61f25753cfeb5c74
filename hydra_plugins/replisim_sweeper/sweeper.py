"""The sweeper class and its configuration (see the package docstring)."""

from dataclasses import dataclass
from typing import Dict, Optional, Sequence

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.config_store import ConfigStore


class PrevalidatedSweeper(BasicSweeper):
    """``BasicSweeper`` whose jobs were validated by ``replisim.cli.prevalidate`` before Hydra started."""

    def validate_batch_is_legal(self, batch: Sequence[Sequence[str]]) -> None:
        return None


@dataclass
class PrevalidatedSweeperConf:
    _target_: str = "hydra_plugins.replisim_sweeper.sweeper.PrevalidatedSweeper"
    max_batch_size: Optional[int] = None
    params: Optional[Dict[str, str]] = None


ConfigStore.instance().store(group="hydra/sweeper", name="replisim", node=PrevalidatedSweeperConf,
                             provider="replisim")
