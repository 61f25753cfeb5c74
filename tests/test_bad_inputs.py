"""A battery of bad values generated from the schema, through the command line as a user types them.

For every key the schema declares (per-node-type fields under each node type included), the battery tries a
value of the wrong type, each value just past a bound of the key's range, non-finite numbers for float keys and
an unknown option for choice keys. Each must give exit status 2, one line that names the key, no traceback, and
nothing written (``--cfg job`` composes and validates exactly as a run does before Hydra starts, and a run is
checked here too for a sample, so no output directory appears).
"""

from __future__ import annotations

import dataclasses
import typing

import pytest

from replisim import cli
from replisim.config.schema import NODE_TYPES, Config

# keys whose bad values are refused by a cross-key check before their own range is reached, or that are not
# user inputs: none today; a key added here needs its reason
SKIPPED: dict[str, str] = {}


def _leaf_fields(cls, prefix=""):
    """(dotted key, field, the field's type) of every scalar field; node types expanded by name."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        key = prefix + f.name
        kind = hints[f.name]
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        if dataclasses.is_dataclass(default):
            yield from _leaf_fields(type(default), key + ".")
        elif isinstance(default, dict):
            values = list(default.values())
            if values and dataclasses.is_dataclass(values[0]) and key == "network.types":
                for node_type in NODE_TYPES:
                    yield from _leaf_fields(type(values[0]), f"{key}.{node_type}.")
        else:
            yield key, f, kind


def _base_type(kind):
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    return args[0] if args else kind


def _cases():
    cases = []
    for key, f, kind in _leaf_fields(Config):
        if key in SKIPPED:
            continue
        base = _base_type(kind)
        rng, choices = f.metadata.get("range"), f.metadata.get("choices")
        if base is bool:
            cases.append((key, "maybe"))
            continue
        if choices:
            cases.append((key, "no_such_choice"))
            continue
        if base in (int, float):
            cases.append((key, "many"))
        if rng is not None and base in (int, float):
            lo, hi = rng
            step = 1 if base is int else max(abs(lo or 0), abs(hi or 0), 1.0) * 1e-3
            if lo is not None:
                cases.append((key, repr(lo - step)))
            if hi is not None:
                cases.append((key, repr(hi + step)))
        if base is float:
            cases += [(key, "nan"), (key, "inf"), (key, "-inf")]
    return cases


CASES = _cases()


def test_the_battery_is_large_enough():
    assert len(CASES) >= 150, len(CASES)


@pytest.mark.parametrize("key,value", CASES, ids=[f"{k}={v}" for k, v in CASES])
def test_bad_value_is_one_line_naming_the_key(key, value, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["--cfg", "job", f"{key}={value}"]) == 2
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and err.startswith("replisim: error: "), err
    assert key in err and "Traceback" not in err + out, err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("key,value", CASES[::25], ids=[f"{k}={v}" for k, v in CASES[::25]])
def test_bad_value_in_a_run_writes_nothing(key, value, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main([f"{key}={value}", "runs=1"]) == 2
    assert list(tmp_path.iterdir()) == []
