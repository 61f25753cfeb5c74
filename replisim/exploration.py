"""``explore``: which assumptions drive the answer (global sensitivity) and under which a regime fails (PRIM).

The uncertain keys of a configuration (``cfg.uncertain``; the ``uncertainty`` config group) span the space of
worlds. ``explore`` samples it with Saltelli's scheme on a scrambled Sobol sequence (SALib), runs every
parameter set on the engine, and analyses the outcomes:

* first- and total-order Sobol indices of each outcome for each key, with 95% bootstrap intervals (SALib's
  ``sobol.analyze``); outcomes by default: loss of control, hours to 10% of compute (right-censored runs count
  as the horizon: "not within the horizon" ranks as the longest time), peak population, collateral cost;
* scenario discovery with PRIM (the EMA Workbench's implementation): the box of assumptions in which the regime
  loses control, and the box in which it does not contain the replicas (some survive at the horizon), with their
  coverage (the share of all such runs inside the box) and density (the share of runs in the box that are such).

**Common random numbers.** Saltelli's estimators compare f(A_j), f(B_j) and f(AB_ij), which differ in one key.
A stochastic model adds noise to each; with independent streams the noise would count as an effect of every
key (an inert key would get a total-order index equal to the noise's share of the variance). Here the rows of
base sample j all run on the random stream of run j, so a key that does nothing changes nothing and gets an
index of exactly zero; the indices are those of the deterministic map from keys to outcome for a given stream,
averaged over the streams, and 1 - sum(S1) holds the interactions and the stochastic variation. Each design
value is applied exactly as an uncertain key's draw is (``simulate(..., design=...)``).

The runs are made a chunk at a time (``CHUNK`` parameter sets): each chunk's outcomes are written atomically
to ``runs/`` and verified (run indices and design values) before they are reused, so an interrupted
exploration resumes where it stopped.
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from . import uncertainty
from .config import Config, ConfigError
from .config.uncertain import key_field
from .files import save_figure, write_csv, write_text

DEFAULT_OUTCOMES = ("loss_of_control", "hours_to_10pct_compute", "peak_replicas", "collateral_node_hours")
# what scenario discovery looks for: the runs that lost control, and the runs with survivors at the horizon
CASES = {"loss_of_control": "lost control", "not_contained": "not contained (survivors at the horizon)"}
CHUNK = 512  # parameter sets per chunk of runs (written and resumed as a unit)
DENSITY_GOAL = 0.8  # PRIM: the box of highest coverage whose density reaches this (else the densest box)


def _check_samples(samples) -> int:
    if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)) or samples < 2 or \
            samples & (samples - 1):
        raise ConfigError(f"samples={samples!r}: allowed: a power of 2 >= 2 (the base samples of Saltelli's "
                          "scheme; a Sobol sequence is balanced at powers of 2)")
    return int(samples)


def problem(cfg: Config) -> dict:
    """SALib's problem: one variable per uncertain key, on [0, 1] (each key's quantile function maps it)."""
    keys = list(cfg.uncertain)
    return {"num_vars": len(keys), "names": keys, "bounds": [[0.0, 1.0]] * len(keys)}


def design(cfg: Config, samples: int, seed: int) -> pd.DataFrame:
    """Saltelli's design (first and total order): ``samples x (keys + 2)`` parameter sets, in SALib's order
    (base sample j's rows are j x (keys + 2) .. j x (keys + 2) + keys + 1), as the values of each key; column
    ``run`` is the base sample j, whose random stream every row of it uses."""
    from SALib.sample import sobol as sobol_sample

    samples = _check_samples(samples)
    prob = problem(cfg)
    if prob["num_vars"] == 0:
        raise ConfigError("uncertain={}: explore needs uncertain keys; allowed: uncertainty=default (command "
                          "line) or compose(..., uncertain={...}) (Python)")
    u = sobol_sample.sample(prob, samples, calc_second_order=False, scramble=True, seed=seed)
    specs = uncertainty.specs(cfg)
    frame = {key: uncertainty.quantile(key, specs[key], u[:, k], key_field(key, cfg).integer)
             for k, key in enumerate(prob["names"])}
    width = prob["num_vars"] + 2
    frame["run"] = np.arange(u.shape[0]) // width
    return pd.DataFrame(frame)


def _chunk_path(outdir: Path, position: int, start: int) -> Path:
    return outdir / "runs" / f"position{position:03d}_runs{start:07d}.parquet"


def _claim(runs_dir: Path, cfg: Config, seed: int) -> None:
    """Tie ``runs_dir`` to this configuration and seed (``digest.txt``): chunks left there by another
    configuration are removed before any is reused (their design values could match while the world differs)."""
    digest = _digest(cfg, seed)
    mark = runs_dir / "digest.txt"
    if mark.is_file() and mark.read_text() == digest:
        return
    for old in runs_dir.glob("*.parquet"):
        old.unlink()
    runs_dir.mkdir(parents=True, exist_ok=True)
    write_text(mark, digest)


def _digest(cfg: Config, seed: int) -> str:
    """What ties a runs directory to a configuration and seed (``sim.chunk`` is outside the digest)."""
    from .sweep import config_digest

    return f"{config_digest(cfg)} seed={seed}"


def _verified(path: Path, expected: pd.DataFrame, wanted: list[str]) -> pd.DataFrame | None:
    """A chunk written before, if it holds exactly the expected runs and design values and every wanted outcome
    (else None: rerun)."""
    try:
        done = pd.read_parquet(path)
    except Exception:  # noqa: BLE001 - a truncated or corrupt file is rerun, not trusted
        return None
    cols = list(expected.columns)
    if len(done) != len(expected) or not set(cols) | set(wanted) <= set(done.columns):
        return None
    if not np.array_equal(done[cols].to_numpy(np.float64), expected[cols].to_numpy(np.float64)):
        return None
    return done


def chunks(frame: pd.DataFrame) -> list[tuple[int, int, pd.DataFrame]]:
    """The design's chunks, in order: (position in the base sample's rows, first base sample, the rows). Each
    chunk's rows have consecutive base samples, so one ``simulate`` call runs them on their own streams."""
    width = (frame.shape[1] - 1) + 2  # keys + 2 rows per base sample (the columns: the keys and "run")
    out = []
    for position in range(width):
        rows = frame.iloc[position::width]
        for start in range(0, len(rows), CHUNK):
            out.append((position, start, rows.iloc[start:start + CHUNK]))
    return out


