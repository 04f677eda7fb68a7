"""The event types: the only thing that crosses layers.

Parsers turn lines into these; the reducer (``hwmon.model``) folds them into a ``RunState``. Every event is a
frozen, slotted dataclass carrying the 1-based source line number it came from (``line``) and the log's own
timestamp for that line when the line has one (``ts``, naive, in the log's local time), else ``None``.

Nothing here does I/O or imports a UI library (modelled on h11's ``_events.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol, cast

PhaseName = Literal["queue", "compile", "setup", "train", "checkpoint", "eval"]
PHASE_NAMES: tuple[PhaseName, ...] = ("queue", "compile", "setup", "train", "checkpoint", "eval")

Vendor = Literal["cerebras", "graphcore", "gpu", "tpu", "cpu"]


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
class StepColumns:
    """Step reports of a run of lines as columns: the format-neutral shape in which a fast path hands over every
    step of a ``StepBatch`` (``BlockDecoder``), read by the reducer and the export without knowing the format.

    Row ``i`` stands for ``StepMetrics(line=lines[i], ts=ts[i], step=step[i], loss=loss[i], rate=rate[i],
    global_rate=global_rate[i], rate_unit=rate_unit, remaining_s=remaining_s[i], mode=mode, device=device,
    batch=batch[i], epoch=epoch[i], extra=E, rule=rule)`` where ``E`` holds ``(name, values[i])`` for each
    ``(name, values)`` of ``extra``, in order, whose ``values[i]`` is not ``None`` (a name may repeat when a line
    prints a metric twice). A column given as ``None`` is ``None`` in every row. ``iso``, when given, is
    ``ts[i].isoformat()`` (``None`` where ``ts[i]`` is), computed by the decoder where that is cheaper than per row.
    Every column has ``len(lines)`` entries. ``mode``, ``rate_unit``, ``device`` and ``rule`` hold for every row: a
    decoder splits a block into several ``StepColumns`` where they change.
    """

    lines: Sequence[int]
    step: Sequence[int | None]
    loss: Sequence[float | None] | None = None
    ts: Sequence[datetime | None] | None = None
    iso: Sequence[str | None] | None = None
    rate: Sequence[float | None] | None = None
    global_rate: Sequence[float | None] | None = None
    remaining_s: Sequence[float | None] | None = None
    epoch: Sequence[float | None] | None = None
    batch: Sequence[int | None] | None = None
    extra: tuple[tuple[str, Sequence[float | None]], ...] = ()
    mode: Literal["train", "eval"] = "train"
    rate_unit: str = "samples/sec"
    device: str | None = None
    rule: str = ""

    def __len__(self) -> int:
        return len(self.lines)

    def row(self, i: int) -> StepMetrics:
        """Row ``i`` as the ``StepMetrics`` the line-by-line path gives for that line."""
        return StepMetrics(
            self.lines[i],
            None if self.ts is None else self.ts[i],
            self.step[i],
            loss=None if self.loss is None else self.loss[i],
            rate=None if self.rate is None else self.rate[i],
            global_rate=None if self.global_rate is None else self.global_rate[i],
            rate_unit=self.rate_unit,
            remaining_s=None if self.remaining_s is None else self.remaining_s[i],
            mode=self.mode,
            device=self.device,
            batch=None if self.batch is None else self.batch[i],
            epoch=None if self.epoch is None else self.epoch[i],
            extra=tuple((name, v) for name, values in self.extra if (v := values[i]) is not None),
            rule=self.rule,
        )

    def rows(self) -> Iterator[StepMetrics]:
        """Every row, in order (see ``row``)."""
        for i in range(len(self.lines)):
            yield self.row(i)

    @staticmethod
    def of(steps: Sequence[StepMetrics]) -> list[StepColumns]:
        """``steps`` as columns (the general, per-row way: for decoders that read some lines one by one), split
        where the mode, rate unit, device, rule or the names of the extra metrics change."""
        out: list[StepColumns] = []
        start = 0
        n = len(steps)
        while start < n:
            head = steps[start]
            names = tuple(name for name, _ in head.extra)
            key = (head.mode, head.rate_unit, head.device, head.rule, names)
            end = start + 1
            while end < n:
                s = steps[end]
                if (s.mode, s.rate_unit, s.device, s.rule) != key[:4] or tuple(k for k, _ in s.extra) != names:
                    break
                end += 1
            run = steps[start:end]
            out.append(
                StepColumns(
                    lines=[s.line for s in run],
                    step=[s.step for s in run],
                    loss=[s.loss for s in run],
                    ts=[s.ts for s in run],
                    rate=[s.rate for s in run],
                    global_rate=[s.global_rate for s in run],
                    remaining_s=[s.remaining_s for s in run],
                    epoch=[s.epoch for s in run],
                    batch=[s.batch for s in run],
                    extra=tuple((name, [s.extra[j][1] for s in run]) for j, name in enumerate(names)),
                    mode=head.mode,
                    rate_unit=head.rate_unit,
                    device=head.device,
                    rule=head.rule,
                )
            )
            start = end
        return out


@dataclass(frozen=True, slots=True)
class StepTexts:
    """Step reports of a run of lines as number texts read straight off the lines: the shape in which a fast path
    hands over the steps of a ``StepBatch`` to a consumer that writes them out as text again (the CSV export), so
    that no number is parsed to a float and formatted back. Format-neutral, like ``StepColumns``, whose rows these
    texts stand for (``TextDecoder.texts``).

    Row ``i`` is ``StepColumns`` row ``i`` of the same lines with every number as the text Python writes for it:
    the step ``str(step)``, every other number ``repr(value)`` (the shortest text that reads back as that float:
    ``b"11.0625"`` for a log's ``11.06250``), ``b""`` where the value is ``None``. ``extra`` is
    ``StepColumns.extra`` by name and in order. A line's time is ``clock(stamps[i])`` plus ``fractions[i]`` (the
    digits of its fraction of a second, ``b""`` for none: 0.568 s is ``b"568"``); ``stamps`` is ``None`` when the
    lines have no time, ``fractions`` when the stamps hold the whole time; ``clock`` reads a stamp as the line path
    reads it (``None``: no time). ``mode`` and ``rate_unit`` are ``StepColumns``'.
    """

    lines: range
    step: Sequence[bytes]
    loss: Sequence[bytes] | None = None
    rate: Sequence[bytes] | None = None
    global_rate: Sequence[bytes] | None = None
    epoch: Sequence[bytes] | None = None
    extra: tuple[tuple[str, Sequence[bytes]], ...] = ()
    stamps: Sequence[bytes] | None = None
    fractions: Sequence[bytes] | None = None
    clock: Callable[[bytes], datetime | None] | None = None
    mode: Literal["train", "eval"] = "train"
    rate_unit: str = "samples/sec"

    def __len__(self) -> int:
        return len(self.lines)


class TextDecoder(Protocol):
    """A ``BlockDecoder`` that can also hand its lines over as texts: ``texts(raw, first_line)`` is the
    ``StepTexts`` of the lines ``decode(raw, first_line)`` reads (one per line, equal row by row as ``StepTexts``
    says), or ``None`` when it cannot give them so cheaply (lines off its template, a number whose text is not its
    value's shortest one and would have to be parsed): the consumer then reads ``decode``'s columns. Pure; must
    not raise on lines its fast path took."""

    def texts(self, raw: bytes, first_line: int) -> StepTexts | None: ...


class BlockDecoder(Protocol):
    """Reads a fast path's step lines back as columns. A parser's fast path puts one in each ``StepBatch`` it makes,
    so the model (reducer, export) reads every step of a batch without importing the parser: the format's knowledge
    stays behind this interface. A learned step template compiles to one too.

    ``decode(raw, first_line)``: ``raw`` is whole ``\\n``-terminated lines that the decoder's own fast path took as
    step lines (or any subset of them, in order), the first numbered ``first_line`` and the rest numbered on from it
    (a decoder made for one batch of step lines that are not consecutive lines numbers that whole batch's rows
    itself: ``hwmon.parsers.decoders.Renumbered``); the result is one ``StepColumns`` or more, in order, with
    exactly one row per line, each row equal field by field to the ``StepMetrics`` the line-by-line path gives for
    that line (its ``rule`` included). Pure; must not raise on lines its fast path took.

    A decoder may also have ``decode_series(raw, first_line)``: ``decode`` where only the columns the model's series
    keep (``lines``, ``step``, ``ts``, ``loss``, ``rate``) must be those of ``decode``, the others may be left out
    (the reducer reads the few steps a chart keeps of a batch that way, when the decoder has it)."""

    @property
    def rule(self) -> str:
        """The rule or template the decoded steps come from (``"cerebras:step"``, ``"template:3"``)."""
        ...

    def decode(self, raw: bytes, first_line: int) -> list[StepColumns]: ...


# ``StepBatch.raw_lines_at`` splits the whole batch when at least one line in this many is wanted.
_SPLIT_DENSITY = 16


@dataclass(frozen=True, slots=True)
class StepBatch(Event):
    """Many homogeneous step lines parsed at once by a fast path (a large block of a file being read).

    Equivalent to ``count`` StepMetrics events from ``first`` to ``last``: ``loss_min``/``loss_max`` are exact over
    all of them (finite values only), ``nonfinite`` counts NaN/Inf losses, ``samples`` is an evenly spaced subset
    (always including ``first`` and ``last``) for plotting. ``line`` is the line of ``last``.

    ``raw`` holds the step lines' bytes (``\n``-terminated, ``count`` lines, the first of them line ``first.line``)
    and ``decoder`` reads them back (``columns()``, ``steps()``), so that a consumer needing every step (export, a
    full-resolution series) can expand the batch without the summary path paying for it. The step lines are
    consecutive lines of the log unless the decoder numbers them itself (a run of (bar line, step line) pairs).
    ``reset_step`` is the Cerebras parser's state at the time (kept for older consumers; the decoder carries what
    it needs).
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
    decoder: BlockDecoder | None = field(default=None, compare=False)
    places: tuple[tuple[int, int], ...] = field(default=(), compare=False)
    """(byte offset in ``raw``, line index) of some lines (the samples'), ascending: ``raw_lines_at`` starts from
    the nearest one instead of the start of ``raw``."""
    decoded: tuple[StepColumns, ...] = field(default=(), compare=False, repr=False)
    """``decoder.decode(raw, first.line)`` when the parser has read every line of the batch already (a run of pairs
    checked column by column): ``columns()`` and the series then read it instead of ``raw``. Empty otherwise."""

    def columns(self) -> list[StepColumns]:
        """Every step of the batch as columns (``decoder.decode`` of ``raw``, or ``decoded`` when the parser gave
        them); without raw lines or a decoder, the samples (all that is known)."""
        if self.decoded:
            return list(self.decoded)
        if self.raw and self.decoder is not None:
            return self.decoder.decode(self.raw, self.first.line)
        return StepColumns.of(self.samples)

    def raw_lines_at(self, offsets: Sequence[int]) -> list[bytes] | None:
        """The raw lines at ``offsets`` (sorted, 0-based within the batch), each with its ``\n``; None when ``raw``
        has fewer lines. Each line's place is guessed from the mean line length and corrected with counts and finds:
        one pass over the bytes up to the last offset and no list of every line (a batch holds thousands of lines
        and a series keeps a few of them)."""
        raw = self.raw
        if not offsets:
            return []
        if offsets[0] < 0 or not raw:
            return None
        if len(offsets) * _SPLIT_DENSITY >= self.count:
            # Many of the lines (a series right after a new run keeps every one): one C split is cheaper.
            lines = raw.split(b"\n")
            if offsets[-1] >= len(lines) - 1:
                return None  # (the last piece of a split has no ``\n``: not a whole line)
            return [lines[o] + b"\n" for o in offsets]
        mean = len(raw) / max(1, self.count)
        pos = index = 0  # ``pos``: where line ``index`` starts
        places = self.places
        known = 0  # the next place not used yet
        out: list[bytes] = []
        for target in offsets:
            while known < len(places) and places[known][1] <= target:
                if places[known][1] > index:
                    pos, index = places[known]
                known += 1
            if target > index + 8:
                cut = raw.rfind(b"\n", pos, int(target * mean)) + 1
                if cut > pos:
                    index += raw.count(b"\n", pos, cut)
                    pos = cut
            while index < target:
                pos = raw.find(b"\n", pos) + 1
                if pos == 0:
                    return None
                index += 1
            while index > target:
                pos = raw.rfind(b"\n", 0, pos - 1) + 1
                index -= 1
            end = raw.find(b"\n", pos) + 1
            if end == 0:
                return None
            out.append(raw[pos:end])
        return out

    def texts(self) -> StepTexts | None:
        """Every step of the batch as the log's own number texts (``TextDecoder.texts`` of ``raw``), when the
        batch's decoder can give them; ``None`` otherwise (then ``columns()``)."""
        texts = getattr(self.decoder, "texts", None)
        if not self.raw or texts is None:
            return None
        return cast("TextDecoder", self.decoder).texts(self.raw, self.first.line)

    def steps(self) -> Iterator[StepMetrics]:
        """Every step the batch stands for, in order, as the line-by-line path reads them (the samples when the
        batch carries no raw lines or decoder)."""
        if not self.raw or self.decoder is None:
            yield from self.samples
            return
        for columns in self.columns():
            yield from columns.rows()


