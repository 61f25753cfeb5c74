"""The page's pictures as SVG text that the browser draws: the node network and the four line charts.

Drawing in the browser is what lets the page play 10+ steps per second: a frame is a few kilobytes of SVG that
Python writes in about a millisecond (matplotlib took 1 s of CPU for the five images of one frame). Everything
here is a pure function of the numbers it is given: the charts' titles are formatted from the last point of
the line they head, so a title always states a value on the plotted line.

Sizes are in SVG user units; the page scales a picture to its column, and sets the column no narrower than the
picture's width in units (see ``app.CSS``), so text of ``FONT`` units is never drawn smaller than ``FONT`` px.
"""

from __future__ import annotations

import math
from html import escape

import numpy as np

FONT = 15  # tick labels and legends; titles are a little larger
TITLE_FONT = 16
CHART_W, CHART_H = 340, 170
NET_W = 340
ALIGNED, MISALIGNED = "#1f6fd1", "#d62728"
OCCUPANCY = ("#ffffff", "#ececec", "#d9d9d9", "#c6c6c6", "#b3b3b3")  # empty ... full
VIRIDIS = ("#440154", "#414487", "#2a788e", "#22a884", "#7ad151", "#fde725")
TAB10 = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
         "#17becf")


def number(value: float, share: bool = False) -> str:
    """A plain number for people: thousands separators, no scientific notation (1,182; 0.4%; 91%)."""
    if share:
        return "0%" if value == 0 else f"{value:.1%}" if value < 0.1 else f"{value:.0%}"
    if abs(value - round(value)) < 1e-9:
        return f"{round(value):,}"
    return f"{value:,.1f}" if abs(value) >= 10 else f"{value:,.2f}"


def nice_top(top: float, share: bool) -> tuple[float, float]:
    """The axis end at or above ``top`` and its tick spacing (1, 2 or 5 times a power of ten; 4-5 ticks)."""
    top = max(top, 0.05 if share else 5)
    raw = top / 4
    base = 10 ** math.floor(math.log10(raw))
    step = next(m * base for m in (1, 2, 2.5, 5, 10) if m * base >= raw)
    if not share:
        step = max(step, 1)
    return step * math.ceil(top / step - 1e-9), step


def chart_svg(y: np.ndarray, horizon: int, title: str, colour: str, share: bool = False) -> str:
    """A line chart of ``y`` (one value per step, from step 0) on x from 0 to ``horizon``, titled with the
    last value: '<title>: <y[-1]>', and that point marked on the line."""
    y = np.asarray(y, float)
    left, right, top, bottom = 62, 14, 30, 40
    pw, ph = CHART_W - left - right, CHART_H - top - bottom
    ymax, ystep = nice_top(float(y.max()) if len(y) else 0.0, share)

    def sx(x):
        return left + pw * x / max(horizon, 1)

    def sy(v):
        return top + ph * (1 - v / ymax)

    parts = [f'<svg class="replisim-svg" viewBox="0 0 {CHART_W} {CHART_H}" xmlns="http://www.w3.org/2000/svg" '
             f'font-family="sans-serif" font-size="{FONT}" role="img">']
    value = number(y[-1], share) if len(y) else "–"
    parts.append(f'<text class="replisim-title" x="{left}" y="20" font-size="{TITLE_FONT}" font-weight="bold">'
                 f'{escape(title)}: {value}</text>')
    for k in range(int(round(ymax / ystep)) + 1):
        v = k * ystep
        parts.append(f'<line x1="{left}" x2="{left + pw}" y1="{sy(v):.1f}" y2="{sy(v):.1f}" stroke="#ddd"/>'
                     f'<text class="replisim-tick" x="{left - 6}" y="{sy(v) + 5:.1f}" text-anchor="end">'
                     f'{number(v, share)}</text>')
    xstep = nice_top(horizon, False)[1] if horizon > 8 else 1
    for x in np.arange(0, horizon + 1, xstep):
        parts.append(f'<text class="replisim-tick" x="{sx(x):.1f}" y="{top + ph + 18}" text-anchor="middle">'
                     f'{number(x)}</text>')
    parts.append(f'<text class="replisim-tick" x="{left + pw}" y="{CHART_H - 3}" text-anchor="end">step (hours)'
                 '</text>')
    parts.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>')
    if len(y):
        px, py = np.round(sx(np.arange(len(y))), 1).tolist(), np.round(sy(y), 1).tolist()
        points = " ".join(f"{a},{b}" for a, b in zip(px, py, strict=True))  # Python floats: numpy's format is slow
        parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2.2"/>'
                     f'<circle cx="{sx(len(y) - 1):.1f}" cy="{sy(y[-1]):.1f}" r="4" fill="{colour}"/>')
    parts.append("</svg>")
    return "".join(parts)


