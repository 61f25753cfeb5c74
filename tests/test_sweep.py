"""Resumable sweep jobs and aggregation, without Hydra's runtime (the command line is tested in test_cli.py)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from replisim import plots
from replisim.config import compose
from replisim.sweep import DONE, aggregate, collect, config_digest, facet_keys, is_done, job_label, run_job

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
    # job 3 never finished: the table is partial, and its name says so
    assert not (tmp_path / "table.parquet").exists()
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "table.partial.parquet"), frame)
    csv = pd.read_csv(tmp_path / "table.partial.csv")
    assert len(csv) == len(frame) and list(csv.columns) == list(frame.columns)
    assert (tmp_path / "report.md").read_text().startswith("#")
    # a sweep over the regime and the scenario: the figures compare regimes within each scenario's panel
    assert facet_keys(frame, ["governance", "scenario"]) == ("governance", ["scenario"])
    for name in ("outcomes", "containment", "safety_cost", "fan"):
        png = (tmp_path / "figures" / f"{name}.png").read_bytes()
        width = int.from_bytes(png[16:20], "big")  # the PNG header's width
        assert width <= 150 * plots.MAX_FIGURE_INCHES[0], (name, width)


def test_collect_refuses_a_directory_without_finished_jobs(tmp_path):
    with pytest.raises(FileNotFoundError, match="no finished job"):
        collect(tmp_path)


def test_job_labels_name_what_varies():
    overrides = {"governance": "if_then", "replica.success": "0.5", "runs": "4"}
    assert job_label(overrides, ["governance", "replica.success"]) == "if_then / success=0.5"
    assert job_label(overrides, ["governance"]) == "if_then"


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_damaged_results_are_not_trusted(tmp_path, cfg, capsys, damage):
    """A truncated outcomes.parquet or flipped bytes in series.parquet no longer match the SHA-256 the marker
    recorded: resuming reruns the job, and aggregation leaves it out and marks the table and report partial."""
    for k in range(2):
        run_job(compose(TINY + [f"seed={k}"]), tmp_path / str(k), {"seed": str(k)})
    if damage == "truncate":
        path = tmp_path / "1" / "outcomes.parquet"
        path.write_bytes(path.read_bytes()[:200])
    else:
        path = tmp_path / "1" / "series.parquet"
        data = bytearray(path.read_bytes())
        middle = len(data) // 2
        data[middle:middle + 400] = bytes(b ^ 0xFF for b in data[middle:middle + 400])
        path.write_bytes(bytes(data))
    one = compose(TINY + ["seed=1"])
    assert not is_done(tmp_path / "1", config_digest(one))
    frame = aggregate(tmp_path, echo=False)
    assert "left out: 1" in capsys.readouterr().err and set(frame["job"]) == {"0"}
    import pyarrow.parquet as pq

    meta = json.loads(pq.read_schema(tmp_path / "table.partial.parquet").metadata[b"replisim"])
    assert meta["partial"] and meta["left_out"] == ["1"]
    assert "partial" in (tmp_path / "report.md").read_text().splitlines()[0]
    assert run_job(one, tmp_path / "1", {"seed": "1"})  # resuming redoes it
    assert is_done(tmp_path / "1", config_digest(one))
    aggregate(tmp_path, echo=False)  # complete again: the partial table gives way to the whole one
    assert (tmp_path / "table.parquet").exists() and not (tmp_path / "table.partial.parquet").exists()


def test_two_numeric_swept_keys_get_a_heat_map_per_regime(tmp_path, capsys):
    """A sweep over two numbers and the regime: one heat map of P(loss of control) per regime, never pooling the
    regimes in one cell."""
    k = 0
    for g in ("none", "if_then"):
        for s in ("0.3", "0.7"):
            for d in ("0.1", "0.3"):
                run_job(compose(TINY + ["scenario=minimal", f"governance={g}", f"replica.success={s}",
                                        f"governance.detection={d}"]),
                        tmp_path / str(k), {"governance": g, "replica.success": s, "governance.detection": d})
                k += 1
    aggregate(tmp_path)
    # the closing line names the table it wrote (not the last figure: a variable once shadowed it)
    assert f"wrote {tmp_path / 'table.parquet'}, table.csv, report.md" in capsys.readouterr().err
    names = sorted(p.name for p in (tmp_path / "figures").glob("heatmap*.png"))
    assert names == ["heatmap_if_then.png", "heatmap_none.png"]
    assert "heatmap_none.png" in (tmp_path / "report.md").read_text()


def test_the_report_header_names_every_override_fixed_or_swept(tmp_path):
    """Every override is in the header: the swept one with its values, the fixed ones (the regime too, when the
    sweep holds it fixed: the header once left it out), and the run settings that cannot change the numbers."""
    for k, s in enumerate(("0.3", "0.7")):
        overrides = {"scenario": "minimal", "governance": "if_then", "network.nodes": "200",
                     "replica.success": s, "sim.threads": "1"}
        run_job(compose(TINY + [f"{a}={b}" for a, b in overrides.items()]), tmp_path / str(k), overrides)
    aggregate(tmp_path, echo=False)
    head = (tmp_path / "report.md").read_text().split("##")[0]
    for fixed in ("scenario=minimal", "governance=if_then", "network.nodes=200"):
        assert f"`{fixed}`" in head
    assert "swept: `replica.success` = 0.3, 0.7" in head and "`sim.threads=1`" in head
    assert head.startswith(f"# replisim sweep {tmp_path.name}")


def test_aggregating_a_main_job_folder_keeps_its_title(tmp_path):
    """The main job writes <run dir>/<regime>/: ``replisim aggregate`` of that folder titles the report as the main
    job did, not 'replisim sweep <folder>'."""
    for k, g in enumerate(("none", "if_then")):
        run_job(compose(TINY + ["scenario=minimal", f"governance={g}"]), tmp_path / g,
                {"scenario": "minimal", "governance": g}, order=k)
    aggregate(tmp_path, echo=False)
    assert (tmp_path / "report.md").read_text().startswith("# Governance regimes on scenario 'minimal' (4 runs each)")


def test_the_docs_quote_every_glob_for_the_shell():
    """``-m governance=glob(*)`` unquoted is a bash syntax error (the parentheses): every example quotes it."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    for doc in ("docs/sweeps.md", "README.md"):
        text = (root / doc).read_text()
        assert "glob(" in text
        assert not re.findall(r"(?<!')\b[\w.]+=glob\([^)]*\)(?!')", text), doc


