"""The ranks pane (issue 21): every rank of a distributed run at a glance.

Few ranks (as many as there are rows): one row per rank — rank, host, step, how far behind the leading step, how
long quiet, lines, errors and its state (``failed``, ``silent``, ``behind``). Many ranks (512 on an 80-column
pane): a heat-strip, one cell per rank in rank order, its character and colour saying its state (``█`` level with
the others, ``▓`` a step or more behind, ``!`` silent or far behind, ``x`` failed, ``·`` states no steps; the
characters carry the meaning without colour too), a line of totals above it, and the ranks that need a look below
it. What each figure is comes from ``hwmon.model.distributed.rank_views`` (the summary's and the alerts' numbers).
Cheap: one pass over the ranks per repaint, cells of one kind appended as one run.
"""

from __future__ import annotations

import statistics

from rich.text import Text
from textual.geometry import Size
from textual.widget import Widget

from hwmon.model.distributed import RankView, rank_views
from hwmon.model.fmt import fmt_duration
from hwmon.model.state import RunState
from hwmon.model.text import safe_text
from hwmon.tui.widgets._text import join_rows

__all__ = ["CELLS", "RanksPane", "render_ranks"]

CELLS: dict[str, tuple[str, str]] = {
    "ok": ("█", "green"),
    "lagging": ("▓", "yellow"),
    "behind": ("!", "bold red"),
    "silent": ("!", "bold red"),
    "failed": ("x", "bold reverse red"),
    "-": ("·", "dim"),
}
"""A rank's cell in the heat-strip by its state: the character (readable without colour) and its style."""
_FLAG_STYLES = {"failed": "bold red", "silent": "bold red", "behind": "yellow"}
MAX_ROWS = 16
"""The pane's height at most (a row per rank up to 14 ranks; the heat-strip beyond)."""
_WORST = {"failed": 0, "silent": 1, "behind": 2, "lagging": 3, "ok": 4, "-": 5}


def _kind(view: RankView) -> str:
    if view.flag == "ok" and view.lag:
        return "lagging"
    return view.flag


def _totals(views: list[RankView], dropped: int) -> Text:
    steps = [v.info.last_step for v in views if v.info.last_step is not None]
    line = Text(no_wrap=True, overflow="ellipsis")
    line.append(f"{len(views) + dropped} ranks", style="bold")
    if steps:
        low, high, median = min(steps), max(steps), statistics.median(steps)
        line.append(f" · steps {low}–{high} (median {median:g})" if low != high else f" · step {high}")
    counts: dict[str, int] = {}
    for view in views:
        counts[view.flag] = counts.get(view.flag, 0) + 1
    for flag in ("failed", "silent", "behind"):
        if counts.get(flag):
            line.append(f" · {counts[flag]} {flag}", style=_FLAG_STYLES[flag])
    return line


def _row(view: RankView, host_width: int) -> Text:
    info = view.info
    line = Text(no_wrap=True, overflow="ellipsis")
    line.append(f"{info.rank:>5} ", style="bold")
    if host_width:
        line.append(f"{safe_text(info.host or '-', host_width):<{host_width}} ", style="dim")
    line.append(f"{'-' if info.last_step is None else info.last_step:>7} ")
    line.append(f"{'' if not view.lag else f'-{view.lag}':>5} ", style="yellow" if view.lag else "")
    line.append(f"{fmt_duration(view.quiet_s):>6} ")
    line.append(f"{info.lines:>8} ")
    line.append(f"{info.errors:>4} ", style="red" if info.errors else "")
    if view.flag in _FLAG_STYLES:
        line.append(view.flag, style=_FLAG_STYLES[view.flag])
    return line


