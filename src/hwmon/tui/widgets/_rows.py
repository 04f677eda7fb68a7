"""A pane drawn as rows of ``Text`` that scrolls with the keyboard when its rows do not fit (maximised with ``z``,
or a terminal too short): j/k or ↑/↓ a row, PgDn/PgUp/space a screen, g/G or Home/End the ends. The last row
then says how many rows are below (a pane never drops rows silently)."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widget import Widget

from hwmon.tui.widgets._text import join_rows


class RowsPane(Widget, can_focus=True):
    """Subclasses give ``pane_rows(width, height)``: every row they have for that size, in order."""

    ALLOW_MAXIMIZE = True  # z maximises the pane
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("down,j", "scroll_rows(1)", "Down", show=False),
        Binding("up,k", "scroll_rows(-1)", "Up", show=False),
        Binding("pagedown,space", "scroll_page(1)", "Page down", show=False),
        Binding("pageup", "scroll_page(-1)", "Page up", show=False),
        Binding("home,g", "scroll_rows(-1000000)", "Top", show=False),
        Binding("end,G", "scroll_rows(1000000)", "Bottom", show=False),
    ]

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self.first_row = 0
        self._row_count = 0

    def pane_rows(self, width: int, height: int) -> list[Text]:
        """Every row the pane has at this size (it may hold more rows than ``height``: they scroll)."""
        raise NotImplementedError

    @property
    def maximised(self) -> bool:
        """Whether ``z`` maximised this pane (it then shows everything it has, scrolling)."""
        return self.has_class("-maximized")

    def _height(self) -> int:
        return self.content_region.height or self.size.height or 1

    def action_scroll_rows(self, delta: int) -> None:
        """Scroll the rows by ``delta`` (clamped)."""
        height = self._height()
        limit = max(0, self._row_count - height + (1 if self._row_count > height else 0))
        first = max(0, min(limit, self.first_row + delta))
        if first != self.first_row:
            self.first_row = first
            self.refresh()

    def action_scroll_page(self, pages: int) -> None:
        """A screen down/up."""
        self.action_scroll_rows(pages * max(1, self._height() - 2))

    def render(self) -> Text:
        width = self.content_region.width or self.size.width or 80
        height = self._height()
        rows = self.pane_rows(width, height)
        self._row_count = len(rows)
        if len(rows) <= height:
            self.first_row = 0
            return join_rows(rows)
        # Keep one row for "N more" below, so what is hidden is said.
        shown = max(1, height - 1)
        self.first_row = max(0, min(self.first_row, len(rows) - shown))
        window = rows[self.first_row : self.first_row + shown]
        below = len(rows) - self.first_row - shown
        above = self.first_row
        note = Text(no_wrap=True, overflow="crop", style="dim")
        parts = []
        if below:
            parts.append(f"↓ {below} more")
        if above:
            parts.append(f"↑ {above} above")
        hint = "j/k PgDn PgUp" if self.has_focus else "tab here, then j/k PgDn"
        note.append(" " + " · ".join(parts) + f" ({hint})")
        return join_rows([*window, note])
