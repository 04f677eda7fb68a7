"""Whole inputs through the one reader (``hwmon.sources.pipeline.Reader``): ``summary``, ``export``, ``compare``,
``ls`` and the history read a log to its end (or its tail) with it.

A whole input (``hwmon.sources.open.resolve_input``) is read once to its end in 1 MiB chunks, so memory stays flat
whatever the log's size. A supervised run's record (``run.json``) adds its events (``Input.record``: the run's age
while it runs, how it ended once it has), so its status and wall time follow its supervisor, never its log text.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from hwmon import exitcodes
from hwmon.events import Event, SourceEnded
from hwmon.model.alerts import SILENCE_S
from hwmon.model.reducer import apply
from hwmon.model.state import RunState
from hwmon.sources.open import Input, os_error_reason
from hwmon.sources.pipeline import Reader
from hwmon.sources.source import quiet_span

CHUNK = 1 << 20


# --- whole inputs -----------------------------------------------------------------------------------------------


def summarize_chunks(chunks: Iterable[bytes], name: str, record: Iterable[Event] = ()) -> RunState:
    """The one whole-input read: ``chunks`` (a whole log, in any chunking) through the reader into the state of its
    last run, then the supervisor's ``record`` events. No clock: this is not a live view. Exceptions raised by
    ``chunks`` (a read error) propagate."""
    reader = Reader(name)
    for chunk in chunks:
        reader.feed(chunk)
    reader.feed(b"", eof=True)
    reader.apply(record)
    return reader.state


def summarize_bytes(data: bytes, name: str) -> RunState:
    """Parse ``data`` (a whole log already in memory) and reduce it to the state of its last run."""
    return summarize_chunks((data[i : i + CHUNK] for i in range(0, len(data), CHUNK)), name)


def _open(inp: Input) -> BinaryIO:
    if inp.path is None:
        return sys.stdin.buffer
    if inp.path.is_dir():
        raise exitcodes.HwmonError(f"{inp.name}: is a directory, not a log file", exitcodes.BAD_INPUT)
    try:
        return inp.path.open("rb")
    except FileNotFoundError:
        raise exitcodes.HwmonError(f"{inp.name}: no such file", exitcodes.BAD_INPUT) from None
    except OSError as exc:
        raise exitcodes.HwmonError(f"{inp.name}: cannot open: {os_error_reason(exc)}", exitcodes.BAD_INPUT) from None


def read_chunks(inp: Input, chunk: int = CHUNK) -> Iterator[bytes]:
    """The input's bytes, ``chunk`` at a time (a remote log is read over ssh)."""
    if inp.remote is not None:
        from hwmon.sources import ssh

        yield from ssh.read_chunks(inp.remote, inp.ssh_opts)  # streamed: memory stays flat (issue 22)
        return
    handle = _open(inp)
    try:
        while True:
            try:
                data = handle.read(chunk)
            except OSError as exc:
                message = f"{inp.name}: cannot read: {os_error_reason(exc)}"
                raise exitcodes.HwmonError(message, exitcodes.BAD_INPUT) from None
            if not data:
                return
            yield data
    finally:
        if handle is not sys.stdin.buffer:
            handle.close()


def read_state(inp: Input, chunk: int = CHUNK) -> RunState:
    """The input read to its end into the state of its last run (the supervisor's record included). Its end is the
    source's end when a follower would say so too (the one policy): stdin closed, or a log file quiet for longer
    than the silence threshold — then no view gives it an ETA or a running clock."""
    state = summarize_chunks(read_chunks(inp, chunk), inp.name, inp.record)
    ended = source_end(inp)
    if ended is not None and state.status == "unknown":
        apply(state, ended, None)
    return state


def source_end(inp: Input) -> SourceEnded | None:
    """The ``SourceEnded`` a read to the end of ``inp`` implies, or None while the log may still grow."""
    if inp.remote is not None or inp.record:
        return None  # a remote log cannot be asked; a supervised run's record says whether it runs
    if inp.path is None:
        return SourceEnded(0, None, "stdin closed")
    try:
        quiet = time.time() - inp.path.stat().st_mtime
    except OSError:
        return None
    if quiet < SILENCE_S:
        return None
    return SourceEnded(0, None, f"no new output for {quiet_span(quiet)}", quiet)


def read_events(inp: Input, chunk: int = CHUNK) -> Iterator[Event]:
    """Every event of the input, in order, through the one reader (bulk fast path on), then the supervisor's record
    events."""
    reader = Reader(inp.name)
    for data in read_chunks(inp, chunk):
        yield from reader.parse(data)[0]
    yield from reader.parse(b"", eof=True)[0]
    yield from inp.record
    ended = source_end(inp)
    if ended is not None:
        yield ended


def read_tail(path: str, size: int, name: str | None = None, record: Iterable[Event] = ()) -> RunState | None:
    """The state the last ``size`` bytes of the log at ``path`` give (from a line boundary, so the first, cut line
    is not misread), with the supervisor's ``record``; None when the file cannot be read."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            total = fh.tell()
            fh.seek(max(0, total - size))
            data = fh.read()
    except OSError:
        return None
    if total > size:
        cut = data.find(b"\n")
        data = data[cut + 1 :] if cut >= 0 else b""
    return summarize_chunks([data], name or path, record)
