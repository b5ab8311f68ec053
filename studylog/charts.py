"""Inline SVG line charts for experiment records.

Drawn here rather than with matplotlib so a build with nothing to train stays light, and so the
charts share one step axis with the sample slider: the plot area spans [PAD_LEFT, WIDTH-PAD_RIGHT]
of the viewBox, and the page aligns the slider track to the same fractions.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 720, 200
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 62, 16, 12, 28   # room for 4-character y labels at a phone's larger font
MAX_POINTS = 400  # per series; keeps a 10k-step run's page small


@dataclass(frozen=True)
class Series:
    label: str
    values: list[float]
    css: str  # class name; colours live in the stylesheet (light and dark)


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering [lo, hi] (1, 2, 5 x 10^k spacing)."""
    if not math.isfinite(lo) or not math.isfinite(hi):
        return []
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / max(count - 1, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    ticks, t = [], first
    while t <= hi + step * 1e-9:
        ticks.append(round(t, 10))
        t += step
    return ticks


def log_ticks(lo: float, hi: float) -> list[float]:
    """Ticks for a log axis over [lo, hi] (lo > 0): 1, 2, 5 x 10^k over a span of up to two
    decades, powers of ten only beyond."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo <= 0 or hi <= lo:
        return []
    k0, k1 = math.floor(math.log10(lo) + 1e-9), math.ceil(math.log10(hi) - 1e-9)
    mults = (1, 2, 5) if k1 - k0 <= 2 else (1,)
    ticks = [float(f"{m}e{k}") for k in range(k0, k1 + 1) for m in mults]
    return [t for t in ticks if lo * (1 - 1e-9) <= t <= hi * (1 + 1e-9)]


def log_range(values: list[float]) -> tuple[float, float]:
    """Whole decades holding every positive finite value (for a log axis)."""
    pos = [v for v in values if math.isfinite(v) and v > 0] or [1.0]
    return 10.0 ** math.floor(math.log10(min(pos))), 10.0 ** math.ceil(math.log10(max(pos)) + 1e-12)


def _fmt(v: float) -> str:
    return f"{v:g}" if abs(v) < 1e5 else f"{v:.1e}"


def _thin(steps: list[int], values: list[float]) -> list[tuple[int, float]]:
    """Mean of each bucket when a series has more points than a page needs."""
    pts = [(s, v) for s, v in zip(steps, values) if math.isfinite(v)]
    if len(pts) <= MAX_POINTS:
        return pts
    size = len(pts) / MAX_POINTS
    out = []
    for i in range(MAX_POINTS):
        chunk = pts[int(i * size): int((i + 1) * size)] or pts[-1:]
        out.append((chunk[-1][0], sum(v for _, v in chunk) / len(chunk)))
    return out


@dataclass(frozen=True)
class Reference:
    """A horizontal reference line (e.g. the real-vs-real floor of a distance)."""
    label: str
    value: float
    css: str


def line_chart(steps: list[int], series: list[Series], *, max_step: int, title: str,
               y_range: tuple[float, float] | None = None, refs: list[Reference] = (),
               markers: bool = False, kind: str = "", log_y: bool = False) -> str:
    """An accessible SVG chart; x runs 0..max_step like the slider.
    refs: horizontal reference lines; markers: a dot at every point (sparse series);
    kind: an extra class on the svg (e.g. "quality"); log_y: a logarithmic y axis over
    y_range (or the whole decades holding the data), for values spanning orders of magnitude."""
    plot_w = WIDTH - PAD_LEFT - PAD_RIGHT
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    finite = [v for s in series for v in s.values if math.isfinite(v)]
    finite += [r.value for r in refs if math.isfinite(r.value)]
    if log_y:
        lo, hi = y_range if y_range else log_range(finite)
        yticks = log_ticks(lo, hi)
    else:
        lo, hi = y_range if y_range else ((min(finite), max(finite)) if finite else (0.0, 1.0))
        if hi <= lo:
            hi = lo + 1.0
        yticks = nice_ticks(lo, hi)
        if not y_range and yticks:
            lo, hi = min(lo, yticks[0]), max(hi, yticks[-1])
    scale = math.log10 if log_y else (lambda v: v)
    span = max(max_step, 1)

    def x(step: float) -> float:
        return PAD_LEFT + plot_w * step / span

    def y(v: float) -> float:
        return PAD_TOP + plot_h * (1 - (scale(min(max(v, lo), hi)) - scale(lo)) / (scale(hi) - scale(lo)))

    cls = f"chart {escape(kind)}" if kind else "chart"
    parts = [f'<svg class="{cls}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
             f'aria-label="{escape(title)}" data-x0="{PAD_LEFT}" data-x1="{WIDTH - PAD_RIGHT}" '
             f'data-max-step="{span}" preserveAspectRatio="none">',
             f'<title>{escape(title)}</title>']
    for t in yticks:
        parts.append(f'<line class="grid" x1="{PAD_LEFT}" x2="{WIDTH - PAD_RIGHT}" '
                     f'y1="{y(t):.1f}" y2="{y(t):.1f}"/>'
                     f'<text class="tick" x="{PAD_LEFT - 6}" y="{y(t):.1f}" '
                     f'text-anchor="end" dominant-baseline="central">{_fmt(t)}</text>')
    for t in nice_ticks(0, span):
        if t <= span:
            # hung below the plot, so a label's top stays clear of it whatever its font size
            # the label at the right edge ends inside the chart (a phone's larger font would clip it)
            edge = x(t) > WIDTH - PAD_RIGHT - 1
            parts.append(f'<text class="tick" x="{WIDTH - 2 if edge else round(x(t), 1)}" y="{HEIGHT - PAD_BOTTOM + 5}" '
                         f'text-anchor="{"end" if edge else "middle"}" dominant-baseline="hanging">{_fmt(t)}</text>')
    for r in refs:
        if math.isfinite(r.value):
            parts.append(f'<line class="ref {escape(r.css)}" vector-effect="non-scaling-stroke" x1="{PAD_LEFT}" x2="{WIDTH - PAD_RIGHT}" '
                         f'y1="{y(r.value):.1f}" y2="{y(r.value):.1f}"><title>{escape(r.label)}: '
                         f'{_fmt(round(r.value, 4))}</title></line>')
    for s in series:
        pts = _thin(steps, s.values)
        if not pts:
            continue
        d = " ".join(f"{x(st):.1f},{y(v):.1f}" for st, v in pts)
        parts.append(f'<polyline class="line {escape(s.css)}" vector-effect="non-scaling-stroke" points="{d}">'
                     f'<title>{escape(s.label)}</title></polyline>')
        if markers:
            parts.extend(f'<circle class="dot {escape(s.css)}" cx="{x(st):.1f}" cy="{y(v):.1f}" r="3">'
                         f'<title>{escape(s.label)} step {st}: {_fmt(round(v, 4))}</title></circle>'
                         for st, v in pts)
    parts.append(f'<line class="step-marker" x1="{PAD_LEFT}" x2="{PAD_LEFT}" '
                 f'y1="{PAD_TOP}" y2="{HEIGHT - PAD_BOTTOM}"/>')
    parts.append("</svg>")
    return "".join(parts)


def slider_inset() -> tuple[float, float]:
    """Left and right insets (percent of chart width) that align a slider with the plot area."""
    return PAD_LEFT / WIDTH * 100, PAD_RIGHT / WIDTH * 100
