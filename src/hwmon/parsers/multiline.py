"""Multi-line error records, assembled once: Python tracebacks and ``terminate called``/``what():`` aborts. Pure.

The one implementation the format parsers share (the generic parser for any log, the Cerebras parser for its own):

- ``Traceback (most recent call last):``, its frames (indented lines, blank lines, ``[Previous line repeated ..]``),
  then the exception line (the first unindented one) -> ``ErrorSeen(fatal=True, kind="traceback")`` with that line
  as message. The lines after it (a multi-line exception message, blank lines) belong to the record until a line
  that starts a new log record (``records.starts_record``: a timestamp or a level word, a shell prompt), or
  ``HOLD_LINES`` lines.
- A chained traceback (``The above exception was the direct cause ...`` / ``During handling of the above exception
  ...``): with ``hold=True`` the exception is held back until it is known not to be a cause, so a chain reports
  only its last exception; with ``hold=False`` every exception is reported on its own line as it comes.
- ``terminate called after throwing an instance of 'X'`` + ``  what():  text`` -> one fatal ``ErrorSeen`` with the
  ``what()`` text (``kind=abort_kind``) on the ``what()`` line; without a ``what()`` next, the ``terminate`` line
  itself; ``terminate called without an active exception`` at once.

A line a parser read a step or an error from is a record of its own, not a line of the message before it (the
caller says so: ``record_begins``): a relaunch's first step after a crash comes after the crash.

``feed(record)`` returns whether the line belonged to such a record and the errors completed by it; ``finish()``
releases what is held (a stream that went quiet calls it too, so a crash shows now rather than never).
"""

from __future__ import annotations

import re
from typing import Literal

from hwmon.events import ErrorSeen
from hwmon.parsers.base import Line
from hwmon.parsers.records import starts_record

__all__ = ["HOLD_LINES", "MultilineErrors"]

HOLD_LINES = 64
"""Lines after an exception line during which its message may run on or a chained traceback may still follow."""

MAX_MESSAGE = 2000
TRACEBACK = "Traceback (most recent call last)"
_CHAIN = (
    "The above exception was the direct cause of the following exception",
    "During handling of the above exception, another exception occurred",
)
_TERMINATE = re.compile(r"terminate called (?:after throwing an instance of '([^']*)'|(without an active exception))")
_WHAT = re.compile(r"^\s*what\(\):\s*(.*)$")
# A traceback's first frame, indented as Python prints it.
_HEADLESS = re.compile(r'^  File "[^"\n]{1,400}", line \d{1,7}, in \S')
_SOFT_LEVELS = frozenset(("WARNING", "INFO", "DEBUG"))
_NOT_THE_PROCESS = ("Exception in thread ", "Exception ignored in")
_SOFT_PREFIX = re.compile(r"\b(?:WARNING|WARN|INFO|DEBUG)\b")


