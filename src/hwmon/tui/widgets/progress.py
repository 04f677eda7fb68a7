"""Progress bars with ETA: training steps, and whatever bars the run draws (compile, weights, checkpoint...)."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from hwmon.model import fmt
from hwmon.model.eta import bar_eta, target_step
from hwmon.model.state import RunState
from hwmon.tui import view
from hwmon.tui.widgets._text import join_rows

LABEL_WIDTH = 16


class ProgressPane(Widget, can_focus=True):
    """The training line (step, epoch, rate, ETA) and up to ``max_bars`` progress bars, unfinished first."""

    DEFAULT_CSS = """
    ProgressPane { height: auto; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def __init__(self, *, max_bars: int = 3, id: str | None = None) -> None:
        super().__init__(id=id)
        self.max_bars = max_bars
        self._state: RunState | None = None
        self._eta: float | None = None
        self._train_seconds: float | None = None
        self._now: float | None = None
        self._rows = -1

    def show(self, state: RunState, eta: float | None, train_seconds: float | None, now: float | None = None) -> None:
        """Take the latest state, the run's ETA, the time spent training so far and the clock reading (each bar's
        own ETA is aged by it)."""
        self._state, self._eta, self._train_seconds, self._now = state, eta, train_seconds, now
        rows = (state.last_step is not None) + min(self.max_bars, len(state.progress)) + bool(state.checkpoints)
        # Layout is the costly part of a frame: only when the pane gains or loses a row.
        self.refresh(layout=rows != self._rows)
        self._rows = rows

    def _bar(self, line: Text, fraction: float | None, width: int) -> None:
        if fraction is None:
            # Unknown total: no bar at all rather than an empty one that reads as "0 % done".
            line.append(" " * width)
            return
        filled, empty = view.bar_cells(fraction, width)
        # Filled and empty cells differ in glyph, not only colour, so the bar reads on a monochrome terminal.
        line.append("█" * filled, style="green")
        line.append("░" * empty, style="dim")

    def render(self) -> Text:
        state = self._state
        if state is None:
            return Text("no progress reported yet", style="dim")
        width = self.content_region.width or self.size.width or 80
        bar_width = max(6, min(40, width - LABEL_WIDTH - 36))
        lines: list[Text] = []
        step = state.last_step
        if step is not None:
            line = Text(no_wrap=True, overflow="ellipsis")
            label = "eval" if step.mode == "eval" else "train"
            line.append(f"{label:<{LABEL_WIDTH}}", style="bold")
            fraction = None
            target = target_step(state) if step.mode == "train" else None
            if target and step.step is not None:
                fraction = step.step / target
            elif self._eta is not None and self._train_seconds:
                fraction = self._train_seconds / (self._train_seconds + self._eta)
            if view.is_ended(state) and state.status == "succeeded":
                fraction = 1.0
            self._bar(line, fraction, bar_width)
            parts = []
            if step.step is not None:
                parts.append(f"step {step.step}/{target}" if target else f"step {step.step}")
            if step.epoch is not None:
                epoch = step.epoch
                parts.append(f"epoch {int(epoch)}" if epoch == int(epoch) else f"epoch {epoch:.2f}")
            if not view.is_ended(state):
                parts.append(f"ETA {fmt.fmt_duration(self._eta)}")
            line.append(" " + "  ".join(parts))
            lines.append(line)
        for bar in view.ordered_bars(state, self.max_bars):
            line = Text(no_wrap=True, overflow="ellipsis")
            name = view.safe_text(bar.name) or "progress"
            if len(name) > LABEL_WIDTH - 1:
                name = name[: LABEL_WIDTH - 2] + "…"
            line.append(f"{name:<{LABEL_WIDTH}}", style="bold" if not bar.done else "")
            self._bar(line, 1.0 if bar.done else bar.fraction, bar_width)
            total = f"/{bar.total}" if bar.total is not None else ""
            pct = f" {bar.fraction * 100:3.0f}%" if bar.fraction is not None else ""
            line.append(f" {bar.n}{total}{pct}")
            if bar.rate is not None:
                line.append(f" {fmt.fmt_rate(bar.rate, view.safe_text(bar.unit) + '/s')}", style="dim")
            if not bar.done and not view.is_ended(state):  # a run that ended has no ETA, even for a cut-off bar
                line.append(f" ETA {fmt.fmt_duration(bar_eta(bar, self._now))}")
            elif bar.elapsed_s is not None:
                line.append(f" in {fmt.fmt_duration(bar.elapsed_s)}", style="dim")
            lines.append(line)
        if state.checkpoints:
            last = state.checkpoints[-1]
            line = Text(no_wrap=True, overflow="ellipsis")
            line.append(f"{'checkpoints':<{LABEL_WIDTH}}", style="bold")
            where = f"step {last.step}" if last.step is not None else view.safe_text(last.path or "")
            line.append(f"{max(state.checkpoint_count, len(state.checkpoints))} saved, last at {where}")
            lines.append(line)
        if not lines:
            return Text("no progress reported yet", style="dim")
        return join_rows(lines)