def _wanted(outcomes) -> list[str]:
    return list(dict.fromkeys([*DEFAULT_OUTCOMES, *outcomes, "loss_of_control", "extinct", "final_replicas"]))


def run_chunk(cfg: Config, part: pd.DataFrame, seed: int, outdir: Path | None, position: int, start: int,
              outcomes=DEFAULT_OUTCOMES) -> pd.DataFrame:
    """One chunk's design values and outcomes: read back from ``outdir`` if a verified copy is there, else run
    (one ``simulate`` call) and written atomically."""
    from .ensemble import write_parquet_atomic
    from .simulate import simulate

    wanted = _wanted(outcomes)
    keys = [c for c in part.columns if c != "run"]
    path = _chunk_path(outdir, position, start) if outdir is not None else None
    expected = part.reset_index(drop=True)
    done = _verified(path, expected, wanted) if path is not None and path.exists() else None
    if done is not None:
        return done
    ens = simulate(dataclasses.replace(cfg, uncertain={}), runs=len(part), seed=seed,
                   first_run=int(part["run"].iloc[0]), design={key: part[key].to_numpy() for key in keys})
    if not np.array_equal(ens.outcomes["run"].to_numpy(), part["run"].to_numpy()):
        raise AssertionError("explore: a chunk's run indices are not consecutive")  # by construction
    done = pd.concat([expected, ens.outcomes[wanted].reset_index(drop=True)], axis=1)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_parquet_atomic(done, path)
    return done


