"""The raw log pane: search and filter like less/lnav over the kept lines.

- ``/`` and ``?`` search forward/backward with a regex (smart case); matches are highlighted, ``n``/``N`` step
  through them and the title shows ``match i/total``. Lines around a match stay in place.
- ``&pattern`` filters to matching lines (less's convention); ``&`` with an empty pattern clears the filter.
- ``e`` shows errors and warnings only.
- Left/Right scroll long lines; ``w`` wraps them; Enter opens the record under the cursor.

An invalid regex gets a one-line message in the prompt row, never a crash.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Literal

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Static

from hwmon.tui import search, view
from hwmon.tui.fit import Field, field
from hwmon.tui.widgets.logview import LogView

PromptMode = Literal["/", "?", "&"]
PROMPTS: dict[str, str] = {"/": "search forward", "?": "search backward", "&": "show only lines matching"}


class _Prompt(Horizontal):
    """One row: the mode character (``/``, ``?``, ``&``) and the pattern being typed, or a one-line message."""

    DEFAULT_CSS = """
    _Prompt { height: 1; display: none; background: $panel; }
    _Prompt > #prompt-mode { width: 2; height: 1; text-style: bold; }
    _Prompt > Input { width: 1fr; height: 1; border: none; padding: 0 0; background: $panel; }
    _Prompt > Input:focus { border: none; }
    _Prompt > #prompt-note { width: auto; max-width: 50%; height: 1; color: $warning; padding: 0 1; }
    """


class LogPane(Vertical):
    """Keeps the last ``max_lines`` raw lines itself, so a filter can be applied to (and removed from) everything
    kept, while the ``LogView`` shows the lines that pass."""

    ALLOW_MAXIMIZE = True  # z maximises the pane

    DEFAULT_CSS = """
    LogPane { height: 1fr; }
    LogPane.-prompting > _Prompt { display: block; }
    LogPane > LogView { height: 1fr; }
    """

    def __init__(self, *, max_lines: int = 5000, id: str | None = None) -> None:
        super().__init__(id=id)
        self.max_lines = max_lines
        self._kept: deque[str] = deque(maxlen=max_lines)
        self._kept_numbers: deque[int] = deque(maxlen=max_lines)
        self._search = ""
        self._pattern: re.Pattern[str] | None = None
        self._backward = False
        self._filter = ""
        self._filter_pattern: re.Pattern[str] | None = None
        self._errors_only = False
        self._mode: PromptMode = "/"
        self.total_lines = 0
        self.match_count = 0
        self.match_index: int | None = None
        self.note = ""
        self._title = ""
        self._live = ""
        self.title_fields: tuple[Field, ...] = ()
        # Set while the pane shows the end of a big file read directly, before the parser has caught up.
        self.preview = ""

    def compose(self) -> ComposeResult:
        with _Prompt(id="prompt"):
            yield Static("/", id="prompt-mode")
            search_box = Input(placeholder="regex (Enter: keep, Esc: cancel)", id="search", select_on_focus=False)
            search_box.cursor_blink = False
            yield search_box
            yield Static("", id="prompt-note")
        yield LogView(max_lines=self.max_lines, id="log")

    def on_mount(self) -> None:
        # Held, not queried: the app touches it on every batch.
        self._log = self.query_one("#log", LogView)
        self._update_empty_text()

    @property
    def log_widget(self) -> LogView:
        """The line view (tests and the app use it)."""
        return self._log

    @property
    def search_term(self) -> str:
        return self._search

    @property
    def filter_term(self) -> str:
        return self._filter

    @property
    def errors_only(self) -> bool:
        return self._errors_only

    @property
    def following(self) -> bool:
        return self._log.follow

    @property
    def prompting(self) -> bool:
        return self.has_class("-prompting")

    # ------------------------------------------------------------------------------------------- lines
    def _passes(self, line: str) -> bool:
        if self._errors_only and not search.is_error_or_warning(line):
            return False
        return self._filter_pattern is None or self._filter_pattern.search(line) is not None

    def add_lines(self, lines: Iterable[str], numbers: Sequence[int] | None = None) -> None:
        """Append raw lines (made safe first: escape sequences removed, controls replaced); ``numbers``: their line
        numbers in the log (0: unknown), for the record view to say which rule read a line."""
        clean = [view.safe_text(line) for line in lines]
        if not clean:
            return
        nums = list(numbers) if numbers is not None and len(numbers) == len(clean) else [0] * len(clean)
        self.total_lines += len(clean)
        self._kept.extend(clean)
        self._kept_numbers.extend(nums)
        if self._filter_pattern is not None or self._errors_only:
            passing = [i for i, line in enumerate(clean) if self._passes(line)]
            clean, nums = [clean[i] for i in passing], [nums[i] for i in passing]
        if not clean:
            return
        clean, nums = clean[-self.max_lines :], nums[-self.max_lines :]
        log = self._log
        pattern = self._pattern
        if pattern is not None:
            self.match_count += sum(1 for line in clean if pattern.search(line))
            overflow = len(log.lines) + len(clean) - self.max_lines - max(1, self.max_lines // 10)
            if overflow > 0:
                gone = log.dropped_lines_for(len(log.lines) + len(clean) - self.max_lines)
                self.match_count -= sum(1 for line in gone if pattern.search(line))
        log.append(clean, nums)
        if pattern is not None:
            self._update_title()

    def set_live(self, text: str | None) -> None:
        """The line under way (a progress bar's current ``\r`` redraw), shown as the log's last row and updated
        in place until its line ends; None or "" for none. It is filtered and searched like any line."""
        clean = view.safe_text(text) if text else ""
        self._live = clean
        shown = clean if clean and (not self._active_filter() or self._passes(clean)) else ""
        if shown != self._log.live:
            self._log.set_live(shown)
            if self._pattern is not None:
                self._update_title()

    def _live_matches(self) -> int:
        live = self._log.live
        return 1 if live and self._pattern is not None and self._pattern.search(live) else 0

    def replace_lines(self, lines: Iterable[str]) -> None:
        """Show ``lines`` instead of everything kept (the end-of-file preview gives way to the parsed lines);
        ``total_lines`` is left as it is: the caller counts."""
        self._kept.clear()
        self._kept_numbers.clear()
        self._kept.extend(view.safe_text(line) for line in lines)
        self._kept_numbers.extend([0] * len(self._kept))
        self._refill()

    def _refill(self) -> None:
        log = self._log
        pairs = zip(self._kept, self._kept_numbers, strict=True)
        kept = [(line, n) for line, n in pairs if self._passes(line)] if self._active_filter() else list(pairs)
        self._update_empty_text()
        log.set_lines([line for line, _ in kept], [n for _, n in kept])
        self.set_live(self._live)
        self._count_matches()
        self._update_title()

    def _active_filter(self) -> bool:
        return self._filter_pattern is not None or self._errors_only

    def _update_empty_text(self) -> None:
        if self._errors_only and self._filter:
            text = f"no error or warning line matches &{self._filter} (e, & to show all)"
        elif self._errors_only:
            text = "no error or warning lines (e shows every line)"
        elif self._filter:
            text = f"no line matches &{self._filter} (& then Enter shows every line)"
        else:
            text = "no output yet"
        self._log.empty_text = text

    def _count_matches(self) -> None:
        pattern = self._pattern
        self.match_count = 0 if pattern is None else sum(1 for line in self._log.lines if pattern.search(line))
        self.match_index = None

    # ------------------------------------------------------------------------------------------- search
    def set_search(self, term: str, *, backward: bool = False, jump: bool = True) -> str | None:
        """Highlight ``term`` (a regex, smart case) and jump to the next match in the search's direction from the
        cursor. Returns an error message for an invalid pattern (the previous search stays)."""
        if bool(term) != bool(self._search) and self.is_mounted:
            self.app.refresh_bindings()  # n/N are in the footer while a search stands
        if not term:
            self._search, self._pattern = "", None
            self._log.pattern = None
            self.match_count, self.match_index = 0, None
            self._log.refresh()
            self._update_title()
            return None
        try:
            pattern = search.compile_pattern(term)
        except re.error as exc:
            return f"invalid regex: {exc}"
        self._search, self._pattern, self._backward = term, pattern, backward
        self._log.pattern = pattern
        self._count_matches()
        if jump:
            self.next_match(reverse=False, include_current=True)
        self._log.refresh()
        self._update_title()
        return None

    def next_match(self, *, reverse: bool = False, include_current: bool = False) -> bool:
        """Move the cursor to the next match (``n``), or the previous one with ``reverse`` (``N``), in the
        direction the search was typed (``/`` forward, ``?`` backward). Returns whether a match was found."""
        pattern = self._pattern
        log = self._log
        count = log.line_count
        if pattern is None or not count:
            return False
        backward = self._backward != reverse
        line_at = log.line_at
        # From the cursor; while following (no cursor) from the end of the log, whatever is in view this frame:
        # backward from the last line, forward wrapping to the top (less at end of file).
        current = log.cursor if log.cursor is not None else (None if log.follow else log.current_index())
        if current is None:
            start = count - 1 if backward else 0
        else:
            start = current if include_current else current + (-1 if backward else 1)
        order = range(start, -1, -1) if backward else range(start, count)
        found = next((i for i in order if 0 <= i < count and pattern.search(line_at(i))), None)
        wrapped = False
        if found is None:
            wrap_order = range(count - 1, -1, -1) if backward else range(0, count)
            found = next((i for i in wrap_order if pattern.search(line_at(i))), None)
            wrapped = found is not None
        if found is None:
            self.note = f"pattern not found: {self._search}"
            self._show_note()
            return False
        self._log.show_line(found)
        self.match_index = sum(1 for i in range(found) if pattern.search(line_at(i))) + 1
        self.note = "search wrapped" if wrapped else ""
        self._show_note()
        self._update_title()
        return True

    def set_filter(self, term: str) -> str | None:
        """Show only lines matching ``term`` (a regex, smart case); "" shows every line again."""
        if not term:
            self._filter, self._filter_pattern = "", None
        else:
            try:
                self._filter_pattern = search.compile_pattern(term)
            except re.error as exc:
                return f"invalid regex: {exc}"
            self._filter = term
        self._refill()
        return None

    def set_errors_only(self, on: bool) -> None:
        """Show only error and warning lines (or everything again)."""
        if on != self._errors_only:
            self._errors_only = on
            self._refill()

    # ------------------------------------------------------------------------------------------- prompt
    def open_prompt(self, mode: PromptMode) -> None:
        """Show the prompt row for ``/``, ``?`` or ``&`` and focus it."""
        self._mode = mode
        self.add_class("-prompting")
        self.query_one("#prompt-mode", Static).update(Text(mode))
        box = self.query_one("#search", Input)
        if mode == "&" and self._filter:
            # Empty, so that Enter on it clears the filter in force (named here), as the help says.
            box.placeholder = f"show only lines matching (now &{self._filter}; Enter on empty: every line)"
        else:
            box.placeholder = f"{PROMPTS[mode]} (regex; Enter: keep, Esc: cancel)"
        box.value = ""
        self.note = ""
        self._show_note()
        box.focus()

    def close_prompt(self) -> None:
        """Hide the prompt row and give focus back to the log."""
        self.end_prompt()
        self._log.focus()

    def end_prompt(self) -> None:
        """Hide the prompt row; a pattern typed but not entered stops highlighting (the search in force is the
        last one entered)."""
        self.remove_class("-prompting")
        if self._log.pattern is not self._pattern:
            self._log.pattern = self._pattern
            self._log.refresh()

    def _show_note(self) -> None:
        if self.is_mounted:
            self.query_one("#prompt-note", Static).update(Text(self.note))
            if self.note and not self.prompting:
                # A note after n/N ("pattern not found") shows in the title instead of opening the prompt.
                self._update_title()

    @on(Input.Changed, "#search")
    def _changed(self, event: Input.Changed) -> None:
        # Highlight as the pattern is typed (no jump until Enter); a half-typed invalid regex just waits.
        event.stop()
        if self._mode != "&" and event.value:
            try:
                pattern = search.compile_pattern(event.value)
            except re.error:
                return
            self._log.pattern = pattern
            self._log.refresh()

    @on(Input.Submitted, "#search")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        value = event.value
        if self._mode == "&":
            error = self.set_filter(value)
        elif value:
            error = self.set_search(value, backward=self._mode == "?")
        else:
            # An empty search repeats the last one (less).
            error = None
            self.next_match(reverse=self._mode == "?" and not self._backward)
        if error is not None:
            self.note = error
            self._show_note()
            return
        self.close_prompt()

    def toggle_follow(self) -> bool:
        """Turn following off when it is on, else on (jumping to the end). Returns the new state."""
        log = self._log
        if log.follow:
            log.follow = False
            log.cursor = log.current_index()
            log.refresh()
        else:
            log.action_last()
        self._update_title()
        return log.follow

    def toggle_wrap(self) -> bool:
        """Wrap long lines on/off. Returns the new state."""
        self._log.set_wrap(not self._log.wrap)
        self._update_title()
        return self._log.wrap

    def current_record(self) -> tuple[int, list[str]]:
        """The record under the cursor (or the last line in view): its first line's number in the log (0 when not
        known: the live row, the end-of-file preview) and its lines."""
        lines = self._log.lines
        index = self._log.current_index()
        if index is None:
            return 0, []
        if index >= len(lines):
            return 0, [self._log.live]  # the live row: the bar as it shows now
        start, end = search.record_extent(lines, index)
        return self._log.number_at(start), list(lines[start:end])

    # ------------------------------------------------------------------------------------------- title
    def _update_title(self) -> None:
        # (rank, text): the tab row drops whole fields, highest rank first, when the row is short.
        parts: list[tuple[int, str]] = []
        if self.preview:
            parts.append((2, self.preview))
        parts.append((3, "following") if self.following else (1, "paused (G/End follows)"))
        if self._log.wrap:
            parts.append((3, "wrap"))
        elif self._log.first_column > 0:
            parts.append((2, f"from column {self._log.first_column + 1} (← →)"))
        if self._search:
            where = f"{self.match_index}/" if self.match_index is not None else ""
            total = self.match_count + self._live_matches()
            parts.append((1, f"{'?' if self._backward else '/'}{self._search} {where}{total} matches"))
        if self._filter:
            parts.append((1, f"&{self._filter}"))
        if self._errors_only:
            parts.append((1, "errors/warnings only"))
        if self.note and not self.prompting:
            parts.append((1, self.note))
        title = " · ".join(["log", *(text for _rank, text in parts)])
        if title == self._title:
            return
        self._title = title
        # Log text (a search term like "[bold]") must stay literal: fields are Text, never markup.
        self.title_fields = tuple(field(text, rank) for rank, text in parts)
        if self.is_mounted:
            hook = getattr(self.app, "refresh_tabs", None)
            if hook is not None:
                hook()

    @property
    def title(self) -> str:
        """The pane's title as the tab row shows it when there is room: ``log · following · /x 1/9 matches``."""
        return self._title

    def refresh_title(self) -> None:
        """Recompute the title (follow state changes when the user scrolls)."""
        self._update_title()
