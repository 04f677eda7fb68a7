"""The event types: the only thing that crosses layers.

Parsers turn lines into these; the reducer (``hwmon.model``) folds them into a ``RunState``. Every event is a
frozen, slotted dataclass carrying the 1-based source line number it came from (``line``) and the log's own
timestamp for that line when the line has one (``ts``, naive, in the log's local time), else ``None``.

Nothing here does I/O or imports a UI library (modelled on h11's ``_events.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

PhaseName = Literal["queue", "compile", "setup", "train", "checkpoint", "eval"]
PHASE_NAMES: tuple[PhaseName, ...] = ("queue", "compile", "setup", "train", "checkpoint", "eval")

Vendor = Literal["cerebras", "graphcore", "gpu", "cpu"]


@dataclass(frozen=True, slots=True)
class Event:
    """Base of every event: where it came from."""

    line: int
    ts: datetime | None
    # Provenance: which rule, learned template or user format produced this event ("" when none says), for
    # ``summary --explain`` and the record view. Keyword-only and left out of equality, so events built without it
    # (tests, other producers) still compare by what they say.
    rule: str = field(default="", kw_only=True, compare=False)


@dataclass(frozen=True, slots=True)
class LogLine(Event):
    """A plain line of output (only emitted when the consumer asks for raw lines)."""

    text: str


@dataclass(frozen=True, slots=True)
class RunStarted(Event):
    """A marker that a (new) run begins here: a command echo, a first compile request, ``srun`` allocation...

    The reducer starts a fresh run on this when the previous one has already ended, so a file holding two runs
    reports the last one.
    """

    command: str | None = None


@dataclass(frozen=True, slots=True)
class VendorDetected(Event):
    """The output is recognisably from this vendor's stack (and device, when the line names one)."""

    vendor: Vendor
    device: str | None = None


@dataclass(frozen=True, slots=True)
class PhaseStarted(Event):
    """A phase of the run began. ``detail`` is the human sub-stage ("Exploring floorplans", "Queueing")."""

    phase: PhaseName
    detail: str = ""


@dataclass(frozen=True, slots=True)
class PhaseEnded(Event):
    """A phase ended. ``seconds`` is set when the log states the duration itself (``Compiled model in 31 secs``,
    a finished tqdm bar's elapsed time) so logs without timestamps still get durations."""

    phase: PhaseName
    seconds: float | None = None


@dataclass(frozen=True, slots=True)
class StepMetrics(Event):
    """One training/eval step report (Cerebras ``| Train Device=CSX, Step=..``, ``step N of epoch E, loss..``,
    HF-Trainer dicts, Keras lines, generic ``loss=``)."""

    step: int | None
    loss: float | None = None
    rate: float | None = None
    global_rate: float | None = None
    rate_unit: str = "samples/sec"
    remaining_s: float | None = None
    mode: Literal["train", "eval"] = "train"
    device: str | None = None
    batch: int | None = None
    epoch: float | None = None
    extra: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True, slots=True)
class StepBatch(Event):
    """Many homogeneous step lines parsed at once by a fast path (a large block of a file being read).

    Equivalent to ``count`` StepMetrics events from ``first`` to ``last``: ``loss_min``/``loss_max`` are exact over
    all of them (finite values only), ``nonfinite`` counts NaN/Inf losses, ``samples`` is an evenly spaced subset
    (always including ``first`` and ``last``) for plotting. ``line`` is the line of ``last``.

    ``raw`` holds the step lines' bytes (``\n``-terminated, ``count`` lines, the first of them line ``first.line``)
    so that a consumer needing every step (export, a full-resolution series) can expand the batch with
    ``hwmon.parsers.expand_steps`` without the summary path paying for it; ``reset_step`` is the parser's state
    needed to read them the same way.
    """

    first: StepMetrics
    last: StepMetrics
    count: int
    loss_min: float | None
    loss_max: float | None
    nonfinite: int = 0
    samples: tuple[StepMetrics, ...] = ()
    raw: bytes = b""
    reset_step: int = 1


