"""Braille line charts with labelled axes, drawn as rich ``Text`` rows (no Textual, so they are unit-testable).

Why not plotext/textual-plotext: at the 4-6 rows a chart gets at 80x24, plotext spends most of them on its own
frame, title and tick rows, and its output is ANSI text that has to be parsed back into styles on every redraw.
Here each row is one ``Text``: a y label column, a braille plot area (2x4 dots a cell, so 4 dot rows per text row),
eval points as ``◆`` markers, and one x-label row. The chart redraws at most twice a second from the run model's
bounded series (at most a few hundred points), so the cost is a few hundred microseconds a frame.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rich.text import Text

from hwmon.model import fmt

Point = tuple[float, float]

BRAILLE_BASE = 0x2800
# Dot bits by (column, row) inside a braille cell.
_DOTS = ((0x01, 0x02, 0x04, 0x40), (0x08, 0x10, 0x20, 0x80))
LINE_STYLE = "cyan"
EVAL_STYLE = "bold magenta"
AXIS_STYLE = "dim"


@dataclass(frozen=True, slots=True)
class ChartView:
    """How the user looks at a chart: log-scaled y, zoom as the last ``1 / 2**zoom`` of the x range, and x as the
    step (default) or as the time since the first step (``x_time``; the caller maps the points)."""

    log_y: bool = False
    zoom: int = 0
    x_time: bool = False

    def window(self, x_lo: float, x_hi: float) -> tuple[float, float]:
        """The x range in view."""
        if self.zoom <= 0 or x_hi <= x_lo:
            return x_lo, x_hi
        return max(x_lo, x_hi - (x_hi - x_lo) / (2**self.zoom)), x_hi


def fmt_tick(value: float) -> str:
    """A short axis label: ``1.23``, ``0.0041``, ``12.5k``, ``3.2M``."""
    magnitude = abs(value)
    if magnitude < 1e4 and value == int(value):
        return str(int(value))
    if magnitude >= 1e6:
        return f"{value / 1e6:.3g}M"
    if magnitude >= 1e4:
        return f"{value / 1e3:.3g}k"
    return fmt.fmt_number(value, 3)


def continuous_steps(points: Sequence[Point]) -> tuple[list[Point], int]:
    """``points`` with a step counter that restarts (``step 0 of epoch 1`` after ``step 400 of epoch 0``) laid end
    to end: each restart continues from the previous step plus the usual step gap. Returns the points and how many
    restarts there were (0: the points are returned as they are)."""
    out: list[Point] = []
    restarts = 0
    offset = 0.0
    gap = 1.0
    previous: float | None = None
    for x, y in points:
        if previous is not None:
            if x + offset < previous:
                restarts += 1
                offset = previous + gap - x
            elif x + offset > previous:
                gap = x + offset - previous
        previous = x + offset
        out.append((x + offset, y))
    return (out if restarts else list(points)), restarts


def steps_to_time(points: Sequence[Point], step_times: Sequence[Point]) -> list[Point]:
    """``points`` (step, y) re-based on time: each step's time interpolated from ``step_times`` (step, seconds),
    as seconds since the first timed step. Points outside the timed steps are dropped."""
    timed = sorted((x, t) for x, t in step_times if math.isfinite(t))
    if len(timed) < 2 or timed[-1][1] - timed[0][1] <= 0:
        return []
    t0 = timed[0][1]
    xs = [x for x, _ in timed]
    out: list[Point] = []
    j = 0
    for x, y in sorted(points):
        if x < xs[0] or x > xs[-1]:
            continue
        while j + 1 < len(xs) and xs[j + 1] < x:
            j += 1
        xa, ta = timed[j]
        xb, tb = timed[min(j + 1, len(timed) - 1)]
        t = ta if xb == xa else ta + (tb - ta) * (x - xa) / (xb - xa)
        out.append((t - t0, y))
    return out


def _visible(points: Sequence[Point], lo: float, hi: float, log_y: bool) -> list[Point]:
    out = []
    for x, y in points:
        if lo <= x <= hi and math.isfinite(y) and (not log_y or y > 0):
            out.append((x, math.log10(y) if log_y else y))
    return out


def render_chart(
    points: Sequence[Point],
    *,
    width: int,
    height: int,
    view: ChartView = ChartView(),
    markers: Sequence[Point] = (),
    empty: str = "no values yet",
    x_fmt: Callable[[float], str] | None = None,
) -> list[Text]:
    """``height`` rows of ``width`` cells: the plot with y labels at its top, middle and bottom rows, then one row
    of x labels (first, middle and last step in view). Markers (eval points) are drawn over the line."""
    if height <= 0 or width <= 0:
        return []
    if not points:
        return [Text(empty, style="dim", no_wrap=True)] + [Text("") for _ in range(height - 1)]
    x_lo_all = min(x for x, _ in points)
    x_hi_all = max(x for x, _ in points)
    x_lo, x_hi = view.window(x_lo_all, x_hi_all)
    shown = _visible(points, x_lo, x_hi, view.log_y)
    marks = _visible(markers, x_lo, x_hi, view.log_y)
    if not shown:
        why = "no positive values for a log scale" if view.log_y else "no values in view"
        return [Text(why, style="dim", no_wrap=True)] + [Text("") for _ in range(height - 1)]
    ys = [y for _, y in shown] + [y for _, y in marks]
    y_lo, y_hi = min(ys), max(ys)
    if y_hi - y_lo < 1e-12:
        pad = abs(y_hi) * 0.05 or 1.0
        y_lo, y_hi = y_lo - pad, y_hi + pad
    plot_rows = max(1, height - 1)
    # Labelled rows: top and bottom, and evenly between them about every fourth row (one middle label from 3 rows).
    labels = {0: y_hi, plot_rows - 1: y_lo}
    ticks = max(3, min(7, plot_rows // 4 + 1)) if plot_rows >= 3 else 2
    for k in range(1, ticks - 1):
        at = round(k * (plot_rows - 1) / (ticks - 1))
        labels.setdefault(at, y_hi - (y_hi - y_lo) * at / (plot_rows - 1))

    def tick_text(value: float) -> str:
        return fmt_tick(10**value if view.log_y else value)

    label_width = min(9, max(len(tick_text(v)) for v in labels.values()))
    plot_width = max(2, width - label_width - 1)
    dots_x, dots_y = plot_width * 2, plot_rows * 4
    cells = [[0] * plot_width for _ in range(plot_rows)]
    span_x = x_hi - x_lo

    def to_dot(x: float, y: float) -> tuple[int, int]:
        dx = 0 if span_x <= 0 else int(round((x - x_lo) / span_x * (dots_x - 1)))
        dy = int(round((y_hi - y) / (y_hi - y_lo) * (dots_y - 1)))
        return max(0, min(dots_x - 1, dx)), max(0, min(dots_y - 1, dy))

    def dot(dx: int, dy: int) -> None:
        cells[dy // 4][dx // 2] |= _DOTS[dx % 2][dy % 4]

    previous: tuple[int, int] | None = None
    for x, y in shown:
        current = to_dot(x, y)
        if previous is None:
            dot(*current)
        else:
            _line(previous, current, dot)
        previous = current
    marker_cells = {(dy // 4, dx // 2) for dx, dy in (to_dot(x, y) for x, y in marks)}

    rows: list[Text] = []
    for r in range(plot_rows):
        row = Text(no_wrap=True, overflow="crop")
        label = tick_text(labels[r]) if r in labels else ""
        row.append(f"{label[:label_width]:>{label_width}}", style=AXIS_STYLE)
        row.append("┤" if r in labels else "│", style=AXIS_STYLE)
        run: list[str] = []
        for c in range(plot_width):
            if (r, c) in marker_cells:
                if run:
                    row.append("".join(run), style=LINE_STYLE)
                    run = []
                row.append("◆", style=EVAL_STYLE)
            else:
                bits = cells[r][c]
                run.append(chr(BRAILLE_BASE + bits) if bits else " ")
        if run:
            row.append("".join(run), style=LINE_STYLE)
        rows.append(row)
    if height > 1:
        rows.append(_x_labels(x_lo, x_hi, label_width, plot_width, x_fmt or fmt_tick))
    return rows


def _x_labels(x_lo: float, x_hi: float, label_width: int, plot_width: int, x_fmt: Callable[[float], str]) -> Text:
    row = [" "] * (label_width + 1 + plot_width)
    row[label_width] = "└"

    def place(at: int, label: str, align: str) -> None:
        start = at if align == "left" else at - len(label) // 2 if align == "center" else at - len(label) + 1
        start = max(label_width + 1, min(len(row) - len(label), start))
        if all(ch == " " for ch in row[max(label_width + 1, start - 1) : start + len(label) + 1]):
            row[start : start + len(label)] = list(label)

    place(label_width + 1, x_fmt(x_lo), "left")
    if x_hi > x_lo:
        place(len(row) - 1, x_fmt(x_hi), "right")
        if plot_width >= 24:
            place(label_width + 1 + plot_width // 2, x_fmt((x_lo + x_hi) / 2), "center")
    return Text("".join(row), style=AXIS_STYLE, no_wrap=True, overflow="crop")


def _line(a: tuple[int, int], b: tuple[int, int], plot: Callable[[int, int], None]) -> None:
    """Bresenham between two dots (inclusive)."""
    x0, y0 = a
    x1, y1 = b
    dx, dy = abs(x1 - x0), -abs(y1 - y0)
    sx = 1 if x0 < x1 else -1
    sy = 1 if y0 < y1 else -1
    err = dx + dy
    while True:
        plot(x0, y0)
        if x0 == x1 and y0 == y1:
            return
        e2 = 2 * err
        if e2 >= dy:
            err += dy
            x0 += sx
        if e2 <= dx:
            err += dx
            y0 += sy
