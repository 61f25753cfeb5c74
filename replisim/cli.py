"""The ``replisim`` command: a Hydra app over the packaged ``conf/`` tree, plus the subcommands ``demo``, ``aggregate``
``explore`` and ``optimize`` (replisim.analysis_cli).

::

    replisim                                   # main job: every governance regime on the default scenario
    replisim scenario=pan2024_qwen25_72b runs=500
    replisim governance=if_then                # that regime against the baseline 'none'
    replisim -m governance=glob(*) scenario=pan2024_llama31_70b,pan2024_qwen25_72b   # a sweep
    replisim aggregate multirun/2026-01-01/12-00-00                                # (re)aggregate a sweep
    replisim demo ...                          # the classroom demo
    replisim explore [--samples N] [overrides] # which assumptions drive the answer (replisim.analysis_cli)
    replisim optimize [--nfe N] [overrides]    # the best policies at each cost

Every override is composed and validated before Hydra starts (for a sweep: every combination of swept
values), so a bad override prints one line ``replisim: error: ...``, exits with status 2, shows no traceback
and writes nothing: Hydra would otherwise create its output directory before the task sees the config.
"""

from __future__ import annotations

import itertools
import os
import sys
from importlib.util import find_spec
from pathlib import Path

from .config import ConfigError, register_schema, to_config
from .config.compose import CONFIG_MODULE, _check_no_extra_keys, _group_options, compose_many, explain_hydra_error

PROG = "replisim"
BASELINE = "none"
# Beyond this many combinations a sweep is validated value by value (each swept value with the first value
# of every other key) instead of combination by combination: composing takes about 0.1 s.
MAX_CHECKED_COMBINATIONS = 64
# Hydra flags after which nothing is run, so nothing needs validating.
_INFO_FLAGS = ("help", "hydra_help", "info", "shell_completion", "version")


def _fail(message: str) -> int:
    """Print the first line of ``message`` as the one error line; the exit status of a user mistake is 2."""
    first = (str(message).strip().splitlines() or ["unknown error"])[0]
    print(f"{PROG}: error: {first}", file=sys.stderr)
    return 2


def regimes() -> list[str]:
    """The governance presets in conf/governance/, the baseline first."""
    names = _group_options("governance")
    return [BASELINE] + [n for n in names if n != BASELINE]


# --- validation before Hydra starts --------------------------------------------------------------------------


def _raise(message: str):
    """argparse's ``error`` prints usage and the message on two lines and exits; raise a one-line error instead."""
    raise ConfigError(message)


def _hydra_args(argv: list[str]):
    from hydra._internal.utils import get_args_parser

    parser = get_args_parser()
    parser.error = _raise
    return parser.parse_args(argv)


def _expand(override) -> list[str]:
    """The values of one (possibly swept) override, as override strings ``key=value``."""
    from hydra.core.override_parser.types import Glob

    prefix = override.get_key_element()
    if not override.is_sweep_override():
        return [override.input_line]
    value = override.value()
    if isinstance(value, Glob):
        group = override.key_or_group
        names = value.filter(_group_options(group)) if not group.startswith("hydra") else []
        if not names:
            raise ConfigError(f"{override.input_line}: matches no option of '{group}'")
        return [f"{prefix}={n}" for n in names]
    if override.is_interval_sweep():
        raise ConfigError(f"{override.input_line}: interval sweeps need an optimizing sweeper; use a list or range()")
    return [f"{prefix}={v}" for v in override.sweep_string_iterator()]


