"""What the dashboard shows beside the run's own output: the end of a big file while the parser catches up, the
system pane's samples (a daemon thread: psutil, NVML, gc-monitor), and the phases expected from the run history.
A base of ``HwmonApp`` (after ``DashboardKeys``), split out of ``tui/app.py``."""

from __future__ import annotations

import os
import threading
import time
from collections import deque

from textual import on, work

from hwmon.model.history import Expected, job_key
from hwmon.tui.keys import DashboardKeys
from hwmon.tui.messages import SystemSampled
from hwmon.tui.widgets import SystemPane

SYSTEM_INTERVAL = 1.0
# Opening a file at least this big, the raw log first shows its last PREVIEW_BYTES, read directly, while the parser
# catches up from the start (as lnav shows the end of a file at once); the parsed lines replace them once caught up.
PREVIEW_MIN_BYTES = 8 << 20
PREVIEW_BYTES = 64 << 10
PREVIEW_QUIET_S = 1.0
PREVIEW_TAIL_CHECK = 200


class SideData(DashboardKeys):
    """The end-of-file preview, the system sampler and the history's expectations (a base of ``HwmonApp``)."""

    # Set by HwmonApp.__init__ (declared here for the type checker).
    _log_lines: int
    _preview_end: str | None
    _preview_hold: deque[str] | None
    _system_wanted: bool | None
    _system_stop: threading.Event
    expected: dict[str, Expected]
    _expected_for: tuple[str, str | None] | None

    def repaint_now(self, *, force: bool = True, clock: bool = False) -> None:
        """Push the state into the panes (HwmonApp's)."""
        raise NotImplementedError

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
        panes = self.query(SystemPane)
        if not panes:
            return  # a sample posted while the app closes: its panes are already gone (seen in CI, stop key)
        panes.first().show(message.sample, self.state)
        self._update_layout()

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
