"""The Slurm client commands: look a job up with ``squeue -j ID -t all``, list the user's jobs with ``squeue --me``
(never the whole cluster), submit with ``sbatch --parsable``, cancel with ``scancel`` (``--signal=INT`` first, as for
local runs).

Never a daemon of our own: each call runs one client command with a timeout. Every job id is checked against
Slurm's grammar first (``hwmon.refs.checked_job_id``) and stands after ``--``, so none can be an option
(``scancel -uroot`` cancels every job of the user). A job is signalled only when the controller says it is the
user's own. ``sacct`` needs slurmdbd, which many small clusters lack, so a finished job is known only to the
controller for ``MinJobAge`` seconds (see ``hwmon.slurm.watcher`` for how a run hwmon submitted keeps its end).
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence

from hwmon import exitcodes
from hwmon.refs import checked_job_id
from hwmon.slurm.parse import JobInfo, parse_duration, parse_exit, parse_squeue, squeue_format

COMMAND_TIMEOUT_S = 20.0


class SlurmUnavailable(exitcodes.HwmonError):
    """No Slurm client on PATH, or the controller cannot be reached."""


# Where a Slurm client finds its configuration without asking DNS (configless clusters cache it in /run/slurm).
CONFIG_PATHS = ("/etc/slurm/slurm.conf", "/etc/slurm-llnl/slurm.conf", "/run/slurm/conf/slurm.conf")


def available() -> bool:
    """Whether this host is a Slurm client: the commands are installed and a configuration is at hand
    (``SLURM_CONF`` or a usual path). Listings (``ls``, the fleet view) ask Slurm only then, so a host with the
    packages but no cluster pays nothing and never sends the client's DNS SRV lookup."""
    if shutil.which("squeue") is None:
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


def _separator() -> str:
    """A field separator no job's text can hold: fresh random bytes for each call."""
    return f"|{secrets.token_hex(8)}|"


def _squeue(args: Sequence[str]) -> list[JobInfo]:
    """``squeue -h ARGS -O <every field, each followed by a random separator>``, parsed."""
    separator = _separator()
    proc = _run(["squeue", "-h", *args, "-O", squeue_format(separator)])
    if proc.returncode != 0:
        if "Invalid job id" in proc.stderr:
            return []
        raise SlurmUnavailable(
            f"squeue failed: {_first_line(proc.stderr) or f'exit code {proc.returncode}'}", exitcodes.DEVICE_UNAVAILABLE
        )
    return parse_squeue(proc.stdout, separator)


def show_jobs(job_ref: str) -> list[JobInfo]:
    """The job ``job_ref`` names (every task of an array), finished ones too while the controller remembers them.

    An id the controller does not know gives an empty list; other failures raise ``SlurmUnavailable``; an id that
    is not one (``-uroot``) raises a usage error before anything runs."""
    job_ref = checked_job_id(job_ref)
    jobs = _squeue(["-t", "all", "-j", job_ref])
    if "_" in job_ref:
        jobs = [job for job in jobs if job.job_id == job_ref] or jobs
    return jobs


def show_job(job_ref: str) -> JobInfo | None:
    """The one job ``job_ref`` names (``123`` or an array task ``123_4``), or None when unknown."""
    jobs = show_jobs(job_ref)
    exact = [job for job in jobs if job.job_id == job_ref or job.raw_id == job_ref]
    found = exact or jobs
    return found[0] if found else None


SACCT_FIELDS = ("JobID", "State", "ExitCode", "JobName", "Elapsed", "WorkDir")


def sacct_job(job_ref: str) -> JobInfo | None:
    """A job that has left the controller, from ``sacct`` (needs slurmdbd; None when it is absent or says
    nothing). Fields are split on a random separator (``--delimiter``), as for ``squeue``."""
    job_ref = checked_job_id(job_ref)
    if shutil.which("sacct") is None:
        return None
    separator = _separator()
    try:
        proc = _run(
            ["sacct", "-n", "-P", "-X", f"--delimiter={separator}", f"--format={','.join(SACCT_FIELDS)}"]
            + ["-j", job_ref],
            timeout=10.0,
        )
    except SlurmUnavailable:
        return None
    if proc.returncode != 0:
        return None
    for line in proc.stdout.splitlines():
        parts = line.split(separator)
        if len(parts) != len(SACCT_FIELDS) or parts[0] != job_ref:
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
    """The user's jobs in the queue (``squeue --me``): only they are listed and parsed, however big the cluster."""
    return _squeue(["--me"])


