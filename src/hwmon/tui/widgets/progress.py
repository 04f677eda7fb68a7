"""Progress bars with ETA: training steps, and whatever bars the run draws (compile, weights, checkpoint...)."""

from __future__ import annotations

from rich.text import Text

from hwmon.model import figures, fmt
from hwmon.model.eta import bar_eta, fmt_eta
from hwmon.model.state import ProgressBar, RunState
from hwmon.tui import view
from hwmon.tui.fit import Field, field, fit_fields
from hwmon.tui.widgets._rows import RowsPane

LABEL_WIDTH = 16
MAX_LABEL_WIDTH = 32


def shown_bars(state: RunState, limit: int) -> tuple[list[ProgressBar], ProgressBar | None, ProgressBar | None]:
    """The bars worth a row of their own, plus the bars folded into the train line: the one counting the same
    steps as the train line (``progress 1162/3750`` beside ``train step 1162``) and the epoch bar. Rows that say
    nothing (a bar at 0 with no total and no rate) are dropped; once the run has ended, so are unfinished bars."""
    step = state.last_step
    step_no = step.step if step is not None and step.mode == "train" else None
    same: ProgressBar | None = None
    epoch: ProgressBar | None = None
    rows: list[ProgressBar] = []
    ended = view.is_ended(state)
    for bar in view.ordered_bars(state, MAX_PROGRESS_ROWS):
        if step_no is not None and same is None and bar.total and bar.n == step_no:
            same = bar
            continue
        if step is not None and epoch is None and figures.is_epochs_bar(bar):
            epoch = bar
            continue
        if bar.n == 0 and bar.total is None and bar.rate is None:
            continue
        if ended and not bar.done:
            continue
        rows.append(bar)
    return rows[:limit], same, epoch


MAX_PROGRESS_ROWS = 64
MIN_BAR = 6


class ProgressPane(RowsPane):
    """The training line (step, epoch, rate, ETA) and the progress bars, unfinished first: as many as the pane has
    rows for (every one when maximised). A row too narrow for its figures drops whole figures (the rate first,
    then the epoch), never a digit."""

    DEFAULT_CSS = """
    ProgressPane { height: auto; text-wrap: nowrap; text-overflow: clip; }
    """

    def __init__(self, *, max_bars: int = 3, id: str | None = None) -> None:  # noqa: A002 - Textual's name
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
        rows = self.wanted_rows()
        # Layout is the costly part of a frame: only when the pane gains or loses a row.
        self.refresh(layout=rows != self._rows)
        self._rows = rows

    def wanted_rows(self) -> int:
        """Content rows: the training line, up to ``max_bars`` bars and the checkpoints line."""
        state = self._state
        if state is None:
            return 1
        bars = len(shown_bars(state, self.max_bars)[0])
        return max(1, (state.last_step is not None) + bars + bool(state.checkpoints))

    def needed_rows(self) -> int:
        """The training line (or the first bar) at least."""
        return 1

    def _bar(self, line: Text, fraction: float | None, width: int) -> None:
        if fraction is None:
            # Unknown total: no bar at all rather than an empty one that reads as "0 % done".
            line.append(" " * width)
            return
        filled, empty = view.bar_cells(fraction, width)
        # Filled and empty cells differ in glyph, not only colour, so the bar reads on a monochrome terminal.
        line.append("█" * filled, style="green")
        line.append("░" * empty, style="dim")

    def _row(
        self, label: str, label_width: int, style: str, fraction: float | None, fields: list[Field], width: int
    ) -> Text:
        """``label``, a bar, then the fields: the bar takes what the fields leave (up to 40 cells); below
        ``MIN_BAR`` cells the fields give way, whole, from the highest rank."""
        line = Text(no_wrap=True, overflow="crop")
        line.append(f"{label:<{label_width}}", style=style)
        room = width - label_width
        text = fit_fields(fields, max(0, room - MIN_BAR - 1), "  ")
        bar_width = max(MIN_BAR, min(40, room - text.cell_len - 1))
        self._bar(line, fraction, bar_width)
        line.append(" ")
        line.append_text(text)
        return line

    def pane_rows(self, width: int, height: int) -> list[Text]:
        state = self._state
        if state is None:
            return [Text("no progress reported yet", style="dim")]
        limit = MAX_PROGRESS_ROWS if self.maximised else max(self.max_bars, height)
        bars, same, epoch_bar = shown_bars(state, limit)
        names = [len(view.bar_label(state, bar)) for bar in bars]
        # Names get the room the pane has (up to MAX_LABEL_WIDTH), not a fixed 15 characters.
        label_width = max(LABEL_WIDTH, min(MAX_LABEL_WIDTH, max(names, default=0) + 1, width // 4))
        ended = view.is_ended(state)
        lines: list[Text] = []
        # The train line is the model's step progress (figures.step_progress: the header, summary and the fleet
        # print the same step, target and epoch).
        progress = figures.step_progress(state) if state.last_step is not None else None
        if progress is not None:
            label = "eval" if progress.mode == "eval" else "train"
            fraction = progress.fraction
            if fraction is None and self._eta is not None and self._train_seconds:
                fraction = self._train_seconds / (self._train_seconds + self._eta)
            fields: list[Field] = []
            if progress.step is not None:
                fields.append(field(figures.fmt_step_progress(progress), 0))
            if progress.epoch is not None:
                epoch = progress.epoch
                total = f"/{progress.epochs}" if progress.epochs else ""
                number = f"{int(epoch)}" if epoch == int(epoch) else f"{epoch:.2f}"
                fields.append(field(f"epoch {number}{total}", 2))
            if not ended:
                fields.append(field(f"ETA {fmt_eta(self._eta)}", 1))
            lines.append(self._row(label, label_width, "bold", fraction, fields, width))
        for bar in bars:
            name = view.bar_label(state, bar)
            if len(name) > label_width - 1:
                name = name[: label_width - 2] + "…"
            total = f"/{bar.total}" if bar.total is not None else ""
            pct = f" {bar.fraction * 100:3.0f}%" if bar.fraction is not None else ""
            fields = [field(f"{bar.n}{total}{pct}", 0)]
            if bar.rate is not None:
                rate = figures.Rate(bar.rate, view.safe_text(bar.unit) + "/s")
                fields.append(field(figures.fmt_rate(rate), 3, "dim"))
            if not bar.done and not ended:  # a run that ended has no ETA, even for a cut-off bar
                fields.append(field(f"ETA {fmt_eta(bar_eta(bar, self._now))}", 1))
            elif bar.elapsed_s is not None:
                fields.append(field(f"in {fmt.fmt_duration(bar.elapsed_s)}", 2, "dim"))
            style = "bold" if not bar.done else ""
            lines.append(self._row(name, label_width, style, 1.0 if bar.done else bar.fraction, fields, width))
        if state.checkpoints:
            last = state.checkpoints[-1]
            line = Text(no_wrap=True, overflow="ellipsis")
            line.append(f"{'checkpoints':<{label_width}}", style="bold")
            where = f"step {last.step}" if last.step is not None else view.safe_text(last.path or "")
            line.append(f"{max(state.checkpoint_count, len(state.checkpoints))} saved, last at {where}")
            lines.append(line)
        if not lines:
            return [Text("no progress reported yet", style="dim")]
        if not self.maximised and len(lines) > height and state.checkpoints:
            # Short of rows: the checkpoints line goes before a bar does (the bars say what is running).
            lines = lines[:-1]
        return lines
