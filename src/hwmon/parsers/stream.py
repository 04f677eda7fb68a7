"""Bytes -> events: the line splitter, launcher-prefix stripping, the format parsers and vendor detection. Pure.

``StreamParser`` is the one object the I/O layer drives (``feed(bytes)`` / ``finish()``), like h11's
``Connection``. Per line:

1. The final (not redraw) line's text goes into a bounded deque for ``pop_lines()`` (the raw log view).
2. Launcher prefixes are stripped: Open MPI / poprun ``--tag-output`` (``[1,0]<stdout>:``), a ``[poprun...]`` or
   ``[host:rank]``/``[rank]`` tag, ``srun --label`` (``0: ``).
3. Slurm's own messages (``srun: ...``, ``salloc: ...``, ``slurmstepd: ...``) are handled here: a job number ->
   ``RunStarted`` + ``JobIdSeen(kind="slurm")`` (+ the queue phase while it waits), ``error:`` lines ->
   ``ErrorSeen``. They are not passed to the format parsers.
4. The line goes to each format parser in order: cerebras, graphcore, tqdm, modeltree, generic. The generic
   parser's facts are dropped when an earlier parser already reported the same kind for that line (a step or a
   progress update, an error, a warning, a vendor), so a Cerebras step line is one step, not two.
5. ``VendorDetected`` events pass only when they decide or refine ``.vendor``: the first one decides; a more
   specific one replaces a weaker one (cpu < gpu < cerebras/graphcore); a device name fills in a missing one.

Redraws (``Line.final`` False) reach the parsers (a tqdm bar's states) but not ``pop_lines()``.

With ``blocks=True`` the splitter hands over large clean regions as ``LineBlock``; each parser with a
``feed_block`` fast path is offered the block, and when none takes it the block is halved at a newline and the
halves offered again, down to ``MIN_BLOCK_LINES`` lines, which are then fed one by one.
"""

from __future__ import annotations

import re
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from typing import Protocol, cast

from hwmon.events import (
    CheckpointSaved,
    ErrorSeen,
    EvalMetric,
    Event,
    JobIdSeen,
    PhaseEnded,
    PhaseStarted,
    ProgressUpdate,
    RunCompleted,
    RunStarted,
    StepBatch,
    StepMetrics,
    Vendor,
    VendorDetected,
    WarningSeen,
)
from hwmon.parsers.base import Line, LineBlock
from hwmon.parsers.cerebras import CerebrasParser
from hwmon.parsers.generic import GenericParser
from hwmon.parsers.graphcore import GraphcoreParser
from hwmon.parsers.lines import LineSplitter
from hwmon.parsers.modeltree import ModelTreeParser
from hwmon.parsers.timestamps import leading_timestamp
from hwmon.parsers.tqdm import TqdmParser

__all__ = ["FEED_SLICE", "MIN_BLOCK_LINES", "PARSER_CHAIN", "StreamParser", "parse_bytes", "strip_launcher_prefix"]

FEED_SLICE = 4 << 20
"""Inputs larger than this are handed to the splitter in slices of this many bytes."""

MIN_BLOCK_LINES = 128
"""Blocks no parser takes are halved down to about this many lines, then fed line by line."""


class _Parser(Protocol):
    def feed(self, line: Line) -> list[Event]: ...

    def finish(self) -> list[Event]: ...


_BlockFeeder = Callable[[LineBlock, Callable[[Line], "list[Event]"]], "list[Event] | None"]

PARSER_CHAIN: tuple[Callable[[], _Parser], ...] = (CerebrasParser, GraphcoreParser, TqdmParser)
"""Format parsers tried before the model-tree and generic ones, in this order."""

# Launcher tags in front of a program's own output.
_PREFIX = re.compile(
    r"^(?:"
    r"\[\d+,\d+\]<(?:stdout|stderr|stddiag)>:\s?"  # Open MPI / poprun --tag-output
    r"|\[poprun[^\]]{0,80}\]:?\s?"  # poprun's own tag
    r"|\[[A-Za-z][\w.-]{0,63}:\d{1,5}\]:?\s"  # [host:rank]
    r"|\[\d{1,5}\]\s"  # MPICH/Intel MPI -prepend-rank
    r"|\s{0,4}\d{1,5}: (?=\S)"  # srun --label
    r")"
)

