"""Inline SVG charts for the static report: bars with confidence intervals, scatter plots with a highlighted
front, and line charts (also meant for other sections, e.g. fine-tune loss curves). No JavaScript, no fonts
or files fetched: each function returns one `<svg>` element as a string.
"""

from __future__ import annotations

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
) -> str:
    """Labeled points; highlighted ones (e.g. a Pareto front) drawn strong and joined by a line in x order."""
    if not points:
        return _nothing(width, title)
    frame = _Frame.around([p.x for p in points], [p.y for p in points], width, height, title)
    px, py, parts = frame.px, frame.py, frame.start(x_label, y_label)
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
        right_half = px(p.x) > width * 0.6  # labels of points on the right go to their left, inside the chart
        anchor = f'x="{px(p.x) - 7:.1f}" text-anchor="end"' if right_half else f'x="{px(p.x) + 7:.1f}"'
        parts.append(f'<text {anchor} y="{py(p.y) - 6:.1f}" {_FONT}>{escape(_clip(p.label, 24))}</text>')
    return "".join(parts) + "</svg>"


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

    @classmethod
    def around(
        cls, xs: list[float], ys: list[float], width: int, height: int, title: str, x_pad: float = 0.08
    ) -> _Frame:
        """A frame whose axes span the data, padded."""
        return cls(width, height, title, _padded(min(xs), max(xs), x_pad), _padded(min(ys), max(ys)))

    @property
    def top(self) -> int:
        return 26 if self.title else 10

    def px(self, v: float) -> float:
        return self.left + (v - self.xr[0]) / (self.xr[1] - self.xr[0]) * (
            self.width - self.left - self.right
        )

    def py(self, v: float) -> float:
        span = self.height - self.top - self.bottom
        return self.height - self.bottom - (v - self.yr[0]) / (self.yr[1] - self.yr[0]) * span

    def start(self, x_label: str, y_label: str) -> list[str]:
        """The opening tag, title, axes, ticks and axis labels."""
        x_end, y_end, mid_y = (
            self.width - self.right,
            self.height - self.bottom,
            (self.top + self.height - self.bottom) / 2,
        )
        parts = [_open(self.width, self.height, self.title)]
        if self.title:
            parts.append(f'<text x="4" y="15" {_FONT} font-weight="600">{escape(self.title)}</text>')
        parts.append(f'<path d="M{self.left},{self.top} V{y_end} H{x_end}" stroke="#9ca3af" fill="none"/>')
        for i in range(5):
            xv = self.xr[0] + (self.xr[1] - self.xr[0]) * i / 4
            yv = self.yr[0] + (self.yr[1] - self.yr[0]) * i / 4
            parts.append(
                f'<text x="{self.px(xv):.1f}" y="{y_end + 14}" text-anchor="middle" {_FONT} '
                f'fill="#6b7280">{_tick(xv)}</text>'
            )
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


def _tick(value: float) -> str:
    return f"{value:.3g}"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
