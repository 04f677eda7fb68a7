"""The phase timeline: one row per phase on a shared time axis, the current phase highlighted."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from hwmon.events import PHASE_NAMES
from hwmon.model import fmt
from hwmon.model.state import RunState
from hwmon.tui import view
from hwmon.tui.widgets._text import join_rows

NAME_WIDTH = 10
PULSE = ("█", "▓")


class PhaseTimeline(Widget, can_focus=True):
    """Each phase as a bar at its place on the run's time axis, with its total duration and % of wall time."""

    ALLOW_MAXIMIZE = True  # z maximises the pane

    DEFAULT_CSS = """
    PhaseTimeline { height: auto; text-wrap: nowrap; text-overflow: clip; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._timeline: view.Timeline | None = None
        self._now = 0.0
        self._rows = 0
        # Expected seconds per phase name from past runs of the same job (the run history): phases not reached
        # yet are listed under the bars with their expected duration.
        self.expected: dict[str, float] = {}

    def show(self, state: RunState, now: float) -> None:
        """Take the latest state; repaints on the next frame."""
        self._timeline = view.timeline(state, now)
        self._now = now
        rows = max(1, len(self._timeline.rows)) + len(self._pending_names())
        # Layout is the costly part of a frame: only when the pane gains or loses a row.
        self.refresh(layout=rows != self._rows)
        self._rows = rows

    def _pending_names(self) -> list[str]:
        """Phases expected from history that this run has not reached yet (in the order runs go through them)."""
        if not self.expected or self._timeline is None:
            return []
        reached = {row.name for row in self._timeline.rows}
        return [name for name in PHASE_NAMES if name in self.expected and name not in reached]

    @property
    def rows(self) -> list[view.TimelineRow]:
        return [] if self._timeline is None else self._timeline.rows

    def render(self) -> Text:
        timeline = self._timeline
        if timeline is None or not timeline.rows:
            return Text("no phase reported yet", style="dim")
        width = self.content_region.width or self.size.width or 80
        bar_width = max(4, width - NAME_WIDTH - 2 - 7 - 5)
        axis = timeline.axis_seconds
        lines: list[Text] = []
        # The head of the current phase pulses (2 frames from the injected clock) so it reads as live even
        # without colour; with a fixed clock (snapshots) the frame is fixed.
        frame = PULSE[int(self._now * 2) % 2]
        rows = timeline.rows
        height = self.content_region.height
        hidden = 0
        if height and len(rows) > height:
            # Too short for every phase: say how many are not shown instead of dropping them silently; the most
            # recent phases (the current one among them) keep their rows.
            hidden = len(rows) - (height - 1)
            rows = rows[hidden:]
        if hidden:
            note = Text(no_wrap=True, overflow="crop")
            note.append(f" … {hidden} earlier phase{'s' if hidden != 1 else ''} not shown (z maximises)", style="dim")
            lines.append(note)
        for row in rows:
            line = Text(no_wrap=True, overflow="crop")
            marker = "▶" if row.current else " "
            line.append(marker, style="bold")
            line.append(f"{row.name:<{NAME_WIDTH}}", style="bold reverse" if row.current else "bold")
            line.append(" ")
            cells = ["─"] * bar_width
            last_cell = -1
            if axis > 0:
                for offset, seconds in row.spans:
                    first = min(bar_width - 1, int(offset / axis * bar_width))
                    last = min(bar_width - 1, max(first, int((offset + seconds) / axis * bar_width - 1e-9)))
                    for i in range(first, last + 1):
                        cells[i] = "█"
                    last_cell = max(last_cell, last)
            elif row.spans:
                cells[0] = "█"
                last_cell = 0
            if row.current and last_cell >= 0:
                cells[last_cell] = frame
            bar_style = "bold yellow" if row.current else "cyan"
            for cell in cells:
                line.append(cell, style=bar_style if cell != "─" else "dim")
            duration = fmt.fmt_duration(row.seconds) if row.known else "?"
            line.append(f" {duration:>6}", style="bold" if row.current else "")
            line.append(f" {view.percent(row.seconds, timeline.wall):>4}", style="dim")
            lines.append(line)
        for name in self._pending_names():
            line = Text(no_wrap=True, overflow="crop")
            line.append(f" {name:<{NAME_WIDTH}} ", style="dim")
            line.append("┄" * bar_width, style="dim")
            line.append(f" {'~' + fmt.fmt_duration(self.expected[name]):>6}", style="dim italic")
            line.append(" exp", style="dim")
            lines.append(line)
        return join_rows(lines)
