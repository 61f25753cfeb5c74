"""The analysis subcommands of ``replisim``: ``explore`` (which assumptions drive the answer; what it would take).

    replisim explore                                   # the default world, uncertainty=default, 256 base samples
    replisim explore --samples 1024 governance=if_then # any override, as for a run
    replisim explore --regimes all                     # every governance preset, one folder each
    replisim explore --mode threshold --key governance.detection --low 0 --high 1

Overrides are the same ``section.key=value`` strings as for a run. Without an ``uncertainty=...`` override and
with no uncertain key, the ``uncertainty=default`` group (the registry's ranges) is used. Errors are one line,
exit status 2, nothing written.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .config import ConfigError

PROG = "replisim explore"


class _ArgError(Exception):
    pass


def _raise(message: str):
    raise _ArgError(message)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    p.add_argument("overrides", nargs="*", help="configuration overrides, e.g. governance=if_then runs=...")
    p.add_argument("--mode", choices=("sensitivity", "threshold"), default="sensitivity",
                   help="sensitivity: Sobol indices and PRIM boxes; threshold: the value of one key at which "
                        "P(outcome) reaches the target")
    p.add_argument("--samples", type=int, default=256, help="Saltelli base samples (a power of 2; runs = "
                                                           "samples x (keys + 2))")
    p.add_argument("--seed", type=int, default=None, help="seed (default: the configuration's)")
    p.add_argument("--regimes", default=None, help="comma-separated governance presets, or 'all' (default: the "
                                                   "configured regime)")
    p.add_argument("--out", default=None, help="output directory (default: outputs/explore/DATE/TIME)")
    p.add_argument("--launcher", default=None,
                   help="run the design's chunks as the jobs of a Hydra multirun with this launcher (basic, joblib, "
                        "ray, submitit_local, submitit_slurm; docs/sweeps.md); default: in this process")
    p.add_argument("--launcher-arg", action="append", default=[], metavar="OVERRIDE",
                   help="a Hydra override for the launcher, e.g. hydra.launcher.n_jobs=2 (repeatable)")
    p.add_argument("--key", default=None, help="threshold: the key to search")
    p.add_argument("--low", type=float, default=None, help="threshold: lower end of the search")
    p.add_argument("--high", type=float, default=None, help="threshold: upper end of the search")
    p.add_argument("--target", type=float, default=0.95, help="threshold: the probability to reach")
    p.add_argument("--outcome", default="contained", help="threshold: contained (extinct by the horizon) or "
                                                          "controlled (no loss of control)")
    p.error = _raise
    return p


def _regime_list(value: str | None, overrides: list[str]) -> list[str | None]:
    from .cli import regimes

    if value is None:
        return [None]
    names = regimes() if value == "all" else [v.strip() for v in value.split(",") if v.strip()]
    allowed = regimes()
    for name in names:
        if name not in allowed:
            raise ConfigError(f"--regimes={name}: no such governance preset; allowed: {', '.join(allowed)} or all")
    if any(o.startswith("governance=") for o in overrides):
        raise ConfigError("--regimes with a governance= override: give the regimes in one place")
    return names


def _overrides(overrides: list[str], regime: str | None, seed: int | None) -> list[str]:
    """The overrides of one regime's exploration: uncertainty=default unless the user chose, the regime, the seed."""
    extra = [] if any(o.startswith("uncertainty=") for o in overrides) else ["uncertainty=default"]
    return [*extra, *overrides, *([f"governance={regime}"] if regime else []),
            *([f"seed={seed}"] if seed is not None else [])]


def _compose(overrides: list[str], regime: str | None, seed: int | None = None):
    from .config import compose

    return compose(_overrides(overrides, regime, seed))


