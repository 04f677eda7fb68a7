"""Followers: turn a growing log file (``tail -F`` semantics) or a pipe into time-batched chunks of bytes.

A follower knows nothing about log formats; ``hwmon.sources.source`` puts a parser behind it. What it guarantees:

* **Batched by time.** The first data after a quiet spell is delivered at once (low latency); after that at most one
  chunk per ``interval`` (default 50 ms) however fast the file grows, each holding everything read meanwhile (up to
  ``max_batch_bytes``, so a huge file is caught up in bounded pieces).
* **``tail -F``.** A file that does not exist yet is waited for; truncation (``copytruncate``) restarts from 0;
  rotation (rename or delete + a new file at the path, detected by device/inode) first finishes the old descriptor,
  then follows the new file from its start; a path that becomes a directory, a non-regular file or unreadable gets a
  status message and is retried. Every such change is reported once as a status string, never raised.
* **Idle costs nearly nothing.** inotify (via ``hwmon.sources.inotify``) wakes the follower when the file or its
  directory changes, with a 1 s stat as the backstop (inotify misses writes made on other hosts of a network file
  system); without inotify it polls, backing off from ``poll_min`` to ``poll_max`` while nothing changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from hwmon.sources import inotify

DEFAULT_INTERVAL = 0.05
CHUNK_SIZE = 1 << 20
MAX_BATCH_BYTES = 4 << 20
# Polling (no inotify, or a file on NFS/Lustre written from another host): every POLL_MIN while the file is
# active (data within ACTIVE_WINDOW seconds), so a line shows within ~POLL_MIN; backing off to POLL_MAX when quiet
# (a stat() a couple of times a second costs nothing measurable).
POLL_MIN = 0.03
POLL_MAX = 0.5
ACTIVE_WINDOW = 10.0
# With inotify, a periodic look anyway: inotify does not see writes made on another host of a network filesystem.
INOTIFY_BACKSTOP = 0.5

# How much of the content before our position is remembered to recognise the same content in another file (a
# ``copytruncate`` copy, an atomic rewrite) or to notice that the bytes before our position changed (a truncation
# followed by regrowth past our position before we looked).
SAMPLE = 4096
CHECK = 64
# A copytruncate copy (``run.log.1``, ``run.log-20240101``) is looked for only among siblings changed this recently.
COPY_MAX_AGE_S = 120.0

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class Chunk:
    """What a follower read since its last chunk: ``data`` (possibly empty), the status changes seen meanwhile (in
    order), whether the source has ended for good (``eof``) and the clock reading when the chunk was made (``at``).
    """

    data: bytes
    statuses: tuple[str, ...]
    eof: bool
    at: float


class Follower(Protocol):
    """Something that yields ``Chunk`` objects: a file or a pipe."""

    name: str

    def chunks(self) -> AsyncIterator[Chunk]:
        """The chunks, time-batched; ends after a chunk with ``eof=True`` (or when closed)."""
        ...

    def close(self) -> None:
        """Stop following and release descriptors; a pending ``chunks()`` ends."""
        ...


class FileFollower:
    """Follow ``path`` like ``tail -F`` (see the module docstring).

    ``end_when`` (optional) is asked whenever the follower is caught up and the file is quiet: once it returns True
    the file is drained one last time and the follower ends with ``eof=True`` (a supervised run whose ``run.json``
    says it ended, or a demo whose writer has finished). Without it a file follower never ends by itself.
    ``use_inotify=False`` forces polling (tests, benchmarks, file systems where inotify is known not to work).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        from_end: bool = False,
        interval: float = DEFAULT_INTERVAL,
        chunk_size: int = CHUNK_SIZE,
        max_batch_bytes: int = MAX_BATCH_BYTES,
        use_inotify: bool | None = None,
        poll_min: float = POLL_MIN,
        poll_max: float = POLL_MAX,
        end_when: Callable[[], bool] | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        self.path = Path(path)
        self.name = self.path.name or str(self.path)
        self.from_end = from_end
        self.interval = interval
        self.chunk_size = max(1, chunk_size)
        self.max_batch_bytes = max(1, max_batch_bytes)
        self.poll_min = poll_min
        self.poll_max = max(poll_min, poll_max)
        self.end_when = end_when
        self._clock = clock
        self._want_inotify = inotify.available() if use_inotify is None else (use_inotify and inotify.available())
        self._fd: int | None = None
        self._ident: tuple[int, int] | None = None
        self._pos = 0
        self._first_open = True
        self._condition = "start"  # the persistent condition last reported ("ok", "missing", "directory", ...)
        self._ends_with_newline = True
        # The first and the last SAMPLE bytes read from the current file (before ``_pos``): a rewritten or
        # copy-truncated file is recognised by them (see ``_same_content`` and ``_recover_copy``).
        self._head = b""
        self._tail = b""
        # A file whose size reads 0 although it has content (/proc, /sys): it cannot be checked for truncation.
        self._unsized = False
        self._closed = False
        self._wake: asyncio.Event | None = None
        self._notify: inotify.Inotify | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._dir_wd: int | None = None
        self._file_wd: int | None = None

    def behind_bytes(self) -> int | None:
        """How far reading lags the file: bytes written and not read yet (None when unknown: no file open, or a
        file that reports no size). Grows when parsing cannot keep up with the writer (the reader waits on the
        parser), so a view can say "behind" instead of showing a stale step as live."""
        if self._fd is None or self._unsized:
            return None
        try:
            size = os.fstat(self._fd).st_size
        except OSError:
            return None
        return max(0, size - self._pos)

    @property
    def closed(self) -> bool:
        """Whether ``close()`` was called."""
        return self._closed

    @property
    def using_inotify(self) -> bool:
        """Whether the running follower is woken by inotify (False: polling)."""
        return self._notify is not None

    # ----------------------------------------------------------------- reading (synchronous, never blocks long)

    def _report(self, statuses: list[str], condition: str, message: str) -> None:
        """Report a persistent condition once (not on every retry)."""
        if condition != self._condition:
            self._condition = condition
            statuses.append(message)

    def _separate(self, out: list[bytes]) -> None:
        """Before bytes of a new file (or a truncated one), end a partial last line of the old content so the two
        never fuse into one line."""
        if not self._ends_with_newline:
            out.append(b"\n")
            self._ends_with_newline = True

    def _try_open(self, statuses: list[str], out: list[bytes]) -> bool:
        name = self.name
        try:
            # O_NONBLOCK: opening a FIFO placed at the path must not hang the event loop.
            fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError:
            if self._ident is None and self._condition in ("start", "missing"):
                self._report(statuses, "missing", f"waiting for {name} to appear")
            else:
                self._report(statuses, "missing", f"{name} is gone; waiting for it to reappear")
            return False
        except NotADirectoryError:
            self._report(statuses, "missing", f"waiting for {name} to appear (a parent is not a directory)")
            return False
        except PermissionError:
            self._report(statuses, "denied", f"cannot read {name}: permission denied; retrying")
            return False
        except OSError as exc:
            self._report(statuses, f"error:{exc.errno}", f"cannot open {name}: {exc.strerror or exc}; retrying")
            return False
        try:
            st = os.fstat(fd)
        except OSError as exc:
            os.close(fd)
            self._report(statuses, f"error:{exc.errno}", f"cannot open {name}: {exc.strerror or exc}; retrying")
            return False
        if stat.S_ISDIR(st.st_mode):
            os.close(fd)
            self._report(statuses, "directory", f"{name} is a directory; waiting for a log file there")
            return False
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            self._report(statuses, "special", f"{name} is not a regular file; waiting for a log file there")
            return False
        replaced = self._ident is not None
        self._fd = fd
        self._ident = (st.st_dev, st.st_ino)
        if replaced and self._same_content(fd, st.st_size):
            # An atomic rewrite (write a temp file, rename it over the log) that kept what we had read: resume
            # where we were instead of reading it all again (duplicated steps).
            statuses.append("log replaced by a rewrite of the same content; resuming where it was")
            self._condition = "ok"
            self._arm_file_watch()
            return True
        self._pos = st.st_size if (self._first_open and self.from_end) else 0
        self._head = b""
        self._tail = b""
        self._unsized = False
        if self._pos > 0:
            # Starting at the end: remember what lies before it, as if it had been read.
            with contextlib.suppress(OSError):
                self._head = os.pread(fd, min(SAMPLE, self._pos), 0)
                self._tail = os.pread(fd, min(SAMPLE, self._pos), self._pos - min(SAMPLE, self._pos))
        self._first_open = False
        self._separate(out)
        if replaced:
            statuses.append("log rotated, following new file")
            self._condition = "ok"
        else:
            self._report(statuses, "ok", f"following {name}")
        self._arm_file_watch()
        return True

    def _same_content(self, fd: int, size: int) -> bool:
        """Whether the file open at ``fd`` holds what we read from the old one at the same offsets: its start and
        the bytes just before our position (so a rewrite that kept the content is not read twice)."""
        pos = self._pos
        if pos <= 0 or size < pos or not self._head or not self._tail:
            return False
        try:
            return (
                os.pread(fd, len(self._head), 0) == self._head
                and os.pread(fd, len(self._tail), pos - len(self._tail)) == self._tail
            )
        except OSError:
            return False

    def _remember(self, data: bytes) -> None:
        if len(self._head) < SAMPLE and self._pos - len(data) < SAMPLE:
            start = self._pos - len(data)
            if start == len(self._head):
                self._head += data[: SAMPLE - start]
        self._tail = data[-SAMPLE:] if len(data) >= SAMPLE else (self._tail + data)[-SAMPLE:]

    def _truncated(self, fd: int, size: int) -> bool:
        """Whether the content before our position is gone or changed: the file shrank below it, or (truncated
        and regrown before we looked) the bytes just before it differ from what we read there."""
        pos = self._pos
        if pos <= 0 or self._unsized:
            return False
        if size < pos:
            if size == 0:
                try:
                    if os.pread(fd, 1, pos - 1):
                        # Size 0 but content there: a /proc or /sys file. Read it once; never "truncated".
                        self._unsized = True
                        return False
                except OSError:
                    pass
            return True
        check = self._tail[-CHECK:]
        try:
            if not check or os.pread(fd, len(check), pos - len(check)) == check:
                return False
            # The bytes before our position changed. If the file's start (well before them) is still what we read
            # there, a writer overwrote its last line in place (a progress line redrawn with a seek): read on.
            head = self._head[: max(0, pos - SAMPLE)]
            return not head or os.pread(fd, len(head), 0) != head
        except OSError:
            return False

    def _recover_copy(self, out: list[bytes], budget: int) -> str | None:
        """After a truncation, the lines written between our last read and the truncation are in the copy that
        ``copytruncate`` made (a sibling such as ``run.log.1``): find it by the bytes before our position and read
        the rest from it. Returns the copy's name, or None."""
        pos, tail = self._pos, self._tail[-CHECK:]
        if not tail:
            return None
        try:
            entries = list(os.scandir(self.path.parent))
        except OSError:
            return None
        now = time.time()
        base = self.path.name
        for entry in entries:
            if entry.name == base or not entry.name.startswith(base):
                continue
            try:
                st = entry.stat(follow_symlinks=False)
                if not stat.S_ISREG(st.st_mode) or st.st_size < pos or now - st.st_mtime > COPY_MAX_AGE_S:
                    continue
                fd = os.open(entry.path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                if os.pread(fd, len(tail), pos - len(tail)) != tail:
                    continue
                offset, total = pos, 0
                while total < budget:
                    data = os.pread(fd, min(self.chunk_size, budget - total), offset)
                    if not data:
                        break
                    out.append(data)
                    offset += len(data)
                    total += len(data)
                    self._ends_with_newline = data.endswith(b"\n")
                return entry.name
            except OSError:
                continue
            finally:
                os.close(fd)
        return None

    def _drain(self, out: list[bytes], budget: int) -> int:
        """Read the open file from our position to its end (at most ``budget`` bytes). Returns bytes read."""
        fd = self._fd
        assert fd is not None
        total = 0
        while total < budget:
            try:
                data = os.pread(fd, min(self.chunk_size, budget - total), self._pos)
            except OSError:
                break  # an I/O error on a network file system: retry on the next wake
            if not data:
                break
            out.append(data)
            self._pos += len(data)
            total += len(data)
            self._ends_with_newline = data.endswith(b"\n")
            self._remember(data)
        return total

    def _close_fd(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None

    def _pump(self, budget: int) -> tuple[list[bytes], list[str]]:
        """One look at the file: read what is new, notice truncation/rotation/deletion. Never raises."""
        out: list[bytes] = []
        statuses: list[str] = []
        try:
            self._pump_into(out, statuses, budget)
        except OSError as exc:  # anything unforeseen: report and retry, never a traceback
            self._report(statuses, f"error:{exc.errno}", f"cannot read {self.name}: {exc.strerror or exc}; retrying")
        return out, statuses

    def _pump_into(self, out: list[bytes], statuses: list[str], budget: int) -> None:
        if self._fd is None and not self._try_open(statuses, out):
            return
        assert self._fd is not None
        st = os.fstat(self._fd)
        if self._truncated(self._fd, st.st_size):
            # copytruncate (or `> file`): the content restarted. What was written after our last read and before
            # the truncation is in the copy, if there is one: read that first.
            copy = self._recover_copy(out, budget)
            self._pos = 0
            self._head = b""
            self._tail = b""
            self._separate(out)
            statuses.append(
                f"log truncated; read the rest of the old content from {copy}, then the new from the start"
                if copy
                else "log truncated, reading from start"
            )
        used = self._drain(out, budget)
        if used >= budget:
            return  # more to read: look at the path once caught up
        try:
            path_st = os.stat(self.path)
        except OSError:
            path_st = None
        if path_st is not None and (path_st.st_dev, path_st.st_ino) == self._ident:
            if os.fstat(self._fd).st_nlink > 0:
                if self._condition != "ok":
                    self._report(statuses, "ok", f"following {self.name}")
                return
            # Same inode number but our file has no name left: it was deleted and the number reused by a new file.
        if path_st is None:
            # Renamed away or deleted: keep reading the old descriptor (its writer may still be writing) until a
            # new file takes the name.
            self._report(statuses, "missing", f"{self.name} was moved or deleted; waiting for it to reappear")
            return
        # Another file now has the name: finish the old one first, then switch.
        used += self._drain(out, budget - used)
        if used >= budget:
            return
        self._close_fd()
        self._try_open(statuses, out)
        if self._fd is not None:
            self._drain(out, budget - used)

    # ----------------------------------------------------------------- waking

    def _on_inotify(self) -> None:
        notify = self._notify
        if notify is None:
            return
        base = self.path.name
        wake = False
        for event in notify.read_events():
            if event.wd == self._file_wd or event.wd == -1 or (event.wd == self._dir_wd and event.name == base):
                wake = True
        if wake and self._wake is not None:
            self._wake.set()

    def _arm_dir_watch(self) -> None:
        if self._notify is not None and self._dir_wd is None:
            self._dir_wd = self._notify.add_watch(self.path.parent, inotify.DIR_MASK)

    def _arm_file_watch(self) -> None:
        notify = self._notify
        if notify is None:
            return
        self._arm_dir_watch()
        wd = notify.add_watch(self.path, inotify.FILE_MASK)
        if self._file_wd is not None and wd != self._file_wd:
            notify.rm_watch(self._file_wd)
        self._file_wd = wd

    def _setup(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        if self._want_inotify:
            self._notify = inotify.Inotify.create()
        if self._notify is not None:
            try:
                self._loop.add_reader(self._notify.fd, self._on_inotify)
            except (NotImplementedError, OSError):  # an event loop without add_reader: poll instead
                self._notify.close()
                self._notify = None
        self._arm_dir_watch()

    def _teardown(self) -> None:
        if self._notify is not None:
            if self._loop is not None:
                with contextlib.suppress(Exception):
                    self._loop.remove_reader(self._notify.fd)
            self._notify.close()
            self._notify = None
        self._close_fd()

    async def _wait(self, timeout: float) -> None:
        wake = self._wake
        assert wake is not None and self._loop is not None
        if wake.is_set():
            return
        # call_later + Event instead of wait_for: no task is created per wait, which keeps idle wake-ups cheap.
        handle = self._loop.call_later(timeout, wake.set)
        try:
            await wake.wait()
        finally:
            handle.cancel()

    # ----------------------------------------------------------------- the loop

    async def chunks(self) -> AsyncIterator[Chunk]:
        """Follow the file until closed (or, with ``end_when``, until the writer is done and the file drained)."""
        self._setup()
        assert self._wake is not None
        last_yield = float("-inf")
        last_data_at = float("-inf")
        idle = self.poll_min
        try:
            while not self._closed:
                self._wake.clear()
                out, statuses = self._pump(self.max_batch_bytes)
                if not out and not statuses and self.end_when is not None and self._writer_done():
                    # Everything written before the end was recorded is in the file now: one last look.
                    out, statuses = self._pump(self.max_batch_bytes)
                    if not out and not statuses:
                        yield Chunk(b"", (), True, self._clock())
                        return
                if not out and not statuses:
                    if self._notify is None:
                        await self._wait(idle)
                        if self._clock() - last_data_at > ACTIVE_WINDOW:
                            idle = min(self.poll_max, idle * 2)
                    else:
                        self._arm_dir_watch()  # the directory may have appeared since
                        await self._wait(INOTIFY_BACKSTOP)
                    continue
                idle = self.poll_min
                last_data_at = self._clock()
                delay = last_yield + self.interval - self._clock()
                if sum(len(b) for b in out) >= self.max_batch_bytes:
                    # Catching up a big file: a full batch goes at once (the consumer's own work paces it); the
                    # interval only bounds how often a trickling file wakes the consumer.
                    delay = 0.0
                    await asyncio.sleep(0)
                if delay > 0:
                    # Throttle: gather whatever else arrives until this batch is due.
                    await asyncio.sleep(delay)
                    if self.closed:  # close() may have been called while we slept
                        return
                    size = sum(len(b) for b in out)
                    if size < self.max_batch_bytes:
                        self._wake.clear()
                        more, more_statuses = self._pump(self.max_batch_bytes - size)
                        out.extend(more)
                        statuses.extend(more_statuses)
                chunk = Chunk(b"".join(out), tuple(statuses), False, self._clock())
                last_yield = chunk.at
                yield chunk
        finally:
            self._teardown()

    def _writer_done(self) -> bool:
        assert self.end_when is not None
        try:
            return bool(self.end_when())
        except Exception:  # a failing predicate must not kill the follower; keep following
            return False

    def close(self) -> None:
        """Stop following: a pending ``chunks()`` returns; descriptors are released."""
        self._closed = True
        if self._wake is not None:
            self._wake.set()


class PipeFollower:
    """Read a pipe, terminal or socket (stdin when the path is ``-``) without blocking the event loop.

    Ends with a chunk whose ``eof`` is True and whose status is "stdin closed" (or "<name> closed"). A regular file
    given as the descriptor (``hwmon attach - < run.log``) is read to its end the same way.
    """

    def __init__(
        self,
        fd: int,
        *,
        name: str = "stdin",
        interval: float = DEFAULT_INTERVAL,
        chunk_size: int = CHUNK_SIZE,
        max_batch_bytes: int = MAX_BATCH_BYTES,
        close_fd: bool = False,
        wait_for_writer: bool = False,
        clock: Clock = time.monotonic,
    ) -> None:
        self.fd = fd
        self.name = name
        # A FIFO opened before any writer: a read returns 0 bytes at once, which is not the end of anything yet.
        # With this set nothing is read (and no end is seen) until the descriptor first becomes readable, which
        # on Linux happens only once a writer has opened the FIFO (and then written or closed).
        self._wait_for_writer = wait_for_writer
        self.interval = interval
        self.chunk_size = max(1, chunk_size)
        self.max_batch_bytes = max(1, max_batch_bytes)
        self._close_fd = close_fd
        self._clock = clock
        self._closed = False
        self._eof = False
        self._waiter: asyncio.Future[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def closed(self) -> bool:
        """Whether ``close()`` was called."""
        return self._closed

    def _read(self, budget: int) -> list[bytes]:
        out: list[bytes] = []
        total = 0
        while total < budget and not self._eof:
            try:
                data = os.read(self.fd, min(self.chunk_size, budget - total))
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                self._eof = True  # EIO from a hung-up terminal, EBADF after close: the stream is over
                break
            if not data:
                self._eof = True
                break
            out.append(data)
            total += len(data)
        return out

    async def _readable(self) -> None:
        loop = self._loop
        assert loop is not None
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiter = waiter

        def ready() -> None:
            if not waiter.done():
                waiter.set_result(None)

        try:
            loop.add_reader(self.fd, ready)
        except (OSError, ValueError, NotImplementedError):
            # Not pollable (e.g. a regular file: reads never block) or closed: just retry shortly.
            await asyncio.sleep(self.interval)
            return
        try:
            await waiter
        finally:
            # Remove the reader while we are not waiting: a level-triggered fd with unread data would otherwise
            # spin the loop while the consumer is busy.
            with contextlib.suppress(Exception):
                loop.remove_reader(self.fd)
            self._waiter = None

    async def chunks(self) -> AsyncIterator[Chunk]:
        """The pipe's data, time-batched, ending with an ``eof`` chunk when the writer closes its end."""
        self._loop = asyncio.get_running_loop()
        was_blocking = True
        try:
            was_blocking = os.get_blocking(self.fd)
            os.set_blocking(self.fd, False)
        except OSError:
            pass
        last_yield = float("-inf")
        try:
            if self._wait_for_writer:
                yield Chunk(b"", (f"waiting for a writer to open {self.name}",), False, self._clock())
                while not self._closed and not self._writer_seen():
                    await self._readable()
                if self._closed:
                    return
            while not self._closed:
                out = self._read(self.max_batch_bytes)
                if not out and not self._eof:
                    await self._readable()
                    continue
                delay = last_yield + self.interval - self._clock()
                if sum(len(b) for b in out) >= self.max_batch_bytes:
                    delay = 0.0  # a full batch (a fast writer, a big cat): at once, paced by the consumer
                    await asyncio.sleep(0)
                if delay > 0 and not self._eof:
                    await asyncio.sleep(delay)
                    if self.closed:  # close() may have been called while we slept
                        return
                    out.extend(self._read(self.max_batch_bytes - sum(len(b) for b in out)))
                statuses = (f"{self.name} closed",) if self._eof else ()
                chunk = Chunk(b"".join(out), statuses, self._eof, self._clock())
                last_yield = chunk.at
                yield chunk
                if self._eof:
                    return
        finally:
            with contextlib.suppress(OSError):
                if was_blocking:
                    # Leave a shared terminal/pipe as we found it: the shell after us expects blocking reads.
                    os.set_blocking(self.fd, True)
            if self._close_fd:
                with contextlib.suppress(OSError):
                    os.close(self.fd)

    def _writer_seen(self) -> bool:
        """Whether the FIFO has (or had) a writer: it polls readable (data, or the hang-up of a writer that left)."""
        import select

        try:
            poller = select.poll()
            poller.register(self.fd, select.POLLIN)
            return bool(poller.poll(0))
        except (OSError, ValueError):
            return True  # cannot tell: read as before

    def close(self) -> None:
        """Stop reading; a pending ``chunks()`` returns."""
        self._closed = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