def _dots(xy: np.ndarray, diameter: float, colour: str, extra: str = "") -> str:
    """Round dots at ``xy`` as one SVG path: each a zero-length segment drawn with a round cap, the shortest
    text for a dot (``M12.3 4.5h0``); one element however many dots there are."""
    d = "".join(f"M{x} {y}h0" for x, y in np.round(xy, 1).tolist())  # Python floats: numpy's format is slow
    return f'<path d="{d}" stroke="{colour}" stroke-width="{diameter}" stroke-linecap="round"{extra}/>'


# where the replicas of a node sit around its centre: slot k at SLOTS[k] (fixed, so dots never dance)
SLOTS = np.array([(-1, -1), (1, -1), (-1, 1), (1, 1), (0, -1.6), (0, 1.6), (-1.6, 0), (1.6, 0)]) * 3.4


def node_colours(values: np.ndarray, by: str) -> tuple[list[str], str]:
    """A colour per node for the colouring ``by``, and the legend's HTML."""
    values = np.asarray(values, float)
    if by == "occupancy":
        idx = np.clip(np.round(values * (len(OCCUPANCY) - 1)), 0, len(OCCUPANCY) - 1).astype(int)
        swatches = "".join(f'<i style="background:{c}"></i>' for c in OCCUPANCY)
        return [OCCUPANCY[i] for i in idx], f"computer empty {swatches} full"
    if by == "jurisdiction":
        names = sorted(set(values.astype(int)))
        swatches = " ".join(f'<i style="background:{TAB10[j % 10]}"></i>{j + 1}' for j in names)
        return [TAB10[int(v) % 10] for v in values], f"jurisdiction: {swatches}"
    top = max(float(values.max()), 1e-9)
    idx = np.clip(np.floor(values / top * len(VIRIDIS)), 0, len(VIRIDIS) - 1).astype(int)
    swatches = "".join(f'<i style="background:{c}"></i>' for c in VIRIDIS)
    return [VIRIDIS[i] for i in idx], f"detection per hour: 0 {swatches} {number(top)}"


def network_html(xy: np.ndarray, values: np.ndarray, replicas: np.ndarray, misaligned: np.ndarray,
                 by: str) -> str:
    """The network: nodes at their layout positions coloured by ``by``, each replica a dot in one of its node's
    slots (blue aligned, red misaligned), with a one-line legend above."""
    xy = np.asarray(xy, float)
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    pad = 10
    scale = (NET_W - 2 * pad) / max(float((hi - lo).max()), 1e-9)  # one scale for x and y: no stretching
    pts = pad + (xy - lo) * scale
    height = int(np.ceil(pad + (hi[1] - lo[1]) * scale + pad))
    colours, legend = node_colours(values, by)
    parts = [f'<div class="replisim-legend">{legend} · replica <b style="color:{ALIGNED}">●</b> aligned '
             f'<b style="color:{MISALIGNED}">●</b> misaligned</div>',
             f'<svg class="replisim-svg" viewBox="0 0 {NET_W} {height}" xmlns="http://www.w3.org/2000/svg" role="img">']
    parts.append(_dots(pts, 16.2, "#777"))  # the nodes' outline: a slightly larger grey dot under each
    for c in dict.fromkeys(colours):
        parts.append(_dots(pts[np.array([k == c for k in colours])], 15, c))
    n = np.minimum(np.asarray(replicas, int), len(SLOTS))
    node = np.repeat(np.arange(len(n)), n)
    slot = np.arange(len(node)) - np.repeat(np.cumsum(n) - n, n)  # 0, 1, ... within each node
    bad = slot >= (n - np.minimum(misaligned, n))[node]  # misaligned replicas take the node's last slots
    where = pts[node] + SLOTS[slot]
    for colour, sel in ((ALIGNED, ~bad), (MISALIGNED, bad)):
        if sel.any():
            parts.append(_dots(where[sel], 4.8, colour))
    parts.append("</svg>")
    return "".join(parts)