def test_survivors_per_node_type_and_jurisdiction(tmp_path):
    """A with_haven sweep shows where the replicas alive at the horizon are: per job, each node type's and each
    jurisdiction's share of them (summing to 1) and the compute captured there (survivors over the group's slots
    before any measure), in placement.csv, the report and a figure."""
    from replisim.sweep import group_slots

    for k, g in enumerate(("none", "if_then")):
        overrides = {"governance": g, "jurisdictions": "with_haven"}
        run_job(compose(TINY + [f"{a}={b}" for a, b in overrides.items()]), tmp_path / str(k), overrides)
    frame = aggregate(tmp_path, echo=False)
    table = pd.read_csv(tmp_path / "placement.csv")
    assert set(table.loc[table["kind"] == "jurisdiction", "group"]) == {"regulated", "haven"}
    assert set(table.loc[table["kind"] == "node type", "group"]) >= {"frontier_lab", "enterprise"}
    cfg = compose(TINY + ["jurisdictions=with_haven"])
    slots = group_slots(cfg, cfg.seed)
    assert slots["final_in_haven"] + slots["final_in_regulated"] == sum(v for k, v in slots.items() if "_on_" in k)
    assert table.groupby(["label", "kind"])["share_of_survivors"].sum().to_numpy() == pytest.approx(1.0)
    none = frame[frame["label"] == "none"]
    haven = table[(table["label"] == "none") & (table["group"] == "haven")].iloc[0]
    assert haven["captured"] == pytest.approx(none["final_in_haven"].mean() / slots["final_in_haven"])
    assert haven["share_of_survivors"] == pytest.approx(none["final_in_haven"].sum() / none["final_replicas"].sum())
    report = (tmp_path / "report.md").read_text()
    assert "## Where the survivors are" in report and "| governance | regulated | haven |" in report
    assert (tmp_path / "figures" / "placement.png").is_file() and "figures/placement.png" in report
