"""Slurm's own words, parsed: ``scontrol show job -o`` lines as ``JobInfo``, ``[D-]HH:MM:SS`` durations, ``--output``
patterns, and the run status a job's state means. Pure: no command is run here (``hwmon.slurm.client`` runs them)."""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass, field

PENDING_STATES = frozenset({"PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD"})
ACTIVE_STATES = frozenset({"RUNNING", "COMPLETING", "SUSPENDED", "STOPPED", "SIGNALING", "STAGE_OUT", "RESIZING"})
# Every other state is final: COMPLETED, FAILED, CANCELLED, TIMEOUT, OUT_OF_MEMORY, NODE_FAIL, PREEMPTED, ...

_KEY = re.compile(r"(?:^|\s)([A-Za-z][A-Za-z0-9_:/]*)=")
_PATTERN = re.compile(r"%(\d*)([%AabjJNnstuxu])")


@dataclass
class JobInfo:
    """What ``scontrol show job -o`` says about one job (an array task is one job, ``job_id`` = ``A_T``)."""

    job_id: str
    state: str
    reason: str = ""
    name: str = ""
    user: str = ""
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


def parse_fields(line: str) -> dict[str, str]:
    """``Key=Value Key2=Value 2 ...`` (one line of ``scontrol show job -o``) as a dict. A value runs up to the
    next ``Key=``, so values with spaces (a ``Comment``, a ``WorkDir``) survive."""
    matches = list(_KEY.finditer(line))
    out: dict[str, str] = {}
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(line)
        out[match.group(1)] = line[match.end() : end].strip()
    return out


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
    return "" if value in ("(null)", "None", "N/A", "Unknown") else value


def expand_output_pattern(pattern: str, job: JobInfo) -> str:
    """Expand what ``scontrol`` leaves of an ``--output`` pattern: ``%j`` job id, ``%A``/``%a`` array job/task,
    ``%x`` name, ``%u`` user, ``%N`` node, ``%t``/``%n`` (task/node 0 for the batch step), ``%s`` step, ``%%``.
    A number after ``%`` zero-pads (``%4a``)."""
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
        width, key = match.group(1), match.group(2)
        value = values.get(key, match.group(0))
        return value.zfill(int(width)) if width and key != "%" else value

    return _PATTERN.sub(sub, pattern)


def parse_exit(text: str) -> tuple[int | None, int | None]:
    code, _, sig = text.partition(":")
    exit_code = int(code) if code.isdigit() else None
    signum = int(sig) if sig.isdigit() and int(sig) != 0 else None
    return exit_code, signum


def parse_job_line(line: str) -> JobInfo | None:
    """One ``scontrol show job -o`` line as a ``JobInfo`` (None if it names no job)."""
    fields = parse_fields(line)
    raw_id = fields.get("JobId", "")
    if not raw_id.isdigit():
        return None
    array_job = _slurm_none(fields.get("ArrayJobId", ""))
    array_task = _slurm_none(fields.get("ArrayTaskId", ""))
    job_id = f"{array_job}_{array_task}" if array_job and array_task else raw_id
    exit_code, signum = parse_exit(fields.get("ExitCode", ""))
    job = JobInfo(
        job_id=job_id,
        raw_id=raw_id,
        state=fields.get("JobState", "").split()[0] if fields.get("JobState") else "",
        reason=_slurm_none(fields.get("Reason", "")),
        name=fields.get("JobName", ""),
        user=fields.get("UserId", ""),
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
