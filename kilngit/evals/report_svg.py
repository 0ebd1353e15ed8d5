"""Inline SVG charts for the static report: bars with confidence intervals, scatter plots with a highlighted
front, and line charts (also meant for other sections, e.g. fine-tune loss curves). No JavaScript, no fonts
or files fetched: each function returns one `<svg>` element as a string.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#4b5563", "#ca8a04")
_FONT = 'font-family="system-ui, sans-serif" font-size="11"'


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None
    low: float | None = None
    high: float | None = None
    highlight: bool = False


@dataclass(frozen=True)
class Point:
    label: str
    x: float
    y: float
    highlight: bool = False


@dataclass(frozen=True)
class Series:
    label: str
    points: Sequence[tuple[float, float]]


def bar_chart(
    bars: Sequence[Bar], *, lo: float = 0.0, hi: float = 1.0, width: int = 520, title: str = ""
) -> str:
    """Horizontal bars on a fixed lo..hi scale, with a whisker for each bar's [low, high] interval."""
    label_w, row_h, top = 170, 22, 24 if title else 6
    plot_w = width - label_w - 50
    height = top + row_h * len(bars) + 22

    def x(v: float) -> float:
        return label_w + (min(max(v, lo), hi) - lo) / (hi - lo or 1) * plot_w

    parts = [_open(width, height, title)]
    if title:
        parts.append(f'<text x="4" y="15" {_FONT} font-weight="600">{escape(title)}</text>')
    for i, bar in enumerate(bars):
        y = top + i * row_h
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end" {_FONT}>{escape(_clip(bar.label, 26))}</text>'
        )
        if bar.value is None:
            parts.append(f'<text x="{label_w + 4}" y="{y + 14}" {_FONT} fill="#6b7280">no scores</text>')
            continue
        color = PALETTE[0] if bar.highlight else "#93c5fd"
        parts.append(
            f'<rect x="{label_w}" y="{y + 4}" width="{max(x(bar.value) - label_w, 1):.1f}" height="14" '
            f'fill="{color}"><title>{escape(bar.label)}: {bar.value:.3f}</title></rect>'
        )
        if bar.low is not None and bar.high is not None:
            mid = y + 11
            parts.append(
                f'<path d="M{x(bar.low):.1f},{mid} H{x(bar.high):.1f} M{x(bar.low):.1f},{mid - 4} V{mid + 4} '
                f'M{x(bar.high):.1f},{mid - 4} V{mid + 4}" stroke="#111827" fill="none"/>'
            )
        parts.append(
            f'<text x="{x(bar.high if bar.high is not None else bar.value) + 4:.1f}" y="{y + 14}" '
            f"{_FONT}>{bar.value:.2f}</text>"
        )
    axis_y = top + row_h * len(bars) + 4
    parts.append(f'<path d="M{label_w},{axis_y} H{label_w + plot_w}" stroke="#9ca3af"/>')
    for tick in (lo, (lo + hi) / 2, hi):
        parts.append(
            f'<text x="{x(tick):.1f}" y="{axis_y + 13}" text-anchor="middle" {_FONT} fill="#6b7280">'
            f"{tick:g}</text>"
        )
    return "".join(parts) + "</svg>"


