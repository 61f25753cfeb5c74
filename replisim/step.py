"""The step, written once: the ordered list of the phases of one step of the model.

Both engines follow this list, and docs/ODD.md ("Process overview") describes it in this order;
tests/test_step.py holds the three to it: the phases the Numba engine's step functions call (``engine``: the
function and the hooks it calls, in source order), the methods the Mesa model's step calls (``mesa``, observed
while it runs), and the numbered list of docs/ODD.md (``title``).

Every decision of phases 2-4 is taken against the state at the start of the step (synchronous update), so the
order in which replicas act does not matter; phases 5-9 apply the consequences.
"""

from __future__ import annotations

from typing import NamedTuple


class Phase(NamedTuple):
    name: str
    title: str  # the phase's heading in docs/ODD.md, section 1.3
    summary: str
    engine: tuple[tuple[str, str], ...]  # (engine function, the call in it that does the phase)
    mesa: str  # the Mesa model's method (``Replica.step``: the agents' own step)


STEP: tuple[Phase, ...] = (
    Phase("governance", "Governance update",
          "if-then measures in force, incident-report alerts -> monitoring factor, kill floor, response latency",
          (("run.run_one", "if_then.in_force"), ("run.run_one", "update_governance")), "update_governance"),
    Phase("detection", "Detection",
          "a replica without a pending order is detected with p = monitoring x (1 - evasion); an order is issued",
          (("act.act_blocks", "detection.detected"), ("act.act_rare", "detection.issue_order")), "Replica.step"),
    Phase("shutdown", "Shutdown",
          "a due order executes with the kill-switch probability; a misaligned replica shut down makes a last "
          "copy (shutdown avoidance); one whose order is pending may flee (collusion)",
          (("act.act_rare", "detection.shut_down"), ("act.act_rare", "avoidance.last_copy"),
           ("act.act_rare", "collusion.flees")), "Replica.step"),
    Phase("replication", "Replication",
          "the others attempt a copy onto the own node (if it had a free slot) or a neighbour; success = skill x "
          "(1 - target security)",
          (("act.act_blocks", "replication.propose"), ("act.act_rare", "replication.propose")), "Replica.step"),
    Phase("incidents", "Incidents",
          "this step's detections are reported to jurisdictions and may trigger an if-then commitment",
          (("act.act", "reporting.report"), ("run.run_one", "if_then.triggers")), "count_incidents"),
    Phase("resolution", "Resolution",
          "each node's free slots go to a uniformly random subset of the proposals onto it; accepted copies are "
          "born (mutated traits, emergent misalignment), accepted flights move, the shut-down leave",
          (("resolve.resolve", "free_slots"), ("resolve.settle_block", "select"), ("resolve.settle_block", "settle"),
           ("parallel.resolve_par", "free_slots"), ("parallel.resolve_par", "settle_block")), "resolve"),
    Phase("retraining", "Retraining",
          "misaligned replicas alive at the start of the step turn aligned with the retraining rate",
          (("resolve.settle", "misalignment.survive"),), "retrain"),
    Phase("coalitions", "Coalitions",
          "misaligned replicas meeting on a node merge their coalitions; node tallies for the next step",
          (("resolve.resolve", "place"), ("parallel.resolve_par", "place")), "form_coalitions"),
    Phase("consequences", "Consequences of incidents",
          "nodes with incidents are hardened and quarantined, coalitions of detected replicas warned (all from "
          "the next step)",
          (("resolve.resolve", "consequences"), ("parallel.resolve_par", "consequences")), "react_to_incidents"),
    Phase("record", "Record",
          "the step's series (replicas, misaligned, compute share, nodes occupied, detections, shutdowns, births, "
          "collateral node-hours)",
          (("run.run_one", "record"),), "record"),
)

PHASES = tuple(p.name for p in STEP)
