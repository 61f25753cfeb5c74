"""Text, Markdown and figures of the benchmark results (plot functions return Figures; __main__ writes files)."""

from __future__ import annotations

GOALS = {
    "headline_Mps": 50.0,  # issue 2 section 8: M replica-steps/s on one core, >= 10^6 live, every mechanism on
    "mesa_ratio": 300.0,  # (a)
    "rng_ratio": 0.5,  # (b)
    "scaling": 2.0,  # (c) max/min cost per replica-step
    "sweep_overhead": 0.10,  # (e)
    "cached_start_s": 3.0,  # (f)
    "bytes_per_replica": 32.0,  # (g)
    "peak_rss_GiB": 2.0,  # (g)
    "uncertainty_cost": 0.10,  # (h) deep-uncertainty issue: per-run parameters cost at most 10% of throughput
    "peer_ratio": 10.0,  # (i) issue 16 item 4: replisim at least 10x faster per step than Starsim's faster variant
    "hosts_spread": 2.0,  # (j) issue 16 item 2: cost per replica-step within 2x from 10^3 to 10^7 one-slot nodes
    "hosts_rng_ratio": 0.25,  # (j) the 10^6-node host-level run against the RNG-bound kernel
    "few_ms": 1.0,  # (j) 100 replicas on 10^6 one-slot nodes: ms per step
}


SECTION_NAMES = ("headline", "mesa", "scaling", "threads", "sweep", "jit", "memory", "uncertainty", "peer", "hosts")


def _ok(flag: bool) -> str:
    return "yes" if flag else "NO"


