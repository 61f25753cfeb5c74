"""Smoke test of ``python -m benchmarks`` on tiny sizes: the code runs and writes what ``make bench`` writes.

Not a timed test: the figures of a --quick run mean nothing. The JIT section is left out because it compiles
every kernel from scratch in a fresh process (a minute or more); ``make bench`` runs it.
"""

from __future__ import annotations

import importlib.util
import json

import pytest

from benchmarks.__main__ import MARK_END, MARK_START, main

SECTIONS = "headline,mesa,scaling,threads,sweep,memory,peer"


@pytest.mark.xdist_group("bench_smoke")
def test_quick_bench_writes_results(tmp_path, capsys):
    assert main(["--quick", "--only", SECTIONS, "--out", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "benchmarks" / "results.json").read_text())
    h = results["headline"]
    assert h["engine_cpu_Mps"] > 0 and h["rng_kernel_cpu_Mps"] > 0 and h["stream_kernel_cpu_Mps"] > 0
    assert [r["population"] for r in results["scaling"]["rows"]] == [10**3, 10**4]
    assert all(r["identical_across_threads"] for r in results["threads"]["rows"])
    assert results["sweep"]["jobs_done"] == results["sweep"]["jobs"] and results["sweep"]["engine_s"] > 0
    assert results["memory"]["peak_replicas"] > 0 and results["memory"]["table_bytes_per_slot"] > 0
    md = (tmp_path / "BENCHMARKS.md").read_text()
    assert MARK_START in md and MARK_END in md and "| headline |" in md
    assert (tmp_path / "figures" / "bench_scaling.png").stat().st_size > 0
    assert (tmp_path / "figures" / "bench_threads.png").stat().st_size > 0
    # the peer section (Starsim, a dev extra): a row per size, its figure, and its curves kept out of results.json
    if importlib.util.find_spec("starsim"):
        assert [r["nodes"] for r in results["peer"]["rows"]] == [1000, 2000] and "curves" not in results["peer"]
        assert (tmp_path / "figures" / "bench_peer.png").stat().st_size > 0 and "| i |" in md
    else:
        assert "starsim unavailable" in results["peer"]["starsim"]
    assert "replica-steps/s" in capsys.readouterr().out


def test_unknown_section_is_one_line_error(capsys):
    assert main(["--only", "headline,speed"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--only=speed" in err and "headline" in err
