"""The run model: everything the dashboard and ``hwmon summary`` show is derived from a ``RunState``.

``RunState`` is plain mutable data; ``hwmon.model.reducer.apply`` is the only code that changes it. Times:
``datetime`` fields come from the log's own timestamps; ``*_at`` float fields are arrival times from the injected
clock (``Clock``: seconds, monotonic or wall, the caller decides) and are ``None`` when no clock was given (a
whole-file summary).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from hwmon.events import ModuleNode, PhaseName, StepMetrics, Vendor
from hwmon.model.dist_state import Cause, EndReason, JobFacts, Ranks
from hwmon.model.metrics import MetricTable
from hwmon.model.provenance import Provenance
from hwmon.model.series import BoundedSeries

Clock = Callable[[], float]
Status = Literal["succeeded", "failed", "stopped", "running", "unknown"]
# The statuses of a run that has ended (its own end line, a fatal error, or its supervisor's record).
ENDED: tuple[Status, ...] = ("succeeded", "failed", "stopped")

MAX_ERRORS = 200
MAX_WARNINGS_KEPT = 200
MAX_CHECKPOINTS_KEPT = 1000
MAX_ALERTS = 100
# The timeline keeps every phase up to this many; beyond it the oldest repeated spans are folded (see fold_phases).
MAX_PHASES = 256
# Named progress bars kept per run (a bound, said when it bites: ``RunState.progress_dropped``).
MAX_PROGRESS_BARS = 1024
MAX_INFO_KEYS = 256
MAX_EVAL_POINTS = 1024
STEP_ARRIVALS_KEPT = 64
_EPOCHS_BAR = re.compile(r"\s*epochs?\s*:?\s*$", re.IGNORECASE)


def merge_errors(earlier: list[str], later: list[str]) -> list[str]:
    """The distinct messages of ``earlier`` then ``later`` (first seen first), at most ``MAX_ERRORS``: the first half
    and the most recent rest, as the reducer keeps one run's errors (the root cause is usually early)."""
    merged = list(dict.fromkeys([*earlier, *later]))
    if len(merged) > MAX_ERRORS:
        half = MAX_ERRORS // 2
        merged = merged[:half] + merged[len(merged) - (MAX_ERRORS - half) :]
    return merged


@dataclass(slots=True)
class Phase:
    """One span of the timeline. A phase may repeat (two compiles, checkpoints between train spans)."""

    name: PhaseName
    start: datetime | None = None
    end: datetime | None = None
    # Duration stated by the log itself (tqdm elapsed, "Compiled model in S secs") when timestamps are missing.
    stated_seconds: float | None = None
    start_at: float | None = None
    end_at: float | None = None
    detail: str = ""
    start_line: int = 0
    # Set when the phase ended, even if neither a log timestamp nor a clock reading was available for the end.
    closed: bool = False
    # A long run's old spans of one phase folded into this one entry (memory stays flat over thousands of
    # train/checkpoint cycles): ``repeats`` spans between ``start`` and ``end`` that took ``folded_seconds``.
    repeats: int = 1
    folded_seconds: float | None = None
    # The run's log clock (``RunState.log_clock``: time as the log's progress bars tell it) when the phase began and
    # ended: a log without timestamps still says how long a phase took, whenever the viewer attached.
    start_lc: float | None = None
    end_lc: float | None = None
    # The stated length is a progress bar's elapsed time (its loop may span other phases too: an epochs bar around
    # a compile), not the log's own statement of this phase ("Compiled model in 31.0 secs").
    stated_by_bar: bool = False

    @property
    def open(self) -> bool:
        return not self.closed and self.end is None and self.end_at is None and self.stated_seconds is None

    def seconds(
        self, now: datetime | None = None, now_at: float | None = None, now_lc: float | None = None
    ) -> float | None:
        """Duration: from log timestamps, else stated by the log, else from the log clock (its bars' elapsed times;
        before a bar's total, which may span other phases), else from arrival times. An open phase is measured up to
        ``now`` (log time) / ``now_lc`` (log clock) / ``now_at`` (clock) when given."""
        if self.folded_seconds is not None:
            return self.folded_seconds
        if self.start is not None:
            # A closed phase without an end timestamp must not be measured up to "now".
            end = self.end if (self.end is not None or not self.open) else now
            if end is not None:
                return max(0.0, (end - self.start).total_seconds())
        if self.stated_seconds is not None and not self.stated_by_bar:
            return self.stated_seconds  # the log's own statement of this phase
        if self.start_lc is not None:
            end_lc = self.end_lc if self.end_lc is not None else now_lc
            # Only when the log's bars measured time within the phase (else the log clock stood still). It measures
            # this span exactly, where a bar's total may cover the loop's earlier spans too.
            if end_lc is not None and end_lc > self.start_lc:
                return end_lc - self.start_lc
        if self.stated_seconds is not None:
            return self.stated_seconds
        if self.start_at is not None:
            end_at = self.end_at if self.end_at is not None else now_at
            # Arrival times measure a phase only when time passed between its start and end arriving: a phase that
            # began and ended in one read (a backlog, a whole file) took an unknown time, not 0 s — the whole-file
            # read says "unknown" of it too.
            if end_at is not None and end_at > self.start_at:
                return end_at - self.start_at
        return None


