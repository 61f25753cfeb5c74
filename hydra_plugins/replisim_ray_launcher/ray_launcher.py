"""Launch each job of a sweep as a Ray task and wait for all of them.

Every job runs Hydra's own ``run_job`` (so output directories, ``.hydra/`` files and callbacks are exactly
those of the basic launcher); only the process that runs it differs. The sweep directory is made absolute
before dispatch because Ray workers do not share the driver's working directory; on a multi-machine
cluster it must be on a file system every node mounts.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Optional, Sequence

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, configure_log, filter_overrides, run_job, setup_globals
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict

# importing the config module registers hydra/launcher=ray with the ConfigStore
from . import config as _config  # noqa: F401

log = logging.getLogger(__name__)


def _execute(hydra_context: HydraContext, sweep_config: DictConfig, task_function: TaskFunction,
             singleton_state: dict) -> JobReturn:
    """Body of one Ray task: restore Hydra's global state in the worker, then run the job as Hydra would."""
    setup_globals()
    Singleton.set_state(singleton_state)
    from hydra.core.hydra_config import HydraConfig

    HydraConfig.instance().set_config(sweep_config)
    return run_job(hydra_context=hydra_context, task_function=task_function, config=sweep_config,
                   job_dir_key="hydra.sweep.dir", job_subdir_key="hydra.sweep.subdir")


REACH_TIMEOUT_S = 15.0  # how long a HOST:PORT address may take to accept a connection before the sweep stops


def _check_reachable(address: str, timeout: float = REACH_TIMEOUT_S) -> None:
    """Fail within ``timeout`` seconds, in one line, when a ``HOST:PORT`` address has no Ray head listening
    ("local", "auto" and ray:// client addresses are left to Ray)."""
    import socket

    if address in ("local", "auto") or "://" in address:
        return
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout).close()
    except (OSError, ValueError) as exc:
        raise RuntimeError(f"hydra.launcher.ray.init.address={address}: no Ray head answered within {timeout:g} s "
                           f"({exc}); allowed: the address of a running head (ray start --head), or no address "
                           "for a fresh local instance") from None


class RayLauncher(Launcher):
    def __init__(self, ray: DictConfig) -> None:
        self.ray_cfg = ray
        self.config: Optional[DictConfig] = None
        self.task_function: Optional[TaskFunction] = None
        self.hydra_context: Optional[HydraContext] = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config = config
        self.hydra_context = hydra_context
        self.task_function = task_function

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        import ray

        assert self.config is not None and self.hydra_context is not None and self.task_function is not None
        setup_globals()
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        sweep_dir = Path(str(self.config.hydra.sweep.dir)).resolve()
        sweep_dir.mkdir(parents=True, exist_ok=True)
        init: dict[str, Any] = {k: v for k, v in OmegaConf.to_container(self.ray_cfg.init, resolve=True).items()
                                if v is not None}
        remote: dict[str, Any] = OmegaConf.to_container(self.ray_cfg.remote, resolve=True)
        started = not ray.is_initialized()
        if started:
            # no address: a fresh local instance. Ray's own default would join the cluster named in the
            # ray_current_cluster file of its temporary directory, and a stale one (left by an ended local
            # cluster) made a sweep wait 14 minutes for a head that was gone.
            init["address"] = init.get("address") or "local"
            _check_reachable(str(init["address"]))
            ray.init(**init)
        log.info(f"Ray ({init.get('address', 'local instance')}) is launching {len(job_overrides)} jobs into {sweep_dir}")
        task = ray.remote(_execute).options(**remote)
        singleton_state = Singleton.get_state()
        refs = []
        try:
            for k, overrides in enumerate(job_overrides):
                idx = initial_job_idx + k
                log.info(f"\t#{idx} : {' '.join(filter_overrides(overrides))}")
                sweep_config = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
                with open_dict(sweep_config):
                    sweep_config.hydra.job.id = f"{sweep_config.hydra.job.name}_{idx}"
                    sweep_config.hydra.job.num = idx
                    sweep_config.hydra.sweep.dir = str(sweep_dir)
                refs.append(task.remote(self.hydra_context, sweep_config, self.task_function, singleton_state))
            results = ray.get(refs)
        finally:
            if started:
                ray.shutdown()
        for r in results:
            assert isinstance(r, JobReturn)
        return results
