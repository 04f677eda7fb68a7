"""A Slurm job's facts for the run model (issue 21): its state, reason, exit, time limit, run time and restart
count as a ``JobState`` event, and how it ended as the ``end_reason`` of ``run.json``. Pure: reads a ``JobInfo``
(``hwmon.slurm.parse``), whatever command filled it (its ``fields`` carry ``scontrol``'s key names: ``TimeLimit``,
``Restarts``)."""

from __future__ import annotations

from typing import Any

from hwmon.events import JobState
from hwmon.slurm.parse import JobInfo, parse_duration

__all__ = ["END_WORDS", "end_reason_record", "job_event", "record_event", "restarts", "time_limit_s"]

END_WORDS = {
    "TIMEOUT": "time limit",
    "OUT_OF_MEMORY": "the job's memory limit",
    "NODE_FAIL": "node failure",
    "PREEMPTED": "preempted",
    "DEADLINE": "deadline",
    "BOOT_FAIL": "node boot failure",
    "CANCELLED": "cancelled",
}


def time_limit_s(job: JobInfo) -> float | None:
    """The job's time limit in seconds (``TimeLimit``; None for ``UNLIMITED`` or unknown)."""
    return parse_duration(job.fields.get("TimeLimit", "").strip())


def restarts(job: JobInfo) -> int:
    """How many times Slurm requeued the job (``Restarts``)."""
    text = job.fields.get("Restarts", "").strip()
    return int(text) if text.isdigit() else 0


def job_event(job: JobInfo, line: int = 0) -> JobState:
    """The ``JobState`` a lookup of the job states (``origin="scheduler"``)."""
    return JobState(
        line,
        None,
        job.job_id,
        job.state,
        job.reason,
        job.exit_code,
        job.signal,
        time_limit_s(job),
        job.run_time_s,
        restarts(job),
        origin="scheduler",
    )


def end_reason_record(job: JobInfo) -> dict[str, Any] | None:
    """``end_reason`` for ``run.json`` and ``ls --json`` once the job is final: Slurm's state and reason, its exit
    code or signal, its run time and the words for it (``TIMEOUT (time limit)``); None while it is not final."""
    if not job.final:
        return None
    words = END_WORDS.get(job.state, "")
    if words:
        pass  # the signal is how Slurm ended such a job (SIGTERM at the time limit): it says nothing more
    elif job.signal:
        words = f"{words}, signal {job.signal}" if words else f"signal {job.signal}"
    elif job.exit_code:
        words = f"{words}, exit code {job.exit_code}" if words else f"exit code {job.exit_code}"
    return {
        "state": job.state,
        "reason": job.reason,
        "exit_code": job.exit_code,
        "signal": job.signal,
        "seconds": job.run_time_s,
        "restarts": restarts(job),
        "text": f"{job.state} ({words})" if words else job.state,
    }


def _number(value: object) -> float | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < 1e9
    return float(value) if ok else None  # type: ignore[arg-type]


def record_event(job_id: str, info: dict[str, object]) -> JobState | None:
    """The ``JobState`` the watcher's record of a submitted run states (``run.json``'s ``extra["slurm"]``), or None
    when it has no state yet."""
    state = info.get("state")
    if not isinstance(state, str) or not state:
        return None
    restarts_value = _number(info.get("restarts"))
    return JobState(
        0,
        None,
        job_id,
        state,
        str(info.get("reason", "") or ""),
        time_limit_s=_number(info.get("time_limit_s")),
        elapsed_s=_number(info.get("run_time_s")),
        restarts=int(restarts_value) if restarts_value is not None else 0,
        origin="scheduler",
    )
