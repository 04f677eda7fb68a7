"""The live dashboard: one ``RunState`` fed by a source worker, painted when something changed.

Data flow (see STYLE.md): a worker consumes ``source.batches()`` and posts ``BatchArrived`` messages (it never
touches widgets); the message handler folds the batch's events into the state with the reducer, queues its raw
lines and schedules one repaint (batches that arrive meanwhile join it). A 1 Hz clock tick repaints what time alone
changes (wall clock, open phase, ETA, stall and quiet texts) while the run is live, and nothing once it has ended
and the source is quiet. Charts redraw at most twice a second; the system pane is sampled at most once a second
in a worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.css.scalar import Scalar
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Footer, Input

from hwmon import exitcodes
from hwmon.events import Event
from hwmon.model import alerts as alert_rules
from hwmon.model import fmt
from hwmon.model.eta import eta_seconds
from hwmon.model.history import Expected, expected_remaining, job_key
from hwmon.model.reducer import apply_all
from hwmon.model.state import RunState
from hwmon.tui import layout, view
from hwmon.tui.messages import BatchArrived, SourceEnded, SourceFailed, SystemSampled
from hwmon.tui.screens import ConfirmScreen, HelpScreen, RecordScreen
from hwmon.tui.widgets import (
    AlertsPane,
    ChartPane,
    LogPane,
    ModelTree,
    PaneTabs,
    PhaseTimeline,
    ProgressPane,
    RunHeader,
    SystemPane,
)
from hwmon.tui.widgets.charts import chart_kinds
from hwmon.tui.widgets.tabs import Tab

if TYPE_CHECKING:
    from hwmon.notify.live import LiveNotifier

# Batches that arrive within this long of the previous repaint join the next one (a 10,000 lines/s stream costs
# at most this many frames a second).
REPAINT_MIN_GAP = 0.1
PLOT_INTERVAL = 0.5
CLOCK_TICK = 1.0
SYSTEM_INTERVAL = 1.0
STATUS_SHOWN_FOR = 10.0
LOG_MAX_LINES = 5000
# Opening a file at least this big, the raw log first shows its last PREVIEW_BYTES, read directly, while the parser
# catches up from the start (as lnav shows the end of a file at once); the parsed lines replace them once caught up.
PREVIEW_MIN_BYTES = 8 << 20
PREVIEW_BYTES = 64 << 10
PREVIEW_QUIET_S = 1.0
PREVIEW_TAIL_CHECK = 200
FIRST_FRAME_FLUSH_S = 0.05
# A first screen of lines that is mostly U+FFFD (undecodable bytes) is a binary file, not a log.
BINARY_SAMPLE_CHARS = 4096
BINARY_REPLACEMENT_SHARE = 0.1
PANE_IDS = ("timeline", "progress", "charts", "logpane", "model", "system", "alerts")
# The key that shows each pane (its title starts with it): 1 phases ... 7 alerts.
PANE_KEYS = {
    "timeline": "1",
    "progress": "2",
    "charts": "3",
    "logpane": "4",
    "model": "5",
    "system": "6",
    "alerts": "7",
}
PANE_NAMES = {
    "timeline": "phases",
    "progress": "progress",
    "charts": "chart",
    "logpane": "log",
    "model": "model",
    "system": "system",
    "alerts": "alerts",
}
SIDE_PANES = ("model", "system", "alerts")


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
    # z keeps the header (which run, its status) and the keys on screen around the maximised pane.
    ALLOW_IN_MAXIMIZED_VIEW = "RunHeader, Footer"
    ENABLE_COMMAND_PALETTE = False
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (22, "-mid"), (40, "-tall")]
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

    def __init__(
        self,
        source: SourceLike,
        *,
        clock: Callable[[], float] = time.monotonic,
        title: str | None = None,
        log_lines: int = LOG_MAX_LINES,
        system: bool | None = None,
        notice: str | None = None,
        notify: LiveNotifier | None = None,
    ) -> None:
        super().__init__()
        self._source = source
        # --notify (hwmon.notify.live): told of the run's events after each repaint's alert check; reads the state.
        self._notify = notify
        self._clock = clock
        self._run_title = title or source.name
        self.state = RunState(source=source.name)
        self._log_lines = log_lines
        self._pending: list[str] = []
        self._painted_version = -1
        # Throttling uses the real monotonic clock, not the injected one: a fixed test clock must not freeze
        # repaints, and a fast fake clock must not make the plot redraw every frame.
        self._last_paint = float("-inf")
        self._last_time_paint = float("-inf")
        self._last_plot = float("-inf")
        self._plot_version = -1
        self._repaint_timer: Timer | None = None
        self._last_batch = float("-inf")
        self.status_message = ""
        self._status_dirty = False
        self._status_since = 0.0
        self._lines_at_status = 0
        self._binary_checked = 0
        self.source_done = False
        self.source_error: str | None = None
        self.repaints = 0
        self._system_wanted = system
        self._system_stop = threading.Event()
        self.system_sample: Any = None
        self._notice = notice
        self._ended_shown = False
        self._status_fresh_shown = False
        self._preview_end: str | None = None
        self._preview_hold: deque[str] | None = None
        # Expected phase durations from the run history (past runs of the same job), loaded off the event loop
        # whenever what identifies the job changes (a compile hash appears...).
        self.expected: dict[str, Expected] = {}
        self._expected_for: tuple[str, str | None] | None = None
        # The pane the bottom area shows below 120 columns (the raw log, or a side pane picked by its key).
        self.bottom_pane = "logpane"
        self._last_side = ""
        self._plan: layout.Plan | None = None
        self._log_hidden = False
        # When a training phase without progress is a stall (HWMON_STALL_MIN_S, HWMON_STALL_FACTOR).
        self._stall_rule = alert_rules.StallRule.from_env(os.environ)
        # A stop asked with s is under way (its escalation runs in a daemon thread).
        self.stopping = False
        # The line under way (a \r redraw), shown as the raw log's live row at the next repaint.
        self._partial: str | None = None
        self._partial_dirty = False

    # ----------------------------------------------------------------------------------------------- layout
    def compose(self) -> ComposeResult:
        yield RunHeader(view.safe_text(self._run_title), id="header")
        with Horizontal(id="body"):
            with Vertical(id="left"):
                yield PhaseTimeline(id="timeline")
                yield ProgressPane(id="progress")
                with Horizontal(id="charts"):
                    yield ChartPane("loss", id="chart-loss")
                    yield ChartPane("rate", id="chart-rate")
                yield PaneTabs(id="tabs")
                yield LogPane(max_lines=self._log_lines, id="logpane")
            with Vertical(id="side"):
                yield ModelTree(id="model")
                yield SystemPane(id="system")
                yield AlertsPane(id="alerts")
        yield Footer()

    def on_mount(self) -> None:
        for pane_id in ("timeline", "progress", "model", "system", "alerts"):
            self.query_one(f"#{pane_id}").border_title = _pane_title(pane_id)
        ref = self._come_back_ref()
        supervised = getattr(self._source, "run_dir", None) is not None
        self.query_one(RunHeader).ref = f"run {ref}" if ref and supervised else ref
        self.query_one(LogPane).refresh_title()
        # The tab row is drawn heavy while the pane it shows has focus, like the other panes' borders.
        self.watch(self.screen, "focused", lambda _focused: self.refresh_tabs(), init=False)
        self.query_one(LogPane).log_widget.focus()
        # Repaints follow the data (a batch schedules one); this 1 Hz tick is for what time alone changes, and
        # costs nothing once the run has ended and the source is quiet.
        self.set_interval(CLOCK_TICK, self._clock_tick)
        self._update_layout()
        if self._notice:
            self.set_status(self._notice)
        # The first screen goes out before the source starts: catching up a big file parses in this event loop,
        # and the user should see the dashboard while it does. (The worker exists from now on, so whoever waits
        # for the workers waits for the source too.)
        self._show_end_preview()
        self._first_frame = asyncio.Event()
        if self._preview_hold is not None:
            # Two frames (the first lays the panes out, the second scrolls the log to the file's end) and a moment
            # for the terminal writer thread to send them before parsing the backlog holds the interpreter.
            def after_second_frame() -> None:
                self.set_timer(FIRST_FRAME_FLUSH_S, self._first_frame.set)

            self.call_after_refresh(lambda: self.call_after_refresh(after_second_frame))
        else:
            self.call_after_refresh(self._first_frame.set)
        self._consume()
        pid = self._system_pid()
        if pid is not None:
            self.screen.add_class("-system")
            self._sample_system(pid)

    def on_unmount(self) -> None:
        self._system_stop.set()
        try:
            self._source.close()
        except Exception:  # noqa: BLE001 - closing a broken source must not turn quitting into a crash
            pass

    # ----------------------------------------------------------------------------------------------- source
    @work(exclusive=True, group="source", exit_on_error=False)
    async def _consume(self) -> None:
        await self._first_frame.wait()
        try:
            async for batch in self._source.batches():
                self.post_message(BatchArrived(batch))
                if batch.eof:
                    break
        except Exception as exc:  # noqa: BLE001 - any source failure is shown, never a traceback
            self.post_message(SourceFailed(f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(SourceEnded())

    def _show_end_preview(self) -> None:
        """For a big file read from its start: show its end in the raw log now (see PREVIEW_MIN_BYTES)."""
        follower = getattr(self._source, "follower", None)
        path = getattr(follower, "path", None)
        if path is None or getattr(follower, "from_end", False):
            return
        try:
            with open(path, "rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                if size < PREVIEW_MIN_BYTES:
                    return
                handle.seek(size - PREVIEW_BYTES)
                data = handle.read(PREVIEW_BYTES)
        except OSError:
            return
        from hwmon.parsers.lines import clean_bytes

        complete = data.endswith((b"\n", b"\r"))
        raw = data.splitlines()[1:]  # the first piece is the tail of a line cut by the seek
        lines = [clean_bytes(line) for line in raw if line.strip()]
        if not lines:
            return
        ends = lines if complete else lines[:-1]
        self._preview_end = ends[-1] if ends else None
        self._preview_hold = deque(maxlen=self._log_lines)
        pane = self.log_pane
        pane.preview = f"end of the file ({size / 1e6:.0f} MB; the dashboard is catching up)"
        pane.add_lines(lines[-self._log_lines :])
        pane.total_lines = 0  # counted by the parser's lines as they come
        pane.refresh_title()

    def _end_preview(self) -> None:
        hold, self._preview_hold = self._preview_hold, None
        self._preview_end = None
        pane = self.log_pane
        pane.preview = ""
        if hold is not None:
            pane.replace_lines(hold)
        pane.refresh_title()

    @on(BatchArrived)
    def _on_batch(self, message: BatchArrived) -> None:
        batch: BatchLike = message.batch
        self._last_batch = time.monotonic()
        if batch.events:
            apply_all(self.state, batch.events, now=self._clock())
        partial = getattr(batch, "partial", None)
        if partial != self._partial:
            self._partial = partial
            self._partial_dirty = True
        if batch.lines:
            self._pending.extend(batch.lines)
            if len(self._pending) > 2 * self._log_lines:
                # The log keeps only the last max_lines anyway; don't hold more between frames.
                del self._pending[: -self._log_lines]
            if self._binary_checked < BINARY_SAMPLE_CHARS:
                self._check_binary(batch.lines)
        if batch.status:
            # Follower news goes in the header's status row, never over a pane. While nothing has arrived, the
            # command's own notice (the full path being waited for) says the same thing more precisely.
            if not (self._notice and batch.status.startswith("waiting for") and not self.log_pane.total_lines):
                self.set_status(view.safe_text(batch.status))
        if batch.eof:
            self.source_done = True
        self._schedule_repaint()

    def _check_binary(self, lines: list[str]) -> None:
        sample = "".join(lines)[: BINARY_SAMPLE_CHARS - self._binary_checked]
        self._binary_checked += len(sample) or 1
        bad = sample.count("\ufffd") + sample.count("\x00")
        if sample and bad / len(sample) > BINARY_REPLACEMENT_SHARE:
            self.set_status("this looks like a binary file, not a log: undecodable bytes are shown as �")

    @on(SourceEnded)
    def _on_source_ended(self, _message: SourceEnded) -> None:
        self.source_done = True
        self._schedule_repaint()

    @on(SourceFailed)
    def _on_source_failed(self, message: SourceFailed) -> None:
        self.source_done = True
        self.source_error = message.error
        self.set_status(view.safe_text(f"source failed: {message.error}"))
        self._schedule_repaint()

    def set_status(self, text: str) -> None:
        """Show ``text`` in the header's status row (it stays until output has moved on for a while)."""
        self.status_message = text
        self._status_dirty = True
        self._status_since = time.monotonic()
        self._lines_at_status = self.log_pane.total_lines + len(self._pending)
        self._schedule_repaint()

    # ----------------------------------------------------------------------------------------------- system
    def _system_pid(self) -> int | None:
        """The supervised run's workload pid, when there is one and the system pane is wanted."""
        if self._system_wanted is False:
            return None
        run_dir = getattr(self._source, "run_dir", None)
        pid = getattr(self._source, "pid", None)
        if pid is None and run_dir is not None:
            from hwmon.store import registry

            record = registry.load(run_dir)
            if record is not None and record.status == "running":
                pid = record.pid
        if pid is None and self._system_wanted:
            return -1  # asked for without a process: host, NVML and gc-monitor only
        return pid

    def _sample_system(self, pid: int) -> None:
        # A daemon thread: psutil, NVML and gc-monitor block (gc-monitor up to its timeout); the UI only ever sees
        # the frozen samples posted here, and quitting never waits for a sample under way.
        threading.Thread(target=self._system_loop, args=(pid,), name="hwmon-system", daemon=True).start()

    def _system_loop(self, pid: int) -> None:
        from hwmon.sources.system import SystemSampler

        sampler = SystemSampler(None if pid < 0 else pid)
        try:
            while not self._system_stop.is_set():
                self.post_message(SystemSampled(sampler.sample(time.monotonic())))
                if self._system_stop.wait(SYSTEM_INTERVAL):
                    break
        finally:
            sampler.close()

    @on(SystemSampled)
    def _on_system(self, message: SystemSampled) -> None:
        self.system_sample = message.sample
        self.query_one(SystemPane).show(message.sample, self.state)
        self._update_layout()

    # ----------------------------------------------------------------------------------------------- paint
    def _schedule_repaint(self) -> None:
        if self._repaint_timer is not None:
            return  # one is already due; this batch joins it
        # (a zero-length Textual timer divides by zero; 1 ms is "now")
        wait = max(0.001, REPAINT_MIN_GAP - (time.monotonic() - self._last_paint))
        self._repaint_timer = self.set_timer(wait, self._scheduled_repaint)

    def _scheduled_repaint(self) -> None:
        self._repaint_timer = None
        if not self.is_running:
            return
        try:
            self.repaint_now(force=False)
        except NoMatches:
            return
        if self._plot_version != self.state.version:
            # The plot is throttled to 2 Hz: make sure the last change gets drawn.
            self._schedule_repaint()

    def _clock_tick(self) -> None:
        if not self.is_running:
            return
        if self._preview_hold is not None and (
            self.source_done
            or (self._last_batch > float("-inf") and time.monotonic() - self._last_batch > PREVIEW_QUIET_S)
        ):
            # Caught up without meeting the preview's last line (the file grew, or ended mid-line): the parsed
            # lines take over once the source has been quiet for a moment.
            if self._pending:
                self.repaint_now(force=False)
            if self._preview_hold is not None:
                self._end_preview()
        live = not view.is_ended(self.state) and not (self.source_done and self.state.status == "unknown")
        stale = self._status_fresh_shown and time.monotonic() - self._status_since >= STATUS_SHOWN_FOR
        if not live and self._plot_version == self.state.version and not self._status_expired() and not stale:
            return  # a finished, quiet run: nothing on screen depends on the clock
        try:
            self.repaint_now(force=False, clock=True)
        except NoMatches:
            return

    def _status_expired(self) -> bool:
        """Whether the status row's message is due to go (shown long enough, and output has moved on since)."""
        return bool(
            self.status_message
            and self.source_error is None
            and time.monotonic() - self._status_since > STATUS_SHOWN_FOR
            and self.log_pane.total_lines > self._lines_at_status
        )

    def repaint_now(self, *, force: bool = True, clock: bool = False) -> None:
        """Push the state into the panes. Scheduled repaints and the clock tick call this with ``force=False``
        (paint only what changed); tests and the screenshot script call it to get a settled frame without
        waiting for a timer."""
        real_now = time.monotonic()
        now = self._clock()
        self._last_paint = real_now
        if self._pending and self._preview_hold is not None:
            # The end of the file is on screen; the parser's lines are held (the last max_lines) until it gets there.
            lines, self._pending = self._pending, []
            self.log_pane.total_lines += len(lines)
            self._preview_hold.extend(lines)
            if self._preview_end is not None and self._preview_end in lines[-PREVIEW_TAIL_CHECK:]:
                self._end_preview()
        if self._pending:
            lines, self._pending = self._pending, []
            pane = self.log_pane
            if len(lines) > self._log_lines:
                # Only the last max_lines can be kept: count the rest, don't clean and store them (catching up).
                pane.total_lines += len(lines) - self._log_lines
                lines = lines[-self._log_lines :]
            pane.add_lines(lines)
        if self._partial_dirty and self._preview_hold is None:
            # After the batch's finished lines: a bar whose line just ended leaves the live row for its own line.
            self._partial_dirty = False
            self.log_pane.set_live(self._partial)
        catching_up = bool(getattr(self._source, "catching_up", False))
        alert_rules.check(self.state, now, stall=self._stall_rule, catching_up=catching_up)
        if self._notify is not None:
            self._notify.observe(self.state, now, catching_up=catching_up)
        changed = self.state.version != self._painted_version or self._status_dirty
        self._status_dirty = False
        if self._status_expired():
            # Follower news ("log rotated...") is news for a while; once output has moved on it goes (a "waiting
            # for the file" message stays until lines arrive, and a source failure stays).
            self.status_message = ""
            changed = True
        if not (force or changed or clock or real_now - self._last_time_paint >= CLOCK_TICK):
            return
        self._painted_version = self.state.version
        self._last_time_paint = real_now
        state = self.state
        eta = eta_seconds(state, now)
        self._check_expected()
        header = self.query_one(RunHeader)
        header.run_eta = expected_remaining(state, self.expected, eta) if self.expected else None
        fresh = bool(self.status_message) and real_now - self._status_since < STATUS_SHOWN_FOR
        self._status_fresh_shown = fresh
        header.show(state, now, eta, self.status_message, output_seen=self.log_pane.total_lines > 0, status_fresh=fresh)
        timeline = self.query_one(PhaseTimeline)
        timeline.expected = {name: exp.seconds for name, exp in self.expected.items()}
        timeline.show(state, now)
        self.query_one(ProgressPane).show(state, eta, _train_seconds(state, now), now)
        if changed or force:
            self.query_one(ModelTree).show_model(state.model)
            self.query_one(AlertsPane).show(state)
        if self._plot_version != state.version and (force or real_now - self._last_plot >= PLOT_INTERVAL):
            self._plot_version = state.version
            self._last_plot = real_now
            for chart in self.query(ChartPane):
                chart.show(state)
        self._update_layout()
        ended = view.is_ended(state)
        if ended != self._ended_shown:
            # The footer's keys depend on it (s: stop a live supervised run).
            self._ended_shown = ended
            self.refresh_bindings()
        self.repaints += 1

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
        loss_chart.with_rate = not wide
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
        return PANE_NAMES[pane_id]

    def _check_expected(self) -> None:
        key = (job_key(self.state)[1], self.state.vendor)
        if key != self._expected_for and (self.state.phases or self.state.vendor):
            self._expected_for = key
            self._load_expected(key)

    @work(thread=True, exclusive=True, group="history", exit_on_error=False)
    def _load_expected(self, key: tuple[str, str | None]) -> None:
        from hwmon.model.history import PastRun, expected_phases
        from hwmon.store.history import open_history

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

    # ----------------------------------------------------------------------------------------------- actions
    def action_help(self) -> None:
        """Show the key help (``?`` in the raw log searches backward, as in less; ``h`` always opens help)."""
        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen())

    def _log_focused(self) -> bool:
        focused = self.focused
        return focused is not None and self.log_pane in focused.ancestors_with_self

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
            self.push_screen(RecordScreen(lines, first))

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
        """Show and focus pane ``number`` (1 phases, 2 progress, 3 chart, 4 log, 5 model, 6 system, 7 alerts)."""
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

    @property
    def log_pane(self) -> LogPane:
        """The raw log pane (tests and the benchmark inspect it)."""
        return self.query_one(LogPane)

    def closing_line(self) -> str:
        """One line for the shell after the dashboard closes: how the run stands and how to come back."""
        state = self.state
        now = self._clock()
        parts = [view.safe_text(self._run_title), view.display_status(state, now, output_seen=state.lines > 0)]
        step = state.last_step
        if step is not None and step.step is not None:
            parts.append(f"step {step.step}")
        if state.loss.last is not None:
            parts.append(f"loss {fmt.fmt_number(state.loss.last[1])}")
        wall = view.timeline(state, now).wall
        if wall is not None:
            parts.append(f"wall {fmt.fmt_duration(wall)}")
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
        run_dir = getattr(self._source, "run_dir", None)
        if run_dir is not None:
            return view.safe_text(str(getattr(self._source, "name", "") or run_dir.name))
        name = view.safe_text(str(self._source.name))
        if name in ("", "-", "stdin"):
            return ""
        import shlex

        return shlex.quote(name)


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


