"""Run a Textual app so that the terminal is given back whatever ends it: ``q``, Ctrl-C, SIGTERM (``timeout``,
``kill``), SIGHUP (the terminal window closed) or an exception.

Without this, SIGTERM and SIGHUP killed the process by their default action while the app held the terminal: the
shell was left on the alternate screen with mouse reporting on and the cursor hidden. ``run_app`` turns both into
a normal exit of the app (Textual's own cleanup restores the terminal), then ends the process as the signal asked
(exit status 128 + signal). A second signal while the app is still tearing down, or an exception escaping the app,
writes the reset sequences itself and restores the terminal's saved mode.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from types import FrameType
from typing import Any, TypeVar

from textual.app import App

from hwmon import shutdown

T = TypeVar("T")

_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
# Leave the alternate screen, show the cursor, and switch off every mouse mode, focus events and bracketed paste.
RESET = "\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1006l\x1b[?1015l\x1b[?1004l\x1b[?2004l\x1b[?1049l\x1b[?25h"


def _saved_mode() -> tuple[int, list[Any]] | None:
    try:
        import termios

        fd = sys.__stdin__.fileno() if sys.__stdin__ is not None else 0
        return fd, termios.tcgetattr(fd)
    except (ImportError, OSError, ValueError, AttributeError):
        return None


def restore(mode: tuple[int, list[Any]] | None) -> None:
    """Put the terminal back as it was before the app: the reset sequences, then the saved tty mode."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        stream = sys.__stdout__
        if stream is not None and stream.isatty():
            os.write(stream.fileno(), RESET.encode())
    if mode is not None:
        with contextlib.suppress(ImportError, OSError, ValueError):
            import termios

            termios.tcsetattr(mode[0], termios.TCSADRAIN, mode[1])


def use_quiet_driver(app: App[Any]) -> None:
    """Give the app ``QuietLinuxDriver`` where Textual would use its ``LinuxDriver`` (not on Windows, not when
    ``TEXTUAL_DRIVER`` names another driver): the same driver with an input thread that sleeps while idle."""
    if os.name != "posix":
        return
    from textual.drivers.linux_driver import LinuxDriver

    from hwmon.tui.driver import QuietLinuxDriver

    if app.driver_class is LinuxDriver:
        app.driver_class = QuietLinuxDriver


def run_app(app: App[T]) -> T | None:
    """``app.run()``, with SIGTERM and SIGHUP making the app exit cleanly (then ``SystemExit(128 + signal)``) and
    the terminal restored after any exception."""
    mode = _saved_mode()
    received: list[int] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if received:
            # A second signal: the app did not finish its exit; give the terminal back and go now.
            restore(mode)
            os._exit(128 + signum)
        received.append(signum)
        loop = asyncio.events._get_running_loop()
        if loop is not None:
            loop.call_soon_threadsafe(app.exit)
        else:
            raise SystemExit(128 + signum)

    use_quiet_driver(app)
    shutdown.mark_app_ran()
    previous = {}
    for signum in _SIGNALS:
        with contextlib.suppress(ValueError, OSError):  # not the main thread: leave the signals alone
            previous[signum] = signal.signal(signum, on_signal)
    try:
        result = app.run()
    except BaseException:
        restore(mode)
        raise
    finally:
        for signum, handler in previous.items():
            with contextlib.suppress(ValueError, OSError):
                signal.signal(signum, handler)
    if received:
        raise SystemExit(128 + received[0])
    return result