def submit(argv: Sequence[str]) -> str:
    """Run ``sbatch --parsable ARGV`` and return the job id (``--parsable`` prints ``ID[;cluster]``)."""
    proc = _run(["sbatch", "--parsable", *argv])
    out = _first_line(proc.stdout)
    job_id = out.split(";")[0]
    if proc.returncode != 0 or not job_id.isdigit():
        message = _first_line(proc.stderr) or out or f"exit code {proc.returncode}"
        raise exitcodes.HwmonError(f"sbatch failed: {message}", exitcodes.RUN_FAILED)
    return job_id


def scancel_argv(job_ref: str, signal_name: str | None = None) -> list[str]:
    """``scancel [--full --signal=SIG] -- ID`` for a checked job id (``-uroot`` is a usage error, never an option)."""
    job_ref = checked_job_id(job_ref)
    if signal_name is not None and not signal_name.isalnum():
        raise exitcodes.HwmonError(f"{signal_name!r} is not a signal name", exitcodes.USAGE)
    return ["scancel"] + (["--full", f"--signal={signal_name}"] if signal_name else []) + ["--", job_ref]


def cancel(job_ref: str, signal_name: str | None = None) -> str:
    """``scancel [--full --signal=SIG] -- REF``: with a signal, to the batch shell and every step (``--full``), else
    Slurm's own cancel (SIGTERM, then SIGKILL after ``KillWait``). Returns scancel's complaint, if any."""
    proc = _run(scancel_argv(job_ref, signal_name))
    return "" if proc.returncode == 0 else (_first_line(proc.stderr) or f"exit code {proc.returncode}")


def check_owner(job: JobInfo, job_ref: str) -> None:
    """Raise ``STOP_CONFLICT`` unless the controller says ``job`` is this user's: nothing of another user's is
    signalled, even where scancel would allow it (an operator, root)."""
    if job.user_id is None or job.user_id != os.getuid():
        whose = job.user.split("(")[0] or "an unknown user"
        raise exitcodes.HwmonError(
            f"Slurm job {job_ref} is not yours (it is {whose}'s): not signalled", exitcodes.STOP_CONFLICT
        )


def stop_job(
    job_ref: str,
    *,
    int_timeout: float = 10.0,
    term_timeout: float = 10.0,
    ended: Callable[[], bool] | None = None,
    progress: Callable[[str], None] | None = None,
    check: Callable[[JobInfo], None] | None = None,
) -> JobInfo | None:
    """Stop a job as ``hwmon stop`` stops a local run: SIGINT to the batch shell and its steps
    (``scancel --full --signal=INT``), then Slurm's own cancel (SIGTERM, SIGKILL after ``KillWait``). A pending job
    is simply cancelled. ``ended`` (default: the controller says the job is final) is polled between the steps.

    Before any signal: the id is a job id, the job is known and active, it is the user's (``check_owner``) and it
    passes ``check`` (the run's own proof). A refused ``scancel`` or a job still active after both steps raises
    ``HwmonError`` (exit 1): a stop that did not happen is never reported as done. Returns the job as last seen."""
    job_ref = checked_job_id(job_ref)
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
    check_owner(job, job_ref)
    if check is not None:
        check(job)
    steps: list[tuple[str | None, float]] = [(None, term_timeout)]
    if not job.pending:
        steps.insert(0, ("INT", int_timeout))
    for signal_name, timeout in steps:
        say(f"scancel {'--full --signal=' + signal_name + ' ' if signal_name else ''}{job_ref}")
        complaint = cancel(job_ref, signal_name)
        if complaint:
            raise exitcodes.HwmonError(f"Slurm job {job_ref}: scancel refused: {complaint}", exitcodes.RUN_FAILED)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if done():
                return show_job(job_ref)
            time.sleep(0.2)
    last = show_job(job_ref)
    if last is not None and not last.final:
        raise exitcodes.HwmonError(
            f"Slurm job {job_ref} is still {last.state.lower()} after scancel", exitcodes.RUN_FAILED
        )
    return last
