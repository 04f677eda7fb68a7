"""Lines -> records: the launcher/rank prefix, the timestamp, the level and the logger of a line, parsed once. Pure.

Every format parser reads ``Record.msg`` (the message without any of that) and takes the time, level and rank from
the record instead of parsing them again. ``Record`` is a ``Line`` (same ``number``, ``offset``, ``text``, ``final``,
``truncated``; ``text`` is the line without its launcher prefix) with:

- ``rank``: the process rank a launcher tagged the line with: Open MPI / poprun ``--tag-output`` ``[1,0]<stdout>:``
  (job, rank), PyTorch elastic ``[rank0]:`` and torchrun ``--tee`` ``[default0]:``, ``srun --label`` ``0: ``, MPICH
  ``[0] `` and ``[host:0]``; ``None`` for an untagged line.
- ``ts``: the line's own timestamp (naive, in the log's local time) from ONE table of formats (``TIMESTAMP_FORMATS``),
  tried most-recently-successful first, as toolong's ``timestamps.py`` does: a log uses one format throughout, so
  the first try almost always hits. A timestamp with a level glued behind progress-bar debris
  (``...[00:02, note=x]2024-03-14 03:18:49,076 WARNING:``) starts the record there. glog/absl lines carry no year:
  the reader lends them the year of the last full timestamp it saw.
- ``level``: ``DEBUG``/``INFO``/``WARNING``/``ERROR``/``CRITICAL``/``FATAL`` (``WARN`` -> ``WARNING``, glog letters
  -> words) or ``None``; ``logger``: the logger or source the prefix names (``root``, ``tensorflow``,
  ``trainer.py:1234``, ``file.cc:12``) or ``None``.
- ``stamp``: which timestamp format the line starts with (``glog`` for glog/absl lines: the format parsers ask the
  record instead of matching glog again), ``""`` for none.

``starts_record(record)`` says whether a line begins a new log record (a timestamp, a level word, a shell prompt):
the multi-line reader ends a traceback's message there.

Formats seen in real logs (see tests/fixtures/SOURCES.md): Python logging ``2024-03-30 12:53:41,263 INFO:   msg``,
``2025-07-11 18:03:47,814:INFO name msg``, ``[2024-01-01 10:00:20,123] INFO: msg``, DeepSpeed
``[2024-05-01 10:00:00,123] [INFO] [engine.py:1137:_configure] msg``, the HF examples'
``05/01/2024 10:00:00 - INFO - __main__ - msg``, ``INFO:root:msg``, ISO ``2023-04-27T03:39:53.291853Z msg``,
TensorFlow C++ ``2024-05-01 10:00:00.123456: W tensorflow/core/x.cc:12] msg`` and glog/absl
``E0711 18:04:02.654472867  609793 file.cc:12] msg``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from hwmon.parsers.base import Line

__all__ = [
    "TIMESTAMP_FORMATS",
    "Record",
    "RecordReader",
    "TimestampFormat",
    "as_record",
    "leading_timestamp",
    "split_prefix",
    "starts_record",
]

_LEVEL_WORDS = {
    "DEBUG": "DEBUG",
    "INFO": "INFO",
    "NOTICE": "INFO",
    "TRACE": "DEBUG",
    "WARNING": "WARNING",
    "WARN": "WARNING",
    "ERROR": "ERROR",
    "CRITICAL": "CRITICAL",
    "FATAL": "FATAL",
}
_GLOG_LEVELS = {"I": "INFO", "W": "WARNING", "E": "ERROR", "F": "FATAL"}


@dataclass(frozen=True, slots=True)
class Record(Line):
    """One log record (see the module doc). ``text`` is the line without its launcher prefix."""

    msg: str = ""
    ts: datetime | None = None
    level: str | None = None
    logger: str | None = None
    rank: int | None = None
    has_ts: bool = False
    stamp: str = ""
    """The name of the ``TIMESTAMP_FORMATS`` entry the line starts with (``"glog"``, ``"ymd"``, ``"time"``...),
    ``""`` when none: the one place a glog/absl line is recognised."""

    @property
    def line_no(self) -> int:
        """The 1-based line number of the record's (first) line."""
        return self.number


