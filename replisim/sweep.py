"""Sweep jobs that can be resumed, and the aggregation of a finished sweep into one table, figures and a report.

A job directory holds ``outcomes.parquet`` and ``series.parquet`` (written atomically by
:meth:`Ensemble.to_parquet`) and, written last and atomically, ``done.json``: the digest of the job's
configuration and the overrides that define the job. A job whose marker exists and whose digest matches is
finished; re-running an interrupted sweep into the same directory skips it. A job killed half-way leaves no
marker, so it runs again from scratch.

Aggregation reads the immediate subdirectories of a sweep root that hold a marker, so it works the same for
a Hydra multirun (``<sweep.dir>/<job number>/``) and for the main job (``<run dir>/<regime>/``), whichever
launcher ran the jobs. Each job's runs depend only on (seed, run index), so the aggregated table is the
same for every launcher.

This module is part of the command line's edge: the engine never imports it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Mapping
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import pandas as pd
from hydra.experimental.callback import Callback

from . import __version__
from .config import Config
from .ensemble import Ensemble, write_parquet_atomic
from .files import save_figure, write_text
from .simulate import simulate
from .stats import wilson
from .terms import P_LABELS, fmt_interval, fmt_num, fmt_p

DONE = "done.json"
TABLE = "table"  # table.parquet and table.csv at the sweep root
# Settings that change how fast a job runs but not its numbers: excluded from the digest, so that resuming
# with another thread count still skips finished jobs.
# threads and the sparse-step share cannot change results; outcome.drivers is the size of the report's extra
# analysis, not of the runs; sim.chunk is which part of an exploration a job runs
NOT_IN_DIGEST = {"sim": ("threads", "chunk", "sparse_share"), "outcome": ("drivers",)}
# overrides that change how a job runs, not what it computes: never columns of the table, never "swept" (a sweep
# resumed with sim.threads=1 added must not look like a sweep over threads)
RUNTIME_KEYS = ("sim.threads", "sim.chunk", "sim.sparse_share", "outcome.drivers")


def config_digest(cfg: Config) -> str:
    """SHA-256 of the configuration's values (JSON with sorted keys), ignoring settings that cannot change results."""
    values = dataclasses.asdict(cfg)
    for section, keys in NOT_IN_DIGEST.items():
        for key in keys:
            values[section].pop(key, None)
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()


def read_marker(job_dir: Path) -> dict | None:
    try:
        return json.loads((Path(job_dir) / DONE).read_text())
    except (OSError, ValueError):
        return None


RESULT_FILES = ("outcomes.parquet", "series.parquet")


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def damaged_files(job_dir: Path, marker: dict | None = None) -> list[str]:
    """The result files of a finished job that are missing or differ from the SHA-256 its ``done.json``
    recorded when they were written (a truncated copy, flipped bytes, a file replaced by hand). A marker
    without checksums (written before they were recorded) vouches for nothing: every file counts as damaged."""
    marker = read_marker(job_dir) if marker is None else marker
    sums = (marker or {}).get("sha256") or {}
    bad = []
    for name in RESULT_FILES:
        path = Path(job_dir) / name
        if name not in sums or not path.is_file() or file_sha256(path) != sums[name]:
            bad.append(name)
    return bad


def is_done(job_dir: Path, digest: str) -> bool:
    """A job of this configuration finished and its results are intact (checksums verified)."""
    marker = read_marker(job_dir)
    return marker is not None and marker.get("config_digest") == digest and not damaged_files(job_dir, marker)


