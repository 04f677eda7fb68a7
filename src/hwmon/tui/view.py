"""View helpers: turn a ``RunState`` into the numbers and strings the panes show.

Pure functions (no Textual), so the formatting rules are unit-testable and the widgets stay thin. Every function
takes the injected clock's reading ``now`` instead of reading a clock itself, which keeps snapshots deterministic.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from hwmon.model import figures
from hwmon.model import text as text_mod
from hwmon.model.state import ProgressBar, RunState


def safe_text(text: str) -> str:
    """``text`` with terminal escape sequences removed and other control characters replaced by U+FFFD.

    The splitter already cleans lines; this is the UI's own guard, because a single escape reaching the terminal
    (``ESC ] 52`` clipboard writes, ``ESC [ 2J``) would act on the user's terminal instead of being shown.
    """
    return text_mod.safe_text(text, tab="    ")


def is_ended(state: RunState) -> bool:
    """True once the run reported its end (or failed, or was stopped): ``hwmon.model.figures.is_ended``."""
    return figures.is_ended(state)


def wall_seconds(state: RunState, now: float | None) -> float | None:
    """The run's wall time (``hwmon.model.figures.wall_seconds``: the same figure ``hwmon summary`` reports)."""
    return figures.wall_seconds(state, now)


def display_status(state: RunState, now: float | None, *, output_seen: bool = False) -> str:
    """The status word (``hwmon.model.figures.display_status``)."""
    return figures.display_status(state, now, output_seen=output_seen)


@dataclass(slots=True)
class TimelineRow:
    """One phase name on the shared time axis: its spans as (offset, duration) seconds from the run's start."""

    name: str
    spans: list[tuple[float, float]] = field(default_factory=list)
    seconds: float = 0.0
    current: bool = False
    detail: str = ""
    known: bool = True
    # How many spans of this phase the run went through (a long run's folded spans included).
    count: int = 0
    # Its share of the wall time (``hwmon.model.figures.phase_totals``; None when unknown).
    share: float | None = None


@dataclass(slots=True)
class TimelineSpan:
    """One span of the run in order (what the maximised timeline lists): offset and duration on the axis."""

    name: str
    offset: float
    seconds: float
    known: bool
    repeats: int
    current: bool
    detail: str = ""


@dataclass(slots=True)
class Timeline:
    rows: list[TimelineRow]
    axis_seconds: float
    wall: float | None
    spans: list[TimelineSpan] = field(default_factory=list)


def timeline(state: RunState, now: float | None) -> Timeline:
    """Phases grouped by name (first appearance order), each span placed on one axis starting at the run start.

    Offsets come from log timestamps when the phase has them, else from arrival times, else phases are laid end
    to end (a log without timestamps that states durations, e.g. ``Compiled model in 31 secs``)."""
    t0 = state.first_ts
    if t0 is None:
        starts = [p.start for p in state.phases if p.start is not None]
        t0 = min(starts) if starts else None
    c0 = state.started_at
    if c0 is None:
        starts_at = [p.start_at for p in state.phases if p.start_at is not None]
        c0 = min(starts_at) if starts_at else None
    rows: dict[str, TimelineRow] = {}
    spans: list[TimelineSpan] = []
    cursor = 0.0
    axis = 0.0
    current = state.current_phase
    for phase, seconds in zip(state.phases, figures.phase_durations(state, now), strict=True):
        if phase.start is not None and t0 is not None:
            offset = max(0.0, (phase.start - t0).total_seconds())
        elif phase.start_at is not None and c0 is not None:
            # Arrival times alone collapse when a whole file arrives in one batch; never place a phase before the
            # end of the previous one, so a replayed log without timestamps still reads left to right.
            offset = max(cursor, phase.start_at - c0)
        else:
            offset = cursor
        row = rows.get(phase.name)
        if row is None:
            # Known once any of its spans is measured: the row's total is the measured spans' (the model's phase
            # totals, ``hwmon.model.figures.phase_totals``, add up the same way).
            row = rows[phase.name] = TimelineRow(phase.name, known=False)
        known = seconds is not None
        if seconds is None:
            seconds = 0.0
        else:
            row.known = True
        row.spans.append((offset, seconds))
        row.seconds += seconds
        row.count += max(1, phase.repeats)
        if phase is current:
            row.current = True
            row.detail = phase.detail
        spans.append(
            TimelineSpan(phase.name, offset, seconds, known, max(1, phase.repeats), phase is current, phase.detail)
        )
        cursor = offset + seconds
        axis = max(axis, cursor)
    wall = figures.wall_seconds(state, now)
    if wall is not None:
        axis = max(axis, wall)
    # The share each kind of phase took is the model's figure (summary, report and export print the same).
    for total in figures.phase_totals(state, now):
        if (row := rows.get(total.name)) is not None:
            row.share = total.share
    return Timeline(list(rows.values()), axis, wall, spans)


def ordered_bars(state: RunState, limit: int) -> list[ProgressBar]:
    """The progress bars worth showing, unfinished ones first, then the most recently updated (by line)."""
    bars = list(state.progress.values())
    bars.sort(key=lambda bar: (bar.done, -bar.line))
    return bars[:limit]


def bar_cells(fraction: float | None, width: int) -> tuple[int, int]:
    """(filled, empty) cell counts for a bar of ``width`` cells."""
    if width <= 0:
        return 0, 0
    if fraction is None:
        return 0, width
    filled = int(round(max(0.0, min(1.0, fraction)) * width))
    return filled, width - filled


# Lower-case words checked with C substring search: a case-insensitive regex alternation took ~14 us a line, too
# slow to re-filter 5000 kept lines within a keypress.
_ERROR_WORDS = ("error", "exception", "traceback", "terminate called", "what():", "fatal", "failed", "warn")
_GLOG_ERROR = re.compile(r"(?:^|\W)E\d{4} ")


def is_error_or_warning(line: str) -> bool:
    """Whether a raw log line looks like an error or warning (for the log pane's errors-only filter)."""
    low = line.lower()
    for word in _ERROR_WORDS:
        if word in low:
            return True
    # Poplar/PopLibs "W:" level and glog "E0711 ..." lines.
    return " W: " in line or line.startswith("W: ") or ("E" in line and _GLOG_ERROR.search(line) is not None)


def downsample(values: list[float], width: int) -> list[float]:
    """At most ``width`` points for a sparkline (bucket means), finite values only."""
    finite = [v for v in values if math.isfinite(v)]
    if width <= 0 or len(finite) <= width:
        return finite
    step = len(finite) / width
    out: list[float] = []
    for i in range(width):
        lo = int(i * step)
        hi = max(lo + 1, int((i + 1) * step))
        chunk = finite[lo:hi]
        out.append(sum(chunk) / len(chunk))
    return out


def bar_label(state: RunState, bar: ProgressBar) -> str:
    """A bar's name as shown; a bar drawn without a description is named by the phase its latest state was drawn
    in (``eval`` for an unnamed test loop after training, ``compile`` for one during compilation), else
    ``progress``."""
    name = safe_text(bar.name).strip()
    if name:
        return name
    phase_name = ""
    for phase in state.phases:
        if phase.start_line <= bar.line:
            phase_name = phase.name
        else:
            break
    return phase_name or "progress"
