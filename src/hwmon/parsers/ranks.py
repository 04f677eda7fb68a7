"""The ranks of a multi-rank log: per-rank line counts, steps, hosts and errors, for the stream. Pure.

A launcher that tags each line with its rank (torchrun ``--tee`` ``[default2]:``, torch elastic ``[rank2]:``, Open MPI
``[1,2]<stdout>:``, ``srun --label`` ``2: ``, MPICH ``[2]``, ``[host:2]``; the record stage reads the prefix) lets
hwmon tell which rank is behind, which went silent and which failed first. The stream reads the run from its lowest
rank (the voice) and hands every ranked record here too; ``RankLines`` turns them into:

- ``RankLine`` per line of a rank (``lines`` > 1 for a fast-path block or a catch-up), with the step the line states
  (a cheap reader of ``step N`` / ``iter N`` / ``iteration N/M`` / ``global_step=N`` / a tqdm ``N/M [``), the host
  when the prefix names it, and the line's text (shortened);
- ``RankError`` for a rank's ERROR lines and tracebacks (one small traceback reader per rank that is inside one,
  bounded), and for torch elastic's ``Root Cause (first observed failure)`` block, which names the rank that failed
  first and its host;
- ``ErrorSeen`` for the errors of ranks other than the voice (the voice's own go through the format parsers), so
  another rank's traceback is the run's error too.

A log with a single rank (``[default0]:`` on every line) emits nothing per line: its rank is only counted, and a
catch-up ``RankLine`` is emitted when a second rank first appears. Memory is bounded: at most ``MAX_RANKS`` ranks
(more are counted in ``dropped``), a line's text kept shortened, at most ``MAX_READERS`` traceback readers at once.
"""

from __future__ import annotations

import re
from datetime import datetime

from hwmon.events import ErrorSeen, Event, RankError, RankLine, StepBatch
from hwmon.parsers.multiline import MultilineErrors
from hwmon.parsers.records import Record, strip_prefix

__all__ = ["MAX_RANKS", "MAX_READERS", "RankLines", "read_step"]

MAX_RANKS = 4096
"""Ranks followed one by one; the lines of ranks beyond this many are counted, not kept."""
MAX_READERS = 64
"""Ranks that may be inside a traceback at once (each holds a small reader while it is)."""
TEXT_CHARS = 160
"""A rank's last line is kept up to this many characters (alerts quote it)."""
MAX_MESSAGE = 2000

# "step 12", "Step=12", "step: 12", "global_step=12", "iter 12", "iteration   12/ 100", "[step 12]", "(Step 12)".
_STEP = re.compile(
    r"(?<![\w.])(?:global[_ ]?step|step|iter(?:ation)?)\b\s{0,4}[=:#]?\s{0,12}\[?\s{0,4}(\d{1,15})(?![\d.])",
    re.IGNORECASE,
)
# A tqdm bar's position: "| 12/100 [".
_BAR = re.compile(r"\|\s{0,4}(\d{1,15})/\d{1,15}\s{0,4}\[")
_HOST = re.compile(r"^\[([A-Za-z][\w.-]{0,63}):\d{1,5}\]")
_ERROR_LEVELS = frozenset(("ERROR", "CRITICAL", "FATAL"))
_ROOT_CAUSE = "Root Cause (first observed failure)"
# The fields of one failure in torch elastic's report ("  host      : node01", "  rank      : 2 (local_rank: 2)").
_ELASTIC_FIELD = re.compile(r"^\s*(host|rank|exitcode)\s*:\s*(\S+)(.*)$")
_ROOT_LINES = 12


def read_step(text: str) -> int | None:
    """The step a line states (``step 12``, ``iteration 12/100``, ``global_step=12``, a tqdm ``12/100 [``), or
    None. Cheap on purpose: it runs on every line of every rank."""
    m = _STEP.search(text)
    if m is not None:
        return int(m.group(1))
    if "/" in text and "[" in text:
        b = _BAR.search(text)
        if b is not None:
            return int(b.group(1))
    return None


def _short(text: str) -> str:
    return text if len(text) <= TEXT_CHARS else text[: TEXT_CHARS - 1] + "…"


class _Rank:
    """What is known of one rank (parser side: counts not yet reported, the traceback reader while inside one)."""

    __slots__ = ("host", "host_read", "lines", "pending", "reader", "text")

    def __init__(self) -> None:
        self.host: str | None = None
        self.host_read = False
        self.lines = 0
        self.pending = 0
        self.text = ""
        self.reader: MultilineErrors | None = None


