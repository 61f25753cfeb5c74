"""Configuration of the Ray launcher, registered as ``hydra/launcher=ray``."""

from dataclasses import dataclass, field
from typing import Any, Dict

from hydra.core.config_store import ConfigStore


@dataclass
class RayConf:
    # keyword arguments of ray.init: address=None starts a fresh local Ray instance (never a stale cluster named in
    # Ray's temporary directory), "HOST:PORT" joins a cluster (checked to answer within 15 s), "auto" lets Ray find one
    init: Dict[str, Any] = field(default_factory=lambda: {"address": None})
    # keyword arguments of each job's task options (resources one job reserves)
    remote: Dict[str, Any] = field(default_factory=lambda: {"num_cpus": 1})


@dataclass
class RayLauncherConf:
    _target_: str = "hydra_plugins.replisim_ray_launcher.ray_launcher.RayLauncher"
    ray: RayConf = field(default_factory=RayConf)


ConfigStore.instance().store(group="hydra/launcher", name="ray", node=RayLauncherConf, provider="replisim")
