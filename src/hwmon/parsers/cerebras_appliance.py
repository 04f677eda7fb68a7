"""Cerebras appliance phases: the queue (``Poll ingress status`` waits), compile (the compile request, image
build and compile jobs, every compile stage, cached compile, ``Compile was successful!``), setup (programming the
wafer, weights, staging, input workers), train (``Beginning appliance run``), eval (``Avg Eval Loss``, eval metric
blocks, ``Evaluation completed``), job ids and the run's facts (loop targets, effective batch size, network type).
Pure; a mixin of ``CerebrasParser``, whose ``_message`` dispatches an INFO/DEBUG message here.

A ``PhaseStarted`` for the phase that is already open carries a new sub-stage ``detail`` (the reducer updates the
detail of the open phase). Ingress ready returns to the phase of the job being waited for: compile for a compile
job, setup for an execute job.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from hwmon.events import EvalMetric, Event, JobIdSeen, PhaseEnded, PhaseName, TargetStated
from hwmon.parsers.cerebras_steps import float_or_none as _float
from hwmon.parsers.records import Record
from hwmon.parsers.rules import Rule, RuleTable
from hwmon.parsers.vocab import NUM

__all__ = ["ANY_WSJOB", "EVAL_METRIC_LINE", "MESSAGE_RULES", "CerebrasAppliance"]

_COMPILE_JOB = re.compile(r"\bcompile job id:\s*(wsjob-[\w-]+)", re.IGNORECASE)
_EXECUTE_JOB = re.compile(r"\bexecute job id:\s*(wsjob-[\w-]+)", re.IGNORECASE)
_JOB_ID = re.compile(r"\bJob id:\s*(wsjob-[\w-]+)", re.IGNORECASE)
_WORKFLOW_ID = re.compile(r"\bworkflow id:\s*(wflow-[\w-]+)", re.IGNORECASE)
# A wsjob id wherever it appears (heartbeat lines, URLs, paths): the appliance names its jobs this way only.
ANY_WSJOB = re.compile(r"(?<![\w-])(wsjob-[a-z0-9]{12,40})(?![\w-])")  # not "wsjob-dashboard"
_REMOTE_LOG = re.compile(r"remote log path:\s*(\S+)")
_JOB_STATUS = re.compile(r"current job status:\s*(\w+)")
_DASHBOARD = re.compile(r"dashboard:\s*(\S+)")
_HASH = re.compile(r"hash(?: is)?:\s*\"?(cs_\w+)\"?")
_EFFECTIVE_BATCH = re.compile(r"^Effective batch size is\s+(\d{1,18})")
_PREPARING = re.compile(r"^Preparing to execute using\s+(\d{1,18})\s+CSX")
_NETWORK = re.compile(r"^Using network type:\s*(\S+)")
_LOOP = re.compile(
    r"^Starting (?:training|eval\w*) loop\s+(\d{1,18}),\s*from global step\s+(\d{1,18})\s+to\s+(\d{1,18})"
)

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
_PROCESSED = re.compile(
    r"^(?:Training Complete\. Completed|Processed|Completed)\s+(\d{1,18})\s+(?:training\s+|eval(?:uation)?\s+)?"
    r"samples?(?:\(s\))?\s+in\s+([\d.]+(?:[eE][-+]?\d+)?)\s+seconds",
    re.IGNORECASE,
)
_PROCESSED_ANY = re.compile(_PROCESSED.pattern[1:], re.IGNORECASE)
_DICT_PAIR = re.compile(r"['\"]([^'\"]+)['\"]\s*:\s*(?:tensor\()?(" + NUM + ")")
EVAL_METRIC_LINE = re.compile(r"^-\s+([\w/.\-]+)\s*[=:]\s*(" + NUM + r")\s*$")
_AVG_EVAL_LOSS = re.compile(r"^Avg Eval Loss:?\s*(" + NUM + ")", re.IGNORECASE)
_MAX_DETAIL = 120


def _detail(msg: str) -> str:
    return msg.split(". ", 1)[0].rstrip(". ")[:_MAX_DETAIL]


class CerebrasAppliance:
    """The appliance rules; the state they read and the helpers they call are ``CerebrasParser``'s."""

    _phase: PhaseName | None
    _job_phase: PhaseName
    _job_kind: str
    _job_ids: set[str]
    _number: int
    _reset_step: int
    _eval_metrics: bool
    # TfEstimatorRules' (declared, not defined here, so the real ones are not shadowed in the MRO).
    _tf_allowed: Callable[[str], bool]
    _tf: Callable[[str, list[Event]], bool]

    def _now(self) -> datetime | None:
        raise NotImplementedError

    def _detect(self, out: list[Event], device: str | None = None) -> None:
        raise NotImplementedError

    def _to(self, phase: PhaseName, detail: str, out: list[Event]) -> None:
        raise NotImplementedError

    def _info(self, key: str, value: str, out: list[Event]) -> None:
        raise NotImplementedError

    def _end_phase(self, out: list[Event]) -> None:
        raise NotImplementedError

    def _start_run(self, out: list[Event], command: str | None = None) -> None:
        raise NotImplementedError

    def _complete(self, out: list[Event], samples: int | None, seconds: float | None, msg: str) -> None:
        raise NotImplementedError

    def _checkpoint(self, msg: str, out: list[Event]) -> bool:
        raise NotImplementedError

    def _message(self, record: Record, out: list[Event]) -> None:
        """An INFO/DEBUG (or level-less timestamped) message: the first row of ``MESSAGE_RULES`` that matches and
        takes it; TensorFlow's rules when none does."""
        if not MESSAGE_RULES.run(self, record, out) and self._tf_allowed(record.text):
            self._tf(record.msg, out)

    # --- the rows' handlers (return False to let the next rows try) ----------------------------------------------

    def _on_checkpoint(self, m: re.Match[str], record: Record, out: list[Event]) -> bool:
        msg = record.msg
        return self._checkpoint(msg, out)

    def _on_ingress(self, m: re.Match[str], record: Record, out: list[Event]) -> None:
        msg = record.msg
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

    def _on_job_id(self, m: re.Match[str], record: Record, out: list[Event]) -> None:
        msg = record.msg
        self._job_id(msg, out)

    def _on_compiling(self, m: re.Match[str], record: Record, out: list[Event]) -> None:
        msg = record.msg
        self._start_run(out)
        self._detect(out)
        self._job_phase = "compile"
        self._to("compile", _detail(msg.split(".")[0]), out)

    def _on_compile_job(self, m: re.Match[str], record: Record, out: list[Event]) -> None:
        self._detect(out)
        self._job_phase, self._job_kind = "compile", "compile"
        self._to("compile", "Compile job", out)

    def _on_cached_compile(self, m: re.Match[str], record: Record, out: list[Event]) -> None:
        msg = record.msg
        self._detect(out)
        self._to("compile", "Cached compile" if msg.startswith("Found") else "Writing compile artifacts", out)
        h = _HASH.search(msg)
        if h is not None:
            self._info("compile_hash", h.group(1), out)

    def _on_compiled(self, m: re.Match[str], record: Record, out: list[Event]) -> None:
        self._detect(out)
        if self._phase == "compile":
            self._end_phase(out)
        else:
            out.append(PhaseEnded(self._number, self._now(), "compile"))

    def _on_compile_stage(self, m: re.Match[str], record: Record, out: list[Event]) -> bool:
        msg = record.msg
        # A known stage, or any short "...ing ..." message while compiling.
        if m.group(1) is None and not (self._phase == "compile" and msg.endswith("...") and len(msg) < 100):
            return False
        self._detect(out)
        self._to("compile", _detail(msg), out)
        return True

    def _on_setup_stage(self, m: re.Match[str], record: Record, out: list[Event]) -> None:
        msg = record.msg
        device = None
        p = _PREPARING.match(msg)
        if p is not None:
            device = "CSX"
            self._info("num_csx", p.group(1), out)
        if msg.startswith("Initiating a new execute wsjob"):
            self._job_phase, self._job_kind = "setup", "execute"
        self._detect(out, device)
        self._to("setup", _detail(msg), out)

    def _on_appliance_run(self, m: re.Match[str], record: Record, out: list[Event]) -> None:
        self._detect(out)
        self._to("train", "", out)

    def _on_avg_eval_loss(self, m: re.Match[str], record: Record, out: list[Event]) -> None:
        value = _float(m.group(1))
        if value is not None:
            out.append(EvalMetric(self._number, self._now(), "eval/loss", value))

    def _on_eval_metrics(self, m: re.Match[str], record: Record, out: list[Event]) -> None:
        msg = record.msg
        pairs = _DICT_PAIR.findall(msg)
        for name, value in pairs:
            number_value = _float(value)
            if number_value is not None:
                out.append(EvalMetric(self._number, self._now(), name, number_value))
        if not pairs:
            self._eval_metrics = True

    def _on_eval_done(self, m: re.Match[str], record: Record, out: list[Event]) -> None:
        if self._phase == "eval":
            self._end_phase(out)

    def _on_training_completed(self, m: re.Match[str], record: Record, out: list[Event]) -> None:
        msg = record.msg
        # "... successfully! Processed N sample(s) in S seconds." may share the line.
        p = _PROCESSED_ANY.search(msg)
        if p is not None:
            self._complete(out, int(p.group(1)), _float(p.group(2)), msg)
        else:
            self._complete(out, None, None, msg)

    def _on_processed(self, m: re.Match[str], record: Record, out: list[Event]) -> None:
        msg = record.msg
        self._complete(out, int(m.group(1)), _float(m.group(2)), msg)

    def _on_autoload(self, m: re.Match[str], record: Record, out: list[Event]) -> None:
        self._start_run(out)

    def _on_loop(self, m: re.Match[str], record: Record, out: list[Event]) -> None:
        self._reset_step = int(m.group(2)) + 1
        self._info("target_step", m.group(3), out)
        out.append(TargetStated(self._number, self._now(), "step", int(m.group(3)), int(m.group(2))))

    def _on_effective_batch(self, m: re.Match[str], record: Record, out: list[Event]) -> None:
        self._info("effective_batch_size", m.group(1), out)

    def _on_network(self, m: re.Match[str], record: Record, out: list[Event]) -> None:
        self._info("network_type", m.group(1), out)

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