class RankLines:
    """The ranked records of one stream (see the module doc)."""

    __slots__ = ("_multi", "_ranks", "_readers", "_root_left", "_root_host", "dropped")

    def __init__(self) -> None:
        self._ranks: dict[int, _Rank] = {}
        self._multi = False
        self._readers = 0
        self._root_left = 0
        self._root_host: str | None = None
        self.dropped = 0

    @property
    def ranks(self) -> int:
        """How many ranks have been seen (up to ``MAX_RANKS``)."""
        return len(self._ranks)

    # ------------------------------------------------------------------ ranked lines

    def feed(self, record: Record, raw_text: str, voice: bool) -> list[Event]:
        """Events for one ranked record (``record.rank`` set; ``raw_text`` is the line with its prefix; ``voice``:
        the rank the stream reads the run from, whose errors the format parsers report)."""
        rank = record.rank
        assert rank is not None
        out: list[Event] = []
        entry = self._ranks.get(rank)
        if entry is None:
            if len(self._ranks) >= MAX_RANKS:
                self.dropped += 1
                if not voice and record.final and record.level in _ERROR_LEVELS:
                    out.append(ErrorSeen(record.number, record.ts, record.msg[:MAX_MESSAGE], False, f"rank {rank}"))
                return out
            entry = self._ranks[rank] = _Rank()
            if len(self._ranks) == 2:
                self._multi = True
                out.extend(self._catch_up(record.number, record.ts))
        if not entry.host_read:
            # A rank's prefix has the same shape on every line: read its host once.
            entry.host_read = True
            m = _HOST.match(raw_text) if raw_text[:1] == "[" else None
            if m is not None:
                entry.host = m.group(1)
        if not record.final:
            return out
        entry.lines += 1
        entry.pending += 1
        msg = record.msg
        entry.text = _short(msg)
        if self._multi:
            # A traceback's lines state no step (an exception message may well say "at step 12").
            in_error = entry.reader is not None or msg.startswith("Traceback")
            step = None if in_error else read_step(msg)
            out.append(RankLine(record.number, record.ts, rank, entry.pending, step, entry.host, entry.text))
            entry.pending = 0
        self._errors(entry, rank, record, voice, out)
        return out

    def _catch_up(self, line: int, ts: datetime | None) -> list[Event]:
        """The first rank's lines so far, when a second rank appears: one ``RankLine`` standing for them."""
        out: list[Event] = []
        for rank, entry in self._ranks.items():
            if entry.pending:
                step = read_step(entry.text)
                out.append(RankLine(line, ts, rank, entry.pending, step, entry.host, entry.text))
                entry.pending = 0
        return out

    def _errors(self, entry: _Rank, rank: int, record: Record, voice: bool, out: list[Event]) -> None:
        errors: list[ErrorSeen] = []
        reader = entry.reader
        if reader is None and (record.msg.startswith("Traceback") or "terminate called" in record.msg):
            if self._readers < MAX_READERS:
                reader = entry.reader = MultilineErrors(hold=False)
                self._readers += 1
        if reader is not None:
            taken, errors = reader.feed(record)
            if not reader.busy:
                entry.reader = None
                self._readers -= 1
            if taken or errors:
                self._report(rank, errors, voice, out, entry.host)
                if taken:
                    return
        if record.level in _ERROR_LEVELS:
            message = record.msg[:MAX_MESSAGE]
            out.append(RankError(record.number, record.ts, rank, message, False, False, entry.host))
            if not voice:
                out.append(ErrorSeen(record.number, record.ts, message, False, f"rank {rank}"))

    def _report(self, rank: int, errors: list[ErrorSeen], voice: bool, out: list[Event], host: str | None) -> None:
        for error in errors:
            out.append(RankError(error.line, error.ts, rank, error.message, error.fatal, False, host))
            if not voice:
                message = f"rank {rank}: {error.message}"[:MAX_MESSAGE]
                out.append(ErrorSeen(error.line, error.ts, message, error.fatal, f"rank {rank}"))

    # ------------------------------------------------------------------ the launcher's own lines

    def feed_unranked(self, record: Record) -> list[Event]:
        """Events for a line without a rank prefix: torch elastic's root-cause report names the rank that failed
        first (``rank : 2 (local_rank: 2)``) and its host."""
        msg = record.msg
        if not self._root_left:
            if _ROOT_CAUSE in msg:
                self._root_left = _ROOT_LINES
                self._root_host = None
            return []
        self._root_left -= 1
        m = _ELASTIC_FIELD.match(record.text)
        if m is None:
            return []
        key, value = m.group(1), m.group(2)
        if key == "host":
            self._root_host = value[:64]
        elif key == "rank" and value.isdigit():
            self._root_left = 0
            rank = int(value)
            message = f"first observed failure (torch elastic): rank {rank}"
            if self._root_host:
                message += f" on {self._root_host}"
            return [RankError(record.number, record.ts, rank, message, True, True, self._root_host)]
        return []

    @property
    def watching(self) -> bool:
        """Whether unranked lines are being read as part of a root-cause report."""
        return self._root_left > 0

    # ------------------------------------------------------------------ fast path and the end

    def feed_batch(self, batch: StepBatch) -> list[Event]:
        """A fast path read ``batch.count`` step lines at once: when they carry a rank prefix, they are that
        rank's lines (one ``RankLine`` standing for them)."""
        raw = batch.raw
        if not raw or raw[:1] not in b"[ 0123456789":
            return []
        head = raw[:256].split(b"\n", 1)[0].decode("utf-8", "replace")
        _, rank = strip_prefix(head)
        if rank is None:
            return []
        entry = self._ranks.get(rank)
        out: list[Event] = []
        if entry is None:
            if len(self._ranks) >= MAX_RANKS:
                self.dropped += batch.count
                return out
            entry = self._ranks[rank] = _Rank()
            if len(self._ranks) == 2:
                self._multi = True
                out.extend(self._catch_up(batch.line, batch.ts))
        entry.lines += batch.count
        entry.pending += batch.count
        if self._multi:
            last = batch.last
            out.append(RankLine(last.line, last.ts, rank, entry.pending, last.step, entry.host, entry.text))
            entry.pending = 0
        return out

    def finish(self, voice: int | None) -> list[Event]:
        """End of the input (or it went quiet): what the ranks' traceback readers hold (``voice``: the rank whose
        errors the format parsers report)."""
        out: list[Event] = []
        for rank, entry in self._ranks.items():
            if entry.reader is not None:
                self._report(rank, entry.reader.finish(), rank == voice, out, entry.host)
                entry.reader = None
                self._readers -= 1
        return out
