"""The phase timeline: one row per kind of phase on a shared time axis, the current phase highlighted.

Where the wall time went is the point of the pane, so a phase that took a real share of it never loses its row:
every kind of phase with at least ``BIG_SHARE`` of the wall keeps a row at any size the layout allows (the app's
layout gives the pane that many rows first), repeats of a kind fold into its row with a count (``×3``) and their
total, and only kinds below the share fold together into one row when rows run short. Maximised (``z``), the pane
lists every span of the run in order as well, and scrolls.
"""

from __future__ import annotations

from rich.text import Text

from hwmon.events import PHASE_NAMES
from hwmon.model import figures, fmt
from hwmon.model.state import RunState
from hwmon.tui import view
from hwmon.tui.widgets._rows import RowsPane

NAME_WIDTH = 10
PULSE = ("█", "▓")
# A kind of phase with at least this share of the wall always has a row.
BIG_SHARE = 0.01


class PhaseTimeline(RowsPane):
    """Each kind of phase as bars at their places on the run's time axis, with its total duration, % of wall time
    and how many spans it had."""

    DEFAULT_CSS = """
    PhaseTimeline { height: auto; text-wrap: nowrap; text-overflow: clip; }
    """

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
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
        rows = self.wanted_rows()
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

    def _is_big(self, row: view.TimelineRow) -> bool:
        """The current phase, and every kind with a known share of at least ``BIG_SHARE``; a kind no log time
        measured (``?``) is not known to be big and folds with the small ones when rows run short. Without a
        known wall every measured kind counts as big."""
        if row.current:
            return True
        if not row.known:
            return False
        wall = self._timeline.wall if self._timeline is not None else None
        if not wall or wall <= 0 or row.share is None:
            return True
        return row.share >= BIG_SHARE

    def needed_rows(self) -> int:
        """The fewest content rows that show every big kind of phase (plus one row folding the small ones)."""
        rows = self.rows
        if not rows:
            return 1
        big = sum(1 for row in rows if self._is_big(row))
        return big + (1 if big < len(rows) else 0)

    def wanted_rows(self) -> int:
        """Content rows for every kind and every expected phase."""
        return max(1, len(self.rows) + len(self._pending_names()))

    # ------------------------------------------------------------------------------------------------ drawing
    def pane_rows(self, width: int, height: int) -> list[Text]:
        timeline = self._timeline
        if timeline is None or not timeline.rows:
            return [Text("no phase reported yet", style="dim")]
        counts = [f"×{row.count}" for row in timeline.rows if row.count > 1]
        count_width = max((len(c) for c in counts), default=0)
        bar_width = max(4, width - 1 - NAME_WIDTH - 1 - 7 - 5 - (count_width + 1 if count_width else 0))
        kinds = timeline.rows
        pending = self._pending_names()
        lines: list[Text]
        if self.maximised or len(kinds) + len(pending) <= height:
            lines = [self._row(row, bar_width, count_width) for row in kinds]
            lines += [self._pending(name, bar_width) for name in pending]
        elif len(kinds) <= height:
            lines = [self._row(row, bar_width, count_width) for row in kinds]
            lines += [self._pending(name, bar_width) for name in pending[: height - len(kinds)]]
        else:
            lines = self._folded(kinds, height, bar_width, count_width)
        if self.maximised and timeline.spans:
            lines.append(Text(""))
            lines.append(Text(f" every span, in order ({len(timeline.spans)})", style="bold"))
            span_bar = max(4, width - 4 - NAME_WIDTH - 1 - 7 - 12)
            lines += [self._span(index, span, span_bar) for index, span in enumerate(timeline.spans, 1)]
        return lines

    def _folded(self, kinds: list[view.TimelineRow], height: int, bar_width: int, count_width: int) -> list[Text]:
        """Fewer rows than kinds: the small kinds fold into one row; if even the big ones do not fit (a terminal
        below 80x24), the most recent keep their rows and the note says what else there is."""
        big = [row for row in kinds if self._is_big(row)]
        small = [row for row in kinds if not self._is_big(row)]
        if len(big) + (1 if small else 0) <= height:
            lines = [self._row(row, bar_width, count_width) for row in big]
            if small:
                measured = [row for row in small if row.known]
                why = "<1% each" if len(measured) == len(small) else "not measured" if not measured else "<1% or ?"
                lines.append(self._fold_note(small, why))
            return lines
        big = big or kinds  # nothing measured: every kind is as big as any other
        if height <= 1:
            keep = [next((row for row in big if row.current), max(big, key=lambda row: row.seconds))]
            return [self._row(keep[0], bar_width, count_width)]
        keep = big[-(height - 1) :]
        dropped = [row for row in kinds if row not in keep]
        return [self._fold_note(dropped, "z shows all"), *(self._row(row, bar_width, count_width) for row in keep)]

    def _fold_note(self, rows: list[view.TimelineRow], why: str) -> Text:
        note = Text(no_wrap=True, overflow="crop", style="dim")
        parts = [f"{row.name} {figures.fmt_wall(row.seconds) if row.known else '?'}" for row in rows]
        note.append(f" + {', '.join(parts)} ({why})")
        return note

    def _cells(self, spans: list[tuple[float, float]], bar_width: int) -> tuple[list[str], int]:
        axis = self._timeline.axis_seconds if self._timeline is not None else 0.0
        cells = ["─"] * bar_width
        last_cell = -1
        if axis > 0:
            for offset, seconds in spans:
                first = min(bar_width - 1, int(offset / axis * bar_width))
                last = min(bar_width - 1, max(first, int((offset + seconds) / axis * bar_width - 1e-9)))
                for i in range(first, last + 1):
                    cells[i] = "█"
                last_cell = max(last_cell, last)
        elif spans:
            cells[0] = "█"
            last_cell = 0
        return cells, last_cell

    def _row(self, row: view.TimelineRow, bar_width: int, count_width: int) -> Text:
        line = Text(no_wrap=True, overflow="crop")
        line.append("▶" if row.current else " ", style="bold")
        line.append(f"{row.name:<{NAME_WIDTH}}", style="bold reverse" if row.current else "bold")
        line.append(" ")
        cells, last_cell = self._cells(row.spans, bar_width)
        if row.current and last_cell >= 0:
            # The head of the current phase pulses (2 frames from the injected clock) so it reads as live even
            # without colour; with a fixed clock (snapshots) the frame is fixed.
            cells[last_cell] = PULSE[int(self._now * 2) % 2]
        bar_style = "bold yellow" if row.current else "cyan"
        for cell in cells:
            line.append(cell, style=bar_style if cell != "─" else "dim")
        duration = figures.fmt_wall(row.seconds) if row.known else "?"
        line.append(f" {duration:>6}", style="bold" if row.current else "")
        line.append(f" {figures.fmt_share(row.share if row.known else None):>4}", style="dim")
        if count_width:
            count = f"×{row.count}" if row.count > 1 else ""
            line.append(f" {count:<{count_width}}", style="dim")
        return line

    def _pending(self, name: str, bar_width: int) -> Text:
        line = Text(no_wrap=True, overflow="crop")
        line.append(f" {name:<{NAME_WIDTH}} ", style="dim")
        line.append("┄" * bar_width, style="dim")
        line.append(f" {'~' + fmt.fmt_duration(self.expected[name]):>6}", style="dim italic")
        line.append(" exp", style="dim")
        return line

    def _span(self, index: int, span: view.TimelineSpan, bar_width: int) -> Text:
        line = Text(no_wrap=True, overflow="crop")
        line.append(f"{index:>3} ", style="dim")
        label = span.name if span.repeats == 1 else f"{span.name}×{span.repeats}"
        line.append(f"{label:<{NAME_WIDTH}} ", style="bold" if span.current else "")
        cells, _last = self._cells([(span.offset, span.seconds)], bar_width)
        for cell in cells:
            line.append(cell, style=("bold yellow" if span.current else "cyan") if cell != "─" else "dim")
        duration = figures.fmt_wall(span.seconds) if span.known else "?"
        line.append(f" {duration:>6}", style="bold" if span.current else "")
        line.append(f" at +{fmt.fmt_duration(span.offset)}", style="dim")
        if span.detail:
            line.append(f" {view.safe_text(span.detail)}", style="dim")
        return line
