"""The header: which run, on what, how it is going, and the latest alert."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from hwmon.model import alerts as alert_rules
from hwmon.model import fmt
from hwmon.model.distributed import fmt_end_reason
from hwmon.model.figures import last_loss
from hwmon.model.state import RunState
from hwmon.model.timelimit import fmt_limit, limit_verdict
from hwmon.tui import view
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
            usual = f" (a step usually takes {fmt.fmt_duration(median)})" if median else ""
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
        line1 = Text(no_wrap=True, overflow="ellipsis")
        if state is None:
            line1.append(f" {title}", style="bold")
            line1.append("  waiting for the source", style="dim")
            return line1
        rest = Text(no_wrap=True, overflow="ellipsis")
        vendor = " ".join(part for part in (state.vendor, state.device) if part)
        if vendor:
            rest.append(" │ ", style="dim")
            rest.append(view.safe_text(vendor))
        status = view.display_status(state, self._now, output_seen=self._output_seen)
        rest.append(" │ ", style="dim")
        rest.append(f" {status.upper()} ", style=STATUS_STYLES.get(status, "bold"))
        reason = fmt_end_reason(state, self._now) if status in ("failed", "stopped", "unknown") else ""
        if reason:  # issue 21: how it ended, as Slurm (or the log) says — "FAILED — TIMEOUT after 1h00m (time limit)"
            rest.append(f" — {view.safe_text(reason)}", style="bold")
        rest.append(" │ ", style="dim")
        rest.append(f"wall {fmt.fmt_duration(view.timeline(state, self._now).wall)}")
        width = self.size.width or 80
        if state.job_ids:
            job = view.safe_text(state.job_ids[-1])
            # A wsjob id is 26 characters; at 80 columns its first dozen identify it and leave the run's name room.
            if width - rest.cell_len - len(job) - 8 < min(len(title), 24) and len(job) > 14:
                job = job[:13] + "…"
            rest.append(" │ ", style="dim")
            rest.append(f"job {job}")
        # The source name gives way first (its start is cut: the file name is at the end of a path), so status,
        # wall time and job id stay visible at 80 columns.
        room = max(12, width - rest.cell_len - 1)
        if len(title) > room:
            title = "…" + title[-(room - 1) :]
        line1.append(f" {title}", style="bold")
        line1.append_text(rest)
        line2 = Text(no_wrap=True, overflow="ellipsis")
        line2.append(" ")
        current = state.current_phase
        if current is not None:
            line2.append(f"phase {current.name}", style="bold")
            if current.detail:
                line2.append(f" ({view.safe_text(current.detail)})")
        elif state.phases:
            line2.append(f"last phase {state.phases[-1].name}")
        else:
            line2.append("no phase yet", style="dim")
        step, loss = last_loss(state)  # the one step/loss figure (summary's ls and plain mode use it too)
        if step is not None:
            line2.append(f" · step {step}", style="bold")
        if loss is not None:
            line2.append(f" · loss {fmt.fmt_number(loss)}")
        if self._eta is not None and not view.is_ended(state):
            line2.append(f" · ETA {fmt.fmt_duration(self._eta)}")
        if self.run_eta is not None and not view.is_ended(state) and self.run_eta != self._eta:
            line2.append(f" · run ETA {fmt.fmt_duration(self.run_eta)}", style="bold")
        limit = fmt_limit(limit_verdict(state, self._now))  # issue 21: the ETA against the Slurm time limit
        if limit:
            line2.append(f" · {limit}", style="bold red" if "will not finish" in limit else "")
        rows = [line1, line2]
        # A third row appears only for an alert or a follower/source message, so it is never cut off by the
        # phase/step details at 80 columns.
        notice = self.notice_text()
        if notice is not None:
            rows.append(notice)
        elif state.error_count or state.warnings:
            errors = f"{state.error_count} error{'s' if state.error_count != 1 else ''}"
            warnings = f"{state.warnings} warning{'s' if state.warnings != 1 else ''}"
            line2.append(f"  {errors} · {warnings}", style="dim")
        return join_rows(rows)
