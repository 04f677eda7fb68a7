"""Slurm jobs as runs: submit with ``sbatch --parsable``, look jobs up with ``scontrol show job -o``, list the
user's jobs with ``squeue --me``, cancel with ``scancel`` (``--signal=INT`` first, as for local runs).

Parsing (``parse_job_line``, ``expand_output_pattern``, ``run_status``) is pure; the rest runs the Slurm client
commands (never a daemon of our own). ``sacct`` needs slurmdbd, which many small clusters lack, so a finished job
is known only to ``scontrol`` for ``MinJobAge`` seconds: a run hwmon submitted has a watcher
(``python -m hwmon.runners.slurm watch RUN_DIR``) that records the job's state, reason, output path and end in
``run.json`` while the controller still knows it, and appends the supervisor's ``[hwmon] run ended: ...`` line to
the output file so every view settles the run's status the same way.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hwmon import exitcodes
from hwmon.runners import registry

END_PREFIX = "[hwmon] run ended: "
WATCH_LOG = "slurm-watch.log"
POLL_S = 1.0
COMMAND_TIMEOUT_S = 20.0
PENDING_STATES = frozenset({"PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD"})
ACTIVE_STATES = frozenset({"RUNNING", "COMPLETING", "SUSPENDED", "STOPPED", "SIGNALING", "STAGE_OUT", "RESIZING"})
# Every other state is final: COMPLETED, FAILED, CANCELLED, TIMEOUT, OUT_OF_MEMORY, NODE_FAIL, PREEMPTED, ...

_KEY = re.compile(r"(?:^|\s)([A-Za-z][A-Za-z0-9_:/]*)=")
_JOB_REF = re.compile(r"^\d+(?:_\d+)?$")
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


def _exit(text: str) -> tuple[int | None, int | None]:
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
    exit_code, signum = _exit(fields.get("ExitCode", ""))
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


# ------------------------------------------------------------------------------------------ the client commands


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
        exit_code, signum = _exit(parts[2])
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


def is_job_ref(ref: str) -> bool:
    """``slurm:123``, ``slurm:123_4``, or a bare ``123`` / ``123_4``."""
    body = ref[len("slurm:") :] if ref.startswith("slurm:") else ref
    return bool(_JOB_REF.match(body))


def job_ref_of(ref: str) -> str:
    """The job id in ``slurm:ID`` or a bare ``ID``."""
    return ref[len("slurm:") :] if ref.startswith("slurm:") else ref


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


def stop_run(
    record: registry.RunRecord,
    *,
    int_timeout: float = 10.0,
    term_timeout: float = 10.0,
    progress: Callable[[str], None] | None = None,
) -> registry.RunRecord:
    """``hwmon stop`` for a run submitted with ``--sbatch``: mark the stop (so the end is recorded as "stopped"),
    cancel the job (see ``stop_job``) and wait for the watcher to record the end."""
    if record.status != "running" or not record.slurm_job_id:
        raise exitcodes.HwmonError(
            f"run {record.run_id} is not running (status: {record.status})", exitcodes.STOP_CONFLICT
        )
    registry.write_json_atomic(
        record.dir / "stop.json", {"requested": registry.now_iso(), "by": "hwmon stop", "pid": os.getpid()}
    )

    def ended() -> bool:
        current = registry.load(record.dir)
        return current is None or current.status != "running"

    stop_job(record.slurm_job_id, int_timeout=int_timeout, term_timeout=term_timeout, ended=ended, progress=progress)
    deadline = time.monotonic() + 15.0
    while time.monotonic() < deadline and not ended():
        time.sleep(0.1)
    current = registry.load(record.dir)
    return current if current is not None else record


# --------------------------------------------------------------------------------------- runs hwmon submitted


def sbatch_argv(command: Sequence[str], log_path: Path, name: str, cwd: str, extra: Sequence[str]) -> list[str]:
    """The ``sbatch`` arguments for running ``command`` as a batch job whose output (stdout and stderr) goes to
    ``log_path``. Python in the job runs unbuffered (else it block-buffers into the file and nothing shows)."""
    return [
        f"--job-name={name}",
        f"--output={log_path}",
        f"--chdir={cwd}",
        "--export=ALL,PYTHONUNBUFFERED=1",
        *extra,
        f"--wrap=exec {shlex.join(command)}",
    ]


def submit_run(
    command: Sequence[str],
    *,
    sbatch_args: Sequence[str] = (),
    workload: str | None = None,
    device: str | None = None,
    run_dir: Path | None = None,
    extra: dict[str, object] | None = None,
    start_watcher: bool = True,
) -> registry.RunRecord:
    """Submit ``command`` with ``sbatch``, record the run (``slurm_job_id``, output path) in the registry and start
    its watcher. Returns the record."""
    if not command:
        raise exitcodes.HwmonError("no command to run", exitcodes.USAGE)
    root = registry.runs_root()
    if run_dir is None:
        run_id = registry.new_run_id(workload or Path(command[0]).name)
        run_dir = root / run_id
    else:
        run_dir = run_dir.expanduser().resolve()
        run_id = run_dir.name
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        if (run_dir / registry.RUN_FILE).exists():
            raise exitcodes.HwmonError(f"{run_dir} already holds a run", exitcodes.USAGE)
        root.mkdir(parents=True, exist_ok=True)
        link = root / run_id
        if run_dir.parent.resolve() != root.resolve() and not link.exists():
            link.symlink_to(run_dir, target_is_directory=True)
    except OSError as exc:
        raise exitcodes.HwmonError(
            f"cannot create run directory {run_dir}: {exc.strerror or exc}", exitcodes.USAGE
        ) from None
    log_path = run_dir / registry.LOG_FILE
    log_path.touch()
    cwd = os.getcwd()
    job_id = submit(sbatch_argv(command, log_path, f"hwmon-{workload or Path(command[0]).name}", cwd, sbatch_args))
    record = registry.RunRecord.starting(
        run_id,
        run_dir,
        list(command),
        workload,
        device,
        cwd,
        slurm_job_id=job_id,
        extra={**(extra or {}), "slurm": {"job_id": job_id, "state": "PENDING", "output": str(log_path)}},
    )
    registry.save(record)
    if start_watcher:
        start_watch(run_dir)
    loaded = registry.load(run_dir)
    return loaded if loaded is not None else record


def start_watch(run_dir: Path, timeout: float = 10.0) -> None:
    """Start the detached watcher of a submitted run and wait until it has recorded its pid."""
    with open(run_dir / WATCH_LOG, "ab") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hwmon.runners.slurm", "watch", str(run_dir)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,
            close_fds=True,
        )
    proc.wait()  # the intermediate exits once the watcher has forked off
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = registry.load(run_dir)
        if record is not None and record.supervisor_pid is not None:
            return
        time.sleep(0.02)
    raise exitcodes.HwmonError(
        f"the Slurm watcher did not start within {timeout:.0f}s (see {run_dir / WATCH_LOG})", exitcodes.RUN_FAILED
    )


def _append_log(path: Path, text: str) -> None:
    try:
        with open(path, "ab+") as fh:
            fh.seek(0, os.SEEK_END)
            prefix = b""
            if fh.tell() > 0:
                fh.seek(-1, os.SEEK_END)
                if fh.read(1) != b"\n":
                    prefix = b"\n"
            fh.write(prefix + text.encode("utf-8") + b"\n")
    except OSError:
        pass


def slurm_state(record: registry.RunRecord) -> dict[str, object]:
    """The ``extra["slurm"]`` part of a run's record (job id, state, reason, output, node)."""
    value = record.extra.get("slurm")
    return value if isinstance(value, dict) else {}


