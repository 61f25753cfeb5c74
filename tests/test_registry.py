"""The parameter registry covers the schema, and docs/parameters.md is generated from both."""

from __future__ import annotations

import re
from pathlib import Path

import replisim
from replisim.config import registry

DOC = Path(__file__).resolve().parents[1] / "docs" / "parameters.md"


def test_every_key_has_an_entry_and_no_entry_is_stale():
    keys = [k for k, _ in registry._leaves(replisim.compose([]))]
    missing = [k for k in keys if not k.startswith("network.types.") and k not in registry.REGISTRY]
    assert not missing, f"keys without a registry entry: {missing}"
    stale = sorted(set(registry.REGISTRY) - set(keys))
    assert not stale, f"registry entries for keys the schema does not have: {stale}"
    assert len(keys) > 90  # the walk expands node types and shares: it sees the whole schema


def test_entries_say_what_they_rest_on():
    for key, _, e in registry.table(replisim.compose([])):
        assert e.basis in registry.BASES, key
        assert e.unit and e.plausible and len(e.why) > 10, key
        if e.basis == "source":
            assert re.search(r"(19|20)\d\d", e.why), f"{key}: a source names its year"


def test_docs_parameters_is_generated_from_the_schema_and_the_registry():
    expected = registry.markdown(replisim.compose([]))
    assert DOC.exists() and DOC.read_text() == expected, (
        "docs/parameters.md is out of date: run `python -m replisim.config.registry`")
    assert "| `replica.attempt_rate` |" in expected
