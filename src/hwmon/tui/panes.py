"""The dashboard's panes and where they go: which pane shows, the rows each gets (the layout plan, see
``hwmon.tui.layout``), the tab row of the bottom area, the pane keys (1-7), ``l`` and ``z``.

A base class of ``HwmonApp`` (it holds the run's state and the widgets): split out of ``tui/app.py`` so that the
app keeps the wiring (source, repaints, system sampling) and this module the layout.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import App
from textual.css.query import NoMatches
from textual.css.scalar import Scalar
from textual.widget import Widget

from hwmon.model.state import RunState
from hwmon.tui import layout
from hwmon.tui.widgets import LogPane, ModelTree, PaneTabs, PhaseTimeline, ProgressPane, RunHeader
from hwmon.tui.widgets.charts import ChartPane, chart_kinds
from hwmon.tui.widgets.tabs import Tab

PANE_IDS = ("timeline", "progress", "charts", "logpane", "model", "system", "alerts", "ranks")
# The key that shows each pane (its title starts with it): 1 phases ... 7 alerts.
PANE_KEYS = {
    "timeline": "1",
    "progress": "2",
    "charts": "3",
    "logpane": "4",
    "model": "5",
    "system": "6",
    "alerts": "7",
    "ranks": "8",
}
PANE_NAMES = {
    "timeline": "phases",
    "progress": "progress",
    "charts": "chart",
    "logpane": "log",
    "model": "model",
    "system": "system",
    "alerts": "alerts",
    "ranks": "ranks",
}
SIDE_PANES = ("model", "system", "alerts", "ranks")


_EMPTY_WHY = {
    "timeline": "no phase reported",
    "progress": "no step or progress bar",
    "charts": "no loss or throughput",
    "model": "no model summary printed",
    "system": "not a supervised run: the system pane samples a run hwmon started",
    "alerts": "no alert raised",
    "ranks": "not a distributed run: fewer than two ranks print",
}


class PaneLayout(App[int]):
    """Pane placement and the keys that move between panes (a base of ``HwmonApp``)."""

    # Set by HwmonApp.__init__ (declared here for the type checker).
    state: RunState
    system_sample: Any
    bottom_pane: str
    _last_side: str
    _plan: layout.Plan | None
    _log_hidden: bool

    def set_status(self, text: str) -> None:
        """Show ``text`` in the header's status row (HwmonApp's)."""
        raise NotImplementedError

    def _has_content(self, pane_id: str) -> bool:
        state = self.state
        if pane_id == "timeline":
            return bool(state.phases)
        if pane_id == "progress":
            return state.last_step is not None or bool(state.progress) or bool(state.checkpoints)
        if pane_id == "charts":
            return bool(chart_kinds(state))
        if pane_id == "model":
            return state.model is not None
        if pane_id == "alerts":
            return bool(state.alerts)
        if pane_id == "system":
            return self.system_sample is not None
        if pane_id == "ranks":
            return len(state.ranks.table) >= 2  # a distributed run (issue 21)
        return True

    def _update_layout(self) -> None:
        """Panes appear when they have something to show: the model pane once a model was printed, alerts once
        raised, the system pane while sampling (or for a Cerebras job), the charts once a loss or rate arrived.
        The main column's top panes get their rows from the layout plan (every big phase keeps a row at 80x24);
        below 120 columns the side panes are tabs of the bottom area, named with their keys in the tab row."""
        state = self.state
        screen = self.screen
        wide = screen.has_class("-wide")
        loss_chart = self.query_one("#chart-loss", ChartPane)
        rate_chart = self.query_one("#chart-rate", ChartPane)
        has_loss, has_rate = loss_chart.has_data(state), rate_chart.has_data(state)
        side = [pane_id for pane_id in SIDE_PANES if self._has_content(pane_id)]
        if self.bottom_pane != "logpane" and self.bottom_pane not in side:
            self.bottom_pane = "logpane"
        narrow_side = not wide and self.bottom_pane != "logpane"
        screen.set_class(narrow_side or (wide and self._log_hidden), "-nolog")
        for pane_id in SIDE_PANES:
            shown = pane_id in side and (wide or self.bottom_pane == pane_id)
            _show(self.query_one(f"#{pane_id}"), shown)
        _show(self.query_one("#side"), bool(side) and (wide or narrow_side))
        timeline = self.query_one(PhaseTimeline)
        progress = self.query_one(ProgressPane)
        _show(timeline, bool(state.phases))
        _show(progress, self._has_content("progress"))
        loss_chart.set_with_rate(not wide)
        if wide:
            _show(loss_chart, has_loss or not has_rate)
            _show(rate_chart, has_rate)
        else:
            # One chart below 120 columns: `c` switches it between loss and throughput.
            _show(loss_chart, True)
            _show(rate_chart, False)
            if not has_loss:
                # What the chart was showing is not there (yet): the first series the run has.
                kinds = chart_kinds(state)
                if kinds and loss_chart.kind not in kinds:
                    loss_chart.set_kind(kinds[0])
        self._plan_rows(bool(chart_kinds(state)))
        screen.set_class(bool(side), "-side")
        self.refresh_tabs()

    def _plan_rows(self, has_chart: bool) -> None:
        """Set the heights of the timeline, progress and chart panes from the layout plan for this screen."""
        if self.screen.maximized is not None:
            return
        state = self.state
        timeline = self.query_one(PhaseTimeline)
        progress = self.query_one(ProgressPane)
        header = self.query_one(RunHeader)
        height = self.size.height
        body = height - max(2, header.size.height or 2) - 1
        none = layout.Need(0, 0)
        kinds = len(timeline.rows)
        t_need = layout.Need(1 + timeline.needed_rows(), 1 + kinds, timeline.wanted_rows() - kinds)
        p_need = layout.Need(1 + progress.needed_rows(), 1 + progress.wanted_rows())
        if not state.phases:
            t_need = none
        if not self._has_content("progress"):
            p_need = none
        chart_rows = layout.chart_rows(height)
        c_need = layout.Need(layout.CHART_NEED, chart_rows) if has_chart else layout.Need(0, 0)
        planned = layout.plan(body, t_need, p_need, c_need)
        if planned == self._plan:
            return
        self._plan = planned
        _height(timeline, planned.timeline)
        _height(progress, planned.progress)
        charts = self.query_one("#charts")
        _height(charts, planned.charts)
        _show(charts, planned.charts > 0)

    def refresh_tabs(self) -> None:
        """The tab row: the pane the bottom area shows, with its state, and every pane with content but no room
        on screen, with its key."""
        try:
            tabs_widget = self.query_one(PaneTabs)
            pane = self.log_pane
        except NoMatches:
            return
        wide = self.screen.has_class("-wide")
        tabs: list[Tab] = []
        for pane_id in ("logpane", *SIDE_PANES):
            if pane_id != "logpane" and (wide or not self._has_content(pane_id)):
                continue
            details = pane.title_fields if pane_id == "logpane" else ()
            tabs.append(Tab(PANE_KEYS[pane_id], pane_id, self._tab_label(pane_id), details))
        # A top pane with content that the plan had no rows for (a terminal below 80x24) is listed too.
        for pane_id in ("timeline", "progress", "charts"):
            if self._has_content(pane_id) and not self.query_one(f"#{pane_id}").display:
                tabs.append(Tab(PANE_KEYS[pane_id], pane_id, PANE_NAMES[pane_id]))
        active = self.bottom_pane if not wide else "logpane"
        focused = self.focused
        target = self.query_one(f"#{active}")
        tabs_widget.set_tabs(tabs, active, focused is not None and target in focused.ancestors_with_self)

    def _tab_label(self, pane_id: str) -> str:
        if pane_id == "alerts" and self.state.alerts:
            return f"alerts {len(self.state.alerts)}"
        if pane_id == "ranks":
            return f"ranks {len(self.state.ranks.table)}"
        return PANE_NAMES[pane_id]

    def action_maximise(self) -> None:
        """Maximise the focused pane, or restore the layout."""
        if self.screen.maximized is not None:
            self._minimise()
            return
        pane = self._focused_pane()
        if pane is not None:
            self._maximise(pane)

    def _maximise(self, pane: Widget) -> None:
        """Show ``pane`` alone under the header, filling the screen (its planned height no longer applies)."""
        self.screen.maximize(pane, container=False)
        if pane.styles.height is not None and pane.id in ("timeline", "progress"):
            pane.styles.height = None
        pane.refresh(layout=True)

    def _minimise(self) -> None:
        """Back to the layout (the planned heights again)."""
        pane = self.screen.maximized
        self.screen.minimize()
        self._plan = None
        self._update_layout()
        if pane is not None:
            pane.refresh(layout=True)

    def _focused_pane(self) -> Widget | None:
        focused = self.focused
        if focused is None:
            return None
        for node in focused.ancestors_with_self:
            if isinstance(node, Widget) and node.id in PANE_IDS:
                return node
            if isinstance(node, ChartPane):
                return node
        return None

    def action_toggle_log(self) -> None:
        """Below 120 columns: the raw log, or the side pane last shown in its place (model, system, alerts). Wide:
        hide/show the raw log (the other panes of the column get its rows)."""
        if self.screen.has_class("-wide"):
            self._log_hidden = not self._log_hidden
            self._update_layout()
            if self._log_hidden and self._log_focused():
                self.query_one(ModelTree).focus()
            elif not self._log_hidden:
                self.log_pane.log_widget.focus()
            return
        if self.bottom_pane != "logpane":
            self._show_bottom("logpane")
            return
        side = [pane_id for pane_id in SIDE_PANES if self._has_content(pane_id)]
        if not side:
            self.set_status("nothing else to show here: no model summary, system readings or alerts yet")
            return
        self._show_bottom(self._last_side if self._last_side in side else side[0])

    def _show_bottom(self, pane_id: str) -> None:
        """Put ``pane_id`` in the bottom area (below 120 columns) and focus it."""
        self.bottom_pane = pane_id
        if pane_id != "logpane":
            self._last_side = pane_id
        self._update_layout()
        self._focus_pane(pane_id)

    def _focus_pane(self, pane_id: str) -> None:
        if pane_id == "logpane":
            self.log_pane.log_widget.focus()
        elif pane_id == "charts":
            charts = [chart for chart in self.query(ChartPane) if chart.display]
            if charts:
                charts[0].focus()
        else:
            self.query_one(f"#{pane_id}").focus()
        self.refresh_tabs()

    def action_pane(self, number: int) -> None:
        """Show and focus pane ``number`` (1 phases, 2 progress, 3 chart, 4 log, 5 model, 6 system, 7 alerts,
        8 ranks)."""
        pane_id = next(pid for pid, key in PANE_KEYS.items() if key == str(number))
        if not self._has_content(pane_id):
            self.set_status(f"no {PANE_NAMES[pane_id]} to show yet ({_EMPTY_WHY.get(pane_id, 'nothing reported')})")
            return
        maximised = self.screen.maximized
        if maximised is not None:
            self._minimise()
        if pane_id in SIDE_PANES or pane_id == "logpane":
            if self.screen.has_class("-wide"):
                if pane_id == "logpane" and self._log_hidden:
                    self._log_hidden = False
                    self._update_layout()
                self._focus_pane(pane_id)
            else:
                self._show_bottom(pane_id)
        elif not self.query_one(f"#{pane_id}").display:
            # No rows for it at this size: show it maximised (z or Esc restores).
            target = self.query_one(f"#{pane_id}")
            target.display = True
            self._focus_pane(pane_id)
            focused = self._focused_pane()
            if focused is not None:
                self._maximise(focused)
        else:
            self._focus_pane(pane_id)
        if maximised is not None:
            focused = self._focused_pane()
            if focused is not None:
                self._maximise(focused)

    def _log_focused(self) -> bool:
        focused = self.focused
        return focused is not None and self.log_pane in focused.ancestors_with_self

    @property
    def log_pane(self) -> LogPane:
        """The raw log pane (tests and the benchmark inspect it)."""
        return self.query_one(LogPane)


def _show(widget: Widget, on: bool) -> None:
    if widget.display != on:
        widget.display = on


def _height(widget: Widget, rows: int) -> None:
    if rows > 0 and widget.styles.height != Scalar.parse(str(rows)):
        widget.styles.height = rows


def _pane_title(pane_id: str) -> Text:
    """A pane's title: its key, then its name (``1 phases``)."""
    title = Text(no_wrap=True)
    title.append(PANE_KEYS[pane_id], style="bold")
    title.append(f" {PANE_NAMES[pane_id]}")
    return title