def scatter_plot(
    points: Sequence[Point],
    *,
    x_label: str,
    y_label: str,
    width: int = 520,
    height: int = 300,
    title: str = "",
    connect_highlighted: bool = True,
    log_x: bool = False,
) -> str:
    """Labeled points; highlighted ones (e.g. a Pareto front) drawn strong and joined by a line in x order.

    `log_x` draws x on a log scale (costs spanning orders of magnitude; every x must be > 0). A label that
    would overlap another label, a point or the chart's edge is moved to another side of its point, and
    dropped when no side is free: dropped labels are listed in a legend under the chart."""
    if not points:
        return _nothing(width, title)
    log_x = log_x and all(p.x > 0 for p in points)
    placed: list[tuple[float, float, float, float]] = []
    frame = _Frame.around([p.x for p in points], [p.y for p in points], width, height, title, log_x=log_x)
    px, py = frame.px, frame.py
    dots = [(px(p.x) - 5, py(p.y) - 5, px(p.x) + 5, py(p.y) + 5) for p in points]
    labels, dropped = [], []
    for p in sorted(points, key=lambda p: (-p.highlight, -p.y, p.x)):  # the front's labels get the best spots
        text = _clip(p.label, 24)
        spot = _free_spot(px(p.x), py(p.y), len(text), placed + dots, frame)
        if spot is None:
            dropped.append(p)
            continue
        x, y, anchor, box = spot
        placed.append(box)
        labels.append(f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" {_FONT}>{escape(text)}</text>')
    legend_h = 14 * len(dropped) + (8 if dropped else 0)
    parts = frame.start(x_label, y_label, extra_height=legend_h)
    front = sorted((p for p in points if p.highlight), key=lambda p: p.x)
    if connect_highlighted and len(front) > 1:
        path = " ".join(f"{'M' if i == 0 else 'L'}{px(p.x):.1f},{py(p.y):.1f}" for i, p in enumerate(front))
        parts.append(f'<path d="{path}" stroke="{PALETTE[0]}" stroke-dasharray="4 3" fill="none"/>')
    for p in points:
        fill = PALETTE[0] if p.highlight else "#9ca3af"
        parts.append(
            f'<circle cx="{px(p.x):.1f}" cy="{py(p.y):.1f}" r="5" fill="{fill}"><title>{escape(p.label)}: '
            f"{p.x:.6g}, {p.y:.3f}</title></circle>"
        )
    parts += labels
    for i, p in enumerate(dropped):
        parts.append(
            f'<text x="{frame.left}" y="{height + 12 + 14 * i}" {_FONT} fill="#374151">'
            f"{escape(_clip(p.label, 40))}: {_tick(p.x)}, {p.y:.3f} (label not drawn: no room)</text>"
        )
    return "".join(parts) + "</svg>"


#: Approximate size of one character and of a line of the chart font, in pixels (for label placement).
_CHAR_W, _LINE_H = 6.2, 12.0


def _free_spot(
    x: float, y: float, chars: int, taken: list[tuple[float, float, float, float]], frame: _Frame
) -> tuple[float, float, str, tuple[float, float, float, float]] | None:
    """Where a label of `chars` characters beside the point at (x, y) overlaps nothing in `taken` and stays
    inside the plot: right-above, left-above, right-below, left-below, above, below."""
    w = chars * _CHAR_W
    own = (x - 5, y - 5, x + 5, y + 5)
    for dx, dy, anchor in (
        (7, -6, "start"),
        (-7, -6, "end"),
        (7, 14, "start"),
        (-7, 14, "end"),
        (0, -9, "middle"),
        (0, 19, "middle"),
    ):
        tx, ty = x + dx, y + dy
        left = tx if anchor == "start" else tx - w if anchor == "end" else tx - w / 2
        box = (left, ty - _LINE_H + 2, left + w, ty + 2)
        inside = (
            box[0] >= frame.left + 1
            and box[2] <= frame.width - 2
            and box[1] >= frame.top - 4
            and box[3] <= frame.height - frame.bottom - 1
        )
        if inside and not any(_overlap(box, t) for t in taken if t != own):
            return tx, ty, anchor, box
    return None


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def line_chart(
    series: Sequence[Series],
    *,
    x_label: str,
    y_label: str,
    width: int = 520,
    height: int = 260,
    title: str = "",
) -> str:
    """One polyline per series on shared axes, with a legend (e.g. training and validation loss per step)."""
    all_points = [pt for s in series for pt in s.points]
    if not all_points:
        return _nothing(width, title)
    frame = _Frame.around(
        [p[0] for p in all_points], [p[1] for p in all_points], width, height, title, x_pad=0.0
    )
    px, py, parts = frame.px, frame.py, frame.start(x_label, y_label)
    for i, s in enumerate(series):
        color = PALETTE[i % len(PALETTE)]
        path = " ".join(
            f"{'M' if k == 0 else 'L'}{px(x):.1f},{py(y):.1f}" for k, (x, y) in enumerate(s.points)
        )
        parts.append(f'<path d="{path}" stroke="{color}" stroke-width="1.5" fill="none"/>')
        legend_x, legend_y = width - frame.right - 120, frame.top + 4 + i * 14
        parts.append(
            f'<rect x="{legend_x}" y="{legend_y}" width="10" height="10" fill="{color}"/><text '
            f'x="{legend_x + 14}" y="{legend_y + 9}" {_FONT}>{escape(_clip(s.label, 18))}</text>'
        )
    return "".join(parts) + "</svg>"


def _nothing(width: int, title: str) -> str:
    return _open(width, 40, title) + f'<text x="4" y="24" {_FONT}>nothing to plot</text></svg>'


def _open(width: int, height: int, title: str) -> str:
    return (
        f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(title or "chart")}">'
    )