def watch_once(record: registry.RunRecord, lookup: Callable[[str], JobInfo | None] = show_job) -> bool:
    """One look at the job: record its state in ``run.json``; at a final state record the end, append the end
    line to the output file and return True."""
    job_id = record.slurm_job_id or str(slurm_state(record).get("job_id", ""))
    job = lookup(job_id)
    if job is None:
        job = sacct_job(job_id)
    info = dict(slurm_state(record))
    if job is None:
        # Gone from the controller (MinJobAge passed) and no accounting: say what we last knew.
        record.status = "lost"
        record.ended = registry.now_iso()
        record.message = f"Slurm job {job_id} left the controller before its end was seen (no sacct)"
        registry.save(record)
        _append_log(record.log_path, END_PREFIX + record.message)
        return True
    changed = info.get("state") != job.state or info.get("reason") != job.reason
    info.update(
        {
            "job_id": job_id,
            "state": job.state,
            "reason": job.reason,
            "nodes": job.nodes,
            "output": job.stdout or info.get("output", ""),
            "start_time": job.start_time,
        }
    )
    record.extra["slurm"] = info
    if job.final:
        stop_requested = (record.dir / "stop.json").exists()
        status, how = run_status(job, stop_requested)
        record.status = status
        record.ended = registry.now_iso()
        record.exit_code = job.exit_code
        record.signal = job.signal
        record.message = how
        _append_log(record.log_path, END_PREFIX + how)
        registry.save(record)
        return True
    if changed:
        registry.save(record)
    return False


def _watch(run_dir: Path, poll_s: float = POLL_S) -> int:
    record = registry.load(run_dir)
    if record is None:
        return 1
    # Read before this watcher recorded itself, the run looked "lost"; it is running.
    record.status = "running"
    record.message = ""
    record.supervisor_pid = os.getpid()
    record.supervisor_start = registry.process_start_token(os.getpid())
    registry.save(record)
    failures = 0
    while True:
        current = registry.load(run_dir)
        if current is None:
            return 1
        try:
            if watch_once(current):
                return 0
            failures = 0
        except exitcodes.HwmonError as exc:
            failures += 1
            print(f"hwmon slurm watch: {exc}", file=sys.stderr, flush=True)
        # Once the job runs, its output file shows the progress: ask the controller half as often.
        running = str(slurm_state(current).get("state", "")) in ACTIVE_STATES
        time.sleep(min(30.0, poll_s * (2 if running else 1) * (2 ** min(failures, 5))))


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m hwmon.runners.slurm watch RUN_DIR``: the detached watcher of a submitted job."""
    parser = argparse.ArgumentParser(prog="hwmon-slurm")
    parser.add_argument("action", choices=["watch"])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--no-daemon", action="store_true")
    args = parser.parse_args(argv)
    if not args.no_daemon:
        if os.fork() > 0:
            os._exit(0)
        for signum in (signal.SIGHUP, signal.SIGINT, signal.SIGPIPE):
            signal.signal(signum, signal.SIG_IGN)
    return _watch(args.run_dir)


if __name__ == "__main__":
    sys.exit(main())
