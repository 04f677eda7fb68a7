"""Line charts of any series the run has against the step, with labelled axes (see ``hwmon.tui.chart``).

A chart shows one series at a time: the training loss (eval points as markers), the throughput, or any named
series of the run's metric table (lr, grad norm, accuracy, eval metrics, a learned field); ``m`` cycles through
them, ``S`` smooths the line (TensorBoard's debiased EMA, the raw series faint behind it). The app redraws charts
at most twice a second from the run model's bounded series; the title carries the figures a user looks for (last,
min and where it was, eval), so the plot area is all plot.
"""

from __future__ import annotations

from dataclasses import replace

from rich.text import Text
from textual.widget import Widget

from hwmon.model import figures, fmt
from hwmon.model.metrics import MetricSeries, chartable
from hwmon.model.smoothing import DEFAULT_WEIGHT, ema_debiased, fmt_smoothing
from hwmon.model.state import RunState
from hwmon.tui import view
from hwmon.tui.chart import ChartView, Point, continuous_steps, render_chart, restart_xs, steps_to_time
from hwmon.tui.fit import Field, field, fit_fields
from hwmon.tui.widgets._text import join_rows

# What a chart shows: "loss", "rate", or "metric:<key of the run's metric table>".
ChartKind = str
MAX_ZOOM = 6


def chart_kinds(state: RunState) -> list[ChartKind]:
    """Every series the run has a chart for, in the order ``m`` goes through them."""
    kinds: list[ChartKind] = []
    if state.loss.points or state.eval_points:
        kinds.append("loss")
    if state.rate.points:
        kinds.append("rate")
    table = state.metrics
    for entry in chartable(table):
        kinds.append(f"metric:{entry.kind}:{entry.name}")
    return kinds


def _metric(state: RunState, kind: ChartKind) -> MetricSeries | None:
    if not kind.startswith("metric:"):
        return None
    return state.metrics.series.get(kind.removeprefix("metric:"))


