"""The words and number formats that the terminal table, the report and the docs share, said once.

Outcomes at the horizon (docs/governance.md, "Outcomes: contained, held, loss of control"). Every run ends in
exactly one of three states:

* **contained**: no live replica is left (the engine's outcome column ``extinct``; ``time_to_containment`` is
  the hour the last one went);
* **held**: replicas survive, below the loss-of-control share of the compute;
* **loss of control**: live replicas hold at least that share (the column ``loss_of_control``,
  ``replisim.results.LOSS_OF_CONTROL``).

The engine's column names stay as they are (other code reads them); only what people read is named here.
"""

from __future__ import annotations

import numpy as np

from .results import LOSS_OF_CONTROL

# outcome column -> the label of its probability, as the terminal table, the report and the figures print it
P_LABELS = {"loss_of_control": "P(loss of control)", "extinct": "P(contained)"}
# what each word means, for the report's methods text (the docs say the same in docs/governance.md)
DEFINITIONS = {
    "contained": "no live replica at the horizon (the outcome column `extinct`)",
    "held": "replicas survive the horizon below the loss-of-control share",
    "loss of control": LOSS_OF_CONTROL.removeprefix("loss of control: "),
}


def definitions_sentence() -> str:
    """The three outcomes in one sentence, for the methods text of a report."""
    return "Outcomes at the horizon: " + "; ".join(f"{word}: {text}" for word, text in DEFINITIONS.items()) + "."


def fmt_num(x) -> str:
    """A count, time or cost as an analyst reads it, the same in the terminal and the report: 2,170 (never
    2.17e+03), 32.5, 1.64; ``never`` for +inf (a time not reached by the horizon), ``-`` for NaN."""
    if isinstance(x, (bool, np.bool_)):
        return str(x)
    if isinstance(x, (int, np.integer)):
        return f"{int(x):,}"
    x = float(x)
    if np.isnan(x):
        return "-"
    if np.isinf(x):
        return "never" if x > 0 else "-inf"
    if abs(x) >= 100 or x == round(x):
        return f"{x:,.0f}"
    return f"{x:.3g}"


def fmt_p(p: float) -> str:
    """A probability or share: three decimals."""
    return "-" if np.isnan(p) else f"{p:.3f}"


def fmt_interval(lo: float, hi: float, fmt=fmt_p) -> str:
    """``[lo, hi]`` with each end formatted by ``fmt``."""
    return f"[{fmt(lo)}, {fmt(hi)}]"
