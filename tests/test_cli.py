"""The ``replisim`` command: Hydra composition, bad overrides, the main job, multirun aggregation, resume, and the
console script from a non-editable wheel install."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pandas as pd
import pytest

import replisim
from replisim import cli
from replisim.config import register_schema, to_config

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = Path(sys.executable).parent / "replisim"
TINY = ["runs=4", "sim.steps=20", "network.nodes=200"]
SWEEP = ["-m", "governance=none,if_then", "scenario=minimal,default", *TINY]


def run_cli(args, cwd, script=SCRIPT, env=None):
    return subprocess.run([str(script), *args], cwd=cwd, capture_output=True, text=True, timeout=600, env=env)


# --- Hydra compose API ---------------------------------------------------------------------------------------


def test_packaged_config_registers_the_aggregation_callback():
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    register_schema()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_module(config_module="replisim.conf", version_base="1.3"):
            dcfg = compose(config_name="config", overrides=["governance=if_then", "runs=7"], return_hydra_config=True)
    finally:
        GlobalHydra.instance().clear()
    assert dcfg.hydra.callbacks.aggregate._target_ == "replisim.sweep.AggregateCallback"
    assert dcfg.hydra.job.chdir is False
    assert dcfg.hydra.sweeper._target_ == "hydra_plugins.replisim_sweeper.sweeper.PrevalidatedSweeper"
    cfg = to_config(dcfg)
    assert cfg.runs == 7 and cfg.governance.if_then.enabled


def test_main_job_compares_every_preset_or_the_chosen_one_against_none():
    assert cli.main_job_regimes([])[0] == "none" and len(cli.main_job_regimes([])) == 8
    assert cli.main_job_regimes(["governance=if_then", "runs=3"]) == ["none", "if_then"]
    assert cli.main_job_regimes(["governance=none"]) == ["none"]


def test_sweep_expansion_covers_globs_lists_and_ranges():
    sets = cli.job_override_sets(["governance=glob(*_*)", "runs=range(1,3)", "seed=5"], multirun=True)
    governance = sorted({s[0] for s in sets})
    assert governance == ["governance=compute_governance", "governance=export_controls", "governance=if_then",
                          "governance=light_touch", "governance=wide_ranging"]
    assert len(sets) == 5 * 2 and all(s[2] == "seed=5" for s in sets)


# --- bad overrides: one line, exit 2, no traceback, nothing written ------------------------------------------

BAD = {
    "unknown group option": (["governance=nonee"], "governance=nonee: no such option"),
    "typo'd key": (["replica.sucess=0.3"], "did you mean 'replica.success'"),
    "unknown top-level key": (["rnus=3"], "unknown key 'rnus'"),
    "out-of-range value": (["replica.success=1.5"], "replica.success=1.5 is out of range"),
    "negative count": (["runs=-1"], "runs=-1 is out of range"),
    "wrong type": (["runs=many"], "has the wrong type"),
    "wrong type in a sweep": (["-m", "runs=3,many"], "has the wrong type"),
    "bad value in a sweep": (["-m", "governance=none,if_then", "replica.success=0.5,2"], "out of range"),
    "glob without match": (["-m", "governance=glob(zz*)"], "matches no option"),
    "sweep without -m": (["runs=1,2"], "needs -m"),
    "unknown launcher": (["-m", "hydra/launcher=jobllib", "runs=1"], "did you mean 'joblib'"),
    "unknown flag": (["--frobnicate"], "unrecognized arguments"),
    "cross-key constraint": (["replica.trial_successes=11"], "exceeds replica.trial_total"),
    "bad option with --cfg": (["--cfg", "job", "governance=nonee"], "no such option"),
    "an object to build": (["+hydra.callbacks.x._target_=os.getcwd"], "may not name Python objects"),
    "an object in a value": (["-m", "hydra.launcher={_target_:os.getcwd}", "runs=1"], "may not name Python objects"),
    "callbacks as a group option": (["hydra/callbacks=anything"], "may not name Python objects"),
    "a rerun from a pickle": (["--experimental-rerun", "config.pickle"], "not supported (it loads a pickle)"),
    "two commands": (["-m", "runs=1,2", "--cfg", "job"], "only one of --run, --multirun, --cfg"),
    "missing config dir": (["--config-dir", "/nonexistent/replisim-conf", "--cfg", "job"], "no such directory"),
    ".hydra outside the run": (["hydra.output_subdir=../x", "runs=1"], "hydra.output_subdir=../x: outside"),
    "an absolute .hydra": (["hydra.output_subdir=/tmp/x", "runs=1"], "hydra.output_subdir=/tmp/x: outside"),
    "infinite hours": (["governance.shutdown_cost_hours=inf"], "is not a finite number"),
    "a deleted key": (["~runs"], "~runs: deleting a key is not allowed"),
    "a run dir nobody can create": (["hydra.run.dir=/proc/replisim-x", "runs=1"], "cannot create a directory there"),
    "a sweep dir under a file": (["-m", "hydra.sweep.dir=/etc/hostname/sweep", "runs=1,2"],
                                 "cannot create a directory there"),
    "an odd small-world degree": (["network.kind=small_world", "network.degree=7"], "network.degree=7 is odd"),
    "nan": (["replica.attempt_rate=nan"], "replica.attempt_rate=nan"),
}

# a user's own config directory (--config-dir) naming objects for Hydra to build, and a harmless one
USER_CONFIGS = {
    "callback.yaml": "defaults:\n  - config\n  - _self_\nhydra:\n  callbacks:\n    boom:\n      _target_: os.getcwd\n",
    "launcher.yaml": "defaults:\n  - config\n  - _self_\nhydra:\n  launcher:\n    _target_: os.getcwd\n",
    "fine.yaml": "defaults:\n  - config\n  - _self_\nruns: 7\n",
}
# user files that would write outside the run, build objects through logging, or carry a bad value
HEADER = "defaults:\n  - config\n  - _self_\n"
REFUSED_FILES = {
    "log file anywhere": (HEADER + "hydra:\n  job_logging:\n    handlers:\n      evil:\n        class: "
                          "logging.FileHandler\n        filename: {tmp}/pwned.txt\n        mode: a\n    root:\n"
                          "      handlers: [evil]\n", "hydra.job_logging.handlers.evil.filename="),
    "another handler class": (HEADER + "hydra:\n  hydra_logging:\n    handlers:\n      h:\n        class: "
                              "logging.handlers.SocketHandler\n", "hydra.hydra_logging.handlers.h.class="),
    "a factory formatter": (HEADER + "hydra:\n  job_logging:\n    formatters:\n      f:\n        \"()\": os.getcwd\n",
                            "formatters.f.()=os.getcwd: the configuration may not name Python objects"),
    "an object stream": (HEADER + "hydra:\n  job_logging:\n    handlers:\n      c:\n        class: "
                         "logging.StreamHandler\n        stream: ext://os.environ\n", "handlers.c.stream=ext://os.environ"),
    ".hydra outside the run": (HEADER + "hydra:\n  output_subdir: ../../..\n", "hydra.output_subdir=../../..: outside"),
    "a negative count": (HEADER + "runs: -5\n", "runs=-5 is out of range"),
    "a non-finite value": (HEADER + "governance:\n  shutdown_cost_hours: .inf\n",
                           "governance.shutdown_cost_hours=inf is not a finite number"),
    "a value out of range": (HEADER + "replica:\n  success: 1.5\n", "replica.success=1.5 is out of range"),
}


@pytest.mark.parametrize("mode", ["run", "multirun"])
@pytest.mark.parametrize("text,expected", REFUSED_FILES.values(), ids=list(REFUSED_FILES))
def test_user_config_file_is_refused_before_anything_is_written(text, expected, mode, tmp_path, monkeypatch, capsys):
    conf, run = tmp_path / "conf", tmp_path / "run"
    conf.mkdir(), run.mkdir()
    (conf / "mine.yaml").write_text(text.format(tmp=tmp_path))
    monkeypatch.chdir(run)
    flag, swept = (["-m"], ["seed=1,2"]) if mode == "multirun" else ([], [])
    assert cli.main([*flag, "--config-dir", str(conf), "--config-name", "mine", "sim.steps=5", *swept]) == 2
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and expected in err and "Traceback" not in err + out, err
    assert list(run.iterdir()) == [] and not (tmp_path / "pwned.txt").exists()


def test_main_job_runs_the_user_config_name(tmp_path, monkeypatch):
    """--config-name selects the user's primary config for every regime the main job runs, not only its banner."""
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "small.yaml").write_text(HEADER + "runs: 3\nsim:\n  steps: 6\nnetwork:\n  nodes: 60\n")
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    assert cli.main(["--config-dir", str(conf), "--config-name", "small", "governance=light_touch",
                     f"hydra.run.dir={out}"]) == 0
    table = pd.read_parquet(out / "table.parquet")
    assert sorted(set(table["governance"])) == ["light_touch", "none"]
    assert table.groupby("governance").size().tolist() == [3, 3]


