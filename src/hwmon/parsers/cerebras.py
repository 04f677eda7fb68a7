"""Cerebras output -> events: the appliance client's log (cstorch / modelzoo ``run.py`` / ``cszoo``, R1.x to R2.x)
and the TensorFlow-estimator era lines where they carry steps, loss or samples.

Pure and stateful: ``CerebrasParser.feed(line)`` returns the events for one ``Line``; ``feed_block(block)`` is a
fast path that takes a whole ``LineBlock`` of homogeneous ``| Train Device=..`` lines (plus, interleaved, the
appliance's own checkpoint lines) with C-level ``bytes`` operations and returns ``StepBatch`` events equivalent to
feeding the lines one by one.

Formats handled (generalised from the log format, not from particular files):

- the log prefix ``2024-03-30 12:53:41,263 INFO:   msg`` (any level, ``,`` or ``.`` before the fraction), the
  ``2025-07-11 18:03:47,814:INFO name msg`` variant, ``INFO:root:msg`` / ``INFO:tensorflow:msg`` (no timestamp)
  and a timestamped prefix glued after progress-bar debris; lines without any prefix still parse. The timestamp
  is turned into a ``datetime`` (slicing + ``int``, no ``strptime``) only for lines that produce events.
- phases: compile (the compile request, image build and compile jobs, every compile stage, cached compile, ends
  at ``Compile was successful!``), queue (``Poll ingress status`` waits; ingress ready returns to the phase of the
  job being waited for: compile for a compile job, setup for an execute job), setup (programming, weights,
  staging), train (``Beginning appliance run``, else the first train step line), checkpoint (``Saving checkpoint
  at [global] step N`` .. ``Saved checkpoint ..``), eval (``| Eval Device=`` lines .. ``Evaluation completed``).
  A ``PhaseStarted`` for the phase that is already open carries a new sub-stage ``detail`` (the reducer updates
  the detail of the open phase).
- job ids (compile / execute / ``Job id: .., workflow id: ..``), step lines (train and eval, every variant of
  fields and units, NaN/Inf losses, remaining time), eval metrics, completion lines, ERROR lines, multi-line
  WARNING events (one warning however many lines, nothing inside counted as an error), Python tracebacks,
  gRPC/glog ``E0711 ..`` lines (noise-level errors: ``ErrorSeen(fatal=False, kind="grpc")``: the client retries
  and they appear in healthy runs too; the fatal ERROR lines that follow a real failure carry the failure).
- the step-1 rate: the first step report after the rate tracker is reset (step ``S+1`` of a loop that starts at
  global step ``S``, by default step 1; batch 1 of an eval loop) measures compile and warm-up time, not
  throughput: its ``rate``/``global_rate`` are ``None`` and the printed values are kept in ``extra`` as
  ``raw_rate``/``raw_global_rate``. Both paths apply the same rule.

Traceback, glog-format and ``terminate called`` handling only starts once the output has been recognised as
Cerebras (``VendorDetected``), so that running this parser alongside others over a Graphcore/GPU log does not
double-report their errors.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Literal

from hwmon.events import (
    CheckpointSaved,
    ErrorSeen,
    EvalMetric,
    Event,
    Info,
    JobIdSeen,
    PhaseEnded,
    PhaseName,
    PhaseStarted,
    RunCompleted,
    RunStarted,
    StepBatch,
    StepMetrics,
    VendorDetected,
    WarningSeen,
)
from hwmon.parsers.base import Line, LineBlock

__all__ = ["CerebrasParser", "parse_step_text"]

Mode = Literal["train", "eval"]

# --- prefixes ---------------------------------------------------------------------------------------------------

_LEVELS = frozenset({"INFO", "WARNING", "WARN", "ERROR", "DEBUG", "CRITICAL", "FATAL", "NOTICE", "TRACE"})
# A timestamp followed by a level anywhere in the line: the prefix of a log line glued after progress-bar debris
# (``Initializing module ..: [00:02, note=..]2024-03-14 03:18:49,076 WARNING:``). A timestamp without a level is
# message text ("Event 2025-10-13 14:47:50 +0000 UTC") and is not a prefix.
_TS_ANY = re.compile(
    r"(?<!\d)\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[,.]\d{1,9})?\]?[ :]+"
    r"(?:INFO|WARNING|WARN|ERROR|DEBUG|CRITICAL|FATAL|NOTICE|TRACE)\b"
)
# glog/absl prefix: gRPC core, TensorFlow's C++ and absl logging (``E0711 18:04:02.654472867  609793 file.cc:12]``).
_GLOG = re.compile(r"([IWEF])(\d\d)(\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?\s+\d+\s+([^\s:\]]+):\d+\]\s?(.*)")
_GRPC_FILES = re.compile(r"hpack|chttp2|grpc|subchannel|channel|ev_epoll|tcp_|call\.cc|completion_queue|ssl_")

_CS_EVIDENCE = re.compile(
    r"cerebras[./](?:pytorch|modelzoo|appliance|framework)|cerebras_(?:pytorch|modelzoo|appliance|logs)|"
    r"/cerebras/|venv_cerebras|\bcszoo\b|\bcstorch\b",
    re.IGNORECASE,
)

# --- step lines -------------------------------------------------------------------------------------------------

_TRAIN_MARK = "| Train Device="
_EVAL_MARK = "| Eval Device="
# Fields of a step line are ``Key=value`` separated by ``, `` (older releases: by spaces). A value may itself
# contain ``, `` (``TimeRemaining=1 day, 2:03:04``), so split only before something that looks like a key.
_FIELD_SPLIT = re.compile(r",\s*(?=[A-Za-z_]\w*=)|\s+(?=[A-Za-z_]\w*=)")
# The common train line, parsed in one match (anything else takes the general path below).
_CANON_TRAIN = re.compile(
    r"\| Train Device=([^,\s]*), Step=(\d{1,18}), Loss=([-+]?(?:\d+(?:\.\d*)?|nan|inf)), "
    r"Rate=(\d+(?:\.\d*)?) ([\w/]+), "
    r"GlobalRate=(\d+(?:\.\d*)?) \5(?:, LoopTimeRemaining=(\d+:\d\d:\d\d), TimeRemaining=(\d+:\d\d:\d\d))?\s*$"
)
_NUMBER_UNIT = re.compile(r"\s*([-+]?(?:\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+|nan|inf|infinity))\s*(.*)", re.IGNORECASE)
_DURATION = re.compile(r"(?:(\d{1,18})\s+days?,\s*)?(\d{1,18}):(\d\d):(\d\d(?:\.\d+)?)")

# --- other messages ---------------------------------------------------------------------------------------------

_COMPILE_JOB = re.compile(r"\bcompile job id:\s*(wsjob-[\w-]+)", re.IGNORECASE)
_EXECUTE_JOB = re.compile(r"\bexecute job id:\s*(wsjob-[\w-]+)", re.IGNORECASE)
_JOB_ID = re.compile(r"\bJob id:\s*(wsjob-[\w-]+)", re.IGNORECASE)
_WORKFLOW_ID = re.compile(r"\bworkflow id:\s*(wflow-[\w-]+)", re.IGNORECASE)
# A wsjob id wherever it appears (heartbeat lines, URLs, paths): the appliance names its jobs this way only.
_ANY_WSJOB = re.compile(r"(?<![\w-])(wsjob-[a-z0-9]{12,40})(?![\w-])")  # not "wsjob-dashboard"
_REMOTE_LOG = re.compile(r"remote log path:\s*(\S+)")
_JOB_STATUS = re.compile(r"current job status:\s*(\w+)")
_DASHBOARD = re.compile(r"dashboard:\s*(\S+)")
_HASH = re.compile(r"hash(?: is)?:\s*\"?(cs_\w+)\"?")
_SAVING_CKPT = re.compile(r"^Saving checkpoint(?: at)?(?: global)? step:?\s*(\d{1,18})", re.IGNORECASE)
_SAVED_CKPT_STEP = re.compile(r"^Saved checkpoint at(?: global)? step:?\s*(\d{1,18})", re.IGNORECASE)
_SAVED_CKPT_PATH = re.compile(r"^Saved checkpoint(?: to)?:?\s+(\S+)")
_CKPT_STEP_IN_PATH = re.compile(r"checkpoint_(\d{1,18})")
_PROCESSED = re.compile(
    r"^(?:Training Complete\. Completed|Processed|Completed)\s+(\d{1,18})\s+(?:training\s+|eval(?:uation)?\s+)?"
    r"samples?(?:\(s\))?\s+in\s+([\d.]+(?:[eE][-+]?\d+)?)\s+seconds",
    re.IGNORECASE,
)
_PROCESSED_ANY = re.compile(_PROCESSED.pattern[1:], re.IGNORECASE)
_TF_SAVED_FOR = re.compile(
    r"^Saved checkpoint for global step (\d{1,18}) in (\d{1,9}(?:\.\d+)?) seconds?:?\s*(\S+)?", re.IGNORECASE
)
_TF_FINISHED = re.compile(
    r"(?:Training|Evaluation) finished with\s+(\d{1,18})\s+samples?\s+in\s+([\d.]+(?:[eE][-+]?\d+)?)\s+seconds",
    re.IGNORECASE,
)
_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_TF_LOSS = re.compile(r"\bloss\s*=\s*(" + _NUM + r"|nan|inf)", re.IGNORECASE)
_TF_STEP = re.compile(r"\b(?:global_)?step\s*=\s*(\d{1,18})")
_TF_RATE = re.compile(r"^(global_step/sec|examples/sec|steps/sec|samples/sec):\s*(" + _NUM + ")")
_TF_CKPT = re.compile(r"^Saving checkpoints? for\s+(\d{1,18})\s+into\s+(\S+?)\.?$")
_TF_EVAL_DICT = re.compile(r"^Saving dict for global step\s+(\d{1,18}):\s*(.*)$")
_TF_FINAL_LOSS = re.compile(r"^Loss for final step:\s*(" + _NUM + r"|nan|inf)", re.IGNORECASE)
_KV_EQ = re.compile(r"([\w/.\-]+)\s*=\s*([-+]?(?:\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|nan|inf))", re.IGNORECASE)
_DICT_PAIR = re.compile(r"['\"]([^'\"]+)['\"]\s*:\s*(?:tensor\()?([-+]?(?:\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|nan|inf))")
_EVAL_METRIC_LINE = re.compile(r"^-\s+([\w/.\-]+)\s*[=:]\s*([-+]?(?:\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|nan|inf))\s*$")
_AVG_EVAL_LOSS = re.compile(r"^Avg Eval Loss:?\s*(" + _NUM + r"|nan|inf)", re.IGNORECASE)
_EFFECTIVE_BATCH = re.compile(r"^Effective batch size is\s+(\d{1,18})")
_PREPARING = re.compile(r"^Preparing to execute using\s+(\d{1,18})\s+CSX")
_NETWORK = re.compile(r"^Using network type:\s*(\S+)")
_LOOP = re.compile(
    r"^Starting (?:training|eval\w*) loop\s+(\d{1,18}),\s*from global step\s+(\d{1,18})\s+to\s+(\d{1,18})"
)
_COMMAND = re.compile(r"^\$\s+(.+)$")
_BARE_CSZOO = re.compile(r"^cszoo\s+(?:fit|validate|validate_all|train|eval)\b.*$")
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(?::.*)?$")

# Compile sub-stages, by the start of the message (each becomes the compile phase's detail).
_COMPILE_STAGES: tuple[str, ...] = (
    "Pre-optimization transforms",
    "Optimizing layouts and memory usage",
    "Gradient accumulation",
    "Exploring floorplans",
    "Exploring data layouts",
    "Exploring per-lane",
    "Optimizing memory usage",
    "Post-layout optimizations",
    "Allocating buffers",
    "Code generation",
    "Compiling image",
    "Compiling kernels",
    "Compiling final image",
    "Initiating a new image build job",
    "Custom worker image build",
)
# Setup (programming the wafer, staging weights and input workers), by the start of the message.
_SETUP_STAGES: tuple[str, ...] = (
    "Programming Cerebras Wafer Scale Cluster",
    "Waiting for weight initialization",
    "About to send initial weights",
    "Finished sending initial weights",
    "Finalizing appliance staging",
    "Waiting for device programming",
    "Device programming is complete",
    "Waiting for input workers",
    "Input workers have begun",
    "Appliance staging is complete",
    "Initiating a new execute wsjob",
    "Preparing to execute using",
)
_MAX_DETAIL = 120
_MAX_MESSAGE = 2000
# A multi-line WARNING swallows at most this many continuation lines (a runaway quote must not hide the rest).
_MAX_CONTINUATION = 2000

# --- fast path --------------------------------------------------------------------------------------------------

_B_TRAIN = b"| Train Device="
_B_EVAL = b"| Eval Device="
# Lines the fast path may take besides step lines: the appliance's own checkpoint lines between steps. Each found
# line is checked against _B_CKPT_LINE before it is claimed; anything else makes the block go line by line.
_B_CKPT_NEEDLE = b" checkpoint"
_B_CKPT_LINE = re.compile(rb"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[,.]\d{1,9} INFO: +Sav(?:ing|ed) checkpoint [^\n|%]*\Z")
_B_LOSS_ANY = re.compile(rb"Loss=([^,\s]*)")
_LOSS_FIXED: dict[int, re.Pattern[bytes]] = {}
_MIN_BLOCK_LINES = 8
# Blocks up to this many lines that mix step lines with other lines are walked line by line (bulk step runs,
# other lines through every parser); larger ones are left for the stream to bisect.
_MIXED_MAX_LINES = 2048
# A run of fewer step lines than this (between checkpoint lines) is not worth a StepBatch.
_MIN_BATCH = 4
# The first step line (which gives the block's shape) must be within this many bytes of the block start.
_SHAPE_SEARCH = 1 << 16
_MAX_OTHER_LINES = 256
SAMPLES_PER_BATCH = 64
"""How many evenly spaced StepMetrics a StepBatch carries (first and last included)."""


def _loss_fixed(decimals: int) -> re.Pattern[bytes]:
    pattern = _LOSS_FIXED.get(decimals)
    if pattern is None:
        pattern = re.compile(rb"Loss=(\d+\.\d{%d})," % decimals)
        _LOSS_FIXED[decimals] = pattern
    return pattern


# --- small pure helpers -----------------------------------------------------------------------------------------


def _ts_at(text: str, i: int) -> datetime | None:
    """The datetime of ``YYYY-MM-DD HH:MM:SS[,.]frac`` starting at ``text[i]`` (slicing + int, no strptime)."""
    try:
        year = int(text[i : i + 4])
        month = int(text[i + 5 : i + 7])
        day = int(text[i + 8 : i + 10])
        hour = int(text[i + 11 : i + 13])
        minute = int(text[i + 14 : i + 16])
        second = int(text[i + 17 : i + 19])
        micro = 0
        j = i + 19
        if len(text) > j + 1 and text[j] in ",.":
            k = j + 1
            end = min(len(text), k + 9)
            while k < end and "0" <= text[k] <= "9":
                k += 1
            if k > j + 1:
                micro = int(text[j + 1 : k][:6].ljust(6, "0"))
        return datetime(year, month, day, hour, minute, second, micro)
    except ValueError:
        return None


def _starts_with_ts(text: str) -> bool:
    return (
        len(text) >= 19
        and text[4] == "-"
        and text[7] == "-"
        and text[10] in " T"
        and text[13] == ":"
        and text[16] == ":"
        and text[:4].isdigit()
    )


def _split_prefix(text: str) -> tuple[int, str | None, str]:
    """(index of the timestamp or -1, level or None, message) of one line."""
    ts_i = -1
    j = 0
    if _starts_with_ts(text):
        ts_i = 0
        j = 19
    elif "-" in text and ":" in text:
        m = _TS_ANY.search(text)
        if m is not None:
            ts_i = m.start()
            j = ts_i + 19
    if ts_i >= 0:
        n = len(text)
        if j < n and text[j] in ",.":
            j += 1
            while j < n and "0" <= text[j] <= "9":
                j += 1
        if j < n and text[j] == "]":  # "[2024-01-01 10:00:20,123] INFO: ..."
            j += 1
        while j < n and text[j] in " :":
            j += 1
        k = j
        while k < n and "A" <= text[k] <= "Z":
            k += 1
        word = text[j:k]
        if word in _LEVELS and (k == n or text[k] in ": "):
            if k < n and text[k] == ":":
                k += 1
            return ts_i, word, text[k:].strip()
        return ts_i, None, text[j:].strip()
    # ``INFO:root:msg``, ``INFO:tensorflow:msg``, ``WARNING:   msg``.
    colon = text.find(":")
    if 0 < colon <= 8 and text[:colon] in _LEVELS:
        rest = text[colon + 1 :]
        if rest and rest[0] not in " \t":
            logger_end = rest.find(":")
            space = rest.find(" ")
            if logger_end > 0 and (space < 0 or logger_end < space):
                rest = rest[logger_end + 1 :]
        return -1, text[:colon], rest.strip()
    return -1, None, text.strip()


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def _duration(text: str) -> float | None:
    m = _DURATION.match(text.strip())
    if m is None:
        return None
    days = int(m.group(1)) if m.group(1) else 0
    return days * 86400.0 + int(m.group(2)) * 3600.0 + int(m.group(3)) * 60.0 + float(m.group(4))


def _number_unit(text: str) -> tuple[float | None, str]:
    m = _NUMBER_UNIT.match(text)
    if m is None:
        return None, ""
    return _float(m.group(1)), m.group(2).strip()


def parse_step_text(text: str, number: int, ts: datetime | None, reset_step: int = 1) -> StepMetrics | None:
    """The StepMetrics of one ``| Train Device=..`` / ``| Eval Device=..`` line (``None`` if it is not one).

    Pure: the same function serves the line-by-line path and the fast path's first/last/sampled lines, so both
    agree. ``reset_step`` is the step whose rate is the nonsense of a freshly reset tracker (see module doc).
    """
    i = text.find(_TRAIN_MARK)
    mode: Mode = "train"
    if i < 0:
        i = text.find(_EVAL_MARK)
        if i < 0:
            return None
        mode = "eval"
    if mode == "train":
        canon = _CANON_TRAIN.match(text, i)
        if canon is not None:
            return _canonical_step(canon, number, ts, reset_step)
    body = text[i + 8 if mode == "train" else i + 7 :].strip()
    device: str | None = None
    step: int | None = None
    global_step: int | None = None
    batch: int | None = None
    loss: float | None = None
    rate: float | None = None
    global_rate: float | None = None
    unit = "samples/sec"
    remaining: float | None = None
    epoch: float | None = None
    extra: list[tuple[str, float]] = []
    for part in _FIELD_SPLIT.split(body):
        key, sep, value = part.partition("=")
        if not sep:
            continue
        key = key.strip()
        value = value.strip().rstrip(",").strip()
        if key == "Device":
            device = value or None
        elif key == "Step":
            step = _int(value)
        elif key == "GlobalStep":
            global_step = _int(value)
        elif key == "Batch":
            batch = _int(value)
        elif key == "Loss":
            loss = _float(value)
        elif key == "Rate":
            rate, rate_unit = _number_unit(value)
            if rate_unit:
                unit = rate_unit
        elif key == "GlobalRate":
            global_rate, global_unit = _number_unit(value)
            if global_unit and rate is None:
                unit = global_unit
        elif key == "TimeRemaining":
            remaining = _duration(value)
        elif key == "LoopTimeRemaining":
            loop_remaining = _duration(value)
            if loop_remaining is not None:
                extra.append(("loop_remaining_s", loop_remaining))
        elif key == "Epoch":
            epoch = _float(value)
        else:
            number_value, _ = _number_unit(value)
            if number_value is not None:
                extra.append((key.lower(), number_value))
    if mode == "train":
        if step is None:
            step = global_step
        reset = step is not None and step == reset_step
    else:
        if global_step is not None:
            if step is not None and batch is None:
                batch = step
            step = global_step
        reset = batch == 1
    if remaining is None:
        for key, value in extra:
            if key == "loop_remaining_s":
                remaining = value
    if reset and (rate is not None or global_rate is not None):
        if rate is not None:
            extra.append(("raw_rate", rate))
        if global_rate is not None:
            extra.append(("raw_global_rate", global_rate))
        rate = None
        global_rate = None
    return StepMetrics(
        line=number,
        ts=ts,
        step=step,
        loss=loss,
        rate=rate,
        global_rate=global_rate,
        rate_unit=unit,
        remaining_s=remaining,
        mode=mode,
        device=device,
        batch=batch,
        epoch=epoch,
        extra=tuple(extra),
    )


def _canonical_step(m: re.Match[str], number: int, ts: datetime | None, reset_step: int) -> StepMetrics:
    """The common train line, from one regex match (same result as the general field-by-field path)."""
    step = int(m.group(2))
    rate: float | None = float(m.group(4))
    global_rate: float | None = float(m.group(6))
    extra: tuple[tuple[str, float], ...] = ()
    remaining: float | None = None
    if m.group(7) is not None:
        loop_remaining = _duration(m.group(7))
        remaining = _duration(m.group(8))
        if loop_remaining is not None:
            extra = (("loop_remaining_s", loop_remaining),)
    if step == reset_step:
        extra = (*extra, ("raw_rate", float(m.group(4))), ("raw_global_rate", float(m.group(6))))
        rate = global_rate = None
    return StepMetrics(
        line=number,
        ts=ts,
        step=step,
        loss=_float(m.group(3)),
        rate=rate,
        global_rate=global_rate,
        rate_unit=m.group(5),
        remaining_s=remaining,
        mode="train",
        device=m.group(1) or None,
        extra=extra,
    )


def _step_from_line(text: str, number: int, reset_step: int) -> StepMetrics | None:
    ts_i, _, _ = _split_prefix(text)
    ts = _ts_at(text, ts_i) if ts_i >= 0 else None
    return parse_step_text(text, number, ts, reset_step)


def _detail(msg: str) -> str:
    return msg.split(". ", 1)[0].rstrip(". ")[:_MAX_DETAIL]


class CerebrasParser:
    """Cerebras appliance / modelzoo output -> events. Pure; never raises on input (see module doc)."""

    def __init__(self) -> None:
        self._phase: PhaseName | None = None
        self._phase_before_checkpoint: PhaseName | None = None
        self._job_phase: PhaseName = "setup"
        self._job_kind = "execute"
        self._vendor = False
        self._device: str | None = None
        self._job_ids: set[str] = set()
        self._facts: dict[str, str] = {}
        self._run_open = False
        self._failed = False
        self._reset_step = 1
        self._pending_ckpt_step: int | None = None
        self._eval_metrics = False
        # Multi-line WARNING: continuation lines left; quote: inside ``message='..`` until a line ends with '.
        self._cont = 0
        self._cont_quote = False
        # Traceback: 0 none, 1 inside (frames), 2 after the exception line (its message continues).
        self._tb = 0
        self._terminate: tuple[int, datetime | None, str] | None = None
        self._tf_rate: tuple[float, str] | None = None
        self._tf_last: tuple[int, float | None] | None = None
        self._year: int | None = None
        # Per-line scratch: the current line's text, number and lazily parsed timestamp.
        self._text = ""
        self._number = 0
        self._ts_i = -1
        self._ts: datetime | None = None
        self._ts_done = True

    # --- public API -------------------------------------------------------------------------------------------

    def feed(self, line: Line) -> list[Event]:
        """Events for one line (possibly none)."""
        return self._feed(line.text, line.number)

    def finish(self) -> list[Event]:
        """End of input: report a ``terminate called`` still waiting for its ``what():`` line."""
        out: list[Event] = []
        self._flush_terminate(out)
        return out

    def feed_block(self, block: LineBlock, other: Callable[[Line], list[Event]] | None = None) -> list[Event] | None:
        """Fast path for a block of step lines (see module doc); ``None`` when it cannot take it.

        With ``other`` (the stream's way to run one line through every parser), a block that mixes step lines with
        other lines is taken too: runs of step lines in bulk, every other line handed to ``other`` in order, so a
        live log with a heartbeat line between steps still takes the fast path."""
        events = self._feed_block(block)
        if events is None and other is not None and block.count <= _MIXED_MAX_LINES:
            # Large blocks are better bisected by the stream first (a few odd lines in 30k step lines cost
            # two C passes that way, against a Python step per line here).
            events = self._mixed_block(block, other)
        return events

    # --- line by line -----------------------------------------------------------------------------------------

    def _now(self) -> datetime | None:
        if not self._ts_done:
            self._ts_done = True
            self._ts = _ts_at(self._text, self._ts_i) if self._ts_i >= 0 else None
            if self._ts is not None:
                self._year = self._ts.year
        return self._ts

    def _feed(self, text: str, number: int) -> list[Event]:
        out = self._dispatch(text, number)
        if "wsjob-" in text:
            self._any_wsjob(text, out)
        if not self._vendor and ("erebras" in text or "cszoo" in text or "cstorch" in text):
            self._evidence(text, out)
        return out

    def _evidence(self, text: str, out: list[Event]) -> None:
        """Cerebras named by a path or a command rather than a step line: the package (``cerebras.pytorch``,
        ``cerebras/modelzoo``, ``cerebras_pytorch``), a venv or install dir, ``cszoo``, the run's
        ``cerebras_logs`` directory."""
        if _CS_EVIDENCE.search(text) is not None:
            self._detect(out)

    def _any_wsjob(self, text: str, out: list[Event]) -> None:
        """wsjob ids the specific rules did not take (a heartbeat line, a URL): still this run's jobs."""
        for job_id in _ANY_WSJOB.findall(text):
            if job_id not in self._job_ids:
                self._job_ids.add(job_id)
                self._detect(out)
                kind = "compile" if self._phase == "compile" else ""
                out.append(JobIdSeen(self._number, self._now(), job_id, kind))

    def _dispatch(self, text: str, number: int) -> list[Event]:
        out: list[Event] = []
        if self._terminate is not None and "what():" not in text:
            self._flush_terminate(out)
        ts_i, level, msg = _split_prefix(text)
        self._text = text
        self._number = number
        self._ts_i = ts_i
        self._ts_done = False
        self._ts = None

        if self._cont:
            if self._continuation(text, ts_i, level):
                return out
        if self._tb:
            if self._traceback(text, ts_i, level, msg, out):
                return out
        if not msg:
            return out
        if self._eval_metrics:
            if self._eval_metric(msg, out):
                return out
            self._eval_metrics = False

        if _TRAIN_MARK in msg or _EVAL_MARK in msg:
            self._step(text, number, out)
            return out
        if level is None and ts_i < 0:
            self._unprefixed(text, msg, out)
            return out
        if level in ("WARNING", "WARN"):
            self._warning(msg, out)
            return out
        if level in ("ERROR", "CRITICAL", "FATAL"):
            self._error(msg, level, out)
            return out
        self._message(text, msg, out)
        return out

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
            or (text[:1] in ("E", "F") and text[1:5].isdigit() and _GLOG.match(text) is not None)
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

    def _detect(self, out: list[Event], device: str | None = None) -> None:
        if not self._vendor:
            self._vendor = True
            self._device = device
            out.append(VendorDetected(self._number, self._now(), "cerebras", device))
        elif device and self._device is None:
            self._device = device
            out.append(VendorDetected(self._number, self._now(), "cerebras", device))

    def _to(self, phase: PhaseName, detail: str, out: list[Event]) -> None:
        ts = self._now()
        if self._phase != phase and self._phase is not None:
            out.append(PhaseEnded(self._number, ts, self._phase))
        self._phase = phase
        out.append(PhaseStarted(self._number, ts, phase, detail))

    def _info(self, key: str, value: str, out: list[Event]) -> None:
        # A fact repeated by the log (the compile hash, the dashboard URL) is reported once per value.
        if self._facts.get(key) != value:
            self._facts[key] = value
            out.append(Info(self._number, self._now(), key, value))

    def _end_phase(self, out: list[Event]) -> None:
        if self._phase is not None:
            out.append(PhaseEnded(self._number, self._now(), self._phase))
            self._phase = None

    def _start_run(self, out: list[Event], command: str | None = None) -> None:
        if command is not None or not self._run_open:
            out.append(RunStarted(self._number, self._now(), command))
            self._run_open = True
            self._failed = False

    def _fatal(self, out: list[Event]) -> None:
        if not self._failed:
            self._failed = True
            self._run_open = False
            self._end_phase(out)

    def _step(self, text: str, number: int, out: list[Event]) -> None:
        step = parse_step_text(text, number, self._now(), self._reset_step)
        if step is None:
            return
        self._detect(out, step.device)
        want: PhaseName = "train" if step.mode == "train" else "eval"
        if self._phase != want:
            self._to(want, "", out)
        out.append(step)

    def _unprefixed(self, text: str, msg: str, out: list[Event]) -> None:
        """A line without timestamp or level: command echoes, TF lines, glog lines, tracebacks, aborts."""
        m = _COMMAND.match(msg)
        if m is not None:
            command = m.group(1).strip()
            if "run.py" in command or command.startswith("cszoo") or "modelzoo" in command:
                self._start_run(out, command)
                if "CSX" in command or "cszoo" in command or "cerebras" in command.lower():
                    self._detect(out, "CSX" if "CSX" in command else None)
            return
        if _BARE_CSZOO.match(msg):
            self._start_run(out, msg)
            self._detect(out, "CSX")
            return
        if self._tf_allowed(text) and self._tf(msg, out):
            return
        if not self._vendor:
            return
        if text.startswith("Traceback (most recent call last)"):
            self._tb = 1
            return
        g = _GLOG.match(text)
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

    def _tf_allowed(self, text: str) -> bool:
        # TensorFlow-style ``loss = .., step = ..`` lines are claimed only from TensorFlow's own logger or once
        # the output is known to be Cerebras: other stacks print similar text that their parsers own.
        return self._vendor or "tensorflow" in text[:40]

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

    def _tf(self, msg: str, out: list[Event]) -> bool:
        """TensorFlow-estimator era lines (``INFO:tensorflow:loss = 7.1, step = 100``...)."""
        if "=" in msg and "loss" in msg.lower():
            loss_m = _TF_LOSS.search(msg)
            step_m = _TF_STEP.search(msg)
            if loss_m is not None and step_m is not None and not msg.startswith("Saving dict"):
                rate: float | None = None
                unit = "samples/sec"
                if self._tf_rate is not None:
                    rate, unit = self._tf_rate
                    self._tf_rate = None
                if self._phase != "train":
                    self._to("train", "", out)
                self._tf_last = (int(step_m.group(1)), _float(loss_m.group(1)))
                out.append(
                    StepMetrics(
                        self._number,
                        self._now(),
                        step=int(step_m.group(1)),
                        loss=_float(loss_m.group(1)),
                        rate=rate,
                        rate_unit=unit,
                    )
                )
                return True
        m = _TF_RATE.match(msg)
        if m is not None:
            value = _float(m.group(2))
            if value is not None:
                kind = m.group(1)
                unit = "steps/sec" if kind in ("global_step/sec", "steps/sec") else "samples/sec"
                # examples/sec is the better measure: a steps/sec reading must not replace it.
                if self._tf_rate is None or unit == "samples/sec":
                    self._tf_rate = (value, unit)
            return True
        m = _TF_CKPT.match(msg)
        if m is not None:
            out.append(CheckpointSaved(self._number, self._now(), int(m.group(1)), m.group(2)))
            return True
        m = _TF_EVAL_DICT.match(msg)
        if m is not None:
            self._to("eval", "", out)
            for name, value in _KV_EQ.findall(m.group(2)):
                number_value = _float(value)
                if number_value is not None and name != "global_step":
                    out.append(EvalMetric(self._number, self._now(), name, number_value))
            self._end_phase(out)
            return True
        m = _TF_FINISHED.search(msg)
        if m is not None:
            self._complete(out, int(m.group(1)), _float(m.group(2)), msg)
            return True
        m = _TF_FINAL_LOSS.match(msg)
        if m is not None:
            # The end of an estimator's train(): its last loss, and the run's training is complete.
            self._info("final_loss", m.group(1), out)
            loss = _float(m.group(1))
            if self._tf_last is not None and loss is not None and loss != self._tf_last[1]:
                out.append(StepMetrics(self._number, self._now(), step=self._tf_last[0], loss=loss))
            self._complete(out, None, None, msg)
            return True
        return False

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

    def _complete(self, out: list[Event], samples: int | None, seconds: float | None, msg: str) -> None:
        out.append(
            RunCompleted(
                self._number,
                self._now(),
                samples=samples,
                seconds=seconds,
                success=not self._failed,
                message=msg[:_MAX_MESSAGE],
            )
        )
        if not self._failed:
            self._end_phase(out)
        self._run_open = False

    def _eval_metric(self, msg: str, out: list[Event]) -> bool:
        m = _EVAL_METRIC_LINE.match(msg)
        if m is None:
            return False
        value = _float(m.group(2))
        if value is not None:
            out.append(EvalMetric(self._number, self._now(), m.group(1), value))
        return True

    def _message(self, text: str, msg: str, out: list[Event]) -> None:
        """An INFO/DEBUG (or level-less timestamped) message."""
        first = msg[0]
        # --- checkpoints (the commonest lines between steps) ---
        if first == "S" and msg.startswith(("Saving checkpoint", "Saved checkpoint")) and self._checkpoint(msg, out):
            return
        # --- queue ---
        if msg.startswith("Poll ingress") or msg.startswith("Ingress is ready"):
            self._detect(out)
            lowered = msg.lower()
            if msg.startswith("Ingress is ready") or "poll ingress success" in lowered or "ingress ready" in lowered:
                if self._phase == "queue" or self._phase is None:
                    self._to(self._job_phase, "", out)
                d = _DASHBOARD.search(msg)
                if d is not None:
                    self._info("dashboard", d.group(1), out)
                return
            status = _JOB_STATUS.search(msg)
            if status is not None:
                detail = status.group(1)
            else:
                detail = msg.split(":", 1)[1] if ":" in msg else msg
                detail = detail.split(",", 1)[0]
            self._to("queue", _detail(detail.strip()), out)
            return
        # --- job ids ---
        if "job id" in msg.lower():
            self._job_id(msg, out)
            return
        # --- compile ---
        if msg.startswith("Compiling the model"):
            self._start_run(out)
            self._detect(out)
            self._job_phase = "compile"
            self._to("compile", _detail(msg.split(".")[0]), out)
            return
        if msg.startswith("Initiating a new compile wsjob"):
            self._detect(out)
            self._job_phase, self._job_kind = "compile", "compile"
            self._to("compile", "Compile job", out)
            return
        if msg.startswith("Found existing cached compile") or msg.startswith("Compile artifacts successfully"):
            self._detect(out)
            self._to("compile", "Cached compile" if msg.startswith("Found") else "Writing compile artifacts", out)
            h = _HASH.search(msg)
            if h is not None:
                self._info("compile_hash", h.group(1), out)
            return
        if msg.startswith(("Compile was successful", "Compile successful", "Compilation successful")):
            self._detect(out)
            if self._phase == "compile":
                self._end_phase(out)
            else:
                out.append(PhaseEnded(self._number, self._now(), "compile"))
            return
        if msg.startswith(_COMPILE_STAGES) or (self._phase == "compile" and msg.endswith("...") and len(msg) < 100):
            self._detect(out)
            self._to("compile", _detail(msg), out)
            return
        # --- setup ---
        if msg.startswith(_SETUP_STAGES):
            device = None
            p = _PREPARING.match(msg)
            if p is not None:
                device = "CSX"
                self._info("num_csx", p.group(1), out)
            if msg.startswith("Initiating a new execute wsjob"):
                self._job_phase, self._job_kind = "setup", "execute"
            self._detect(out, device)
            self._to("setup", _detail(msg), out)
            return
        # --- train ---
        if msg.startswith("Beginning appliance run"):
            self._detect(out)
            self._to("train", "", out)
            return
        # --- eval ---
        m = _AVG_EVAL_LOSS.match(msg)
        if m is not None:
            value = _float(m.group(1))
            if value is not None:
                out.append(EvalMetric(self._number, self._now(), "eval/loss", value))
            return
        if msg.startswith("Evaluation metrics") or msg.startswith("Eval metrics"):
            pairs = _DICT_PAIR.findall(msg)
            for name, value in pairs:
                number_value = _float(value)
                if number_value is not None:
                    out.append(EvalMetric(self._number, self._now(), name, number_value))
            if not pairs:
                self._eval_metrics = True
            return
        if msg.startswith("Evaluation completed successfully"):
            if self._phase == "eval":
                self._end_phase(out)
            return
        # --- completion ---
        if msg.startswith("Training completed successfully"):
            # "... successfully! Processed N sample(s) in S seconds." may share the line.
            p = _PROCESSED_ANY.search(msg)
            if p is not None:
                self._complete(out, int(p.group(1)), _float(p.group(2)), msg)
            else:
                self._complete(out, None, None, msg)
            return
        m = _PROCESSED.match(msg)
        if m is not None:
            self._complete(out, int(m.group(1)), _float(m.group(2)), msg)
            return
        # --- run start and facts ---
        if msg.startswith("Checkpoint autoloading is enabled"):
            self._start_run(out)
            return
        m = _LOOP.match(msg)
        if m is not None:
            self._reset_step = int(m.group(2)) + 1
            self._info("target_step", m.group(3), out)
            return
        m = _EFFECTIVE_BATCH.match(msg)
        if m is not None:
            self._info("effective_batch_size", m.group(1), out)
            return
        m = _NETWORK.match(msg)
        if m is not None:
            self._info("network_type", m.group(1), out)
            return
        if self._tf_allowed(text):
            self._tf(msg, out)

    def _checkpoint(self, msg: str, out: list[Event]) -> bool:
        """The appliance's checkpoint lines; False when ``msg`` is not one (TensorFlow's has its own wording)."""
        if msg.startswith("Saving"):
            m = _SAVING_CKPT.match(msg)
            if m is None:
                return False
            self._pending_ckpt_step = int(m.group(1))
            if self._phase != "checkpoint":
                self._phase_before_checkpoint = self._phase
            self._to("checkpoint", f"step {m.group(1)}", out)
            return True
        step: int | None = None
        path: str | None = None
        m = _SAVED_CKPT_STEP.match(msg)
        tf = _TF_SAVED_FOR.match(msg) if m is None else None
        if m is not None:
            step = int(m.group(1))
        elif tf is not None:
            # TensorFlow's "Saved checkpoint for global step N in S seconds: path" (not a path called "for").
            step, path = int(tf.group(1)), tf.group(3)
        else:
            p = _SAVED_CKPT_PATH.match(msg)
            if p is not None:
                path = p.group(1)
                in_path = _CKPT_STEP_IN_PATH.search(path)
                if self._pending_ckpt_step is not None:
                    step = self._pending_ckpt_step
                elif in_path is not None:
                    step = int(in_path.group(1))
        if step is None:
            step = self._pending_ckpt_step
        self._pending_ckpt_step = None
        out.append(CheckpointSaved(self._number, self._now(), step, path))
        if self._phase == "checkpoint":
            self._end_phase(out)
            back = self._phase_before_checkpoint
            self._phase_before_checkpoint = None
            # Checkpoints interrupt training, which resumes; an eval loop has usually finished by the time its
            # checkpoint is written (Avg Eval Loss came first), and its next step line would reopen it anyway.
            if back == "train":
                self._to(back, "", out)
        return True

    def _job_id(self, msg: str, out: list[Event]) -> None:
        ts = self._now()
        found: list[tuple[str, str]] = []
        m = _COMPILE_JOB.search(msg)
        if m is not None:
            found.append((m.group(1), "compile"))
            self._job_phase, self._job_kind = "compile", "compile"
        m = _EXECUTE_JOB.search(msg)
        if m is not None:
            found.append((m.group(1), "execute"))
            self._job_phase, self._job_kind = "setup", "execute"
        if not found:
            m = _JOB_ID.search(msg)
            if m is not None:
                found.append((m.group(1), self._job_kind))
        w = _WORKFLOW_ID.search(msg)
        if w is not None:
            found.append((w.group(1), "workflow"))
        if not found:
            return
        self._detect(out)
        for job_id, kind in found:
            if job_id not in self._job_ids:
                self._job_ids.add(job_id)
                out.append(JobIdSeen(self._number, ts, job_id, kind))
        r = _REMOTE_LOG.search(msg)
        if r is not None:
            self._info("remote_log_path", r.group(1).rstrip(","), out)

    # --- fast path --------------------------------------------------------------------------------------------

    def _steady(self, mode: Mode) -> bool:
        """True when a step line of ``mode`` would produce exactly its StepMetrics and change no state."""
        return (
            self._phase == mode
            and self._device is not None
            and not self._cont
            and not self._tb
            and self._terminate is None
            and not self._eval_metrics
        )

    def _feed_block(self, block: LineBlock) -> list[Event] | None:
        n = block.count
        if n < _MIN_BLOCK_LINES:
            return None
        data = block.data
        found = _block_shape(data)
        if found is None:
            return None
        mode, shape = found
        # The only other lines taken here are the appliance's own checkpoint lines.
        others: list[tuple[int, int]] = []
        pos = data.find(_B_CKPT_NEEDLE)
        while pos >= 0:
            start = data.rfind(b"\n", 0, pos) + 1
            end = data.find(b"\n", pos)
            if len(others) >= _MAX_OTHER_LINES or not _B_CKPT_LINE.match(data, start, end):
                return None
            others.append((start, end))
            pos = data.find(_B_CKPT_NEEDLE, end)
        # Plan every run of step lines (pure: no state changes) and check that step lines + others == all lines:
        # each step line holds ``shape`` exactly once, so counting it is counting them.
        plans: list[tuple[int, int, _Walk]] = []
        pos = 0
        for start, end in [*others, (len(data), len(data))]:
            if start > pos:
                plans.append((pos, start, _walk(data, pos, start, shape)))
            pos = end + 1
        if sum(walk[2] for _, _, walk in plans) + len(others) != n:
            return None
        # Committed: from here every line of the block is taken.
        out: list[Event] = []
        number = block.first_number
        runs = iter(plans)
        run = next(runs, None)
        for o_start, o_end in [*others, (len(data), len(data))]:
            if run is not None and run[0] < o_start:
                number = self._segment(block, run[0], run[1], number, mode, shape, run[2], out)
                run = next(runs, None)
            if o_start < len(data):
                out.extend(self.feed(Line(number, block.offset + o_start, data[o_start:o_end].decode("ascii"))))
                number += 1
        return out

    def _mixed_block(self, block: LineBlock, other: Callable[[Line], list[Event]]) -> list[Event] | None:
        """Runs of step lines of one shape in bulk, every other line through ``other``, all in order."""
        data = block.data
        found = _block_shape(data)
        if found is None:
            return None
        mode, shape = found
        out: list[Event] = []
        number = block.first_number
        run_start = run_number = -1
        pos, end = 0, len(data)
        while pos < end:
            nl = data.index(b"\n", pos)
            if data.find(shape, pos, nl) >= 0:
                if run_start < 0:
                    run_start, run_number = pos, number
            else:
                if run_start >= 0:
                    walk = _walk(data, run_start, pos, shape)
                    self._segment(block, run_start, pos, run_number, mode, shape, walk, out)
                    run_start = -1
                out.extend(other(Line(number, block.offset + pos, data[pos:nl].decode("ascii"))))
            number += 1
            pos = nl + 1
        if run_start >= 0:
            self._segment(block, run_start, end, run_number, mode, shape, _walk(data, run_start, end, shape), out)
        return out

    def _segment(
        self,
        block: LineBlock,
        start: int,
        end: int,
        number: int,
        mode: Mode,
        shape: bytes,
        walk: _Walk,
        out: list[Event],
    ) -> int:
        """Step lines ``data[start:end]`` (the first numbered ``number``) -> events; returns the next number."""
        data = block.data
        if not self._steady(mode):
            # Entering train/eval, or leaving a checkpoint: the first line(s) go the ordinary way.
            while start < end and not self._steady(mode):
                nl = data.index(b"\n", start)
                out.extend(self.feed(Line(number, block.offset + start, data[start:nl].decode("ascii"))))
                start = nl + 1
                number += 1
            if start >= end:
                return number
            walk = _walk(data, start, end, shape)
        batch = self._step_batch(data, start, end, number, walk) if walk[2] >= _MIN_BATCH else None
        if batch is None:
            # Too short to be worth a batch, or a loss that does not parse: line by line.
            while start < end:
                nl = data.index(b"\n", start)
                out.extend(self.feed(Line(number, block.offset + start, data[start:nl].decode("ascii"))))
                start = nl + 1
                number += 1
            return number
        out.append(batch)
        return number + batch.count

    def _step_batch(self, data: bytes, start: int, end: int, number: int, walk: _Walk) -> StepBatch | None:
        positions, indexes, count = walk
        # Exact loss min/max over every line, at C speed: fixed-decimal losses of one width compare as bytes.
        first_nl = data.index(b"\n", start)
        loss_min: float | None = None
        loss_max: float | None = None
        nonfinite = 0
        at = data.find(b"Loss=", start, first_nl)
        comma = data.find(b",", at, first_nl)
        dot = data.find(b".", at, comma)
        found: list[bytes] = []
        if at >= 0 and comma > 0 and dot > 0:
            found = _loss_fixed(comma - dot - 1).findall(data, start, end)
        if len(found) == count:
            if len(set(map(len, found))) == 1:
                # One width, one number of decimals: byte order is numeric order (leading zeros included).
                loss_min, loss_max = float(min(found)), float(max(found))
            elif data.count(b"Loss=0", start, end) != data.count(b"Loss=0.", start, end):
                values = list(map(float, found))  # leading zeros ("05.5"): compare as numbers
                loss_min, loss_max = min(values), max(values)
            else:
                # Unsigned decimals without leading zeros: a wider one is larger, so (width, text) orders them.
                loss_min = float(min(zip(map(len, found), found, strict=True))[1])
                loss_max = float(max(zip(map(len, found), found, strict=True))[1])
        else:
            found = _B_LOSS_ANY.findall(data, start, end)
            if len(found) != count:
                return None
            finite: list[float] = []
            for raw in found:
                try:
                    value = float(raw)
                except ValueError:
                    return None
                if math.isfinite(value):
                    finite.append(value)
                else:
                    nonfinite += 1
            if finite:
                loss_min, loss_max = min(finite), max(finite)
        reset = self._reset_step
        samples: list[StepMetrics] = []
        for line_start, line_index in zip(positions, indexes, strict=True):
            nl = data.index(b"\n", line_start)
            sample = _step_from_line(data[line_start:nl].decode("ascii"), number + line_index, reset)
            if sample is None:
                return None
            samples.append(sample)
        first, last = samples[0], samples[-1]
        return StepBatch(
            line=last.line,
            ts=last.ts,
            first=first,
            last=last,
            count=count,
            loss_min=loss_min,
            loss_max=loss_max,
            nonfinite=nonfinite,
            samples=tuple(samples),
            raw=data[start:end],
            reset_step=reset,
        )


def _block_shape(data: bytes) -> tuple[Mode, bytes] | None:
    """The step lines' shape: every step line carries the same text from after its timestamp up to ``Step=`` as
    the first one does (``INFO:   | Train Device=CSX, Step=``), found near the start of the block."""
    at = data.find(_B_TRAIN, 0, _SHAPE_SEARCH)
    eval_at = data.find(_B_EVAL, 0, at if at >= 0 else _SHAPE_SEARCH)
    mode: Mode = "train"
    if eval_at >= 0:
        at, mode = eval_at, "eval"
    if at < 0:
        return None
    line_start = data.rfind(b"\n", 0, at) + 1
    line_end = data.find(b"\n", at)
    step_at = data.find(b"Step=", at, line_end)
    if step_at < 0:
        return None
    # The level word and separators before the marker belong to the shape; the timestamp does not.
    lead = len(data[line_start:at].rstrip(b" :ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    return mode, data[line_start + lead : step_at + 5]


_Walk = tuple[list[int], list[int], int]
"""Sample line starts, their line indexes in the run, and the number of step lines in the run."""


def _walk(data: bytes, start: int, end: int, shape: bytes) -> _Walk:
    """Evenly spaced sample lines of the step-line run ``data[start:end]`` with exact line indexes, and its count.

    Each step line holds ``shape`` once, so counting it between sample positions (one C pass over the run)
    gives every sample's line index and, at the end, the number of step lines.
    """
    last_start = data.rfind(b"\n", start, end - 1) + 1
    span = last_start - start
    # About one sample per ~500 lines (~64 KB), at most SAMPLES_PER_BATCH (first and last always): parsing a
    # sample costs ~10 us, and the plotted series keeps only a few hundred points however long the run.
    wanted = max(2, min(SAMPLES_PER_BATCH, span // 65536))
    positions: list[int] = [start]
    indexes: list[int] = [0]
    index = 0
    previous = start
    for j in range(1, wanted - 1):
        line_start = data.rfind(b"\n", previous, start + span * j // (wanted - 1)) + 1
        if line_start <= previous:
            continue
        index += data.count(shape, previous, line_start)
        positions.append(line_start)
        indexes.append(index)
        previous = line_start
    if last_start > previous:
        index += data.count(shape, previous, last_start)
        positions.append(last_start)
        indexes.append(index)
    count = index + data.count(shape, last_start, end)
    return positions, indexes, count


def expand_batch(batch: StepBatch) -> Iterator[StepMetrics]:
    """Every step a ``StepBatch`` stands for, in order, as the line-by-line parser reads them."""
    data = batch.raw
    number = batch.first.line
    start = 0
    while start < len(data):
        nl = data.find(b"\n", start)
        if nl < 0:
            nl = len(data)
        metrics = _step_from_line(data[start:nl].decode("ascii", "replace"), number, batch.reset_step)
        if metrics is not None:
            yield metrics
        start = nl + 1
        number += 1
