"""The sweeper class and its configuration (see the package docstring)."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.config_store import ConfigStore


class PrevalidatedSweeper(BasicSweeper):
    """``BasicSweeper`` whose jobs were validated by ``replisim.cli.prevalidate`` before Hydra started, and which
    holds the sweep directory's lock (``replisim.files.lock``) from before the first job to the end of the process
    (the end-of-sweep aggregation included): a second sweep into the same directory stops at once with one line.
    Under the lock, temporaries that a killed writer left in the directory are removed."""

    def validate_batch_is_legal(self, batch: Sequence[Sequence[str]]) -> None:
        return None

    def sweep(self, arguments: List[str]) -> Any:
        from replisim.files import lock, stray_temporaries

        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        lock(sweep_dir)
        for stray in stray_temporaries(sweep_dir):
            stray.unlink(missing_ok=True)
        return super().sweep(arguments)


@dataclass
class PrevalidatedSweeperConf:
    _target_: str = "hydra_plugins.replisim_sweeper.sweeper.PrevalidatedSweeper"
    max_batch_size: Optional[int] = None
    params: Optional[Dict[str, str]] = None


ConfigStore.instance().store(group="hydra/sweeper", name="replisim", node=PrevalidatedSweeperConf,
                             provider="replisim")