def run_job(cfg: Config, job_dir: str | os.PathLike, overrides: Mapping[str, str], progress: bool = False,
            order: int | None = None) -> bool:
    """Simulate ``cfg`` into ``job_dir`` unless a matching finished job is there. Returns True if it ran.

    ``overrides`` (key -> value as typed) become the job's columns in the aggregated table; ``order`` places
    the job in that table (default: the directory's number, as Hydra names sweep jobs).
    """
    job_dir = Path(job_dir)
    digest = config_digest(cfg)
    if is_done(job_dir, digest):
        return False
    job_dir.mkdir(parents=True, exist_ok=True)
    # A marker of another configuration must go before new outputs are written: if this run is killed,
    # no marker may vouch for a mixture of old and new files.
    (job_dir / DONE).unlink(missing_ok=True)
    start = time.perf_counter()
    ensemble = simulate(cfg, progress=progress)
    ensemble.to_parquet(job_dir)
    marker = {
        "config_digest": digest,
        "overrides": dict(overrides),
        "scenario": cfg.scenario,
        "governance": cfg.governance.name,
        "runs": cfg.runs,
        "seed": cfg.seed,
        "steps": cfg.sim.steps,
        "replisim_version": __version__,
        "wall_s": round(time.perf_counter() - start, 3),
    }
    if order is not None:
        marker["order"] = order
    marker["what_it_would_take"] = what_it_would_take_line(cfg)
    # the marker vouches for these exact bytes: resuming and aggregating verify them before trusting them
    marker["sha256"] = {name: file_sha256(job_dir / name) for name in RESULT_FILES}
    write_text(job_dir / DONE, json.dumps(marker, indent=2, sort_keys=True) + "\n")
    return True


def what_it_would_take_line(cfg: Config) -> str:
    """The report's line from ``replisim.theory.what_it_would_take``, or why the theory has none for ``cfg``."""
    from . import theory

    try:
        return theory.what_it_would_take(cfg)["text"]
    except (NotImplementedError, ValueError) as exc:  # e.g. colonies too large to enumerate
        return f"no closed form: {exc}"


# --- aggregation ------------------------------------------------------------------------------------------


def _job_order(path: Path):
    # Hydra numbers jobs 0, 1, ... 10: sort numerically, so the table's order is the sweep's order
    if path.name.isdigit():
        return (0, int(path.name), "")
    order = (read_marker(path) or {}).get("order")
    return (0, order, path.name) if isinstance(order, int) else (1, 0, path.name)


def finished_jobs(root: Path) -> tuple[list[Path], list[Path]]:
    """(finished job directories, unfinished ones) among the immediate subdirectories of ``root``."""
    done, unfinished = [], []
    for sub in sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")), key=_job_order):
        if (sub / DONE).is_file():
            done.append(sub)
        elif (sub / ".hydra").is_dir() or (sub / "outcomes.parquet").exists():
            unfinished.append(sub)
    return done, unfinished