# --- launcher prefixes -----------------------------------------------------------------------------------------

_PREFIX = re.compile(
    r"^(?:"
    r"\[\d+,(?P<mpi>\d+)\]<(?:stdout|stderr|stddiag)>:\s?"  # Open MPI / poprun --tag-output: [job,rank]
    r"|\[(?:rank|default)(?P<torch>\d{1,5})\]:\s?"  # torch elastic [rank0]: / torchrun --tee [default0]:
    r"|\[poprun[^\]]{0,80}\]:?\s?"  # poprun's own tag
    r"|\[[A-Za-z][\w.-]{0,63}:(?P<host>\d{1,5})\]:?\s"  # [host:rank]
    r"|\[(?P<mpich>\d{1,5})\] "  # MPICH/Intel MPI -prepend-rank (h17c: "[N]\t" is a boosting round, not a rank)
    r"|\s{0,4}(?P<srun>\d{1,5}): (?=\S)"  # srun --label
    r"|\((?:[A-Za-z_][\w.:-]{0,80} )?pid=\d{1,9}(?:, ip=[\w.:-]{1,45})?\)\s"  # a Ray actor's: (Worker pid=12)
    r")"
)
_PREFIX_FIRST = frozenset("[( 0123456789")


def strip_prefix(text: str) -> tuple[str, int | None]:
    """``text`` without its launcher tags (at most two deep) and the rank they name (the innermost), if any."""
    rank: int | None = None
    for _ in range(2):
        if text[:1] not in _PREFIX_FIRST:
            break
        m = _PREFIX.match(text)
        if m is None or m.end() == 0:
            break
        for group in ("mpi", "torch", "host", "mpich", "srun"):
            value = m.group(group)
            if value is not None:
                rank = int(value)
                break
        text = text[m.end() :]
    return text, rank


# --- timestamps --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TimestampFormat:
    """One way a line can start with a timestamp: a regex (anchored at the line start, group ``ts`` spanning the
    timestamp) and a parser of the match (``None``: not a real date after all, or a stamp without one)."""

    name: str
    regex: re.Pattern[str]
    parse: Callable[[re.Match[str], int | None], datetime | None]


def _micro(frac: str | None) -> int:
    return int((frac + "000000")[:6]) if frac else 0


def _ymd(m: re.Match[str], year: int | None) -> datetime | None:
    try:
        return datetime(int(m["Y"]), int(m["M"]), int(m["D"]), int(m["h"]), int(m["m"]), int(m["s"]), _micro(m["f"]))
    except ValueError:  # 2024-13-45: looks like a date, is not one
        return None


_MONTHS = {
    name: i
    for i, name in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)
}


def _month(m: re.Match[str], year: int | None) -> datetime | None:
    written = int(m["Y"]) if m["Y"] else year
    if written is None:
        return None
    try:
        return datetime(written, _MONTHS[m["b"]], int(m["D"]), int(m["h"]), int(m["m"]), int(m["s"]), _micro(m["f"]))
    except ValueError:
        return None


def _glog(m: re.Match[str], year: int | None) -> datetime | None:
    if year is None:
        return None
    try:
        return datetime(year, int(m["M"]), int(m["D"]), int(m["h"]), int(m["m"]), int(m["s"]), _micro(m["f"]))
    except ValueError:
        return None


def _time_only(m: re.Match[str], year: int | None) -> datetime | None:
    return None


_HMS = r"(?P<h>\d\d):(?P<m>\d\d):(?P<s>\d\d)(?:[.,](?P<f>\d{1,9}))?"

