"""Sources: a follower (file, pipe, supervised run) with the stream parser behind it, yielding ``Batch`` objects.

This is the one place where bytes become events for the live views: the dashboard and the plain (headless) mode
both consume ``Source.batches()`` and fold each batch's events into their ``RunState`` with the reducer.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from hwmon.events import Event, RunClock, RunOutcome, SourceEnded
from hwmon.model.alerts import SILENCE_S
from hwmon.sources.follow import Chunk, FileFollower, Follower, PipeFollower
from hwmon.sources.pipeline import Reader

if TYPE_CHECKING:
    from hwmon.store.registry import RunRecord

DEFAULT_KEEP_LINES = 5000
# After this long without new bytes, the parser releases lines it holds back waiting for more (see batches()).
QUIET_FLUSH_S = 1.0
# How long after its last full chunk a source still counts as catching up (see FollowSource.catching_up).
CAUGHT_UP_SETTLE_S = 2.0
# Catching up a big file: at most this much is parsed per batch (see FollowSource.batches), and slices from
# THREAD_MIN_BYTES up are parsed in a worker thread so the event loop stays free for keys.
PARSE_SLICE = 256 * 1024
SWITCH_INTERVAL_S = 0.001
THREAD_MIN_BYTES = 64 * 1024
# While watching a file for quiet, how often at most the source looks at its modification time.
QUIET_CHECK_S = 0.2


@dataclass(frozen=True, slots=True)
class Batch:
    """What a source produced since its last batch (at most one batch per ~50 ms).

    ``lines`` are the final cleaned raw lines for the log pane, in order (at most the source's ``keep_lines`` per
    batch: when a flood outruns that, only the newest are kept). ``status`` is a follower message ("waiting for
    run.log to appear", "log truncated, reading from start", "log rotated, following new file", "stdin closed"),
    several joined with "; " when they happened in the same batch. ``eof``: the source has ended and will yield no
    more. ``at``: the clock reading when the batch was made. ``partial``: the line under way as it shows now (a
    progress bar's latest ``\r`` redraw before its line ends, ``StreamParser.partial``), None when none is; a
    batch is also yielded when only that changed, so the raw log's live row moves with the bar.
    """

    events: list[Event]
    lines: list[str]
    status: str | None
    eof: bool
    at: float
    partial: str | None = None
    # The 1-based log line number of ``lines[0]`` (0: unknown), for the raw log's "read by <rule>" (issue 17).
    first_line: int = 0


class Source(Protocol):
    """A live stream of batches. An idle source yields nothing; ``close()`` makes ``batches()`` end."""

    name: str

    def batches(self) -> AsyncIterator[Batch]:
        """The batches, until eof or ``close()``."""
        ...

    def close(self) -> None:
        """Stop the source and release its descriptors."""
        ...


class FollowSource:
    """A ``Follower`` whose bytes go through ``hwmon.parsers.stream.StreamParser``.

    ``run_dir`` is set for a supervised run (the directory holding its ``run.json``): the source then starts with
    a ``RunClock`` (when the run started, from the record) and ends with a ``RunOutcome`` (how it ended), so the
    run's wall time and status come from its supervisor, never from log text. Any other source ends with a
    ``SourceEnded``: when its pipe closes, or (``quiet_path``) when the file has not been written to for
    ``quiet_s`` seconds, the silence threshold.
    """

    def __init__(
        self,
        follower: Follower,
        *,
        name: str | None = None,
        keep_lines: int = DEFAULT_KEEP_LINES,
        run_dir: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
        quiet_path: Path | None = None,
        quiet_s: float = SILENCE_S,
    ) -> None:
        self.follower = follower
        # ``hwmon attach`` arguments that come back to this source, when its name is not them (an ssh port/options).
        self.come_back: str | None = None
        self.quiet_path = quiet_path if run_dir is None else None
        self.quiet_s = quiet_s
        self._clock = clock
        self.name = name or follower.name
        self.keep_lines = keep_lines
        self.run_dir = run_dir
        self._closed = False
        # Reading a backlog (see ``catching_up``): the clock reading when the last full chunk was parsed.
        self._backlog_at: float | None = None

    @property
    def history_key(self) -> str:
        """What names this source's run in the run history: the followed file's absolute path (what ``summary``
        of the same log uses), else the source's name."""
        path = getattr(self.follower, "path", None)
        return str(Path(path).resolve()) if isinstance(path, Path) else self.name

    @property
    def behind_bytes(self) -> int | None:
        """Bytes of the log written and not yet read (the follower's ``behind_bytes``; None when it cannot say)."""
        behind = getattr(self.follower, "behind_bytes", None)
        return behind() if callable(behind) else None

    @property
    def catching_up(self) -> bool:
        """Whether the source is still reading a backlog (the last chunk was a full one, or was less than
        ``CAUGHT_UP_SETTLE_S`` ago): time-based judgements such as stall alerts wait until it is caught up."""
        at = self._backlog_at
        return at is not None and self._clock() - at < CAUGHT_UP_SETTLE_S

    async def batches(self) -> AsyncIterator[Batch]:
        """Parse each chunk the follower yields; skip chunks that produced nothing visible. When the input has been
        quiet for ``QUIET_FLUSH_S`` after some data, the parser releases what it was holding back (a crashed run's
        final exception line) so it shows now rather than never."""
        # The one reader; blocks=True lets format parsers take their vectorised path on large regions (catching up
        # a big file). Its fault policy: a parser failure is one status line, then raw lines only.
        parser = Reader(self.name, keep_lines=self.keep_lines, blocks=True)
        # While a slice is parsed in a worker thread, the event loop needs the GIL back quickly to answer a key:
        # Python hands it over every "switch interval" (default 5 ms, several hand-overs per repaint). 1 ms
        # keeps a key's repaint well under 100 ms while catching up; the cost is only paid while threads compete.
        if sys.getswitchinterval() > SWITCH_INTERVAL_S:
            sys.setswitchinterval(SWITCH_INTERVAL_S)
        queue: asyncio.Queue[Chunk | None] = asyncio.Queue(maxsize=4)

        async def pump() -> None:
            try:
                async for chunk in self.follower.chunks():
                    await queue.put(chunk)
            finally:
                await queue.put(None)

        reader = asyncio.ensure_future(pump())
        shown_partial: str | None = None
        flush_pending = False
        quiet_told = False
        if self.run_dir is not None:
            started = _record_events(self.run_dir, "start")
            if started:
                yield Batch(started, [], None, False, self._clock())
        try:
            while True:
                timeout: float | None = QUIET_FLUSH_S if flush_pending else None
                quiet_left = None if quiet_told else self._quiet_left()
                if quiet_left is not None:
                    timeout = max(QUIET_CHECK_S, min(quiet_left, timeout if timeout is not None else quiet_left))
                try:
                    chunk = await asyncio.wait_for(queue.get(), timeout) if timeout is not None else await queue.get()
                except asyncio.TimeoutError:
                    events: list[Event] = []
                    quiet_lines: list[str] = []
                    if flush_pending:
                        flush_pending = False
                        events, quiet_lines = parser.flush()
                    status = None
                    if not quiet_told and (left := self._quiet_left()) is not None and left <= 0:
                        # Caught up, and the file has not been written to for longer than the silence threshold:
                        # whatever the run was doing, it is not doing it now.
                        quiet_told = True
                        quiet = self.quiet_s - left
                        reason = f"no new output for {quiet_span(quiet)}"
                        events.append(SourceEnded(0, None, reason, quiet))
                        # Only what the source knows: whether the run's end is known is the model's to say (a
                        # finished run stays finished; display_status says "unknown" otherwise).
                        status = reason
                    partial = parser.partial()
                    if events or quiet_lines or partial != shown_partial:
                        shown_partial = partial
                        first = parser.first_line if quiet_lines else 0
                        yield Batch(events, quiet_lines, status, False, self._clock(), partial, first)
                    continue
                if chunk is None:
                    return
                flush_pending = bool(chunk.data)
                if chunk.data:
                    quiet_told = False
                full = len(chunk.data) >= getattr(self.follower, "max_batch_bytes", 1 << 62)
                if full:
                    self._backlog_at = self._clock()
                # A big chunk (catching up a file) is parsed a slice at a time, each slice in a worker thread, and
                # yielded as its own batch: the event loop (the dashboard's keys) never waits for more than one
                # slice's worth of parsing, and the consumer's work per batch stays bounded (hardening II, item 11).
                data = chunk.data
                pieces = [data[i : i + PARSE_SLICE] for i in range(0, len(data), PARSE_SLICE)] or [b""]
                for index, piece in enumerate(pieces):
                    last = index == len(pieces) - 1
                    eof = chunk.eof and last
                    statuses = list(chunk.statuses) if index == 0 else []
                    events = []
                    lines: list[str] = []
                    if len(piece) >= THREAD_MIN_BYTES and parser.broken is None:
                        events, lines, failed = await asyncio.to_thread(parser.parse, piece, eof=eof)
                    else:
                        events, lines, failed = parser.parse(piece, eof=eof)
                    if failed is not None:
                        statuses.append(failed)
                    if eof:
                        events.extend(self._end_events(statuses))
                    if full:
                        self._backlog_at = self._clock()  # again after parsing: parsing a full chunk takes a while
                    status = "; ".join(statuses) if statuses else None
                    partial = parser.partial() if not eof else None
                    if events or lines or status is not None or eof or partial != shown_partial:
                        shown_partial = partial
                        first = parser.first_line if lines else 0
                        yield Batch(events, lines, status, eof, chunk.at, partial, first)
                    if self._closed:
                        return
                if chunk.eof or self._closed:
                    return
        finally:
            self.follower.close()
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader

    def _quiet_left(self) -> float | None:
        """Seconds until the followed file will have been quiet for ``quiet_s`` (negative: it has been), by its
        modification time; None when not watching for quiet or the file cannot be read."""
        if self.quiet_path is None:
            return None
        try:
            mtime = os.stat(self.quiet_path).st_mtime
        except OSError:
            return None
        return self.quiet_s - max(0.0, time.time() - mtime)

    def _end_events(self, statuses: list[str]) -> list[Event]:
        """How the source ends: a supervised run's recorded outcome, else the source's own end."""
        if self.run_dir is not None:
            return _record_events(self.run_dir, "end")
        reason = "; ".join(statuses) if statuses else f"{self.name} ended"
        return [SourceEnded(0, None, reason)]

    def close(self) -> None:
        """Stop following."""
        self._closed = True
        self.follower.close()


def quiet_span(seconds: float) -> str:
    """``3d``, ``5h``, ``12m``, ``40s``: how long a file has been quiet, roughly."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"


def outcome_events(record: RunRecord) -> list[Event]:
    """A supervised run's end as its supervisor recorded it (run.json): a ``RunOutcome``, or nothing while it runs."""
    status = record.status
    if status not in ("succeeded", "failed", "stopped", "lost"):
        return []
    seconds = None
    start, end = record.started_dt, record.ended_dt
    if start is not None and end is not None and (start.tzinfo is None) == (end.tzinfo is None):
        seconds = max(0.0, (end - start).total_seconds())
    kind: Literal["succeeded", "failed", "stopped", "lost"] = status  # type: ignore[assignment]
    return [RunOutcome(0, None, kind, record.exit_code, record.signal, seconds)]


def clock_events(record: RunRecord) -> list[Event]:
    """When a supervised run started, as its record says: a ``RunClock`` with the run's age right now."""
    start = record.started_dt
    if start is None:
        return []
    age = (datetime.now(start.tzinfo) - start).total_seconds()
    return [RunClock(0, None, max(0.0, age))]


def record_events(record: RunRecord) -> list[Event]:
    """What a supervised run's record says, for a read to the end of its log: its age while it runs (``RunClock``),
    how it ended once it has (``RunOutcome``)."""
    return outcome_events(record) if record.status != "running" else clock_events(record)


def _record_events(run_dir: Path, which: Literal["start", "end"]) -> list[Event]:
    from hwmon.store import registry

    record = registry.load(run_dir)
    if record is None:
        return []
    return clock_events(record) if which == "start" else outcome_events(record)


def stdin_source(fd: int | None = None, *, name: str = "stdin") -> FollowSource:
    """A source reading ``fd`` (default: standard input) until it is closed."""
    return FollowSource(PipeFollower(sys.stdin.fileno() if fd is None else fd, name=name), name=name)


def file_source(
    path: str | os.PathLike[str],
    *,
    from_end: bool = False,
    end_when: Callable[[], bool] | None = None,
    use_inotify: bool | None = None,
    name: str | None = None,
) -> FollowSource:
    """A source following ``path`` with ``tail -F`` semantics (see ``hwmon.sources.follow.FileFollower``)."""
    follower = FileFollower(path, from_end=from_end, end_when=end_when, use_inotify=use_inotify)
    return FollowSource(follower, name=name or follower.name, quiet_path=Path(path))


# A run whose supervisor died ("lost") is followed while its workload lives and, after that, until its log has
# been quiet this long (processes it started may still be writing).
LOST_QUIET_S = 3.0


def run_ended(run_dir: Path, log_path: Path | None = None) -> Callable[[], bool]:
    """A predicate: has the supervised run in ``run_dir`` ended? Yes once ``run.json`` records an end. A "lost"
    run (its supervisor died) has not ended while its workload still runs or its log still grows: the workload
    goes on writing steps without a supervisor, and they must be shown."""
    from hwmon.store import registry

    def ended() -> bool:
        record = registry.load(run_dir)
        if record is None or record.status == "running":
            return False
        if record.status != "lost":
            return True
        if registry.process_alive(record.pid, record.pid_start):
            return False
        try:
            quiet = time.time() - os.stat(log_path or record.log_path).st_mtime
        except OSError:
            return True
        return quiet >= LOST_QUIET_S

    return ended


def run_source(run_dir: Path, log_path: Path, run_id: str, *, from_end: bool = False) -> FollowSource:
    """A source for a supervised run: follows its log and ends once the run has ended and the log is drained."""
    follower = FileFollower(log_path, from_end=from_end, end_when=run_ended(run_dir, log_path))
    return FollowSource(follower, name=run_id, run_dir=run_dir)
