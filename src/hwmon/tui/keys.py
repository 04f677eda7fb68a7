"""The dashboard's keys that act on a pane's content (search and filter the raw log, charts, stop a supervised
run) and the closing line. A base of ``HwmonApp`` (after ``PaneLayout``): split out of ``tui/app.py``, which keeps
the wiring."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any, ClassVar

from textual import on
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.widgets import Input

from hwmon import exitcodes
from hwmon.model import figures
from hwmon.tui import view
from hwmon.tui.panes import PaneLayout
from hwmon.tui.screens import ConfirmScreen, HelpScreen, RecordScreen
from hwmon.tui.widgets.charts import ChartPane


class DashboardKeys(PaneLayout):
    """Every key of the dashboard (the bindings), and the actions on the log, the charts and the run."""

    BINDINGS: ClassVar[list[BindingType]] = [
        # Ctrl-C quits, as in lnav, less +F, toolong and LEET; a supervised run keeps going (as with q).
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
        Binding("q", "quit", "Quit"),
        Binding("h", "help", "Help"),
        Binding("question_mark", "help", "Help", show=False),
        Binding("slash", "prompt('/')", "Search", key_display="/"),
        Binding("n", "next_match", "Next"),
        Binding("N", "previous_match", "Prev"),
        Binding("ampersand", "prompt('&')", "Filter", key_display="&"),
        Binding("e", "errors_only", "Errors"),
        Binding("w", "wrap", "Wrap"),
        Binding("z", "maximise", "Max"),
        Binding("f", "follow", "Follow", show=False),
        Binding("l", "toggle_log", "Log", show=False),
        Binding("1", "pane(1)", "Phases", show=False),
        Binding("2", "pane(2)", "Progress", show=False),
        Binding("3", "pane(3)", "Chart", show=False),
        Binding("4", "pane(4)", "Log", show=False),
        Binding("5", "pane(5)", "Model", show=False),
        Binding("6", "pane(6)", "System", show=False),
        Binding("7", "pane(7)", "Alerts", show=False),
        Binding("8", "pane(8)", "Ranks", show=False),
        Binding("c", "chart_kind", "Chart", show=False),
        Binding("m", "metric", "Metric", show=False),
        Binding("plus,equals_sign", "zoom(1)", "Zoom in", show=False),
        Binding("minus", "zoom(-1)", "Zoom out", show=False),
        Binding("0", "zoom_all", "All steps", show=False),
        Binding("L", "log_y", "Log y", show=False),
        Binding("S", "smoothing", "Smooth", show=False),
        Binding("x", "x_axis", "x: steps/time", show=False),
        Binding("s", "stop_run", "Stop run"),
        Binding("s", "stop_unavailable", "Stop run", show=False),
        Binding("tab", "focus_next", "Pane", show=False, priority=True),
        Binding("shift+tab", "focus_previous", "Prev pane", show=False, priority=True),
        Binding("escape", "escape", "Clear", show=False),
    ]

    # Set by HwmonApp.__init__ (declared here for the type checker).
    _source: Any
    _clock: Callable[[], float]
    _run_title: str
    stopping: bool

    def action_help(self) -> None:
        """Show the key help (``?`` in the raw log searches backward, as in less; ``h`` always opens help)."""
        if isinstance(self.screen, HelpScreen):
            return
        # One help screen for the app's life: composed once (ahead of time by prepare_help), then only shown again.
        self.prepare_help()
        self.push_screen("help")

    def prepare_help(self) -> None:
        """Install the help screen and compose it off screen (mounted and styled, not shown), so that the first
        ``h`` only shows it: composing it on the first press was most of that press's latency (bench_tui.py).
        The dashboard calls this once it is idle after its first frame; ``h`` calls it in case it has not."""
        if self.is_screen_installed("help"):
            return
        self.install_screen(HelpScreen(), name="help")
        self._get_screen("help")  # Textual's own first step of push_screen: registers and composes the screen

    async def on_key(self, event: Any) -> None:
        # `?` is less's backward search while the raw log has focus, help elsewhere (h is always help).
        if event.key == "question_mark" and self._log_focused():
            event.stop()
            event.prevent_default()
            self.action_prompt("?")

    def action_prompt(self, mode: str) -> None:
        """Open the log's prompt for ``/`` (search forward), ``?`` (backward) or ``&`` (filter)."""
        if self.bottom_pane != "logpane" or self._log_hidden:
            self.bottom_pane = "logpane"
            self._log_hidden = False
            self._update_layout()
        self.log_pane.open_prompt(mode)  # type: ignore[arg-type]

    def action_next_match(self) -> None:
        """Next match (in the search's direction)."""
        self.log_pane.next_match()

    def action_previous_match(self) -> None:
        """Previous match."""
        self.log_pane.next_match(reverse=True)

    def action_follow(self) -> None:
        """Follow the log on/off (the log's title says which)."""
        self.log_pane.toggle_follow()

    def action_wrap(self) -> None:
        """Wrap long log lines on/off."""
        self.log_pane.toggle_wrap()

    def action_errors_only(self) -> None:
        """Errors/warnings-only filter on/off."""
        pane = self.log_pane
        pane.set_errors_only(not pane.errors_only)

    def action_open_record(self) -> None:
        """Open the record under the log's cursor in full."""
        first, lines = self.log_pane.current_record()
        if lines:
            # Which rule or learned template read the record's first line (issue 17: provenance), when known.
            rule = self.state.provenance.rule_of_line(first) if first > 0 else None
            self.push_screen(RecordScreen(lines, first, rule=rule))

    def _charts(self) -> list[ChartPane]:
        focused = self.focused
        if isinstance(focused, ChartPane):
            return [focused]
        return list(self.query(ChartPane))

    def action_chart_kind(self) -> None:
        """Below 120 columns: switch the chart between loss and throughput (m goes through every series)."""
        chart = self.query_one("#chart-loss", ChartPane)
        chart.set_kind("rate" if chart.kind == "loss" else "loss")

    def action_metric(self) -> None:
        """The chart (the focused one, else the first) shows the run's next series: loss, throughput, then every
        other series it has (lr, grad norm, accuracy, eval metrics, learned fields)."""
        focused = self.focused
        charts = [focused] if isinstance(focused, ChartPane) else [c for c in self.query(ChartPane) if c.display]
        if not charts:
            self.set_status("no chart yet: no loss, throughput or other metric reported")
            return
        if charts[0].cycle() is None:
            self.set_status("no series to chart yet")

    def action_zoom(self, delta: int) -> None:
        """Zoom the charts in (the last half of the steps shown) or out."""
        for chart in self._charts():
            chart.zoom(delta)

    def action_zoom_all(self) -> None:
        """Every step again."""
        for chart in self._charts():
            chart.zoom(None)

    def action_log_y(self) -> None:
        """Log-scaled y axis on/off."""
        for chart in self._charts():
            chart.toggle_log_y()

    def action_smoothing(self) -> None:
        """Smoothing (TensorBoard's debiased EMA, the raw series faint behind it) on/off."""
        for chart in self._charts():
            chart.toggle_smoothing()

    def action_x_axis(self) -> None:
        """x axis in steps or in time."""
        for chart in self._charts():
            chart.toggle_x_time()

    def _supervised_live(self) -> bool:
        return getattr(self._source, "run_dir", None) is not None and not view.is_ended(self.state)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Stopping only makes sense for a run hwmon supervises that is still going; otherwise `s` says why.
        if action == "stop_run":
            return self._supervised_live()
        if action == "stop_unavailable":
            return not self._supervised_live()
        if action in ("next_match", "previous_match"):
            # In the footer only while there is a search to step through.
            try:
                return bool(self.log_pane.search_term)
            except NoMatches:
                return False
        return True

    def action_stop_unavailable(self) -> None:
        """``s`` where there is nothing to stop: say why instead of doing nothing."""
        if getattr(self._source, "run_dir", None) is None:
            self.set_status("nothing to stop: this is a log, not a run hwmon started")
        else:
            self.set_status(f"nothing to stop: the run has already ended ({self.state.status})")

    def action_stop_run(self) -> None:
        """Ask, then stop the supervised run (the same escalation as ``hwmon stop``)."""
        run_dir = getattr(self._source, "run_dir", None)
        if run_dir is None:
            return
        name = view.safe_text(str(getattr(self._source, "name", "") or run_dir.name))

        def answered(yes: bool | None) -> None:
            if yes:
                self.set_status(f"stopping {name}: SIGINT, then SIGTERM, then SIGKILL")
                self.stopping = True
                threading.Thread(target=self._stop_worker, args=(run_dir,), name="hwmon-stop", daemon=True).start()

        self.push_screen(ConfirmScreen(f"Stop run {name}?"), answered)

    def _stop_worker(self, run_dir: Any) -> None:
        # A daemon thread: stopping waits on the process group for up to the escalation timeouts, and q must not
        # wait for that (the closing line says the stop was under way).
        from hwmon.runners import supervisor
        from hwmon.store import registry

        record = registry.load(run_dir)
        try:
            if record is None:
                raise exitcodes.HwmonError(f"no run record in {run_dir}", exitcodes.RUN_NOT_FOUND)
            if record.slurm_job_id:  # a run submitted with --sbatch: scancel (SIGINT first)
                from hwmon.slurm.watcher import stop_run as stop_slurm_run

                final = stop_slurm_run(record)
            else:
                final = supervisor.stop_run(record)
            message = f"run {final.run_id} {final.status}"
        except exitcodes.HwmonError as exc:
            message = str(exc)
        finally:
            self.stopping = False
        with contextlib.suppress(RuntimeError):  # the dashboard has closed meanwhile
            self.call_from_thread(self.set_status, view.safe_text(message))

    def action_escape(self) -> None:
        """Esc: close the prompt, else clear the search highlight, else restore a maximised pane."""
        pane = self.log_pane
        if pane.prompting:
            pane.close_prompt()
        elif pane.search_term:
            pane.set_search("")
        elif self.screen.maximized is not None:
            self._minimise()

    @on(Input.Blurred, "#search")
    def _search_blurred(self, _event: Input.Blurred) -> None:
        self.log_pane.end_prompt()

    def closing_line(self) -> str:
        """One line for the shell after the dashboard closes: how the run stands and how to come back."""
        state = self.state
        now = self._clock()
        parts = [view.safe_text(self._run_title), view.display_status(state, now, output_seen=state.lines > 0)]
        # The model's figures, spelt by its fmt_* functions (as the header and summary print them).
        progress = figures.step_progress(state)
        if progress is not None and progress.step is not None:
            parts.append(figures.fmt_step(progress))
        _step, loss = figures.last_loss(state)
        if loss is not None:
            parts.append(f"loss {figures.fmt_loss(loss)}")
        wall = figures.wall_seconds(state, now)
        if wall is not None:
            parts.append(f"wall {figures.fmt_wall(wall)}")
        if state.alert_count:
            parts.append(f"{state.alert_count} alert{'s' if state.alert_count != 1 else ''}")
        line = "hwmon: " + " · ".join(parts)
        hint = getattr(self._source, "closing_hint", None)
        if isinstance(hint, str):
            # The source knows better (a demo's replayed log is a temporary file, gone once it ends).
            return line + (f" — {view.safe_text(hint)}" if hint else "")
        ref = self._come_back_ref()
        if ref:
            line += f" — back with: hwmon attach {ref}"
            if self.stopping:
                line += f" · the stop was under way when you quit: hwmon stop {ref} finishes it"
            elif self._supervised_live():
                # The one line `hwmon run` prints after q: the run goes on, and how to stop it.
                line += f" · stop: hwmon stop {ref}"
        return line

    def _come_back_ref(self) -> str:
        come_back = getattr(self._source, "come_back", None)
        if isinstance(come_back, str) and come_back and getattr(self._source, "run_dir", None) is None:
            return view.safe_text(come_back)  # already shell-quoted arguments (an ssh ref with its port/options)
        run_dir = getattr(self._source, "run_dir", None)
        if run_dir is not None:
            return view.safe_text(str(getattr(self._source, "name", "") or run_dir.name))
        name = view.safe_text(str(self._source.name))
        if name in ("", "-", "stdin"):
            return ""
        import shlex

        return shlex.quote(name)