class ChartPane(Widget, can_focus=True):
    """One chart: ``loss`` (train loss, eval loss as markers), ``rate`` (throughput) or a named metric."""

    ALLOW_MAXIMIZE = True  # z maximises the pane

    DEFAULT_CSS = """
    ChartPane { height: 1fr; min-height: 3; text-wrap: nowrap; text-overflow: clip; }
    """

    def __init__(self, kind: ChartKind, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
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

    def set_with_rate(self, on: bool) -> None:
        """Whether the title carries the throughput (the app's layout: below 120 columns this is the only chart)."""
        if on != self.with_rate:
            self.with_rate = on
            self.refresh_title()

    def refresh_title(self) -> None:
        """Recompute the title (its fields depend on the width and on what the layout asks of it)."""
        if self._state is not None:
            self.border_title = self.title_text()

    def on_resize(self) -> None:
        self.refresh_title()

    def has_data(self, state: RunState) -> bool:
        """Whether this chart has anything to draw yet (the layout hides an empty chart)."""
        if self.kind == "loss":
            return bool(state.loss.points) or bool(state.eval_points)
        if self.kind == "rate":
            return bool(state.rate.points)
        entry = _metric(state, self.kind)
        return entry is not None and bool(entry.series.points)

    def set_kind(self, kind: ChartKind) -> None:
        """Switch what this pane plots."""
        self.kind = kind
        if self._state is not None:
            self.show(self._state)

    def cycle(self) -> ChartKind | None:
        """``m``: the next series the run has (wrapping round); None when there is no other."""
        if self._state is None:
            return None
        kinds = chart_kinds(self._state)
        if not kinds:
            return None
        index = kinds.index(self.kind) + 1 if self.kind in kinds else 0
        self.set_kind(kinds[index % len(kinds)])
        return self.kind

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
        """``3 loss 3.21 · min 2.99 @800 · ◆ eval 3.40 · EMA 0.6 · log-y · 2/5 m``: the figures a glance wants,
        fields dropped whole (never a cut number) when the title is short of room."""
        state = self._state
        key = Text("3 ", style="bold")  # the key that focuses the chart
        if state is None:
            return key + Text("loss" if self.kind == "loss" else "throughput")
        fields: list[Field] = []
        if self.kind == "loss":
            fields += self._loss_fields(state, key)
        elif self.kind == "rate":
            head = key + Text("throughput ")
            head.append(view.safe_text(figures.fmt_rate(figures.current_rate(state))), style="bold")
            fields.append(Field(head, 0))
            if state.global_rate is not None:
                fields.append(field(f"global {figures.fmt_rate(figures.Rate(state.global_rate, ''))}", 3))
        else:
            entry = _metric(state, self.kind)
            head = key + Text(f"{view.safe_text(entry.label) if entry else self.kind} ")
            if entry is not None:
                series = entry.series
                head.append(figures.fmt_loss(series.last[1] if series.last else None), style="bold")
                fields.append(Field(head, 0))
                if series.min is not None and series.max is not None and entry.kind != "eval":
                    fields.append(field(f"{figures.fmt_loss(series.min)}…{figures.fmt_loss(series.max)}", 3))
            else:
                fields.append(Field(head, 0))
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
        kinds = chart_kinds(state)
        if len(kinds) > 1 and self.kind in kinds:
            fields.append(field(f"{kinds.index(self.kind) + 1}/{len(kinds)} m", 2, "dim"))
        width = max(20, (self.size.width or 80) - 3)
        return fit_fields(fields, width, Text(" · ", style="dim"))

    def _loss_fields(self, state: RunState, key: Text) -> list[Field]:
        series = state.loss
        head = key + Text("loss ")
        _at, last = figures.last_loss(state)  # the header's loss, spelt as every view spells it
        head.append(figures.fmt_loss(last), style="bold")
        fields = [Field(head, 0)]
        if series.min is not None:
            at = _min_x(series.points, series.min)
            where = f" @{_step(at)}" if at is not None else ""
            fields.append(field(f"min {figures.fmt_loss(series.min)}{where}", 3))
        if series.nonfinite:
            fields.append(field(f"NaN/Inf ×{series.nonfinite}", 0, "bold reverse red"))
        evals = figures.eval_points(state)
        if evals:
            eval_text = Text("◆", style="bold magenta")
            eval_text.append(f" eval {figures.fmt_loss(evals[-1].loss)}")
            fields.append(Field(eval_text, 2))
        elif state.eval:
            name, value = next(iter(state.eval.items()))
            fields.append(field(f"eval {view.safe_text(name)} {figures.fmt_loss(value)}", 4))
        rate = figures.current_rate(state)
        if self.with_rate and rate is not None:
            fields.append(field(view.safe_text(figures.fmt_rate(rate)), 5))
        return fields

    # ------------------------------------------------------------------------------------------- plot
    def _series(self, state: RunState) -> tuple[list[Point], list[Point], str]:
        """(points, eval markers, what to say when empty) of what this chart shows."""
        if self.kind == "loss":
            # Each evaluation at the training step it belongs to, its value the run's own average when it prints one
            # (figures.eval_points: the report draws the same markers).
            evals = [(point.step, point.loss) for point in figures.eval_points(state)]
            return list(state.loss.points), evals, "no loss reported yet"
        if self.kind == "rate":
            return list(state.rate.points), [], "no throughput reported yet"
        entry = _metric(state, self.kind)
        if entry is None:
            return [], [], f"{self.kind.rsplit(':', 1)[-1]}: no values in this run"
        points = list(entry.series.points)
        # An eval metric is a point per evaluation: drawn as markers on its line.
        return points, (points if entry.kind == "eval" else []), "no values yet"

    def render(self) -> Text:
        state = self._state
        width = self.content_region.width or self.size.width or 40
        height = self.content_region.height or self.size.height or 3
        if state is None:
            return Text("no steps yet", style="dim")
        points, markers, empty = self._series(state)
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
            else:
                # Epoch boundaries the run stated (a new whole epoch number at that step).
                boundaries = list(state.metrics.epoch_starts)
                if self.kind == "loss" and points:
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
