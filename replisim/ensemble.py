"""The result of an ensemble: a tidy outcome table (one row per run) and per-step series arrays."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .files import atomic
from .results import N_OUTCOMES, OUTCOME_NAMES, SERIES_NAMES, placement_names


@dataclass
class Ensemble:
    """Outcomes and series of ``runs`` runs of one configuration.

    ``outcomes``: DataFrame, one row per run. ``series(name)``: array of shape (runs, steps + 1). ``config``: the
    validated Config the runs were made from (kept through ``to_parquet`` / ``from_parquet``; None for an ensemble
    assembled by hand or by ``concat`` of different configurations). ``group_series(name)``: the replicas on each
    group of nodes, (runs, labels, steps + 1), for each grouping ``simulate`` was given (``groups=``), the
    labels' names in ``group_labels(name)``.
    """

    outcomes: pd.DataFrame
    series_data: dict[str, np.ndarray]
    hours_per_step: float = 1.0
    meta: dict = field(default_factory=dict)
    config: object | None = None
    # grouping name -> (label names, array (runs, labels, steps + 1))
    group_data: dict[str, tuple] = field(default_factory=dict)

    @property
    def runs(self) -> int:
        return len(self.outcomes)

    @property
    def steps(self) -> int:
        return next(iter(self.series_data.values())).shape[1] - 1

    @property
    def hours(self) -> np.ndarray:
        return np.arange(self.steps + 1) * self.hours_per_step

    def series(self, name: str) -> np.ndarray:
        if name not in self.series_data:
            raise KeyError(f"series {name!r} unknown; available: {', '.join(self.series_data)}")
        return self.series_data[name]

    def group_series(self, name: str) -> np.ndarray:
        """Replicas on the nodes of each label of grouping ``name`` at every step: (runs, labels, steps + 1);
        summed over the labels, the ``replicas`` series."""
        return self._group(name)[1]

    def group_labels(self, name: str) -> tuple:
        """Names of the labels of grouping ``name``, in the order of ``group_series(name)``'s second axis."""
        return self._group(name)[0]

    def _group(self, name: str) -> tuple:
        if name not in self.group_data:
            raise KeyError(f"group series {name!r} unknown; available: {', '.join(self.group_data) or 'none'} "
                           "(simulate(..., groups={name: 'node_type' | 'jurisdiction' | one label per node}))")
        return self.group_data[name]

    def summary(self) -> pd.DataFrame:
        """One-row-per-statistic summary (probabilities with Wilson 95% intervals, quantiles of the rest)."""
        from .stats import summarize

        return summarize(self.outcomes)

    # --- persistence: Parquet only (no pickle), written atomically -------------------------------------
    def to_parquet(self, directory: str | os.PathLike) -> None:
        """Write ``outcomes.parquet`` and ``series.parquet`` (and ``groups.parquet`` with group series) into
        ``directory``, each atomically."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        meta = {"hours_per_step": self.hours_per_step, **self.meta}
        if self.config is not None:  # the whole configuration, so the results can be read on their own
            import dataclasses

            meta["config"] = dataclasses.asdict(self.config)
        out = self.outcomes.copy()
        out.attrs = {}
        write_parquet_atomic(out, directory / "outcomes.parquet", meta)
        long = {name: arr.astype(np.float32).ravel() for name, arr in self.series_data.items()}
        runs, width = next(iter(self.series_data.values())).shape
        frame = pd.DataFrame({"run": np.repeat(self.outcomes["run"].to_numpy(), width),
                              "step": np.tile(np.arange(width), runs), **long})
        write_parquet_atomic(frame, directory / "series.parquet", meta)
        groups = directory / "groups.parquet"
        if self.group_data:
            # one column per (grouping, label), rows as series.parquet's; the order of both kept in the metadata
            cols = {f"{name}:{label}": values[:, k, :].ravel().astype(np.int64)
                    for name, (labels, values) in self.group_data.items() for k, label in enumerate(labels)}
            write_parquet_atomic(frame[["run", "step"]].assign(**cols), groups,
                                 {"groups": {name: list(labels) for name, (labels, _) in self.group_data.items()}})
        elif groups.exists():  # an earlier ensemble's, which these results would otherwise read back
            groups.unlink()

    @classmethod
    def from_parquet(cls, directory: str | os.PathLike) -> Ensemble:
        import pyarrow.parquet as pq

        directory = Path(directory)
        table = pq.read_table(directory / "outcomes.parquet")
        meta = json.loads((table.schema.metadata or {}).get(b"replisim", b"{}"))
        outcomes = table.to_pandas()
        frame = pd.read_parquet(directory / "series.parquet")
        width = int(frame["step"].max()) + 1
        series = {c: frame[c].to_numpy().reshape(-1, width) for c in frame.columns if c not in ("run", "step")}
        hours = meta.pop("hours_per_step", 1.0)
        config = meta.pop("config", None)
        return cls(outcomes=outcomes, series_data=series, hours_per_step=hours, meta=meta,
                   config=None if config is None else config_from_dict(config),
                   group_data=_read_groups(directory / "groups.parquet", len(outcomes), width))

    @classmethod
    def concat(cls, ensembles) -> Ensemble:
        """One Ensemble of several, runs in the given order (e.g. runs 0-99 and 100-199 of one configuration, made
        apart). Their series must have the same steps and step length; ``config`` is kept when every part has the
        same one, else None."""
        parts = list(ensembles)
        if not parts:
            raise ValueError("Ensemble.concat of nothing: allowed: one Ensemble or more")
        steps = {(e.steps, e.hours_per_step) for e in parts}
        if len(steps) > 1:
            raise ValueError(f"Ensemble.concat: the ensembles' (steps, hours per step) differ: {sorted(steps)}; "
                             "allowed: ensembles of one horizon and step length")
        names = list(parts[0].series_data)
        series = {name: np.concatenate([e.series(name) for e in parts]) for name in names}
        outcomes = pd.concat([e.outcomes for e in parts], ignore_index=True)
        configs = [e.config for e in parts]
        same = all(c is not None and c == configs[0] for c in configs)
        # the groupings every part has, with the same labels
        groups = {name: (labels, np.concatenate([e.group_series(name) for e in parts]))
                  for name, (labels, _) in parts[0].group_data.items()
                  if all(e.group_data.get(name, (None,))[0] == labels for e in parts)}
        return cls(outcomes=outcomes, series_data=series, hours_per_step=parts[0].hours_per_step,
                   meta=dict(parts[0].meta), config=configs[0] if same else None, group_data=groups)


def _read_groups(path: Path, runs: int, width: int) -> dict:
    """The group series of ``groups.parquet`` (``Ensemble.to_parquet``); none when there is no such file."""
    if not path.exists():
        return {}
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    labels = json.loads(table.schema.metadata[b"replisim"])["groups"]
    frame = table.to_pandas()
    return {name: (tuple(names), np.stack([frame[f"{name}:{label}"].to_numpy(np.float64).reshape(runs, width)
                                           for label in names], axis=1) if names else np.zeros((runs, 0, width)))
            for name, names in labels.items()}


def config_from_dict(values: dict):
    """A validated Config from ``dataclasses.asdict`` of one (the configuration kept in results' metadata)."""
    from omegaconf import OmegaConf

    from .config import to_config

    return to_config(OmegaConf.create(values))


def write_parquet_atomic(frame: pd.DataFrame, path: Path, meta: dict | None = None) -> None:
    """Write the frame as Parquet through ``files.atomic`` (readers never see half a file), with ``meta`` as JSON in
    the schema's metadata under ``replisim``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    if meta is not None:
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), b"replisim": json.dumps(meta, default=str).encode()})
    atomic(path, lambda tmp: pq.write_table(table, tmp))


# outcome columns that are flags or counts (the engines fill every column as float64)
_INTEGER_OUTCOMES = {"extinct": bool, "loss_of_control": bool} | dict.fromkeys(
    ("peak_replicas", "final_replicas", "detections", "shutdowns", "avoidance_events", "max_generation",
     "misaligned_final", "births", "flights", "coalitions_final", "replica_steps"), np.int64)


def outcome_width(net) -> int:
    """Columns of the engines' outcome array for the world ``net``: the O columns, then the survivors per node
    type and per jurisdiction (``results.placement_names``)."""
    from .config.schema import NODE_TYPES

    return N_OUTCOMES + len(NODE_TYPES) + len(net.jurisdiction_names)


def from_arrays(outcome_arr: np.ndarray, series_arr: np.ndarray, runs_index: np.ndarray, seed: int,
                skill0: np.ndarray, hours_per_step: float, meta: dict, net=None, gov=None,
                extra: dict | None = None) -> Ensemble:
    """The Ensemble of the engines' arrays. With the world (``net``, ``gov``): the columns of the survivors per
    node type and jurisdiction, and the slots each static measure withholds (the same in every run of it).
    ``extra``: more columns by name (``uncertainty.drawn_columns``), replacing those of the same name; the frame
    is built once (adding columns to a built frame costs about 0.1 ms each, a tenth of a default run)."""
    from .config.schema import NODE_TYPES

    cols = {"run": runs_index.astype(np.int64), "seed": np.full(runs_index.size, seed, np.int64), "skill": skill0}
    for k, name in enumerate(OUTCOME_NAMES):
        # each column cast before the frame is built: casting columns of a built frame costs ms per call
        cols[name] = outcome_arr[:, k].astype(_INTEGER_OUTCOMES.get(name, np.float64))
    if net is not None:
        for k, name in enumerate(placement_names(NODE_TYPES, net.jurisdiction_names)):
            cols[name] = outcome_arr[:, N_OUTCOMES + k].astype(np.int64)
    if gov is not None:
        cols["withheld_slots_licensing"] = np.full(runs_index.size, gov.withheld_licensing, np.int64)
        cols["withheld_slots_export_controls"] = np.full(runs_index.size, gov.withheld_export, np.int64)
    cols.update(extra or {})
    df = pd.DataFrame(cols, copy=False)
    series = {name: series_arr[:, k, :] for k, name in enumerate(SERIES_NAMES)}
    return Ensemble(outcomes=df, series_data=series, hours_per_step=hours_per_step, meta=meta)
