"""The numbers of the teacher's guide (docs/teaching.md), computed: ``python -m experiments.teaching [--write]``.

Every number in the guide's exercises comes from here: the tables (ensembles of the Numba engine on the demo's
configuration, seed 0), the theory's R0 and critical detection, and the runs of the page itself (its Mesa engine,
one run per seed) that a teacher sees. ``--write`` puts the generated blocks into docs/teaching.md between
``<!-- teaching: NAME -->`` and ``<!-- /teaching -->``; without it the blocks are printed. tests/test_teaching.py
checks that the guide's blocks are what this script writes, and that the page's default seed shows what the guide
says at each exercise's settings.

The page's default seed (``replisim.demo.model.DEFAULTS["seed"]``) is chosen by :func:`choose_seed`: the first
seed whose page runs tell each exercise's story (the typical outcome of every row: the one that most runs
have), so a teacher's first try shows what the guide says.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from replisim import simulate, theory
from replisim.demo.model import ClassroomModel, demo_config

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "teaching.md"
RUNS = 1000  # Numba runs per row
PAGE_SEEDS = range(10)  # the page's own runs quoted in the guide


@dataclass(frozen=True)
class Row:
    label: str
    settings: dict


EXERCISES = {
    "exercise1": [Row(f"{d:.2f}" + (" (default)" if d == 0.10 else ""), {"detection": d})
                  for d in (0.10, 0.15, 0.18, 0.19, 0.20, 0.22, 0.25)],
    "exercise2": [Row("off", dict(detection=0.4, misalignment_rate=0.5, response_latency=2, collusion=False)),
                  Row("on", dict(detection=0.4, misalignment_rate=0.5, response_latency=2, collusion=True))],
    "exercise3": [Row("0.60 | 3", dict(detection=0.25, kill_switch=0.6, response_latency=3)),
                  Row("0.95 | 3 (mandate)", dict(detection=0.25, kill_switch=0.95, response_latency=3)),
                  Row("0.60 | 0 (faster response)", dict(detection=0.25, kill_switch=0.6, response_latency=0)),
                  Row("0.95 | 0 (both)", dict(detection=0.25, kill_switch=0.95, response_latency=0))],
}


def ensemble(settings: dict, runs: int = RUNS) -> dict:
    """P(extinct by the horizon), the median replicas at the horizon and the mean flights of ``runs`` Numba runs."""
    out = simulate(demo_config(**settings), runs=runs, seed=0).outcomes
    return {"extinct": float(out["extinct"].mean()), "median": float(out["final_replicas"].median()),
            "flights": float(out["flights"].mean())}


def page_run(settings: dict, seed: int) -> tuple[int, int]:
    """The page's run (its Mesa engine) at ``settings`` and ``seed``: (final step, replicas left)."""
    model = ClassroomModel(**settings, seed=seed)
    while model.advance():
        pass
    return model.steps, int(model.view().series["replicas"][-1])


def typical(stats: dict) -> bool:
    """Whether most runs at these settings die out."""
    return stats["extinct"] > 0.5


def choose_seed(stats: dict[str, list[dict]], seeds=range(100)) -> int:
    """The first seed whose page run at every row of every exercise has the row's typical outcome (dies out where
    most runs die out, survives where most survive), and that takes the network at replication success 0.55
    (the browser test's run)."""
    rows = [(row.settings, typical(s)) for name, table in EXERCISES.items() for row, s in zip(table, stats[name],
                                                                                           strict=True)]
    rows.append(({"replication_success": 0.55}, False))
    for seed in seeds:
        if all((page_run(settings, seed)[1] == 0) == dies for settings, dies in rows):
            return seed
    raise RuntimeError(f"no seed in {seeds} shows every exercise's typical outcome")


def number(x: float) -> str:
    return f"{x:,.0f}" if x == round(x) else f"{x:,.1f}"


