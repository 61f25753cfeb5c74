"""Fault tests of the sweep machinery: results written whole and readable, a sweep directory used by one sweep at
a time, what a killed writer leaves removed, runtime-only keys kept out of the table, failures in the exit code,
and a sweep killed mid-run resumed to the numbers of an uninterrupted one."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from replisim import cli, files, sweep

BIN = Path(sys.executable).parent
TINY = ["scenario=minimal", "runs=3", "sim.steps=15", "network.nodes=60"]


def test_result_files_are_readable_by_the_group_and_leave_no_temporary(tmp_path):
    path = files.write_text(tmp_path / "a" / "report.md", "hello")
    mode = stat.S_IMODE(path.stat().st_mode)
    assert mode == files.FILE_MODE and mode & stat.S_IRGRP, oct(mode)
    assert files.stray_temporaries(tmp_path) == []


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = files.write_text(tmp_path / "table.csv", "old")

    def boom(tmp):
        Path(tmp).write_text("half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        files.atomic(path, boom)
    assert path.read_text() == "old" and files.stray_temporaries(tmp_path) == []


def test_a_second_sweep_into_a_busy_directory_is_one_line(tmp_path, monkeypatch, capsys):
    """Another process holds the sweep directory's lock: the second sweep stops before Hydra starts."""
    root = tmp_path / "sweep"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from replisim.files import lock; "
                               f"lock({str(root)!r}); print('held', flush=True); time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        monkeypatch.chdir(tmp_path)
        assert cli.main(["-m", *TINY, "seed=1,2", f"hydra.sweep.dir={root}"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "another replisim run or sweep is writing" in err
        assert sorted(p.name for p in root.iterdir()) == [".replisim.lock"]
    finally:
        holder.kill()
        holder.wait()


def test_a_failed_aggregation_fails_the_command(tmp_path, monkeypatch, capsys):
    """A full disk while the table or figures are written: Hydra would report the callback's error as a warning
    and exit 0; the command exits 1 and says how to redo the aggregation."""
    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(sweep, "aggregate", full_disk)
    monkeypatch.setattr(sweep, "AGGREGATION_FAILURES", [])
    monkeypatch.chdir(tmp_path)
    assert cli.main(["-m", *TINY, "seed=1,2", f"hydra.sweep.dir={tmp_path / 's'}"]) == 1
    err = capsys.readouterr().err
    assert "No space left on device" in err and f"replisim aggregate {tmp_path / 's'}" in err


def test_resume_removes_strays_and_keeps_runtime_keys_out_of_the_table(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "s"
    assert cli.main(["-m", *TINY, "governance=none,if_then", f"hydra.sweep.dir={root}"]) == 0
    stray = root / "0" / ".outcomes.parquet.x1y2.tmp.parquet"
    stray.write_bytes(b"left by a killed writer")
    # resumed with a runtime-only key added: the jobs are done (threads is not in the digest); the table must not
    # treat threads as a swept key, so the comparison of regimes is still there
    assert cli.main(["-m", *TINY, "governance=none,if_then", "sim.threads=1", f"hydra.sweep.dir={root}"]) == 0
    assert not stray.exists()
    table = pd.read_parquet(root / "table.parquet")
    assert "sim.threads" not in table.columns and set(table["label"]) == {"none", "if_then"}
    assert (root / "comparison.csv").exists()


@pytest.mark.slow
def test_a_sweep_killed_mid_run_resumes_to_the_same_numbers(tmp_path):
    """SIGKILL a sweep while its jobs write, then run the same command again: the table equals that of a sweep
    never interrupted (finished jobs are verified by their checksums, the rest redone)."""
    args = ["-m", "scenario=minimal", "runs=40", "sim.steps=400", "network.nodes=2000", "seed=1,2,3,4"]

    def run(root: Path, kill_after: float | None = None) -> int:
        proc = subprocess.Popen([str(BIN / "replisim"), *args, f"hydra.sweep.dir={root}"], cwd=tmp_path,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        if kill_after is None:
            return proc.wait(timeout=600)
        deadline = time.time() + 300
        while time.time() < deadline and not any(root.glob("*/done.json")):
            time.sleep(0.05)
        time.sleep(kill_after)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return -9

    reference, killed = tmp_path / "reference", tmp_path / "killed"
    assert run(reference) == 0
    run(killed, kill_after=0.3)
    assert not (killed / "table.parquet").exists() or len(list(killed.glob("*/done.json"))) < 4
    assert run(killed) == 0
    assert files.stray_temporaries(killed) == []
    pd.testing.assert_frame_equal(pd.read_parquet(killed / "table.parquet"), pd.read_parquet(reference / "table.parquet"))


@pytest.mark.slow
def test_the_demo_answers_only_requests_addressed_to_this_machine():
    """DNS rebinding: a page may make the teacher's browser send requests to 127.0.0.1 under another host name.
    The demo's server answers those with 400 and serves Host 127.0.0.1 and localhost."""
    import http.client
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    def status(host: str, path: str = "/") -> int:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            conn.request("GET", path, headers={"Host": host})
            return conn.getresponse().status
        finally:
            conn.close()

    proc = subprocess.Popen([str(BIN / "replisim"), "demo", "--no-open", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 240
        while True:
            try:
                if status(f"127.0.0.1:{port}", "/readyz") == 200:
                    break
            except OSError:
                pass
            assert proc.poll() is None and time.time() < deadline, "the demo did not start"
            time.sleep(1)
        assert status(f"127.0.0.1:{port}") == 200
        assert status(f"localhost:{port}") == 200
        assert status(f"rebound.example:{port}") == 400
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
