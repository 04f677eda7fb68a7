"""Line charts of the run's loss and throughput against the step, with labelled axes (see ``hwmon.tui.chart``).

The app redraws them at most twice a second from the run model's bounded series; the title carries the figures a
user looks for (last, min and where it was, eval), so the plot area is all plot.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

from rich.text import Text
from textual.widget import Widget

from hwmon.model import fmt
from hwmon.model.smoothing import DEFAULT_WEIGHT, ema_debiased, fmt_smoothing
from hwmon.model.state import RunState
from hwmon.tui import view
from hwmon.tui.chart import ChartView, continuous_steps, render_chart, restart_xs, steps_to_time
from hwmon.tui.fit import Field, field, fit_fields
from hwmon.tui.widgets._text import join_rows

ChartKind = Literal["loss", "rate"]
MAX_ZOOM = 6


class ChartPane(Widget, can_focus=True):
    """One chart: ``loss`` (train loss, eval loss as markers) or ``rate`` (throughput)."""

    ALLOW_MAXIMIZE = True  # z maximises the pane

    DEFAULT_CSS = """
    ChartPane { height: 1fr; min-height: 3; text-wrap: nowrap; text-overflow: clip; }
    """

    def __init__(self, kind: ChartKind, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.kind: ChartKind = kind
        self.view = ChartView()
        self._state: RunState | None = None
        self.draws = 0
        # How often the step counter restarted (per-epoch steps), as last drawn: the title says so.
        self.restarts = 0
        # Set by the app below 120 columns, where this is the only chart: the title then carries the throughput.
        self.with_rate = False
        # S: the debiased EMA (TensorBoard's) drawn over the raw series, which stays faint behind it.
        self.smoothing: float | None = None

    # ------------------------------------------------------------------------------------------- state
    def show(self, state: RunState) -> None:
        """Take the latest state and redraw (the app calls this at most ~2 Hz)."""
        self._state = state
        self.border_title = self.title_text()
        self.refresh()

    def has_data(self, state: RunState) -> bool:
        """Whether this chart has anything to draw yet (the layout hides an empty chart)."""
        series = state.loss if self.kind == "loss" else state.rate
        return bool(series.points) or (self.kind == "loss" and bool(state.eval_loss.points))

    def set_kind(self, kind: ChartKind) -> None:
        """Switch what this pane plots."""
        self.kind = kind
        if self._state is not None:
            self.show(self._state)

    def toggle_log_y(self) -> None:
        """Log-scaled y axis on/off."""
        self.view = replace(self.view, log_y=not self.view.log_y)
        self._redraw()

    def toggle_x_time(self) -> None:
        """x axis in steps or in time since the first step."""
        self.view = replace(self.view, x_time=not self.view.x_time)
        self._redraw()

    def toggle_smoothing(self, weight: float = DEFAULT_WEIGHT) -> None:
        """Smoothing on (at ``weight``) / off."""
        self.smoothing = None if self.smoothing else weight
        self._redraw()

    def zoom(self, delta: int | None) -> None:
        """Zoom in (+1: the last half of what is shown), out (-1), or back to every step (None)."""
        level = 0 if delta is None else max(0, min(MAX_ZOOM, self.view.zoom + delta))
        self.view = replace(self.view, zoom=level)
        self._redraw()

    def _redraw(self) -> None:
        if self._state is not None:
            self.show(self._state)

    # ------------------------------------------------------------------------------------------- text
    def title_text(self) -> Text:
        """``loss 3.21 · min 2.99 @800 · eval 3.40 · log-y · last 1/4``: the figures a glance wants."""
        state = self._state
        key = Text("3 ", style="bold")  # the key that focuses the chart
        if state is None:
            return key + Text("loss" if self.kind == "loss" else "throughput")
        # Fields, dropped whole from the highest rank when the title is short of room (never a cut number).
        fields: list[Field] = []
        if self.kind == "loss":
            series = state.loss
            head = key + Text("loss ")
            head.append(fmt.fmt_number(series.last[1] if series.last else None), style="bold")
            fields.append(Field(head, 0))
            if series.min is not None:
                at = _min_x(series.points, series.min)
                fields.append(
                    field(f"min {fmt.fmt_number(series.min)}" + (f" @{_step(at)}" if at is not None else ""), 3)
                )
            if series.nonfinite:
                fields.append(field(f"NaN/Inf ×{series.nonfinite}", 0, "bold reverse red"))
            if state.eval_loss.last is not None:
                eval_text = Text("◆", style="bold magenta")
                eval_text.append(f" eval {fmt.fmt_number(state.eval_loss.last[1])}")
                fields.append(Field(eval_text, 2))
            elif state.eval:
                name, value = next(iter(state.eval.items()))
                fields.append(field(f"eval {view.safe_text(name)} {fmt.fmt_number(value)}", 4))
            last_rate = state.last_step.rate if state.last_step is not None else None
            if self.with_rate and last_rate is not None:
                fields.append(field(fmt.fmt_rate(last_rate, view.safe_text(state.rate_unit)), 5))
        else:
            last = state.last_step.rate if state.last_step is not None else None
            head = key + Text("throughput ")
            head.append(fmt.fmt_rate(last, view.safe_text(state.rate_unit)), style="bold")
            fields.append(Field(head, 0))
            if state.global_rate is not None:
                fields.append(field(f"global {fmt.fmt_rate(state.global_rate)}", 3))
        if self.view.x_time:
            fields.append(field("x: time", 1))
        elif self.restarts:
            fields.append(field(f"x: steps end to end, ┆ counter restarts ({self.restarts})", 4))
        if self.smoothing:
            fields.append(field(fmt_smoothing(self.smoothing), 1))
        if self.view.log_y:
            fields.append(field("log-y", 1))
        if self.view.zoom:
            fields.append(field(f"last 1/{2**self.view.zoom}", 1))
        width = max(20, (self.size.width or 80) - 3)
        return fit_fields(fields, width, Text(" · ", style="dim"))

    def render(self) -> Text:
        state = self._state
        width = self.content_region.width or self.size.width or 40
        height = self.content_region.height or self.size.height or 3
        if state is None:
            return Text("no steps yet", style="dim")
        if self.kind == "loss":
            points, markers = state.loss.points, state.eval_loss.points
            empty = "no loss reported yet"
        else:
            points, markers = state.rate.points, []
            empty = "no throughput reported yet"
        x_fmt = None
        boundaries: list[float] = []
        if self.view.x_time:
            points = steps_to_time(points, state.steps.points)
            markers = steps_to_time(markers, state.steps.points)
            x_fmt = fmt.fmt_duration
            empty = "no step timing yet (a replayed log arrives at once): x toggles back to steps"
        else:
            boundaries = restart_xs(points)
            points, self.restarts = continuous_steps(points)
            if self.restarts:
                # A per-epoch step counter: eval points cannot be placed on the laid-end-to-end axis.
                markers = []
            elif self.kind == "loss" and points:
                # Eval losses numbered by eval batch are not on the train-step axis; only those inside it show.
                lo, hi = points[0][0], points[-1][0]
                markers = [(x, y) for x, y in markers if lo <= x <= hi]
        self.draws += 1
        smoothed = ema_debiased(points, self.smoothing) if self.smoothing else None
        rows = render_chart(
            points,
            width=width,
            height=height,
            view=self.view,
            markers=markers,
            empty=empty,
            x_fmt=x_fmt,
            smoothed=smoothed,
            boundaries=boundaries,
        )
        return join_rows(rows)


def _min_x(points: list[tuple[float, float]], minimum: float) -> float | None:
    for x, y in points:
        if y == minimum:
            return x
    return None


def _step(x: float) -> str:
    return str(int(x)) if x == int(x) else f"{x:g}"
