"""Bytes -> events: the line splitter, launcher-prefix stripping and the format parsers. Pure.

``StreamParser`` is the one object the I/O layer drives (``feed(bytes)`` / ``finish()``), like h11's
``Connection``. Per line:

1. The final (not redraw) line's text goes into a bounded deque for ``pop_lines()`` (the raw log view).
2. The line becomes a ``Record`` (``hwmon.parsers.records``): launcher prefix and rank, timestamp, level and
   logger parsed once. Multi-rank output (``[1,0]<stdout>:``, ``[rank0]:``, ``0: ``, ``[default0]:``) is read as
   the lowest rank seen; other ranks' lines give only their errors (``ErrorSeen(kind="rank N")``), so their
   steps are not counted twice. Every rank's lines also go to the rank tracker (``hwmon.parsers.ranks``:
   ``RankLine``/``RankError`` for per-rank progress, silence and the rank that failed first).
3. Slurm's own messages (``srun: ...``, ``salloc: ...``, ``slurmstepd: ...``) are handled here: a job number ->
   ``RunStarted`` + ``JobIdSeen(kind="slurm")`` (+ the queue phase while it waits), ``error:`` lines ->
   ``ErrorSeen``. They are not passed to the format parsers.
4. The record goes to each format parser in order (``PARSER_CHAIN``), then modeltree and generic. The generic
   parser's facts are dropped when an earlier parser already reported the same kind for that line (a step or a
   progress update, an error, a warning, a vendor), so a Cerebras step line is one step, not two.
5. Parsers emit facts; the reducer alone decides what they mean for the run: its vendor and device (every
   ``VendorDetected`` is evidence, ranked in ``hwmon.model.reducer.evidence``), its status, and whether a guessed
   step printed after the run's own end line counts.

Redraws (``Line.final`` False) reach the parsers (a tqdm bar's states) but not ``pop_lines()``.

Parsers do not catch their own exceptions. The stream catches one (the single catch) and reports it as a
``WarningSeen(source="hwmon")`` naming the parser and the line, then carries on; with ``strict=True`` (on in the
test suite, see tests/conftest.py) it re-raises instead, so a parser bug fails a test.

With ``blocks=True`` the splitter hands over large clean regions as ``LineBlock``; each parser with a
``feed_block`` fast path is offered the block, and when none takes it the block is halved at a newline and the
halves offered again, down to ``MIN_BLOCK_LINES`` lines, which are then fed one by one.
A run of (progress bar line, step line) pairs that arrives together (a tqdm bar redrawn with ``\r`` between an HF
Trainer's log dicts) is read in bulk too when every stage allows it: one ``ProgressBatch`` and one ``StepBatch`` from
the step line's template compiled to a bytes regex (``hwmon.parsers.stream_runs``).
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from typing import Protocol, cast

from hwmon.events import (
    CheckpointSaved,
    ErrorSeen,
    EvalMetric,
    Event,
    ProgressUpdate,
    RunCompleted,
    StepBatch,
    StepMetrics,
    WarningSeen,
)
from hwmon.parsers.base import Line
from hwmon.parsers.cerebras import CerebrasParser
from hwmon.parsers.generic import GenericParser
from hwmon.parsers.graphcore import GraphcoreParser
from hwmon.parsers.hftrainer import HfTrainerParser
from hwmon.parsers.keras import KerasParser
from hwmon.parsers.learned import LearnedStage
from hwmon.parsers.lightning import LightningParser
from hwmon.parsers.lines import LineSplitter
from hwmon.parsers.megatron import MegatronParser
from hwmon.parsers.modeltree import ModelTreeParser
from hwmon.parsers.nanogpt import NanoGptParser
from hwmon.parsers.ranks import RankLines
from hwmon.parsers.records import Record, RecordReader
from hwmon.parsers.slurm import SLURM_LINE, SlurmLines
from hwmon.parsers.stream_blocks import MIN_BLOCK_LINES, BlockFeeder, StreamBlocks
from hwmon.parsers.tqdm import TqdmParser
from hwmon.parsers.userformats import Format

__all__ = ["FEED_SLICE", "MIN_BLOCK_LINES", "PARSER_CHAIN", "StreamParser", "parse_bytes"]

FEED_SLICE = 4 << 20
"""Inputs larger than this are handed to the splitter in slices of this many bytes."""


class _Parser(Protocol):
    def feed(self, line: Line) -> list[Event]: ...

    def finish(self) -> list[Event]: ...


PARSER_CHAIN: tuple[Callable[[], _Parser], ...] = (
    CerebrasParser,
    GraphcoreParser,
    HfTrainerParser,
    KerasParser,
    MegatronParser,
    NanoGptParser,
    LightningParser,
    TqdmParser,
)
"""Format parsers tried before the model-tree and generic ones, in this order."""

_METRIC_KINDS = (StepMetrics, StepBatch, ProgressUpdate, EvalMetric, RunCompleted)

# Per-line flags of what the format parsers reported, to drop the generic parser's duplicates.
_F_METRIC = 1
_F_ERROR = 2
_F_WARNING = 4
_F_LEARNED = 8  # h17a: a learned reader (parsers/learned.py) read the line: the generic parser's metrics are dropped
_F_END = 16  # h17c: the line's own reader reported the run's end: the generic parser's end phrase is dropped
_RECENT_LINES = 512


def _ends_in_figure(text: str) -> bool:
    """Whether a line ends in a figure or a piece of one (a digit, a point, an exponent's sign or letter, or only
    spaces after them): cut there, its last figure may be short of its digits."""
    last = text.rstrip()[-1:]
    return not last or last.isdigit() or last in ".+-eE"


class StreamParser(StreamBlocks):
    """Incremental bytes -> events for one log stream. Pure: the caller does the reading."""

    STRICT_DEFAULT = False
    """``strict`` when the constructor is not told: the test suite turns it on (tests/conftest.py)."""

    FORMATS_DEFAULT: tuple[Format, ...] = ()
    """User formats when the constructor is not told (the command line installs the user's; see
    ``hwmon.sources.formats``)."""

    def __init__(
        self,
        *,
        blocks: bool = False,
        keep_lines: int = 0,
        strict: bool | None = None,
        formats: tuple[Format, ...] | None = None,
    ) -> None:
        self.blocks = blocks
        self.strict = self.STRICT_DEFAULT if strict is None else strict
        self._reader = RecordReader()
        self._rank: int | None = None
        self.keep_lines = max(0, int(keep_lines))
        self.lines_seen = 0
        self._splitter = LineSplitter()
        self._kept: deque[str] = deque(maxlen=self.keep_lines or 1)
        self._parsers: list[_Parser] = [factory() for factory in PARSER_CHAIN]
        # A line's \r-redrawn states go only to the parsers of formats that are drawn that way (progress bars).
        self._redraw_parsers = [p for p in self._parsers if getattr(p, "REDRAWS", True)]
        self._run_readers = list(self._redraw_parsers)
        self._tree = ModelTreeParser()
        self._generic = GenericParser()
        self._block_feeders: list[BlockFeeder] = [
            cast("BlockFeeder", parser.feed_block) for parser in self._parsers if hasattr(parser, "feed_block")
        ]
        self._flags: OrderedDict[int, int] = OrderedDict()
        self._slurm = SlurmLines()
        self._ranks = RankLines()
        # h17a: user formats, structured lines, column tables, learned templates (see _parse_line).
        self.learned = LearnedStage(self.FORMATS_DEFAULT if formats is None else formats)

    # ------------------------------------------------------------------ public

    def feed(self, data: bytes) -> list[Event]:
        """Events completed by this chunk of bytes."""
        out: list[Event] = []
        # Large inputs go to the splitter a slice at a time, so the intermediate list of lines stays small.
        step = FEED_SLICE
        for start in range(0, len(data), step):
            piece = data if len(data) <= step else data[start : start + step]
            self._items(self._splitter.feed(piece, blocks=self.blocks), out)
        return out

    def finish(self) -> list[Event]:
        """End of the stream: the last unterminated line and everything the parsers were holding."""
        out: list[Event] = []
        for line in self._splitter.finish():
            self._unterminated(line, out)
        for parser in self._parsers:
            events = self._finish_parser(parser)
            self._remember_events(events)
            out.extend(events)
        events = self._finish_parser(self._tree)
        self._remember_events(events)
        out.extend(events)
        try:
            events = self.learned.finish()  # h17a: what the learned readers still hold
        except Exception as exc:
            events = self._fault(self.learned, self.lines_seen, exc)
        self._remember_events(events)
        out.extend(events)
        out.extend(self._generic_filter(self._finish_parser(self._generic)))
        out.extend(self._ranks.finish(self._rank))
        return out

    def flush(self) -> list[Event]:
        """The input went quiet (a live follower saw no new bytes for a while): release what the generic parser
        holds back to see whether more follows (a traceback's final exception, a ``terminate called`` without
        its ``what():`` yet), so a run that crashed shows its error now instead of never. A last line without a
        newline is ended first (``LineSplitter.end_partial``) so it is shown and parsed too. The stream goes on."""
        out: list[Event] = []
        for line in self._splitter.end_partial():
            self._unterminated(line, out)
        out.extend(self._generic_filter(self._finish_parser(self._generic)))
        out.extend(self._ranks.finish(self._rank))
        return out

    def _unterminated(self, line: Line, out: list[Event]) -> None:
        # A line without its newline may be cut mid-write ("Loss=7.1" of "Loss=7.14844"): it is kept and read for
        # everything but a step — unless text follows its last figure ("... step_avg:4453.70ms", a file saved
        # without a final newline): every figure of it was written whole.
        tail: list[Event] = []
        self._line(line, tail)
        if _ends_in_figure(line.text):
            out.extend(e for e in tail if not (isinstance(e, StepMetrics | StepBatch) and e.line == line.number))
        else:
            out.extend(tail)

    def partial(self) -> str | None:
        """The line under way as it shows now (``LineSplitter.partial``): a progress bar's current ``\r`` redraw
        before its line ends, for the raw log's live row. None when no line is under way."""
        return self._splitter.partial()

    def pop_lines(self) -> list[str]:
        """The final cleaned lines seen since the last call (at most the last ``keep_lines`` of them)."""
        if not self.keep_lines:
            return []
        lines = list(self._kept)
        self._kept.clear()
        return lines

    def pop_numbered_lines(self) -> tuple[int, list[str]]:
        """``pop_lines()`` and the 1-based line number of the first line it gives (the numbers events carry), so
        a raw log view can ask ``RunState.provenance.rule_of_line(n)`` which rule read a line (h17a, issue 17)."""
        lines = self.pop_lines()
        return self.lines_seen - len(lines) + 1, lines

    # ------------------------------------------------------------------ lines

    def _line(self, line: Line, out: list[Event]) -> None:
        if line.final:
            self.lines_seen += 1
            if self.keep_lines:
                self._kept.append(line.text)
        self._parse_line(line, out)

    def _parse_line(self, raw: Line, out: list[Event]) -> None:
        line = self._reader.read(raw)
        if line.rank is not None:
            if self._rank is None or line.rank < self._rank:
                self._rank = line.rank  # the lowest rank seen is the run's voice
            # Every rank's lines are counted (and other ranks' errors reported) by the rank tracker (issue 21).
            out.extend(self._ranks.feed(line, raw.text, line.rank == self._rank))
            if line.rank != self._rank:
                return
        elif self._ranks.watching or "Root Cause" in line.msg:
            out.extend(self._ranks.feed_unranked(line))
        text = line.text
        if text[:1] in "sS" and SLURM_LINE.match(text) is not None:
            if line.final:
                out.extend(self._slurm.feed(line))
            return
        # ---- h17a hook 1/2: a line a user format's rule matches is that format's; the built-in rules skip it.
        if line.final:
            try:
                user = self.learned.user(line)
            except Exception as exc:
                user = self._fault(self.learned, line.number, exc)
            if user is not None:
                self._remember(line.number, self._remember_events(user, line.number) | _F_LEARNED | _F_METRIC)
                out.extend(user)
                self._generic_after(line, True, out)
                return
        # ---- end of hook 1
        taken = 0
        start = len(out)
        for parser in self._parsers if line.final else self._redraw_parsers:
            events = self._feed_parser(parser, line)
            if events:
                taken |= self._remember_events(events, line.number)
                out.extend(events)
            if getattr(parser, "holding", None) == line.number:
                # A parser holds this line's metrics for a later line (HF: a loss dict until its bar's redraw).
                self._remember(line.number, _F_METRIC)
                taken |= _F_METRIC
        events = self._feed_parser(self._tree, line)
        if events:
            taken |= self._remember_events(events, line.number)
            out.extend(events)
        # ---- h17a hook 2/2: structured lines, column tables and learned templates read what no rule read.
        try:
            learned = self.learned.after(line, out[start:])
        except Exception as exc:
            learned = self._fault(self.learned, line.number, exc)
        if line.final:
            if learned:
                taken |= _F_METRIC  # as for a format parser's step: the generic parser only keeps its bookkeeping
            if learned is not None:
                # (A stray metrics line after the run's own end line is not a step: the reducer decides that,
                # hwmon.model.reducer.evidence.)
                flags = self._remember_events(learned, line.number) | _F_LEARNED | _F_METRIC
                self._remember(line.number, flags)
                out.extend(learned)
            # ---- end of hook 2
            # A line whose metrics or error a format parser already reported gets only the generic parser's
            # multi-line bookkeeping: its own facts for it would be dropped as duplicates anyway.
            # (A line the learned stage read may still end the run: its end words are looked for.)
            self._generic_after(line, not taken & (_F_METRIC | _F_ERROR), out, ends=learned is not None, start=start)
            # The run's own end line: ``name: value`` lines after it are its final evaluation, until a training
            # step says another run began (hwmon.parsers.learned).
            for event in out[start:]:
                if isinstance(event, RunCompleted) and event.success and not event.tentative:
                    self.learned.ended = True
                elif isinstance(event, StepMetrics | StepBatch) and self.learned.ended:
                    self.learned.ended = False

    def _generic_after(
        self, line: Record, facts: bool, out: list[Event], ends: bool = False, start: int | None = None
    ) -> None:
        try:
            generic = self._generic.feed(line, facts=facts, ends=ends)
        except Exception as exc:
            generic = self._fault(self._generic, line.number, exc)
        if generic:
            kept = self._generic_filter(generic)
            if start is not None and any(isinstance(e, ErrorSeen) and e.line < line.number for e in kept):
                # A traceback held until this line began its own record ended before it: its error goes before
                # this line's events (a step of a new launch after a crash is after the crash).
                earlier = [e for e in kept if isinstance(e, ErrorSeen) and e.line < line.number]
                out[start:start] = earlier
                kept = [e for e in kept if not (isinstance(e, ErrorSeen) and e.line < line.number)]
            out.extend(kept)

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

    def _generic_filter(self, events: list[Event]) -> list[Event]:
        """The generic parser's facts less those a format parser already reported for the same line."""
        if not events:
            return events
        kept: list[Event] = []
        for event in events:
            flags = self._flags.get(event.line, 0)
            if isinstance(event, StepMetrics) and flags & _F_METRIC:
                continue
            if isinstance(event, EvalMetric) and flags & _F_LEARNED:
                continue  # h17a: a learned reader already named this line's eval metrics
            if isinstance(event, ErrorSeen) and flags & _F_ERROR:
                continue
            if isinstance(event, RunCompleted) and flags & _F_END:
                continue  # h17c: the same end said twice (a format's rule and the end vocabulary)
            if isinstance(event, WarningSeen) and flags & (_F_WARNING | _F_ERROR):
                continue
            kept.append(event)
        return kept

    # ------------------------------------------------------------------ the one catch

    def _feed_parser(self, parser: _Parser, line: Record) -> list[Event]:
        try:
            return parser.feed(line)
        except Exception as exc:
            return self._fault(parser, line.number, exc)

    def _finish_parser(self, parser: _Parser) -> list[Event]:
        try:
            return parser.finish()
        except Exception as exc:
            return self._fault(parser, self.lines_seen, exc)

    def _fault(self, parser: object, number: int, exc: Exception) -> list[Event]:
        """A parser raised: the line's events from it are lost, the stream goes on, and the loss is visible."""
        if self.strict:
            raise exc
        owner = getattr(parser, "__self__", parser)
        name = type(owner).__name__
        message = f"hwmon parser fault: {name} failed on line {number}: {type(exc).__name__}: {exc}"[:2000]
        return [WarningSeen(number, None, message, "hwmon")]


def _flags_of(events: Sequence[Event]) -> int:
    flags = 0
    for event in events:
        if isinstance(event, RunCompleted):
            flags |= _F_END
        if isinstance(event, _METRIC_KINDS):
            flags |= _F_METRIC
        elif isinstance(event, ErrorSeen):
            flags |= _F_ERROR
        elif isinstance(event, WarningSeen):
            flags |= _F_WARNING
        elif isinstance(event, CheckpointSaved):
            flags |= _F_METRIC
    return flags


def parse_bytes(data: bytes, *, blocks: bool = False) -> list[Event]:
    """All events of a whole input (``finish`` included)."""
    parser = StreamParser(blocks=blocks)
    events = parser.feed(data)
    events.extend(parser.finish())
    return events
