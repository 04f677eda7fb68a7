"""The live dashboard: one ``RunState`` fed by a source worker, painted by one timer.

Data flow (see STYLE.md): a worker consumes ``source.batches()`` and posts ``BatchArrived`` messages (it never
touches widgets); the message handler folds the batch's events into the state with the reducer and queues its raw
lines; a ~10 Hz timer pushes the state into the panes only when ``state.version`` changed (or once a second, for
the wall clock and open phases), writes queued lines to the ``Log`` in one ``write_lines`` call, and redraws the
sparkline at most ~2 Hz.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from typing import Any, ClassVar, Protocol

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.widgets import Footer, Input

from hwmon import exitcodes
from hwmon.events import Event
from hwmon.model import alerts as alert_rules
from hwmon.model.eta import eta_seconds
from hwmon.model.history import Expected, expected_remaining, job_key
from hwmon.model.reducer import apply_all
from hwmon.model.state import Alert, RunState
from hwmon.tui import view
from hwmon.tui.messages import BatchArrived, SourceEnded, SourceFailed
from hwmon.tui.screens import ConfirmScreen, HelpScreen
from hwmon.tui.widgets import (
    AlertsPane,
    LogPane,
    MetricsPane,
    ModelTree,
    PhaseTimeline,
    ProgressPane,
    RunHeader,
)

REPAINT_INTERVAL = 0.1
PLOT_INTERVAL = 0.5
TIME_REPAINT_INTERVAL = 1.0
ALERT_CHECK_INTERVAL = 1.0
STATUS_SHOWN_FOR = 10.0
IDLE_AFTER = 1.0
LOG_MAX_LINES = 5000
ALERT_SEVERITY = {"nan": "error", "error": "error", "failed": "error", "stall": "warning", "silence": "warning"}


class BatchLike(Protocol):
    """What the app needs of ``hwmon.sources.source.Batch`` (typed structurally so the UI does not depend on the
    I/O layer's module)."""

    @property
    def events(self) -> list[Event]: ...
    @property
    def lines(self) -> list[str]: ...
    @property
    def status(self) -> str | None: ...
    @property
    def eof(self) -> bool: ...
    @property
    def at(self) -> float: ...


class SourceLike(Protocol):
    """What the app needs of ``hwmon.sources.source.Source``."""

    @property
    def name(self) -> str: ...
    def batches(self) -> AsyncIterator[Any]: ...
    def close(self) -> None: ...


class HwmonApp(App[int]):
    """The ``hwmon attach`` dashboard over one source."""

    CSS_PATH = "app.tcss"
    TITLE = "hwmon"
    ENABLE_COMMAND_PALETTE = False
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (22, "-tall")]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("slash", "search", "Search", key_display="/"),
        Binding("f", "follow", "Follow"),
        Binding("e", "errors_only", "Errors"),
        Binding("l", "toggle_log", "Log"),
        Binding("s", "stop_run", "Stop run"),
        Binding("tab", "focus_next", "Pane", priority=True),
        Binding("shift+tab", "focus_previous", "Prev pane", show=False, priority=True),
        Binding("escape", "escape", "Clear", show=False),
    ]

    def __init__(
        self,
        source: SourceLike,
        *,
        clock: Callable[[], float] = time.monotonic,
        title: str | None = None,
        log_lines: int = LOG_MAX_LINES,
        notify_alerts: bool = True,
    ) -> None:
        super().__init__()
        self._source = source
        self._clock = clock
        self._run_title = title or source.name
        self.state = RunState(source=source.name)
        self._log_lines = log_lines
        self._notify_alerts = notify_alerts
        self._pending: list[str] = []
        self._painted_version = -1
        # Throttling uses the real monotonic clock, not the injected one: a fixed test clock must not freeze
        # repaints, and a fast fake clock must not make the plot redraw every frame.
        self._last_time_paint = float("-inf")
        self._last_plot = float("-inf")
        self._plot_version = -1
        self._last_alert_check = float("-inf")
        self._alerts_seen = 0
        self._last_batch = float("-inf")
        self.status_message = ""
        self._status_since = 0.0
        self._lines_at_status = 0
        self.source_done = False
        self.source_error: str | None = None
        self.repaints = 0
        # Expected phase durations from the run history (past runs of the same job), loaded off the event loop
        # whenever what identifies the job changes (a compile hash appears...).
        self.expected: dict[str, Expected] = {}
        self._expected_for: tuple[str, str | None] | None = None

    # ----------------------------------------------------------------------------------------------- layout
    def compose(self) -> ComposeResult:
        yield RunHeader(view.safe_text(self._run_title), id="header")
        with Horizontal(id="body"):
            with Vertical(id="left"):
                yield PhaseTimeline(id="timeline")
                yield ProgressPane(id="progress")
                yield MetricsPane(id="metrics")
                yield LogPane(max_lines=self._log_lines, id="logpane")
            with Vertical(id="side"):
                yield ModelTree(id="model")
                yield AlertsPane(id="alerts")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#timeline").border_title = "phases"
        self.query_one("#progress").border_title = "progress"
        self.query_one("#metrics").border_title = "loss · throughput"
        self.query_one("#model").border_title = "model"
        self.query_one("#alerts").border_title = "alerts"
        self.query_one(LogPane).refresh_title()
        self.query_one(LogPane).log_widget.focus()
        # Two timers: a 10 Hz one that flushes batches into the panes and pauses itself once the source has been
        # quiet for a moment, and a 1 Hz one for what time alone changes (wall clock, open phase, ETA, stall and
        # silence alerts). A quiet run then costs one small repaint a second.
        self._fast_timer = self.set_interval(REPAINT_INTERVAL, self._tick)
        self.set_interval(TIME_REPAINT_INTERVAL, self._tick)
        self._consume()

    def on_unmount(self) -> None:
        try:
            self._source.close()
        except Exception:  # noqa: BLE001 - closing a broken source must not turn quitting into a crash
            pass

    # ----------------------------------------------------------------------------------------------- source
    @work(exclusive=True, group="source", exit_on_error=False)
    async def _consume(self) -> None:
        try:
            async for batch in self._source.batches():
                self.post_message(BatchArrived(batch))
                if batch.eof:
                    break
        except Exception as exc:  # noqa: BLE001 - any source failure is shown, never a traceback
            self.post_message(SourceFailed(f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(SourceEnded())

    @on(BatchArrived)
    def _on_batch(self, message: BatchArrived) -> None:
        batch: BatchLike = message.batch
        self._last_batch = time.monotonic()
        self._fast_timer.resume()
        if batch.events:
            apply_all(self.state, batch.events, now=self._clock())
        if batch.lines:
            self._pending.extend(batch.lines)
            if len(self._pending) > 2 * self._log_lines:
                # The Log keeps only the last max_lines anyway; don't hold more between frames.
                del self._pending[: -self._log_lines]
        if batch.status:
            # Statuses quote file names: sanitised here, whatever the source did (hardening #13, item 1).
            self.status_message = view.safe_text(batch.status)
            self._status_since = time.monotonic()
            self._lines_at_status = self.log_pane.total_lines + len(self._pending)
            self.notify(self.status_message, title="source", timeout=6, markup=False)
        if batch.eof:
            self.source_done = True

    @on(SourceEnded)
    def _on_source_ended(self, _message: SourceEnded) -> None:
        self.source_done = True

    @on(SourceFailed)
    def _on_source_failed(self, message: SourceFailed) -> None:
        self.source_done = True
        self.source_error = message.error
        self.status_message = view.safe_text(f"source failed: {message.error}")
        self.notify(self.status_message, title="source", severity="error", timeout=15, markup=False)

    # ----------------------------------------------------------------------------------------------- paint
    def _tick(self) -> None:
        if not self.is_running:
            return
        try:
            self.repaint_now(force=False)
        except NoMatches:
            # A tick that lands while the app is tearing its widgets down has nothing left to paint.
            return
        if not self._pending and time.monotonic() - self._last_batch > IDLE_AFTER:
            self._fast_timer.pause()

    def repaint_now(self, *, force: bool = True) -> None:
        """Push the state into the panes. The timer calls this with ``force=False`` (paint only what changed);
        tests and the screenshot script call it to get a settled frame without waiting for the timer."""
        real_now = time.monotonic()
        now = self._clock()
        if self._pending:
            lines, self._pending = self._pending, []
            self.query_one(LogPane).add_lines(lines)
        if force or real_now - self._last_alert_check >= ALERT_CHECK_INTERVAL:
            self._last_alert_check = real_now
            alert_rules.check(self.state, now, catching_up=bool(getattr(self._source, "catching_up", False)))
        changed = self.state.version != self._painted_version
        if (
            self.status_message
            and self.source_error is None
            and real_now - self._status_since > STATUS_SHOWN_FOR
            and self.log_pane.total_lines > self._lines_at_status
        ):
            # A follower message ("log rotated...") is news for a while; once output has moved on it goes (a
            # "waiting for the file" message stays until lines arrive, and a source failure stays).
            self.status_message = ""
            changed = True
        if not (force or changed or real_now - self._last_time_paint >= TIME_REPAINT_INTERVAL):
            self.query_one(LogPane).refresh_title()
            return
        self._painted_version = self.state.version
        self._last_time_paint = real_now
        state = self.state
        eta = eta_seconds(state, now)
        self._check_expected()
        header = self.query_one(RunHeader)
        header.run_eta = expected_remaining(state, self.expected, eta) if self.expected else None
        header.show(state, now, eta, self.status_message, output_seen=self.log_pane.total_lines > 0)
        timeline = self.query_one(PhaseTimeline)
        timeline.expected = {name: exp.seconds for name, exp in self.expected.items()}
        timeline.show(state, now)
        self.query_one(ProgressPane).show(state, eta, _train_seconds(state, now), now)
        metrics = self.query_one(MetricsPane)
        if changed or force:
            metrics.show_stats(state)
            self.query_one(ModelTree).show_model(state.model)
            self.query_one(AlertsPane).show(state)
        if self._plot_version != state.version and (force or real_now - self._last_plot >= PLOT_INTERVAL):
            self._plot_version = state.version
            self._last_plot = real_now
            metrics.show_plot(state)
        self.query_one(LogPane).refresh_title()
        self._notify_new_alerts()
        self.repaints += 1

    def _check_expected(self) -> None:
        key = (job_key(self.state)[1], self.state.vendor)
        if key != self._expected_for and (self.state.phases or self.state.vendor):
            self._expected_for = key
            self._load_expected(key)

    @work(thread=True, exclusive=True, group="history", exit_on_error=False)
    def _load_expected(self, key: tuple[str, str | None]) -> None:
        from hwmon.model.history import PastRun, expected_phases
        from hwmon.runners.history import open_history

        history = open_history()
        past: list[PastRun] = []
        if history is not None:
            try:
                past = history.past_runs()
            finally:
                history.close()
        expected = expected_phases(key[0], key[1], past)
        self.call_from_thread(self._set_expected, key, expected)

    def _set_expected(self, key: tuple[str, str | None], expected: dict[str, Expected]) -> None:
        if key == self._expected_for and expected != self.expected:
            self.expected = expected
            self.repaint_now()

    def _notify_new_alerts(self) -> None:
        # alert_count is the total ever raised (it survives the bounded list and a new run in the same file), so
        # the difference is exactly what is new since the last frame.
        total = self.state.alert_count
        new = total - self._alerts_seen
        if new <= 0:
            self._alerts_seen = total
            return
        self._alerts_seen = total
        if not self._notify_alerts:
            return
        fresh: list[Alert] = self.state.alerts[-min(new, 3) :]
        for alert in fresh:
            severity = ALERT_SEVERITY.get(alert.kind, "warning")
            self.notify(
                view.safe_text(alert.message),
                title=f"alert: {alert.kind}",
                severity="error" if severity == "error" else "warning",
                timeout=10,
                markup=False,
            )

    @property
    def alerts_notified(self) -> int:
        """How many alerts the app has seen (notified, unless notify_alerts is off)."""
        return self._alerts_seen

    # ----------------------------------------------------------------------------------------------- actions
    def action_help(self) -> None:
        """Show the key help."""
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_search(self) -> None:
        """Open the log search box (showing the log if it was hidden)."""
        self.screen.remove_class("-nolog")
        self.query_one(LogPane).open_search()

    def action_follow(self) -> None:
        """Follow the log on/off."""
        on_now = self.query_one(LogPane).toggle_follow()
        self.notify("following the log" if on_now else "follow paused (f or End resumes)", timeout=2)

    def action_errors_only(self) -> None:
        """Errors/warnings-only filter on/off."""
        pane = self.query_one(LogPane)
        pane.set_errors_only(not pane.errors_only)

    def action_toggle_log(self) -> None:
        """Hide/show the raw log; while it is hidden a narrow layout shows the model tree in its place."""
        self.screen.toggle_class("-nolog")
        if self.screen.has_class("-nolog"):
            if self.focused is not None and self.query_one(LogPane) in self.focused.ancestors_with_self:
                self.query_one(ModelTree).focus()
        else:
            log = self.query_one(LogPane).log_widget
            log.focus()
            # Lines written while hidden did not scroll a zero-height view; catch up once laid out again.
            log.stick_to_end()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Stopping only makes sense for a run hwmon supervises (a source with a run directory).
        if action == "stop_run":
            return getattr(self._source, "run_dir", None) is not None
        return True

    def action_stop_run(self) -> None:
        """Ask, then stop the supervised run (the same escalation as ``hwmon stop``)."""
        run_dir = getattr(self._source, "run_dir", None)
        if run_dir is None:
            return
        name = view.safe_text(str(getattr(self._source, "name", "") or run_dir.name))

        def answered(yes: bool | None) -> None:
            if yes:
                self.notify(f"stopping {name}: SIGINT, then SIGTERM, then SIGKILL", timeout=5, markup=False)
                self._stop_worker(run_dir)

        self.push_screen(ConfirmScreen(f"Stop run {name}?"), answered)

    @work(thread=True, exclusive=True, group="stop", exit_on_error=False)
    def _stop_worker(self, run_dir: Any) -> None:
        # A thread: stopping waits on the process group for up to the escalation timeouts.
        from hwmon.runners import registry, supervisor

        record = registry.load(run_dir)
        try:
            if record is None:
                raise exitcodes.HwmonError(f"no run record in {run_dir}", exitcodes.RUN_NOT_FOUND)
            if record.slurm_job_id:  # a run submitted with --sbatch: scancel (SIGINT first)
                from hwmon.runners import slurm

                final = slurm.stop_run(record)
            else:
                final = supervisor.stop_run(record)
            message, severity = f"run {final.run_id} {final.status}", "information"
        except exitcodes.HwmonError as exc:
            message, severity = str(exc), "error"
        self.call_from_thread(self.notify, view.safe_text(message), severity=severity, timeout=10, markup=False)

    def action_escape(self) -> None:
        """Esc: close the search box and clear the search."""
        pane = self.query_one(LogPane)
        if pane.has_class("-searching") or pane.search_term:
            pane.close_search(clear=True)

    @on(Input.Blurred, "#search")
    def _search_blurred(self, _event: Input.Blurred) -> None:
        self.query_one(LogPane).remove_class("-searching")

    @property
    def log_pane(self) -> LogPane:
        """The raw log pane (tests and the benchmark inspect it)."""
        return self.query_one(LogPane)


def _train_seconds(state: RunState, now: float) -> float | None:
    """Time spent in train phases so far (for the training bar's fraction from the ETA)."""
    rows = [row for row in view.timeline(state, now).rows if row.name == "train"]
    return rows[0].seconds if rows else None


def run_dashboard(source: SourceLike, *, title: str | None = None) -> int:
    """Run the dashboard until the user quits. Returns ``exitcodes.RUN_FAILED`` if the run failed or was stopped,
    else 0."""
    app = HwmonApp(source, title=title)
    app.run()
    from hwmon.runners.history import record_if_ended

    record_if_ended(app.state, source.name)
    # The same rule as plain mode: a run that failed or was stopped (its supervisor's record) is not a success.
    return exitcodes.RUN_FAILED if app.state.status in ("failed", "stopped") else exitcodes.OK