def _note(view: RankView) -> Text:
    info = view.info
    line = Text(no_wrap=True, overflow="ellipsis")
    line.append(f"rank {info.rank}", style=_FLAG_STYLES.get(view.flag, "bold"))
    if info.host:
        line.append(f" ({safe_text(info.host, 40)})", style="dim")
    what = view.flag if view.flag in _FLAG_STYLES else "behind"
    detail = f" {what}"
    if info.last_step is not None:
        detail += f" at step {info.last_step}"
    if view.quiet_s is not None and view.flag == "silent":
        detail += f", quiet {fmt_duration(view.quiet_s)}"
    line.append(detail + ": ")
    line.append(safe_text(info.first_error or info.text, 200), style="dim")
    return line


def render_ranks(state: RunState, now: float | None, width: int, height: int) -> Text:
    """The pane's content for ``width`` x ``height`` cells (see the module doc)."""
    views = rank_views(state, now)
    if len(views) < 2:
        return Text("no ranks (a single-process run)", style="dim")
    width = max(20, width)
    height = max(3, height)
    if len(views) + 2 <= height:
        host_width = min(16, max((len(v.info.host or "") for v in views), default=0))
        head = Text(no_wrap=True, overflow="ellipsis", style="dim")
        head.append(f"{'rank':>5} " + (f"{'host':<{host_width}} " if host_width else ""))
        head.append(f"{'step':>7} {'lag':>5} {'quiet':>6} {'lines':>8} {'err':>4} state")
        return join_rows([_totals(views, state.ranks.dropped), head, *(_row(v, host_width) for v in views)])
    rows = [_totals(views, state.ranks.dropped)]
    strip_rows = -(-len(views) // width)
    line = Text(no_wrap=True, overflow="crop")
    run_kind, run_length = "", 0
    for index, view in enumerate(views):
        kind = _kind(view)
        if index and index % width == 0:
            if run_length:
                char, style = CELLS[run_kind]
                line.append(char * run_length, style=style)
                run_length = 0
            rows.append(line)
            line = Text(no_wrap=True, overflow="crop")
        if kind != run_kind and run_length:
            char, style = CELLS[run_kind]
            line.append(char * run_length, style=style)
            run_length = 0
        run_kind = kind
        run_length += 1
    if run_length:
        char, style = CELLS[run_kind]
        line.append(char * run_length, style=style)
    rows.append(line)
    room = height - 1 - strip_rows
    worst = sorted((v for v in views if _WORST[_kind(v)] < 3), key=lambda v: (_WORST[_kind(v)], v.info.rank))
    if room >= 1 and worst:
        rows.extend(_note(v) for v in worst[:room])
    elif room >= 1:
        legend = Text(no_wrap=True, overflow="ellipsis", style="dim")
        legend.append("█ level  ▓ behind  ! silent/far behind  x failed  · no steps")
        rows.append(legend)
    return join_rows(rows[:height])


class RanksPane(Widget, can_focus=True):
    """Every rank of a distributed run (see the module doc)."""

    ALLOW_MAXIMIZE = True  # z maximises the pane

    DEFAULT_CSS = """
    RanksPane { height: auto; max-height: 16; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._state: RunState | None = None
        self._now: float | None = None
        self._count = -1

    def show(self, state: RunState, now: float | None) -> None:
        """Take the latest state; repaints on the next frame."""
        self._state, self._now = state, now
        count = len(state.ranks.table)
        self.refresh(layout=count != self._count)
        self._count = count

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        """Rows the content needs at ``width``: a row per rank and two (up to the pane's cap), else the strip's rows
        with a totals line and a few notes."""
        state = self._state
        count = 0 if state is None else len(state.ranks.table)
        if count < 2:
            return 1
        if count + 2 <= MAX_ROWS:
            return count + 2
        return min(MAX_ROWS, 1 + -(-count // max(20, width)) + 3)

    def has_ranks(self) -> bool:
        """Whether there is anything to show (a run with two ranks or more)."""
        return self._state is not None and len(self._state.ranks.table) >= 2

    def render(self) -> Text:
        state = self._state
        if state is None:
            return Text("no ranks yet", style="dim")
        size = self.content_size
        return render_ranks(state, self._now, size.width or 80, size.height or MAX_ROWS)
