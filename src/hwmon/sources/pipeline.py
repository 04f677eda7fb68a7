"""The one reader: bytes -> the stream parser -> events (-> the reducer), with one fault policy, for every view.

``Reader`` is the only place the stream parser is assembled: the live sources (``FollowSource``: dashboard, plain
mode), the fleet's trackers, and the whole-input reads (``hwmon.sources.read``: ``summary``, ``export``,
``compare``, ``ls``, history) all parse through it. Its fault policy: a parser exception is said once
(``Reader.broken``, a status line) and from then on the source gives raw lines only, never a traceback and never a
lost line (the test suite's strict parsers raise instead).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from hwmon.events import Event
from hwmon.model.reducer import apply
from hwmon.model.state import RunState

if TYPE_CHECKING:
    from hwmon.parsers.stream import StreamParser


class Reader:
    """Bytes in, events and finished raw lines out (``parse``), or straight into ``state`` (``feed``).

    ``keep_lines``: how many finished lines the parser keeps for ``parse`` to hand out (0: none, a headless read).
    ``blocks``: the format parsers may take their vectorised path on large regions (catching up a big file).
    """

    def __init__(self, name: str, *, keep_lines: int = 0, blocks: bool = True) -> None:
        # Imported here so that the follower layer stays importable (and testable) without the parsers.
        from hwmon.parsers.stream import StreamParser

        self.name = name
        self.keep_lines = keep_lines
        self.parser: StreamParser = StreamParser(blocks=blocks, keep_lines=keep_lines)
        self.state = RunState(source=name)
        # Why the parser is out of action (None while it works): said once, then raw lines only.
        self.broken: str | None = None
        # The 1-based log line number of the first of the lines the last ``parse``/``flush`` handed out (0: unknown,
        # e.g. raw lines after a parser failure), for a raw log view's "which rule read this line".
        self.first_line = 0

    def parse(self, data: bytes, *, eof: bool = False) -> tuple[list[Event], list[str], str | None]:
        """Parse ``data`` (and the end of the input, with ``eof``): its events, the lines it finished, and a status
        the first time the parser fails."""
        if self.broken is not None:
            self.first_line = 0
            return [], _fallback_lines(data, self.keep_lines), None
        try:
            events = self.parser.feed(data) if data else []
            if eof:
                events.extend(self.parser.finish())
            self.first_line, lines = self.parser.pop_numbered_lines()
            return events, lines, None
        except Exception as exc:  # a parser bug must not take the monitor down: say so, go on with raw lines
            if self.parser.strict:
                raise  # the test suite's strict parsers: a parser bug fails the test
            self.broken = f"parser failed ({type(exc).__name__}: {exc}); no more events from this source"
            return [], _fallback_lines(data, self.keep_lines), self.broken

    def flush(self) -> tuple[list[Event], list[str]]:
        """Release what the parser holds back waiting for more (the input went quiet)."""
        if self.broken is not None:
            return [], []
        try:
            events = self.parser.flush()
            self.first_line, lines = self.parser.pop_numbered_lines()
            return events, lines
        except Exception:  # same policy as ``parse``, without a second message
            if self.parser.strict:
                raise
            return [], []

    def partial(self) -> str | None:
        """The line under way as it shows now (a progress bar's latest ``\\r`` redraw before its line ends,
        ``StreamParser.partial``); None when none is, or once the parser is out of action."""
        if self.broken is not None:
            return None
        try:
            return self.parser.partial()
        except Exception:  # same policy as ``parse``: the live row is a courtesy, never a crash
            if self.parser.strict:
                raise
            return None

    def feed(self, data: bytes, now: float | None = None, *, eof: bool = False) -> bool:
        """Parse ``data`` into ``self.state`` (arriving at ``now``); True when any event came of it."""
        events, _lines, _status = self.parse(data, eof=eof)
        self.apply(events, now)
        return bool(events)

    def apply(self, events: Iterable[Event], now: float | None = None) -> None:
        """Fold ``events`` into ``self.state`` (the one reducer)."""
        state = self.state
        for event in events:
            apply(state, event, now)


def _fallback_lines(data: bytes, keep: int) -> list[str]:
    """Raw lines when the parser is out of action: decoded, control characters dropped (log text is data)."""
    if keep <= 0:
        return []
    text = data.decode("utf-8", "replace")
    lines = ["".join(ch for ch in line if ch == "\t" or ch.isprintable()) for line in text.splitlines()]
    return lines[-keep:]