@dataclass(frozen=True, slots=True)
class ProgressUpdate(Event):
    """A progress bar's state (tqdm/Keras/Cerebras client bars). ``name`` is the bar's description without
    metrics, or "" for an anonymous bar; ``metrics`` holds values parsed from the description/postfix
    (``Loss:0.1422 | Accuracy:95.78%`` -> (("loss", 0.1422), ("accuracy", 0.9578)))."""

    name: str
    n: int
    total: int | None = None
    elapsed_s: float | None = None
    remaining_s: float | None = None
    rate: float | None = None
    unit: str = "it"
    metrics: tuple[tuple[str, float], ...] = ()
    redraw: bool = False


@dataclass(frozen=True, slots=True)
class CheckpointSaved(Event):
    """A checkpoint was written (``step`` and/or ``path`` when the line states them)."""

    step: int | None = None
    path: str | None = None


@dataclass(frozen=True, slots=True)
class EvalMetric(Event):
    """A named evaluation result. Percentages are converted to fractions (98.72 % -> 0.9872)."""

    name: str
    value: float


@dataclass(frozen=True, slots=True)
class RunCompleted(Event):
    """The run's own end-of-run line (``Training completed successfully!``, ``Processed N sample(s) in S
    seconds``, ``{'train_runtime': ..}``). ``success`` is False for lines that report an end after a failure."""

    samples: int | None = None
    seconds: float | None = None
    success: bool = True
    message: str = ""


@dataclass(frozen=True, slots=True)
class TrainingTotals(Event):
    """The training loop's own totals, printed when the loop ends (``Train throughput: 1072.5 samples/sec (24000
    samples in 22.38 s)``): how many samples it processed and in how many seconds. Not the run's end: an
    evaluation may follow."""

    samples: int
    seconds: float


@dataclass(frozen=True, slots=True)
class TargetStated(Event):
    """The log states where the run is going: a loop's target step (``from global step 0 to N``, ``Total
    optimization steps = N``, ``iteration 100/ 500000``), the number of epochs (``Epoch 3/10``), or that an
    evaluation follows training (``what="eval"``, ``total`` its steps/batches when stated, else 0).
    ``current`` is the position the same line states, when it states one."""

    what: Literal["step", "epoch", "eval"]
    total: int
    current: int | None = None


@dataclass(frozen=True, slots=True)
class RunOutcome(Event):
    """How the run's process ended, as its supervisor (or scheduler) recorded it: never read from log text.

    ``status`` is "succeeded" (exit 0), "failed" (non-zero exit or a signal), "stopped" (ended by ``hwmon stop``
    or the dashboard's stop key) or "lost" (the supervisor vanished without recording an end)."""

    status: Literal["succeeded", "failed", "stopped", "lost"]
    exit_code: int | None = None
    signal: int | None = None
    # The run's length from start to end as the supervisor recorded them (run.json), when both are known.
    seconds: float | None = None


@dataclass(frozen=True, slots=True)
class RunClock(Event):
    """When the run started, as its supervisor recorded it (run.json), not as the log shows: ``elapsed_s`` is how
    long the run had been going when the source read the record. A consumer places the run's start at its own
    clock reading minus ``elapsed_s``, so re-attaching to a run started earlier shows its real wall time."""

    elapsed_s: float


@dataclass(frozen=True, slots=True)
class SourceEnded(Event):
    """The source will say no more: a pipe's writer closed it, or a file has been quiet longer than the silence
    threshold (``quiet_s``: how long, when that is the reason). Without an end of its own (a completion line, a
    fatal error, a ``RunOutcome``) the run's status is then unknown, not running, and its clocks stop.
    New output after it (a quiet file written to again) makes the source live again."""

    reason: str
    quiet_s: float | None = None


@dataclass(frozen=True, slots=True)
class JobIdSeen(Event):
    """A scheduler/appliance job id (``wsjob-..`` compile/execute, a workflow id, a Slurm job number)."""

    job_id: str
    kind: str = ""


@dataclass(frozen=True, slots=True)
class ModuleNode:
    """One module of a printed PyTorch module tree: ``(name): Type(args)``."""

    name: str
    type: str
    args: str = ""
    children: tuple[ModuleNode, ...] = ()

    def count(self) -> int:
        """Number of modules in this subtree, this one included."""
        return 1 + sum(child.count() for child in self.children)


@dataclass(frozen=True, slots=True)
class ModelSummary(Event):
    """A printed module tree. ``root.name`` is "" for the top module; ``root.type`` is the model's class."""

    root: ModuleNode