def lines(r: dict) -> list[str]:
    """The results as Markdown lines (also printed to the terminal)."""
    head_repeats = r.get("params", {}).get("head_repeats", r["repeats"])
    out = [f"Machine: {r['machine']}; best of {r['repeats']} repeats (headline and (b): best of {head_repeats}). "
           "When each section was measured (the load average on 2 shared cores is the other developers' work):", ""]
    out += [f"- {name}: {r[name]['measured']}" for name in SECTION_NAMES if name in r and "measured" in r[name]]
    out += [""]
    out += ["| section | figure | value | goal | met |", "|---|---|---|---|---|"]

    def row(sec, fig, val, goal="", met=""):
        out.append(f"| {sec} | {fig} | {val} | {goal} | {met} |")

    h = r.get("headline")
    if h:
        row("headline", f"engine, 1 thread, {h['replicas_mean']:,} live replicas (mean), every mechanism, CPU time",
            f"{h['engine_cpu_Mps']:.1f} M replica-steps/s", f">= {GOALS['headline_Mps']:.0f}",
            _ok(h["engine_cpu_Mps"] >= GOALS["headline_Mps"]))
        row("headline", "same, wall clock", f"{h['engine_wall_Mps']:.1f} M replica-steps/s")
        row("b", "RNG-bound reference kernel (1 SplitMix64 draw per agent), CPU time",
            f"{h['rng_kernel_cpu_Mps']:.1f} M agent-steps/s")
        row("b", f"streaming column update over {h.get('stream_agents', 0):,} agents (memory bandwidth), CPU time",
            f"{h['stream_kernel_cpu_Mps']:.0f} M agent-steps/s ({h['stream_kernel_GBps']:.1f} GB/s)")
        row("b", "engine / RNG-bound kernel (CPU time; wall in brackets)",
            f"{h['engine_vs_rng_cpu']:.2f}x ({h['engine_vs_rng_wall']:.2f}x)", f">= {GOALS['rng_ratio']}x",
            _ok(h["engine_vs_rng_cpu"] >= GOALS["rng_ratio"]))
        row("b", "engine / streaming kernel (CPU time)", f"{h['engine_vs_stream_cpu']:.3f}x")
    a = r.get("mesa")
    if a:
        row("a", f"Numba engine, 1 thread ({a['config']})", f"{a['numba_cpu_Mps']:.2f} M replica-steps/s CPU, "
            f"{a['numba_wall_Mps']:.2f} wall")
        if "mesa_cpu_Mps" in a:
            row("a", "Mesa engine, same config", f"{a['mesa_cpu_Mps'] * 1e3:.1f} k replica-steps/s CPU, "
                f"{a['mesa_wall_Mps'] * 1e3:.1f} wall")
            row("a", "Numba / Mesa (CPU time; wall in brackets)", f"{a['ratio_cpu']:.0f}x ({a['ratio_wall']:.0f}x)",
                f">= {GOALS['mesa_ratio']:.0f}x", _ok(a["ratio_cpu"] >= GOALS["mesa_ratio"]))
        else:
            row("a", "Mesa engine", a["mesa"])
    c = r.get("scaling")
    if c:
        for x in c["rows"]:
            st = x["steps"] if isinstance(x["steps"], list) else [x["steps"]]
            row("c", f"{x['population']:,} replicas on {x['nodes']:,} nodes, {' vs '.join(map(str, st))} steps",
                f"{x['ns_per_replica_step_cpu']:.1f} ns/replica-step CPU ({x['ns_per_replica_step_wall']:.1f} wall)")
        row("c", "max / min cost per replica-step (CPU time)", f"{c['max_over_min_cpu']:.2f}",
            f"<= {GOALS['scaling']}", _ok(c["max_over_min_cpu"] <= GOALS["scaling"]))
    d = r.get("threads")
    if d:
        for x in d["rows"]:
            if "speedup" in x:
                row("d", f"{x['case']}: {x['runs']} x {x['replicas']:,} replicas x {x['steps']} steps, 1 -> 2 threads",
                    f"{x['wall_s_1']:.2f} s -> {x['wall_s_2']:.2f} s = {x['speedup']:.2f}x; "
                    f"identical numbers: {_ok(x['identical_across_threads'])}")
            else:
                row("d", x["case"], "only one thread available")
    e = r.get("sweep")
    if e:
        if "engine_s" in e:
            agg = e.get("aggregation_s")
            row("e", f"sweep {e['jobs']} jobs = {e['runs']} runs, {e['replicas_capacity']:,} slots, {e['steps']} steps",
                f"wall {e['sweep_wall_s']:.1f} s + start {e['interpreter_start_s']:.1f} s, engine {e['engine_s']:.1f} s"
                + (f", aggregation {agg:.1f} s" if agg is not None else ""))
            row("e", "Hydra + launcher + job set-up and files / engine time", f"{100 * e['overhead_share']:.1f} %",
                f"<= {100 * GOALS['sweep_overhead']:.0f} %", _ok(e["overhead_share"] <= GOALS["sweep_overhead"]))
            if agg is not None and e["engine_s"] > 0:
                row("e", "end-of-sweep aggregation (table, comparison, figures, report) / engine time",
                    f"{100 * agg / e['engine_s']:.1f} %")
        else:
            row("e", "sweep", e.get("cli", "not measured"))
    f = r.get("jit")
    if f:
        cpu = lambda k: f" ({f[k]:.1f} s CPU)" if k in f else ""  # noqa: E731
        row("f", "new process, small run, empty Numba cache (cold), wall", f"{f['cold_s']:.1f} s{cpu('cold_cpu_s')}")
        row("f", "new process, small run, cache filled (cached), wall", f"{f['cached_s']:.1f} s{cpu('cached_cpu_s')}",
            f"< {GOALS['cached_start_s']:.0f} s", _ok(f["cached_s"] < GOALS["cached_start_s"]))
        if "within_cold_s" in f:
            row("f", "then the first within-run small run (compiles the parallel passes), wall",
                f"{f['within_cold_s']:.1f} s{cpu('within_cold_cpu_s')}")
        row("f", "new process, `import replisim` only, wall", f"{f['import_only_s']:.1f} s{cpu('import_only_cpu_s')}")
        if "main_job_s" in f:
            row("f", "main job (`make run` after the install: `replisim` with its defaults), cache filled, wall; "
                     "share of it outside the compiled engine", f"{f['main_job_s']:.0f} s; "
                     f"{100 * f['main_job_outside_share']:.0f}%")
    g = r.get("memory")
    if g:
        row("g", "replica table, bytes per slot (by dtype; slots = network capacity)",
            f"{g['table_bytes_per_slot']:.0f}", f"<= {GOALS['bytes_per_replica']:.0f}",
            _ok(g["table_bytes_per_slot"] <= GOALS["bytes_per_replica"]))
        if "overflow_row_bytes" in g:
            row("g", "arrivals' overflow buffer, bytes per row (rows: at most one step's shutdowns)",
                f"{g['overflow_row_bytes']}")
        row("g", "measured peak RSS growth of the big run per live replica (all buffers, node arrays)",
            f"{g['rss_growth_bytes_per_live_replica']:.1f} B", f"<= {GOALS['bytes_per_replica']:.0f}",
            _ok(g["rss_growth_bytes_per_live_replica"] <= GOALS["bytes_per_replica"]))
        row("g", f"big run: {g['peak_replicas']:,} live replicas (peak) on {g['nodes']:,} nodes, peak RSS",
            f"{g['peak_rss_GiB']:.2f} GiB", f"<= {GOALS['peak_rss_GiB']:.0f} GiB",
            _ok(g["peak_rss_GiB"] <= GOALS["peak_rss_GiB"]))
        row("2", f"big run ({g['mode']} mode, all threads): wall incl. setup",
            f"{g['wall_s']:.1f} s, {g['replica_steps_per_s'] / 1e6:.1f} M replica-steps/s")
    u = r.get("uncertainty")
    if u:
        where = f"default world, {u['runs']} runs x {u['steps']} steps, 1 thread"
        row("h", f"{where}: no uncertain key, CPU time", f"{u['none_cpu_Mps']:.1f} M replica-steps/s")
        row("h", f"same, {u['keys']} uncertain keys fixed at the configured values (identical outcomes: "
                 f"{_ok(u['identical_when_fixed'])})", f"{u['fixed_cpu_Mps']:.1f} M replica-steps/s")
        row("h", "cost of per-run parameters (1 - fixed / none)", f"{100 * u['cost_share']:.1f} %",
            f"<= {100 * GOALS['uncertainty_cost']:.0f} %",
            _ok(u["cost_share"] <= GOALS["uncertainty_cost"] and u["identical_when_fixed"]))
        row("h", f"the {u['keys']} keys drawn over their ranges (other dynamics; for information)",
            f"{u['drawn_cpu_Mps']:.1f} M replica-steps/s")
        if "explore_sets_per_s" in u:
            row("h", f"`replisim.explore`, {u['explore_samples']} base samples = {u['explore_sets']:,} parameter sets, "
                     "all threads, design to figures", f"{u['explore_sets_per_s']:.0f} parameter sets/s "
                     f"({u['explore_wall_s']:.1f} s)")
    _peer_rows(r.get("peer"), row)
    _hosts_rows(r.get("hosts"), row)
    return out