def _parse_overrides(overrides: list[str]):
    """Hydra's parse of the overrides; a syntax error becomes a one-line ConfigError."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    try:
        return OverridesParser.create().parse_overrides(list(overrides))
    except HydraException as exc:
        raise explain_hydra_error(exc) from None


def job_override_sets(overrides: list[str], multirun: bool) -> list[list[str]]:
    """Override lists to validate: one for a single run, every combination (or every value) for a sweep."""
    parsed = _parse_overrides(overrides)
    if not multirun:
        swept = [o.input_line for o in parsed if o.is_sweep_override()]
        if swept:
            raise ConfigError(f"{swept[0]}: a sweep needs -m (--multirun)")
        return [overrides]
    values = [_expand(o) for o in parsed]
    total = 1
    for v in values:
        total *= len(v)
    if total <= MAX_CHECKED_COMBINATIONS:
        return [list(c) for c in itertools.product(*values)]
    sets = []
    for k, options in enumerate(values):
        for option in options[1:] if k else options:
            sets.append([option if j == k else v[0] for j, v in enumerate(values)])
    return sets


def _is_governance_choice(override: str) -> bool:
    return override.split("=", 1)[0].lstrip("+~") == "governance"


def regime_overrides(overrides: list[str], regime: str) -> list[str]:
    """The user's overrides with the governance choice replaced by ``regime``."""
    return [o for o in overrides if not _is_governance_choice(o)] + [f"governance={regime}"]


def _run_mode_sets(overrides: list[str]) -> list[list[str]]:
    """The user's overrides as typed (so their own mistakes are named first), then each regime the main job runs."""
    return [overrides] + [regime_overrides(overrides, g) for g in main_job_regimes(overrides)]


def main_job_regimes(overrides: list[str]) -> list[str]:
    """All presets, or the baseline and the regime(s) named by a ``governance=`` override."""
    chosen = [o.split("=", 1)[1] for o in overrides if _is_governance_choice(o)]
    if not chosen:
        return regimes()
    return list(dict.fromkeys([BASELINE] + chosen))


def _hydra_group_options(group: str) -> list[str]:
    """Options of a Hydra group such as hydra/launcher: Hydra's packaged ones and those plugins register."""
    from importlib.resources import files

    from hydra.core.config_store import ConfigStore
    from hydra.core.plugins import Plugins

    Plugins.instance()  # imports every hydra_plugins module, which registers the plugins' configs
    names = set()
    try:
        names |= {n[:-5] for n in ConfigStore.instance().list(group) if n.endswith(".yaml")}
    except OSError:
        pass
    root = files("hydra.conf").joinpath(group)
    if root.is_dir():
        names |= {p.name[:-5] for p in root.iterdir() if p.name.endswith(".yaml")}
    return sorted(names)


def _check_hydra_groups(overrides: list[str]) -> None:
    for o in overrides:
        key, _, value = o.partition("=")
        key = key.lstrip("+~")
        if key.startswith("hydra/") and value:
            options = _hydra_group_options(key)
            if value not in options:
                from .config.validate import did_you_mean

                raise ConfigError(f"{key}={value}: no such option; allowed: {', '.join(options)}{did_you_mean(value, options)}")


def _check_no_objects(overrides: list[str]) -> None:
    """Safe by default: nothing on the command line may name a Python object for Hydra to build.

    replisim's own schema has no such field, but Hydra instantiates ``_target_`` entries of its callbacks and
    plugins; an override like ``+hydra.callbacks.x._target_=os.system`` would import and call anything."""
    for o in overrides:
        key, _, value = o.partition("=")
        key = key.lstrip("+~").replace("/", ".")  # hydra/callbacks=x selects a group option of callbacks
        if "_target_" in key or "_target_" in value or key == "hydra.callbacks" or key.startswith("hydra.callbacks."):
            raise ConfigError(f"{o}: the command line may not name Python objects for Hydra to build "
                              "(_target_, hydra.callbacks); allowed: config group options and schema keys")


# Where the Python objects Hydra builds for a run (its launcher and sweeper) may come from.
TRUSTED_TARGETS = ("hydra._internal.", "hydra_plugins.")
TRUSTED_CALLBACKS = ("replisim.sweep.AggregateCallback",)  # conf/config.yaml: the end-of-sweep aggregation

