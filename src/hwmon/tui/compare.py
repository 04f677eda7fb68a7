"""The compare screen (``hwmon compare A B ...`` on a terminal): the figures table, the runs' loss curves overlaid
against step and against wall time, and their phase timelines stacked on one time axis.

Keys: ``1`` figures, ``2`` loss curves, ``3`` timelines (or ``tab``), ``q`` quit. The curves are drawn in braille
(2x4 dots a cell) with a labelled y axis (loss) and x axis (step / wall time); every series has its own colour and
marker letter in the legend, so the chart reads without colour too. Log-derived text (run names, metric names) is
always ``Text``, never markup.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.widget import Widget
from textual.widgets import ContentSwitcher, Footer, Static

from hwmon.model.compare import RunFigures, table_rows
from hwmon.model.fmt import fmt_duration, fmt_number
from hwmon.tui.view import safe_text

PALETTE = ("cyan", "magenta", "yellow", "green", "red", "blue", "bright_white", "bright_cyan")
MARKERS = "ABCDEFGH"
PHASE_STYLES = {
    "queue": "black on bright_black",
    "compile": "black on yellow",
    "setup": "black on blue",
    "train": "black on green",
    "checkpoint": "black on magenta",
    "eval": "black on cyan",
}
PHASE_LETTERS = {"queue": "Q", "compile": "C", "setup": "S", "train": "T", "checkpoint": "K", "eval": "E"}
AXIS_WIDTH = 9

# Braille dot bits for (column, row) within a 2x4 cell.
_DOTS = ((0x01, 0x02, 0x04, 0x40), (0x08, 0x10, 0x20, 0x80))

Series = tuple[str, str, Sequence[tuple[float, float]]]
"""(label, colour, points) of one curve."""


def _name(text: str, width: int) -> str:
    clean = safe_text(text)
    return clean if len(clean) <= width else "…" + clean[-(width - 1) :]


def _tick(value: float, kind: str) -> str:
    if kind == "time":
        return fmt_duration(value)
    if kind == "step":
        return f"{value:.0f}"
    return fmt_number(value, 3)


def plot(series: Sequence[Series], width: int, height: int, x_kind: str, title: str) -> Text:
    """A braille line chart of ``series`` in ``width`` x ``height`` cells (axes and legend included)."""
    out = Text(no_wrap=True, overflow="crop")
    out.append(title + "\n", style="bold")
    finite = [
        (label, colour, [(x, y) for x, y in pts if math.isfinite(x) and math.isfinite(y)])
        for label, colour, pts in series
    ]
    plotted = [s for s in finite if s[2]]
    if not plotted:
        out.append("  no data to plot", style="dim")
        return out
    rows = max(2, height - 3)  # title, x axis, x labels
    cols = max(4, width - AXIS_WIDTH - 1)
    xs = [x for _, _, pts in plotted for x, _ in pts]
    ys = [y for _, _, pts in plotted for _, y in pts]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    if x1 == x0:
        x1 = x0 + 1.0
    if y1 == y0:
        y0, y1 = y0 - 0.5, y0 + 0.5
    dot_w, dot_h = cols * 2, rows * 4
    cells: list[list[int]] = [[0] * cols for _ in range(rows)]
    owner: list[list[int]] = [[-1] * cols for _ in range(rows)]

    def put(px: int, py: int, index: int) -> None:
        if 0 <= px < dot_w and 0 <= py < dot_h:
            row, col = py // 4, px // 2
            cells[row][col] |= _DOTS[px % 2][py % 4]
            owner[row][col] = index

    for index, (_, _, pts) in enumerate(plotted):
        prev: tuple[int, int] | None = None
        for x, y in sorted(pts):
            px = round((x - x0) / (x1 - x0) * (dot_w - 1))
            py = round((y1 - y) / (y1 - y0) * (dot_h - 1))
            if prev is None:
                put(px, py, index)
            else:
                # A line between consecutive points, so sparse series still read as curves.
                steps = max(abs(px - prev[0]), abs(py - prev[1]), 1)
                for i in range(1, steps + 1):
                    put(prev[0] + round((px - prev[0]) * i / steps), prev[1] + round((py - prev[1]) * i / steps), index)
            prev = (px, py)
    for r in range(rows):
        label = _tick(y1, "y") if r == 0 else _tick(y0, "y") if r == rows - 1 else ""
        out.append(f"{label:>{AXIS_WIDTH - 1}}┤" if label else " " * (AXIS_WIDTH - 1) + "│", style="dim")
        for c in range(cols):
            bits = cells[r][c]
            if bits:
                out.append(chr(0x2800 + bits), style=plotted[owner[r][c]][1])
            else:
                out.append(" ")
        out.append("\n")
    out.append(" " * (AXIS_WIDTH - 1) + "└" + "─" * cols + "\n", style="dim")
    left, right = _tick(x0, x_kind), _tick(x1, x_kind)
    gap = max(1, cols - len(left) - len(right))
    out.append(" " * AXIS_WIDTH + left + " " * gap + right, style="dim")
    return out


def legend(runs: Sequence[RunFigures], width: int) -> Text:
    out = Text(no_wrap=True, overflow="crop")
    room = max(8, width // max(1, len(runs)) - 4)
    for i, run in enumerate(runs):
        out.append(f"{MARKERS[i % len(MARKERS)]}", style=f"bold reverse {PALETTE[i % len(PALETTE)]}")
        out.append(f" {_name(run.name, room)}  ", style=PALETTE[i % len(PALETTE)])
    return out


def loss_series(runs: Sequence[RunFigures], against: str) -> list[Series]:
    series: list[Series] = []
    for i, run in enumerate(runs):
        if against == "step":
            pts = [(float(p.step), p.loss) for p in run.curve]
        else:
            pts = [(p.wall_s, p.loss) for p in run.curve if p.wall_s is not None]
        series.append((run.name, PALETTE[i % len(PALETTE)], pts))
    return series


def timelines(runs: Sequence[RunFigures], width: int) -> Text:
    """Each run's phases as one bar on a time axis shared by all runs (0 .. the longest run)."""
    out = Text(no_wrap=True, overflow="crop")
    name_w = min(18, max(6, width // 5))
    bar_w = max(10, width - name_w - 10)
    longest = max((start + sec for r in runs for _, start, sec in r.spans), default=0.0)
    longest = max([longest] + [r.wall_s or 0.0 for r in runs])
    if longest <= 0:
        out.append("no phase durations to show", style="dim")
        return out
    for i, run in enumerate(runs):
        out.append(f"{MARKERS[i % len(MARKERS)]}", style=f"bold reverse {PALETTE[i % len(PALETTE)]}")
        out.append(f" {_name(run.name, name_w - 2):<{name_w - 2}} ")
        bar: list[tuple[str, str]] = [("·", "dim")] * bar_w
        for name, start, seconds in run.spans:
            a = int(start / longest * bar_w)
            b = max(a + 1, int(round((start + seconds) / longest * bar_w)))
            for c in range(a, min(b, bar_w)):
                bar[c] = (PHASE_LETTERS.get(name, "?"), PHASE_STYLES.get(name, "reverse"))
        for char, style in bar:
            out.append(char, style=style)
        out.append(f" {fmt_duration(run.wall_s):>7}\n")
    out.append(" " * name_w + "0" + " " * max(1, bar_w - 1 - len(fmt_duration(longest))) + fmt_duration(longest))
    out.append("\n\n")
    for name, letter in PHASE_LETTERS.items():
        out.append(f" {letter} ", style=PHASE_STYLES[name])
        out.append(f" {name}  ")
    return out


def figures_table(runs: Sequence[RunFigures], width: int) -> Text:
    rows = table_rows(list(runs))
    label_w = min(22, max(len(label) for label, _ in rows) + 1)
    col_w = max(8, (width - label_w) // max(1, len(runs)) - 1)
    out = Text(no_wrap=True, overflow="crop")
    out.append(" " * label_w)
    for i, run in enumerate(runs):
        out.append(f"{MARKERS[i % len(MARKERS)]}", style=f"bold reverse {PALETTE[i % len(PALETTE)]}")
        out.append(f" {_name(run.name, col_w - 2):>{col_w - 2}} ", style="bold")
    out.append("\n")
    for label, cells in rows:
        style = "bold" if not label.startswith(" ") else ""
        out.append(f"{safe_text(label)[: label_w - 1]:<{label_w}}", style=style)
        for cell in cells:
            out.append(f"{safe_text(cell)[: col_w - 1]:>{col_w - 1}} ")
        out.append("\n")
    return out


class _Drawn(Widget):
    """A widget whose content is redrawn from the runs at its current size."""

    DEFAULT_CSS = "_Drawn { height: 1fr; width: 1fr; }"

    def __init__(self, runs: Sequence[RunFigures], kind: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.runs = list(runs)
        self.kind = kind

    def render(self) -> Text:
        width = self.content_region.width or self.size.width or 80
        height = self.content_region.height or self.size.height or 10
        if self.kind == "step":
            return plot(loss_series(self.runs, "step"), width, height, "step", "loss vs step")
        if self.kind == "wall":
            return plot(loss_series(self.runs, "wall"), width, height, "time", "loss vs wall time (since run start)")
        if self.kind == "timelines":
            return timelines(self.runs, width)
        return figures_table(self.runs, width)


class CompareApp(App[int]):
    """``hwmon compare`` on a terminal."""

    TITLE = "hwmon compare"
    CSS = """
    Screen { layout: vertical; }
    #tabs { height: 1; }
    #switcher { height: 1fr; }
    #figures-scroll { height: 1fr; }
    #figures { height: auto; }
    #curves { height: 1fr; }
    #legend { height: 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "quit"),
        Binding("1", "show('figures-scroll')", "figures"),
        Binding("2", "show('curves')", "loss curves"),
        Binding("3", "show('timelines')", "timelines"),
        Binding("tab", "next", "next view", show=False, priority=True),
    ]
    VIEWS = ("figures-scroll", "curves", "timelines")

    def __init__(self, runs: Sequence[RunFigures]) -> None:
        super().__init__()
        self.runs = list(runs)

    def compose(self) -> ComposeResult:
        yield Static(self._tabs("figures-scroll"), id="tabs")
        with ContentSwitcher(initial="figures-scroll", id="switcher"):
            with VerticalScroll(id="figures-scroll"):
                yield _Drawn(self.runs, "figures", id="figures")
            with Vertical(id="curves"):
                yield Static(legend(self.runs, 80), id="legend")
                yield _Drawn(self.runs, "step", id="by-step")
                yield _Drawn(self.runs, "wall", id="by-wall")
            yield _Drawn(self.runs, "timelines", id="timelines")
        yield Footer()

    def _tabs(self, current: str) -> Text:
        out = Text(no_wrap=True, overflow="crop")
        labels = {"figures-scroll": "1 figures", "curves": "2 loss curves", "timelines": "3 timelines"}
        for key, label in labels.items():
            out.append(f" {label} ", style="bold reverse" if key == current else "dim")
            out.append(" ")
        out.append(f" {len(self.runs)} runs", style="dim")
        return out

    def action_show(self, view: str) -> None:
        self.query_one(ContentSwitcher).current = view
        self.query_one("#tabs", Static).update(self._tabs(view))

    def action_next(self) -> None:
        current = self.query_one(ContentSwitcher).current or self.VIEWS[0]
        self.action_show(self.VIEWS[(self.VIEWS.index(current) + 1) % len(self.VIEWS)])


def run_compare(runs: Sequence[RunFigures]) -> int:
    """Show the compare screen until the user quits."""
    from hwmon.tui.terminal import run_app

    run_app(CompareApp(runs))  # SIGTERM/SIGHUP/an exception give the terminal back too
    return 0