def run_design(cfg: Config, frame: pd.DataFrame, seed: int, outdir: Path | None = None,
               outcomes=DEFAULT_OUTCOMES, progress: bool = False) -> pd.DataFrame:
    """The outcomes of every parameter set of ``frame`` (``design``), one row each, in the design's order."""
    from .progress import run_bar

    if outdir is not None:
        _claim(Path(outdir) / "runs", cfg, seed)
    wanted = _wanted(outcomes)
    result = pd.DataFrame(index=frame.index, columns=wanted, dtype=np.float64)
    bar = run_bar(len(frame), progress)
    for position, start, part in chunks(frame):
        done = run_chunk(cfg, part, seed, outdir, position, start, outcomes)
        result.loc[part.index, wanted] = done[wanted].to_numpy(np.float64)
        bar.update(len(part))
    bar.close()
    return pd.concat([frame, result], axis=1)


# --- explore through Hydra's launchers: the design's chunks as the jobs of a multirun -------------------------
# A job learns its exploration from an environment variable that Hydra sets for the job alone (hydra.job.env_set),
# and its chunk from sim.chunk, the key the multirun sweeps (Hydra sweeps configuration keys, not its own): every
# launcher ships both with the job. sim.chunk is outside the configuration's digest.
DIR_ENV = "REPLISIM_EXPLORE_DIR"
DESIGN = "design.parquet"


def prepare(cfg: Config, samples: int, seed: int, outdir) -> pd.DataFrame:
    """Write the design (``design.parquet``) and tie ``outdir/runs`` to the configuration: what the jobs read."""
    from .ensemble import write_parquet_atomic

    outdir = Path(outdir)
    frame = design(cfg, samples, seed)
    outdir.mkdir(parents=True, exist_ok=True)
    _claim(outdir / "runs", cfg, seed)
    write_parquet_atomic(frame, outdir / DESIGN)
    return frame


def chunk_job(cfg: Config, outdir, k: int) -> None:
    """Run chunk ``k`` of the exploration prepared in ``outdir`` (a job of ``replisim explore --launcher``). The
    job's configuration must be the one the exploration was prepared for (its digest), else nothing runs."""
    outdir = Path(outdir)
    if (outdir / "runs" / "digest.txt").read_text() != _digest(cfg, cfg.seed):
        raise ConfigError(f"{outdir}: prepared for another configuration; allowed: the overrides it was prepared with")
    frame = pd.read_parquet(outdir / DESIGN)
    parts = chunks(frame)
    if k is None or not 0 <= k < len(parts):
        raise ConfigError(f"sim.chunk={k}: allowed: 0 .. {len(parts) - 1} (the chunks of {outdir / DESIGN})")
    position, start, part = parts[k]
    run_chunk(cfg, part, cfg.seed, outdir, position, start)


def outcome_values(runs: pd.DataFrame, outcome: str, horizon_hours: float) -> np.ndarray:
    """An outcome as numbers for the analysis: flags as 0/1; a milestone never reached (NaN: right-censored)
    as the horizon."""
    y = runs[outcome].to_numpy(np.float64)
    if outcome.startswith("hours_to_"):
        y = np.where(np.isnan(y), horizon_hours, y)
    return y


def sensitivity(cfg: Config, runs: pd.DataFrame, outcomes=DEFAULT_OUTCOMES, seed: int = 0) -> pd.DataFrame:
    """First- and total-order Sobol indices with 95% bootstrap intervals, one row per (outcome, key). An outcome
    that is the same in every run has no variance to share: its rows hold NaN and say so in ``note``."""
    from SALib.analyze import sobol as sobol_analyze

    prob = problem(cfg)
    horizon = cfg.sim.steps * cfg.sim.hours_per_step
    rows = []
    for outcome in outcomes:
        y = outcome_values(runs, outcome, horizon)
        if np.nanstd(y) == 0:
            for key in prob["names"]:
                rows.append({"outcome": outcome, "parameter": key, "S1": np.nan, "S1_conf": np.nan, "ST": np.nan,
                             "ST_conf": np.nan, "note": f"constant: {y[0]:g} in every run"})
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            si = sobol_analyze.analyze(prob, y, calc_second_order=False, conf_level=0.95, num_resamples=1000,
                                       seed=_bootstrap_seed(seed))
        for k, key in enumerate(prob["names"]):
            rows.append({"outcome": outcome, "parameter": key, "S1": si["S1"][k], "S1_conf": si["S1_conf"][k],
                         "ST": si["ST"][k], "ST_conf": si["ST_conf"][k], "note": ""})
    return pd.DataFrame(rows)