def expand_steps(event: Event) -> Iterator[StepMetrics]:
    """Every step report an event stands for, at full resolution: a ``StepMetrics`` itself, each line of a
    ``StepBatch``, nothing for any other event."""
    if isinstance(event, StepMetrics):
        yield event
    elif isinstance(event, StepBatch):
        yield from event.steps()


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


class RedrawDecoder(Protocol):
    """Reads the ``\\r`` redraws a ``ProgressBatch`` stands for back as the ``ProgressUpdate`` events the line path
    gives for them, one per redraw, in order (the model never needs them: it folds in the first and the last)."""

    def decode(self, raw: str, line: int) -> list[ProgressUpdate]: ...


@dataclass(frozen=True, slots=True)
class ProgressBatch(Event):
    """A run of ``\\r`` redraws of one plain progress bar on one line, read at once (a bulk read, h17r): it stands for
    ``count`` ``ProgressUpdate(redraw=True)`` events of line ``line``, the first ``first`` and the last ``last``.
    The parser batches only redraws of one bar (same name and total) whose count and elapsed time never go back,
    so folding ``first`` then ``last`` into the model is folding every one of them (the model's reducer does
    that). ``raw`` (the redraws' texts joined by ``\\r``) and ``decoder`` give every one back (``updates()``)."""

    first: ProgressUpdate
    last: ProgressUpdate
    count: int
    raw: str
    decoder: RedrawDecoder = field(compare=False)

    def updates(self) -> list[ProgressUpdate]:
        """Every redraw the batch stands for, as the line path reads it, in order."""
        return self.decoder.decode(self.raw, self.line)


