"""The header: which run, on what, how it is going, and the latest alert."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from hwmon.model import alerts as alert_rules
from hwmon.model import figures, fmt
from hwmon.model.distributed import fmt_end_reason
from hwmon.model.eta import fmt_eta
from hwmon.model.state import RunState
from hwmon.model.timelimit import fmt_limit, limit_verdict
from hwmon.tui import view
from hwmon.tui.fit import Field, field, fit_fields
from hwmon.tui.widgets._text import join_rows

STATUS_STYLES = {
    "running": "bold green",
    "succeeded": "bold reverse green",
    "failed": "bold reverse red",
    "stalled": "bold reverse yellow",
    "waiting": "bold",
}
ALERT_LABELS = {"nan": "NaN/Inf loss", "error": "error", "stall": "stall", "silence": "silence", "failed": "failed"}


class RunHeader(Widget):
    """Source · vendor/device · STATUS · wall · job; then phase · step · loss · ETA; then the latest alert (or the
    follower's status message) when there is one."""

    DEFAULT_CSS = """
    RunHeader {
        dock: top; height: auto; max-height: 3; background: $panel; text-wrap: nowrap; text-overflow: ellipsis;
    }
    """

    def __init__(self, title: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._title = title
        # How far the reading lags the file (``hwmon.model.fmt.fmt_behind`` of the source's ``behind_bytes``).
        self.behind = ""
        self._state: RunState | None = None
        self._now: float | None = None
        self._eta: float | None = None
        self._status_message = ""
        self._rows = 1
        self._output_seen = False
        self._status_fresh = False
        # Time left in the whole run (phases not reached yet, expected from past runs of the same job, plus the
        # loop's ETA): set by the app when the run history knows the job.
        self.run_eta: float | None = None
        # How to come back to this run (what ``hwmon attach`` takes: ``run 2026…-a1b7`` for a supervised run, a
        # path, ``slurm:ID``), shown when the title (the workload's name) does not say it.
        self.ref = ""

    def show(
        self,
        state: RunState,
        now: float,
        eta: float | None,
        status_message: str,
        *,
        output_seen: bool = False,
        status_fresh: bool = False,
    ) -> None:
        """Take the latest state; repaints on the next frame. ``status_fresh``: the message is news (the answer to
        a key just pressed) and goes before a standing alert for a while."""
        self._state, self._now, self._eta, self._status_message = state, now, eta, status_message
        self._status_fresh = status_fresh
        self._output_seen = output_seen
        rows = 3 if self.notice_text() is not None else 2
        # Re-layout only when the header grows or shrinks a row; otherwise a repaint is enough.
        # (Also when the laid-out height disagrees: a request made while the screen was still mounting can be lost.)
        self.refresh(layout=rows != self._rows or self.size.height != rows)
        self._rows = rows

    def notice_text(self) -> Text | None:
        """The third row: a standing stall or silence (its time counted live, gone when the run moves), else the
        latest event alert (NaN, error, failure), else the source's status message; None when there is none."""
        state = self._state
        if state is None:
            return None
        line = Text(no_wrap=True, overflow="ellipsis")
        now = self._now
        live = not view.is_ended(state)
        if live and now is not None and state.stalled and state.last_step_at is not None:
            waited = max(0.0, now - state.last_step_at)
            median = alert_rules.median_step_interval(state)
            line.append(" ⚠ stalled ", style="bold reverse yellow")
            usual = f" (a step usually takes {alert_rules.fmt_step_interval(median)})" if median else ""
            line.append(f" no new step for {fmt.fmt_duration(waited)}{usual}")
            return line
        if live and now is not None and state.silent:
            last = state.last_output_at if state.last_output_at is not None else state.started_at
            if last is not None:
                line.append(" ⚠ quiet ", style="bold reverse yellow")
                line.append(f" no output for {fmt.fmt_duration(max(0.0, now - last))}")
                return line
        if self._status_message and self._status_fresh:
            line.append(" " + view.safe_text(self._status_message), style="italic")
            return line
        # Stall and silence alerts are history once the run moved on: the alerts pane keeps them.
        standing = [alert for alert in state.alerts if alert.kind not in ("stall", "silence")]
        if standing:
            alert = standing[-1]
            label = ALERT_LABELS.get(alert.kind, alert.kind)
            count = f"{len(standing)} alerts" if len(standing) > 1 else "alert"
            line.append(f" ⚠ {count}: {label} ", style="bold reverse red")
            line.append(" ")
            line.append(view.safe_text(alert.message))
            return line
        if self._status_message:
            line.append(" " + view.safe_text(self._status_message), style="italic")
            return line
        return None

    def status_text(self) -> str:
        """The status word shown (``running``, ``failed``, ``stalled``...)."""
        if self._state is None:
            return "waiting"
        return view.display_status(self._state, self._now, output_seen=self._output_seen)

    def render(self) -> Text:
        state = self._state
        title = view.safe_text(self._title)
        width = self.size.width or 80
        if state is None:
            line = Text(no_wrap=True, overflow="crop")
            line.append(f" {title}", style="bold")
            line.append("  waiting for the source", style="dim")
            return line
        # Fields that do not fit are dropped whole (highest rank first), never cut: the source name gives way
        # first (its start: a file name is at the end of a path), so status, wall time and job id stay readable.
        first: list[Field] = [field(title, 0, "bold", shrink=True, min_cells=12)]
        if self.ref and self.ref.removeprefix("run ") not in title:
            first.append(field(view.safe_text(self.ref), 4, shrink=True, min_cells=16))
        vendor = " ".join(part for part in (state.vendor, state.device) if part)
        if vendor:
            first.append(field(view.safe_text(vendor), 3))
        status = view.display_status(state, self._now, output_seen=self._output_seen)
        first.append(field(f" {status.upper()} ", 0, STATUS_STYLES.get(status, "bold")))
        reason = fmt_end_reason(state, self._now) if status in ("failed", "stopped", "unknown") else ""
        if reason:  # issue 21: how it ended, as Slurm (or the log) says — "FAILED — TIMEOUT after 1h00m (time limit)"
            first.append(field(f"— {view.safe_text(reason)}", 1, "bold", sep=" "))
        first.append(field(f"wall {figures.fmt_wall(figures.wall_seconds(state, self._now))}", 1))
        job = f"job {view.safe_text(state.job_ids[-1])}" if state.job_ids else ""
        if job:
            # A wsjob id is 26 characters: when line 1 has no room for it, it goes to the end of line 2.
            first.append(field(job, 5))
        line1 = fit_fields(first, width, Text(" │ ", style="dim"), lead=" ")
        second: list[Field] = []
        current = state.current_phase
        if current is not None:
            second.append(field(f"phase {current.name}", 0, "bold"))
            if current.detail:
                second.append(field(f"({view.safe_text(current.detail)})", 5, shrink=True, min_cells=16, sep=" "))
        elif state.phases:
            second.append(field(f"last phase {state.phases[-1].name}", 0))
        else:
            second.append(field("no phase yet", 0, "dim"))
        # The model's figures, spelt by its fmt_* functions (issue 18: every view prints the same step, loss, ETA).
        progress = figures.step_progress(state)
        if progress is not None and progress.step is not None:
            second.append(field(figures.fmt_step(progress), 0, "bold"))
        _step, loss = figures.last_loss(state)
        if loss is not None:
            second.append(field(f"loss {figures.fmt_loss(loss)}", 1))
        if self._eta is not None and not view.is_ended(state):
            second.append(field(f"ETA {fmt_eta(self._eta)}", 1))
        if self.run_eta is not None and not view.is_ended(state) and self.run_eta != self._eta:
            second.append(field(f"run ETA {fmt_eta(self.run_eta)}", 2, "bold"))
        if self.behind:  # the follower is this far behind the file being written (fmt_behind: "behind 12 MB")
            second.append(field(self.behind, 2, "yellow"))
        limit = fmt_limit(limit_verdict(state, self._now))  # issue 21: the ETA against the Slurm time limit
        if limit:
            second.append(field(limit, 1, "bold red" if "will not finish" in limit else ""))
        if job and job not in line1.plain:
            second.append(field(job, 4))
        # A third row appears only for an alert or a follower/source message, so it is never cut off by the
        # phase/step details at 80 columns.
        notice = self.notice_text()
        error_count = figures.log_error_count(state)
        if notice is None and (error_count or state.warnings):
            errors = f"{error_count} error{'s' if error_count != 1 else ''}"
            warnings = f"{state.warnings} warning{'s' if state.warnings != 1 else ''}"
            second.append(field(f"{errors} · {warnings}", 6, "dim"))
        line2 = fit_fields(second, width, Text(" · ", style="dim"), lead=" ")
        rows = [line1, line2]
        if notice is not None:
            rows.append(notice)
        return join_rows(rows)
