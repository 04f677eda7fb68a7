"""The run supervisor: a small daemon that owns one workload process and records how it ends.

``launch()`` (called by ``hwmon run``) starts ``python -m hwmon.runners.supervisor`` in a new session; that
process forks once more and the intermediate exits, so the supervisor is re-parented to init (or the nearest
subreaper), has no controlling terminal and survives the app being killed (even with ``kill -9``), SIGHUP and the
terminal closing. The supervisor then:

1. starts the workload in its own session/process group (so ``hwmon stop`` can signal the whole group), with the
   user's environment plus ``PYTHONUNBUFFERED=1``, arguments as a list (no shell), stdin from /dev/null, and
   stdout+stderr written *directly* to ``output.log`` (the file is the child's fd: bytes pass through exactly,
   ``\\r`` bars and split UTF-8 included, and monitoring adds no pipe hop to the workload);
2. writes ``run.json`` (status "running", pids and their start-time tokens) atomically;
3. waits, appends one ``[hwmon] run ended: ...`` line to the log, and rewrites ``run.json`` with the end time,
   exit code or signal and the final status ("succeeded", "failed", or "stopped" when ``hwmon stop`` asked).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from hwmon import exitcodes
from hwmon.runners import proctree
from hwmon.store import registry

STOP_FILE = "stop.json"
SUPERVISOR_LOG = "supervisor.log"
CLAIM_FILE = "run.claim"
END_PREFIX = "[hwmon] run ended: "
LEFT_SETTLE_S = 0.5
"""How long the supervisor waits for the run's other processes to exit after the workload did."""


def signal_name(signum: int) -> str:
    """``SIGTERM`` for 15, ``signal 99`` for unknown numbers."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def describe_end(returncode: int, stopped: bool) -> str:
    """The words of the supervisor's final log line for a workload that exited with ``returncode`` (negative =
    killed by that signal, as ``subprocess`` reports it)."""
    if returncode < 0:
        how = f"killed by signal {-returncode} ({signal_name(-returncode)})"
    else:
        how = f"exit code {returncode}"
    return f"stopped by 'hwmon stop', {how}" if stopped else how


def _append_log(log_path: Path, text: str) -> None:
    """Append one line, starting a new line first if the workload's output did not end with one (a ``\\r`` bar)."""
    try:
        with open(log_path, "ab+") as fh:
            fh.seek(0, os.SEEK_END)
            prefix = b""
            if fh.tell() > 0:
                fh.seek(-1, os.SEEK_END)
                if fh.read(1) != b"\n":
                    prefix = b"\n"
            fh.write(prefix + text.encode("utf-8") + b"\n")
    except OSError:
        pass  # the log is best effort at this point; run.json still records the end


def _default_signals() -> None:
    # Ignored dispositions survive exec: without this the workload would inherit the supervisor's SIG_IGN for
    # SIGINT (Python would then never raise KeyboardInterrupt, and `hwmon stop`'s SIGINT would do nothing).
    for signum in (signal.SIGINT, signal.SIGHUP, signal.SIGPIPE, signal.SIGTERM):
        signal.signal(signum, signal.SIG_DFL)


