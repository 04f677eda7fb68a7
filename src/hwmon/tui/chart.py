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
RAW_STYLE = "dim cyan"
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


def restart_xs(points: Sequence[Point]) -> list[float]:
    """Where a restarting step counter begins again, on the laid-end-to-end axis of ``continuous_steps`` (a
    per-epoch counter: where each new epoch begins)."""
    laid, restarts = continuous_steps(points)
    if not restarts:
        return []
    return [laid[i][0] for i in range(1, len(points)) if points[i][0] < points[i - 1][0]]


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


def nice_step(span: float, ticks: int, *, integer: bool = False) -> float:
    """The round step (1, 2, 2.5 or 5 times a power of ten; whole numbers only with ``integer``) that puts at most
    about ``ticks`` ticks on ``span``."""
    raw = span / max(1, ticks - 1) if span > 0 else 1.0
    magnitude = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    for mantissa in (1.0, 2.0, 2.5, 5.0, 10.0):
        step = mantissa * magnitude
        if integer and (step < 1 or step != int(step)):
            continue
        if step >= raw:
            return step
    return max(1.0, 10 * magnitude) if integer else 10 * magnitude


def nice_ticks(lo: float, hi: float, ticks: int, *, integer: bool = False) -> list[float]:
    """Round values inside [lo, hi], about ``ticks`` of them (fewer when the range is narrow)."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi < lo:
        return []
    step = nice_step(hi - lo, ticks, integer=integer)
    first = math.ceil(lo / step - 1e-9)
    last = math.floor(hi / step + 1e-9)
    if last - first > 1000:
        return []
    return [round(k * step, 12) for k in range(first, last + 1)]


def tick_labels(values: Sequence[float], step: float | None = None) -> list[str]:
    """Labels for tick values, all different on screen: the decimals the step needs (``step`` 0.25 -> 2), more
    only if two labels would still read the same; ``k``/``M`` for big values (``12.5k``). A label is never cut."""
    if not values:
        return []
    biggest = max(abs(v) for v in values)
    scale, suffix = (1e6, "M") if biggest >= 1e6 else (1e3, "k") if biggest >= 1e4 else (1.0, "")
    if step is not None and step > 0:
        scaled = step / scale
        decimals = max(0, math.ceil(-math.log10(scaled) - 1e-9))
        if abs(round(scaled * 10**decimals) - scaled * 10**decimals) > 1e-6:
            decimals += 1  # 2.5 x 10^k needs one more digit than 10^k
    else:
        decimals = max(0, 2 - math.floor(math.log10(biggest / scale))) if biggest > 0 else 0
    for extra in range(0, 7):
        labels = [f"{v / scale:.{decimals + extra}f}{suffix}" for v in values]
        if len(set(labels)) == len(labels):
            return [_negzero(label) for label in labels]
    return [fmt_tick(v) for v in values]


def _negzero(label: str) -> str:
    return label[1:] if label.startswith("-") and float(label.rstrip("kM") or 0) == 0 else label


def _y_ticks(y_lo: float, y_hi: float, plot_rows: int, log_y: bool) -> dict[int, str]:
    """Row -> label: round values (decades on a log scale), one a row at most, every label different."""
    span = y_hi - y_lo

    def rows_of(values: list[float], real: list[float]) -> dict[int, float]:
        rows: dict[int, float] = {}
        for value, shown in zip(values, real, strict=True):
            row = int(round((y_hi - value) / span * (plot_rows - 1))) if span > 0 else 0
            if 0 <= row < plot_rows and row not in rows:
                rows[row] = shown
        return rows

    step: float | None = None
    rows: dict[int, float] = {}
    if log_y:
        decades = [float(k) for k in range(math.ceil(y_lo - 1e-9), math.floor(y_hi + 1e-9) + 1)]
        rows = rows_of(decades, [10**v for v in decades])
    want = max(2, min(plot_rows, plot_rows // 2 + 1))
    # Fewer than two round values in view: ask for finer steps until two land on different rows.
    while len(rows) < 2 and plot_rows >= 2 and want <= 4 * plot_rows:
        lo, hi = (10**y_lo, 10**y_hi) if log_y else (y_lo, y_hi)
        ticks = nice_ticks(lo, hi, want)
        step = nice_step(hi - lo, want)
        rows = rows_of([math.log10(t) if log_y else t for t in ticks if t > 0 or not log_y], ticks)
        want += 1
    if len(rows) < 2 and plot_rows >= 2:
        rows = {0: 10**y_hi if log_y else y_hi, plot_rows - 1: 10**y_lo if log_y else y_lo}
        step = None
    ordered = sorted(rows)
    labels = tick_labels([rows[r] for r in ordered], None if log_y and step is None else step)
    return dict(zip(ordered, labels, strict=True))


def render_chart(
    points: Sequence[Point],
    *,
    width: int,
    height: int,
    view: ChartView = ChartView(),
    markers: Sequence[Point] = (),
    empty: str = "no values yet",
    x_fmt: Callable[[float], str] | None = None,
    smoothed: Sequence[Point] | None = None,
    boundaries: Sequence[float] = (),
) -> list[Text]:
    """``height`` rows of ``width`` cells: the plot with round y ticks (every label different), then one row of
    x labels (round whole steps, or ``x_fmt`` for time). Markers (eval points) are drawn over the line. With
    ``smoothed``, that series is the line and ``points`` are drawn faint behind it. ``boundaries`` (x values, e.g.
    where an epoch begins) are dotted vertical lines where the plot is empty."""
    if height <= 0 or width <= 0:
        return []
    if not points:
        return [Text(empty, style="dim", no_wrap=True)] + [Text("") for _ in range(height - 1)]
    x_lo_all = min(x for x, _ in points)
    x_hi_all = max(x for x, _ in points)
    x_lo, x_hi = view.window(x_lo_all, x_hi_all)
    shown = _visible(points, x_lo, x_hi, view.log_y)
    marks = _visible(markers, x_lo, x_hi, view.log_y)
    smooth = _visible(smoothed, x_lo, x_hi, view.log_y) if smoothed is not None else []
    if not shown:
        why = "no positive values for a log scale" if view.log_y else "no values in view"
        return [Text(why, style="dim", no_wrap=True)] + [Text("") for _ in range(height - 1)]
    ys = [y for _, y in shown] + [y for _, y in marks]
    y_lo, y_hi = min(ys), max(ys)
    if y_hi - y_lo < 1e-12:
        pad = abs(y_hi) * 0.05 or 1.0
        y_lo, y_hi = y_lo - pad, y_hi + pad
    plot_rows = max(1, height - 1)
    labels = _y_ticks(y_lo, y_hi, plot_rows, view.log_y)
    label_width = min(9, max((len(label) for label in labels.values()), default=1))
    plot_width = max(2, width - label_width - 1)
    dots_x, dots_y = plot_width * 2, plot_rows * 4
    raw_cells = [[0] * plot_width for _ in range(plot_rows)]
    line_cells = [[0] * plot_width for _ in range(plot_rows)]
    span_x = x_hi - x_lo

    def to_dot(x: float, y: float) -> tuple[int, int]:
        dx = 0 if span_x <= 0 else int(round((x - x_lo) / span_x * (dots_x - 1)))
        dy = int(round((y_hi - y) / (y_hi - y_lo) * (dots_y - 1)))
        return max(0, min(dots_x - 1, dx)), max(0, min(dots_y - 1, dy))

    def draw(series: Sequence[Point], cells: list[list[int]]) -> None:
        def dot(dx: int, dy: int) -> None:
            cells[dy // 4][dx // 2] |= _DOTS[dx % 2][dy % 4]

        previous: tuple[int, int] | None = None
        for x, y in series:
            current = to_dot(x, y)
            if previous is None:
                dot(*current)
            else:
                _line(previous, current, dot)
            previous = current

    if smooth:
        draw(shown, raw_cells)
        draw(smooth, line_cells)
    else:
        draw(shown, line_cells)
    marker_cells = {(dy // 4, dx // 2) for dx, dy in (to_dot(x, y) for x, y in marks)}
    boundary_cols = set()
    if span_x > 0:
        for bx in boundaries:
            if x_lo < bx <= x_hi:
                boundary_cols.add(int(round((bx - x_lo) / span_x * (dots_x - 1))) // 2)

    rows: list[Text] = []
    for r in range(plot_rows):
        row = Text(no_wrap=True, overflow="crop")
        label = labels.get(r, "")
        row.append(f"{label[:label_width]:>{label_width}}", style=AXIS_STYLE)
        row.append("┤" if r in labels else "│", style=AXIS_STYLE)
        cells: list[tuple[str, str]] = []
        for c in range(plot_width):
            line_bits, raw_bits = line_cells[r][c], raw_cells[r][c]
            if (r, c) in marker_cells:
                cells.append(("◆", EVAL_STYLE))
            elif line_bits:
                cells.append((chr(BRAILLE_BASE + (line_bits | raw_bits)), LINE_STYLE))
            elif raw_bits:
                cells.append((chr(BRAILLE_BASE + raw_bits), RAW_STYLE))
            elif c in boundary_cols:
                cells.append(("┆", AXIS_STYLE))
            else:
                cells.append((" ", LINE_STYLE))
        _append_runs(row, cells)
        rows.append(row)
    if height > 1:
        rows.append(_x_labels(x_lo, x_hi, label_width, plot_width, x_fmt))
    return rows


def _append_runs(row: Text, cells: list[tuple[str, str]]) -> None:
    """Append (char, style) cells to ``row``, one span per run of one style."""
    start = 0
    for index in range(1, len(cells) + 1):
        if index == len(cells) or cells[index][1] != cells[start][1]:
            row.append("".join(char for char, _ in cells[start:index]), style=cells[start][1])
            start = index


def _x_labels(
    x_lo: float, x_hi: float, label_width: int, plot_width: int, x_fmt: Callable[[float], str] | None
) -> Text:
    """The x axis row: round whole steps (every label different), or for time ``x_fmt`` at both ends and the
    middle."""
    row = [" "] * (label_width + 1 + plot_width)
    row[label_width] = "└"
    span = x_hi - x_lo

    def col(x: float) -> int:
        return label_width + 1 + (0 if span <= 0 else int(round((x - x_lo) / span * (plot_width - 1))))

    def place(at: int, label: str) -> None:
        start = max(label_width + 1, min(len(row) - len(label), at - len(label) // 2))
        if all(ch == " " for ch in row[max(label_width + 1, start - 1) : start + len(label) + 1]):
            row[start : start + len(label)] = list(label)

    if x_fmt is not None:
        place(label_width + 1 + len(x_fmt(x_lo)) // 2, x_fmt(x_lo))
        if x_hi > x_lo:
            place(len(row) - 1 - len(x_fmt(x_hi)) // 2 + 1, x_fmt(x_hi))
            if plot_width >= 24:
                place(col((x_lo + x_hi) / 2), x_fmt((x_lo + x_hi) / 2))
    else:
        widest = len(tick_labels([x_hi])[0]) + 2
        ticks = nice_ticks(x_lo, x_hi, max(2, plot_width // max(6, widest + 2)), integer=True)
        if not ticks:
            ticks = [float(round(x_lo))]
        step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
        for value, label in zip(ticks, tick_labels(ticks, step), strict=True):
            place(col(value), label)
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
