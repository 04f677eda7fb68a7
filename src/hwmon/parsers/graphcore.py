"""Graphcore IPU output: PopTorch/Poplar/PopART log lines and the training scripts commonly run on IPUs.

Recognised (each may be glued after a tqdm bar, so most patterns are searched, not anchored):

- ``[poptorch:cpp] [warning] ...`` / ``[HH:MM:SS.mmm] [poptorch::python] [warning] ...`` -> ``WarningSeen``
  (``error``/``critical`` -> ``ErrorSeen``). PopTorch's Python logger repeats each message on the next line without
  the prefix; that exact repeat is swallowed so a warning counts once.
- Poplar/PopLibs/PopART ``2023-04-27T03:39:53.291853Z PL:POPLIN  123.456 W: ...`` (levels T/D/I/W/E/C) with their
  timestamp as ``ts`` (the log's own UTC time, kept naive): W -> ``WarningSeen``, E/C -> ``ErrorSeen``.
- ``Compiling Model...`` -> ``PhaseStarted("compile")``; ``Compiled/Loaded model in S secs`` ->
  ``PhaseEnded("compile", seconds=S)``. (The ``Graph compilation`` bar itself is ``TqdmParser``'s; here it only
  identifies the vendor.)
- ``Accuracy on test set: 98.72%`` -> ``EvalMetric("test_accuracy", 0.9872)`` and ``RunCompleted`` (it is the
  last line of a PopTorch MNIST-style run).
- HF Trainer and Keras lines (also common on IPUs) are ``hftrainer``'s and ``keras``'s.
- ``step 3 of epoch 0, loss: 10.8, acc: 2e-05, lr: 7.5e-05, throughput: 1064.3 samples/sec`` (graphcore/examples
  GPT-2) -> ``StepMetrics(step, loss, rate=throughput, epoch, extra=(acc, lr))``.
- ``terminate called after throwing an instance of 'poplar::graph_memory_allocation_error'`` with its
  ``what():  Out of memory ...`` line -> ONE ``ErrorSeen(fatal=True, kind="oom")`` carrying the ``what()`` text
  (also for a lone ``Out of memory on tile``/``Cannot fit all variable data`` line; the same text again within
  50 lines is the same error). The generic parser may also
  report ``terminate called``/``what():`` generically; ``kind="oom"`` marks this one as the specific report so
  the two can be told apart. ``Profile saved to: P`` -> ``Info("poplar_profile", P)``.
- Slurm: ``srun: job N queued and waiting for resources`` -> ``RunStarted`` + ``JobIdSeen(N, "slurm")`` +
  ``PhaseStarted("queue")``; ``srun: job N has been allocated resources`` -> ``PhaseEnded("queue")``;
  ``salloc: Granted job allocation N`` / ``Submitted batch job N`` -> ``JobIdSeen`` (for this parser used on its
  own: ``hwmon.parsers.stream`` handles Slurm's lines itself and does not pass them to the format parsers).
  ``mpirun``/``poprun`` ``[1,0]<stdout>:`` and ``srun --label`` ``0:`` prefixes are stripped before matching.
- ``VendorDetected("graphcore", device="IPU")`` on decisive lines (poptorch/Poplar/PopART lines, ``IPU``,
  ``Graph compilation``, ``Compiled/Loaded model``, ``--ipus``, poplar errors), at most once per 1000 lines and
  again right after each ``RunStarted`` this parser emits, so a consumer that reset for a new run learns the
  vendor again without being flooded.

``Device Allocation`` tables, ``Arguments: Namespace(...)`` lines and ``Model config: GPT2Config {...}`` JSON give
nothing but (for the tables) the vendor.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from hwmon.events import (
    ErrorSeen,
    EvalMetric,
    Event,
    Info,
    JobIdSeen,
    PhaseEnded,
    PhaseStarted,
    RunStarted,
    StepMetrics,
    VendorDetected,
    WarningSeen,
)
from hwmon.parsers import vocab
from hwmon.parsers.base import Line
from hwmon.parsers.records import Record, RecordReader, as_record
from hwmon.parsers.rules import Rule, RuleTable, stamp

__all__ = ["GraphcoreParser"]

_FLOAT = vocab.NUM

# One cheap search decides whether a line can concern this parser at all (most lines of a big log do not).
_TRIGGER = re.compile(
    r"pop(?:torch|art|lar|run)|P[LOU]:|IPU|ipus|Graph compilation|Compil|"
    r"on (?:the )?(?:test|val|eval)|of epoch|terminate called|what\(\)|Out of memory|"
    r"Cannot fit|srun:|salloc:|Submitted batch job|Profile saved"
)
_VENDOR = re.compile(
    r"\[pop(?:torch|art)|pop(?:torch|art|lar|run)\b|poplar::|\bP[LOU]:[A-Z]|\bpopart:|\bIPUs?\b|--ipus|"
    r"Graph compilation|Compiled/Loaded model|Compiling Model\.\.\.|optimum[/.]graphcore|poplar_sdk|gc-monitor"
)
# A framework banner listing accelerators it did not find ("IPU available: False, using: 0 IPUs") is no evidence.
_ABSENT = re.compile(r"\bavailable: False|\busing: 0 |\bused: False")
_POPTORCH = re.compile(
    r"(?:\[(?P<time>\d\d:\d\d:\d\d(?:\.\d+)?)\]\s*)?\[(?P<src>pop(?:torch|art)(?:::?\w+)?)\]\s*"
    r"\[(?P<lvl>trace|debug|info|warning|warn|error|err|critical)\]\s?(?P<msg>.*)",
    re.I,
)
_POPLAR = re.compile(
    r"(?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?)Z?\s+(?P<mod>[A-Za-z]+:[A-Za-z_]+)\s+\d+\.\d+\s+"
    r"(?P<lvl>[TDIWEC]):\s?(?P<msg>.*)"
)
# Older SDKs: "09:16:12.345 12345 PO:ENGINE   [W] message" (time-only, so no ``ts``).
_POPLAR_OLD = re.compile(
    r"(?<![\w:])(?P<mod>P[LO]:[A-Z_]+|popart:\w+)\s+(?:\d+(?:\.\d+)?\s+)?\[(?P<lvl>[TDIWEC])\]\s?(?P<msg>.*)"
)
_COMPILING = re.compile(r"^\s*Compiling Model\.\.\.")
_COMPILED = re.compile(r"\b(?:Compiled/Loaded|Compiled|Loaded) model in (?P<s>" + _FLOAT + r") secs?\b")
# "Accuracy on test set: 98.72%": found from the literal " on " (fast), the metric is the word before it.
_EVAL_LINE = re.compile(
    r"\bon (?:the )?(?P<set>test|validation|val|eval\w*) (?:set|data(?:set)?)\s*[:=]\s*(?P<v>"
    + _FLOAT
    + r")\s*(?P<pct>%)?",
    re.I,
)
_EVAL_METRIC_WORD = re.compile(r"(?P<metric>[A-Za-z][\w-]*)\s+$")
_GPT2_STEP = re.compile(r"\bstep (?P<step>\d{1,18}) of epoch (?P<epoch>\d{1,18})(?P<rest>.*)$")
_KV_COLON = re.compile(r"(?P<k>[A-Za-z_][\w ]*?):\s*(?P<v>" + _FLOAT + r")(?:\s*(?P<unit>[A-Za-z]+/\w+))?", re.I)
_TERMINATE = re.compile(r"terminate called after throwing an instance of '(?P<what>[^']+)'")
_WHAT = re.compile(r"^\s*what\(\):\s*(?P<msg>.*)$")
_OOM_TEXT = re.compile(r"Out of memory(?: on tile \d+)?:|Cannot fit all variable data|graph_memory_allocation_error")
_PROFILE = re.compile(r"Profile saved to:\s*(?P<path>\S+)")
_SRUN_QUEUED = re.compile(r"^\s*s(?:run|alloc): (?:job (?P<a>\d+) queued|Pending job allocation (?P<b>\d+))")
_SRUN_ALLOCATED = re.compile(
    r"^\s*s(?:run|alloc): (?:job (?P<a>\d+) has been allocated|Granted job allocation (?P<b>\d+))"
)
_SBATCH = re.compile(r"^\s*Submitted batch job (?P<a>\d+)")

_VENDOR_EVERY = 1000
_OOM_REPEAT_LINES = 50
_THROUGHPUT_KEYS = ("throughput", "samples_per_sec", "samples/sec", "tput")


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _snake(text: str) -> str:
    key = re.sub(r"\(.*?\)", "", text).strip().lower()
    key = re.sub(r"[^\w]+", "_", key).strip("_")
    return key


class GraphcoreParser:
    """Pure parser of Graphcore/PopTorch output and of the trainer formats IPU runs print. Never raises."""

    def __init__(self) -> None:
        self._vendor_line: int | None = None
        self._dup_message: str | None = None
        self._pending_oom: tuple[int, str] | None = None
        self._last_oom: tuple[str, int] | None = None
        self._jobs_started: set[str] = set()
        self._terminate_line = -1
        self._reader = RecordReader()

    # --- interface ------------------------------------------------------------------------------------------------

    def feed(self, line: Line) -> list[Event]:
        """Events for this line (and, when a held ``terminate called`` line gets no ``what():``, for that one)."""
        out: list[Event] = []
        self._feed(as_record(line, self._reader), out)
        stamp(out, 0, "graphcore:oom")  # what the rows did not name: a held out-of-memory error, released
        return out

    def accepts_redraws(self, texts: list[str]) -> bool:
        """Whether a run of plain-bar redraws changes nothing here: no message to swallow a repeat of, no abort
        waiting for its ``what():``, nothing this format reads."""
        if self._dup_message is not None or self._pending_oom is not None:
            return False
        # (_TRIGGER is literals only: found in no redraw when not found in them joined)
        return _TRIGGER.search("\r".join(texts)) is None

    def accepts_plain_redraws(self, units: frozenset[str]) -> bool:
        """``accepts_redraws`` of a run of plain tqdm bars (``hwmon.parsers.tqdm_redraws.PLAIN_REDRAW``) counting in
        ``units``, without reading it: a plain bar holds letters only in its unit, right before ``/s]``, so of
        ``_TRIGGER``'s words only those of letters alone (``IPU``, ``poplar``, ``Compil``...) can be in it, and only
        in its unit: the trigger is looked for in the units."""
        if self._dup_message is not None or self._pending_oom is not None:
            return False
        return not any(_TRIGGER.search(unit) for unit in units)

    def take_redraws(self, texts: list[str], line: int) -> list[Event]:
        return []

    def finish(self) -> list[Event]:
        """Flush a held ``terminate called`` line that never got its ``what():``."""
        out: list[Event] = []
        self._flush_oom(out)
        stamp(out, 0, "graphcore:oom")
        return out

    # --- dispatch -------------------------------------------------------------------------------------------------

    def _feed(self, line: Record, out: list[Event]) -> None:
        # The record's text: launcher prefixes are gone (the record stage strips them, once, for every parser).
        text = line.text
        dup, self._dup_message = self._dup_message, None
        if self._pending_oom is not None:
            what = _WHAT.match(text)
            if what is not None:
                self._oom(line, what["msg"].strip(), out)
                self._pending_oom = None
                self._vendor(line, out)
                return
            self._flush_oom(out)
        if dup is not None and text.strip() == dup:
            # PopTorch's Python logger prints each message twice; the unprefixed repeat is the same warning.
            return
        if not _TRIGGER.search(text):
            return
        # Every row whose needle is in the line and whose pattern matches (output is often glued: one line may
        # hold a bar's debris, a PopTorch warning and a compile line).
        ROWS.run(self, line, out, text)

    def _on_vendor(self, m: re.Match[str], line: Record, out: list[Event]) -> None:
        if _ABSENT.search(m.string) is None:
            self._vendor(line, out)

    def _poplar_line(self, m: re.Match[str], line: Record, out: list[Event]) -> None:
        # A Poplar/PopART record in the newer form (ISO time, module, elapsed, level letter), else the older one.
        found = _POPLAR.search(m.string)
        if found is None and "[" in m.string:
            found = _POPLAR_OLD.search(m.string)
        if found is not None:
            self._poplar(found, line, out)

    def _compiling(self, m: re.Match[str], line: Record, out: list[Event]) -> None:
        out.append(PhaseStarted(line.number, None, "compile", "Compiling Model"))

    def _compiled(self, m: re.Match[str], line: Record, out: list[Event]) -> None:
        out.append(PhaseEnded(line.number, None, "compile", _float(m["s"])))

    # --- vendor / logging lines -----------------------------------------------------------------------------------

    def _vendor(self, line: Line, out: list[Event]) -> None:
        if self._vendor_line is None or line.number - self._vendor_line >= _VENDOR_EVERY:
            self._vendor_line = line.number
            out.append(VendorDetected(line.number, None, "graphcore", "IPU"))

    def _run_started(self, line: Line, out: list[Event], command: str | None = None) -> None:
        out.append(RunStarted(line.number, None, command))
        if self._vendor_line is not None:
            # The consumer may have reset its state for this new run: tell it the vendor again.
            self._vendor_line = None
            self._vendor(line, out)

    def _poptorch(self, m: re.Match[str], line: Record, out: list[Event]) -> None:
        level = m["lvl"].lower()
        message = m["msg"].strip()
        source = m["src"]
        if level in ("warning", "warn"):
            out.append(WarningSeen(line.number, None, message, source))
        elif level in ("error", "err", "critical"):
            out.append(ErrorSeen(line.number, None, message, False, "poptorch"))
        else:
            return
        if "python" in source.lower():
            self._dup_message = message

    def _poplar(self, m: re.Match[str], line: Record, out: list[Event]) -> None:
        # The Poplar line's own ISO time (glued behind other output too), read by the record stage's table.
        ts = self._reader.split(m.string[m.start() :])[0] if "ts" in m.re.groupindex else None
        level = m["lvl"]
        message = m["msg"].strip()
        if level == "W":
            out.append(WarningSeen(line.number, ts, message, m["mod"]))
        elif level in ("E", "C"):
            out.append(ErrorSeen(line.number, ts, message, False, "poplar"))

    def _eval_line(self, m: re.Match[str], line: Record, out: list[Event]) -> None:
        text = m.string
        value = _float(m["v"])
        if value is None:
            return
        if m["pct"]:
            value /= 100.0
        split = m["set"].lower()
        word = _EVAL_METRIC_WORD.search(text, max(0, m.start() - 64), m.start())
        metric = _snake(word["metric"]) if word is not None else "metric"
        # A result line is an evaluation (a short one, when nothing announced it), never the end of the run: a
        # script may print one after every epoch.
        out.append(PhaseStarted(line.number, None, "eval", f"{split} set"))
        out.append(EvalMetric(line.number, None, f"{split}_{metric}", value))
        out.append(PhaseEnded(line.number, None, "eval"))

    def _gpt2_step(self, m: re.Match[str], line: Record, out: list[Event]) -> None:
        loss: float | None = None
        rate: float | None = None
        rate_unit = "samples/sec"
        extra: list[tuple[str, float]] = []
        for kv in _KV_COLON.finditer(m["rest"]):
            key = _snake(kv["k"])
            value = _float(kv["v"])
            if value is None:
                continue
            if key == "loss":
                loss = value
            elif key in _THROUGHPUT_KEYS:
                rate = value
                if kv["unit"]:
                    rate_unit = kv["unit"]
            else:
                extra.append((key, value))
        out.append(
            StepMetrics(
                line.number,
                None,
                int(m["step"]),
                loss=loss,
                rate=rate,
                rate_unit=rate_unit,
                epoch=float(m["epoch"]),
                extra=tuple(extra),
            )
        )

    # --- errors / scheduler ---------------------------------------------------------------------------------------

    def _on_terminate(self, m: re.Match[str], line: Record, out: list[Event]) -> None:
        what = m["what"]
        self._terminate_line = line.number
        if "memory_allocation" in what or "out_of_memory" in what:
            self._pending_oom = (line.number, what)

    def _on_profile(self, m: re.Match[str], line: Record, out: list[Event]) -> None:
        if self._terminate_line != line.number:
            out.append(Info(line.number, None, "poplar_profile", m["path"]))

    def _on_oom_text(self, m: re.Match[str], line: Record, out: list[Event]) -> None:
        if self._terminate_line != line.number:
            what = _WHAT.match(m.string)
            message = what["msg"].strip() if what is not None else m.string.strip()
            self._oom(line, message, out)

    def _repeated_oom(self, message: str, number: int) -> bool:
        """The same out-of-memory text again within a few lines (the exception echoed by a traceback or a log
        line) is the same error; further away it is a new one (a second run in the same file)."""
        last = self._last_oom
        self._last_oom = (message, number)
        return last is not None and last[0] == message and 0 <= number - last[1] <= _OOM_REPEAT_LINES

    def _oom(self, line: Line, message: str, out: list[Event]) -> None:
        if self._repeated_oom(message, line.number):
            return
        out.append(ErrorSeen(line.number, None, message, True, "oom"))
        m = _PROFILE.search(message)
        if m is not None:
            out.append(Info(line.number, None, "poplar_profile", m["path"]))

    def _flush_oom(self, out: list[Event]) -> None:
        if self._pending_oom is None:
            return
        number, what = self._pending_oom
        self._pending_oom = None
        message = f"terminate called after throwing an instance of '{what}'"
        if not self._repeated_oom(message, number):
            out.append(ErrorSeen(number, None, message, True, "oom"))

    def _on_srun_queued(self, m: re.Match[str], line: Record, out: list[Event]) -> None:
        job = m["a"] or m["b"]
        if job not in self._jobs_started:
            self._jobs_started.add(job)
            self._run_started(line, out, None)
        out.append(JobIdSeen(line.number, None, job, "slurm"))
        out.append(PhaseStarted(line.number, None, "queue", "Slurm queue"))

    def _on_srun_allocated(self, m: re.Match[str], line: Record, out: list[Event]) -> None:
        job = m["a"] or m["b"]
        if job not in self._jobs_started:
            self._jobs_started.add(job)
            self._run_started(line, out, None)
            out.append(JobIdSeen(line.number, None, job, "slurm"))
        else:
            out.append(PhaseEnded(line.number, None, "queue"))

    def _on_sbatch(self, m: re.Match[str], line: Record, out: list[Event]) -> None:
        out.append(JobIdSeen(line.number, None, m["a"], "slurm"))


_POPLAR_ANY = re.compile(r"P[LO]:|popart:")


def _row(name: str, needles: tuple[str, ...], pattern: re.Pattern[str], handler: Callable[..., None]) -> Rule:
    return Rule("graphcore:" + name, needles, pattern, handler, on="text")


ROWS = RuleTable(
    (
        _row("vendor", ("",), _VENDOR, GraphcoreParser._on_vendor),
        _row("poptorch", ("[pop", "[Pop"), _POPTORCH, GraphcoreParser._poptorch),
        _row("poplar", ("PL:", "PO:", "popart:"), _POPLAR_ANY, GraphcoreParser._poplar_line),
        _row("compiling", ("Compiling Model",), _COMPILING, GraphcoreParser._compiling),
        _row("compiled", ("model in",), _COMPILED, GraphcoreParser._compiled),
        _row("eval", (" on ",), _EVAL_LINE, GraphcoreParser._eval_line),
        _row("gpt2_step", ("of epoch",), _GPT2_STEP, GraphcoreParser._gpt2_step),
        _row("terminate", ("terminate called",), _TERMINATE, GraphcoreParser._on_terminate),
        _row("profile", ("Profile saved",), _PROFILE, GraphcoreParser._on_profile),
        _row(
            "oom",
            ("Out of memory", "Cannot fit", "graph_memory_allocation_error"),
            _OOM_TEXT,
            GraphcoreParser._on_oom_text,
        ),
        Rule(
            "graphcore:srun_queued",
            ("srun", "salloc"),
            _SRUN_QUEUED,
            GraphcoreParser._on_srun_queued,
            on="text",
            how="match",
        ),
        Rule(
            "graphcore:srun_allocated",
            ("srun", "salloc"),
            _SRUN_ALLOCATED,
            GraphcoreParser._on_srun_allocated,
            on="text",
            how="match",
        ),
        Rule("graphcore:sbatch", ("Submitted",), _SBATCH, GraphcoreParser._on_sbatch, on="text", how="match"),
    ),
    "all",
)
"""The rule table: every row whose needle is in the line and whose pattern matches runs, in order."""