TIMESTAMP_FORMATS: tuple[TimestampFormat, ...] = (
    # Python logging / ISO 8601 (the zone is dropped, the value kept as written), optionally bracketed.
    TimestampFormat(
        "ymd",
        re.compile(r"\[?(?P<ts>(?P<Y>\d{4})-(?P<M>\d\d)-(?P<D>\d\d)[ T]" + _HMS + r"(?:Z|[+-]\d\d:?\d\d|\s?UTC)?)\]?"),
        _ymd,
    ),
    # The HF examples' datefmt "%m/%d/%Y %H:%M:%S".
    TimestampFormat("mdy", re.compile(r"\[?(?P<ts>(?P<M>\d\d)/(?P<D>\d\d)/(?P<Y>\d{4}) " + _HMS + r")\]?"), _ymd),
    # glog / absl: level letter, MMDD, time, thread id, file:line].
    TimestampFormat(
        "glog",
        re.compile(r"(?P<lvl>[IWEF])(?P<ts>(?P<M>\d\d)(?P<D>\d\d) " + _HMS + r")\s+\d+\s+(?P<src>[^\s:\]]+:\d+)\]"),
        _glog,
    ),
    # A bare time of day ("[04:09:02.177]", "12:00:01"): a record start without a date.
    TimestampFormat("time", re.compile(r"\[?(?P<ts>" + _HMS + r")\]?(?=[\s:\]])"), _time_only),
    # A month's name, the day, maybe the year, the time ("[Mar 29, 16:34:28]", strftime "%b %d, %H:%M:%S"; syslog's
    # "Mar 29 16:34:28"): dated when it names its year or the stream's year is known.
    TimestampFormat(
        "month",
        re.compile(
            r"\[?(?P<ts>(?P<b>Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) {1,2}(?P<D>\d{1,2}),? "
            r"(?:(?P<Y>\d{4}),? )?" + _HMS + r")\]?(?=[\s:\]])"
        ),
        _month,
    ),
)
"""The timestamp formats a line may start with, in their initial order (each reader reorders its own copy)."""

# A timestamp followed by a level anywhere in the line: a record glued after progress-bar debris. A timestamp
# without a level is message text ("Event 2025-10-13 14:47:50 +0000 UTC") and starts nothing.
_EMBEDDED = re.compile(
    r"(?<!\d)\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[,.]\d{1,9})?\]?[ :]+"
    r"(?:INFO|WARNING|WARN|ERROR|DEBUG|CRITICAL|FATAL|NOTICE|TRACE)\b"
)
# After a timestamp: "INFO:   msg", ":INFO name msg", "[INFO] [file.py:12:fn] msg", "- INFO - name - msg",
# ": W tensorflow/x.cc:12] msg".
_AFTER_TS = re.compile(
    r"[\s:,\]-]*(?:"
    r"\[(?P<blvl>[A-Z]{4,8})\](?:\s*\[(?P<bsrc>[^\]\s]{1,120})\])?"
    r"|(?P<lvl>[A-Z]{4,8})\b(?:\s*-\s+(?P<dname>[\w.<>-]{1,80})\s+-(?=\s))?"
    r"|(?P<letter>[IWEF]) (?P<csrc>[^\s\]]{1,160}:\d+)\]"
    # logback / log4j's default layout: "[main] INFO org.x.Train - msg" (a thread, the level, the logger).
    r"|\[[^\]\s]{1,60}\]\s+(?P<tlvl>[A-Z]{4,8})\b(?:\s+(?P<tname>[\w.$<>-]{1,120})\s+-(?=\s))?"
    r")[\s:]*"
)
# A logger's source location after the time and level, unbracketed: "train.py:438 msg", "trainer.cc:12 msg".
_SOURCE = re.compile(r"(?P<src>[\w.-]{1,80}\.(?:py|cc|cpp|c|h|java|scala|rs|go|jl|lua):\d{1,6}(?::\w{1,60})?)\s+")
# A level word, then the time: "INFO 2026-06-12 18:27:59 train.py:438 msg".
_LEVEL_FIRST = re.compile(r"(?P<lvl>DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL|FATAL)\s+(?=\d{4}-\d\d-\d\d[ T])")
# No timestamp: "INFO:root:msg", "WARNING:tensorflow:msg", "INFO: msg", "[INFO] msg".
_BARE_LEVEL = re.compile(
    r"\[?(?P<lvl>DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL|FATAL)\]?:(?:(?P<name>[\w.]{1,80}):(?! ))?\s*"
)