def collect(root: str | os.PathLike) -> tuple[pd.DataFrame, dict[str, Path], list[str]]:
    """One row per (job, run): the job's swept values as columns, then its outcomes.

    Returns the table, the directory of each job label and the keys whose values differ between jobs.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such sweep directory")
    done, unfinished = finished_jobs(root)
    bad = {d: damaged_files(d) for d in done}  # every file hashed once
    damaged = [d for d in done if bad[d]]
    if damaged:
        print(f"replisim: warning: {len(damaged)} job(s) whose results differ from the checksums in their "
              f"{DONE} left out: {', '.join(f'{p.name} ({", ".join(bad[p])})' for p in damaged)}; "
              "re-run the sweep to redo them", file=sys.stderr)
        done = [d for d in done if d not in damaged]
        unfinished = unfinished + damaged
    if unfinished:
        print(f"replisim: warning: {len(unfinished)} unfinished job(s) left out: "
              f"{', '.join(p.name for p in unfinished)}; re-run the sweep to complete them", file=sys.stderr)
    if not done:
        raise FileNotFoundError(f"{root}: no finished job (no */{DONE})")
    markers = [read_marker(d) for d in done]
    keys: list[str] = []
    for m in markers:
        keys += [k for k in m["overrides"] if k not in keys and k not in RUNTIME_KEYS]
    # the keys whose value differs between jobs name the jobs; fixed overrides are columns too
    swept = [k for k in keys if len({str(m["overrides"].get(k, "")) for m in markers}) > 1]
    frames, dirs = [], {}
    for job_dir, m in zip(done, markers):
        outcomes = pd.read_parquet(job_dir / "outcomes.parquet")
        label = job_label(m["overrides"], swept) or m["governance"]
        if label in dirs:  # e.g. a job left from an earlier sweep into the same directory: keep them apart
            label = f"{label} (job {job_dir.name})"
        dirs[label] = job_dir
        front = {"job": job_dir.name, "label": label}
        for k in keys:
            if k not in outcomes.columns:  # e.g. seed: the outcome column already holds the value, typed
                front[k] = str(m["overrides"].get(k, ""))
        # the regime and scenario labels are always there, so reports can compare regimes of any sweep
        front.setdefault("governance", m["governance"])
        front.setdefault("scenario", m["scenario"])
        head = pd.DataFrame({k: [v] * len(outcomes) for k, v in front.items()})
        body = outcomes.drop(columns=[c for c in outcomes.columns if c in front])
        frames.append(pd.concat([head, body.reset_index(drop=True)], axis=1))
    table = pd.concat(frames, ignore_index=True)
    table.attrs["left_out"] = [p.name for p in unfinished]  # aggregate marks the table and report partial
    return table, dirs, swept


CONFIG_GROUPS = ("governance", "scenario", "network", "jurisdictions", "collusion")


def job_label(overrides: Mapping[str, str], swept: list[str]) -> str:
    """A short name of a job for tables and figure axes, from the values that vary between jobs.

    A config group's option names itself (``if_then``); another key shows its last part (``success=0.5``):
    ``if_then / pan2024_qwen25_72b / success=0.5``.
    """
    parts = [str(overrides[k]) if k in CONFIG_GROUPS else f"{k.rsplit('.', 1)[-1]}={overrides[k]}"
             for k in swept if k in overrides]
    return " / ".join(parts)


def summary_table(frame: pd.DataFrame, by: str = "label") -> pd.DataFrame:
    """Per job: P(loss of control) and P(contained) (``terms.P_LABELS``) with their 95% Wilson intervals, the median
    hours to 10% of compute ("never": half the runs or more did not get there by the horizon), medians of peak,
    final population and collateral cost (docs/governance.md, "Collateral cost")."""
    rows = []
    for name, g in frame.groupby(by, sort=False):
        n = len(g)
        row = {by: name, "runs": n}
        for col, label in P_LABELS.items():
            k = int(g[col].sum())
            lo, hi = wilson(k, n)
            row[label] = k / n
            row[f"{label} 95% CI"] = fmt_interval(lo, hi)
        if "hours_to_10pct_compute" in g:
            hours = g["hours_to_10pct_compute"].to_numpy(dtype=float)
            row["median hours to 10%"] = float(np.median(np.where(np.isnan(hours), np.inf, hours)))
        row["median peak"] = float(g["peak_replicas"].median())
        row["median final"] = float(g["final_replicas"].median())
        row["median collateral node-h"] = float(g["collateral_node_hours"].median())
        rows.append(row)
    return pd.DataFrame(rows)


def _formats(summary: pd.DataFrame) -> dict:
    """Per column of a table: probabilities by ``terms.fmt_p``, every other number by ``terms.fmt_num`` (the
    report formats its numbers with the same two functions)."""
    def cell(v):
        return fmt_num(v) if isinstance(v, (int, float, np.number)) else str(v)

    return {c: fmt_p if c.startswith("P(") and "CI" not in c else cell for c in summary.columns}


def fixed_overrides(markers: list[dict]) -> list[str]:
    """The overrides every job of a sweep shares (``key=value``), in the order first seen."""
    common: dict[str, str] = {}
    for m in markers:
        for k, v in m["overrides"].items():
            if k not in RUNTIME_KEYS:
                common.setdefault(k, v)
    return [f"{k}={v}" for k, v in common.items()
            if all(str(m["overrides"].get(k, "\0")) == str(v) for m in markers)]


def _markdown_table(frame: pd.DataFrame) -> str:
    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + "---|" * len(frame.columns)]
    formats = _formats(frame)
    lines += ["| " + " | ".join(formats[c](v) for c, v in zip(frame.columns, row)) + " |"
              for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def _comparison(frame: pd.DataFrame, keys: list[str], compare: Callable) -> pd.DataFrame | None:
    """Each regime against the baseline ``none`` (or the first value of the first swept key), within each
    combination of the other swept keys."""
    by = "governance" if frame["governance"].nunique() > 1 else next((k for k in keys if frame[k].nunique() > 1), None)
    if by is None:
        return None
    values = list(dict.fromkeys(frame[by]))
    baseline = "none" if "none" in values else values[0]
    others = [k for k in keys if k != by and frame[k].nunique() > 1]
    if not others:
        return compare(frame, by=by, baseline=baseline)
    parts = []
    for combo, g in frame.groupby(others, sort=False):
        if baseline not in set(g[by]) or g[by].nunique() < 2:
            continue
        part = compare(g, by=by, baseline=baseline)
        combo = combo if isinstance(combo, tuple) else (combo,)
        for k, v in zip(others, combo):
            part.insert(0, k, v)
        parts.append(part)
    return pd.concat(parts, ignore_index=True) if parts else None


def aggregate(root: str | os.PathLike, title: str | None = None, echo: bool = True) -> pd.DataFrame:
    """Write ``table.parquet``/``table.csv``, ``summary.csv``, the comparison, figures and ``report.md`` at ``root``.

    Figures and the comparison come from :mod:`replisim.plots` and :mod:`replisim.report` when those are
    installed; otherwise the report holds the summary table only and says so.
    """
    root = Path(root)
    frame, dirs, keys = collect(root)
    left_out = frame.attrs.pop("left_out", [])
    # a table without every job says so in its name (table.partial.*), and no table of the other kind stays beside it
    table_name, other = (f"{TABLE}.partial", TABLE) if left_out else (TABLE, f"{TABLE}.partial")
    for suffix in (".parquet", ".csv"):
        (root / f"{other}{suffix}").unlink(missing_ok=True)
    write_parquet_atomic(frame, root / f"{table_name}.parquet", {"partial": bool(left_out), "left_out": left_out})
    write_text(root / f"{table_name}.csv", frame.to_csv(index=False))
    summary = summary_table(frame)
    write_text(root / "summary.csv", summary.to_csv(index=False))
    if echo:
        with pd.option_context("display.width", 200, "display.max_columns", 20, "display.max_colwidth", 60):
            print(summary.to_string(index=False, formatters=_formats(summary)))
    markers = {label: read_marker(d) for label, d in dirs.items()}
    title = title or default_title(root, dirs, markers)
    notes = []
    if left_out:
        title += f" (partial: {len(left_out)} job(s) left out)"
        notes.append(f"PARTIAL: job(s) {', '.join(left_out)} unfinished or damaged and left out of every table, "
                     "figure and comparison here; re-run the sweep to complete them, then aggregate again.")
    by, facets = facet_keys(frame, keys)
    ensembles = {label: Ensemble.from_parquet(d) for label, d in dirs.items()}
    placement = placement_table(frame, {label: group_slots(e.config, markers[label]["seed"])
                                        for label, e in ensembles.items() if e.config is not None}, [*facets, by])
    if not placement.empty:
        write_text(root / "placement.csv", placement.to_csv(index=False))
    comparison = None
    if find_spec("replisim.report") is not None:
        from . import report

        comparison = _comparison(frame, keys or ["governance"], report.compare)
        if comparison is not None:
            write_text(root / "comparison.csv", comparison.to_csv(index=False))
    else:
        notes.append("replisim.report is not installed: no comparison against the baseline regime.")
    figures = {}
    if find_spec("replisim.plots") is not None:
        import matplotlib

        matplotlib.use("Agg")  # files only: no display needed on a cluster node
        import matplotlib.pyplot as plt

        from . import plots

        fig_dir = root / "figures"
        fig_dir.mkdir(exist_ok=True)
        # small multiples: one panel per value of the swept factors other than the regime, so jobs of different
        # scenarios are never pooled in one box or curve, and no axis carries every job's name
        made = dict(plots.sweep_figures(frame, ensembles, by=by, facets=facets))
        if not placement.empty:
            made["placement"] = plots.placement_panels(placement, by, facets)
        made.update(heat_maps(frame, keys))
        for name, fig in made.items():
            path = fig_dir / f"{name}.png"
            save_figure(fig, path, dpi=150)  # a temporary of its own: two writers never share one
            figures[name] = path.relative_to(root)
            plt.close(fig)
    else:
        notes.append("replisim.plots is not installed: no figures.")
    if comparison is not None and find_spec("replisim.report") is not None:
        from . import report

        text = report.markdown(frame, comparison, title, context=_context(list(markers.values())),
                               notes=_notes(frame, comparison, markers))
    else:
        text = f"# {title}\n\n{_markdown_table(summary)}\n"
    text += _placement_section(placement, by, facets)
    text += _drivers_section(dirs)
    if figures:
        text += "\n## Figures\n\n" + "".join(f"![{n}]({p})\n" for n, p in figures.items())
    if notes:
        text += "\n" + "".join(f"- {n}\n" for n in notes)
    write_text(root / "report.md", text)
    if echo:
        for n in notes:
            print(f"replisim: note: {n}", file=sys.stderr)
        print(f"replisim: wrote {root / (table_name + '.parquet')}, {table_name}.csv, report.md"
              + (f" and {len(figures)} figures" if figures else ""), file=sys.stderr)
    return frame


def default_title(root: Path, dirs: Mapping[str, Path], markers: Mapping[str, dict]) -> str:
    """The report's title when none is given: the main job's (its jobs are ``<run dir>/<regime>/``, one scenario
    and run count), so ``replisim aggregate`` on a main job's folder keeps the title the main job gave it;
    ``replisim sweep <folder>`` for anything else."""
    ms = list(markers.values())
    main_job = all(Path(dirs[label]).name == m["governance"] for label, m in markers.items())
    scenarios, runs = {m["scenario"] for m in ms}, {m["runs"] for m in ms}
    if main_job and len(scenarios) == 1 and len(runs) == 1:
        return f"Governance regimes on scenario '{scenarios.pop()}' ({runs.pop()} runs each)"
    return f"replisim sweep {root.name}"


def facet_keys(frame: pd.DataFrame, keys: list[str]) -> tuple[str, list[str]]:
    """(the factor each panel compares, the factors that make the panels) of a sweep over ``keys``: the regime
    against the regime when it varies (else the first swept key), one panel per combination of the others."""
    varied = [k for k in keys if k in frame.columns and frame[k].nunique() > 1]
    by = "governance" if frame["governance"].nunique() > 1 else (varied[0] if varied else "governance")
    return by, [k for k in varied if k != by]


def numeric_keys(frame: pd.DataFrame, keys: list[str]) -> list[str]:
    """The swept keys whose every value is a number (e.g. replica.success, not governance)."""
    out = []
    for k in keys:
        if k in frame.columns and frame[k].nunique() > 1:
            values = pd.to_numeric(frame[k], errors="coerce")
            if values.notna().all():
                out.append(k)
    return out


def heat_maps(frame: pd.DataFrame, keys: list[str]) -> dict:
    """P(loss of control) over the first two numeric swept keys, one heat map per combination of the other swept
    keys (``heatmap`` alone when there are none), so no cell pools jobs of different regimes or scenarios."""
    from . import plots

    numeric = numeric_keys(frame, keys)
    if len(numeric) < 2:
        return {}
    x, y = numeric[:2]
    rest = [k for k in keys if k not in (x, y) and k in frame.columns and frame[k].nunique() > 1]
    data = frame.assign(**{x: pd.to_numeric(frame[x]), y: pd.to_numeric(frame[y])})
    groups = data.groupby(rest, sort=False) if rest else [((), data)]
    figs = {}
    for combo, g in groups:
        combo = combo if isinstance(combo, tuple) else (combo,)
        fig = plots.phase_diagram(g, x, y)
        if combo:
            fig.axes[0].set_title(fig.axes[0].get_title() + "\n" + ", ".join(f"{k}={v}" for k, v in zip(rest, combo)),
                                  fontsize=9)
        name = "heatmap" + "".join(f"_{v}" for v in combo)
        figs["".join(c if c.isalnum() or c in "._-" else "_" for c in name)] = fig
    return figs


# --- where the survivors are: per node type and per jurisdiction ---------------------------------------------

PLACEMENT_PREFIXES = {"final_on_": "node type", "final_in_": "jurisdiction"}  # results.placement_names


def group_slots(cfg: Config, seed: int) -> dict[str, int]:
    """Replica slots before any measure of each node type and jurisdiction of the world ``cfg`` and ``seed`` build
    (``world.network``, as ``world.setup`` draws it), keyed by the outcome column of the survivors there (``final_on_<type>``,
    ``final_in_<jurisdiction>``)."""
    from .config.schema import NODE_TYPES
    from .world import network

    net = network(cfg, seed)
    slots = {f"final_on_{t}": int(net.capacity[net.node_type == i].sum()) for i, t in enumerate(NODE_TYPES)}
    return slots | {f"final_in_{j}": int(net.capacity[net.jurisdiction == i].sum())
                    for i, j in enumerate(net.jurisdiction_names)}


def placement_table(frame: pd.DataFrame, slots_by_label: Mapping[str, Mapping[str, int]],
                    columns: list[str]) -> pd.DataFrame:
    """One row per (job, node type or jurisdiction): the share of the replicas alive at the horizon that sit there
    (pooled over the job's runs; NaN where no run has survivors) and the compute captured there, the mean survivors
    over the group's slots before any measure (NaN for a group without slots, such as consumer machines).
    ``columns``: the job's grouping columns to keep (e.g. governance, scenario)."""
    rows = []
    for label, g in frame.groupby("label", sort=False):
        survivors = float(g["final_replicas"].sum())
        slots = slots_by_label.get(label, {})
        for col in (c for c in g.columns if c.startswith(tuple(PLACEMENT_PREFIXES))):
            prefix = col[:len("final_on_")]
            total = float(g[col].sum())
            rows.append({"label": label, **{k: g[k].iloc[0] for k in columns},
                         "kind": PLACEMENT_PREFIXES[prefix], "group": col[len(prefix):],
                         "share_of_survivors": total / survivors if survivors else np.nan,
                         "slots": slots.get(col, np.nan),
                         "captured": total / len(g) / slots[col] if slots.get(col) else np.nan})
    return pd.DataFrame(rows)


def _placement_section(table: pd.DataFrame, by: str, facets: list[str]) -> str:
    """The report's "Where the survivors are": per job, a table per kind of group with each group's share of the
    survivors and the compute captured there."""
    if table.empty:
        return ""
    out = ["", "## Where the survivors are", "",
           "Per job, of the replicas alive at the horizon (all runs pooled): the share on each node type and in each "
           "jurisdiction, and in brackets the compute captured there (mean survivors over the group's replica slots "
           "before any measure; `-`: the group has no slots, or no run has survivors). `placement.csv` holds the "
           "numbers; `figures/placement.png` draws them."]
    front = [*facets, by]
    for kind in PLACEMENT_PREFIXES.values():
        part = table[table["kind"] == kind]
        part = part.sort_values(facets, kind="stable") if facets else part
        if part.empty:
            continue
        groups = list(pd.unique(part["group"]))
        out += ["", f"By {kind}:", "", "| " + " | ".join([*front, *groups]) + " |",
                "|" + "---|" * len(front) + "---:|" * len(groups)]
        for _, job in part.groupby("label", sort=False):
            cells = {r.group: f"{fmt_p(r.share_of_survivors)} ({fmt_p(r.captured)})" for r in job.itertuples()}
            out.append("| " + " | ".join([*(str(job[k].iloc[0]) for k in front), *(cells[gr] for gr in groups)]) + " |")
    return "\n".join(out) + "\n"


def _drivers_section(dirs: dict) -> str:
    """The main job's "what drives this" section, from each job's ``drivers/`` (``exploration.drivers``)."""
    from .exploration import drivers_lines

    parts = []
    for label, d in dirs.items():
        path = Path(d) / "drivers" / "sensitivity.csv"
        if not path.is_file():
            continue
        meta = json.loads((path.parent / "explore.json").read_text())
        lines = drivers_lines(pd.read_csv(path))
        parts.append(f"- **{label}** ({meta['parameter_sets']:,} runs): " + "; ".join(lines))
    if not parts:
        return ""
    return ("\n## What drives this\n\nTotal-order Sobol indices (the share of an outcome's variance a key accounts "
            "for, interactions included) with 95% bootstrap intervals, from a small Saltelli sample per regime over "
            "the uncertain keys (`outcome.drivers` base samples; `outcome.drivers=0` leaves this out; `replisim "
            "explore` for a full analysis, docs/analysis.md for how to read it). A small sample gives wide intervals: a key "
            "whose interval reaches 0 is not shown to matter. The three largest:\n\n"
            + "\n".join(parts) + "\n")


def _context(markers: list[dict]) -> list[str]:
    """The report's header: every override of the jobs, fixed or swept, so the report can be read without the
    command that made it, and the horizon."""
    fixed = fixed_overrides(markers)
    steps = sorted({m.get("steps") for m in markers if m.get("steps") is not None})
    lines = [f"fixed overrides: {', '.join(f'`{o}`' for o in fixed)}" if fixed else "fixed overrides: none"]
    swept: dict[str, list[str]] = {}
    runtime: dict[str, list[str]] = {}
    for m in markers:
        for k, v in m["overrides"].items():
            into = runtime if k in RUNTIME_KEYS else swept
            if (k in RUNTIME_KEYS or f"{k}={v}" not in fixed) and str(v) not in into.setdefault(k, []):
                into[k].append(str(v))
    # a key set in some jobs only is swept too: its value in the others is the default
    swept = {k: v for k, v in swept.items() if v}
    if swept:
        lines.append("swept: " + "; ".join(f"`{k}` = {', '.join(v)}" for k, v in swept.items()))
    if runtime:
        lines.append("run settings (they cannot change the numbers): "
                     + ", ".join(f"`{k}={'/'.join(v)}`" for k, v in runtime.items()))
    if steps:
        lines.append(f"horizon: {', '.join(map(str, steps))} steps")
    return lines


def _notes(frame: pd.DataFrame, comparison: pd.DataFrame, markers: dict[str, dict]) -> dict[str, str]:
    """What it would take, per value of the compared column: the jobs' lines (from ``run_job``), given only
    where every job of that value says the same (a sweep over scenarios gives one line per scenario otherwise)."""
    cols = list(comparison.columns)
    by = cols[cols.index("runs") - 1]
    out: dict[str, str] = {}
    for value, g in frame.groupby(by, sort=False):
        lines = {markers[label].get("what_it_would_take") for label in pd.unique(g["label"]) if label in markers}
        lines.discard(None)
        if len(lines) == 1:
            out[str(value)] = lines.pop()
    return out


AGGREGATION_FAILURES: list[str] = []  # end-of-sweep aggregations that failed in this process


class AggregateCallback(Callback):
    """Hydra callback (``hydra.callbacks`` in conf/config.yaml): aggregate the sweep when the multirun ends.

    Hydra turns an exception in a callback into a warning; the error is printed on one line instead, so a
    failed aggregation is not lost in the warnings, and ``replisim aggregate <dir>`` can redo it.
    """

    def on_multirun_end(self, config, **kwargs) -> None:
        from .exploration import DIR_ENV

        if DIR_ENV in (config.hydra.job.get("env_set") or {}):
            return  # the jobs of ``replisim explore --launcher``: explore analyses its chunks itself
        try:
            aggregate(Path(config.hydra.sweep.dir))
        except Exception as exc:  # noqa: BLE001 - reported, and the sweep's job results stay on disk
            # Hydra turns a callback's exception into a warning and exits 0: the command line reads this list
            # after Hydra returns and exits 1 (replisim.cli.main)
            message = (f"aggregation of {config.hydra.sweep.dir} failed ({type(exc).__name__}: {exc}); the jobs' "
                       f"results are intact; redo it with: replisim aggregate {config.hydra.sweep.dir}")
            AGGREGATION_FAILURES.append(message)
            print(f"replisim: error: {message}", file=sys.stderr)
            raise