@dataclass(frozen=True)
class _Frame:
    """The plot area of an x/y chart: scales from data to pixels, axes with ticks, axis labels."""

    width: int
    height: int
    title: str
    xr: tuple[float, float]
    yr: tuple[float, float]
    left: int = 56
    right: int = 20
    bottom: int = 40
    log_x: bool = False

    @classmethod
    def around(
        cls,
        xs: list[float],
        ys: list[float],
        width: int,
        height: int,
        title: str,
        x_pad: float = 0.08,
        log_x: bool = False,
    ) -> _Frame:
        """A frame whose axes span the data, padded (on a log scale: a third of a decade each side)."""
        if log_x:
            lo, hi = math.log10(min(xs)), math.log10(max(xs))
            xr = (lo - 0.33, hi + 0.33)
        else:
            xr = _padded(min(xs), max(xs), x_pad)
        return cls(width, height, title, xr, _padded(min(ys), max(ys)), log_x=log_x)

    @property
    def top(self) -> int:
        return 26 if self.title else 10

    def px(self, v: float) -> float:
        """Pixel x of a data value (the range `xr` is in log10 units on a log axis)."""
        pos = math.log10(v) if self.log_x else v
        return self.left + (pos - self.xr[0]) / (self.xr[1] - self.xr[0]) * (
            self.width - self.left - self.right
        )

    def py(self, v: float) -> float:
        span = self.height - self.top - self.bottom
        return self.height - self.bottom - (v - self.yr[0]) / (self.yr[1] - self.yr[0]) * span

    def start(self, x_label: str, y_label: str, extra_height: int = 0) -> list[str]:
        """The opening tag (`extra_height` pixels taller, for a legend under the chart), title, axes, ticks
        and axis labels."""
        x_end, y_end, mid_y = (
            self.width - self.right,
            self.height - self.bottom,
            (self.top + self.height - self.bottom) / 2,
        )
        parts = [_open(self.width, self.height + extra_height, self.title)]
        if self.title:
            parts.append(f'<text x="4" y="15" {_FONT} font-weight="600">{escape(self.title)}</text>')
        parts.append(f'<path d="M{self.left},{self.top} V{y_end} H{x_end}" stroke="#9ca3af" fill="none"/>')
        for xv in _log_ticks(*self.xr) if self.log_x else _ticks(*self.xr):
            parts.append(
                f'<text x="{self.px(xv):.1f}" y="{y_end + 14}" text-anchor="middle" {_FONT} '
                f'fill="#6b7280">{_tick(xv)}</text>'
            )
        for yv in _ticks(*self.yr):
            parts.append(
                f'<text x="{self.left - 4}" y="{self.py(yv) + 4:.1f}" text-anchor="end" {_FONT} '
                f'fill="#6b7280">{_tick(yv)}</text>'
            )
        parts.append(
            f'<text x="{(self.left + x_end) / 2}" y="{self.height - 6}" text-anchor="middle" {_FONT}>'
            f"{escape(x_label)}</text>"
        )
        parts.append(
            f'<text x="12" y="{mid_y}" text-anchor="middle" {_FONT} transform="rotate(-90 12 {mid_y})">'
            f"{escape(y_label)}</text>"
        )
        return parts


def _padded(lo: float, hi: float, pad: float = 0.08) -> tuple[float, float]:
    if hi == lo:  # one value: give it room on both sides
        return (lo - 1, hi + 1) if lo == 0 else (lo - abs(lo) * 0.5, hi + abs(hi) * 0.5)
    span = hi - lo
    low = lo - span * pad
    return (0.0 if lo >= 0 > low else low), hi + span * pad  # costs and latencies never go below zero


def _ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """About `count` round tick values (1, 2 or 5 times a power of ten apart) within lo..hi; on an axis
    spanning a few units or more (steps, counts) the step is never below 1, so no fractional tick appears."""
    span = hi - lo
    if span <= 0:
        return [lo]
    raw = span / (count - 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    if raw > 0.5:  # an axis of units (steps, counts, stars): whole-number ticks only
        step = max(step, 1.0)
    first = math.ceil(lo / step) * step
    out, v = [], first
    while v <= hi + step * 1e-9:
        out.append(round(v, 12))
        v += step
    return out


def _log_ticks(lo: float, hi: float) -> list[float]:
    """Powers of ten (and 2x, 5x when the range is under two decades) inside the log10 range lo..hi."""
    decades = range(math.floor(lo), math.ceil(hi) + 1)
    factors = (1, 2, 5) if hi - lo < 2 else (1,)
    return [f * 10.0**d for d in decades for f in factors if lo <= math.log10(f * 10.0**d) <= hi]


def _tick(value: float) -> str:
    return f"{value:.3g}"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