def _supervise(
    run_dir: Path,
    run_id: str,
    command: list[str],
    workload: str | None,
    device: str | None,
    cwd: str,
    extra: dict[str, Any],
) -> int:
    log_path = run_dir / registry.LOG_FILE
    me = os.getpid()
    record = registry.RunRecord.starting(
        run_id,
        run_dir,
        command,
        workload,
        device,
        cwd,
        supervisor_pid=me,
        supervisor_start=registry.process_start_token(me),
        extra=extra,
        marker=secrets.token_hex(12),
    )
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    # Every process the workload starts inherits this, even one that calls setsid(): `hwmon stop` finds the
    # run's whole tree by it (see hwmon.runners.proctree).
    env[proctree.MARKER_ENV] = record.marker or ""
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        child = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log_fd,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=env,
            start_new_session=True,
            close_fds=True,
            preexec_fn=_default_signals,
        )
    except OSError as exc:
        os.close(log_fd)
        _append_log(log_path, f"{END_PREFIX}could not start {command[0]!r}: {exc.strerror or exc}")
        record.status = "failed"
        record.exit_code = 127
        record.ended = registry.now_iso()
        record.message = f"could not start {command[0]!r}: {exc.strerror or exc}"
        registry.save(record)
        return 127
    os.close(log_fd)
    record.pid = child.pid
    record.pid_start = registry.process_start_token(child.pid)
    registry.save(record)

    def forward(signum: int, _frame: object) -> None:
        # Someone is shutting the supervisor down (e.g. the machine going down): pass it to the workload and
        # keep waiting so the end is still recorded.
        try:
            os.killpg(child.pid, signum)
        except OSError:
            pass

    signal.signal(signal.SIGTERM, forward)
    returncode = child.wait()
    stop_file = run_dir / STOP_FILE
    stopped = stop_file.exists()
    # Say honestly when the workload is gone but processes it started live on (daemons that called setsid()).
    left = proctree.run_members(None, None, record.marker, exclude=frozenset({me}))
    # A group member killed together with the workload (stop's SIGKILL) can still be on its way out when the
    # workload is reaped: give such processes a moment, so only the ones that really live on are reported.
    settle = time.monotonic() + LEFT_SETTLE_S
    while left and time.monotonic() < settle:
        time.sleep(0.05)
        left = proctree.run_members(None, None, record.marker, exclude=frozenset({me}))
    if left:
        pids = ", ".join(str(p) for p in sorted(left)[:20])
        _append_log(
            log_path,
            f"[hwmon] {len(left)} process(es) started by the run are still running (pids {pids}); "
            f"'hwmon stop {run_id}' ends them",
        )
        record.extra = {**record.extra, "left_running": sorted(left)}
    _append_log(log_path, END_PREFIX + describe_end(returncode, stopped))
    record.ended = registry.now_iso()
    if returncode < 0:
        record.signal = -returncode
    else:
        record.exit_code = returncode
    record.status = "stopped" if stopped else ("succeeded" if returncode == 0 else "failed")
    record.message = describe_end(returncode, stopped)
    registry.save(record)
    return 0


