"""Runs hwmon submitted to Slurm: ``submit_run`` (``sbatch`` + a record in the run registry), ``stop_run``, and the
detached watcher (``python -m hwmon.slurm.watcher watch RUN_DIR``) that records the job's state, reason, output
path and end in ``run.json`` while the controller still knows it, and appends the supervisor's
``[hwmon] run ended: ...`` line to the output file so every view settles the run's status the same way.
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from hwmon import exitcodes
from hwmon.refs import checked_job_id
from hwmon.slurm import facts
from hwmon.slurm.client import sacct_job, show_job, stop_job, submit
from hwmon.slurm.parse import ACTIVE_STATES, JobInfo, run_status
from hwmon.store import registry

END_PREFIX = "[hwmon] run ended: "
WATCH_LOG = "slurm-watch.log"
POLL_S = 1.0


def stop_run(
    record: registry.RunRecord,
    *,
    int_timeout: float = 10.0,
    term_timeout: float = 10.0,
    progress: Callable[[str], None] | None = None,
) -> registry.RunRecord:
    """``hwmon stop`` for a run submitted with ``--sbatch``: prove the job is this run's, mark the stop (so the end
    is recorded as "stopped"), cancel the job (see ``stop_job``) and wait for the watcher to record the end.

    The proof, as for a local run's processes: ``slurm_job_id`` is a job id (``checked_job_id``), the controller
    says the job is the user's (``stop_job``) and writes its output to this run's ``output.log``. A ``run.json``
    that names another job (or ``-uroot``) stops nothing (``STOP_CONFLICT`` / usage error)."""
    if record.status != "running" or not record.slurm_job_id:
        raise exitcodes.HwmonError(
            f"run {record.run_id} is not running (status: {record.status})", exitcodes.STOP_CONFLICT
        )
    job_id = checked_job_id(record.slurm_job_id, f"run.json of {record.run_id}")

    def is_this_run(job: JobInfo) -> None:
        if not job.stdout or not _same_path(job.stdout, record.log_path):
            raise exitcodes.HwmonError(
                f"run {record.run_id}: Slurm job {job_id} writes to {job.stdout or 'no known file'}, not to "
                f"{record.log_path}: it cannot be shown to be this run's; not signalled",
                exitcodes.STOP_CONFLICT,
            )

    def prove_and_mark(job: JobInfo) -> None:
        is_this_run(job)
        registry.write_json_atomic(
            record.dir / "stop.json", {"requested": registry.now_iso(), "by": "hwmon stop", "pid": os.getpid()}
        )

    def ended() -> bool:
        current = registry.load(record.dir)
        return current is None or current.status != "running"

    stop_job(
        job_id,
        int_timeout=int_timeout,
        term_timeout=term_timeout,
        ended=ended,
        progress=progress,
        check=prove_and_mark,
    )
    deadline = time.monotonic() + 15.0
    while time.monotonic() < deadline and not ended():
        time.sleep(0.1)
    current = registry.load(record.dir)
    return current if current is not None else record


def _same_path(a: str | Path, b: str | Path) -> bool:
    try:
        return os.path.realpath(a) == os.path.realpath(b)
    except (OSError, ValueError):
        return False


def sbatch_argv(command: Sequence[str], log_path: Path, name: str, cwd: str, extra: Sequence[str]) -> list[str]:
    """The ``sbatch`` arguments for running ``command`` as a batch job whose output (stdout and stderr) goes to
    ``log_path``. Python in the job runs unbuffered (else it block-buffers into the file and nothing shows). A
    ``%`` in the path is written ``%%``: Slurm expands ``--output`` patterns, and the run's file is named as is."""
    return [
        f"--job-name={name}",
        f"--output={str(log_path).replace('%', '%%')}",
        f"--chdir={cwd}",
        # A requeued job appends to its output instead of truncating it: one log for the one run (issue 21).
        "--open-mode=append",
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
            f"cannot create run directory {run_dir}: {exc.strerror or exc}", exitcodes.CANNOT_WRITE
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
            [sys.executable, "-m", "hwmon.slurm.watcher", "watch", str(run_dir)],
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
    changed = (
        info.get("state") != job.state
        or info.get("reason") != job.reason
        or info.get("restarts", 0) != facts.restarts(job)
    )
    info.update(
        {
            "job_id": job_id,
            "state": job.state,
            "reason": job.reason,
            "nodes": job.nodes,
            "output": job.stdout or info.get("output", ""),
            "start_time": job.start_time,
            # Issue 21: the time limit, the run time when last looked at and the requeue count.
            "time_limit_s": facts.time_limit_s(job),
            "run_time_s": job.run_time_s,
            "restarts": facts.restarts(job),
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
        record.end_reason = facts.end_reason_record(job)
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
    """``python -m hwmon.slurm.watcher watch RUN_DIR``: the detached watcher of a submitted job."""
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
