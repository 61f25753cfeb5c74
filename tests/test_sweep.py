"""Resumable sweep jobs and aggregation, without Hydra's runtime (the command line is tested in test_cli.py)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from replisim.config import compose
from replisim.sweep import DONE, aggregate, collect, config_digest, is_done, job_label, run_job

TINY = ["runs=4", "sim.steps=20", "network.nodes=200"]


@pytest.fixture(scope="module")
def cfg():
    return compose(TINY)


def test_job_writes_outputs_and_marker_then_skips(tmp_path, cfg):
    job = tmp_path / "0"
    assert run_job(cfg, job, {"governance": "none"})
    marker = json.loads((job / DONE).read_text())
    assert marker["config_digest"] == config_digest(cfg)
    assert marker["overrides"] == {"governance": "none"}
    # the marker is written last: it is not older than the outputs it vouches for
    for name in ("outcomes.parquet", "series.parquet"):
        assert (job / name).stat().st_mtime_ns <= (job / DONE).stat().st_mtime_ns
    before = (job / "outcomes.parquet").stat().st_mtime_ns
    assert not run_job(cfg, job, {"governance": "none"})
    assert (job / "outcomes.parquet").stat().st_mtime_ns == before


def test_job_with_another_config_is_recomputed(tmp_path, cfg):
    job = tmp_path / "0"
    run_job(cfg, job, {})
    other = compose(TINY + ["seed=1"])
    assert not is_done(job, config_digest(other))
    assert run_job(other, job, {})
    assert json.loads((job / DONE).read_text())["config_digest"] == config_digest(other)
    assert (pd.read_parquet(job / "outcomes.parquet")["seed"] == 1).all()


def test_marker_without_outputs_is_not_done(tmp_path, cfg):
    job = tmp_path / "0"
    run_job(cfg, job, {})
    (job / "series.parquet").unlink()
    assert not is_done(job, config_digest(cfg))


def test_digest_ignores_thread_count_only(cfg):
    assert config_digest(cfg) == config_digest(compose(TINY + ["sim.threads=1"]))
    assert config_digest(cfg) != config_digest(compose(TINY + ["runs=5"]))


def test_aggregate_writes_one_row_per_job_and_run(tmp_path, capsys):
    for k, (g, s) in enumerate([("none", "minimal"), ("if_then", "minimal"), ("none", "default")]):
        run_job(compose(TINY + [f"governance={g}", f"scenario={s}"]), tmp_path / str(k), {"governance": g, "scenario": s})
    (tmp_path / "3").mkdir()
    (tmp_path / "3" / "outcomes.parquet").write_bytes(b"half a file")  # a job killed before its marker
    frame = aggregate(tmp_path, echo=False)
    assert "1 unfinished job(s) left out: 3" in capsys.readouterr().err
    assert len(frame) == 3 * 4
    assert list(frame["job"].unique()) == ["0", "1", "2"]
    assert list(frame.columns[:4]) == ["job", "label", "governance", "scenario"]
    assert frame.groupby("job")["run"].apply(list).tolist() == [[0, 1, 2, 3]] * 3
    assert frame.loc[frame["job"] == "1", "governance"].eq("if_then").all()
    assert frame["label"].drop_duplicates().tolist() == ["none / minimal", "if_then / minimal", "none / default"]
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "table.parquet"), frame)
    csv = pd.read_csv(tmp_path / "table.csv")
    assert len(csv) == len(frame) and list(csv.columns) == list(frame.columns)
    assert (tmp_path / "report.md").read_text().startswith("#")


def test_collect_refuses_a_directory_without_finished_jobs(tmp_path):
    with pytest.raises(FileNotFoundError, match="no finished job"):
        collect(tmp_path)


def test_job_labels_name_what_varies():
    overrides = {"governance": "if_then", "replica.success": "0.5", "runs": "4"}
    assert job_label(overrides, ["governance", "replica.success"]) == "if_then / success=0.5"
    assert job_label(overrides, ["governance"]) == "if_then"
