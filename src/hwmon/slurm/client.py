"""The Slurm client commands: look jobs up with ``scontrol show job -o``, list the user's jobs with ``squeue --me``,
submit with ``sbatch --parsable``, cancel with ``scancel`` (``--signal=INT`` first, as for local runs).

Never a daemon of our own: each call runs one client command with a timeout. ``sacct`` needs slurmdbd, which many
small clusters lack, so a finished job is known only to ``scontrol`` for ``MinJobAge`` seconds (see
``hwmon.slurm.watcher`` for how a run hwmon submitted keeps its end).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence

from hwmon import exitcodes
from hwmon.slurm.parse import JobInfo, parse_duration, parse_exit, parse_job_line

COMMAND_TIMEOUT_S = 20.0


class SlurmUnavailable(exitcodes.HwmonError):
    """No Slurm client on PATH, or the controller cannot be reached."""


# Where a Slurm client finds its configuration without asking DNS (configless clusters cache it in /run/slurm).
CONFIG_PATHS = ("/etc/slurm/slurm.conf", "/etc/slurm-llnl/slurm.conf", "/run/slurm/conf/slurm.conf")


def available() -> bool:
    """Whether this host is a Slurm client: the commands are installed and a configuration is at hand
    (``SLURM_CONF`` or a usual path). Listings (``ls``, the fleet view) ask Slurm only then, so a host with the
    packages but no cluster pays nothing and never sends the client's DNS SRV lookup."""
    if shutil.which("scontrol") is None or shutil.which("squeue") is None:
        return False
    conf = os.environ.get("SLURM_CONF")
    if conf:
        return os.path.isfile(conf)
    return any(os.path.isfile(path) for path in CONFIG_PATHS)