@dataclass(frozen=True, slots=True)
class CheckpointSaved(Event):
    """A checkpoint was written (``step`` and/or ``path`` when the line states them). ``pending``: the line says
    the save is under way (``Saving step 1000 in ...``): it names the checkpoint but ends no checkpoint phase."""

    step: int | None = None
    path: str | None = None
    pending: bool = False


@dataclass(frozen=True, slots=True)
class EvalMetric(Event):
    """A named evaluation result. Percentages are converted to fractions (98.72 % -> 0.9872)."""

    name: str
    value: float


@dataclass(frozen=True, slots=True)
class RunCompleted(Event):
    """The run's own end-of-run line (``Training completed successfully!``, ``Processed N sample(s) in S
    seconds``, ``{'train_runtime': ..}``). ``success`` is False for lines that report an end after a failure.
    ``tentative``: words that end runs but also end other work (a bare ``Done``, ``Total time: 0:12:34``): the run
    succeeded only if training had begun before the line and no training step follows it (h17c)."""

    samples: int | None = None
    seconds: float | None = None
    success: bool = True
    message: str = ""
    tentative: bool = False


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
class Tick(Event):
    """The viewer's clock ticked (``line`` 0, no ``ts``): the time-based judgements — a stall, a silence, and any
    check a module adds to ``hwmon.model.reducer.clock.TICK_CHECKS`` — are made by the reducer at the ``now`` this
    event is applied with, so time changes the state the same way data does. Not output: it neither counts as a
    line nor revives a quiet source, and it changes ``RunState.version`` only when it changes something.

    ``catching_up``: the source is still reading a backlog (arrival times then say nothing about the run's pace).
    ``stall_factor``: a stall is no step for this many times the usual interval, and (``stall_min_s``) for at least
    this many seconds (issue 19: a fast loop's sub-second jitter is no stall). ``silence_s``: no output for this
    long is a silence."""

    catching_up: bool = False
    stall_factor: float = 5.0
    silence_s: float = 600.0
    stall_min_s: float = 30.0


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
    | ProgressBatch
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