# A time stamp closing a message, bracketed: "[12/01 08:55:00]" (month/day), "[2024-05-01 10:00:00]", "[08:55:00]".
_TRAILING_TS = re.compile(
    r"\s\[(?:(?:(?P<Y>\d{4})-(?P<M>\d\d)-(?P<D>\d\d)|(?P<M2>\d\d)/(?P<D2>\d\d)(?:/(?P<Y2>\d{2}|\d{4}))?)[ T])?"
    + _HMS
    + r"\]$"
)


def _has_level_word(text: str) -> bool:
    # Substring tests (C speed) before the embedded-record regex scans a long line digit by digit.
    return (
        "INFO" in text
        or "WARN" in text
        or "ERROR" in text
        or "DEBUG" in text
        or "CRITICAL" in text
        or ("FATAL" in text or "NOTICE" in text or "TRACE" in text)
    )


# A library's own logger tag ("[transformers] msg", transformers 5 at log level info).
_LOGGER_TAG = re.compile(r"\[(?P<name>[a-z][a-z0-9_.]{2,40})\] ")


class RecordReader:
    """Lines -> records for one stream (it keeps the move-to-front order of the timestamp table and the last year
    seen, for glog lines)."""

    __slots__ = ("_formats", "year")

    def __init__(self) -> None:
        self._formats: list[TimestampFormat] = list(TIMESTAMP_FORMATS)
        self.year: int | None = None

    def read(self, line: Line) -> Record:
        """The record of one line (never raises)."""
        text, rank = strip_prefix(line.text) if line.text[:1] in _PREFIX_FIRST else (line.text, None)
        ts, has_ts, level, logger, msg, stamp = self.split(text)
        if msg[-1:] == "]" and msg[-2:-1].isdigit():
            msg, ts, has_ts = self._trailing(msg, ts, has_ts)
        return Record(
            line.number, line.offset, text, line.final, line.truncated, msg, ts, level, logger, rank, has_ts, stamp
        )

    def split(self, text: str) -> tuple[datetime | None, bool, str | None, str | None, str, str]:
        """(timestamp, whether the line has one, level, logger, message, the timestamp format's name) of a line
        without launcher prefix."""
        first = text[:1]
        if first.isdigit() or first in "[IWEF":
            for index, fmt in enumerate(self._formats):
                m = fmt.regex.match(text)
                if m is None:
                    continue
                if index:
                    # Move to front: the next line most likely has the same format.
                    del self._formats[index]
                    self._formats.insert(0, fmt)
                return self._after(fmt, m, text)
        if first in "DIWECF":
            lead = _LEVEL_FIRST.match(text)
            if lead is not None:
                fmt = self._formats_by_name("ymd")
                m = fmt.regex.match(text, lead.end())
                if m is not None:
                    ts, has_ts, level, logger, msg, stamp = self._after(fmt, m, text)
                    return ts, has_ts, level or _LEVEL_WORDS[lead["lvl"]], logger, msg, stamp
        if len(text) > 24 and _has_level_word(text) and "-" in text:
            e = _EMBEDDED.search(text)
            if e is not None:
                fmt = self._formats_by_name("ymd")
                m = fmt.regex.match(text, e.start())
                if m is not None:
                    return self._after(fmt, m, text)
        if first in "DIWECF[":
            b = _BARE_LEVEL.match(text)
            if b is not None:
                return None, False, _LEVEL_WORDS[b["lvl"]], b["name"], text[b.end() :].strip(), ""
            if first == "[":
                t = _LOGGER_TAG.match(text)
                if t is not None:
                    return None, False, None, t["name"], text[t.end() :].strip(), ""
        return None, False, None, None, text.strip(), ""

    def _trailing(self, msg: str, ts: datetime | None, has_ts: bool) -> tuple[str, datetime | None, bool]:
        """A message that ends in its own time stamp (``[ITER 7000] Saving [12/01 08:55:00]``): the stamp is the
        record's time (when it gives a year, or the stream's year is known and the line has no time of its own),
        and it leaves the message, so its figures are not read as the line's numbers."""
        m = _TRAILING_TS.search(msg)
        if m is None or m.start() == 0:
            return msg, ts, has_ts
        month, day = m["M"] or m["M2"], m["D"] or m["D2"]
        written = m["Y"] or m["Y2"]
        year = (int(written) + (2000 if len(written) == 2 else 0)) if written else self.year
        if ts is None and month is not None and year is not None:
            try:
                ts = datetime(year, int(month), int(day), int(m["h"]), int(m["m"]), int(m["s"]), _micro(m["f"]))
                has_ts = True
            except ValueError:  # 13/45: looks like a date, is not one
                ts = None
        return msg[: m.start()].rstrip(), ts, has_ts

    def _formats_by_name(self, name: str) -> TimestampFormat:
        return next(fmt for fmt in TIMESTAMP_FORMATS if fmt.name == name)

    def _after(
        self, fmt: TimestampFormat, m: re.Match[str], text: str
    ) -> tuple[datetime | None, bool, str | None, str | None, str, str]:
        ts = fmt.parse(m, self.year)
        if fmt.name == "glog":
            return ts, True, _GLOG_LEVELS[m["lvl"]], m["src"], text[m.end() :].strip(), "glog"
        time_only = fmt.name == "time" or (fmt.name == "month" and ts is None)
        if ts is None and not time_only:
            return None, False, None, None, text.strip(), ""
        if ts is not None and ts.year != self.year and not time_only:
            self.year = ts.year
        level: str | None = None
        logger: str | None = None
        rest = m.end()
        a = _AFTER_TS.match(text, rest)
        if a is not None:
            word = a["blvl"] or a["lvl"] or a["tlvl"]
            if word is not None and word in _LEVEL_WORDS:
                level = _LEVEL_WORDS[word]
                logger = a["bsrc"] or a["dname"] or a["tname"]
                rest = a.end()
            elif a["letter"] is not None and not time_only:
                level = _GLOG_LEVELS[a["letter"]]
                logger = a["csrc"]
                rest = a.end()
        if logger is None:
            src = _SOURCE.match(text, len(text) - len(text[rest:].lstrip(" :\t")))
            if src is not None:
                logger = src["src"]
                rest = src.end()
        if time_only:
            # A time of day starts a record but dates nothing: no time; a level word after it is still the
            # record's level, and the message is what follows them ("12:00:04 INFO: Training complete.").
            return None, False, level, logger, text[rest:].strip(" :\t"), "time"
        return ts, True, level, logger, text[rest:].strip(" :\t"), fmt.name