# What a configuration may ask of Python's logging (hydra.job_logging, hydra.hydra_logging: dictConfig schemas).
# logging.config builds any class a handler, formatter or filter names, calls any "()" factory and resolves
# any "ext://" object, and a FileHandler writes wherever its filename points: so only console handlers and
# Hydra's own log file in the run directory are allowed, and formatters that only format.
HYDRA_LOG_FILE = "${hydra.runtime.output_dir}/${hydra.job.name}.log"
LOG_STREAMS = ("ext://sys.stdout", "ext://sys.stderr")
LOG_HANDLERS = {
    "logging.StreamHandler": {"class", "formatter", "level", "stream"},
    "logging.FileHandler": {"class", "formatter", "level", "filename", "mode", "encoding", "delay"},
}
LOG_KEYS = {
    "": {"version", "formatters", "handlers", "loggers", "root", "disable_existing_loggers", "incremental"},
    "formatter": {"format", "datefmt", "style", "validate"},
    "logger": {"level", "handlers", "propagate"},
}
LOGGING_ALLOWED = ("allowed: console handlers (logging.StreamHandler to ext://sys.stdout or ext://sys.stderr), "
                   f"Hydra's log file {HYDRA_LOG_FILE} and formatters with format, datefmt, style")


def _refuse_log(key: str, value) -> None:
    raise ConfigError(f"{key}={value}: the configuration may not set this up in Python's logging; {LOGGING_ALLOWED}")


def _check_logging(prefix: str, node) -> None:
    """Refuse a logging configuration (a dictConfig mapping) that could build objects or write files."""
    if not isinstance(node, dict):
        return
    for key in node:
        if key not in LOG_KEYS[""]:
            _refuse_log(f"{prefix}.{key}", "...")
    for name, fmt in (node.get("formatters") or {}).items():
        for key in fmt or {}:
            if key not in LOG_KEYS["formatter"]:
                _refuse_log(f"{prefix}.formatters.{name}.{key}", (fmt or {})[key])
    for name, handler in (node.get("handlers") or {}).items():
        handler = handler or {}
        cls = handler.get("class")
        if cls not in LOG_HANDLERS:
            _refuse_log(f"{prefix}.handlers.{name}.class", cls)
        for key in handler:
            if key not in LOG_HANDLERS[cls]:
                _refuse_log(f"{prefix}.handlers.{name}.{key}", handler[key])
        if "stream" in handler and handler["stream"] not in LOG_STREAMS:
            _refuse_log(f"{prefix}.handlers.{name}.stream", handler["stream"])
        if cls == "logging.FileHandler" and handler.get("filename") != HYDRA_LOG_FILE:
            _refuse_log(f"{prefix}.handlers.{name}.filename", handler.get("filename"))
    loggers = dict(node.get("loggers") or {})
    if node.get("root") is not None:
        loggers["(root)"] = node["root"]
    for name, logger in loggers.items():
        for key in logger or {}:
            if key not in LOG_KEYS["logger"]:
                where = f"{prefix}.root" if name == "(root)" else f"{prefix}.loggers.{name}"
                _refuse_log(f"{where}.{key}", (logger or {})[key])


def _check_objects(node, path: str) -> None:
    """Refuse "()" factories anywhere, and ``_target_`` anywhere but the launcher, the sweeper and the callbacks
    (``_check_config_files`` checks those three against their allow-lists)."""
    if isinstance(node, dict):
        for key, value in node.items():
            where = f"{path}.{key}" if path else str(key)
            if key == "()":
                raise ConfigError(f"{where}={value}: the configuration may not name Python objects to build; "
                                  "allowed: config values")
            if key == "_target_" and not (path in ("hydra.launcher", "hydra.sweeper")
                                          or path.startswith("hydra.callbacks.")):
                raise ConfigError(f"{where}={value}: the configuration may not name Python objects for Hydra to "
                                  "build; allowed: a launcher or sweeper from Hydra and its plugins")
            _check_objects(value, where)
    elif isinstance(node, list):
        for k, value in enumerate(node):
            _check_objects(value, f"{path}[{k}]")


def _check_no_deletions(overrides: list[str]) -> None:
    """``~key`` deletes a key from the composition; for a schema key Hydra then falls back to the schema's default
    without a word, so the run is not what the user typed. Refused, with what to do instead."""
    for o in overrides:
        if o.startswith("~"):
            key = o[1:].partition("=")[0]
            raise ConfigError(f"{o}: deleting a key is not allowed (the schema would put back its default "
                              f"unannounced); allowed: set a value, e.g. {key}=<value>")


