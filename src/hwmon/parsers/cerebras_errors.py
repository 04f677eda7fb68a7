"""Cerebras multi-line records and errors: WARNING blocks (one warning however many lines; the cluster's
``Event .. message='...'`` runs to its closing quote), Python tracebacks, ``terminate called``/``what():`` aborts,
glog/absl lines from gRPC and the C++ runtime, ERROR lines (appliance, job and log errors). Pure; a mixin of
``CerebrasParser``.

gRPC/glog ``E0711 ..`` lines are noise-level errors (``ErrorSeen(fatal=False, kind="grpc")``): the client retries and
they appear in healthy runs too; the fatal ERROR lines that follow a real failure carry the failure. Traceback,
glog and ``terminate called`` handling starts only once the output is recognised as Cerebras, so that this parser
running beside others over a Graphcore/GPU log does not double-report their errors.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

from hwmon.events import ErrorSeen, Event, WarningSeen

__all__ = ["GLOG", "CerebrasMultiline"]

_MAX_MESSAGE = 2000
# A multi-line WARNING swallows at most this many continuation lines (a runaway quote must not hide the rest).
_MAX_CONTINUATION = 2000
# glog/absl prefix: gRPC core, TensorFlow's C++ and absl logging (``E0711 18:04:02.654472867  609793 file.cc:12]``).
GLOG = re.compile(r"([IWEF])(\d\d)(\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?\s+\d+\s+([^\s:\]]+):\d+\]\s?(.*)")
_GRPC_FILES = re.compile(r"hpack|chttp2|grpc|subchannel|channel|ev_epoll|tcp_|call\.cc|completion_queue|ssl_")


class CerebrasMultiline:
    """The multi-line state machine; the helpers it calls are ``CerebrasParser``'s."""

    _cont: int
    _cont_quote: bool
    _tb: int
    _terminate: tuple[int, datetime | None, str] | None
    _number: int
    _vendor: bool
    _year: int | None
    # TfEstimatorRules' (declared, not defined here, so the real one is not shadowed in the MRO).
    _tf: Callable[[str, list[Event]], bool]

    def _now(self) -> datetime | None:
        raise NotImplementedError

    def _fatal(self, out: list[Event]) -> None:
        raise NotImplementedError

    def _detect(self, out: list[Event], device: str | None = None) -> None:
        raise NotImplementedError

    def _multiline_start(self, text: str, msg: str, out: list[Event]) -> None:
        """An unprefixed line of a Cerebras run that may start a multi-line error."""
        if text.startswith("Traceback (most recent call last)"):
            self._tb = 1
            return
        g = GLOG.match(text)
        if g is not None:
            self._glog(g, out)
            return
        if msg.startswith("terminate called"):
            self._terminate = (self._number, self._now(), msg[:_MAX_MESSAGE])
            return
        if msg.startswith("what():") and self._terminate is not None:
            number, ts, first = self._terminate
            self._terminate = None
            out.append(ErrorSeen(number, ts, f"{first}: {msg}"[:_MAX_MESSAGE], fatal=True, kind="abort"))
            self._fatal(out)

    def _continuation(self, text: str, ts_i: int, level: str | None) -> bool:
        """True when this line belongs to the multi-line WARNING being read (and is thereby consumed)."""
        self._cont -= 1
        if self._cont_quote:
            if text.rstrip().endswith("'"):
                self._cont = 0
                self._cont_quote = False
            return True
        if (
            (ts_i >= 0 and level is not None)
            or text.startswith("Traceback (most recent call last)")
            or (text[:1] in ("E", "F") and text[1:5].isdigit() and GLOG.match(text) is not None)
        ):
            self._cont = 0
            return False
        return True

    def _traceback(self, text: str, ts_i: int, level: str | None, msg: str, out: list[Event]) -> bool:
        """True when this line belongs to a Python traceback being read."""
        if text.startswith("Traceback (most recent call last)"):
            self._tb = 1
            return True
        if ts_i >= 0 and level is not None:
            self._tb = 0
            return False
        if text.startswith("$ "):
            self._tb = 0  # a shell prompt: the next command's output begins
            return False
        if self._tb == 1:
            if not text.strip() or text[0] in " \t":
                return True
            if text.startswith(("The above exception", "During handling of the above exception")):
                return True
            self._tb = 2
            out.append(ErrorSeen(self._number, self._now(), msg[:_MAX_MESSAGE], fatal=True, kind="traceback"))
            self._fatal(out)
            return True
        # After the exception line its message may run on; a chained traceback may follow.
        if text.startswith(("The above exception", "During handling of the above exception")):
            self._tb = 1
        return True

    def _flush_terminate(self, out: list[Event]) -> None:
        if self._terminate is not None:
            number, ts, message = self._terminate
            self._terminate = None
            out.append(ErrorSeen(number, ts, message, fatal=True, kind="abort"))
            self._fatal(out)

    def _glog(self, g: re.Match[str], out: list[Event]) -> None:
        severity = g.group(1)
        if severity in "IW":
            self._tf(g.group(9), out)
            return
        ts: datetime | None = None
        if self._year is not None:
            try:
                frac = (g.group(7) or "0")[:6].ljust(6, "0")
                ts = datetime(
                    self._year,
                    int(g.group(2)),
                    int(g.group(3)),
                    int(g.group(4)),
                    int(g.group(5)),
                    int(g.group(6)),
                    int(frac),
                )
            except ValueError:
                ts = None
        source = g.group(8)
        kind = "grpc" if _GRPC_FILES.search(source) else "native"
        message = f"{source}: {g.group(9).strip()}"[:_MAX_MESSAGE]
        fatal = severity == "F"
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
