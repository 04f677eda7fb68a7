"""Reading a finished input (``hwmon.sources.open.resolve_input``) once to its end: ``export`` and ``compare``.

A one-shot read (not a follower): the bytes go through the streaming parser in 1 MiB chunks, so memory stays flat
whatever the log's size. A supervised run's recorded outcome (``run.json``) is appended as a ``RunOutcome`` event,
so its status follows its supervisor, never its log text.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import BinaryIO

from hwmon import exitcodes
from hwmon.events import Event, RunOutcome
from hwmon.sources.open import Input, os_error_reason

CHUNK = 1 << 20


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
    """The input's bytes, ``chunk`` at a time."""
    handle = _open(inp)
    try:
        while True:
            try:
                data = handle.read(chunk)
            except OSError as exc:
                raise exitcodes.HwmonError(
                    f"{inp.name}: cannot read: {os_error_reason(exc)}", exitcodes.BAD_INPUT
                ) from None
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
