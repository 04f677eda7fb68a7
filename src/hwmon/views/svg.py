"""Inline SVG for the HTML report: a line chart and a phase timeline. Geometry only — every number printed on a
chart (axis ticks, the title's figures) is spelt by ``hwmon.model.fmt``; the series and the phases' durations come
from the model. Text is escaped for XML after ``safe_text`` (log text is data)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from hwmon.model.fmt import fmt_duration, fmt_number
from hwmon.model.text import safe_text

__all__ = ["Series", "Span", "line_chart", "nice_ticks", "timeline"]

WIDTH = 720
HEIGHT = 260
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 28, 40


def _x(text: object, limit: int = 200) -> str:
    return escape(safe_text(text, limit), quote=True)


@dataclass(frozen=True)
class Series:
    """One line (or set of markers) on a chart: its label, points (x, y), CSS class and whether it is drawn as
    markers (eval points) rather than a line."""

    label: str
    points: Sequence[tuple[float, float]]
    css: str
    markers: bool = False


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About ``count`` round tick values covering [low, high] (1, 2, 5 x 10^n steps)."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return []
    if high <= low:
        return [low]
    raw = (high - low) / max(1, count)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step) * step
    ticks: list[float] = []
    value = first
    while value <= high + step * 1e-9 and len(ticks) < 50:
        ticks.append(round(value, 12))
        value += step
    return ticks


def line_chart(title: str, series: Sequence[Series], *, x_label: str, y_label: str, log_y: bool = False) -> str:
    """An SVG line chart of ``series`` (empty string when no series has a point)."""
    finite = [
        (x, y) for s in series for x, y in s.points if math.isfinite(x) and math.isfinite(y) and (not log_y or y > 0)
    ]
    if not finite:
        return ""
    x_low, x_high = min(p[0] for p in finite), max(p[0] for p in finite)
    ys = [math.log10(p[1]) if log_y else p[1] for p in finite]
    y_low, y_high = min(ys), max(ys)
    if x_high == x_low:
        x_low, x_high = x_low - 1, x_high + 1
    if y_high == y_low:
        pad = abs(y_low) * 0.05 or 1.0
        y_low, y_high = y_low - pad, y_high + pad
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(x: float) -> float:
        return LEFT + (x - x_low) / (x_high - x_low) * plot_w

    def py(y: float) -> float:
        value = math.log10(y) if log_y else y
        return TOP + (1 - (value - y_low) / (y_high - y_low)) * plot_h

    out = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{_x(title)}" '
        'xmlns="http://www.w3.org/2000/svg">',
        f'<text class="title" x="{LEFT}" y="16">{_x(title)}</text>',
        f'<rect class="plot" x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}"/>',
    ]
    for tick in nice_ticks(y_low, y_high):
        label = fmt_number(10**tick if log_y else tick)
        y = TOP + (1 - (tick - y_low) / (y_high - y_low)) * plot_h
        out.append(f'<line class="grid" x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y:.1f}" y2="{y:.1f}"/>')
        out.append(f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_x(label)}</text>')
    for tick in nice_ticks(x_low, x_high, 6):
        x = px(tick)
        label = f"{tick:.0f}" if float(tick).is_integer() else fmt_number(tick)
        out.append(f'<line class="grid" x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{TOP + plot_h}"/>')
        out.append(f'<text class="tick" x="{x:.1f}" y="{TOP + plot_h + 16}" text-anchor="middle">{_x(label)}</text>')
    out.append(
        f'<text class="axis" x="{LEFT + plot_w / 2:.0f}" y="{HEIGHT - 4}" text-anchor="middle">{_x(x_label)}</text>'
    )
    out.append(
        f'<text class="axis" transform="translate(14 {TOP + plot_h / 2:.0f}) rotate(-90)" '
        f'text-anchor="middle">{_x(y_label)}</text>'
    )
    for s in series:
        pts = [(px(x), py(y)) for x, y in s.points if math.isfinite(x) and math.isfinite(y) and (not log_y or y > 0)]
        if not pts:
            continue
        if s.markers:
            out.extend(
                f'<rect class="{s.css}" x="{x - 3:.1f}" y="{y - 3:.1f}" width="6" height="6" '
                f'transform="rotate(45 {x:.1f} {y:.1f})"><title>{_x(s.label)}</title></rect>'
                for x, y in pts
            )
        else:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
            out.append(f'<polyline class="{s.css}" points="{path}"><title>{_x(s.label)}</title></polyline>')
    legend_x = LEFT + plot_w
    for index, s in enumerate(reversed([s for s in series if s.points])):
        out.append(
            f'<text class="legend {s.css}-text" x="{legend_x - index * 150}" y="16" text-anchor="end">'
            f"{_x(s.label, 40)}</text>"
        )
    out.append("</svg>")
    return "\n".join(out)


@dataclass(frozen=True)
class Span:
    """A phase span on the run's time axis: its name, start offset and length (seconds), and its label."""

    name: str
    start: float
    seconds: float
    label: str


def timeline(spans: Sequence[Span], title: str) -> str:
    """The phase timeline: one row per phase name, each span a bar on the shared time axis."""
    if not spans:
        return ""
    names: list[str] = []
    for span in spans:
        if span.name not in names:
            names.append(span.name)
    end = max(s.start + s.seconds for s in spans) or 1.0
    row_h = 22
    label_w = 96
    plot_w = WIDTH - label_w - RIGHT
    height = TOP + row_h * len(names) + 24
    out = [
        f'<svg class="timeline" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="phase timeline" '
        'xmlns="http://www.w3.org/2000/svg">'
    ]
    for row, name in enumerate(names):
        y = TOP + row * row_h
        out.append(f'<text class="tick" x="{label_w - 8}" y="{y + 15}" text-anchor="end">{_x(name)}</text>')
    for span in spans:
        row = names.index(span.name)
        x = label_w + span.start / end * plot_w
        w = max(1.5, span.seconds / end * plot_w)
        y = TOP + row * row_h + 3
        out.append(
            f'<rect class="phase phase-{_x(span.name)}" x="{x:.1f}" y="{y}" width="{w:.1f}" height="{row_h - 6}">'
            f"<title>{_x(span.label)}</title></rect>"
        )
    axis_y = TOP + row_h * len(names) + 14
    for tick in nice_ticks(0.0, end, 6):
        x = label_w + tick / end * plot_w
        out.append(f'<text class="tick" x="{x:.1f}" y="{axis_y}" text-anchor="middle">{fmt_duration(tick)}</text>')
    out.append(f'<text class="title" x="{label_w}" y="16">{_x(title)}</text>')
    out.append("</svg>")
    return "\n".join(out)
