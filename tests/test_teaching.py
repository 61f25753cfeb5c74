"""The teacher's guide (docs/teaching.md) says what the runs give: its numbers are experiments/teaching.py's.

The guide's generated blocks (``<!-- teaching: NAME -->``) must equal what the script computes now, so a change
of the model that moves a number fails here until ``python -m experiments.teaching --write`` is run; and the
page's default seed must show, at every exercise's settings, what most runs do (a teacher's first try).
"""

from __future__ import annotations

import pytest

from experiments import teaching
from replisim.demo.model import DEFAULTS


@pytest.fixture(scope="module")
def stats():
    return teaching.statistics()


@pytest.fixture(scope="module")
def guide():
    return teaching.guide_blocks(teaching.GUIDE.read_text())


def test_the_guide_has_every_block_the_script_writes(guide):
    names = {"theory", "kinds", "seed", *teaching.EXERCISES, *(f"{name}-page" for name in teaching.EXERCISES)}
    assert set(guide) == names


def test_the_guides_tables_are_what_the_runs_give(stats, guide):
    for name, text in teaching.tables(stats).items():
        assert guide[name] == text, f"docs/teaching.md's {name} is stale: run python -m experiments.teaching --write"


def test_the_default_seed_shows_what_most_runs_do_at_every_exercise(stats, guide):
    seed = DEFAULTS["seed"]
    assert guide["seed"] == teaching.seed_block(seed)
    for name, table in teaching.EXERCISES.items():
        for row, s in zip(table, stats[name], strict=True):
            step, left = teaching.page_run(row.settings, seed)
            assert (left == 0) == teaching.typical(s), (
                f"{name}, {row.label}: the page's seed {seed} ends with {left} replicas at step {step}, while "
                f"{s['extinct']:.0%} of runs die out")
    # the browser test's run (replication success 0.55) takes the network
    assert teaching.page_run({"replication_success": 0.55}, seed) == (200, pytest.approx(1100, abs=100))


@pytest.mark.slow
def test_the_guides_page_runs_are_the_pages(guide):
    for name, text in teaching.page_blocks().items():
        assert guide[name] == text, f"docs/teaching.md's {name} is stale: run python -m experiments.teaching --write"