def main(argv: list[str]) -> int:
    from .cli import _fail

    try:
        args = _parser().parse_args(argv)
        out = Path(args.out) if args.out else Path("outputs") / "explore" / time.strftime("%Y-%m-%d/%H-%M-%S")
        if args.mode == "threshold":
            return _threshold(args)
        names = _regime_list(args.regimes, args.overrides)
        # every config checked before any run
        cfgs = [(name, _compose(args.overrides, name, args.seed)) for name in names]
        if args.launcher is not None and args.launcher not in LAUNCHERS:
            raise ConfigError(f"--launcher={args.launcher}: no such launcher; allowed: {', '.join(LAUNCHERS)}")
        from .exploration import _check_samples

        _check_samples(args.samples)
    except (ConfigError, _ArgError) as exc:
        return _fail(str(exc))
    return _sensitivity(args, cfgs, out)


def _sensitivity(args, cfgs, out: Path) -> int:
    import pandas as pd

    from .cli import _fail
    from .exploration import explore

    tables, scenarios = [], []
    for name, cfg in cfgs:
        where = out / name if name else out
        keys = len(cfg.uncertain)
        print(f"{PROG}: regime '{cfg.governance.name}', {keys} uncertain keys, {args.samples} x {keys + 2} = "
              f"{args.samples * (keys + 2):,} runs -> {where}", file=sys.stderr)
        try:
            if args.launcher is not None:
                code = _launch(args, name, cfg, where)
                if code:
                    return code
            table = explore(cfg, samples=args.samples, outdir=where, progress=True)
        except ConfigError as exc:
            return _fail(str(exc))
        tables.append(table.assign(regime=cfg.governance.name))
        scenarios.append(pd.read_csv(where / "scenarios.csv"))
        _print_summary(table, scenarios[-1])
    if len(cfgs) > 1:
        from .files import write_csv

        write_csv(out / "sensitivity.csv", pd.concat(tables, ignore_index=True))
        write_csv(out / "scenarios.csv", pd.concat(scenarios, ignore_index=True))
    print(f"{PROG}: wrote sensitivity.csv, scenarios.csv, runs.parquet and figures/ under {out}", file=sys.stderr)
    return 0


LAUNCHERS = ("basic", "joblib", "ray", "submitit_local", "submitit_slurm")


def _launch(args, regime: str | None, cfg, where: Path) -> int:
    """The design's chunks as the jobs of a Hydra multirun (``hydra/launcher=...``): each job runs one chunk
    into ``where/runs`` (``exploration.chunk_job``); explore then finds every chunk verified and analyses."""
    from . import cli
    from .exploration import DIR_ENV, chunks, prepare

    frame = prepare(cfg, args.samples, cfg.seed, where)
    n = len(chunks(frame))
    where = where.resolve()
    argv = ["-m", *_overrides(args.overrides, regime, args.seed), f"+hydra.job.env_set.{DIR_ENV}={where}",
            f"sim.chunk={','.join(map(str, range(n)))}", f"hydra/launcher={args.launcher}",
            f"hydra.sweep.dir={where / 'jobs'}", *args.launcher_arg]
    print(f"{PROG}: {n} chunks as the jobs of a multirun with hydra/launcher={args.launcher}", file=sys.stderr)
    return cli.main(argv)


def _print_summary(table, scenarios) -> None:
    """The three strongest drivers of loss of control, and PRIM's box of it, on the terminal."""
    part = table[(table["outcome"] == "loss_of_control")]
    if part["ST"].notna().any():
        top = part.sort_values("ST", ascending=False).head(3)
        drivers = ", ".join(f"{r.parameter} (ST {r.ST:.2f} +- {r.ST_conf:.2f})" for r in top.itertuples())
        print(f"  loss of control is driven by: {drivers}")
    else:
        print(f"  loss of control: {part['note'].iloc[0] if len(part) else 'not analysed'}")
    for case, rows in scenarios.groupby("case", sort=False):
        first = rows.iloc[0]
        if isinstance(first["note"], str) and first["note"]:
            print(f"  {case}: {first['note']} of {first['runs']} runs; no box to find")
            continue
        limits = "; ".join(f"{r.parameter} in [{r.low:.3g}, {r.high:.3g}]" for r in rows.itertuples() if r.parameter
                           == r.parameter and r.parameter)
        print(f"  {case} ({first['cases']} of {first['runs']} runs): {limits or 'no restriction'} "
              f"(coverage {first['coverage']:.2f}, density {first['density']:.2f})")


