"""A Hydra launcher that runs sweep jobs as Ray tasks, on a local Ray instance or an existing Ray cluster.

Select it with ``hydra/launcher=ray``; point it at a cluster with ``hydra.launcher.ray.init.address=HOST:PORT``
(or ``auto`` on a cluster node). The official ``hydra-ray-launcher`` pins cloudpickle 2.2.1, which conflicts
with joblib >= 1.6 on Python 3.12, so replisim ships this small launcher with the same configuration keys
(``ray.init.*`` are passed to ``ray.init``, ``ray.remote.*`` to each task's ``.options``).
"""