def statistics() -> dict[str, list[dict]]:
    """The ensemble statistics of every row of every exercise (a few seconds once Numba has compiled)."""
    return {name: [ensemble(row.settings, RUNS if name == "exercise1" else RUNS // 2) for row in table]
            for name, table in EXERCISES.items()}


def seed_block(seed: int) -> str:
    return (f"The page starts at seed {seed}: at every setting of the three exercises its run shows what most runs "
            "do (the tables' majority), so the first try matches the guide. Other seeds show the spread.")


def tables(stats: dict[str, list[dict]]) -> dict[str, str]:
    """The blocks computed from the ensembles and the theory: the three tables, the theory's line, the kinds."""
    cfg = demo_config()
    out = {"theory": f"**critical detection {theory.critical_detection(cfg):.3f}**; at the default detection 0.10 "
                     f"the colony R0 is {theory.r0(cfg):.1f}.",
           "kinds": kinds_line(cfg)}
    t1 = ["| detection | theory R0 | P(extinct by step 200) | median replicas at step 200 |",
          "| ---: | ---: | ---: | ---: |"]
    for row, s in zip(EXERCISES["exercise1"], stats["exercise1"], strict=True):
        r0 = theory.r0(demo_config(**row.settings))
        t1.append(f"| {row.label} | {r0:.2f} | {s['extinct']:.2f} | {number(s['median'])} |")
    out["exercise1"] = "\n".join(t1)
    t2 = ["| collusion | P(extinct by step 200) | median replicas at step 200 | flights per run |",
          "| --- | ---: | ---: | ---: |"]
    for row, s in zip(EXERCISES["exercise2"], stats["exercise2"], strict=True):
        t2.append(f"| {row.label} | {s['extinct']:.2f} | {number(s['median'])} | {number(round(s['flights']))} |")
    out["exercise2"] = "\n".join(t2)
    t3 = ["| kill switch | latency | P(extinct by step 200) | median replicas at step 200 |",
          "| ---: | ---: | ---: | ---: |"]
    for row, s in zip(EXERCISES["exercise3"], stats["exercise3"], strict=True):
        ks, lat = row.label.split(" | ")
        t3.append(f"| {ks} | {lat} | {s['extinct']:.2f} | {number(s['median'])} |")
    out["exercise3"] = "\n".join(t3)
    return out


def page_blocks() -> dict[str, str]:
    """The blocks of the page's own runs (seeds 0-9 at every row: about two minutes)."""
    return {f"{name}-page": page_lines(table) for name, table in EXERCISES.items()}


def blocks(seed: int | None = None) -> dict[str, str]:
    """Every generated block of the guide, by name; ``seed``: the page's default (None: :func:`choose_seed`)."""
    stats = statistics()
    seed = choose_seed(stats) if seed is None else seed
    return {**tables(stats), "seed": seed_block(seed), **page_blocks()}


def kinds_line(cfg) -> str:
    """How many computers of each kind the demo's network has (presets act by kind)."""
    from replisim.config.schema import NODE_TYPES
    from replisim.demo.model import TYPE_LABELS
    from replisim.network import build_network

    counts = np.bincount(build_network(cfg, np.random.default_rng(0)).node_type, minlength=len(NODE_TYPES))
    kinds = ", ".join(f"{n} {TYPE_LABELS[t]}" for t, n in zip(NODE_TYPES, counts.tolist(), strict=True))
    return f"The demo's {cfg.network.nodes} computers are of five kinds ({kinds})."


def page_lines(table: list[Row]) -> str:
    """What the page's own runs (seeds 0-9) give at each row: how many die out, and the range of the survivors."""
    lines = []
    for row in table:
        ends = [page_run(row.settings, seed) for seed in PAGE_SEEDS]
        left = sorted(n for _, n in ends if n)
        died = len(ends) - len(left)
        span = number(left[0]) if left and left[0] == left[-1] else left and f"{number(left[0])}–{number(left[-1])}"
        if not left:
            lines.append(f"- {row.label}: all {len(ends)} die out.")
        elif not died:
            lines.append(f"- {row.label}: none dies out; they end with {span} replicas.")
        else:
            rest = "the other ends" if len(left) == 1 else "the others end"
            verb = "dies" if died == 1 else "die"
            lines.append(f"- {row.label}: {died} of {len(ends)} {verb} out; {rest} with {span} replicas.")
    return f"Ten runs of the page (its Mesa engine, seeds {PAGE_SEEDS[0]}–{PAGE_SEEDS[-1]}):\n\n" + "\n".join(lines)


# a block: its opening line, its text (never another block's marker), its closing line
BLOCK = re.compile(r"(<!-- teaching: ([\w-]+) -->\n)((?:(?!<!-- /?teaching)[\s\S])*?)(\n?<!-- /teaching -->)")


def guide_blocks(text: str) -> dict[str, str]:
    return {m.group(2): m.group(3) for m in BLOCK.finditer(text)}


def write(text: str, generated: dict[str, str]) -> str:
    missing = set(generated) - set(guide_blocks(text))
    if missing:
        raise SystemExit(f"docs/teaching.md has no block for {sorted(missing)}; add '<!-- teaching: NAME -->' "
                         "and '<!-- /teaching -->' lines where each goes")
    return BLOCK.sub(lambda m: m.group(1) + generated[m.group(2)] + "\n<!-- /teaching -->", text)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite the blocks of docs/teaching.md")
    parser.add_argument("--seed", type=int, default=None, help="the page's seed (default: choose_seed's)")
    args = parser.parse_args(argv)
    generated = blocks(args.seed)
    if args.write:
        from replisim.files import write_text

        write_text(GUIDE, write(GUIDE.read_text(), generated))
        print(f"wrote {GUIDE}")
    else:
        for name, text in generated.items():
            print(f"<!-- teaching: {name} -->\n{text}\n<!-- /teaching -->\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