def _daemonize() -> None:
    """Fork once more so the supervisor is not a child of the launcher (no zombie there, and re-parented to init)
    and is not a session leader (it can never acquire a controlling terminal)."""
    if os.fork() > 0:
        os._exit(0)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m hwmon.runners.supervisor``."""
    parser = argparse.ArgumentParser(prog="hwmon-supervisor")
    parser.add_argument("--run-dir", required=True, type=Path)
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--workload")
    parser.add_argument("--device")
    parser.add_argument("--cwd", default=os.getcwd())
    parser.add_argument("--extra", default="{}", help="JSON object stored in run.json")
    parser.add_argument("--no-daemon", action="store_true", help="stay in the foreground (tests)")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        parser.error("no command given")
    try:
        extra = json.loads(args.extra)
    except ValueError:
        extra = {}
    if not args.no_daemon:
        _daemonize()
    return _supervise(
        args.run_dir,
        args.run_id,
        command,
        args.workload,
        args.device,
        args.cwd,
        extra if isinstance(extra, dict) else {},
    )


def launch(
    command: Sequence[str],
    *,
    workload: str | None = None,
    device: str | None = None,
    run_dir: Path | None = None,
    cwd: str | None = None,
    env: Mapping[str, str] | None = None,
    extra: dict[str, Any] | None = None,
    timeout: float = 15.0,
) -> registry.RunRecord:
    """Start ``command`` under a detached supervisor and return its record once ``run.json`` exists.

    ``run_dir`` (``hwmon run --dir``) places the run outside the registry root; a symlink in the root keeps it
    listed. Raises ``HwmonError`` if the supervisor does not come up within ``timeout`` seconds.
    """
    if not command:
        raise exitcodes.HwmonError("no command to run", exitcodes.USAGE)
    root = registry.runs_root()
    if run_dir is None:
        run_id = registry.new_run_id(workload or Path(command[0]).name)
        run_dir = root / run_id
    else:
        run_dir = run_dir.expanduser().resolve()
        # The id is printed, listed and typed back: only the directory name's harmless characters are kept.
        run_id = "".join(c if (c.isascii() and c.isalnum()) or c in "-_." else "_" for c in run_dir.name) or "run"
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        if (run_dir / registry.RUN_FILE).exists():
            raise exitcodes.HwmonError(f"{run_dir} already holds a run", exitcodes.USAGE)
        # Claim the directory atomically: of several launches into one --dir at once exactly one creates the
        # claim; checking for run.json alone was check-then-act (hardening II, item 6).
        try:
            claim = os.open(run_dir / CLAIM_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        except FileExistsError:
            raise exitcodes.HwmonError(
                f"{run_dir} already holds a run (or another launch into it is under way)", exitcodes.USAGE
            ) from None
        with os.fdopen(claim, "w") as fh:
            fh.write(f"{os.getpid()}\n")
        root.mkdir(parents=True, exist_ok=True)
        link = root / run_id
        if run_dir.parent.resolve() != root.resolve() and not link.exists():
            link.symlink_to(run_dir, target_is_directory=True)
    except OSError as exc:
        raise exitcodes.HwmonError(
            f"cannot create run directory {run_dir}: {exc.strerror or exc}", exitcodes.CANNOT_WRITE
        ) from None
    # The log exists from the start so that a follower attached right away never waits for it.
    (run_dir / registry.LOG_FILE).touch()
    argv = [
        sys.executable,
        "-m",
        "hwmon.runners.supervisor",
        "--run-dir",
        str(run_dir),
        "--run-id",
        run_id,
        "--cwd",
        cwd or os.getcwd(),
        "--extra",
        json.dumps(extra or {}),
    ]
    if workload:
        argv += ["--workload", workload]
    if device:
        argv += ["--device", device]
    argv += ["--", *command]
    with open(run_dir / SUPERVISOR_LOG, "ab") as err:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=dict(env) if env is not None else None,
            start_new_session=True,
            close_fds=True,
        )
    # The intermediate process exits right after forking the real supervisor.
    proc.wait()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = registry.load(run_dir)
        if record is not None and (record.pid is not None or record.status != "running"):
            record.run_id = run_id
            return record
        time.sleep(0.02)
    raise exitcodes.HwmonError(
        f"the supervisor did not start within {timeout:.0f}s (see {run_dir / SUPERVISOR_LOG})", exitcodes.RUN_FAILED
    )


def request_stop_marker(run_dir: Path, by: str) -> None:
    """Leave the marker that makes the supervisor record the run as "stopped"."""
    registry.write_json_atomic(run_dir / STOP_FILE, {"requested": registry.now_iso(), "by": by, "pid": os.getpid()})


def _group_exists(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _run_processes(record: registry.RunRecord, known: dict[int, str]) -> dict[int, str]:
    """The run's processes now: the ones found before that still live, plus whatever ``proctree`` proves belongs to
    the run (new descendants included). The supervisor is never one of them."""
    exclude = frozenset(p for p in (record.supervisor_pid,) if p is not None)
    found = proctree.still_alive(known)
    found.update(proctree.run_members(record.pid, record.pid_start, record.marker, exclude=exclude))
    return found


def _describe_targets(record: registry.RunRecord, members: dict[int, str], group: bool) -> str:
    others = sorted(pid for pid in members if not (group and pid == record.pid))
    shown = ", ".join(str(p) for p in others[:8]) + (f" and {len(others) - 8} more" if len(others) > 8 else "")
    if group:
        in_group = [p for p in others if (info := proctree.proc_info(p)) is not None and info.pgrp == record.pid]
        outside = [p for p in others if p not in in_group]
        if not outside:
            return f"process group {record.pid}"
        listed = ", ".join(str(p) for p in outside[:8]) + (f" and {len(outside) - 8} more" if len(outside) > 8 else "")
        return f"process group {record.pid} and {len(outside)} more process(es) of the run (pids {listed})"
    return f"{len(others)} process(es) of the run (pids {shown})"


def stop_run(
    record: registry.RunRecord,
    *,
    int_timeout: float = 10.0,
    term_timeout: float = 10.0,
    kill_timeout: float = 5.0,
    progress: Callable[[str], None] | None = None,
) -> registry.RunRecord:
    """Stop a supervised run: SIGINT to every process of the run, then SIGTERM, then SIGKILL, each after the
    previous one's timeout, until none is left. Returns the record as finally written.

    "The run's processes" are those ``hwmon.runners.proctree`` can prove belong to it (the workload by pid, start
    time and the supervisor's marker; its group, session and descendants; anything carrying the marker, such as
    descendants that called ``setsid()``). Nothing is signalled on missing evidence: a record whose pid does not
    match its start time (or has none) is refused. Raises ``HwmonError(STOP_CONFLICT)`` if the run is not running,
    no process can be shown to belong to it, or another stop holds its lock; ``HwmonError(RUN_FAILED)`` naming the
    survivors if any process of the run is still there after SIGKILL.
    """
    import fcntl

    say = progress or (lambda _msg: None)
    members = _run_processes(record, {})
    unproven_alive = record.pid is not None and proctree.proc_info(record.pid) is not None
    if record.status == "lost" and not members and unproven_alive:
        why = "run.json records no start time for it" if not record.pid_start else "its start time or marker differ"
        raise exitcodes.HwmonError(
            f"run {record.run_id} is lost and pid {record.pid} cannot be shown to be its workload ({why}); "
            "nothing was signalled",
            exitcodes.STOP_CONFLICT,
        )
    if record.status != "running" and not members:
        raise exitcodes.HwmonError(
            f"run {record.run_id} is not running (status: {record.status})", exitcodes.STOP_CONFLICT
        )
    if record.pid is None and not members:
        raise exitcodes.HwmonError(f"run {record.run_id} has no workload pid yet", exitcodes.STOP_CONFLICT)
    if not members:
        why = (
            "run.json records no start time for it"
            if not record.pid_start
            else "its start time or marker does not match run.json"
        )
        raise exitcodes.HwmonError(
            f"run {record.run_id}: pid {record.pid} cannot be shown to be the run's workload ({why}); "
            "nothing was signalled",
            exitcodes.STOP_CONFLICT,
        )
    lock_fh = open(record.dir / "stop.lock", "a")  # noqa: SIM115 - held for the whole stop
    try:
        try:
            fcntl.flock(lock_fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise exitcodes.HwmonError(
                f"another 'hwmon stop' is already stopping run {record.run_id}", exitcodes.STOP_CONFLICT
            ) from None
        request_stop_marker(record.dir, by="hwmon stop")
        steps = ((signal.SIGINT, int_timeout), (signal.SIGTERM, term_timeout), (signal.SIGKILL, kill_timeout))
        for signum, timeout in steps:
            members = _run_processes(record, members)
            if not members:
                break
            name = signal_name(signum)
            # While the workload is proven alive its whole group gets the signal at once (as Ctrl-C would);
            # every other member is signalled by pid after its start time is checked again.
            group = record.pid is not None and proctree.leader_proven(record.pid, record.pid_start, record.marker)
            what = _describe_targets(record, members, group)
            say(f"sending {name} to {what}")
            _append_log(record.log_path, f"[hwmon] stop: sending {name} to {what}")
            if group and record.pid is not None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(record.pid, signum)
            for pid, start in members.items():
                proctree.signal_process(pid, start, signum)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                members = _run_processes(record, members)
                if not members:
                    break
                time.sleep(0.05)
        left = _run_processes(record, members)
        if left:
            pids = ", ".join(str(p) for p in sorted(left)[:20])
            message = f"{len(left)} process(es) of run {record.run_id} survived SIGKILL: pids {pids}"
            _append_log(record.log_path, f"[hwmon] stop: {message}")
            raise exitcodes.HwmonError(message, exitcodes.RUN_FAILED)
        # Killed processes linger as zombies until their parent (the supervisor, or init) reaps them: give that a
        # moment so that, once we return, not even a zombie of the run's group is left.
        deadline = time.monotonic() + 2.0
        while record.pid is not None and time.monotonic() < deadline and _group_exists(record.pid):
            time.sleep(0.02)
        # The supervisor records the end; give it a moment. If it is gone ("lost"), record the stop ourselves.
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline:
            current = registry.load(record.dir)
            if current is None or current.status != "running":
                break
            time.sleep(0.05)
        current = registry.load(record.dir)
        if current is not None and current.status == "lost":
            current.status = "stopped"
            current.ended = registry.now_iso()
            current.message = "stopped by 'hwmon stop' after the supervisor was lost; exit status unknown"
            _append_log(record.log_path, END_PREFIX + current.message)
            registry.save(current)
        return current if current is not None else record
    finally:
        lock_fh.close()


if __name__ == "__main__":
    sys.exit(main())