@dataclass(frozen=True, slots=True)
class ErrorSeen(Event):
    """An error: an ERROR log line, the final line of a traceback, ``terminate called``/``what():``...
    ``fatal`` is True when the error ends the run (uncaught exception, abort, job failed)."""

    message: str
    fatal: bool = False
    kind: str = ""


@dataclass(frozen=True, slots=True)
class WarningSeen(Event):
    """A warning (WARNING log lines, ``[poptorch:cpp] [warning]``, Poplar ``W:`` lines, Python warnings)."""

    message: str
    source: str = ""


@dataclass(frozen=True, slots=True)
class Info(Event):
    """A named fact from the log worth showing (effective batch size, compile hash, network type...)."""

    key: str
    value: str = field(default="")


# --- distributed runs and the scheduler (issue 21) ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RankLine(Event):
    """Output of one rank of a multi-rank run (a launcher prefix named it: ``[default2]:``, ``[1,2]<stdout>:``,
    ``2: ``...): ``lines`` lines of that rank up to ``line`` (1 for a single line; more for a fast-path block or a
    catch-up when a second rank first appears), the step its latest line states (``None``: none stated), the host
    when the prefix names it, and that line's text (shortened) so an alert can quote it."""

    rank: int
    lines: int = 1
    step: int | None = None
    host: str | None = None
    text: str = ""


@dataclass(frozen=True, slots=True)
class RankError(Event):
    """An error on one rank: an ERROR line or a traceback's exception (``fatal``), or a launcher's report naming
    the rank that failed first (``root_cause``: torch elastic's ``Root Cause (first observed failure)``)."""

    rank: int
    message: str
    fatal: bool = False
    root_cause: bool = False
    host: str | None = None


@dataclass(frozen=True, slots=True)
class JobState(Event):
    """What the scheduler says about the run's job: Slurm's ``JobState`` (``PENDING``, ``RUNNING``, ``COMPLETED``,
    ``FAILED``, ``CANCELLED``, ``TIMEOUT``, ``OUT_OF_MEMORY``, ``NODE_FAIL``, ``PREEMPTED``, ``DEADLINE``,
    ``BOOT_FAIL``) and ``Reason``, its exit code or signal, time limit, run time so far (``elapsed_s``, at the
    lookup) and how often it was requeued (``restarts``). ``origin`` is ``"scheduler"`` for ``scontrol``/
    ``sacct`` and ``"log"`` for Slurm's own lines in the output (``*** JOB 12 ON n1 CANCELLED AT ... DUE TO TIME
    LIMIT ***``). ``by`` names who cancelled the job, when known."""

    job_id: str
    state: str
    reason: str = ""
    exit_code: int | None = None
    signal: int | None = None
    time_limit_s: float | None = None
    elapsed_s: float | None = None
    restarts: int = 0
    by: str = ""
    origin: Literal["scheduler", "log"] = "scheduler"


@dataclass(frozen=True, slots=True)
class RunRequeued(Event):
    """The job was requeued (``scontrol requeue``, preemption with ``--requeue``, a node failure) or the run was
    restarted into the same output: what follows is more of the same logical run, not a new one."""

    job_id: str = ""
    restarts: int | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class PhaseExpectations(Event):
    """What the run history expects of this run's phases, from past runs of the same job (the queue's from recent
    runs on the same vendor): ``(phase, seconds, runs, basis)`` per phase — the median seconds, how many runs it
    comes from, ``"same job"``/``"same vendor"``. Not log output: the view that read the history feeds it, so the
    reducer can raise ``phase-overrun`` (``hwmon.model.overrun``)."""

    phases: tuple[tuple[str, float, int, str], ...] = ()


AnyEvent = (
    LogLine
    | RunStarted
    | VendorDetected
    | PhaseStarted
    | PhaseEnded
    | StepMetrics
    | StepBatch
    | ProgressUpdate
    | CheckpointSaved
    | EvalMetric
    | RunCompleted
    | TrainingTotals
    | TargetStated
    | RunOutcome
    | RunClock
    | SourceEnded
    | JobIdSeen
    | ModelSummary
    | ErrorSeen
    | WarningSeen
    | Info
    | RankLine
    | RankError
    | JobState
    | RunRequeued
    | PhaseExpectations
)