def _row(name: str, prefixes: tuple[str, ...] | str, pattern: str | re.Pattern[str] | None, handler: _Handler) -> Rule:
    """A row matched at the start of the message: by ``pattern``, or by any of ``prefixes`` when it is None."""
    needles = (prefixes,) if isinstance(prefixes, str) else prefixes
    if pattern is None:
        pattern = "(?:" + "|".join(re.escape(p) for p in needles) + ")"
    return Rule("cerebras:" + name, needles, pattern, handler, how="match")


_Handler = Callable[[Any, "re.Match[str]", Record, list[Event]], "bool | None"]
MESSAGE_RULES = RuleTable(
    (
        # Checkpoint lines first: the commonest lines between steps.
        _row("checkpoint", ("Saving checkpoint", "Saved checkpoint"), None, CerebrasAppliance._on_checkpoint),
        _row("ingress", ("Poll ingress", "Ingress is ready"), None, CerebrasAppliance._on_ingress),
        _row("job_id", "", re.compile(r"(?i).*?job id"), CerebrasAppliance._on_job_id),
        _row("compiling", "Compiling the model", None, CerebrasAppliance._on_compiling),
        _row("compile_job", "Initiating a new compile wsjob", None, CerebrasAppliance._on_compile_job),
        _row(
            "cached_compile",
            ("Found existing cached compile", "Compile artifacts successfully"),
            None,
            CerebrasAppliance._on_cached_compile,
        ),
        _row(
            "compiled",
            ("Compile was successful", "Compile successful", "Compilation successful"),
            None,
            CerebrasAppliance._on_compiled,
        ),
        _row(
            "compile_stage",
            "",
            "(" + "|".join(re.escape(p) for p in _COMPILE_STAGES) + ")?",
            CerebrasAppliance._on_compile_stage,
        ),
        _row("setup_stage", _SETUP_STAGES, None, CerebrasAppliance._on_setup_stage),
        _row("appliance_run", "Beginning appliance run", None, CerebrasAppliance._on_appliance_run),
        _row("avg_eval_loss", "", _AVG_EVAL_LOSS, CerebrasAppliance._on_avg_eval_loss),
        _row("eval_metrics", ("Evaluation metrics", "Eval metrics"), None, CerebrasAppliance._on_eval_metrics),
        _row("eval_done", "Evaluation completed successfully", None, CerebrasAppliance._on_eval_done),
        _row("training_completed", "Training completed successfully", None, CerebrasAppliance._on_training_completed),
        _row("processed", "", _PROCESSED, CerebrasAppliance._on_processed),
        _row("autoload", "Checkpoint autoloading is enabled", None, CerebrasAppliance._on_autoload),
        _row("loop", "Starting ", _LOOP, CerebrasAppliance._on_loop),
        _row("effective_batch", "Effective batch size is", _EFFECTIVE_BATCH, CerebrasAppliance._on_effective_batch),
        _row("network", "Using network type:", _NETWORK, CerebrasAppliance._on_network),
    ),
    "first",
)
"""The appliance's messages, matched at the message start; the first row that takes it wins."""
