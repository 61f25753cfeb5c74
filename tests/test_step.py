"""The step is written once (replisim.step.STEP): the Numba engine, the Mesa model and docs/ODD.md follow it.

* Engine: in every engine function that STEP names, the calls that do a phase come in STEP's order (read from
  the source with ``ast``; in ``run_one`` the body of the step loop after its guard for an empty table), and
  every phase is done by at least one call that is really there.
* Mesa: the methods the model's step calls, observed while a run steps, are STEP's methods in STEP's order.
* ODD: the numbered list of section 1.3 names STEP's phases, in order.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import textwrap
from pathlib import Path

import pytest

import replisim
from replisim.step import PHASES, STEP

ODD = Path(__file__).resolve().parents[1] / "docs" / "ODD.md"


def _function(qualname: str):
    module, name = qualname.split(".")
    fn = getattr(importlib.import_module(f"replisim.engine.{module}"), name)
    return ast.parse(textwrap.dedent(inspect.getsource(getattr(fn, "py_func", fn)))).body[0]


def _call_name(node: ast.Call) -> str:
    f = node.func
    if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name):
        return f"{f.value.id}.{f.attr}"
    return f.id if isinstance(f, ast.Name) else ""


def _step_body(fn: ast.FunctionDef) -> list:
    """run_one: the statements of its step loop after the guard for an empty table; others: the whole body."""
    if fn.name != "run_one":
        return fn.body
    loop = next(s for s in fn.body if isinstance(s, ast.For) and isinstance(s.target, ast.Name)
                and s.target.id == "t")
    guard = next(k for k, s in enumerate(loop.body) if isinstance(s, ast.If)
                 and any(isinstance(x, ast.Continue) for x in s.body))
    return loop.body[guard + 1:]


def _calls_in_order(fn: ast.FunctionDef) -> list[str]:
    calls = [n for stmt in _step_body(fn) for n in ast.walk(stmt) if isinstance(n, ast.Call)]
    return [_call_name(c) for c in sorted(calls, key=lambda c: (c.lineno, c.col_offset))]


def test_every_phase_is_named_once_with_an_engine_call_and_a_mesa_method():
    assert len(set(PHASES)) == len(PHASES) == len(STEP)
    for phase in STEP:
        assert phase.engine and phase.mesa, phase.name


@pytest.mark.parametrize("function", sorted({f for p in STEP for f, _ in p.engine}))
def test_engine_functions_call_the_phases_in_step_order(function):
    phase_of = {call: k for k, p in enumerate(STEP) for f, call in p.engine if f == function}
    seen = [(phase_of[c], c) for c in _calls_in_order(_function(function)) if c in phase_of]
    missing = set(phase_of) - {c for _, c in seen}
    assert not missing, f"{function} no longer calls {sorted(missing)}: update replisim.step.STEP"
    order = [k for k, _ in seen]
    assert order == sorted(order), (f"{function} calls the phases out of STEP's order: "
                                    + ", ".join(f"{c} ({STEP[k].name})" for k, c in seen))


def test_the_step_test_can_fail():
    """The order check is not vacuous: a function calling two phases the wrong way round is caught."""
    src = ast.parse("def f():\n    record()\n    update_governance()\n").body[0]
    phase_of = {"update_governance": 0, "record": len(STEP) - 1}
    order = [phase_of[c] for c in _calls_in_order(src) if c in phase_of]
    assert order != sorted(order)


def test_mesa_step_calls_the_phases_in_step_order(monkeypatch):
    from replisim.mesa import Replica, ReplicationModel

    calls = []
    for phase in STEP:
        owner, name = (Replica, "step") if phase.mesa == "Replica.step" else (ReplicationModel, phase.mesa)
        original = getattr(owner, name)

        def traced(self, *a, _original=original, _name=phase.mesa, **k):
            if not calls or calls[-1] != _name:  # the agents' step: once per replica, counted once
                calls.append(_name)
            return _original(self, *a, **k)

        monkeypatch.setattr(owner, name, traced)
    cfg = replisim.compose(["scenario=minimal", "network.nodes=30", "replica.initial=5", "sim.steps=2"])
    model = ReplicationModel(cfg, seed=0)
    calls.clear()  # set-up tallies coalitions too
    model.step()
    expected = [p.mesa for k, p in enumerate(STEP) if k == 0 or p.mesa != STEP[k - 1].mesa]
    assert calls == expected


def test_odd_lists_the_phases_in_step_order():
    text = ODD.read_text()
    section = text[text.index("### 1.3 Process overview"):text.index("## 2. Design concepts")]
    titles = re.findall(r"^\d+\. \*\*(.+?)\.\*\*", section, re.M)
    assert titles == [p.title for p in STEP], "docs/ODD.md section 1.3 and replisim.step.STEP disagree"
