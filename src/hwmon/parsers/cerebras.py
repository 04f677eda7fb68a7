"""Cerebras output -> events: the appliance client's log (cstorch / modelzoo ``run.py`` / ``cszoo``, R1.x to R2.x)
and the TensorFlow-estimator era lines where they carry steps, loss or samples. Pure and stateful.

``CerebrasParser`` reads records (``hwmon.parsers.records``: the timestamp, level and message are the record
stage's) and dispatches each one; the format's pieces live in their own modules, mixed into the parser:

- ``cerebras_steps``: the ``| Train Device=..`` / ``| Eval Device=..`` step lines (and the step-1 rate rule);
- ``cerebras_fast``: the bytes fast path (``feed_block``: a ``LineBlock`` of step lines -> ``StepBatch``);
- ``cerebras_appliance``: queue/compile/setup/train/eval phases, job ids, the run's facts;
- ``cerebras_errors``: WARNING blocks, tracebacks, ``terminate called``, glog/gRPC lines, ERROR lines;
- ``tf_estimator``: ``INFO:tensorflow:`` lines.

Here: the dispatch, checkpoints (``Saving checkpoint at [global] step N`` .. ``Saved checkpoint ..``, the checkpoint
phase between them, training resuming after), completion lines (``Training completed successfully!``, ``Processed
N sample(s) in S seconds``, both on one line too), command echoes that start a run, and vendor evidence beyond
step lines: wsjob ids wherever they appear (heartbeat lines, URLs) and Cerebras paths or commands
(``cerebras/pytorch``, ``venv_cerebras``, ``cszoo``, ``cerebras_logs``).

Traceback, glog-format and ``terminate called`` handling only starts once the output has been recognised as
Cerebras (``VendorDetected``), so that running this parser alongside others over a Graphcore/GPU log does not
double-report their errors.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from hwmon.events import (
    CheckpointSaved,
    EvalMetric,
    Event,
    Info,
    JobIdSeen,
    PhaseEnded,
    PhaseName,
    PhaseStarted,
    RunCompleted,
    RunStarted,
    VendorDetected,
)
from hwmon.parsers.base import Line
from hwmon.parsers.cerebras_appliance import ANY_WSJOB, EVAL_METRIC_LINE, CerebrasAppliance
from hwmon.parsers.cerebras_errors import CerebrasMultiline
from hwmon.parsers.cerebras_fast import CerebrasFastPath, expand_batch
from hwmon.parsers.cerebras_steps import EVAL_MARK, TRAIN_MARK, parse_step_text
from hwmon.parsers.cerebras_steps import float_or_none as _float
from hwmon.parsers.multiline import MultilineErrors
from hwmon.parsers.records import Record, RecordReader, as_record
from hwmon.parsers.rules import stamp
from hwmon.parsers.tf_estimator import TF_SAVED_FOR, TfEstimatorRules

__all__ = ["CerebrasParser", "expand_batch", "parse_step_text"]

Mode = Literal["train", "eval"]

_CS_EVIDENCE = re.compile(
    r"cerebras[./](?:pytorch|modelzoo|appliance|framework)|cerebras_(?:pytorch|modelzoo|appliance|logs)|"
    r"/cerebras/|venv_cerebras|\bcszoo\b|\bcstorch\b",
    re.IGNORECASE,
)

# --- other messages ---------------------------------------------------------------------------------------------

_SAVING_CKPT = re.compile(r"^Saving checkpoint(?: at)?(?: global)? step:?\s*(\d{1,18})", re.IGNORECASE)
_SAVED_CKPT_STEP = re.compile(r"^Saved checkpoint at(?: global)? step:?\s*(\d{1,18})", re.IGNORECASE)
_SAVED_CKPT_PATH = re.compile(r"^Saved checkpoint(?: to)?:?\s+(\S+)")
_CKPT_STEP_IN_PATH = re.compile(r"checkpoint_(\d{1,18})")
_COMMAND = re.compile(r"^\$\s+(.+)$")
_BARE_CSZOO = re.compile(r"^cszoo\s+(?:fit|validate|validate_all|train|eval)\b.*$")
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(?::.*)?$")

_MAX_DETAIL = 120
_MAX_MESSAGE = 2000
# A multi-line WARNING swallows at most this many continuation lines (a runaway quote must not hide the rest).
_MAX_CONTINUATION = 2000


class CerebrasParser(CerebrasAppliance, CerebrasFastPath, CerebrasMultiline, TfEstimatorRules):
    """Cerebras appliance / modelzoo output -> events. Pure (see module doc)."""

    REDRAWS = False
    """Never drawn with ``\\r``: redraw segments (a progress bar's states) are not offered to this parser."""

    def __init__(self) -> None:
        self._reader = RecordReader()
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
        self._multi = MultilineErrors(hold=False, abort_kind="abort")
        self._tf_rate: tuple[float, str] | None = None
        self._tf_last: tuple[int, float | None] | None = None
        # Per-line scratch: the current record's line number and timestamp.
        self._number = 0
        self._ts: datetime | None = None
        self._record = Record(0, 0, "")

    # --- public API -------------------------------------------------------------------------------------------

    def feed(self, line: Line) -> list[Event]:
        """Events for one line (a ``Record`` from the stream, or a plain ``Line`` read here)."""
        record = as_record(line, self._reader)
        self._number = record.number
        self._ts = record.ts
        self._record = record
        out = self._dispatch(record)
        text = record.text
        if "wsjob-" in text:
            mark = len(out)
            self._any_wsjob(text, out)
            stamp(out, mark, "cerebras:wsjob")
        if not self._vendor and ("erebras" in text or "cszoo" in text or "cstorch" in text):
            mark = len(out)
            self._evidence(text, out)
            stamp(out, mark, "cerebras:evidence")
        return out

    def finish(self) -> list[Event]:
        """End of input: report a ``terminate called`` still waiting for its ``what():`` line."""
        out: list[Event] = []
        for error in self._multi.finish():
            out.append(error)
            self._fatal(out)
        return out

    # --- line by line -----------------------------------------------------------------------------------------

    def _now(self) -> datetime | None:
        return self._ts

    def _evidence(self, text: str, out: list[Event]) -> None:
        """Cerebras named by a path or a command rather than a step line: the package (``cerebras.pytorch``,
        ``cerebras/modelzoo``, ``cerebras_pytorch``), a venv or install dir, ``cszoo``, the run's
        ``cerebras_logs`` directory."""
        if _CS_EVIDENCE.search(text) is not None:
            self._detect(out)

    def _any_wsjob(self, text: str, out: list[Event]) -> None:
        """wsjob ids the specific rules did not take (a heartbeat line, a URL): still this run's jobs."""
        for job_id in ANY_WSJOB.findall(text):
            if job_id not in self._job_ids:
                self._job_ids.add(job_id)
                self._detect(out)
                kind = "compile" if self._phase == "compile" else ""
                out.append(JobIdSeen(self._number, self._now(), job_id, kind))

    def _dispatch(self, record: Record) -> list[Event]:
        out: list[Event] = []
        name = self._route(record, out)
        if name:
            stamp(out, 0, "cerebras:" + name)
        return out

    def _route(self, record: Record, out: list[Event]) -> str:
        """The state machine in front of the rows; returns the name of what took the line (its events' rule when
        no row named one)."""
        text, number = record.text, record.number
        # glog/absl lines are the multi-line machinery's (Cerebras output only), not ERROR/INFO records.
        glog = record.stamp == "glog"
        ts_i = 0 if record.has_ts and not glog else -1
        level = None if glog else record.level
        msg = text.strip() if glog else record.msg

        if self._cont:
            if self._continuation(record, ts_i, level):
                return "warning"
        if self._multi.busy or (self._vendor and level is None and ts_i < 0):
            # Tracebacks and aborts (the shared multi-line reader; each exception reported as it comes).
            consumed, errors = self._multi.feed(record)
            for error in errors:
                out.append(error)
                self._fatal(out)
            if consumed:
                return "traceback"
        if not msg:
            return ""
        if self._eval_metrics:
            if self._eval_metric(msg, out):
                return "eval_metrics"
            self._eval_metrics = False

        if TRAIN_MARK in msg or EVAL_MARK in msg:
            self._step(text, number, out)
            return "step"
        if level is None and ts_i < 0:
            self._unprefixed(record, msg, out)
            return "unprefixed"
        if level in ("WARNING", "WARN"):
            self._warning(msg, out)
            return "warning"
        if level in ("ERROR", "CRITICAL", "FATAL"):
            self._error(msg, level, out)
            return "error"
        self._message(record, out)
        return "message"

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

    def _unprefixed(self, record: Record, msg: str, out: list[Event]) -> None:
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
        if self._tf_allowed(record.text) and self._tf(msg, out):
            return
        if self._vendor:
            self._multiline_start(record, out)

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
        m = EVAL_METRIC_LINE.match(msg)
        if m is None:
            return False
        value = _float(m.group(2))
        if value is not None:
            out.append(EvalMetric(self._number, self._now(), m.group(1), value))
        return True

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
        tf = TF_SAVED_FOR.match(msg) if m is None else None
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
