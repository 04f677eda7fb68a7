"""The pane tabs: one row above the bottom area that names the pane shown there (the raw log, with its state:
following, search, filter) and every other pane that has something but no room on screen, each with the key that
shows it (``5 model``, ``7 alerts 2``). It is the bottom area's title row, so it costs no row of its own."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from rich.text import Text
from textual.widget import Widget

from hwmon.tui.fit import Field, fit_fields


@dataclass(frozen=True, slots=True)
class Tab:
    """A pane the tab row names: its key, its name, and (for the pane shown) the fields of its state."""

    key: str
    pane_id: str
    label: str
    details: tuple[Field, ...] = field(default=())


class PaneTabs(Widget):
    """One row: the shown pane's tab (bold, with its details) and the others' keys, drawn as a border line (heavy
    while the shown pane has focus, as the other panes' borders)."""

    DEFAULT_CSS = """
    PaneTabs { height: 1; text-wrap: nowrap; }
    """

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self.tabs: tuple[Tab, ...] = ()
        self.active = ""
        self.focused_active = False

    def set_tabs(self, tabs: Sequence[Tab], active: str, focused: bool) -> None:
        """Show these tabs, ``active`` (a pane id) being the one on screen; repaints only on a change."""
        new = (tuple(tabs), active, focused)
        if new != (self.tabs, self.active, self.focused_active):
            self.tabs, self.active, self.focused_active = new
            self.refresh()

    def text(self, width: int) -> Text:
        """The row at ``width`` cells."""
        line_char = "━" if self.focused_active else "─"
        line_style = "bold" if self.focused_active else "dim"
        active = next((tab for tab in self.tabs if tab.pane_id == self.active), None)
        others = [tab for tab in self.tabs if tab is not active]
        tail = Text(no_wrap=True)
        for tab in others:
            tail.append(f" {line_char}{line_char} ", style=line_style)
            tail.append(tab.key, style="bold")
            tail.append(f" {tab.label}")
        head = Text(no_wrap=True)
        head.append(line_char, style=line_style)
        if active is not None:
            head.append(" ")
            head.append(f" {active.key} {active.label} ", style="bold reverse")
            room = width - head.cell_len - tail.cell_len - 2
            details = fit_fields(active.details, room, Text(" · ", style="dim"))
            if details.cell_len and details.cell_len <= room:
                head.append(" ")
                head.append_text(details)
        row = head + tail
        row.append(" ")
        if row.cell_len < width:
            row.append(line_char * (width - row.cell_len), style=line_style)
        row.no_wrap = True
        row.overflow = "crop"
        return row

    def render(self) -> Text:
        return self.text(self.content_region.width or self.size.width or 80)
