"""A Slurm job as a source: while the job is PENDING the timeline shows a ``queue`` phase with Slurm's reason
(Priority, Resources, BeginTime...); once it runs, its output file is followed like any log.

Two kinds of job: one hwmon submitted (``hwmon run --sbatch``), whose watcher keeps the job's state in ``run.json``
and appends the ``[hwmon] run ended: ...`` line when it ends; and any other job of the user's (``hwmon attach
slurm:ID``), looked up with ``scontrol`` (at most once a second), whose end is turned into the same events.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Literal

from hwmon import exitcodes
from hwmon.events import Event, JobIdSeen, PhaseEnded, PhaseStarted, RunOutcome
from hwmon.parsers.stream import parse_bytes
from hwmon.refs import job_ref_of
from hwmon.slurm.client import show_job
from hwmon.slurm.facts import job_event
from hwmon.slurm.parse import ACTIVE_STATES, PENDING_STATES, JobInfo, run_status
from hwmon.slurm.watcher import END_PREFIX, slurm_state
from hwmon.sources.follow import FileFollower
from hwmon.sources.offthread import Poller, call_off_loop
from hwmon.sources.source import Batch, FollowSource
from hwmon.sources.ssh import printable
from hwmon.store import registry

LOOKUP_EVERY_S = 1.0


class SlurmJobSource:
    """Queue phase from the job's state, then the output file (see the module docstring).

    ``lookup`` returns the job's current ``JobInfo`` (None once the controller forgot it); ``run_dir`` is set for
    a run hwmon submitted (its ``run.json`` then decides when the source ends).
    """

    def __init__(
        self,
        job_id: str,
        lookup: Callable[[], JobInfo | None],
        *,
        run_dir: Path | None = None,
        output: str | None = None,
        name: str | None = None,
        poll_s: float = LOOKUP_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.job_id = job_id
        self.name = name or f"slurm:{job_id}"
        self.come_back = f"slurm:{job_id}"  # the name may carry the job's name: not an attach argument
        self.run_dir = run_dir
        self._lookup = lookup
        self._output = output
        self._poll_s = poll_s
        self._clock = clock
        self._closed = False
        self._inner: FollowSource | None = None
        self._last: JobInfo | None = None
        self._looked_at = float("-inf")
        self._wake = asyncio.Event()
        self._poller: Poller[JobInfo | None] | None = None
        self._slurm: Poller[JobInfo | None] | None = None  # the controller itself, for a run hwmon submitted
        # What the scheduler said last, as told to the model (``JobState``: issue 21).
        self._told: tuple[object, ...] | None = None

    def _job(self, fresh: bool = False) -> JobInfo | None:
        """The job, looked up at most once per ``poll_s`` unless ``fresh``. Blocking when the lookup asks Slurm:
        call it off the event loop then (``call_off_loop``); a run hwmon submitted is looked up in its run.json."""
        now = time.monotonic()
        if fresh or now - self._looked_at >= self._poll_s:
            self._looked_at = now
            try:
                self._last = self._lookup()
            except exitcodes.HwmonError:
                pass  # the controller did not answer this time: keep what we knew
        return self._last

    def _ended(self) -> bool:
        """``end_when`` of the output's follower, asked on the event loop: never waits on ``scontrol`` (a thread
        looks the job up every ``poll_s``; until it has an answer, the job goes on)."""
        if self.run_dir is not None:
            record = registry.load(self.run_dir)
            if record is None or record.status == "running":
                return False
            if not self.job_id:
                return True
            # The watcher recorded the end of an attempt. A requeued job's next attempt may be queued already (its
            # own watcher marks the run running when it starts): the controller says whether the job is final.
            if self._slurm is None:
                self._slurm = Poller(lambda: show_job(self.job_id), self._poll_s, what=f"scontrol (job {self.job_id})")
                self._slurm.start()
            if not self._slurm.has_result:
                return bool(self._slurm.note)  # no controller to ask (Slurm is not here): the record decides
            job = self._slurm.latest
            return job is None or job.final
        if self._poller is None:
            self._poller = Poller(self._lookup, self._poll_s, what=f"scontrol (job {self.job_id})")
            self._poller.start()
        if not self._poller.has_result:
            return False
        job = self._poller.latest
        self._last = job if job is not None else self._last
        return job is None or job.final

    def _facts(self, job: JobInfo | None) -> list[Event]:
        """A ``JobState`` when what the scheduler says (state, reason, time limit, restarts, exit) changed since
        it was last told to the model (issue 21)."""
        if job is None:
            return []
        event = job_event(job)
        key = (event.state, event.reason, event.time_limit_s, event.restarts, event.exit_code, event.signal)
        if key == self._told:
            return []
        self._told = key
        return [event]

    async def batches(self) -> AsyncIterator[Batch]:
        """The queue phase while pending, then the output file's batches; a job hwmon did not submit gets its end
        (from ``scontrol``) as the last events."""
        job = await call_off_loop(lambda: self._job(True), name=f"hwmon scontrol {self.job_id}")
        events: list[Event] = [JobIdSeen(0, None, self.job_id, "slurm"), *self._facts(job)]
        status = f"Slurm job {self.job_id}: {job.state if job else 'unknown to the controller'}"
        queued = False
        while job is not None and job.pending and not self._closed:
            reason = printable(job.reason or "waiting", 80)
            if not queued or status != f"queued in Slurm: {reason}":
                events.append(PhaseStarted(0, None, "queue", f"Slurm: {reason}"))
                status = f"queued in Slurm: {reason}"
                yield Batch(events, [], status, False, self._clock())
                events = []
                queued = True
            try:
                await asyncio.wait_for(self._wake.wait(), self._poll_s)
            except asyncio.TimeoutError:
                pass
            job = await call_off_loop(lambda: self._job(True), name=f"hwmon scontrol {self.job_id}")
        if self._closed:
            return
        if queued:
            events.append(PhaseEnded(0, None, "queue"))
            where = f" on {printable(job.nodes, 80)}" if job is not None and job.nodes else ""
            status = f"Slurm job {self.job_id} {job.state.lower() if job else 'left the queue'}{where}"
        yield Batch(events, [], status, False, self._clock())
        output = (job.stdout if job is not None and job.stdout else None) or self._output
        if not output:
            yield Batch([], [], f"Slurm job {self.job_id} has no output file", True, self._clock())
            return
        self._inner = FollowSource(FileFollower(output, end_when=self._ended), name=self.name, run_dir=self.run_dir)
        async for batch in self._inner.batches():
            if batch.eof and self.run_dir is None:
                final = await call_off_loop(lambda: self._job(True), name=f"hwmon scontrol {self.job_id}")
                tail = [*self._facts(final), *_end_events(final, self.job_id)]
                yield Batch(batch.events + tail, batch.lines, batch.status, True, batch.at)
                return
            if self.run_dir is not None or batch.eof:
                self._job(fresh=batch.eof)  # a run hwmon submitted: its run.json, a local read
            elif batch.status and "truncated" in batch.status:
                # A requeued job truncates its output (unless --open-mode=append): ask Slurm now, so the restart
                # is known before the new attempt's steps are read.
                await call_off_loop(lambda: self._job(True), name=f"hwmon scontrol {self.job_id}")
            told = self._facts(self._last)
            yield dataclasses.replace(batch, events=[*told, *batch.events]) if told else batch
            if self.closed:
                return

    @property
    def closed(self) -> bool:
        """Whether ``close()`` was called."""
        return self._closed

    def close(self) -> None:
        """Stop (the queue wait or the follower)."""
        self._closed = True
        self._wake.set()
        for poller in (self._poller, self._slurm):
            if poller is not None:
                poller.stop()
        if self._inner is not None:
            self._inner.close()


def _end_events(job: JobInfo | None, job_id: str) -> list[Event]:
    """How a job hwmon did not submit ended, as the scheduler recorded it (never read from its log): a
    ``RunOutcome``, plus the events of the supervisor's end line so views that settle the status from that line
    agree."""
    if job is None:
        status, how = "lost", f"Slurm job {job_id} left the controller; how it ended is unknown"
        outcome = RunOutcome(0, None, "lost")
    else:
        status, how = run_status(job)
        final: Literal["succeeded", "failed", "stopped", "lost"] = (
            "succeeded" if status == "succeeded" else "stopped" if status == "stopped" else "failed"
        )
        outcome = RunOutcome(0, None, final, job.exit_code, job.signal)
    line_events = [e for e in parse_bytes((END_PREFIX + how + "\n").encode()) if not isinstance(e, JobIdSeen)]
    return [*line_events, outcome]


def job_source(job_ref: str) -> SlurmJobSource:
    """``hwmon attach slurm:ID`` (or a bare id ``scontrol`` knows): the job's source. Raises ``RUN_NOT_FOUND`` for
    a job neither the controller nor ``sacct`` knows."""
    job_id = job_ref_of(job_ref)
    job = show_job(job_id)
    if job is None:
        raise exitcodes.HwmonError(
            f"Slurm job {job_id} is not known to the controller (finished jobs are kept only MinJobAge seconds, and "
            "sacct needs slurmdbd)",
            exitcodes.RUN_NOT_FOUND,
        )
    job_id = job.job_id

    def lookup() -> JobInfo | None:
        return show_job(job_id)

    return SlurmJobSource(job_id, lookup, output=job.stdout, name=f"slurm:{job_id} {job.name}".strip())


def run_job_source(record: registry.RunRecord) -> SlurmJobSource:
    """The source of a run hwmon submitted with ``--sbatch``: its state comes from ``run.json`` (kept by its
    watcher), its output is the run's ``output.log``."""
    job_id = record.slurm_job_id or ""
    run_dir = record.dir

    def lookup() -> JobInfo | None:
        current = registry.load(run_dir)
        if current is None:
            return None
        info = slurm_state(current)
        state = str(info.get("state", "PENDING"))
        if current.status != "running":
            state = state if state not in PENDING_STATES | ACTIVE_STATES else "COMPLETED"
        fields = {key: str(int(value)) for key, value in _numbers(info).items()}
        return JobInfo(
            job_id=job_id,
            state=state,
            reason=str(info.get("reason", "")),
            nodes=str(info.get("nodes", "")),
            stdout=str(record.log_path),
            exit_code=current.exit_code,
            signal=current.signal,
            run_time_s=_number(info.get("run_time_s")),
            fields=fields,
        )

    return SlurmJobSource(job_id, lookup, run_dir=run_dir, output=str(record.log_path), name=record.run_id)


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0 else None


def _numbers(info: dict[str, object]) -> dict[str, float]:
    """The watcher's record of the time limit and restart count, under Slurm's key names (issue 21)."""
    out: dict[str, float] = {}
    for key, name in (("time_limit_s", "TimeLimit"), ("restarts", "Restarts")):
        value = _number(info.get(key))
        if value is not None and value < 1e9:
            out[name] = value
    return out