def _check_output_dir(key: str, value: str) -> None:
    """The run's or sweep's directory can be created: its nearest existing ancestor is a writable directory."""
    path = Path(os.path.expanduser(str(value)))
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    ok = probe.is_dir() and os.access(probe, os.W_OK | os.X_OK)
    if ok and str(probe.resolve()).startswith(("/proc", "/sys")):
        ok = False  # kernel file systems refuse new directories whatever their permissions say
    if not ok:
        raise ConfigError(f"{key}={value}: cannot create a directory there ({probe} is not a writable directory); "
                          "allowed: a path under a writable directory")


def _check_output_subdir(value) -> None:
    """``hydra.output_subdir`` is where Hydra writes ``.hydra/``: a relative path inside the run directory."""
    if value is None or str(value) in ("null", "None", ""):
        return
    parts = Path(str(value)).parts
    if Path(str(value)).is_absolute() or ".." in parts:
        raise ConfigError(f"hydra.output_subdir={value}: outside the run directory; allowed: a relative path "
                          "without '..' (default .hydra), or null")


def _check_config_files(args) -> None:
    """With ``--config-path``, ``--config-name`` or ``--config-dir`` the run composes the user's own files, which
    could name Python objects for Hydra to build. Compose them once as Hydra will (a sweep: each swept value
    in turn) and refuse callbacks, and a launcher or sweeper from outside Hydra and its plugins."""
    from hydra._internal.hydra import Hydra
    from hydra._internal.utils import create_automatic_config_search_path
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException
    from hydra.types import RunMode
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    if args.config_dir and not Path(args.config_dir).is_dir():
        raise ConfigError(f"--config-dir={args.config_dir}: no such directory; allowed: a directory of YAML configs")
    parsed = _parse_overrides(args.overrides)
    fixed = [o.input_line for o in parsed if not o.is_sweep_override()]
    sets = [fixed] + [fixed + [f"{o.get_key_element()}={v}"] for o in parsed
                      if o.is_discrete_sweep()
                      for v in o.sweep_string_iterator()]
    register_schema()
    GlobalHydra.instance().clear()
    try:
        # the search path Hydra builds for this command line (hydra/_internal/utils.py, _run_hydra)
        search_path = create_automatic_config_search_path(None, None, args.config_path or f"pkg://{CONFIG_MODULE}")
        if args.config_dir:
            search_path.prepend(provider="command-line", path=f"file://{Path(args.config_dir).resolve()}")
        hydra = Hydra.create_main_hydra2(task_name=PROG, config_search_path=search_path)
        mode = RunMode.MULTIRUN if args.multirun else RunMode.RUN
        if not args.multirun and not args.cfg:  # the main job composes each regime it runs
            sets = [fixed] + [regime_overrides(fixed, g) for g in main_job_regimes(fixed)]
        for job in sets:
            cfg = hydra.compose_config(args.config_name or "config", job, run_mode=mode,
                                       with_log_configuration=False)
            hydra_node = OmegaConf.to_container(cfg.hydra, resolve=False)
            _check_objects(OmegaConf.to_container(cfg, resolve=False), "")
            for part in ("job_logging", "hydra_logging"):
                _check_logging(f"hydra.{part}", hydra_node.get(part))
            _check_output_subdir(hydra_node.get("output_subdir"))
            for name, callback in (hydra_node.get("callbacks") or {}).items():
                target = str((callback or {}).get("_target_", ""))
                if target not in TRUSTED_CALLBACKS:
                    raise ConfigError(f"hydra.callbacks.{name}._target_={target}: the configuration may not name "
                                      f"Python objects for Hydra to build; allowed: {', '.join(TRUSTED_CALLBACKS)}")
            for part in ("launcher", "sweeper"):
                target = str((hydra_node.get(part) or {}).get("_target_", ""))
                if target and not target.startswith(TRUSTED_TARGETS):
                    raise ConfigError(f"hydra.{part}._target_={target}: not a Hydra launcher or sweeper; allowed: "
                                      f"objects from {', '.join(m.rstrip('.') for m in TRUSTED_TARGETS)}")
            # the values of the user's files get the same checks as overrides: keys, types, ranges
            _check_no_extra_keys(cfg)
            to_config(cfg)
    except (HydraException, OmegaConfBaseException) as exc:
        raise explain_hydra_error(exc) from None
    finally:
        GlobalHydra.instance().clear()