@dataclass(slots=True)
class ProgressBar:
    name: str
    n: int
    total: int | None = None
    elapsed_s: float | None = None
    remaining_s: float | None = None
    rate: float | None = None
    unit: str = "it"
    metrics: dict[str, float] = field(default_factory=dict)
    updated_at: float | None = None
    line: int = 0
    # The line the bar was first drawn on (``line`` is its latest update).
    first_line: int = 0
    # Where its loop began on the run's log clock (its first draw, less the elapsed time it showed then).
    origin_lc: float | None = None

    @property
    def fraction(self) -> float | None:
        if not self.total:
            return None
        return min(1.0, max(0.0, self.n / self.total))

    @property
    def done(self) -> bool:
        return self.total is not None and self.n >= self.total

    @property
    def counts_epochs(self) -> bool:
        """An outer bar that counts the run's epochs (``Epochs: 3/10``), not one epoch's batches (``Epoch 0:
        20/20``, a name with the epoch's number)."""
        return _EPOCHS_BAR.match(self.name) is not None


@dataclass(slots=True)
class Checkpoint:
    step: int | None
    path: str | None
    ts: datetime | None = None
    line: int = 0
    # Arrival time on the injected clock (the age of the last checkpoint when the log has no timestamps).
    at: float | None = None


@dataclass(slots=True)
class EvalRun:
    """The evaluation under way (``hwmon.model.reducer.evals``): the training step it belongs to, its batch losses'
    sum and count, whether the run stated its own figure, and whether its point is in ``eval_points`` yet."""

    step: float
    total: float = 0.0
    count: int = 0
    stated: bool = False
    shown: bool = False


@dataclass(slots=True)
class Alert:
    # "nan", "error", "stall", "silence", "failed", "phase-overrun", and any kind added later ("eta", "rank-behind",
    # "rank-silent"...): views and `hwmon watch` carry every kind by its name.
    kind: str
    message: str
    line: int = 0
    at: float | None = None