class MultilineErrors:
    """Tracebacks and aborts of one stream (see the module doc)."""

    __slots__ = (
        "_abort_kind",
        "_held",
        "_held_for",
        "_hold",
        "_prefix",
        "_soft",
        "_soft_until",
        "_state",
        "_terminate",
    )

    def __init__(self, *, hold: bool = True, abort_kind: str = "terminate") -> None:
        self._hold = hold
        self._abort_kind = abort_kind
        self._state: Literal["", "frames", "after", "chain"] = ""
        self._held: ErrorSeen | None = None
        self._held_for = 0
        self._terminate: ErrorSeen | None = None
        self._prefix = ""  # a logger's prefix the traceback's header line had (its frames repeat it)
        self._soft = False  # the traceback was logged at a level below ERROR: a handled exception, not fatal
        self._soft_until = 0  # Python said the next traceback is a thread's or a finalizer's (until this line)

    @property
    def busy(self) -> bool:
        """A record is being read (its lines are not ordinary lines)."""
        return bool(self._state) or self._terminate is not None

    def feed(self, line: Line) -> tuple[bool, list[ErrorSeen]]:
        """(whether ``line`` belongs to a multi-line error record, the errors completed by it)."""
        text = line.text
        out: list[ErrorSeen] = []
        if self._terminate is not None:
            pending, self._terminate = self._terminate, None
            what = _WHAT.match(text)
            if what is not None:
                message = what.group(1).strip() or pending.message
                out.append(ErrorSeen(line.number, pending.ts, message[:MAX_MESSAGE], True, self._abort_kind))
                return True, out
            out.append(pending)
        if text.startswith(_NOT_THE_PROCESS):
            # "Exception in thread Thread-3:", "Exception ignored in: <function ...>": Python prints the traceback
            # that follows (within a few lines: other output may come between) and the program goes on.
            self._soft_until = line.number + 3
        if self._state and self._in_traceback(line, out):
            return True, out
        if TRACEBACK in text:
            self._release(out)
            self._begin(line, text)
            return True, out
        if _HEADLESS.match(text) is not None:
            # Frames whose header was lost (an output capture that kept only the tail): the traceback all the same.
            self._release(out)
            self._prefix, self._soft, self._state = "", False, "frames"
            return True, out
        if "terminate called" in text:
            m = _TERMINATE.search(text)
            if m is not None:
                error = ErrorSeen(
                    line.number, getattr(line, "ts", None), text.strip()[:MAX_MESSAGE], True, self._abort_kind
                )
                if m.group(2):
                    out.append(error)
                else:
                    self._terminate = error
                return True, out
        return False, out

    def record_begins(self) -> list[ErrorSeen]:
        """The next line is a record of its own (a parser read a step or an error from it), so it is not part of an
        exception's multi-line message: the exception read so far is released (nothing changes in a traceback's
        frames or a chain, where such a line cannot come)."""
        out: list[ErrorSeen] = []
        if self._state == "after":
            self._release(out)
        return out

    def finish(self) -> list[ErrorSeen]:
        """Release whatever is held (end of input, or the input went quiet)."""
        out: list[ErrorSeen] = []
        if self._terminate is not None:
            out.append(self._terminate)
            self._terminate = None
        self._release(out)
        return out

    def _begin(self, line: Line, text: str) -> None:
        """A traceback's header line. Behind a logger's prefix (``[time] name: [WARNING] Traceback ...``) its
        frames repeat the prefix; logged at a level below ERROR it is an exception the program handled."""
        prefix = text[: text.find(TRACEBACK)]
        self._prefix = prefix if prefix.strip() else ""
        level = getattr(line, "level", None)
        self._soft = line.number <= self._soft_until or (
            bool(self._prefix)
            and (level in _SOFT_LEVELS or (level is None and _SOFT_PREFIX.search(self._prefix) is not None))
        )
        self._state = "frames"

    def _in_traceback(self, line: Line, out: list[ErrorSeen]) -> bool:
        text = line.text
        if self._prefix:
            if text.startswith(self._prefix):
                text = text[len(self._prefix) :]
            else:
                self._prefix = ""  # the frames do not repeat it: read them as they are
        if self._state == "frames":
            if not text.strip() or text[0] in " \t" or text.startswith("> File "):
                # A frame, source line, caret marker or "[Previous line repeated N more times]"; loguru marks the
                # frame that caught the exception with ">".
                return True
            if text.startswith(_CHAIN):
                return True
            # The first unindented line after the frames is the exception ("pkg.FooError: message").
            error = ErrorSeen(
                line.number, getattr(line, "ts", None), text.strip()[:MAX_MESSAGE], not self._soft, "traceback"
            )
            if self._hold:
                self._held = error
            else:
                out.append(error)
            self._held_for = 0
            self._state = "after"
            return True
        stripped = text.strip()
        if stripped.startswith(_CHAIN):
            # Chained: the exception read so far was a cause, not the last one.
            if self._hold:
                self._held = None
            self._state = "chain"
            return True
        if TRACEBACK in text:
            if self._state == "chain":
                self._held = None
            else:
                self._release(out)
            self._begin(line, line.text)
            return True
        if self._state == "chain":
            if not stripped:
                return True
            self._state = ""
            return False
        # After the exception line: blank lines and continuation lines of a multi-line message belong to it.
        self._held_for += 1
        if self._held_for > HOLD_LINES or (stripped and text is line.text and starts_record(line)):
            self._release(out)
            return False
        return True

    def _release(self, out: list[ErrorSeen]) -> None:
        if self._held is not None:
            out.append(self._held)
            self._held = None
        self._state = ""
