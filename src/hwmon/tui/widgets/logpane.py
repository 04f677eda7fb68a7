"""The raw log: a bounded ``Log`` with search (``/``), an errors/warnings filter and follow mode."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable

from rich.highlighter import Highlighter
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.events import MouseScrollUp
from textual.widgets import Input, Log

from hwmon.tui import view


class _MatchHighlighter(Highlighter):
    """Marks every case-insensitive occurrence of the search term (reverse video: visible without colour)."""

    def __init__(self, term: str) -> None:
        self._pattern = re.compile(re.escape(term), re.IGNORECASE)

    def highlight(self, text: Text) -> None:
        for match in self._pattern.finditer(text.plain):
            text.stylize("bold reverse", match.start(), match.end())


class RawLog(Log):
    """``Log`` with an explicit follow mode: new lines scroll into view while ``follow`` is on, whatever the pane's
    size does meanwhile (a pane that shrinks would otherwise leave the view above the end). Scrolling up (keys or
    wheel) turns it off; End, ``f``, or scrolling back down to the last line turns it on again."""

    BINDINGS = [Binding("end", "follow", "Follow", show=False)]

    def __init__(self, *, max_lines: int) -> None:
        # Log's own auto-scroll only scrolls when the view is already at the end; the pane does it instead.
        super().__init__(max_lines=max_lines, auto_scroll=False, id="log")
        self.follow = True

    @property
    def following(self) -> bool:
        """Whether new lines will scroll into view."""
        return self.follow

    def stick_to_end(self) -> None:
        """Scroll to the last line after the next refresh (once the new virtual size is laid out)."""
        if self.follow:
            self.scroll_end(animate=False, x_axis=False)

    def action_follow(self) -> None:
        """Resume following and jump to the newest line."""
        self.follow = True
        self.scroll_end(animate=False, immediate=True, x_axis=False)
        self.stick_to_end()

    def _user_scrolled_up(self) -> None:
        self._set_follow(False)

    def _resume_if_at_end(self) -> None:
        if self.is_vertical_scroll_end:
            self._set_follow(True)

    def _set_follow(self, on: bool) -> None:
        if on != self.follow:
            self.follow = on
            if isinstance(self.parent, LogPane):
                self.parent.refresh_title()

    def action_scroll_up(self) -> None:
        self._user_scrolled_up()
        super().action_scroll_up()

    def action_page_up(self) -> None:
        self._user_scrolled_up()
        super().action_page_up()

    def action_scroll_home(self) -> None:
        self._user_scrolled_up()
        super().action_scroll_home()

    def _on_mouse_scroll_up(self, event: MouseScrollUp) -> None:
        self._user_scrolled_up()
        super()._on_mouse_scroll_up(event)

    def action_scroll_down(self) -> None:
        super().action_scroll_down()
        self.call_after_refresh(self._resume_if_at_end)

    def action_page_down(self) -> None:
        super().action_page_down()
        self.call_after_refresh(self._resume_if_at_end)

    def on_resize(self) -> None:
        self.stick_to_end()


class LogPane(Vertical):
    """Keeps the last ``max_lines`` raw lines itself so a search or the errors filter can be applied to (and
    removed from) everything kept, while the ``Log`` shows only the lines that pass."""

    DEFAULT_CSS = """
    LogPane { height: 1fr; }
    LogPane > Input { display: none; height: 1; border: none; padding: 0 1; }
    LogPane.-searching > Input { display: block; }
    LogPane > RawLog { height: 1fr; overflow-x: hidden; overflow-y: auto; scrollbar-size-vertical: 1; }
    """

    def __init__(self, *, max_lines: int = 5000, id: str | None = None) -> None:
        super().__init__(id=id)
        self.max_lines = max_lines
        self._kept: deque[str] = deque(maxlen=max_lines)
        self._search = ""
        self._errors_only = False
        self.total_lines = 0
        self._title = ""

    def compose(self) -> ComposeResult:
        search = Input(placeholder="search the log (Enter: keep, Esc: clear)", id="search")
        search.cursor_blink = False
        yield search
        yield RawLog(max_lines=self.max_lines)

    @property
    def log_widget(self) -> RawLog:
        return self._log

    def on_mount(self) -> None:
        # Held, not queried: the app touches it up to 10 times a second.
        self._log = self.query_one("#log", RawLog)

    @property
    def search_term(self) -> str:
        return self._search

    @property
    def errors_only(self) -> bool:
        return self._errors_only

    @property
    def following(self) -> bool:
        return self.log_widget.following

    def _passes(self, line: str) -> bool:
        if self._errors_only and not view.is_error_or_warning(line):
            return False
        return not self._search or self._search.lower() in line.lower()

    def add_lines(self, lines: Iterable[str]) -> None:
        """Append raw lines (made safe first: escape sequences removed, controls replaced)."""
        clean = [view.safe_text(line) for line in lines]
        if not clean:
            return
        self.total_lines += len(clean)
        self._kept.extend(clean)
        if self._search or self._errors_only:
            clean = [line for line in clean if self._passes(line)]
        if clean:
            log = self.log_widget
            log.write_lines(clean[-self.max_lines :], scroll_end=False)
            # Scroll after the refresh: an immediate scroll is a no-op while the new virtual size and the
            # scrollbar are not laid out yet (the first batch that overflows the pane).
            log.stick_to_end()

    def _refill(self) -> None:
        log = self.log_widget
        log.clear()
        if self._search:
            log.highlight = True
            log.highlighter = _MatchHighlighter(self._search)
        else:
            log.highlight = False
        lines = (
            [line for line in self._kept if self._passes(line)]
            if (self._search or self._errors_only)
            else list(self._kept)
        )
        log.write_lines(lines, scroll_end=False)
        log.follow = True
        log.stick_to_end()
        self._update_title()

    def set_search(self, term: str) -> None:
        """Show only lines containing ``term`` (case-insensitive), matches highlighted; "" shows all."""
        if term != self._search:
            self._search = term
            self._refill()

    def set_errors_only(self, on: bool) -> None:
        """Show only error and warning lines (or everything again)."""
        if on != self._errors_only:
            self._errors_only = on
            self._refill()

    def open_search(self) -> None:
        """Show the search box and focus it."""
        self.add_class("-searching")
        search = self.query_one("#search", Input)
        search.value = self._search
        search.focus()

    def close_search(self, *, clear: bool) -> None:
        """Hide the search box (clearing the search when asked) and give focus back to the log."""
        self.remove_class("-searching")
        if clear:
            self.set_search("")
        self.log_widget.focus()

    def toggle_follow(self) -> bool:
        """Turn following off when it is on, else on (jumping to the end). Returns the new state."""
        log = self.log_widget
        if log.follow:
            log.follow = False
        else:
            log.action_follow()
        self._update_title()
        return log.follow

    @on(Input.Changed, "#search")
    def _search_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.set_search(event.value)

    @on(Input.Submitted, "#search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.set_search(event.value)
        self.close_search(clear=False)

    def _update_title(self) -> None:
        parts = ["log"]
        parts.append("following" if self.following else "paused (f/End to follow)")
        if self._search:
            parts.append("search: " + self._search)
        if self._errors_only:
            parts.append("errors/warnings only")
        title = " · ".join(parts)
        if title == self._title:
            return  # setting a border title repaints the pane; the app asks up to 10 times a second
        self._title = title
        # border_title is parsed as markup: build it as Text so a search term like "[bold]" stays literal.
        self.border_title = Text(title)

    def refresh_title(self) -> None:
        """Recompute the title (follow state changes when the user scrolls)."""
        self._update_title()
