"""Leaving the process quickly after a dashboard.

After ``q`` the dashboard is gone within ~0.1 s, but the interpreter then spent 0.2-0.3 s (more on a loaded login
node, and more after a big log) tearing down every object Textual and the parsed run left behind, before the shell
prompt came back. Nothing observable happens in that teardown once the atexit handlers have run and the standard
streams are flushed, so a process that ran a Textual app leaves through ``os._exit`` after doing exactly those two
things. Only the console script does this (``hwmon.cli.entry``); ``main()`` called in-process returns as before, and
a process with another thread still alive exits the normal way (the interpreter would wait for that thread).
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from typing import NoReturn

_state = {"app_ran": False}


def mark_app_ran() -> None:
    """A full-screen app ran in this process (``hwmon.tui.terminal.run_app`` calls this)."""
    _state["app_ran"] = True


def app_ran() -> bool:
    return _state["app_ran"]


def leave(code: int) -> NoReturn:
    """End the process with ``code``: at once after a dashboard (atexit handlers run, streams flushed, no teardown),
    else by ``SystemExit``."""
    if not app_ran() or threading.active_count() > 1:
        raise SystemExit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)
