"""Cerebras multi-line records and errors: WARNING blocks (one warning however many lines; the cluster's
``Event .. message='...'`` runs to its closing quote), glog/absl lines from gRPC and the C++ runtime, ERROR lines
(appliance, job and log errors). Tracebacks and ``terminate called``/``what():`` aborts are read by the shared
``hwmon.parsers.multiline``. Pure; a mixin of ``CerebrasParser``.

gRPC/glog ``E0711 ..`` lines are noise-level errors (``ErrorSeen(fatal=False, kind="grpc")``): the client retries and
they appear in healthy runs too; the fatal ERROR lines that follow a real failure carry the failure. Glog handling
starts only once the output is recognised as Cerebras, so that this parser running beside others over a
Graphcore/GPU log does not double-report their errors.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

from hwmon.events import ErrorSeen, Event, WarningSeen
from hwmon.parsers.records import Record

__all__ = ["CerebrasMultiline"]

_MAX_MESSAGE = 2000
# A multi-line WARNING swallows at most this many continuation lines (a runaway quote must not hide the rest).
_MAX_CONTINUATION = 2000
_GRPC_FILES = re.compile(r"hpack|chttp2|grpc|subchannel|channel|ev_epoll|tcp_|call\.cc|completion_queue|ssl_")


class CerebrasMultiline:
    """The multi-line state machine; the helpers it calls are ``CerebrasParser``'s."""

    _cont: int
    _cont_quote: bool
    _number: int
    _vendor: bool
    # TfEstimatorRules' (declared, not defined here, so the real one is not shadowed in the MRO).
    _tf: Callable[[str, list[Event]], bool]

    def _now(self) -> datetime | None:
        raise NotImplementedError

    def _fatal(self, out: list[Event]) -> None:
        raise NotImplementedError

    def _detect(self, out: list[Event], device: str | None = None) -> None:
        raise NotImplementedError

    def _multiline_start(self, record: Record, out: list[Event]) -> None:
        """An unprefixed line of a Cerebras run: a glog/absl line (the record stage recognises them; tracebacks
        and aborts are the shared ``MultilineErrors``')."""
        if record.stamp == "glog":
            self._glog(record, out)

    def _continuation(self, record: Record, ts_i: int, level: str | None) -> bool:
        """True when this line belongs to the multi-line WARNING being read (and is thereby consumed)."""
        text = record.text
        self._cont -= 1
        if self._cont_quote:
            if text.rstrip().endswith("'"):
                self._cont = 0
                self._cont_quote = False
            return True
        if (
            (ts_i >= 0 and level is not None)
            or text.startswith("Traceback (most recent call last)")
            or (record.stamp == "glog" and record.level in ("ERROR", "FATAL"))
        ):
            self._cont = 0
            return False
        return True

    def _glog(self, record: Record, out: list[Event]) -> None:
        if record.level in ("INFO", "WARNING"):
            self._tf(record.msg, out)
            return
        # The record stage dated the line (glog carries no year: it lends the last full timestamp's).
        ts = self._now()
        source = (record.logger or "").rsplit(":", 1)[0]
        kind = "grpc" if _GRPC_FILES.search(source) else "native"
        message = f"{source}: {record.msg}"[:_MAX_MESSAGE]
        fatal = record.level == "FATAL"
        out.append(ErrorSeen(self._number, ts, message, fatal=fatal, kind=kind))
        if fatal:
            self._fatal(out)

    def _warning(self, msg: str, out: list[Event]) -> None:
        out.append(WarningSeen(self._number, self._now(), msg[:_MAX_MESSAGE], source="cerebras"))
        self._cont = _MAX_CONTINUATION
        # ``Event .. message='...`` from the cluster: its text runs until the closing quote, timestamps and all.
        q = msg.find("message='")
        self._cont_quote = q >= 0 and not msg.endswith("'")

    def _error(self, msg: str, level: str, out: list[Event]) -> None:
        kind = "log"
        fatal = level in ("CRITICAL", "FATAL")
        if "Initiating shutdown sequence" in msg or "Appliance error" in msg:
            kind, fatal = "appliance", True
        elif "failed due to" in msg or (msg.startswith("Job ") and " failed" in msg):
            kind, fatal = "job", True
        if "wsjob-" in msg or "Appliance" in msg:
            self._detect(out)
        out.append(ErrorSeen(self._number, self._now(), msg[:_MAX_MESSAGE], fatal=fatal, kind=kind))
        if fatal:
            self._fatal(out)