def _run(argv: Sequence[str], *, timeout: float = COMMAND_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
    if shutil.which(argv[0]) is None:
        raise SlurmUnavailable(
            f"{argv[0]} not found: Slurm's client commands are not installed on this host", exitcodes.DEVICE_UNAVAILABLE
        )
    try:
        return subprocess.run(
            list(argv), capture_output=True, text=True, errors="replace", timeout=timeout, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired:
        raise SlurmUnavailable(
            f"{argv[0]} did not answer within {timeout:.0f}s (is slurmctld reachable?)", exitcodes.DEVICE_UNAVAILABLE
        ) from None


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def show_jobs(job_ref: str | None = None) -> list[JobInfo]:
    """``scontrol show job -o [REF]``: the job (every task of an array), or all jobs the controller knows.

    An id the controller does not know gives an empty list; other failures raise ``SlurmUnavailable``."""
    argv = ["scontrol", "show", "job", "-o"] + ([job_ref] if job_ref else [])
    proc = _run(argv)
    if proc.returncode != 0:
        if "Invalid job id" in proc.stderr:
            return []
        raise SlurmUnavailable(
            f"scontrol failed: {_first_line(proc.stderr) or f'exit code {proc.returncode}'}",
            exitcodes.DEVICE_UNAVAILABLE,
        )
    jobs = [job for job in (parse_job_line(line) for line in proc.stdout.splitlines()) if job is not None]
    if job_ref and "_" in job_ref:
        jobs = [job for job in jobs if job.job_id == job_ref] or jobs
    return jobs


def show_job(job_ref: str) -> JobInfo | None:
    """The one job ``job_ref`` names (``123`` or an array task ``123_4``), or None when unknown."""
    jobs = show_jobs(job_ref)
    exact = [job for job in jobs if job.job_id == job_ref or job.raw_id == job_ref]
    found = exact or jobs
    return found[0] if found else None


def sacct_job(job_ref: str) -> JobInfo | None:
    """A job that has left the controller, from ``sacct`` (needs slurmdbd; None when it is absent or says
    nothing)."""
    if shutil.which("sacct") is None:
        return None
    try:
        proc = _run(
            ["sacct", "-n", "-P", "-X", "-j", job_ref, "--format=JobID,State,ExitCode,JobName,Elapsed,WorkDir"],
            timeout=10.0,
        )
    except SlurmUnavailable:
        return None
    if proc.returncode != 0:
        return None
    for line in proc.stdout.splitlines():
        parts = line.split("|")
        if len(parts) < 6 or parts[0] != job_ref:
            continue
        exit_code, signum = parse_exit(parts[2])
        return JobInfo(
            job_id=parts[0],
            state=parts[1].split()[0] if parts[1] else "",
            name=parts[3],
            run_time_s=parse_duration(parts[4]),
            work_dir=parts[5],
            exit_code=exit_code,
            signal=signum,
        )
    return None


def my_jobs() -> list[JobInfo]:
    """The user's jobs (``squeue --me``), with their details from one ``scontrol show job -o`` call."""
    proc = _run(["squeue", "--me", "-h", "-o", "%i"])
    if proc.returncode != 0:
        raise SlurmUnavailable(
            f"squeue failed: {_first_line(proc.stderr) or f'exit code {proc.returncode}'}", exitcodes.DEVICE_UNAVAILABLE
        )
    ids = [line.strip() for line in proc.stdout.splitlines() if line.strip()]
    if not ids:
        return []
    known = {job.job_id: job for job in show_jobs()}
    jobs: list[JobInfo] = []
    for job_id in ids:
        job = known.get(job_id)
        if job is None and "[" in job_id:
            # A pending array's unexpanded tasks ("7_[2-9]"): show the array's own record.
            job = known.get(job_id.split("_")[0])
        if job is None:
            job = JobInfo(job_id=job_id, state="PENDING")
        jobs.append(job)
    return jobs


def submit(argv: Sequence[str]) -> str:
    """Run ``sbatch --parsable ARGV`` and return the job id (``--parsable`` prints ``ID[;cluster]``)."""
    proc = _run(["sbatch", "--parsable", *argv])
    out = _first_line(proc.stdout)
    job_id = out.split(";")[0]
    if proc.returncode != 0 or not job_id.isdigit():
        message = _first_line(proc.stderr) or out or f"exit code {proc.returncode}"
        raise exitcodes.HwmonError(f"sbatch failed: {message}", exitcodes.RUN_FAILED)
    return job_id


def cancel(job_ref: str, signal_name: str | None = None) -> str:
    """``scancel [--full --signal=SIG] REF``: with a signal, to the batch shell and every step (``--full``), else
    Slurm's own cancel (SIGTERM, then SIGKILL after ``KillWait``). Returns scancel's complaint, if any."""
    argv = ["scancel"] + (["--full", f"--signal={signal_name}"] if signal_name else []) + [job_ref]
    proc = _run(argv)
    return "" if proc.returncode == 0 else (_first_line(proc.stderr) or f"exit code {proc.returncode}")


def stop_job(
    job_ref: str,
    *,
    int_timeout: float = 10.0,
    term_timeout: float = 10.0,
    ended: Callable[[], bool] | None = None,
    progress: Callable[[str], None] | None = None,
) -> JobInfo | None:
    """Stop a job as ``hwmon stop`` stops a local run: SIGINT to the batch shell and its steps
    (``scancel --full --signal=INT``), then Slurm's own cancel (SIGTERM, SIGKILL after ``KillWait``). A pending job
    is simply cancelled. ``ended`` (default: the controller says the job is final) is polled between the steps.
    Returns the job as last seen."""
    say = progress or (lambda _msg: None)

    def done() -> bool:
        if ended is not None:
            return ended()
        job = show_job(job_ref)
        return job is None or job.final

    job = show_job(job_ref)
    if job is None or job.final:
        raise exitcodes.HwmonError(
            f"Slurm job {job_ref} is not running ({job.state if job else 'unknown to the controller'})",
            exitcodes.STOP_CONFLICT,
        )
    steps: list[tuple[str | None, float]] = [(None, term_timeout)]
    if not job.pending:
        steps.insert(0, ("INT", int_timeout))
    for signal_name, timeout in steps:
        say(f"scancel {'--full --signal=' + signal_name + ' ' if signal_name else ''}{job_ref}")
        complaint = cancel(job_ref, signal_name)
        if complaint:
            say(f"scancel: {complaint}")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if done():
                return show_job(job_ref)
            time.sleep(0.2)
    return show_job(job_ref)