def test_ctrl_c_is_one_line_and_exit_130(monkeypatch, capsys):
    def interrupted(argv):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_run_hydra", interrupted)
    assert cli.main(["runs=1"]) == 130
    out, err = capsys.readouterr()
    assert "interrupted" in err and "resume" in err and "Traceback" not in err + out
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("name,expected", [("callback", "hydra.callbacks.boom._target_=os.getcwd: the configuration"),
                                           ("launcher", "hydra.launcher._target_=os.getcwd: not a Hydra launcher")])
def test_config_dir_may_not_name_objects_either(name, expected, tmp_path, monkeypatch, capsys):
    conf, run = tmp_path / "conf", tmp_path / "run"
    conf.mkdir(), run.mkdir()
    for file, text in USER_CONFIGS.items():
        (conf / file).write_text(text)
    monkeypatch.chdir(run)
    assert cli.main(["--config-dir", str(conf), "--config-name", "fine", "--cfg", "job"]) == 0
    assert "runs: 7" in capsys.readouterr().out  # the check composes the user's files as Hydra does
    assert cli.main(["-m", "--config-dir", str(conf), "--config-name", name, "runs=1,2"]) == 2
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and expected in err and "Traceback" not in err + out
    assert list(run.iterdir()) == []


@pytest.mark.parametrize("args,expected", BAD.values(), ids=list(BAD))
def test_bad_override_is_one_line_exit_2_and_writes_nothing(args, expected, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(args) == 2
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and err.startswith("replisim: error: "), err
    assert expected in err and "Traceback" not in err + out
    assert list(tmp_path.iterdir()) == []


def test_help_shows_usage_subcommands_and_groups(capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["--help"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    for line in ("Usage:", "replisim demo [--port N]", "replisim aggregate SWEEP_DIR", "hydra/launcher=joblib",
                 "governance: compute_governance"):
        assert line in out, line


def test_bad_override_through_the_console_script(tmp_path):
    res = run_cli(["governance=wide_rangin", "runs=0"], tmp_path)
    assert res.returncode == 2
    assert res.stderr.splitlines() == [res.stderr.strip()] and "did you mean 'wide_ranging'" in res.stderr
    assert "Traceback" not in res.stderr and list(tmp_path.iterdir()) == []


def test_aggregate_of_a_missing_directory_is_one_line(tmp_path, capsys):
    assert cli.main(["aggregate", str(tmp_path / "nope")]) == 2
    assert capsys.readouterr().err.startswith("replisim: error: ")


def test_demo_subcommand_dispatches_to_the_demo(monkeypatch):
    seen = []
    fake = types.ModuleType("replisim.demo.cli")
    fake.main = lambda argv: seen.append(argv) or 0
    monkeypatch.setitem(sys.modules, "replisim.demo", types.ModuleType("replisim.demo"))
    monkeypatch.setitem(sys.modules, "replisim.demo.cli", fake)
    monkeypatch.setattr(cli, "find_spec", lambda name: object())
    assert cli.main(["demo", "--port", "0"]) == 0
    assert seen == [["--port", "0"]]


def test_demo_subcommand_without_the_demo_is_one_line(monkeypatch, capsys):
    monkeypatch.setattr(cli, "find_spec", lambda name: None)
    assert cli.main(["demo"]) == 2
    assert capsys.readouterr().err.startswith("replisim: error: the classroom demo")


# --- the main job ----------------------------------------------------------------------------------------------


def test_main_job_writes_table_figures_and_report(tmp_path):
    run_dir = tmp_path / "run"
    res = run_cli([*TINY, f"hydra.run.dir={run_dir}"], tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    table = pd.read_parquet(run_dir / "table.parquet")
    regimes = cli.regimes()
    assert list(table["governance"].unique()) == regimes
    assert table.groupby("governance").size().eq(4).all()
    assert (table["scenario"] == "default").all()
    assert len(pd.read_csv(run_dir / "table.csv")) == len(table)
    for name in regimes:  # the terminal table names every regime
        assert any(line.strip().startswith(name) for line in res.stdout.splitlines()), name
    report = (run_dir / "report.md").read_text()
    assert all(name in report for name in regimes)
    figures = list((run_dir / "figures").glob("*.png"))
    assert figures and all(f"figures/{f.name}" in report for f in figures)
    assert "runs" in res.stderr  # progress bars
    # each regime's drivers' analysis: the Sobol indices the report shows, no scenario discovery it would not
    assert "What drives this" in report
    for name in regimes:
        assert (run_dir / name / "drivers" / "sensitivity.csv").exists(), name
        assert not (run_dir / name / "drivers" / "scenarios.csv").exists(), name


# --- sweeps: aggregation and resume -------------------------------------------------------------------------


def test_sweep_jobs_are_composed_by_prevalidation_not_again_by_the_sweeper(tmp_path, monkeypatch):
    """Hydra's basic sweeper would compose every job once more before launching (0.1 s a job); the packaged
    sweeper relies on the command's own validation, which still stops a bad job before anything is written."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

    def fail(self, batch):
        raise AssertionError("the basic sweeper's validation ran")

    monkeypatch.setattr(BasicSweeper, "validate_batch_is_legal", fail)
    monkeypatch.chdir(tmp_path)
    small = ["scenario=minimal", "network.nodes=40", "replica.initial=5", "sim.steps=3", "runs=2",
             "hydra/hydra_logging=disabled", "hydra/job_logging=disabled"]
    assert cli.main(["-m", *small, "seed=0,1", f"hydra.sweep.dir={tmp_path / 'ok'}"]) == 0
    assert len(list((tmp_path / "ok").rglob("done.json"))) == 2
    assert cli.main(["-m", *small, "seed=0,-1", f"hydra.sweep.dir={tmp_path / 'bad'}"]) == 2
    assert not (tmp_path / "bad").exists()


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep")
    res = run_cli([*SWEEP, f"hydra.sweep.dir={root / 'full'}"], root)
    assert res.returncode == 0, res.stderr[-2000:]
    return root


@pytest.mark.xdist_group("cli_sweep")  # the module's sweep fixture is made once
def test_multirun_aggregates_one_row_per_job_and_run(sweep):
    full = sweep / "full"
    table = pd.read_parquet(full / "table.parquet")
    assert len(table) == 4 * 4
    jobs = table.drop_duplicates("job")[["job", "governance", "scenario"]].values.tolist()
    assert jobs == [["0", "none", "minimal"], ["1", "none", "default"], ["2", "if_then", "minimal"],
                    ["3", "if_then", "default"]]
    assert {"runs", "sim.steps", "network.nodes"} <= set(table.columns)  # fixed overrides are columns too
    assert (full / "report.md").is_file() and (full / "table.csv").is_file()
    # each job's rows are exactly that job's own outcomes
    own = pd.read_parquet(full / "2" / "outcomes.parquet")
    assert table.loc[table["job"] == "2", "peak_replicas"].tolist() == own["peak_replicas"].tolist()


@pytest.mark.xdist_group("cli_sweep")
def test_aggregate_subcommand_reproduces_the_table(sweep, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(sweep / "full", copy)
    for f in ("table.parquet", "table.csv", "report.md"):
        (copy / f).unlink()
    assert cli.main(["aggregate", str(copy)]) == 0
    pd.testing.assert_frame_equal(pd.read_parquet(copy / "table.parquet"), pd.read_parquet(sweep / "full" / "table.parquet"))


@pytest.mark.xdist_group("cli_sweep")
def test_interrupted_sweep_resumes_without_recomputing_finished_jobs(sweep):
    part = sweep / "part"
    shutil.copytree(sweep / "full", part)
    for f in ("table.parquet", "table.csv", "report.md"):
        (part / f).unlink()
    # job 1 was killed before it finished: no marker, a stale output
    (part / "1" / "done.json").unlink()
    (part / "1" / "series.parquet").unlink()
    mtimes = {j: (part / j / "outcomes.parquet").stat().st_mtime_ns for j in "0123"}
    res = run_cli([*SWEEP, f"hydra.sweep.dir={part}"], sweep)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stderr.count("already done") == 3
    for j in "023":
        assert (part / j / "outcomes.parquet").stat().st_mtime_ns == mtimes[j], j
    assert (part / "1" / "outcomes.parquet").stat().st_mtime_ns != mtimes["1"]
    assert (part / "1" / "done.json").is_file()
    pd.testing.assert_frame_equal(pd.read_parquet(part / "table.parquet"), pd.read_parquet(sweep / "full" / "table.parquet"))


# --- the console script from a non-editable wheel ---------------------------------------------------------------


@pytest.mark.slow
def test_console_script_from_a_wheel_install(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc")
    for name in ("replisim", "conf", "hydra_plugins"):
        shutil.copytree(ROOT / name, src / name, symlinks=True, ignore=ignore)  # replisim/conf -> ../conf
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(wheels),
                    str(src)], check=True, capture_output=True, timeout=300)
    wheel = next(wheels.glob("replisim-*.whl"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    site = next(venv.glob("lib/python*/site-packages"))
    # dependencies come from this environment (offline); .pth lines are appended after the venv's own
    # site-packages, so the wheel's replisim, not this checkout's editable one, is imported
    deps = next(Path(sys.executable).parent.parent.glob("lib/python*/site-packages"))
    (site / "zz_deps.pth").write_text(f"{deps}\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q",
                    "--no-deps", "--no-index", str(wheel)], check=True, capture_output=True, timeout=300)
    script = venv / "bin" / "replisim"
    where = subprocess.run([str(venv / "bin" / "python"), "-c",
                            "import replisim, hydra_plugins.replisim_ray_launcher as r; print(replisim.__file__); print(r.__file__)"],
                           cwd=tmp_path, capture_output=True, text=True, check=True)
    assert all(str(site) in line for line in where.stdout.splitlines()), where.stdout
    bad = run_cli(["governance=nonee"], tmp_path, script=script)
    assert bad.returncode == 2 and bad.stderr.startswith("replisim: error: governance=nonee")
    # the wheel test checks packaging, not the kernels: run them uncompiled rather than compile a fresh copy
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1"}
    res = run_cli(["runs=2", "sim.steps=5", "network.nodes=50", "governance=if_then", f"hydra.run.dir={tmp_path / 'run'}"],
                  tmp_path, script=script, env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    table = pd.read_parquet(tmp_path / "run" / "table.parquet")
    assert list(table["governance"].unique()) == ["none", "if_then"] and len(table) == 4


def test_version_is_replisims(capsys):
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"replisim {replisim.__version__}"
