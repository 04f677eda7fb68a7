"""The alerts list (wide layouts; narrow ones show the latest alert in the header)."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from hwmon.model.state import RunState
from hwmon.tui import view
from hwmon.tui.widgets._text import join_rows

KIND_LABELS = {"nan": "NaN/Inf", "error": "error", "stall": "stall", "silence": "silence", "failed": "failed"}


class AlertsPane(Widget, can_focus=True):
    """Newest alert first: kind, log line, message."""

    ALLOW_MAXIMIZE = True  # z maximises the pane

    DEFAULT_CSS = """
    AlertsPane { height: auto; max-height: 12; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._state: RunState | None = None
        self._rows = -1

    def show(self, state: RunState) -> None:
        """Take the latest state; repaints on the next frame."""
        self._state = state
        rows = min(10, len(state.alerts))
        self.refresh(layout=rows != self._rows)
        self._rows = rows

    def render(self) -> Text:
        state = self._state
        if state is None or not state.alerts:
            return Text("no alerts", style="dim")
        lines = []
        for alert in reversed(state.alerts[-10:]):
            line = Text(no_wrap=True, overflow="ellipsis")
            line.append(f"{KIND_LABELS.get(alert.kind, alert.kind):<8}", style="bold red")
            if alert.line:
                line.append(f"L{alert.line} ", style="dim")
            line.append(view.safe_text(alert.message))
            lines.append(line)
        return join_rows(lines)
