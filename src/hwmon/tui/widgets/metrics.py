"""Loss sparkline with last/min values, and throughput (Rate / GlobalRate)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widget import Widget
from textual.widgets import Sparkline

from hwmon.model import fmt
from hwmon.model.state import RunState
from hwmon.tui import view


class _Figures(Widget):
    """Fixed-size text that repaints without a layout pass (``Static.update`` always asks for one)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._text = Text("no steps yet", style="dim")

    def show(self, text: Text) -> None:
        self._text = text
        self.refresh()

    def render(self) -> Text:
        return self._text


class MetricsPane(Horizontal, can_focus=True):
    """A ``Sparkline`` of the (bounded, downsampled) loss series beside its last/min values and the rates."""

    DEFAULT_CSS = """
    MetricsPane { height: 3; }
    MetricsPane > Sparkline { width: 1fr; height: 3; margin-right: 1; }
    MetricsPane > #stats { width: 44; height: 3; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def compose(self) -> ComposeResult:
        yield Sparkline([], id="spark")
        yield _Figures(id="stats")

    def show_stats(self, state: RunState) -> None:
        """Update the figures beside the plot (cheap; done on every state change)."""
        loss = state.loss
        text = Text(no_wrap=True, overflow="ellipsis")
        if loss.count:
            text.append("loss ", style="bold")
            text.append(fmt.fmt_number(loss.last[1] if loss.last else None), style="bold")
            text.append(f"  min {fmt.fmt_number(loss.min)}")
            if loss.nonfinite:
                text.append(f"  NaN/Inf ×{loss.nonfinite}", style="bold reverse red")
        else:
            text.append("loss -", style="dim")
        text.append("\n")
        last = state.last_step
        rate = last.rate if last is not None else None
        unit = view.safe_text(state.rate_unit)
        text.append("rate ", style="bold")
        text.append(fmt.fmt_rate(rate, unit))
        if state.global_rate is not None:
            text.append(f"  global {fmt.fmt_rate(state.global_rate)}")
        text.append("\n")
        if state.eval:
            shown = "  ".join(f"{view.safe_text(k)} {fmt.fmt_number(v)}" for k, v in list(state.eval.items())[:3])
            text.append("eval ", style="bold")
            text.append(shown)
        elif state.steps.count:
            text.append(f"{state.steps.count} step reports", style="dim")
        self.query_one("#stats", _Figures).show(text)

    def show_plot(self, state: RunState) -> None:
        """Redraw the sparkline (the app calls this at most ~2 Hz)."""
        spark = self.query_one("#spark", Sparkline)
        width = spark.size.width or 40
        spark.data = view.downsample(state.loss.values(), width)