_EMPTY_WHY = {
    "timeline": "no phase reported",
    "progress": "no step or progress bar",
    "charts": "no loss or throughput",
    "model": "no model summary printed",
    "system": "not a supervised run: the system pane samples a run hwmon started",
    "alerts": "no alert raised",
}


def _train_seconds(state: RunState, now: float) -> float | None:
    """Time spent in train phases so far (for the training bar's fraction from the ETA)."""
    rows = [row for row in view.timeline(state, now).rows if row.name == "train"]
    return rows[0].seconds if rows else None


def run_dashboard(
    source: SourceLike, *, title: str | None = None, notice: str | None = None, notify: LiveNotifier | None = None
) -> int:
    """Run the dashboard until the user quits (q or Ctrl-C), then print one line saying how the run stands and how
    to come back. Returns ``exitcodes.RUN_FAILED`` if the run failed or was stopped, else 0."""
    import sys

    app = HwmonApp(source, title=title, notice=notice, notify=notify)
    try:
        app.run()
    finally:
        from hwmon.sources.offthread import reap_children

        reap_children()  # an external command still under way when the dashboard quit (gc-monitor, scontrol)
    if notify is not None:
        notify.close()
    from hwmon.store.history import record_if_ended

    record_if_ended(app.state, source.name)
    try:
        print(app.closing_line(), file=sys.stderr)
    except Exception:  # noqa: BLE001 - the closing line is a courtesy; it must never turn a quit into a crash
        pass
    # The same rule as plain mode: a run that failed or was stopped (its supervisor's record) is not a success.
    return exitcodes.RUN_FAILED if app.state.status in ("failed", "stopped") else exitcodes.OK
