"""A line view for the raw log, drawn line by line (``ScrollView.render_line``) like Textual's ``Log``, with what a
log reader needs on top: a cursor line, search-match highlighting, horizontal scrolling or wrapping, and an
explicit follow mode. Only the visible rows are rendered, so a frame costs the same for 50 lines or 5000.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable

from rich.cells import cell_len, chop_cells
from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.events import Click, MouseScrollDown, MouseScrollUp
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

MATCH_STYLE = Style(bold=True, reverse=True)
H_STEP = 10


class LogView(ScrollView, can_focus=True):
    """The kept raw lines (already made safe by the pane). ``follow`` keeps the newest line in view; moving the
    cursor up (``k``, Up, PgUp, ``g``/Home, the wheel) turns it off and ``G``/End/``f`` turn it back on."""

    COMPONENT_CLASSES = {"logview--cursor", "logview--live"}
    DEFAULT_CSS = """
    LogView { background: $surface; color: $text; overflow-y: auto; overflow-x: hidden; scrollbar-size: 1 1; }
    LogView > .logview--cursor { background: $accent 35%; text-style: bold; }
    LogView > .logview--live { text-style: italic; }
    """
    BINDINGS = [
        Binding("up,k", "cursor_up", "Up", show=False),
        Binding("down,j", "cursor_down", "Down", show=False),
        Binding("pageup,ctrl+b", "page_up", "Page up", show=False),
        Binding("pagedown,ctrl+f,space", "page_down", "Page down", show=False),
        Binding("home,g", "first", "First line", show=False),
        Binding("end,G", "last", "Last line", show=False),
        Binding("left", "scroll_left", "Left", show=False),
        Binding("right", "scroll_right", "Right", show=False),
        Binding("enter", "open_record", "Record", show=False),
    ]

    def __init__(self, *, max_lines: int, id: str | None = None) -> None:
        super().__init__(id=id)
        self.max_lines = max_lines
        self._lines: list[str] = []
        # Each line's number in the log (0: not known, e.g. the end-of-file preview), for the record view's rule.
        self._numbers: list[int] = []
        self._width = 0
        self.follow = True
        self.cursor: int | None = None
        self.wrap = False
        self.pattern: re.Pattern[str] | None = None
        self.empty_text = ""
        self._row_line: list[int] = []
        self._row_start: list[int] = []
        self._wrap_width = 0
        # The line under way (a progress bar's current \r redraw), shown after the last line and updated in place
        # until its line ends and arrives as a line of its own; "" when there is none.
        self.live = ""

    @property
    def following(self) -> bool:
        """Whether new lines scroll into view."""
        return self.follow

    # ------------------------------------------------------------------------------------------- content
    @property
    def lines(self) -> list[str]:
        """The lines shown (after the pane's filters), oldest first."""
        return self._lines

    def set_lines(self, lines: Iterable[str], numbers: Iterable[int] | None = None) -> None:
        """Replace everything shown (a filter changed); ``numbers``: each line's number in the log (0: unknown)."""
        self._lines = list(lines)[-self.max_lines :]
        kept = list(numbers)[-self.max_lines :] if numbers is not None else []
        self._numbers = kept if len(kept) == len(self._lines) else [0] * len(self._lines)
        self._width = max((_cells(line) for line in self._lines), default=0)
        self.cursor = None if self.cursor is None else min(self.cursor, len(self._lines) - 1)
        if self.cursor is not None and self.cursor < 0:
            self.cursor = None
        self._rewrap()
        self._resize()

    def append(self, lines: list[str], numbers: list[int] | None = None) -> int:
        """Add lines at the end (``numbers``: their numbers in the log, 0 unknown); returns how many old lines fell
        off the front (the pane keeps its counts)."""
        if not lines:
            return 0
        width = self._width
        for line in lines:
            cells = _cells(line)
            if cells > width:
                width = cells
        self._width = width
        first_new = len(self._lines)
        self._lines.extend(lines)
        self._numbers.extend(numbers if numbers is not None and len(numbers) == len(lines) else [0] * len(lines))
        dropped = 0
        # Trim in steps of a tenth so a steady stream does not shift the whole list on every batch.
        if len(self._lines) > self.max_lines + max(1, self.max_lines // 10):
            dropped = len(self._lines) - self.max_lines
            del self._lines[:dropped]
            del self._numbers[:dropped]
            if self.cursor is not None:
                self.cursor = max(0, self.cursor - dropped)
            self._rewrap()
        elif self.wrap:
            self._wrap_from(first_new)
        self._resize()
        return dropped

    def set_live(self, text: str) -> None:
        """Show ``text`` as the live row after the last line (replacing the previous one), or none for ""."""
        if text == self.live:
            return
        had = bool(self.live)
        self.live = text
        cells = _cells(text)
        if cells > self._width:
            self._width = cells
        if self.cursor is not None and self.cursor >= self.line_count:
            self.cursor = self.line_count - 1 if self.line_count else None
        if had != bool(text):
            self._resize()
        else:
            self.refresh()

    @property
    def line_count(self) -> int:
        """Lines shown, the live row included."""
        return len(self._lines) + (1 if self.live else 0)

    def line_at(self, index: int) -> str:
        """The text of line ``index`` (``len(lines)`` is the live row)."""
        return self._lines[index] if index < len(self._lines) else self.live

    def number_at(self, index: int) -> int:
        """The log's number of line ``index`` (0: unknown, and for the live row, whose line has not ended)."""
        return self._numbers[index] if 0 <= index < len(self._numbers) else 0

    def dropped_lines_for(self, count: int) -> list[str]:
        """The ``count`` oldest lines (the pane asks before they are trimmed, to keep its match count exact)."""
        return self._lines[:count]

    def _base_rows(self) -> int:
        return len(self._row_line) if self.wrap else len(self._lines)

    def _resize(self) -> None:
        rows = self._base_rows() + (1 if self.live else 0)
        width = 0 if self.wrap else self._width
        self.virtual_size = Size(width, max(rows, 1 if self.empty_text else 0))
        if self.follow:
            self.scroll_end(animate=False, immediate=False, x_axis=False)
        self.refresh()

    # ------------------------------------------------------------------------------------------- wrapping
    def set_wrap(self, on: bool) -> None:
        """Wrap long lines at the pane's width (no horizontal scrolling) or cut them (Left/Right scroll)."""
        if on == self.wrap:
            return
        anchor = self.current_index()
        self.wrap = on
        self.set_class(on, "-wrap")
        self.scroll_to(x=0, animate=False, immediate=True, force=True)
        self._rewrap()
        self._resize()
        if not self.follow and anchor is not None:
            self.call_after_refresh(self.show_line, anchor)

    def _content_width(self) -> int:
        return max(10, self.scrollable_content_region.width or self.size.width or 80)

    def _rewrap(self) -> None:
        self._row_line = []
        self._row_start = []
        if self.wrap:
            self._wrap_width = self._content_width()
            self._wrap_from(0)

    def _wrap_from(self, first: int) -> None:
        width = self._wrap_width or self._content_width()
        rows_line, rows_start = self._row_line, self._row_start
        for index in range(first, len(self._lines)):
            line = self._lines[index]
            if len(line) <= width:
                rows_line.append(index)
                rows_start.append(0)
            elif line.isascii():
                for start in range(0, len(line), width):
                    rows_line.append(index)
                    rows_start.append(start)
            else:
                start = 0
                for piece in chop_cells(line, width):
                    rows_line.append(index)
                    rows_start.append(start)
                    start += len(piece)

    def on_resize(self) -> None:
        if self.wrap and self._content_width() != self._wrap_width:
            self._rewrap()
            self._resize()
        elif self.follow:
            self.scroll_end(animate=False, immediate=False, x_axis=False)

    # ------------------------------------------------------------------------------------------- rows
    def _row_of(self, index: int) -> int:
        if not self.wrap:
            return index
        if index >= len(self._lines):
            return len(self._row_line)
        return max(0, bisect_right(self._row_line, index - 1))

    def _line_of_row(self, row: int) -> int | None:
        if self.live and row == self._base_rows():
            return len(self._lines)
        if self.wrap:
            return self._row_line[row] if 0 <= row < len(self._row_line) else None
        return row if 0 <= row < len(self._lines) else None

    @property
    def first_column(self) -> int:
        """The first column shown (0 unless scrolled right)."""
        return int(self.scroll_offset.x)

    def current_index(self) -> int | None:
        """The cursor line, else the last line in view (what Enter opens)."""
        if self.cursor is not None:
            return self.cursor
        if not self.line_count:
            return None
        bottom = int(self.scroll_offset.y) + max(1, self.scrollable_content_region.height) - 1
        line = self._line_of_row(min(bottom, self._base_rows() + (1 if self.live else 0) - 1))
        return line

    def show_line(self, index: int, *, center: bool = True) -> None:
        """Put the cursor on ``index`` and scroll it into view (following stops: the user is reading)."""
        if not self.line_count:
            return
        index = max(0, min(index, self.line_count - 1))
        self.cursor = index
        self._set_follow(False)
        row = self._row_of(index)
        height = max(1, self.scrollable_content_region.height)
        top = int(self.scroll_offset.y)
        if center and not (top <= row < top + height):
            self.scroll_to(y=max(0, row - height // 2), animate=False, immediate=True)
        elif row < top:
            self.scroll_to(y=row, animate=False, immediate=True)
        elif row >= top + height:
            self.scroll_to(y=row - height + 1, animate=False, immediate=True)
        if self.pattern is not None and not self.wrap:
            match = self.pattern.search(self.line_at(index))
            if match is not None:
                # A match beyond the right edge scrolls into view.
                width = self._content_width()
                x = int(self.scroll_offset.x)
                col = cell_len(self.line_at(index)[: match.start()])
                end = col + max(1, cell_len(match.group(0)))
                if col < x or end > x + width:
                    self.scroll_to(
                        x=max(0, end - width + 4 if end > width else 0), animate=False, immediate=True, force=True
                    )
        self.refresh()

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        row = scroll_y + y
        width = self.size.width
        base = self.rich_style
        index = self._line_of_row(row)
        if index is None:
            if row == 0 and not self.line_count and self.empty_text:
                text = Text(self.empty_text, style="dim italic", no_wrap=True)
                return Strip(text.render(self.app.console), text.cell_len).apply_style(base).crop_extend(0, width, base)
            return Strip.blank(width, base)
        live = index >= len(self._lines)
        line = self.line_at(index)
        start = 0
        end = len(line)
        if live:
            # The live row is one row (a bar's redraw), cut at the edge even when the log wraps.
            base = base + self.get_component_rich_style("logview--live", partial=True)
        elif self.wrap:
            start = self._row_start[row]
            nxt = row + 1
            if nxt < len(self._row_line) and self._row_line[nxt] == index:
                end = self._row_start[nxt]
        text = Text(line[start:end], no_wrap=True, end="")
        text.stylize(base)
        if self.pattern is not None:
            for match in self.pattern.finditer(line):
                lo, hi = max(match.start(), start), min(match.end(), end)
                if hi > lo:
                    text.stylize(MATCH_STYLE, lo - start, hi - start)
        if index == self.cursor:
            text.stylize(self.get_component_rich_style("logview--cursor", partial=True))
        # apply_style: every segment gets a Style (Textual's monochrome filter, NO_COLOR, chokes on a None style).
        strip = Strip(text.render(self.app.console), text.cell_len).apply_style(base)
        if self.wrap and not live:
            return strip.crop_extend(0, width, base)
        return strip.crop_extend(scroll_x, scroll_x + width, base)

    # ------------------------------------------------------------------------------------------- keys
    def _set_follow(self, on: bool) -> None:
        if on != self.follow:
            self.follow = on
            self._title_changed()

    def _title_changed(self) -> None:
        parent = self.parent
        if parent is not None and hasattr(parent, "refresh_title"):
            parent.refresh_title()

    def _move(self, delta: int) -> None:
        if not self.line_count:
            return
        current = self.current_index()
        base = self.line_count - 1 if current is None else current
        self.show_line(base + delta, center=False)
        if delta > 0 and self.cursor == self.line_count - 1:
            self.action_last()

    def action_cursor_up(self) -> None:
        """Cursor one line up (stops following)."""
        self._move(-1)

    def action_cursor_down(self) -> None:
        """Cursor one line down; on the last line, following resumes."""
        self._move(1)

    def action_page_up(self) -> None:
        """One screen up."""
        self._move(-max(1, self.scrollable_content_region.height - 1))

    def action_page_down(self) -> None:
        """One screen down."""
        self._move(max(1, self.scrollable_content_region.height - 1))

    def action_first(self) -> None:
        """First kept line."""
        self.show_line(0)
        self.scroll_to(y=0, animate=False, immediate=True)

    def action_last(self) -> None:
        """Last line, following again."""
        self.cursor = None
        self._set_follow(True)
        self.scroll_end(animate=False, immediate=True, x_axis=False)
        self.refresh()

    def action_follow(self) -> None:
        """Resume following (``f`` when paused)."""
        self.action_last()

    def action_open_record(self) -> None:
        """Open the record under the cursor in full (the app owns the screen)."""
        opener = getattr(self.app, "action_open_record", None)
        if opener is not None:
            opener()

    def action_scroll_left(self) -> None:
        """Scroll the long lines left."""
        if not self.wrap:
            self.scroll_to(x=max(0, int(self.scroll_offset.x) - H_STEP), animate=False, immediate=True, force=True)
            self._title_changed()

    def action_scroll_right(self) -> None:
        """Scroll the long lines right (to see the end of a cut line)."""
        if not self.wrap:
            limit = max(0, self._width - self._content_width())
            self.scroll_to(x=min(limit, int(self.scroll_offset.x) + H_STEP), animate=False, immediate=True, force=True)
            self._title_changed()

    def on_click(self, event: Click) -> None:
        """A click puts the cursor on that line (following stops); a double click opens its record."""
        index = self._line_of_row(int(self.scroll_offset.y) + event.y)
        if index is None:
            return
        self.cursor = index
        self._set_follow(False)
        self.refresh()
        if event.chain >= 2:
            self.action_open_record()

    def _on_mouse_scroll_up(self, event: MouseScrollUp) -> None:
        self._set_follow(False)
        super()._on_mouse_scroll_up(event)

    def _on_mouse_scroll_down(self, event: MouseScrollDown) -> None:
        super()._on_mouse_scroll_down(event)
        self.call_after_refresh(self._resume_if_at_end)

    def _resume_if_at_end(self) -> None:
        if self.is_vertical_scroll_end and self.cursor is None:
            self._set_follow(True)


def _cells(line: str) -> int:
    return len(line) if line.isascii() else cell_len(line)