def as_record(line: Line, reader: RecordReader | None = None) -> Record:
    """``line`` itself when it already is a record, else its record (read by ``reader`` or a fresh one)."""
    if isinstance(line, Record):
        return line
    return (reader or RecordReader()).read(line)


def split_prefix(text: str) -> tuple[datetime | None, str | None, str]:
    """(timestamp, level, message) of one line read on its own (no stream state)."""
    ts, _, level, _, msg, _ = RecordReader().split(strip_prefix(text)[0])
    return ts, level, msg


_LEVEL_STARTS = ("INFO", "WARNING", "ERROR", "DEBUG")


def starts_record(line: Line) -> bool:
    """Whether ``line`` begins a new log record: it starts with a timestamp (a time of day too), a level word or a
    shell prompt (``$ ``). Read from the record when ``line`` is one, else from the line read on its own."""
    record = line if isinstance(line, Record) else RecordReader().read(line)
    if record.stamp or record.level is not None:
        return True
    text = record.text
    return text.startswith("$ ") or (text.startswith(_LEVEL_STARTS) and text.split(None, 1)[0].rstrip(":") in _LEVELS)


_LEVELS = frozenset(("INFO", "WARNING", "ERROR", "DEBUG"))


def leading_timestamp(text: str) -> datetime | None:
    """The timestamp at the start of ``text`` (after any launcher prefix), or None."""
    return split_prefix(text)[0]
