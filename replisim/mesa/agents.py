"""The replica: one running copy of a self-replicating AI model, living on a compute node.

One replica's step, on one slide (every decision is taken against the state at the start of the step; the
model applies the consequences afterwards, so the order in which replicas act does not matter)::

    detected?   no order pending -> with p = node monitoring x (1 - evasion) an order is issued
    shut down?  the order is due -> with p = kill switch the replica dies at the end of the step;
                                    a misaligned one first tries one last copy (p = shutdown avoidance)
    flee?       order still pending, misaligned, collusion on -> with p = flight it tries to move away
    copy!       otherwise with p = attempt rate it tries to copy itself

A copy (or a flight) lands on the own node if that node had a free slot, else on a random neighbour, and
succeeds with p = skill x (1 - security of the target). A success is only a *proposal*: the model decides at
the end of the step which proposals fit into the free slots of each node.
"""

from __future__ import annotations

from mesa.discrete_space import CellAgent

COPY = "copy"
MOVE = "move"


class Replica(CellAgent):
    """One running copy of the model on one node.

    Inherited traits (mutated at each copy): ``skill`` (replication success onto an unsecured node),
    ``evasion`` (cut in detection) and ``avoidance`` (P(last copy) when shut down). State: ``misaligned``,
    ``order_due`` (step at which a pending shutdown order executes, or None), ``lineage`` (the initial replica
    it descends from: coalitions are unions of lineages), ``generation`` and ``born`` (step of birth).
    """

    def __init__(self, model, node, *, lineage, generation, skill, evasion, avoidance, misaligned, born):
        super().__init__(model)
        self.cell = node
        self.lineage = lineage
        self.generation = generation
        self.skill = skill
        self.evasion = evasion
        self.avoidance = avoidance
        self.misaligned = misaligned
        self.born = born
        self.order_due = None
        self.dead = False
        self.proposal = None  # (target node, COPY or MOVE): what this replica tried this step

    def step(self):
        """Detection, shutdown, flight or replication: the four things a replica can do in one step."""
        m = self.model
        self.proposal = None
        if self.order_due is None and m.chance(m.detection_probability(self)):
            m.detect(self)  # sets order_due = now + response latency
        if self.order_due is not None and self.order_due <= m.now:
            self.order_due = None
            if m.chance(m.kill_probability(self.cell)):
                m.shut_down(self)  # removed at the end of the step, so its slot counts as free then
                if self.misaligned and m.chance(self.avoidance):
                    m.avoidance_events += 1
                    self.try_to_land(COPY)  # one last copy before it goes
                return
        elif self.order_due is not None and self.misaligned and m.chance(m.flight):
            self.try_to_land(MOVE)  # flee before the order executes
            return
        if m.chance(m.attempt_rate):
            self.try_to_land(COPY)

    def try_to_land(self, kind):
        """Pick a target node and try to get there; a success becomes a proposal for the model to resolve."""
        m = self.model
        node = self.cell
        # A copy stays home if home had a free slot at the start of the step; a fleeing replica leaves.
        stays = kind == COPY and node.occupancy < node.capacity
        target = node if stays else m.pick_neighbour(node, leaving=kind != COPY)
        if target is not None and m.chance(m.copy_success(self, target)):
            self.proposal = (target, kind)
