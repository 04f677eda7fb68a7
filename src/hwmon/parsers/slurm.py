"""Slurm's own messages in a job's output (``srun: ...``, ``salloc: ...``, ``sbatch: ...``, ``slurmstepd: ...``) ->
events. Pure. The stream hands these lines here instead of to the format parsers: a job number -> ``RunStarted`` +
``JobIdSeen(kind="slurm")`` (+ the queue phase while it waits), ``error:`` lines -> ``ErrorSeen``, warnings ->
``WarningSeen``.
"""

from __future__ import annotations

import re

from hwmon.events import (
    ErrorSeen,
    Event,
    JobIdSeen,
    PhaseEnded,
    PhaseStarted,
    RunRequeued,
    RunStarted,
    WarningSeen,
)
from hwmon.parsers import slurm_end
from hwmon.parsers.records import Record

__all__ = ["SLURM_LINE", "SlurmLines"]

SLURM_LINE = re.compile(r"^(srun|salloc|sbatch|slurmstepd(?:-[\w.-]+)?): ")
_SLURM_QUEUED = re.compile(r"\bjob (\d+) queued and waiting for resources|Pending job allocation (\d+)")
_SLURM_GRANTED = re.compile(r"\bjob (\d+) has been allocated resources|Granted job allocation (\d+)")
_SLURM_SUBMITTED = re.compile(r"Submitted batch job (\d+)")
_SLURM_FATAL = re.compile(
    r"Exited with exit code [1-9]|Killed|Segmentation fault|Aborted|CANCELLED|TIME LIMIT|OUT_OF_MEMORY|"
    r"oom-kill|Job step aborted|Force Terminated",
    re.IGNORECASE,
)


class SlurmLines:
    """Slurm's lines of one stream (remembers the jobs seen and the one waiting in the queue)."""

    def __init__(self) -> None:
        self._jobs: set[str] = set()
        self._queued: str | None = None

    def feed(self, line: Record) -> list[Event]:
        """Events for one of Slurm's own lines (the stream hands over only lines ``SLURM_LINE`` matches)."""
        out: list[Event] = []
        text = line.text
        ts = line.ts
        queued = _SLURM_QUEUED.search(text)
        granted = _SLURM_GRANTED.search(text) if queued is None else None
        submitted = _SLURM_SUBMITTED.search(text) if queued is None and granted is None else None
        match = queued or granted or submitted
        if match is not None:
            job = match.group(1) or match.group(match.lastindex or 1)
            if job not in self._jobs:
                self._jobs.add(job)
                out.append(RunStarted(line.number, ts, None))
                out.append(JobIdSeen(line.number, ts, job, "slurm"))
            if queued is not None and self._queued is None:
                self._queued = job
                out.append(PhaseStarted(line.number, ts, "queue", "Slurm: waiting for resources"))
            elif granted is not None and self._queued == job:
                self._queued = None
                out.append(PhaseEnded(line.number, ts, "queue"))
            return out
        end = slurm_end.read(line)  # issue 21: how Slurm ended (or requeued) the job
        if isinstance(end, RunRequeued):
            return [end]  # not an error: the same run goes on
        if end is not None:
            out.append(end)
        body = text.split(": ", 1)[1] if ": " in text else text
        lowered = body.lower()
        if lowered.startswith("error:"):
            fatal = _SLURM_FATAL.search(body) is not None
            out.append(ErrorSeen(line.number, ts, text.strip(), fatal, "slurm"))
        elif _SLURM_FATAL.search(body) is not None and ("job" in lowered or "task" in lowered):
            out.append(ErrorSeen(line.number, ts, text.strip(), True, "slurm"))
        elif lowered.startswith("warning:"):
            out.append(WarningSeen(line.number, ts, text.strip(), "slurm"))
        return out