@dataclass(slots=True)
class RunState:
    """Everything known about the current run (the last one, if the source holds several)."""

    source: str = ""
    vendor: Vendor | None = None
    device: str | None = None
    status: Status = "unknown"
    # The log's own successful end line was read (RunCompleted): guessed steps after it are not training steps
    # (hwmon.model.reducer.evidence).
    ended_by_log: bool = False
    # Guessed training steps read after that end line, held (at most ``RESUMED`` of them): that many say a launch
    # resumed after the run ended (appended to the same log) and they are its first steps
    # (hwmon.model.reducer.steps).
    after_end: list[StepMetrics] = field(default_factory=list)
    # A success the log implies without saying it for sure (h17c, hwmon.model.reducer.ending): the rule that implied
    # it (``evidence:target-reached``, or a tentative end phrase's row) and the training step x it held at; a later
    # training step, a target moved past it or an error after it withdraws it. "" when the status is not provisional.
    provisional_end: str = ""
    # Training steps read after the run failed by its log (a traceback): enough of them and the failure was not the
    # run's end (hwmon.model.reducer.steps.OUTLIVED).
    steps_after_failure: int = 0
    provisional_x: float | None = None
    job_ids: list[str] = field(default_factory=list)
    phases: list[Phase] = field(default_factory=list)
    progress: dict[str, ProgressBar] = field(default_factory=dict)
    # Bars dropped to keep ``progress`` within MAX_PROGRESS_BARS (the least recently updated go first).
    progress_dropped: int = 0
    # Training steps: x = step number, y = loss / rate. Exact first/last/min/count, bounded points.
    loss: BoundedSeries = field(default_factory=BoundedSeries)
    rate: BoundedSeries = field(default_factory=BoundedSeries)
    steps: BoundedSeries = field(default_factory=BoundedSeries)
    last_step: StepMetrics | None = None
    eval_last_step: StepMetrics | None = None
    global_rate: float | None = None
    rate_unit: str = "samples/sec"
    remaining_s: float | None = None
    remaining_at: float | None = None
    samples: int | None = None
    seconds: float | None = None
    checkpoints: list[Checkpoint] = field(default_factory=list)
    eval: dict[str, float] = field(default_factory=dict)
    model: ModuleNode | None = None
    errors: list[str] = field(default_factory=list)
    error_count: int = 0
    # The errors of the earlier runs in the same log (a launch appended after another ended): distinct messages,
    # the first half and a rolling tail kept as ``errors`` is, and their count (``hwmon.model.figures.log_errors``).
    earlier_errors: list[str] = field(default_factory=list)
    earlier_error_count: int = 0
    warnings: int = 0
    recent_warnings: deque[str] = field(default_factory=lambda: deque(maxlen=MAX_WARNINGS_KEPT))
    alerts: list[Alert] = field(default_factory=list)
    info: dict[str, str] = field(default_factory=dict)
    command: str | None = None
    first_ts: datetime | None = None
    last_ts: datetime | None = None
    started_at: float | None = None
    last_output_at: float | None = None
    last_step_at: float | None = None
    lines: int = 0
    # Bumped by every apply(); the UI repaints only when it changed.
    version: int = 0
    # Eval steps (x = step or batch, y = loss), kept apart from the training series.
    eval_loss: BoundedSeries = field(default_factory=BoundedSeries)
    # The run's evaluations: (training step it belongs to, its loss), oldest first, bounded; and the one under way.
    eval_points: list[tuple[float, float]] = field(default_factory=list)
    eval_run: EvalRun | None = None
    # Arrival times (injected clock) of the most recent training steps, for the stall detector's median interval.
    step_arrivals: deque[float] = field(default_factory=lambda: deque(maxlen=STEP_ARRIVALS_KEPT))
    checkpoint_count: int = 0
    # Total alerts ever raised (survives new runs and the bounded ``alerts`` list), so a UI can tell what is new.
    alert_count: int = 0
    # Stall/silence alerts are raised once and re-armed when steps/output resume.
    stalled: bool = False
    silent: bool = False
    # Runs seen in this source (a file holding two runs reports the last one; this says there were two).
    runs: int = 1
    # The line of the step that began this run (a new run after a restart or relaunch): steps of earlier lines,
    # released late by their reader, are the old run's.
    first_line: int = 0
    # Which line and rule set each figure, and which rule read each recent line (hwmon.model.provenance; kept by
    # the reducer's dispatch, issue 17).
    provenance: Provenance = field(default_factory=Provenance)
    # Where the run is going, as the log states it (``TargetStated``, an epochs bar's total): the training loop's
    # target step, the number of epochs and the epoch under way (1-based), and whether an evaluation follows
    # training (with its length in steps/batches when stated).
    target_step: int | None = None
    # Whether the training step counter went down since the target step was stated (a per-epoch counter starting
    # again; hwmon.model.reducer.ending), and its last value.
    counter_fell: bool = False
    last_counter: int | None = None
    target_epoch_stated: float | None = None  # the epoch of the first training step after the target was stated
    target_epochs: int | None = None
    epoch: int | None = None
    eval_announced: bool = False
    eval_total: int | None = None
    # Samples per step (Cerebras' effective batch size), for an ETA from a samples/sec rate.
    batch_size: float | None = None
    # Observed seconds per training step (an exponential moving average), and the (step, time) it was last
    # measured at; time is the log's own (epoch seconds) when the lines have timestamps, else the injected clock.
    step_seconds: float | None = None
    step_anchor: tuple[float, float] | None = None
    # The supervisor's record (run.json, via ``RunClock``/``RunOutcome``): the run's start on the injected clock,
    # its whole length once ended, and how its process ended.
    run_started_at: float | None = None
    # A running supervised run's age when its record was read (a read without a clock: summary, export, ls).
    run_age_s: float | None = None
    run_seconds: float | None = None
    outcome: str | None = None
    exit_code: int | None = None
    signal: int | None = None
    # The source said no more (pipe closed, file quiet past the silence threshold): clocks stop at the last output.
    source_ended: bool = False
    source_end_reason: str = ""
    # Arrival time of the latest sign of progress (a step or a progress bar moving), for the stall detector.
    last_progress_at: float | None = None
    # The log clock: seconds of the run as its progress bars' elapsed times tell them (tqdm's ``[01:50<03:40]``),
    # never before its last reading; and the arrival time of that reading. Phases of a log without timestamps are
    # measured on it, so attaching late or reading the whole file gives the same durations.
    log_clock: float = 0.0
    log_clock_at: float | None = None
    # Distributed runs and the scheduler (issue 21, ``hwmon.model.dist_state``): the ranks, the Slurm job (kept
    # across a new run in the same log: it is about the job), why the run ended and the known failure it matches.
    ranks: Ranks = field(default_factory=Ranks)
    job: JobFacts = field(default_factory=JobFacts)
    end: EndReason | None = None
    cause: Cause | None = None
    # What the run history expects of each phase (``PhaseExpectations``: name -> (median seconds, runs, basis)), and
    # the phases a ``phase-overrun`` was raised for (once each; ``hwmon.model.overrun``).
    expected_phases: dict[str, tuple[float, int, str]] = field(default_factory=dict)
    overrun_phases: set[str] = field(default_factory=set)
    # Every other named series the run prints (lr, grad norm, accuracy, eval metrics, learned fields), bounded;
    # filled by ``hwmon.model.metrics.observe`` from the reducer's dispatch (charts cycle through them with m).
    metrics: MetricTable = field(default_factory=MetricTable)

    @property
    def current_phase(self) -> Phase | None:
        """The most recent phase if it is still open."""
        if self.phases and self.phases[-1].open:
            return self.phases[-1]
        return None