def prevalidate(argv: list[str]) -> None:
    """Raise ConfigError if Hydra would reject ``argv`` or a job would get an invalid configuration."""
    args = _hydra_args(argv)
    commands = [flag for flag, on in (("--run", args.run), ("--multirun", args.multirun), ("--cfg", args.cfg),
                                      ("--info", args.info), ("--shell-completion", args.shell_completion)) if on]
    if len(commands) > 1:
        raise ConfigError(f"{' and '.join(commands)}: only one of --run, --multirun, --cfg, --info and "
                          "--shell-completion at a time")
    if any(getattr(args, f, None) for f in _INFO_FLAGS):
        return  # Hydra prints help and exits
    _check_no_objects(list(args.overrides))
    _check_no_deletions(list(args.overrides))
    for key, value in _pairs(list(args.overrides)).items():
        if key == "hydra.output_subdir":
            _check_output_subdir(value)
        if key == "hydra.launcher.ray.init.address" and args.multirun and value not in ("", "null", "None"):
            # a head that does not answer: one line within seconds, before any job is launched
            from hydra_plugins.replisim_ray_launcher.ray_launcher import _check_reachable

            try:
                _check_reachable(value)
            except RuntimeError as exc:
                raise ConfigError(str(exc)) from None
        if key in ("hydra.run.dir", "hydra.sweep.dir") and not args.cfg:
            _check_output_dir(key, value)
            if (key == "hydra.sweep.dir") == bool(args.multirun):  # the directory this command will write
                from .files import holder_message

                busy = holder_message(value)
                if busy:
                    raise ConfigError(busy)
    if args.experimental_rerun:  # Hydra reruns a job from its config.pickle: a pickle can build any object
        raise ConfigError(f"--experimental-rerun={args.experimental_rerun}: not supported (it loads a pickle); "
                          "allowed: rerun a job with its overrides from .hydra/overrides.yaml")
    if args.config_path or args.config_name or args.config_dir:
        _check_config_files(args)
        return  # composition differs from the packaged tree: Hydra validates it (the schema still applies)
    overrides = list(args.overrides)
    _check_hydra_groups(overrides)
    if args.multirun:
        sets = job_override_sets(overrides, multirun=True)
    else:
        job_override_sets(overrides, multirun=False)
        # --cfg only prints the composition of the overrides as typed
        sets = [overrides] if args.cfg else _run_mode_sets(overrides)
    compose_many(sets)


# --- the Hydra app -------------------------------------------------------------------------------------------


def _pairs(overrides: list[str]) -> dict[str, str]:
    pairs = (o.partition("=") for o in overrides)  # '~key' deletes: no value
    return {k.lstrip("+~"): v for k, _, v in pairs}


def _task_overrides() -> dict[str, str]:
    from hydra.core.hydra_config import HydraConfig

    return _pairs(list(HydraConfig.get().overrides.task))


def _sweep_job(dcfg) -> None:
    from hydra.core.hydra_config import HydraConfig

    from .sweep import run_job

    cfg = to_config(dcfg)
    out = Path(HydraConfig.get().runtime.output_dir)
    if not run_job(cfg, out, _task_overrides()):
        print(f"{PROG}: job {out.name} already done (done.json matches its config): skipped", file=sys.stderr)


