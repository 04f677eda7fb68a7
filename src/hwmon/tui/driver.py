"""A terminal driver whose input thread sleeps while nothing happens.

Textual's ``LinuxDriver`` reads keys in a thread that wakes every 0.1 s (``select(0.1)``) only to see whether the
app is exiting: ten wake-ups a second, ~0.15-0.3 % of a core on an idle dashboard — most of hwmon's idle cost on a
shared login node. ``QuietLinuxDriver`` waits for one of three things instead: input on the terminal, the key
parser's own deadline (a lone Esc is told apart from an escape sequence by a short timeout, so while the parser
holds a partial sequence the wait is that deadline), or the exit request, which now writes a byte to a pipe the
thread also watches. Everything else (reading, decoding, the key parser, the final drain) is Textual's.
"""

from __future__ import annotations

import os
import selectors
import threading
from codecs import getincrementaldecoder
from typing import Any

from textual._loop import loop_last
from textual._parser import ParseError
from textual._time import get_time
from textual._xterm_parser import XTermParser
from textual.drivers.linux_driver import LinuxDriver

# Used when the parser does not say when it next needs a tick (another Textual version): Textual's own interval.
FALLBACK_WAIT_S = 0.1


class _WakingEvent(threading.Event):
    """A ``threading.Event`` whose ``set()`` also wakes the input thread's ``select`` through a pipe."""

    def __init__(self, wake_fd: int) -> None:
        super().__init__()
        self._wake_fd = wake_fd

    def set(self) -> None:
        super().set()
        try:
            os.write(self._wake_fd, b"x")
        except (BlockingIOError, OSError):
            pass  # the pipe is full (a wake-up is already pending) or closed (the driver is gone)


def parser_wait(parser: object, now: float) -> float | None:
    """Seconds the input thread may sleep before the parser needs ``tick()``: None while it holds nothing."""
    if not hasattr(parser, "_timeout_time"):
        return FALLBACK_WAIT_S
    deadline = parser._timeout_time
    if deadline is None:
        return None
    return max(0.0, float(deadline) - now)


class QuietLinuxDriver(LinuxDriver):
    """``LinuxDriver`` with an input thread that blocks until input, a parser deadline or exit (see the module)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self.exit_event = _WakingEvent(self._wake_w)

    def close(self) -> None:
        super().close()
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass

    def _drain_wake(self) -> None:
        try:
            while os.read(self._wake_r, 512):
                pass
        except (BlockingIOError, OSError):
            pass

    def run_input_thread(self) -> None:
        """Textual's input loop, waiting on the terminal and the wake pipe with the parser's own deadline."""
        selector = selectors.SelectSelector()
        selector.register(self.fileno, selectors.EVENT_READ)
        selector.register(self._wake_r, selectors.EVENT_READ)
        fileno = self.fileno
        parser = XTermParser(self._debug)
        feed = parser.feed
        tick = parser.tick
        decode = getincrementaldecoder("utf-8")().decode

        def process(events: list[tuple[selectors.SelectorKey, int]], final: bool = False) -> None:
            terminal = [(key, mask) for key, mask in events if key.fd == fileno]
            if len(terminal) != len(events):
                self._drain_wake()
            for last, (_key, mask) in loop_last(terminal):
                if mask & selectors.EVENT_READ:
                    data = decode(os.read(fileno, 1024 * 4), final=final and last)
                    if not data:
                        break  # stdin is a pipe that closed
                    for event in feed(data):
                        self.process_message(event)
            for event in tick():
                self.process_message(event)

        try:
            while not self.exit_event.is_set():
                process(selector.select(parser_wait(parser, get_time())))
            # Textual selects once more here, on no descriptor at all: a 0.1 s sleep before every exit.
            process([], final=True)
        finally:
            selector.close()
            try:
                for _event in feed(""):
                    pass
            except (EOFError, ParseError):
                pass