_SLURM = re.compile(r"^(srun|salloc|sbatch|slurmstepd(?:-[\w.-]+)?): ")
_SLURM_QUEUED = re.compile(r"\bjob (\d+) queued and waiting for resources|Pending job allocation (\d+)")
_SLURM_GRANTED = re.compile(r"\bjob (\d+) has been allocated resources|Granted job allocation (\d+)")
_SLURM_SUBMITTED = re.compile(r"Submitted batch job (\d+)")
_SLURM_FATAL = re.compile(
    r"Exited with exit code [1-9]|Killed|Segmentation fault|Aborted|CANCELLED|TIME LIMIT|OUT_OF_MEMORY|"
    r"oom-kill|Job step aborted|Force Terminated",
    re.IGNORECASE,
)

_METRIC_KINDS = (StepMetrics, StepBatch, ProgressUpdate, EvalMetric, RunCompleted)
_VENDOR_RANK = {"cpu": 0, "gpu": 1, "cerebras": 2, "graphcore": 2}

# Per-line flags of what the format parsers reported, to drop the generic parser's duplicates.
_F_METRIC = 1
_F_ERROR = 2
_F_WARNING = 4
_RECENT_LINES = 512


def strip_launcher_prefix(text: str) -> str:
    """``text`` without a leading launcher tag (``[1,0]<stdout>:``, ``[poprun]``, ``0: ``...), at most two deep."""
    for _ in range(2):
        m = _PREFIX.match(text)
        if m is None or m.end() == 0:
            break
        text = text[m.end() :]
    return text


