"""The house rules of docs/architecture.md, checked on the code.

* No jitted function of the engine takes more than 12 arguments: kernels take the state frame (or a part of it),
  a parameter vector and a few scalars.
* Layers without circles: what sits below both engines (configuration, world set-up, results schema, step list,
  progress, statistics) imports neither engine nor anything above it; the two engines do not import each other
  or ``simulate``; nothing in the package imports the tests' reference.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest
from numba.core.registry import CPUDispatcher

import replisim
import replisim.engine

PACKAGE = Path(replisim.__file__).parent
MAX_ARGS = 12


def _engine_modules():
    for info in pkgutil.walk_packages(replisim.engine.__path__, "replisim.engine."):
        yield importlib.import_module(info.name)


def _jitted():
    seen = {}
    for module in _engine_modules():
        for name, obj in vars(module).items():
            if isinstance(obj, CPUDispatcher) and obj.py_func.__module__ == module.__name__:
                seen[f"{module.__name__}.{name}"] = obj
    return seen


def test_jitted_functions_take_at_most_twelve_arguments():
    jitted = _jitted()
    assert len(jitted) > 40, "the scan found too few kernels: it does not see the engine"
    over = {k: len(inspect.signature(f.py_func).parameters) for k, f in jitted.items()
            if len(inspect.signature(f.py_func).parameters) > MAX_ARGS}
    assert not over, f"jitted functions with more than {MAX_ARGS} arguments: {over}"


def _imports(path: Path) -> set[str]:
    """The replisim modules a source file imports (relative imports resolved)."""
    module = "replisim." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
    if module.endswith(".__init__"):
        module = module[: -len(".__init__")]
        package = module
    else:
        package = module.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = [target] + [f"{target}.{a.name}" for a in node.names]
            out |= {n for n in names if n.startswith("replisim")}
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("replisim")}
    return out


def _importers_of(forbidden: str, below: list[str]) -> list[str]:
    bad = []
    for root in below:
        paths = [PACKAGE / f"{root}.py"] if (PACKAGE / f"{root}.py").exists() else (PACKAGE / root).rglob("*.py")
        for path in paths:
            if any(i == forbidden or i.startswith(forbidden + ".") for i in _imports(path)):
                bad.append(str(path.relative_to(PACKAGE)))
    return bad


BELOW_ENGINES = ["config", "world", "network", "governance", "groups", "results", "step", "progress", "stats"]


@pytest.mark.parametrize("above", ["replisim.engine", "replisim.mesa", "replisim.simulate", "replisim.ensemble",
                                   "replisim.sweep", "replisim.cli", "replisim.demo", "replisim.plots"])
def test_lower_layers_do_not_import_upper_ones(above):
    assert not _importers_of(above, BELOW_ENGINES)


def test_the_engines_do_not_import_each_other_or_simulate():
    assert not _importers_of("replisim.mesa", ["engine"])
    assert not _importers_of("replisim.simulate", ["engine", "mesa"])
    assert not _importers_of("replisim.engine", ["mesa"])


def test_the_import_check_can_fail():
    """The checks see real imports: relative ones resolved, and an importer found where there is one."""
    assert "replisim.world" in _imports(PACKAGE / "mesa" / "run.py")  # from ..world import ...
    assert "replisim.engine.state" in _imports(PACKAGE / "engine" / "act.py")  # from .state import ...
    assert sorted(_importers_of("replisim.world", ["mesa"])) == ["mesa/model.py", "mesa/run.py"]


def test_the_reference_is_not_shipped():
    assert not (PACKAGE / "engine" / "reference.py").exists()
    for path in PACKAGE.rglob("*.py"):
        assert "engine_reference" not in path.read_text(), path