def _main_job(dcfg) -> None:
    """Every regime (or the chosen ones) on the composed scenario: table, figures and report in the run dir."""
    from hydra import compose as hydra_compose
    from hydra.core.hydra_config import HydraConfig
    from tqdm.auto import tqdm

    from .files import lock, stray_temporaries
    from .sweep import aggregate, run_job

    hc = HydraConfig.get()
    out = Path(hc.runtime.output_dir)
    lock(out)  # a second main job into this directory stops at once (files.Locked: one line, exit 2)
    for stray in stray_temporaries(out):  # left by a killed writer; no writer of ours runs here now
        stray.unlink(missing_ok=True)
    user = list(hc.overrides.task)
    config_name = hc.job.config_name or "config"  # --config-name: the user's own primary config
    names = main_job_regimes(user)
    base = to_config(dcfg)
    print(f"{PROG}: {len(names)} regimes x {base.runs} runs of scenario '{base.scenario}' "
          f"({base.network.nodes} nodes, {base.sim.steps} steps) -> {out}", file=sys.stderr)
    bar = tqdm(names, desc="regimes", unit="regime")
    for k, name in enumerate(bar):
        bar.set_postfix_str(name)
        # the app's Hydra is initialised here, so compose reuses its search path and the user's overrides
        cfg = to_config(hydra_compose(config_name=config_name, overrides=regime_overrides(user, name)))
        # the user's overrides travel in each job's marker, so the report can say what was fixed
        run_job(cfg, out / name, {**_pairs(user), "governance": name}, progress=True, order=k)
        if cfg.outcome.drivers:  # what drives this regime's outcome: a small Sobol analysis (resumed if there)
            from .exploration import drivers

            drivers(cfg, cfg.outcome.drivers, out / name / "drivers", progress=True)
    bar.close()
    aggregate(out)  # titled by sweep.default_title, as ``replisim aggregate`` of this folder titles it again


def _app(dcfg) -> None:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from .exploration import DIR_ENV, chunk_job

    if os.environ.get(DIR_ENV):  # a job of ``replisim explore --launcher``: chunk sim.chunk of the design
        cfg = to_config(dcfg)
        chunk_job(cfg, os.environ[DIR_ENV], cfg.sim.chunk)
    elif HydraConfig.get().mode == RunMode.MULTIRUN:
        _sweep_job(dcfg)
    else:
        _main_job(dcfg)


def _run_hydra(argv: list[str]) -> int:
    import hydra

    register_schema()
    entry = hydra.main(config_path=f"pkg://{CONFIG_MODULE}", config_name="config", version_base="1.3")(_app)
    saved = sys.argv
    sys.argv = [PROG, *argv]  # hydra.main reads its arguments from sys.argv
    try:
        entry()
    finally:
        sys.argv = saved
    return 0


# --- subcommands ---------------------------------------------------------------------------------------------


def _demo(argv: list[str]) -> int:
    try:
        found = find_spec("replisim.demo.cli") is not None
    except ModuleNotFoundError:
        found = False
    if not found:
        return _fail("the classroom demo (replisim.demo) is not part of this installation")
    from .demo.cli import main as demo_main

    return demo_main(argv) or 0


def _aggregate(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog=f"{PROG} aggregate",
                                     description="(Re)aggregate a sweep directory: table, figures and report.")
    parser.add_argument("sweep_dir", help="a multirun directory (hydra.sweep.dir) or a main job's output directory")
    parser.add_argument("--title", default=None, help="title of the report")
    parser.error = _raise
    try:
        args = parser.parse_args(argv)
        from .sweep import aggregate

        aggregate(Path(args.sweep_dir), title=args.title)
    except (ConfigError, FileNotFoundError) as exc:
        return _fail(str(exc))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] in (["--version"], ["-V"]):  # replisim's own version (Hydra's --version prints Hydra's)
        from . import __version__

        print(f"{PROG} {__version__}")
        return 0
    if argv[:1] == ["demo"]:
        return _demo(argv[1:])
    if argv[:1] == ["aggregate"]:
        return _aggregate(argv[1:])
    if argv[:1] == ["explore"]:
        from .analysis_cli import main as explore_main

        return explore_main(argv[1:])
    if argv[:1] == ["optimize"]:
        from .analysis_cli import optimize_main

        return optimize_main(argv[1:])
    try:
        prevalidate(argv)
    except ConfigError as exc:
        return _fail(str(exc))
    try:
        code = _run_hydra(argv)
        from .sweep import AGGREGATION_FAILURES

        return 1 if AGGREGATION_FAILURES else code  # already said on stderr, one line each
    except KeyboardInterrupt:
        print(f"\n{PROG}: interrupted: every finished job keeps its results (done.json); run the same command "
              "with the same output directory to resume", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like: stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
