"""Slurm's own words, parsed: ``squeue -O`` records as ``JobInfo``, ``[D-]HH:MM:SS`` durations, ``--output``
patterns, and the run status a job's state means. Pure: no command is run here (``hwmon.slurm.client`` runs them).

Why ``squeue -O`` and not ``scontrol show job -o``: a line of ``Key=Value`` pairs cannot be split safely when values
are free text — a job's Comment or JobName holding `` JobId=12 JobState=COMPLETED`` made another user's job read as
the attacker's and completed. ``squeue -O FIELD:SEP,...`` puts a separator of our choosing after every field; the
client picks a random one per call (``SEP`` holds a nonce a job's text cannot contain), and a record that does not
split into exactly the fields asked for is dropped. (slurm-wlm 22.05's ``squeue --json`` ignores ``--me``/``-j`` and
prints the whole cluster; its ``scontrol`` has no ``--json``.)"""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass, field

PENDING_STATES = frozenset({"PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD"})
ACTIVE_STATES = frozenset({"RUNNING", "COMPLETING", "SUSPENDED", "STOPPED", "SIGNALING", "STAGE_OUT", "RESIZING"})
# Every other state is final: COMPLETED, FAILED, CANCELLED, TIMEOUT, OUT_OF_MEMORY, NODE_FAIL, PREEMPTED, ...

_PATTERN = re.compile(r"%(\d*)([%AabjJNnstuxu])")
# Slurm pads a number to at most 10 digits ("%99j" is "%10j"), and pads numbers only (not %x, %u, %N).
MAX_PAD = 10
_NUMERIC = frozenset("AabjJnst")
MAX_PATTERN = 4096  # longer than any path: left as it is


@dataclass
class JobInfo:
    """What the controller says about one job (an array task is one job, ``job_id`` = ``A_T``). ``fields`` holds
    the controller's values under ``scontrol``'s key names (``JobId``, ``ArrayJobId``, ``JobState``, ``Restarts``,
    ``TimeLimit``...)."""

    job_id: str
    state: str
    reason: str = ""
    name: str = ""
    user: str = ""
    user_id: int | None = None
    stdout: str = ""
    stderr: str = ""
    work_dir: str = ""
    nodes: str = ""
    exit_code: int | None = None
    signal: int | None = None
    run_time_s: float | None = None
    submit_time: str = ""
    start_time: str = ""
    end_time: str = ""
    raw_id: str = ""
    fields: dict[str, str] = field(default_factory=dict)

    @property
    def pending(self) -> bool:
        return self.state in PENDING_STATES

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def final(self) -> bool:
        return bool(self.state) and not self.pending and not self.active


def parse_duration(text: str) -> float | None:
    """Slurm's ``[D-]HH:MM:SS`` / ``MM:SS`` as seconds; None for ``N/A``, ``UNLIMITED`` or anything else."""
    days = 0
    if "-" in text:
        head, _, text = text.partition("-")
        if not head.isdigit():
            return None
        days = int(head)
    parts = text.split(":")
    if not parts or not all(p.isdigit() for p in parts) or len(parts) > 3:
        return None
    seconds = 0
    for part in parts:
        seconds = seconds * 60 + int(part)
    return float(days * 86400 + seconds)


def _slurm_none(value: str) -> str:
    return "" if value in ("(null)", "None", "N/A", "Unknown", "NONE") else value


def expand_output_pattern(pattern: str, job: JobInfo) -> str:
    """Expand an ``--output`` pattern as Slurm does: ``%j`` job id, ``%A``/``%a`` array job/task, ``%x`` name,
    ``%u`` user, ``%N`` node, ``%t``/``%n`` (task/node 0 for the batch step), ``%s`` step, ``%%``. A number after
    ``%`` zero-pads a number to at most ``MAX_PAD`` digits (``%4a``; ``%99999999999j`` pads to 10, as Slurm does:
    the width is never a size to allocate). A pattern longer than ``MAX_PATTERN`` is left as it is."""
    if len(pattern) > MAX_PATTERN or "%" not in pattern:
        return pattern
    fields = job.fields
    array_job = _slurm_none(fields.get("ArrayJobId", ""))
    array_task = _slurm_none(fields.get("ArrayTaskId", ""))
    own_id = job.raw_id or job.job_id.split("_")[0]
    values = {
        "%": "%",
        "A": array_job or own_id,
        "a": array_task or "4294967294",
        "b": (str(int(array_task) % 10) if array_task.isdigit() else "0"),
        "j": own_id,
        "J": own_id,
        "N": (job.nodes.split(",")[0] if job.nodes else socket.gethostname().split(".")[0]),
        "n": "0",
        "s": "batch",
        "t": "0",
        "u": job.user.split("(")[0],
        "x": job.name,
    }

    def sub(match: re.Match[str]) -> str:
        digits, key = match.group(1), match.group(2)
        value = values.get(key, match.group(0))
        if not digits or key not in _NUMERIC or not value.isdigit():
            return value
        width = MAX_PAD if len(digits) > 2 else min(int(digits), MAX_PAD)
        return value.zfill(width)

    return _PATTERN.sub(sub, pattern)


def parse_exit(text: str) -> tuple[int | None, int | None]:
    code, _, sig = text.partition(":")
    exit_code = int(code) if code.isdigit() else None
    signum = int(sig) if sig.isdigit() and int(sig) != 0 else None
    return exit_code, signum


