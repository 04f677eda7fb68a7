"""Replay a finished log into a file with its original timing compressed (``hwmon demo``).

``plan_replay`` (pure) works out when each piece of the log was written: from the log's own timestamps where lines
carry them (Cerebras/appliance logs), else from tqdm bars' elapsed times (a bar redrawn at ``[00:07<...]`` was drawn
7 s after it started), else a small fixed gap per line. ``ReplayWriter`` (a thread, so it works beside both the
asyncio plain mode and the Textual app) appends the pieces to a file on that schedule, ``speed`` times faster.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

# `2024-03-30 12:53:41,263 INFO: ...`, `2023-04-27T03:39:53.291853Z PL:POPLIN ...`
_TIMESTAMP = re.compile(rb"^\s*(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:[.,](\d{1,6}))?")
# A tqdm meter: `...  45%|####      | 34/75 [00:04<00:05, 7.80it/s]` (elapsed may be H:MM:SS).
_TQDM = re.compile(rb"(\d{1,3})%\|[^|]*\|\s*(\d+)/(\d+)\s*\[(?:(\d+):)?(\d{1,2}):(\d{2})[<\]]")
_DIGITS = re.compile(rb"[\d.]+")
# Log seconds between plain lines of a log without timestamps, and between pieces of a timestamped log that carry
# none (a traceback, a module tree): enough to see them arrive, not enough to drag.
UNTIMED_GAP_S = 0.05
DEFAULT_SPEED = 20.0
# However long the log paused, the replay never waits longer than this between two pieces (real seconds).
MAX_REAL_GAP_S = 4.0


@dataclass(frozen=True, slots=True)
class ReplayPiece:
    """A piece of the log (one line or one ``\\r`` redraw, terminator included) and when it was written, in log
    seconds since the first piece."""

    at: float
    data: bytes


def _split_pieces(data: bytes) -> list[bytes]:
    """Split after every ``\\n`` and before every ``\\r`` that starts a redraw, keeping all bytes."""
    pieces: list[bytes] = []
    start = 0
    for match in re.finditer(rb"\n|\r(?!\n)", data):
        end = match.end() if match.group() == b"\n" else match.start()
        if end > start:
            pieces.append(data[start:end])
            start = end
    if start < len(data):
        pieces.append(data[start:])
    return pieces


def _timestamp(piece: bytes) -> datetime | None:
    match = _TIMESTAMP.match(piece.lstrip(b"\r"))
    if match is None:
        return None
    try:
        base = datetime.strptime((match.group(1) + b" " + match.group(2)).decode("ascii"), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None
    fraction = match.group(3)
    if fraction:
        base = base.replace(microsecond=int(fraction.decode("ascii").ljust(6, "0")[:6]))
    return base


def plan_replay(data: bytes) -> list[ReplayPiece]:
    """When each piece of ``data`` was written, in log seconds from the start (pure; never raises)."""
    pieces = _split_pieces(data)
    plan: list[ReplayPiece] = []
    first_ts: datetime | None = None
    clock = 0.0
    # tqdm bars by a key stable across redraws (the text before the meter without its numbers): the log time at
    # which each bar started, and the count it showed last (a count going down means the bar was started anew).
    bar_start: dict[bytes, float] = {}
    bar_count: dict[bytes, int] = {}
    for piece in pieces:
        at: float | None = None
        ts = _timestamp(piece)
        if ts is not None:
            if first_ts is None:
                first_ts = ts - timedelta(seconds=clock)
            at = (ts - first_ts).total_seconds()
        else:
            meter = _TQDM.search(piece)
            if meter is not None:
                key = _DIGITS.sub(b"", piece[: meter.start()].strip(b"\r\n "))
                count = int(meter.group(2))
                elapsed = int(meter.group(4) or 0) * 3600 + int(meter.group(5)) * 60 + int(meter.group(6))
                if key not in bar_start or count < bar_count.get(key, 0):
                    bar_start[key] = clock - elapsed
                bar_count[key] = count
                at = bar_start[key] + elapsed
        if at is None:
            at = clock + (UNTIMED_GAP_S if first_ts is None and piece.strip() else 0.0)
        # Timestamps going backwards (clock changes, interleaved processes) never move the replay back.
        clock = max(clock, at)
        plan.append(ReplayPiece(clock, piece))
    return plan


def schedule(plan: list[ReplayPiece], *, speed: float = DEFAULT_SPEED, max_gap: float = MAX_REAL_GAP_S) -> list[float]:
    """Real seconds from the replay's start at which each piece of ``plan`` is written: log time divided by
    ``speed``, with every gap capped at ``max_gap``."""
    speed = speed if speed > 0 else DEFAULT_SPEED
    times: list[float] = []
    real = 0.0
    previous = plan[0].at if plan else 0.0
    for piece in plan:
        real += min(max_gap, max(0.0, piece.at - previous) / speed)
        previous = piece.at
        times.append(real)
    return times


class ReplayWriter(threading.Thread):
    """Appends a planned log to ``path`` on schedule. ``done`` is set when everything is written (or on stop)."""

    def __init__(
        self,
        path: Path,
        plan: list[ReplayPiece],
        *,
        speed: float = DEFAULT_SPEED,
        max_gap: float = MAX_REAL_GAP_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(name="hwmon-replay", daemon=True)
        self.path = path
        self.plan = plan
        self.times = schedule(plan, speed=speed, max_gap=max_gap)
        self.done = threading.Event()
        self._stop_requested = threading.Event()
        self._clock = clock
        self.error: OSError | None = None

    def run(self) -> None:
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            self.error = exc
            self.done.set()
            return
        try:
            start = self._clock()
            index = 0
            while index < len(self.plan) and not self._stop_requested.is_set():
                wait = start + self.times[index] - self._clock()
                if wait > 0 and self._stop_requested.wait(wait):
                    break
                # Everything due now goes out in one write, as a real process's buffered output would.
                now = self._clock() - start
                end = index + 1
                while end < len(self.plan) and self.times[end] <= now:
                    end += 1
                os.write(fd, b"".join(piece.data for piece in self.plan[index:end]))
                index = end
        except OSError as exc:
            self.error = exc
        finally:
            os.close(fd)
            self.done.set()

    def stop(self) -> None:
        """Stop writing soon (the thread exits within one wait)."""
        self._stop_requested.set()