def _bootstrap_seed(seed: int) -> int:
    """A nonzero seed for SALib's bootstrap derived from ``seed``: SALib seeds its resampling only when the seed
    is truthy (``if seed:``), so seed 0 would fall back to NumPy's global state and intervals would differ from
    call to call."""
    return int(np.random.SeedSequence([int(seed), 0x53414C]).generate_state(1)[0]) | 1


def _choose(trajectory: pd.DataFrame) -> int:
    """The PRIM box to report: of the peeling trajectory's boxes whose density reaches DENSITY_GOAL, the one of
    highest coverage; if none does, the densest."""
    dense = trajectory[trajectory["density"] >= DENSITY_GOAL]
    if len(dense):
        return int(dense["coverage"].idxmax())
    return int(trajectory["density"].idxmax())


def discover(runs: pd.DataFrame, keys: list[str], case: str) -> dict:
    """PRIM (EMA Workbench) on the design values: the box of assumptions where ``case`` happens.

    Returns ``{"case", "cases", "runs", "trajectory", "box", "coverage", "density", "mass", "limits"}`` where
    ``limits`` maps each restricted key to (low, high); ``box`` is None when no run, or every run, is a case
    (nothing to separate), with ``note`` saying which."""
    import logging

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from ema_workbench.analysis import prim
    logging.getLogger("EMA").setLevel(logging.WARNING)  # PRIM logs every box at INFO, into the run's own log

    y = (runs["loss_of_control"] > 0) if case == "loss_of_control" else (runs["extinct"] == 0)
    y = y.to_numpy(bool)
    out = {"case": case, "cases": int(y.sum()), "runs": int(y.size), "trajectory": None, "box": None,
           "coverage": np.nan, "density": np.nan, "mass": np.nan, "limits": {}, "note": ""}
    if y.all() or not y.any():
        out["note"] = "every run" if y.all() else "no run"
        return out
    x = runs[keys].astype(np.float64).reset_index(drop=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        finder = prim.Prim(x, y, peel_alpha=0.05, paste_alpha=0.05, mass_min=0.05)
        box = finder.find_box()
    trajectory = box.peeling_trajectory.reset_index(drop=True)
    i = _choose(trajectory)
    box.select(i)
    lims = box.box_lims[i]
    init = finder.box_init
    restricted = [k for k in keys if not np.allclose(lims[k].to_numpy(np.float64), init[k].to_numpy(np.float64))]
    out.update(trajectory=trajectory, box=i, coverage=float(trajectory.loc[i, "coverage"]),
               density=float(trajectory.loc[i, "density"]), mass=float(trajectory.loc[i, "mass"]),
               limits={k: (float(lims[k].iloc[0]), float(lims[k].iloc[1])) for k in restricted})
    return out


def scenarios_table(found: list[dict], regime: str) -> pd.DataFrame:
    """``scenarios.csv``: one row per restricted key of each case's box (one row with no key when the box
    restricts none, or there is no box)."""
    rows = []
    for f in found:
        base = {"regime": regime, "case": f["case"], "cases": f["cases"], "runs": f["runs"],
                "coverage": f["coverage"], "density": f["density"], "mass": f["mass"], "note": f["note"]}
        if not f["limits"]:
            rows.append({**base, "parameter": "", "low": np.nan, "high": np.nan})
        for key, (lo, hi) in f["limits"].items():
            rows.append({**base, "parameter": key, "low": lo, "high": hi})
    return pd.DataFrame(rows)


def explore(cfg: Config, samples: int = 256, seed: int | None = None, outdir=None, outcomes=DEFAULT_OUTCOMES,
            progress: bool = False, figures: bool = True, scenarios: bool = True) -> pd.DataFrame:
    """Global sensitivity and scenario discovery over ``cfg``'s uncertain keys; returns the sensitivity table.

    ``samples``: Saltelli's base samples N (a power of 2): N x (keys + 2) parameter sets, one run each.
    ``outdir``: where ``sensitivity.csv``, ``scenarios.csv``, ``runs.parquet`` (design and outcomes),
    ``explore.json`` and ``figures/`` go; the runs are resumed from ``outdir/runs/`` when they are there.
    ``scenarios=False`` (only with ``figures=False``, which draw the boxes) leaves out scenario discovery and
    ``scenarios.csv``.
    """
    from .ensemble import write_parquet_atomic

    if not isinstance(cfg, Config):
        raise ConfigError(f"cfg={type(cfg).__name__}: not a Config; allowed: a Config from replisim.compose(...)")
    seed = cfg.seed if seed is None else seed
    unknown = [o for o in outcomes if o not in DEFAULT_OUTCOMES and not o.startswith(("hours_to_", "final_", "peak_",
                                                                                         "collateral", "extinct"))]
    if unknown:
        raise ConfigError(f"outcomes={unknown[0]!r}: allowed: outcome columns such as {', '.join(DEFAULT_OUTCOMES)}")
    frame = design(cfg, samples, seed)
    outdir = Path(outdir) if outdir is not None else None
    runs = run_design(cfg, frame, seed, outdir, outcomes, progress)
    table = sensitivity(cfg, runs, outcomes, seed)
    if outdir is None:
        return table
    keys = list(cfg.uncertain)
    outdir.mkdir(parents=True, exist_ok=True)
    write_parquet_atomic(runs, outdir / "runs.parquet")
    write_csv(outdir / "sensitivity.csv", table)
    if scenarios or figures:
        found = [discover(runs, keys, case) for case in CASES]
        write_csv(outdir / "scenarios.csv", scenarios_table(found, cfg.governance.name))
    summary = {"regime": cfg.governance.name, "scenario": cfg.scenario, "samples": samples,
               "parameter_sets": len(frame), "seed": seed, "keys": keys, "outcomes": list(outcomes),
               "uncertain": {k: {f: v for f, v in dataclasses.asdict(s).items() if v is not None}
                             for k, s in uncertainty.specs(cfg).items()}}
    write_text(outdir / "explore.json", json.dumps(summary, indent=2))
    if not figures:
        return table
    from .plots import exploration_figures

    for name, fig in exploration_figures(table, runs, found, cfg).items():
        save_figure(fig, outdir / "figures" / f"{name}.png", dpi=110, bbox_inches="tight")
    return table


def drivers(cfg: Config, samples: int, outdir, progress: bool = False) -> pd.DataFrame:
    """The main job's "what drives this": ``explore`` of one regime over its uncertain keys (the ``uncertainty``
    group's default file when the configuration has none), on loss of control and the peak, without figures or
    scenario discovery (its report shows the total-order indices only)."""
    from .config.compose import with_uncertain

    ucfg = cfg if cfg.uncertain else with_uncertain(cfg, uncertainty.group_file("default"))
    return explore(ucfg, samples=samples, outdir=outdir, outcomes=("loss_of_control", "peak_replicas"),
                   progress=progress, figures=False, scenarios=False)


def drivers_lines(table: pd.DataFrame, top: int = 3) -> list[str]:
    """One line per outcome: the ``top`` keys by total-order index with their intervals."""
    lines = []
    for outcome, part in table.groupby("outcome", sort=False):
        if part["ST"].isna().all():
            lines.append(f"{outcome}: {part['note'].iloc[0]}, nothing to share out")
            continue
        best = part.sort_values("ST", ascending=False).head(top)
        lines.append(f"{outcome}: " + ", ".join(f"`{r.parameter}` {r.ST:.2f} [{r.ST - r.ST_conf:.2f}, "
                                                f"{r.ST + r.ST_conf:.2f}]" for r in best.itertuples()))
    return lines