def history_lines(history: dict) -> list[str]:
    """One line per machine of benchmarks/history.json: its latest headline figures, each with its date."""
    if not history:
        return []
    out = ["", "History (benchmarks/history.json: the latest figures of each machine; compare within a row):", "",
           "| machine | headline M replica-steps/s | engine / RNG kernel | 10^6 one-slot nodes / RNG kernel | "
           "100 replicas on 10^6 nodes, ms per step | measured |", "|---|---|---|---|---|---|"]
    for machine, e in sorted(history.items()):
        h, j = e.get("headline", {}), e.get("hosts", {})
        big = next((x for x in j.get("rows", []) if x["nodes"] == 10**6), None)
        dates = sorted({x["measured"][:16] for x in e.values() if isinstance(x, dict) and "measured" in x})
        out.append(f"| {machine} | {h['engine_cpu_Mps']:.1f} |" if h else f"| {machine} | |")
        out[-1] += (f" {h['engine_vs_rng_cpu']:.2f}x |" if h else " |") + (f" {big['vs_rng']:.2f}x |" if big else " |")
        out[-1] += (f" {j['sparse_ms']:.3f} |" if j.get("few_nodes") == 10**6 else " |")
        out[-1] += f" {dates[0]} to {dates[-1]} |" if dates else " |"
    return out


def _hosts_rows(j: dict | None, row) -> None:
    """(j): host-level networks (``benchmarks.hosts``)."""
    if not j:
        return
    for x in j["rows"]:
        row("j", f"{x['nodes']:,} one-slot nodes, {x['replicas_mean']:,} replicas (mean), {x['steps']:,} steps, "
                 "1 thread: CPU ns per replica-step (RNG-bound kernel over as many agents)",
            f"{x['ns_cpu']:.1f} ({x['rng_ns']:.1f})")
        big = x["nodes"] == 10**6
        row("j", f"{x['nodes']:,} nodes: engine / RNG-bound kernel", f"{x['vs_rng']:.2f}x",
            f">= {GOALS['hosts_rng_ratio']}x" if big else "", _ok(x["vs_rng"] >= GOALS["hosts_rng_ratio"]) if big else "")
    sizes = f"{j['rows'][0]['nodes']:,} to {j['rows'][-1]['nodes']:,}"
    row("j", f"cost per replica-step, largest / smallest, {sizes} nodes", f"{j['spread']:.1f}x",
        f"<= {GOALS['hosts_spread']:.0f}x", _ok(j["spread"] <= GOALS["hosts_spread"]))
    big = j["few_nodes"] == 10**6
    row("j", f"{j['few_replicas']} replicas on {j['few_nodes']:,} one-slot nodes, {j['few_steps']} steps: CPU ms per "
             "step, visiting the listed nodes (sim.sparse_share default) / every node (sim.sparse_share=0)",
        f"{j['sparse_ms']:.3f} / {j['dense_ms']:.2f}", f"<= {GOALS['few_ms']:.0f}" if big else "",
        _ok(j["sparse_ms"] <= GOALS["few_ms"]) if big else "")


