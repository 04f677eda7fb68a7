"""What ``export`` and ``compare`` read: a log file, ``-`` (stdin), a run directory or a run id (or unique prefix).

A one-shot read to the end (not a follower): the bytes go through the streaming parser in 1 MiB chunks, so memory
stays flat whatever the log's size. A supervised run's recorded outcome (``run.json``) is appended as a
``RunOutcome`` event, so its status follows its supervisor, never its log text.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal, cast

from hwmon import exitcodes
from hwmon.events import Event, RunOutcome

CHUNK = 1 << 20

_OUTCOMES = ("succeeded", "failed", "stopped", "lost")


@dataclass(frozen=True)
class Input:
    """A resolved source: its display name, the log to read (None for stdin) and the supervised run's outcome."""

    name: str
    path: Path | None
    outcome: RunOutcome | None = None
    command: str | None = None


def _reason(exc: OSError) -> str:
    return " ".join((exc.strerror or str(exc)).split())


def resolve_input(ref: str) -> Input:
    """What ``ref`` names. Raises ``HwmonError`` (``BAD_INPUT`` for a path that cannot be read as a log,
    ``RUN_NOT_FOUND`` for a ref that is neither a file nor a known run)."""
    if ref == "-":
        return Input("stdin", None)
    path = Path(ref).expanduser()
    try:
        st = os.stat(path)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise exitcodes.HwmonError(f"{ref}: cannot read: {_reason(exc)}", exitcodes.BAD_INPUT) from None
    from hwmon.runners import registry

    if st is not None:
        if not stat.S_ISDIR(st.st_mode):
            return Input(str(ref), path)
        record = registry.load(path)
        if record is None:
            raise exitcodes.HwmonError(f"{ref}: is a directory, not a log file or a run directory", exitcodes.BAD_INPUT)
    else:
        try:
            record = registry.resolve(ref)
        except exitcodes.HwmonError as exc:
            if "/" in ref or "." in ref:
                raise exitcodes.HwmonError(f"{ref}: no such file", exitcodes.BAD_INPUT) from None
            raise exc from None
    outcome = None
    if record.status in _OUTCOMES:
        status = cast("Literal['succeeded', 'failed', 'stopped', 'lost']", record.status)
        outcome = RunOutcome(0, None, status, record.exit_code, record.signal)
    return Input(record.run_id, record.log_path, outcome, " ".join(record.command) or None)


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
        raise exitcodes.HwmonError(f"{inp.name}: cannot open: {_reason(exc)}", exitcodes.BAD_INPUT) from None


def read_chunks(inp: Input, chunk: int = CHUNK) -> Iterator[bytes]:
    """The input's bytes, ``chunk`` at a time."""
    handle = _open(inp)
    try:
        while True:
            try:
                data = handle.read(chunk)
            except OSError as exc:
                raise exitcodes.HwmonError(f"{inp.name}: cannot read: {_reason(exc)}", exitcodes.BAD_INPUT) from None
            if not data:
                return
            yield data
    finally:
        if handle is not sys.stdin.buffer:
            handle.close()


def read_events(inp: Input, chunk: int = CHUNK) -> Iterator[Event]:
    """Every event of the input, in order, parsed as ``hwmon summary`` parses a file (bulk fast path on)."""
    from hwmon.parsers.stream import StreamParser

    parser = StreamParser(blocks=True)
    for data in read_chunks(inp, chunk):
        yield from parser.feed(data)
    yield from parser.finish()
    if inp.outcome is not None:
        o = inp.outcome
        yield RunOutcome(parser.lines_seen, None, o.status, o.exit_code, o.signal)
