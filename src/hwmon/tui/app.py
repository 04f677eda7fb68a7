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
import os
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, Protocol

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.timer import Timer
from textual.widgets import Footer

from hwmon import exitcodes
from hwmon.events import Event
from hwmon.model import alerts as alert_rules
from hwmon.model.eta import eta_seconds
from hwmon.model.fmt import fmt_behind
from hwmon.model.history import Expected, expected_remaining
from hwmon.model.reducer import apply_all
from hwmon.model.state import RunState
from hwmon.tui import layout, view
from hwmon.tui.messages import BatchArrived, SourceEnded, SourceFailed
from hwmon.tui.panes import _pane_title
from hwmon.tui.sidedata import PREVIEW_QUIET_S, PREVIEW_TAIL_CHECK, SideData
from hwmon.tui.widgets import (
    AlertsPane,
    ChartPane,
    LogPane,
    ModelTree,
    PaneTabs,
    PhaseTimeline,
    ProgressPane,
    RanksPane,
    RunHeader,
    SystemPane,
)

if TYPE_CHECKING:
    from hwmon.notify.live import LiveNotifier

# Batches that arrive within this long of the previous repaint join the next one (a 10,000 lines/s stream costs
# at most this many frames a second).
REPAINT_MIN_GAP = 0.1
PLOT_INTERVAL = 0.5
CLOCK_TICK = 1.0
STATUS_SHOWN_FOR = 10.0
LOG_MAX_LINES = 5000
FIRST_FRAME_FLUSH_S = 0.05
# The help screen is composed off screen this long after the dashboard mounts (after its first frames).
PREPARE_HELP_AFTER_S = 1.0
# A first screen of lines that is mostly U+FFFD (undecodable bytes) is a binary file, not a log.
BINARY_SAMPLE_CHARS = 4096
BINARY_REPLACEMENT_SHARE = 0.1


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


class HwmonApp(SideData):
    """The ``hwmon attach`` dashboard over one source."""

    CSS_PATH = "app.tcss"
    TITLE = "hwmon"
    # z keeps the header (which run, its status) and the keys on screen around the maximised pane.
    ALLOW_IN_MAXIMIZED_VIEW = "RunHeader, Footer"
    ENABLE_COMMAND_PALETTE = False
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (22, "-mid"), (40, "-tall")]

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
        self._pending_numbers: list[int] = []
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
                yield RanksPane(id="ranks")
        yield Footer()

    def on_mount(self) -> None:
        for pane_id in ("timeline", "progress", "model", "system", "alerts", "ranks"):
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
        self.set_timer(PREPARE_HELP_AFTER_S, self.prepare_help)
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
            # Each line's number in the log (the source's first_line; 0: unknown), for the record view's rule.
            first = getattr(batch, "first_line", 0) or 0
            self._pending_numbers.extend(
                range(first, first + len(batch.lines)) if first > 0 else [0] * len(batch.lines)
            )
            if len(self._pending) > 2 * self._log_lines:
                # The log keeps only the last max_lines anyway; don't hold more between frames.
                del self._pending[: -self._log_lines]
                del self._pending_numbers[: -self._log_lines]
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
        # The injected clock (as every other time on screen): a test's fixed clock keeps a message's freshness
        # deterministic; a loaded machine's slow frames must not expire it between a key and the snapshot.
        self._status_since = self._clock()
        self._lines_at_status = self.log_pane.total_lines + len(self._pending)
        self._schedule_repaint()

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
        stale = self._status_fresh_shown and self._clock() - self._status_since >= STATUS_SHOWN_FOR
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
            and self._clock() - self._status_since > STATUS_SHOWN_FOR
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
            self._pending_numbers = []
            self.log_pane.total_lines += len(lines)
            self._preview_hold.extend(lines)
            if self._preview_end is not None and self._preview_end in lines[-PREVIEW_TAIL_CHECK:]:
                self._end_preview()
        if self._pending:
            lines, self._pending = self._pending, []
            numbers, self._pending_numbers = self._pending_numbers, []
            pane = self.log_pane
            if len(lines) > self._log_lines:
                # Only the last max_lines can be kept: count the rest, don't clean and store them (catching up).
                pane.total_lines += len(lines) - self._log_lines
                lines, numbers = lines[-self._log_lines :], numbers[-self._log_lines :]
            pane.add_lines(lines, numbers)
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
        # Issue 22: how far the reading lags a file being written (one fstat; "" below 1 MB or when unknown).
        behind = None if self.source_done else getattr(self._source, "behind_bytes", None)
        header.behind = fmt_behind(behind if isinstance(behind, int) else None)
        fresh = bool(self.status_message) and now - self._status_since < STATUS_SHOWN_FOR
        self._status_fresh_shown = fresh
        header.show(state, now, eta, self.status_message, output_seen=self.log_pane.total_lines > 0, status_fresh=fresh)
        timeline = self.query_one(PhaseTimeline)
        timeline.expected = {name: exp.seconds for name, exp in self.expected.items()}
        timeline.show(state, now)
        self.query_one(ProgressPane).show(state, eta, _train_seconds(state, now), now)
        if changed or force:
            self.query_one(ModelTree).show_model(state.model)
            self.query_one(AlertsPane).show(state)
        self.query_one(RanksPane).show(state, now)  # issue 21: its quiet times run with the clock
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

    from hwmon.tui.terminal import run_app

    app = HwmonApp(source, title=title, notice=notice, notify=notify)
    try:
        run_app(app)  # SIGTERM/SIGHUP/an exception give the terminal back too
    finally:
        from hwmon.sources.offthread import reap_children

        reap_children()  # an external command still under way when the dashboard quit (gc-monitor, scontrol)
        if notify is not None:
            notify.close()
    from hwmon.store.history import record_if_ended

    record_if_ended(app.state, getattr(source, "history_key", source.name))
    try:
        print(app.closing_line(), file=sys.stderr)
    except Exception:  # noqa: BLE001 - the closing line is a courtesy; it must never turn a quit into a crash
        pass
    # The same rule as plain mode: a run that failed or was stopped (its supervisor's record) is not a success.
    return exitcodes.RUN_FAILED if app.state.status in ("failed", "stopped") else exitcodes.OK