def _peer_rows(p: dict | None, row) -> None:
    """(i): replisim against Starsim (``benchmarks.peer``): time per step at each size, then the curves' agreement."""
    if not p:
        return
    if "rows" not in p:
        row("i", "Starsim", p["starsim"])
        return
    for x in p["rows"]:
        fastest = "mixing pool" if x["starsim_fastest"] == "pool" else "random network"
        row("i", f"{x['nodes']:,} single-slot nodes, {x['steps']} steps, 1 thread, wall per step: replisim / Starsim "
                 f"{p['starsim']} SIS with a mixing pool / with a random network",
            f"{x['replisim_ms_per_step']:.3g} / {x['pool_ms_per_step']:.3g} / {x['network_ms_per_step']:.3g} ms")
        row("i", f"{x['nodes']:,} nodes: Starsim's faster variant ({fastest}) / replisim (CPU time in brackets)",
            f"{x['ratio']:.2g}x ({x['ratio_cpu']:.2g}x)", f">= {GOALS['peer_ratio']:.0f}x",
            _ok(x["ratio"] >= GOALS["peer_ratio"]))
    a = p["agreement"]
    own = a["own_map"]
    where = f"{a['nodes']:,} nodes, {a['initial']} initial replicas, {a['steps']} steps, {a['runs']['replisim']} runs each"
    row("i", f"curves ({where}): each mean against its own discrete-time map, largest deviation / tolerance "
             f"({a['z']['replisim']:.1f} SE + {100 * a['bias']:g}% of the map): replisim / mixing pool / random network",
        " / ".join(f"{own[k]['score']:.2f}" for k in ("replisim", "pool", "network")), "<= 1",
        _ok(all(own[k]["score"] <= 1 for k in own)))
    for k, name, why in (("network", "random network", "same infection law to second order"),
                         ("pool", "mixing pool", "linear infection law: its map's plateau differs")):
        x = a["against_replisim"][k]
        row("i", f"Starsim {name} against replisim: plateau (last quarter of the steps) {100 * x['plateau_rel']:+.1f}%, "
                 f"maps {100 * x['plateau_rel_maps']:+.1f}% ({why}); largest deviation of the difference of the means from "
                 f"the maps' difference / tolerance (from 0 in brackets)",
            f"{x['score']:.2f} ({x['score_without_bias']:.2f})", "<= 1", _ok(x["score"] <= 1))


def scaling_figure(c: dict):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    pops = [x["population"] for x in c["rows"]]
    ax.plot(pops, [x["ns_per_replica_step_cpu"] for x in c["rows"]], "o-", label="CPU time")
    ax.plot(pops, [x["ns_per_replica_step_wall"] for x in c["rows"]], "s--", alpha=0.6, label="wall clock")
    lo = min(x["ns_per_replica_step_cpu"] for x in c["rows"])
    ax.axhline(2 * lo, color="grey", lw=0.8, ls=":", label="2x the cheapest (goal bound)")
    ax.set_xscale("log")
    ax.set_ylim(bottom=0)
    ax.set_xlabel("live replicas (nodes = replicas / 100)")
    ax.set_ylabel("ns per replica-step, one thread")
    ax.set_title("Cost per replica-step against population (every mechanism on)")
    ax.legend()
    fig.tight_layout()
    return fig


def threads_figure(d: dict):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [x for x in d["rows"] if "speedup" in x]
    fig, ax = plt.subplots(figsize=(6, 4))
    for k, x in enumerate(rows):
        ax.bar([3 * k, 3 * k + 1], [x["Mps_1"], x["Mps_2"]], color=["C0", "C1"])
        ax.text(3 * k + 0.5, max(x["Mps_1"], x["Mps_2"]) * 1.02, f"{x['speedup']:.2f}x", ha="center")
    ax.set_xticks([3 * k + 0.5 for k in range(len(rows))], [x["case"] for x in rows])
    ax.set_ylabel("M replica-steps/s (wall clock)")
    ax.set_title(f"1 thread (blue) and 2 threads (orange) on {d['cores_available']} shared cores")
    fig.tight_layout()
    return fig
