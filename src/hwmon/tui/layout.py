"""How many rows each pane of the dashboard's main column gets (pure: no Textual, unit-testable).

The column holds, top to bottom, the phase timeline, the progress pane, the chart row and the bottom area (the
pane tabs and the raw log, or the pane a tab shows). Each top pane says how many rows it needs (below that it
would hide something that must show: a big phase, the training line) and how many it could use; the plan gives
every pane its need first, then the extras in a fixed order of importance, and the bottom area what is left (at
least ``BOTTOM_MIN`` rows: the tab row and a few log lines). When even the needs do not fit (a terminal below
80x24), the chart goes first, then the progress pane's extra rows; the timeline folds what it cannot show.
"""

from __future__ import annotations

from dataclasses import dataclass

BOTTOM_MIN = 4  # the tab row and three log lines
CHART_NEED = 4  # the title, two plot rows and the x labels


@dataclass(frozen=True, slots=True)
class Need:
    """One pane's rows, its title row included: ``need`` (0: the pane is hidden), ``want`` (what it can use) and,
    for the timeline, ``extra`` (rows for phases expected from history, given only after the chart is served)."""

    need: int
    want: int
    extra: int = 0


@dataclass(frozen=True, slots=True)
class Plan:
    timeline: int
    progress: int
    charts: int
    bottom: int


def chart_rows(terminal_rows: int) -> int:
    """The chart row's height (its title included) for a terminal this tall: 5 below 22 rows, 6 below 40, then
    12."""
    if terminal_rows < 22:
        return 5
    if terminal_rows < 40:
        return 6
    return 12


def plan(body_rows: int, timeline: Need, progress: Need, charts: Need, *, bottom_min: int = BOTTOM_MIN) -> Plan:
    """Rows for each pane of a main column ``body_rows`` tall (the header and footer are outside it)."""
    rows = {"timeline": timeline.need, "progress": progress.need, "charts": charts.need}
    budget = max(0, body_rows - bottom_min)
    # Needs first; when even they do not fit, the chart goes, then the progress pane shrinks to its title and the
    # training line, then the timeline to what is left (it folds what it cannot show, and says so).
    if sum(rows.values()) > budget:
        rows["charts"] = 0
    if sum(rows.values()) > budget and rows["progress"] > 2:
        rows["progress"] = 2
    if sum(rows.values()) > budget:
        rows["progress"] = min(rows["progress"], max(0, budget - rows["timeline"]))
        rows["timeline"] = min(rows["timeline"], max(0, budget - rows["progress"]))
    spare = budget - sum(rows.values())
    # Then the extras, in order: every phase kind, the progress rows, the chart at its size, expected phases.
    steps = [
        ("timeline", timeline.want),
        ("progress", progress.want),
        ("charts", charts.want if rows["charts"] else 0),
        ("timeline", timeline.want + timeline.extra),
    ]
    for name, target in steps:
        if spare <= 0:
            break
        grow = max(0, min(spare, target - rows[name]))
        rows[name] += grow
        spare -= grow
    used = sum(rows.values())
    return Plan(rows["timeline"], rows["progress"], rows["charts"], max(0, body_rows - used))
