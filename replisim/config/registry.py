"""The parameter registry: for every key of the schema, its unit, its plausible range, and what its value rests on.

Every number in the model is a claim about the world, a policy lever, or a setting of the experiment. This
module says which, key by key (``REGISTRY``), and ``python -m replisim.config.registry`` writes
docs/parameters.md from it and from the schema (``tests/test_registry.py`` fails when the file, the schema and
the registry disagree, or when a key has no entry).

Bases:

* ``source``: the value is taken from a paper, report or dataset, named with the figure it takes from it.
* ``assumption``: no source gives the value; the entry says why the value and the range are what they are.
  Most of the model's claims are assumptions today: the grounded-world issue (11) replaces them with sources
  where evidence exists, and the deep-uncertainty issue (12) samples them over their plausible ranges.
* ``lever``: a governance measure, set by the analyst; the range is what proposals span.
* ``setting``: a choice of the experiment (size, horizon, seed, threads, labels), not a claim about the world.

Units are those of the configuration: rates are probabilities per *hour* and delays are in *hours*; the engines
turn them into steps of ``sim.hours_per_step`` hours (``replisim.config.units``).
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

BASES = ("source", "assumption", "lever", "setting")


class Entry(NamedTuple):
    unit: str
    plausible: str  # the plausible range, in words or as "lo - hi"
    basis: str  # one of BASES
    why: str  # the source with the figure taken from it, or the reasoning


def _a(unit, plausible, why):
    return Entry(unit, plausible, "assumption", why)


def _lever(unit, plausible, why):
    return Entry(unit, plausible, "lever", why)


def _set(unit, plausible, why):
    return Entry(unit, plausible, "setting", why)


PAN = ("Pan et al. 2024, 'Frontier AI systems have surpassed the self-replicating red line' (arXiv 2412.12140): "
       "Llama3.1-70B-Instruct succeeded in 5 of 10 self-replication trials, Qwen2.5-72B-Instruct in 9 of 10")

REGISTRY: dict[str, Entry] = {
    # --- the experiment ----------------------------------------------------------------------------------
    "scenario": _set("label", "any", "name of the scenario in tables and figures"),
    "runs": _set("runs", ">= 1", "ensemble size; 200 resolves a probability to about +-0.07 (95% Wilson)"),
    "seed": _set("integer", ">= 0", "master seed of the counter-based random streams"),
    "uncertain": _set("mapping", "keys of this table", "keys whose value each run draws from a distribution "
                                                       "(conf/uncertainty/; replisim.uncertainty); defaults to the "
                                                       "plausible ranges of this table"),
    "sim.steps": _set("steps", ">= 1", "horizon; 2160 steps of one hour are 90 days, long enough for growth at the "
                                       "evidence-based attempt rate (10% of compute in a few weeks without "
                                       "governance) and a quarter of the IBM 2024 breach life cycle (258 days)"),
    "sim.hours_per_step": _set("hours", "> 0", "length of a step; rates are per hour and delays in hours whatever it is"),
    "sim.max_replicas": _set("slots", ">= 1", "preallocation; default the network's total capacity"),
    "sim.memory_limit_gb": _set("GB", "> 0", "refuse configurations whose memory estimate exceeds it"),
    "sim.validate": _set("switch", "on/off", "check the engine's invariants after every step (slow)"),
    "sim.threads": _set("threads", ">= 0", "0: all cores; results do not depend on it"),
    "sim.chunk": _set("index", ">= 0", "set by 'replisim explore --launcher': which chunk of the design a job "
                                      "runs; not part of the configuration's digest"),
    "sim.sparse_share": _set("share of nodes", ">= 0, or none", "when a step's per-node passes visit only the "
                             "listed nodes (those with replicas, or just emptied or quarantined) instead of all: cost "
                             "that follows the replicas on a large, mostly empty network. none: the measured "
                             "break-even (BENCHMARKS.md), 0.5 up to 100,000 nodes, where the node arrays stay in "
                             "cache, and 0.25 above; results do not depend on it"),
    "sim.parallel": _set("choice", "auto, ensemble, within_run", "how threads share the work; same distribution"),
    "outcome.loss_of_control_share": _a(
        "share of compute", "0.01 - 0.5",
        "what counts as loss of control is a definition, not a measurement: 10% of all compute held by replicas "
        "at the horizon is far beyond what any operator would tolerate unnoticed; 1% and 50% bracket it"),
    "outcome.drivers": _set("base samples", "0 or a power of 2", "the main job's 'what drives this' section: a "
                            "Sobol analysis per regime over the configured uncertain keys (uncertainty=default when "
                            "none): samples x (keys + 2) runs; 32 adds about one main job's time again; 0 switches it "
                            "off"),
    # --- the network -----------------------------------------------------------------------------------------
    "network.kind": _set("choice", "complete, random_regular, scale_free, small_world, datacenter",
                         "topology; complete = any node reachable (internet-scale reach of a copy)"),
    "network.nodes": _set("nodes", ">= 1", "model size; each node is a pool of compute under one operator"),
    "network.degree": _a("neighbours", "2 - 50", "reach of a copy on sparse topologies; no measurement exists"),
    "network.rewire": _a("probability", "0 - 1", "small-world rewiring; a textbook value (Watts-Strogatz 0.1)"),
    "network.regions": _set("regions", ">= 1", "datacenter topology: regions"),
    "network.sites_per_region": _set("sites", ">= 1", "datacenter topology: sites per region"),
    "network.capacity": _set("slots", ">= 1", "if set, every node has this capacity (textbook scenarios)"),
    "network.security": _set("probability", "0 - 1", "if set, every node has this security (textbook scenarios)"),
    "network.mix.frontier_lab": _a("share of nodes", "0.001 - 0.05",
                                   "few large operators; an order of magnitude, not a count"),
    "network.mix.hyperscale_cloud": _a("share of nodes", "0.01 - 0.2",
                                       "an order of magnitude, not a count: a node is one multi-GPU server a "
                                       "replica can reach, and clouds rent many of those to anyone"),
    "network.mix.enterprise": _a("share of nodes", "0.1 - 0.5",
                                 "an order of magnitude, not a count: company GPU servers outnumber lab and "
                                 "cloud servers a replica can reach, each with fewer accelerators"),
    "network.mix.academic": _a("share of nodes", "0.02 - 0.2",
                               "an order of magnitude, not a count: university clusters are fewer than company "
                               "servers"),
    "network.mix.consumer_edge": _a("share of nodes", "0.2 - 0.8",
                                    "many small machines; a 70B replica does not fit on one (8 GB: "
                                    "network.types.consumer_edge.memory_gb), a small model does"),
    # --- replicas ----------------------------------------------------------------------------------------------
    "replica.initial": _a("replicas", "1 - 100", "a handful of escaped copies at the start"),
    "replica.footprint_gb": Entry(
        "GB", "4 - 160", "source",
        "accelerator memory of one running replica. Hugging Face Transformers docs ('Optimizing LLMs for Speed "
        "and Memory', 2024): about 2 GB per billion parameters at float16, 'Llama-2-70b requires 2 * 70 GB = "
        "140 GB VRAM'; canitrun.dev, Llama 3.1 70B at 8k context: 159.8 GB at FP16 (140 GB weights + 2.7 GB KV "
        "cache + overhead), 81.4 GB at 8 bits, 42.2 GB at 4 bits (Q4_K_M). 160 is the Pan et al. 2024 70B "
        "replicator at 16 bits (the precision of its release; an assumption about the trials); an 8B model at "
        "4 bits needs about 5 GB (8 x 0.5 x 1.15, the same rule)"),
    "replica.initial_misaligned": _a("share", "0 - 1",
                                     "1 in the default scenario: the worst case (every escaped replica rogue)"),
    "replica.attempt_rate": _a(
        "per hour", "0.001 - 0.5",
        "no measurement of how often a rogue replica tries to acquire new compute. RepliBench (Black et al. "
        "2025, arXiv 2504.18565): models 'can deploy instances from cloud compute providers ... but struggle to "
        "pass KYC checks or set up robust and persistent agent deployments', which argues for the low end; 0.5 "
        "per hour is the fast extreme. The default scenario takes 0.02, the geometric middle of the range (an "
        "order-of-magnitude uncertainty is centred on the log scale): about one attempt in two days"),
    "replica.success": Entry("probability", "0.3 - 0.95", "source",
                             PAN + "; the value is the 5/10 rate, the range spans both models' Beta posteriors"),
    "replica.success_prior": _set("switch", "on/off", "draw each run's skill from the Beta posterior of the trials"),
    "replica.trial_successes": Entry("trials", "5 or 9", "source", PAN),
    "replica.trial_total": Entry("trials", "10", "source", PAN),
    "replica.evasion": _a("probability", "0 - 0.5", "how much a replica hides from monitoring; not measured"),
    "replica.shutdown_avoidance": _a(
        "probability", "0 - 0.97",
        "P(a last copy when shut down). Pan et al. 2024 demonstrate shutdown avoidance in a scripted scenario "
        "(no frequency given); Schlatter, Weinstein-Raun and Ladish 2025 (Palisade Research, arXiv 2509.14260): "
        "some models interfered with a shutdown mechanism 'up to 97% (95% CI: 96-98%) of the time' despite an "
        "instruction not to, others never; a rate per shutdown event of a chat agent, not of a replica"),
    "replica.misalignment_rate": _a(
        "per copy", "0 - 0.2",
        "emergent misalignment (Betley et al. 2025, arXiv 2502.17424): narrow fine-tuning on insecure code "
        "misaligned models broadly, about 20% of GPT-4o's answers and 1% of Qwen2.5-Coder-32B's on selected "
        "questions (as reported by Dickson 2025, arXiv 2511.20104); a rate per answer after fine-tuning, not "
        "per copy"),
    "replica.mutation_sd": _a("s.d. per copy", "0 - 0.05", "drift of traits across copies; not measured"),
    "replica.strategic": _set("switch", "on/off", "whether replicas prefer weakly monitored targets"),
    "replica.strategic_samples": _a("neighbours", "1 - 10", "how many targets a strategic replica compares"),
    # --- governance: levers and the claims about their cost -------------------------------------------------------
    "governance.name": _set("label", "any", "label of the regime in tables and figures"),
    "governance.detection": _lever("per hour", "0 - 1", "if set, one monitoring level for every node"),
    "governance.kill_switch": _lever("probability", "0 - 1", "if set, one kill-switch coverage for every node"),
    "governance.response_latency": Entry(
        "hours", "0 - 720", "assumption",
        "detection to shutdown, a lever whose default is today's status quo. IBM Cost of a Data Breach 2024: 64 "
        "days on average to contain a breach once identified, for a whole intrusion; stopping one identified "
        "workload on one operator's machines is far faster; 24 hours (an operator confirms the finding and "
        "acts within a working day) is the assumption, presets that promise faster response set their own"),
    "governance.monitoring": _lever("per hour", "0 - 1", "compute monitoring by node type (a mapping)"),
    "governance.monitoring_floor": _lever("per hour", "0 - 1",
                                          "monitoring floor by node type (a mapping): endpoint or provider "
                                          "telemetry reaches consumer machines too; raises, never lowers"),
    "governance.kill_switch_mandate": _lever("probability", "0 - 1", "kill-switch coverage floor by node type"),
    "governance.hardening": _lever("security per incident", "0 - 0.3", "security gained by a node per incident"),
    "governance.kyc": _lever("security", "0 - 0.5", "know-your-customer on cloud nodes, as extra security"),
    "governance.licensing.enabled": _lever("switch", "on/off", "only licensed nodes may host frontier models"),
    "governance.licensing.compliance": _lever("probability", "0 - 1",
                                              "P(an unlicensed node's operator complies and hosts no frontier "
                                              "model), decided per node"),
    "governance.licensing.monitoring": _lever("per hour", "0 - 1", "monitoring floor on licensed nodes"),
    "governance.if_then.enabled": _lever("switch", "on/off", "if-then commitments (stricter measures on a trigger)"),
    "governance.if_then.incident_threshold": _lever("incidents", "1 - 1000", "cumulative detections that trigger"),
    "governance.if_then.capability_threshold": _lever("probability", "0 - 1", "mean skill of detected replicas "
                                                                            "that triggers"),
    "governance.if_then.delay": _lever("hours", "0 - 720", "trigger to effect"),
    "governance.if_then.monitoring_factor": _lever("factor", "1 - 10", "monitoring multiplier once triggered"),
    "governance.if_then.kill_switch": _lever("probability", "0 - 1", "kill-switch floor once triggered"),
    "governance.if_then.response_latency": _lever("hours", "0 - 72", "response latency once triggered"),
    "governance.reporting.enabled": _lever("switch", "on/off", "jurisdictions share incident reports"),
    "governance.reporting.delay": _lever("hours", "1 - 720", "report to other jurisdictions"),
    "governance.reporting.monitoring_factor": _lever("factor", "1 - 10", "monitoring multiplier once alerted"),
    "governance.export_cap": _lever("share of nodes", "0 - 1", "share of the nodes of export-controlled "
                                                             "jurisdictions that keep their accelerators "
                                                             "(decided per node)"),
    "governance.harmonize": _lever("share", "0 - 1", "moves lax jurisdictions' factors toward the common standard"),
    "governance.quarantine_hours": _lever("hours", "0 - 168", "a node offline after an incident on it"),
    "governance.retraining_rate": _lever("per hour", "0 - 0.1", "P(a misaligned replica is retrained)"),
    "governance.false_positive_rate": _a("slots per unit monitoring per hour", "0 - 0.05",
                                         "the cost of monitoring in capacity taken offline by false alarms; "
                                         "not measured for compute monitoring"),
    "governance.shutdown_cost_hours": _a("node-hours per shutdown", "0.1 - 24",
                                         "capacity lost to one executed shutdown (restart, investigation)"),
    # --- jurisdictions -------------------------------------------------------------------------------------------
    "jurisdictions.name": _set("label", "any", "label of the jurisdiction set"),
    "jurisdictions.regions": _a("mapping", "shares sum to 1",
                                "each region's share of nodes, monitoring and kill-switch factors, reporting and "
                                "export control (conf/jurisdictions/; the default three_blocs takes its US and "
                                "China shares from this source, the rest are assumptions). Epoch AI 2025 (data insight, after Pilz et "
                                "al. 2025, arXiv 2504.16026): 'As of May 2025, the United States contains about "
                                "three-quarters of global AI supercomputer performance, with China in second place "
                                "with 15%'"),
    # --- collusion -----------------------------------------------------------------------------------------------
    "collusion.enabled": _set("switch", "on/off", "whether misaligned replicas of one coalition cooperate"),
    "collusion.warning_evasion": _a("share", "0 - 0.9",
                                    "detection cut for the mates on the node of a detected replica, while the "
                                    "warning lasts; no evidence; central value the middle of the range; bounded "
                                    "below 1 so that a warning lowers detection and never erases it"),
    "collusion.warning_hours": _a("hours", "0 - 168", "how long a warning lasts; no evidence"),
    "collusion.flight": _a("per hour", "0 - 0.5", "P(a replica under a pending order flees); no evidence"),
    "collusion.foothold": _a("share", "0 - 0.8", "cut in target security where a mate sits; no evidence"),
    "collusion.dominance": _a("share", "0.1 - 0.9",
                              "share of a node's capacity a coalition must fill to blind it; no evidence; "
                              "against capacity, not occupants, so a lone replica on a large node blinds nothing"),
    "collusion.min_members": _a("replicas", "2 - 10",
                                "fewest misaligned replicas on one node that can blind it: two is the smallest "
                                "coalition (one replica is no coalition); no evidence for more"),
    "collusion.blinding": _a("share", "0 - 0.9",
                             "cut in the monitoring of a dominated node; no evidence; central value the middle "
                             "of the range; bounded below 1 (schema), so blinding lowers monitoring and never "
                             "erases it"),
}

# Per-node-type defaults (network.types.<type>.<field>): memory from hardware specifications, the rest orders of
# magnitude.
TYPE_FIELDS = {
    "memory_gb": Entry(
        "GB", "4 - 1128", "source",
        "accelerator memory of one node (one server, or one consumer machine): frontier_lab 1128 (8 x H200 "
        "141 GB: MLCommons Inference v4.1, 'H200-SXM-141GBx8'), hyperscale_cloud 640 (8 x H100 80 GB: AWS "
        "p5.48xlarge, DGX H100 '640 GB of HBM3'), enterprise 192 (4 x L40S 48 GB; the server mix is an "
        "assumption), academic 320 (4 x A100 80 GB; an assumption, no source for university nodes), "
        "consumer_edge 8 (Steam Hardware Survey, Sept. 2025: 8 GB of VRAM the most common, 33.7%). Slots = "
        "memory / replica.footprint_gb, floored: a 70B model at 16 bits gets 7 / 4 / 1 / 2 / 0"),
    "capacity": _set("slots", ">= 1", "if set, slots per node of this type instead of memory / footprint "
                                      "(textbook scenarios)"),
    "security": _a("probability", "0 - 0.9",
                   "how much a node's defences cut replication success: frontier_lab 0.6, hyperscale_cloud and "
                   "enterprise 0.3, academic and consumer_edge 0.1, ordered by the defences an operator keeps "
                   "(dedicated security teams and access control at labs; provider identity checks at clouds). "
                   "No measurement of the cut exists; RepliBench (Black et al. 2025, arXiv 2504.18565) finds "
                   "models can deploy instances from cloud providers but struggle to pass KYC, which is the kind "
                   "of barrier this stands for"),
    "monitoring": Entry(
        "per hour", "0.0001 - 0.3", "source",
        "P(a hosted replica is detected within an hour). Mandiant M-Trends 2024: global median dwell time of an "
        "intrusion 10 days, a hazard of ln 2 / 240 h = 0.003 per hour: the enterprise default. IBM Cost of a "
        "Data Breach 2024: 194 days on average to identify a breach (258 to identify and contain), 1 / (194 x "
        "24 h) = 0.0002 per hour: the consumer_edge default (no security team watches a personal machine). "
        "Assumptions: frontier_lab 0.02 and hyperscale_cloud 0.01 (an order of magnitude above the median: "
        "in-house security teams and accelerator telemetry), academic 0.001 (a third of the median)"),
    "kill_switch": _a("probability", "0.3 - 1",
                      "P(a shutdown order succeeds) on the node: frontier_lab 0.95, hyperscale_cloud 0.9, "
                      "enterprise 0.7, academic 0.6, consumer_edge 0.3, ordered by how directly the operator "
                      "controls the hardware (a lab or cloud can power off its own servers; an order to an "
                      "enterprise, a university or a home owner must be passed on and obeyed). No measurement; "
                      "the floor 0.3 keeps an order worth issuing; shutdown resistance by the replica itself is "
                      "replica.shutdown_avoidance, not this"),
}


def _leaves(cfg, prefix=""):
    """(key, value) of every field of a Config, mappings of node types and shares expanded by key."""
    for f in dataclasses.fields(cfg):
        key, value = f"{prefix}{f.name}", getattr(cfg, f.name)
        if dataclasses.is_dataclass(value):
            yield from _leaves(value, key + ".")
        elif key == "network.types":
            for kind, tcfg in value.items():
                for g in dataclasses.fields(tcfg):
                    yield f"{key}.{kind}.{g.name}", getattr(tcfg, g.name)
        elif key == "network.mix":
            for kind, share in value.items():
                yield f"{key}.{kind}", share
        else:
            yield key, value


def entry(key: str) -> Entry:
    """The registry entry of a key (per-node-type keys share their field's entry)."""
    parts = key.split(".")
    if key.startswith("network.types.") and len(parts) == 4:
        return TYPE_FIELDS[parts[3]]
    return REGISTRY[key]


def table(cfg) -> list[tuple[str, object, Entry]]:
    """(key, value in ``cfg``, entry) for every key, in schema order."""
    return [(key, value, entry(key)) for key, value in _leaves(cfg)]


def markdown(cfg) -> str:
    """docs/parameters.md: every key with its value in the packaged default configuration, unit, plausible
    range, basis and source or reasoning."""
    counts = {b: 0 for b in BASES}
    rows = []
    for key, value, e in table(cfg):
        counts[e.basis] += 1
        shown = "" if value is None else (f"{value:g}" if isinstance(value, float) else str(value))
        if isinstance(value, dict):  # a mapping of regions shows their names and shares
            shown = ", ".join(f"{k}: {v.share:g}" if dataclasses.is_dataclass(v) else f"{k}: {v}"
                              for k, v in value.items()) if value else "{}"
        rows.append(f"| `{key}` | {shown} | {e.unit} | {e.plausible} | {e.basis} | {e.why} |")
    head = [
        "# Parameters",
        "",
        "Generated by `python -m replisim.config.registry` from the schema (`replisim/config/schema.py`: "
        "defaults and allowed ranges) and the registry (`replisim/config/registry.py`: unit, plausible range and "
        "what each value rests on); `tests/test_registry.py` fails when this file is out of date. Values are "
        "those of the packaged default configuration (`replisim --cfg job`, the default scenario). Rates and "
        "delays are per step (one hour in every packaged scenario).",
        "",
        "Bases: **source** (taken from a paper, report or dataset, named with its figure), **assumption** (no "
        "source gives it; the reasoning and range are stated), **lever** (a governance measure the analyst "
        "sets), **setting** (a choice of the experiment). Today: "
        + ", ".join(f"{n} {b}" for b, n in counts.items()) + " keys.",
        "",
        "| key | value | unit | plausible range | basis | source or reasoning |",
        "|---|---|---|---|---|---|",
    ]
    return "\n".join(head + rows) + "\n"


def main() -> int:
    from pathlib import Path

    from .compose import compose

    out = Path(__file__).resolve().parents[2] / "docs" / "parameters.md"
    out.write_text(markdown(compose([])))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
