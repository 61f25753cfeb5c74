"""The same sweep through every launcher gives the same aggregated table, value for value.

Each job's runs depend only on (seed, run index), and the table is assembled from the job directories in job
order, so which process or machine ran a job must not show in the numbers. The Ray test starts its own local
Ray cluster (bound to 127.0.0.1) and points the sweep at it by address, as one would at a remote cluster.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

BIN = Path(sys.executable).parent
SWEEP = ["-m", "governance=none,if_then", "scenario=minimal,default", "runs=4", "sim.steps=20", "network.nodes=200"]

# one xdist worker runs the whole module, so the reference sweep and the Ray cluster are made once
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("launchers")]


def sweep(root: Path, *launcher: str, env: dict | None = None) -> pd.DataFrame:
    res = subprocess.run([str(BIN / "replisim"), *SWEEP, f"hydra.sweep.dir={root}", *launcher], cwd=root.parent,
                         capture_output=True, text=True, timeout=600, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    return pd.read_parquet(root / "table.parquet")


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return sweep(tmp_path_factory.mktemp("basic") / "sweep")


def test_reference_sweep_has_every_job(reference):
    assert len(reference) == 4 * 4 and reference["job"].nunique() == 4


@pytest.mark.parametrize("launcher", [
    ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"],
    ["hydra/launcher=submitit_local", "hydra.launcher.timeout_min=10"],
], ids=["joblib", "submitit_local"])
def test_local_launchers_agree_with_the_basic_launcher(reference, tmp_path, launcher):
    pd.testing.assert_frame_equal(sweep(tmp_path / "sweep", *launcher), reference)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ray_cluster():
    """A Ray head node of 2 CPUs in its own process group, which teardown ends (and nothing else).

    Ray >= 2.5x requires token authentication: the head and the sweep share a fresh token through the
    environment (RAY_AUTH_MODE, RAY_AUTH_TOKEN), so nothing is written to ~/.ray.
    """
    port = _free_port()
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16)}
    proc = subprocess.Popen(
        [str(BIN / "ray"), "start", "--head", "--block", f"--port={port}", "--num-cpus=2",
         "--object-store-memory=200000000", "--include-dashboard=false", "--disable-usage-stats"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, env=env,
    )
    # Ray's own daemons listen on every interface; the sweep reaches the head through the loopback address
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None, "ray start exited"
                time.sleep(1)
        else:
            raise TimeoutError("the Ray head did not open its port within 120 s")
        yield address, env
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_ray_cluster_agrees_with_the_basic_launcher(reference, tmp_path, ray_cluster):
    address, env = ray_cluster
    table = sweep(tmp_path / "sweep", "hydra/launcher=ray", f"hydra.launcher.ray.init.address={address}", env=env)
    pd.testing.assert_frame_equal(table, reference)


# --- replisim explore: the design's chunks as the jobs of a multirun -------------------------------------------
EXPLORE = ["explore", "--samples", "8", "scenario=minimal", "network.nodes=100", "sim.steps=30"]


def explore(out: Path, *launcher: str, env: dict | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    res = subprocess.run([str(BIN / "replisim"), *EXPLORE, "--out", str(out), *launcher], cwd=out.parent,
                         capture_output=True, text=True, timeout=600, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    return pd.read_csv(out / "sensitivity.csv"), pd.read_parquet(out / "runs.parquet")


@pytest.fixture(scope="module")
def explored_in_process(tmp_path_factory):
    return explore(tmp_path_factory.mktemp("explore") / "in_process")


@pytest.mark.parametrize("launcher", [
    ["--launcher", "basic"],
    ["--launcher", "joblib", "--launcher-arg", "hydra.launcher.n_jobs=2"],
    ["--launcher", "submitit_local", "--launcher-arg", "hydra.launcher.timeout_min=10"],
], ids=["basic", "joblib", "submitit_local"])
def test_explore_through_a_launcher_agrees_with_explore_in_process(explored_in_process, tmp_path, launcher):
    table, runs = explore(tmp_path / "x", *launcher)
    pd.testing.assert_frame_equal(table, explored_in_process[0])
    pd.testing.assert_frame_equal(runs, explored_in_process[1])
    assert len(list((tmp_path / "x" / "jobs").iterdir())) >= 13  # one job per chunk (13 here), Hydra's files


def test_explore_on_a_ray_cluster_agrees(explored_in_process, tmp_path, ray_cluster):
    address, env = ray_cluster
    table, runs = explore(tmp_path / "x", "--launcher", "ray", "--launcher-arg",
                          f"hydra.launcher.ray.init.address={address}", env=env)
    pd.testing.assert_frame_equal(table, explored_in_process[0])
    pd.testing.assert_frame_equal(runs, explored_in_process[1])


# --- launchers that fail fast ---------------------------------------------------------------------------------


def test_ray_without_an_address_ignores_a_stale_cluster_file(reference, tmp_path):
    """A ray_current_cluster file left by an ended local cluster names a head that is gone: with no address the
    launcher starts a fresh local instance instead of waiting for it (it waited 14 minutes before)."""
    import shutil
    import tempfile

    ray_tmp = tempfile.mkdtemp(prefix="rt", dir="/tmp")  # short: Ray's socket paths must fit in 107 bytes
    try:
        (Path(ray_tmp) / "ray").mkdir()
        (Path(ray_tmp) / "ray" / "ray_current_cluster").write_text(f"127.0.0.1:{_free_port()}")
        env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS",)}
        env.update(RAY_TMPDIR=ray_tmp, RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=secrets.token_hex(16))
        start = time.time()
        table = sweep(tmp_path / "sweep", "hydra/launcher=ray", "+hydra.launcher.ray.init.num_cpus=2", env=env)
        assert time.time() - start < 300
        pd.testing.assert_frame_equal(table, reference)
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)


def test_ray_with_an_unreachable_address_fails_in_seconds(tmp_path):
    start = time.time()
    res = subprocess.run([str(BIN / "replisim"), *SWEEP, f"hydra.sweep.dir={tmp_path / 'sweep'}",
                          "hydra/launcher=ray", f"hydra.launcher.ray.init.address=127.0.0.1:{_free_port()}"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and time.time() - start < 60
    assert res.stderr.count("\n") == 1 and "no Ray head answered" in res.stderr, res.stderr
    assert not (tmp_path / "sweep").exists()
