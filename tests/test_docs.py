"""The examples of docs/api.md run as written, in order, in one namespace (each block after the ones before it)."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib

DOC = Path(__file__).resolve().parents[1] / "docs" / "api.md"


def test_every_example_of_the_api_page_runs(tmp_path, monkeypatch):
    matplotlib.use("Agg")
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert len(blocks) >= 7
    monkeypatch.chdir(tmp_path)  # the examples write results/, outcomes.png, sweep/ here
    namespace: dict = {}
    for k, block in enumerate(blocks):
        try:
            exec(compile(block, f"docs/api.md, example {k + 1}", "exec"), namespace)  # noqa: S102 - our own docs
        except Exception as exc:  # noqa: BLE001 - say which example broke
            raise AssertionError(f"docs/api.md example {k + 1} fails: {type(exc).__name__}: {exc}") from exc
    assert (tmp_path / "results" / "minimal" / "outcomes.parquet").exists() and (tmp_path / "outcomes.png").exists()


def test_the_api_page_names_every_public_function():
    import replisim

    text = DOC.read_text()
    missing = [name for name in replisim.__all__ if f"`{name}`" not in text]
    assert not missing, missing
    assert re.search(r"\]\(docs/api\.md\)", (DOC.parents[1] / "README.md").read_text())