def _threshold(args) -> int:
    from .cli import _fail

    raise_missing = [n for n in ("key", "low", "high") if getattr(args, n) is None]
    if raise_missing:
        return _fail(f"--mode threshold needs --{' and --'.join(raise_missing)}")
    from .config import compose
    from .thresholds import what_it_takes

    try:
        cfg = compose(args.overrides)
        res = what_it_takes(cfg, args.key, args.low, args.high, target=args.target, outcome=args.outcome,
                            progress=True)
    except ConfigError as exc:
        return _fail(str(exc))
    lo, hi = res["low"], res["high"]
    print(f"{args.key}: P({args.outcome}) reaches {args.target} at {res['value']:.4g} (95% interval "
          f"[{lo:.4g}, {hi:.4g}]; {res['runs']:,} runs; {res['note']})")
    return 0


def optimize_main(argv: list[str]) -> int:
    """``replisim optimize [overrides] [--worlds N] [--nfe N] [--population N] [--seed S] [--out DIR]``."""
    from .cli import _fail

    p = argparse.ArgumentParser(prog="replisim optimize",
                                description="The best policies at each cost (NSGA-II over the levers of "
                                            "replisim.optimization.DEFAULT_LEVERS), robust over sampled worlds.")
    p.add_argument("overrides", nargs="*", help="configuration overrides (uncertainty=default unless given)")
    p.add_argument("--worlds", type=int, default=64, help="sampled worlds every policy is judged on")
    p.add_argument("--nfe", type=int, default=400, help="policy evaluations")
    p.add_argument("--population", type=int, default=40, help="NSGA-II population")
    p.add_argument("--seed", type=int, default=None, help="seed (default: the configuration's)")
    p.add_argument("--out", default=None, help="output directory (default: outputs/optimize/DATE/TIME)")
    p.error = _raise
    try:
        args = p.parse_args(argv)
        cfg = _compose(args.overrides, None)
        out = Path(args.out) if args.out else Path("outputs") / "optimize" / time.strftime("%Y-%m-%d/%H-%M-%S")
        from .optimization import check_counts, optimize

        check_counts(args.worlds, args.nfe, args.population)
        print(f"replisim optimize: {args.nfe} policies x {args.worlds} worlds of scenario '{cfg.scenario}' -> {out}",
              file=sys.stderr)
        pareto = optimize(cfg, worlds=args.worlds, nfe=args.nfe, population=args.population, seed=args.seed,
                          outdir=out, progress=True)
    except (ConfigError, _ArgError) as exc:
        return _fail(str(exc))
    import pandas as pd

    presets = pd.read_csv(out / "presets.csv")
    print(f"  {len(pareto)} non-dominated policies; P(loss) {pareto['p_loss'].min():.2f} - "
          f"{pareto['p_loss'].max():.2f}, collateral p90 {pareto['collateral_p90'].min():,.0f} - "
          f"{pareto['collateral_p90'].max():,.0f} node-hours")
    for row in presets.itertuples():
        beaten = str(row.dominated_by) if isinstance(row.dominated_by, str) and row.dominated_by.strip() else ""
        print(f"  preset {row.preset}: P(loss) {row.p_loss:.2f}, collateral p90 {row.collateral_p90:,.0f}"
              + (f"; dominated by front policies {beaten}" if beaten else "; not dominated"))
    print(f"replisim optimize: wrote pareto.csv, evaluated.csv, presets.csv and figures/pareto.png under {out}",
          file=sys.stderr)
    return 0