# The fields asked of ``squeue -O``, in order, and the ``scontrol`` key each is kept under in ``JobInfo.fields``.
SQUEUE_FIELDS: tuple[tuple[str, str], ...] = (
    ("JobID", "JobId"),
    ("ArrayJobID", "ArrayJobId"),
    ("ArrayTaskID", "ArrayTaskId"),
    ("JobArrayID", "JobArrayId"),
    ("UserName", "UserName"),
    ("UserID", "UserNumber"),
    ("State", "JobState"),
    ("Reason", "Reason"),
    ("Name", "JobName"),
    ("WorkDir", "WorkDir"),
    ("STDOUT", "StdOut"),
    ("STDERR", "StdErr"),
    ("NodeList", "NodeList"),
    ("exit_code", "ExitStatus"),
    ("TimeUsed", "RunTime"),
    ("SubmitTime", "SubmitTime"),
    ("StartTime", "StartTime"),
    ("EndTime", "EndTime"),
    ("TimeLimit", "TimeLimit"),
    ("RestartCnt", "Restarts"),
)


def squeue_format(separator: str) -> str:
    """The ``squeue -O`` argument: every field of ``SQUEUE_FIELDS`` followed by ``separator``."""
    return ",".join(f"{name}:{separator}" for name, _ in SQUEUE_FIELDS)


def parse_squeue(text: str, separator: str) -> list[JobInfo]:
    """The records ``squeue -h -O squeue_format(separator)`` printed. Each is exactly ``len(SQUEUE_FIELDS)`` values,
    each followed by ``separator``, then a newline; anything else is not one of ours and is dropped (with the rest
    of the output: it cannot be realigned)."""
    width = len(SQUEUE_FIELDS)
    parts = text.split(separator)
    jobs: list[JobInfo] = []
    for start in range(0, len(parts) - width, width):
        # After a record's last separator comes its newline: then the next record's first value, or the end.
        if not parts[start + width].startswith("\n"):
            break
        values = parts[start : start + width]
        if start:
            values[0] = values[0][1:]
        job = job_from_fields({key: value for (_, key), value in zip(SQUEUE_FIELDS, values, strict=True)})
        if job is not None:
            jobs.append(job)
    return jobs


def _wait_status(text: str) -> tuple[int | None, int | None]:
    """``squeue``'s ``exit_code``: a wait status (``768`` is exit 3, ``9`` is killed by signal 9)."""
    if not text.isdigit():
        return None, None
    status = int(text)
    signum = status & 0x7F
    return (None, signum) if signum else (status >> 8, None)


def job_from_fields(fields: dict[str, str]) -> JobInfo | None:
    """A ``JobInfo`` from one record's values (keyed as in ``SQUEUE_FIELDS``); None if it names no job."""
    raw_id = fields.get("JobId", "")
    if not raw_id.isdigit():
        return None
    array_job = _slurm_none(fields.get("ArrayJobId", ""))
    array_task = _slurm_none(fields.get("ArrayTaskId", ""))
    if array_job == "0" or array_job == raw_id and not array_task:
        array_job = ""
    if array_job and array_task.isdigit():
        job_id = f"{array_job}_{array_task}"
    elif array_job and array_task:
        job_id = fields.get("JobArrayId", "") or raw_id  # a pending array's tasks not yet split: "7_[2-9]"
    else:
        job_id = raw_id
    fields["ArrayJobId"], fields["ArrayTaskId"] = array_job, array_task
    exit_code, signum = _wait_status(fields.get("ExitStatus", ""))
    fields["ExitCode"] = f"{exit_code or 0}:{signum or 0}"
    uid = fields.get("UserNumber", "")
    user = fields.get("UserName", "")
    fields["UserId"] = f"{user}({uid})" if uid.isdigit() else user
    state = fields.get("JobState", "").split()
    job = JobInfo(
        job_id=job_id,
        raw_id=raw_id,
        state=state[0] if state else "",
        reason=_slurm_none(fields.get("Reason", "")),
        name=fields.get("JobName", ""),
        user=fields["UserId"],
        user_id=int(uid) if uid.isdigit() else None,
        work_dir=fields.get("WorkDir", ""),
        nodes=_slurm_none(fields.get("NodeList", "")),
        exit_code=exit_code,
        signal=signum,
        run_time_s=parse_duration(fields.get("RunTime", "")),
        submit_time=_slurm_none(fields.get("SubmitTime", "")),
        start_time=_slurm_none(fields.get("StartTime", "")),
        end_time=_slurm_none(fields.get("EndTime", "")),
        fields=fields,
    )
    job.stdout = _resolve_path(expand_output_pattern(fields.get("StdOut", ""), job), job.work_dir)
    job.stderr = _resolve_path(expand_output_pattern(fields.get("StdErr", ""), job), job.work_dir)
    return job


def _resolve_path(path: str, work_dir: str) -> str:
    if path and not os.path.isabs(path) and work_dir:
        return os.path.join(work_dir, path)
    return path


def run_status(job: JobInfo, stop_requested: bool = False) -> tuple[str, str]:
    """The run-registry status for a job (running / succeeded / failed / stopped) and how it ended, in words."""
    if not job.final:
        return "running", ""
    if job.state == "COMPLETED" and (job.exit_code or 0) == 0:
        return "succeeded", "exit code 0"
    how = job.state.lower().replace("_", " ")
    if job.state == "CANCELLED":
        how = "cancelled by Slurm (scancel)"
    elif job.signal:
        how += f", killed by signal {job.signal}"
    elif job.exit_code is not None:
        how += f", exit code {job.exit_code}"
    if stop_requested:
        return "stopped", f"stopped by 'hwmon stop', {how}"
    return ("stopped" if job.state == "CANCELLED" else "failed"), how