class StreamParser:
    """Incremental bytes -> events for one log stream. Pure: the caller does the reading."""

    def __init__(self, *, blocks: bool = False, keep_lines: int = 0) -> None:
        self.blocks = blocks
        self.keep_lines = max(0, int(keep_lines))
        self.vendor: Vendor | None = None
        self.device: str | None = None
        self.lines_seen = 0
        self._splitter = LineSplitter()
        self._kept: deque[str] = deque(maxlen=self.keep_lines or 1)
        self._parsers: list[_Parser] = [factory() for factory in PARSER_CHAIN]
        self._tree = ModelTreeParser()
        self._generic = GenericParser()
        self._block_feeders: list[_BlockFeeder] = [
            cast("_BlockFeeder", parser.feed_block) for parser in self._parsers if hasattr(parser, "feed_block")
        ]
        self._flags: OrderedDict[int, int] = OrderedDict()
        self._slurm_jobs: set[str] = set()
        self._slurm_queued: str | None = None

    # ------------------------------------------------------------------ public

    def feed(self, data: bytes) -> list[Event]:
        """Events completed by this chunk of bytes."""
        out: list[Event] = []
        # Large inputs go to the splitter a slice at a time, so the intermediate list of lines stays small.
        step = FEED_SLICE
        for start in range(0, len(data), step):
            piece = data if len(data) <= step else data[start : start + step]
            for item in self._splitter.feed(piece, blocks=self.blocks):
                if isinstance(item, Line):
                    self._line(item, out)
                else:
                    self._block(item, out)
        return out

    def finish(self) -> list[Event]:
        """End of the stream: the last unterminated line and everything the parsers were holding."""
        out: list[Event] = []
        for line in self._splitter.finish():
            self._line(line, out)
        for parser in self._parsers:
            events = _safe_finish(parser)
            self._remember_events(events)
            out.extend(self._vendor_filter(events))
        events = _safe_finish(self._tree)
        self._remember_events(events)
        out.extend(self._vendor_filter(events))
        out.extend(self._generic_filter(_safe_finish(self._generic)))
        return out

    def flush(self) -> list[Event]:
        """The input went quiet (a live follower saw no new bytes for a while): release what the generic parser
        holds back to see whether more follows (a traceback's final exception, a ``terminate called`` without
        its ``what():`` yet), so a run that crashed shows its error now instead of never. A last line without a
        newline is ended first (``LineSplitter.end_partial``) so it is shown and parsed too. The stream goes on."""
        out: list[Event] = []
        for line in self._splitter.end_partial():
            self._line(line, out)
        out.extend(self._generic_filter(_safe_finish(self._generic)))
        return out

    def pop_lines(self) -> list[str]:
        """The final cleaned lines seen since the last call (at most the last ``keep_lines`` of them)."""
        if not self.keep_lines:
            return []
        lines = list(self._kept)
        self._kept.clear()
        return lines

    # ------------------------------------------------------------------ lines

    def _line(self, line: Line, out: list[Event]) -> None:
        if line.final:
            self.lines_seen += 1
            if self.keep_lines:
                self._kept.append(line.text)
        self._parse_line(line, out)

    def _parse_line(self, line: Line, out: list[Event], vendor_filter: bool = True) -> None:
        text = line.text
        if text[:1] in _PREFIX_FIRST:
            stripped = strip_launcher_prefix(text)
            if stripped is not text:
                line = Line(line.number, line.offset, stripped, line.final, line.truncated)
                text = stripped
        if text[:1] in "sS" and _SLURM.match(text) is not None:
            if line.final:
                self._slurm(line, out)
            return
        taken = 0
        for parser in self._parsers:
            events = _safe_feed(parser, line)
            if events:
                taken |= self._remember_events(events, line.number)
                out.extend(self._vendor_filter(events) if vendor_filter else events)
        events = _safe_feed(self._tree, line)
        if events:
            taken |= self._remember_events(events, line.number)
            out.extend(events)
        if line.final:
            # A line whose metrics or error a format parser already reported gets only the generic parser's
            # multi-line bookkeeping: its own facts for it would be dropped as duplicates anyway.
            facts = not taken & (_F_METRIC | _F_ERROR)
            try:
                generic = self._generic.feed(line, facts=facts)
            except Exception:  # noqa: BLE001 - a parser must not take the stream down
                generic = []
            if generic:
                out.extend(self._generic_filter(generic, vendor_filter))

    def _remember_events(self, events: list[Event], current: int = -1) -> int:
        """Record which kinds of fact each event's own source line produced (a parser may release an event for
        an earlier line — a held traceback, a multi-line record — and the generic parser's duplicate must still
        be dropped). Returns the flags for line ``current``."""
        current_flags = 0
        for event in events:
            flags = _flags_of((event,))
            if flags:
                self._remember(event.line, flags)
                if event.line == current:
                    current_flags |= flags
        return current_flags

    def _remember(self, number: int, flags: int) -> None:
        self._flags[number] = self._flags.get(number, 0) | flags
        while len(self._flags) > _RECENT_LINES:
            self._flags.popitem(last=False)

    def _generic_filter(self, events: list[Event], vendor_filter: bool = True) -> list[Event]:
        if not events:
            return events
        kept: list[Event] = []
        for event in events:
            flags = self._flags.get(event.line, 0)
            if isinstance(event, StepMetrics) and flags & _F_METRIC:
                continue
            if isinstance(event, ErrorSeen) and flags & _F_ERROR:
                continue
            if isinstance(event, WarningSeen) and flags & (_F_WARNING | _F_ERROR):
                continue
            kept.append(event)
        return self._vendor_filter(kept) if vendor_filter else kept

    def _vendor_filter(self, events: list[Event]) -> list[Event]:
        """Pass a ``VendorDetected`` only when it decides or refines the vendor/device."""
        if not any(isinstance(event, VendorDetected) for event in events):
            return events
        kept: list[Event] = []
        for event in events:
            if isinstance(event, VendorDetected):
                if self.vendor is None or _VENDOR_RANK[event.vendor] > _VENDOR_RANK[self.vendor]:
                    self.vendor = event.vendor
                    self.device = event.device
                elif event.vendor == self.vendor and self.device is None and event.device:
                    self.device = event.device
                else:
                    continue
                if event.device != self.device:
                    event = VendorDetected(event.line, event.ts, event.vendor, self.device)
            kept.append(event)
        return kept

    # ------------------------------------------------------------------ Slurm

    def _slurm(self, line: Line, out: list[Event]) -> None:
        text = line.text
        ts = leading_timestamp(text)
        queued = _SLURM_QUEUED.search(text)
        granted = _SLURM_GRANTED.search(text) if queued is None else None
        submitted = _SLURM_SUBMITTED.search(text) if queued is None and granted is None else None
        match = queued or granted or submitted
        if match is not None:
            job = match.group(1) or match.group(match.lastindex or 1)
            if job not in self._slurm_jobs:
                self._slurm_jobs.add(job)
                out.append(RunStarted(line.number, ts, None))
                out.append(JobIdSeen(line.number, ts, job, "slurm"))
            if queued is not None and self._slurm_queued is None:
                self._slurm_queued = job
                out.append(PhaseStarted(line.number, ts, "queue", "Slurm: waiting for resources"))
            elif granted is not None and self._slurm_queued == job:
                self._slurm_queued = None
                out.append(PhaseEnded(line.number, ts, "queue"))
            return
        body = text.split(": ", 1)[1] if ": " in text else text
        lowered = body.lower()
        if lowered.startswith("error:"):
            fatal = _SLURM_FATAL.search(body) is not None
            out.append(ErrorSeen(line.number, ts, text.strip(), fatal, "slurm"))
        elif _SLURM_FATAL.search(body) is not None and ("job" in lowered or "task" in lowered):
            out.append(ErrorSeen(line.number, ts, text.strip(), True, "slurm"))
        elif lowered.startswith("warning:"):
            out.append(WarningSeen(line.number, ts, text.strip(), "slurm"))

    # ------------------------------------------------------------------ blocks

    def _block(self, block: LineBlock, out: list[Event]) -> None:
        self.lines_seen += block.count
        if self.keep_lines:
            keep = self.keep_lines
            parts = block.data.rsplit(b"\n", keep + 1)
            tail = parts[1:-1] if len(parts) == keep + 2 else parts[:-1]
            self._kept.extend(raw.decode("ascii") for raw in tail)
        self._parse_block(block, out)

    def _other_line(self, line: Line) -> list[Event]:
        """One line of a block through every parser (for a fast path that takes only some of a block's lines);
        vendor filtering is left to the caller, which filters the block's events once, in order."""
        events: list[Event] = []
        self._parse_line(line, events, vendor_filter=False)
        return events

    def _parse_block(self, block: LineBlock, out: list[Event]) -> None:
        for feed_block in self._block_feeders:
            try:
                events = feed_block(block, self._other_line)
            except Exception:  # noqa: BLE001 - a failing fast path falls back to the line path
                events = None
            if events is not None:
                out.extend(self._vendor_filter(events))
                return
        if block.count <= MIN_BLOCK_LINES:
            for line in block.lines():
                self._parse_line(line, out)
            return
        data = block.data
        mid = data.find(b"\n", len(data) // 2 - 1)
        if mid == -1 or mid + 1 >= len(data):
            for line in block.lines():
                self._parse_line(line, out)
            return
        left = data[: mid + 1]
        left_count = left.count(b"\n")
        self._parse_block(LineBlock(block.first_number, block.offset, left, left_count), out)
        self._parse_block(
            LineBlock(
                block.first_number + left_count, block.offset + mid + 1, data[mid + 1 :], block.count - left_count
            ),
            out,
        )


_PREFIX_FIRST = frozenset("[ 0123456789")


def _flags_of(events: Sequence[Event]) -> int:
    flags = 0
    for event in events:
        if isinstance(event, _METRIC_KINDS):
            flags |= _F_METRIC
        elif isinstance(event, ErrorSeen):
            flags |= _F_ERROR
        elif isinstance(event, WarningSeen):
            flags |= _F_WARNING
        elif isinstance(event, CheckpointSaved):
            flags |= _F_METRIC
    return flags


def _safe_feed(parser: _Parser, line: Line) -> list[Event]:
    # A parser must not raise; if one does anyway, its events for that line are lost, not the stream.
    try:
        return parser.feed(line)
    except Exception:  # noqa: BLE001
        return []


def _safe_finish(parser: _Parser) -> list[Event]:
    try:
        return parser.finish()
    except Exception:  # noqa: BLE001
        return []


def parse_bytes(data: bytes, *, blocks: bool = False) -> list[Event]:
    """All events of a whole input (``finish`` included)."""
    parser = StreamParser(blocks=blocks)
    events = parser.feed(data)
    events.extend(parser.finish())
    return events
