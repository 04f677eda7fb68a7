"""The header: which run, on what, how it is going, and the latest alert."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from hwmon.model.state import RunState
from hwmon.tui import view

STATUS_STYLES = {
    "running": "bold green",
    "succeeded": "bold reverse green",
    "failed": "bold reverse red",
    "stalled": "bold reverse yellow",
    "waiting": "bold",
}
ALERT_LABELS = {"nan": "NaN/Inf loss", "error": "error", "stall": "stall", "silence": "silence", "failed": "failed"}


class RunHeader(Widget):
    """Two lines: source · vendor/device · STATUS · wall · job, then phase · step · ETA · latest alert."""

    DEFAULT_CSS = """
    RunHeader { dock: top; height: 2; background: $panel; }
    """

    def __init__(self, title: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._title = title
        self._state: RunState | None = None
        self._now: float | None = None
        self._eta: float | None = None
        self._status_message = ""

    def show(self, state: RunState, now: float, eta: float | None, status_message: str) -> None:
        """Take the latest state; repaints on the next frame."""
        self._state, self._now, self._eta, self._status_message = state, now, eta, status_message
        self.refresh()

    def status_text(self) -> str:
        """The status word shown (``running``, ``failed``, ``stalled``...)."""
        if self._state is None:
            return "waiting"
        return view.display_status(self._state, self._now)

    def render(self) -> Text:
        state = self._state
        line1 = Text(no_wrap=True, overflow="ellipsis")
        line1.append(" hwmon ", style="bold reverse")
        line1.append(" ")
        line1.append(view.safe_text(self._title), style="bold")
        if state is None:
            line1.append("  waiting for the source", style="dim")
            return line1
        vendor = " ".join(part for part in (state.vendor, state.device) if part)
        if vendor:
            line1.append(" │ ", style="dim")
            line1.append(view.safe_text(vendor))
        status = view.display_status(state, self._now)
        line1.append(" │ ", style="dim")
        line1.append(f" {status.upper()} ", style=STATUS_STYLES.get(status, "bold"))
        line1.append(" │ ", style="dim")
        line1.append(f"wall {view.fmt_duration(view.wall_seconds(state, self._now))}")
        if state.job_ids:
            line1.append(" │ ", style="dim")
            line1.append(f"job {view.safe_text(state.job_ids[-1])}")
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
        step = state.last_step
        if step is not None and step.step is not None:
            line2.append(f" · step {step.step}", style="bold")
        if state.loss.last is not None:
            line2.append(f" · loss {view.fmt_number(state.loss.last[1])}")
        if self._eta is not None and not view.is_ended(state):
            line2.append(f" · ETA {view.fmt_duration(self._eta)}")
        if state.alerts:
            alert = state.alerts[-1]
            label = ALERT_LABELS.get(alert.kind, alert.kind)
            count = f"{len(state.alerts)} alerts" if len(state.alerts) > 1 else "alert"
            line2.append("  ")
            line2.append(f" ⚠ {count}: {label} ", style="bold reverse red")
            line2.append(" ")
            line2.append(view.safe_text(alert.message))
        elif self._status_message:
            line2.append("  ")
            line2.append(view.safe_text(self._status_message), style="italic")
        elif state.error_count or state.warnings:
            line2.append(f"  {state.error_count} errors · {state.warnings} warnings", style="dim")
        return Text("\n").join([line1, line2])
