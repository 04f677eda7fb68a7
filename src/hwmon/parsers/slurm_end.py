"""How Slurm says in a job's output that it ended or requeued the job (issue 21). Pure.

``slurmstepd`` writes one line when it kills a job or step::

    slurmstepd: error: *** JOB 12 ON node01 CANCELLED AT 2026-12-07T00:59:07 DUE TO TIME LIMIT ***
    slurmstepd: error: *** JOB 12 ON node01 CANCELLED AT ... DUE TO PREEMPTION ***
    slurmstepd: error: *** JOB 12 ON node01 CANCELLED AT ... DUE TO NODE FAILURE, SEE SLURMCTLD LOG FOR DETAILS ***
    slurmstepd: error: *** JOB 12 ON node01 CANCELLED AT ... DUE TO JOB REQUEUE ***
    slurmstepd: error: *** JOB 12 ON node01 CANCELLED AT ... ***                      (scancel)
    slurmstepd: error: *** STEP 12.0 ON node01 CANCELLED AT ... DUE TO TIME LIMIT ***
    slurmstepd: error: Detected 1 oom_kill event in StepId=12.batch. Some of the step tasks have been OOM Killed.
    srun: error: node01: task 0: Out Of Memory

``read(record)`` gives the ``JobState`` (``origin="log"``) such a line states, or a ``RunRequeued`` for a requeue
(which is not the run's end: the same run continues), or None.
"""

from __future__ import annotations

import re

from hwmon.events import Event, JobState, RunRequeued
from hwmon.parsers.records import Record

__all__ = ["read"]

_KILLED = re.compile(
    r"\*\*\* (?:JOB|STEP) (?P<job>\d+)(?:[._]\w+)?(?: ON (?P<node>\S+))? CANCELLED AT (?P<at>\S+)"
    r"(?: DUE TO (?P<why>[A-Z][A-Z ]*[A-Z]))?"
)
_OOM = re.compile(r"Detected \d+ oom[-_]kill event|task \d+: Out Of Memory|OUT_OF_MEMORY", re.IGNORECASE)
_STATES = {
    "TIME LIMIT": ("TIMEOUT", "TimeLimit"),
    "PREEMPTION": ("PREEMPTED", "Preempted"),
    "NODE FAILURE": ("NODE_FAIL", "NodeFail"),
}


def read(record: Record) -> Event | None:
    """The end (or requeue) one of Slurm's own lines states (see the module doc), else None."""
    text = record.text
    if "***" in text:
        m = _KILLED.search(text)
        if m is None:
            return None
        job = m.group("job")
        why = m.group("why") or ""
        if why == "JOB REQUEUE":
            return RunRequeued(record.number, record.ts, job, None, "Slurm requeued the job")
        state, reason = _STATES.get(why, ("CANCELLED", why.title() if why else "cancelled (scancel)"))
        return JobState(record.number, record.ts, job, state, reason, origin="log")
    if "oom" in text.lower() or "Out Of Memory" in text:
        if _OOM.search(text) is not None:
            return JobState(record.number, record.ts, "", "OUT_OF_MEMORY", "OOM killed", origin="log")
    return None
