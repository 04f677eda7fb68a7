"""Hardening II items 6, 7 and 8 with real processes: concurrent launches into one ``--dir``; descendants that call
``setsid()`` must not survive ``hwmon stop``; a ``run.json`` naming an unrelated process must never get it
signalled."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from hwmon import exitcodes
from hwmon.store import registry

pytestmark = pytest.mark.integration


def hwmon(*args: str, runs: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HWMON_RUNS_DIR": str(runs), "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "hwmon", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.fixture
def runs(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "runs"
    path.mkdir()
    spawned: list[int] = []
    yield path
    # Leave nothing behind whatever the test did: every pid the workloads wrote down, and the recorded ones.
    for pids_file in tmp_path.glob("**/pids.txt"):
        spawned += [int(p) for p in pids_file.read_text().split()]
    for record_path in path.glob("*/run.json"):
        data = json.loads(record_path.read_text())
        spawned += [data[k] for k in ("pid", "supervisor_pid") if isinstance(data.get(k), int)]
    for pid in spawned:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def test_concurrent_launches_into_one_dir_accept_exactly_one(tmp_path: Path, runs: Path) -> None:
    target = tmp_path / "shared-dir"
    env = {**os.environ, "HWMON_RUNS_DIR": str(runs), "NO_COLOR": "1"}
    argv = [sys.executable, "-m", "hwmon", "run", "--detach", "--dir", str(target), "--", "sleep", "5"]
    procs = [
        subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        for _ in range(5)
    ]
    codes = [p.wait(60) for p in procs]
    for p in procs:
        assert b"Traceback" not in p.stderr.read()  # type: ignore[union-attr]
        p.stdout.close()  # type: ignore[union-attr]
        p.stderr.close()  # type: ignore[union-attr]
    assert sorted(codes) == [0] + [exitcodes.USAGE] * 4, codes
    record = registry.load(target)
    assert record is not None and record.pid is not None
    hwmon("stop", "--int-timeout", "1", "--term-timeout", "1", record.run_id, runs=runs)


SETSID_WORKLOAD = """
    import os, sys, time
    for _ in range({n}):
        pid = os.fork()
        if pid == 0:
            os.setsid()
            if os.fork() > 0:
                os._exit(0)  # the daemon is re-parented to init: no parent link to the workload remains
            fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
            os.write(fd, f"{{os.getpid()}} ".encode())
            os.close(fd)
            time.sleep(300)
            os._exit(0)
        os.waitpid(pid, 0)
    print('ready', flush=True)
    if {exit_at_once}:
        sys.exit(0)
    time.sleep(300)
"""


@pytest.mark.parametrize("exit_at_once", [False, True], ids=["workload-running", "workload-exited"])
def test_setsid_descendants_do_not_survive_stop(tmp_path: Path, runs: Path, exit_at_once: bool) -> None:
    n = 20
    script = tmp_path / "daemons.py"
    script.write_text(textwrap.dedent(SETSID_WORKLOAD.format(n=n, exit_at_once=exit_at_once)))
    pids_file = tmp_path / "pids.txt"
    env = {**os.environ, "HWMON_RUNS_DIR": str(runs), "NO_COLOR": "1"}
    started = subprocess.run(
        [sys.executable, "-m", "hwmon", "run", "--detach", "--", sys.executable, str(script), str(pids_file)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert started.returncode == 0, started.stderr
    wait_for(lambda: pids_file.exists() and len(pids_file.read_text().split()) == n)
    daemons = [int(p) for p in pids_file.read_text().split()]
    assert all(alive(p) for p in daemons)
    run_id = next(runs.iterdir()).name
    workload = registry.load(runs / run_id)
    assert workload is not None and workload.pid is not None
    # Really out of the workload's session and process group, and not its children.
    assert all(os.getsid(p) != workload.pid and os.getpgid(p) != workload.pid for p in daemons)
    assert all(psutil.Process(p).ppid() != workload.pid for p in daemons)
    if exit_at_once:
        wait_for(lambda: (record := registry.load(runs / run_id)) is not None and record.status != "running")
        log = (runs / run_id / "output.log").read_text()
        assert f"{n} process(es) started by the run are still running" in log, log
    stop = hwmon("stop", "--int-timeout", "1", "--term-timeout", "1", run_id, runs=runs)
    assert "Traceback" not in stop.stderr, stop.stderr
    assert stop.returncode == exitcodes.OK, stop.stderr
    wait_for(lambda: not any(alive(p) for p in daemons), timeout=5)


def unrelated_process() -> subprocess.Popen[bytes]:
    return subprocess.Popen(["sleep", "120"], start_new_session=True)


def forged_record(runs: Path, pid: int, **fields: object) -> str:
    run_id = "20260101-000000-forged-0001"
    run_dir = runs / run_id
    run_dir.mkdir()
    (run_dir / "output.log").write_text("")
    record: dict[str, object] = {
        "run_id": run_id,
        "command": ["x"],
        "status": "lost",
        "pid": pid,
        "pid_start": None,
        "supervisor_pid": 999_999_999,
        "started": "2026-01-01T00:00:00+00:00",
    }
    record.update(fields)
    (run_dir / "run.json").write_text(json.dumps(record))
    return run_id


@pytest.mark.parametrize(
    "fields",
    [
        {"pid_start": None},
        {"pid_start": "12345"},
        {"status": "running", "pid_start": None},
        {"pid_start": "REAL", "marker": "not-in-its-environment"},
    ],
    ids=["lost-no-start", "lost-wrong-start", "running-no-start", "right-start-wrong-marker"],
)
def test_forged_run_json_never_signals_an_unrelated_process(runs: Path, fields: dict[str, object]) -> None:
    victim = unrelated_process()
    try:
        if fields.get("pid_start") == "REAL":
            fields = {**fields, "pid_start": registry.process_start_token(victim.pid)}
        run_id = forged_record(runs, victim.pid, **fields)
        stop = hwmon("stop", "--int-timeout", "0.5", "--term-timeout", "0.5", run_id, runs=runs)
        assert "Traceback" not in stop.stderr, stop.stderr
        assert stop.returncode == exitcodes.STOP_CONFLICT, (stop.returncode, stop.stderr)
        assert "nothing was signalled" in stop.stderr or "not running" in stop.stderr, stop.stderr
        time.sleep(0.3)
        assert victim.poll() is None, "the unrelated process was signalled"
    finally:
        victim.kill()
        victim.wait()


def test_a_hostile_dir_name_gives_a_safe_run_id(tmp_path: Path, runs: Path) -> None:
    target = tmp_path / "x\x1b]0;DIRTITLE\x07y"
    started = hwmon("run", "--detach", "--dir", str(target), "--", "true", runs=runs)
    assert started.returncode == 0, started.stderr
    assert "\x1b" not in started.stdout + started.stderr and "\x07" not in started.stdout + started.stderr
    run_id = started.stdout.strip()
    assert run_id == "x__0_DIRTITLE_y"
    wait_for(lambda: (r := registry.load(target)) is not None and r.status != "running")
    listing = hwmon("ls", runs=runs)
    assert run_id in listing.stdout
