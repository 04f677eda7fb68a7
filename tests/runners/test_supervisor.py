"""The supervisor with real processes: it outlives its launcher (kill -9, SIGHUP/terminal hang-up), records the
exit status, passes output through byte-exact, and `stop_run` escalates INT -> TERM -> KILL over the whole group."""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hwmon import exitcodes
from hwmon.runners import supervisor
from hwmon.store import registry

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


@pytest.fixture(autouse=True)
def runs_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    root = tmp_path / "runs"
    monkeypatch.setenv("HWMON_RUNS_DIR", str(root))
    yield root
    # Never leave a workload behind, whatever the test did.
    for record in registry.list_runs(root):
        if record.pid and registry.process_alive(record.pid, record.pid_start):
            try:
                os.killpg(record.pid, signal.SIGKILL)
            except OSError:
                pass


def wait_for(predicate: object, timeout: float = 20.0, interval: float = 0.05) -> None:
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError("condition not met in time")


def wait_ended(run_dir: Path, timeout: float = 20.0) -> registry.RunRecord:
    def ended() -> bool:
        record = registry.load(run_dir)
        return record is not None and record.status != "running"

    wait_for(ended, timeout)
    record = registry.load(run_dir)
    assert record is not None
    return record


def script(tmp_path: Path, name: str, body: str) -> list[str]:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return [sys.executable, str(path)]


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


APP = """
import sys, time
from hwmon.runners.supervisor import launch
record = launch(sys.argv[1:])
print(record.run_id, record.dir, flush=True)
time.sleep(120)
"""


def test_run_records_exit_code_and_end_line(tmp_path: Path) -> None:
    cmd = script(tmp_path, "w.py", "import sys\nprint('hello', flush=True)\nsys.exit(3)\n")
    record = supervisor.launch(cmd, workload="w", device="cpu")
    assert record.status == "running" or record.exit_code == 3
    final = wait_ended(record.dir)
    assert final.status == "failed"
    assert final.exit_code == 3 and final.signal is None
    assert final.ended is not None and final.workload == "w" and final.device == "cpu"
    log = final.log_path.read_bytes()
    assert log == b"hello\n[hwmon] run ended: exit code 3\n"
    data = json.loads((final.dir / "run.json").read_text())
    assert data["command"] == cmd and data["pid"] == record.pid and data["supervisor_pid"] == record.supervisor_pid


def test_environment_gets_pythonunbuffered_and_args_are_not_shell_parsed(tmp_path: Path) -> None:
    tricky = "$(touch pwned); `id` ; 'quoted' \"x\""
    cmd = script(
        tmp_path,
        "env.py",
        "import os, sys\nprint(os.environ.get('PYTHONUNBUFFERED'), os.environ.get('H7_MARK'), sys.argv[1])\n",
    )
    os.environ["H7_MARK"] = "kept"
    try:
        record = supervisor.launch([*cmd, tricky], cwd=str(tmp_path))
    finally:
        del os.environ["H7_MARK"]
    final = wait_ended(record.dir)
    assert final.status == "succeeded"
    assert final.log_path.read_text().splitlines()[0] == f"1 kept {tricky}"
    assert not (tmp_path / "pwned").exists()


def test_survives_kill_9_of_the_app(tmp_path: Path) -> None:
    workload = script(
        tmp_path, "slow.py", "import time, sys\ntime.sleep(1.5)\nprint('done', flush=True)\nsys.exit(7)\n"
    )
    app = subprocess.Popen(
        [sys.executable, "-c", APP, *workload], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    assert app.stdout is not None
    run_id, run_dir = app.stdout.readline().split()
    os.killpg(app.pid, signal.SIGKILL)
    app.wait()
    assert app.returncode == -signal.SIGKILL
    record = registry.load(Path(run_dir))
    assert record is not None and record.status == "running"
    final = wait_ended(Path(run_dir))
    assert final.run_id == run_id
    assert final.status == "failed" and final.exit_code == 7
    assert final.log_path.read_text() == "done\n[hwmon] run ended: exit code 7\n"


def test_survives_terminal_hangup_and_sighup(tmp_path: Path) -> None:
    workload = script(tmp_path, "slow.py", "import time\ntime.sleep(2)\nprint('finished', flush=True)\n")
    # The app runs on a pseudo-terminal as its controlling terminal; closing the master side is a terminal close
    # (the kernel sends SIGHUP to the session).
    pid, master = pty.fork()
    if pid == 0:  # pragma: no cover - the child execs at once
        # An app started from a terminal takes SIGHUP's default action; an ignored disposition would survive exec
        # (a test run under `nohup` has SIGHUP ignored: the app then outlived the hangup and this test hung).
        signal.signal(signal.SIGHUP, signal.SIG_DFL)
        os.execv(sys.executable, [sys.executable, "-c", APP, *workload])
    line = b""
    while b"\n" not in line:
        chunk = os.read(master, 1024)
        assert chunk, "app exited before printing the run id"
        line += chunk
    run_dir = Path(line.decode().split()[1])
    record = registry.load(run_dir)
    assert record is not None and record.supervisor_pid is not None and record.pid is not None
    # A stray SIGHUP straight at the supervisor is ignored too.
    os.kill(record.supervisor_pid, signal.SIGHUP)
    os.close(master)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGHUP
    final = wait_ended(run_dir)
    assert final.status == "succeeded" and final.exit_code == 0
    assert final.log_path.read_text() == "finished\n[hwmon] run ended: exit code 0\n"


def test_output_passes_through_byte_exact(tmp_path: Path) -> None:
    # \r-redrawn bars, a UTF-8 character split across two writes, invalid bytes, no final newline.
    payload = b"bar  10%\rbar  50%\rbar 100%\n" + "caf\u00e9 \u2588".encode() + b"\xff\xfe raw\r"
    body = f"""
    import os, time
    data = {payload!r}
    cut = data.index(b"\\xc3") + 1
    os.write(1, data[:cut]); time.sleep(0.1); os.write(2, data[cut:])
    """
    record = supervisor.launch(script(tmp_path, "bytes.py", body))
    final = wait_ended(record.dir)
    assert final.log_path.read_bytes() == payload + b"\n[hwmon] run ended: exit code 0\n"


def test_unstartable_command_is_recorded_as_failed(tmp_path: Path) -> None:
    record = supervisor.launch([str(tmp_path / "no-such-program")])
    assert record.status == "failed" and record.exit_code == 127 and record.pid is None
    assert "could not start" in record.message
    assert "could not start" in record.log_path.read_text()


def test_stop_escalates_int_term_kill_and_leaves_no_process(tmp_path: Path) -> None:
    # The workload and a child it forks both ignore SIGINT and SIGTERM: only SIGKILL of the group ends them.
    body = """
    import os, signal, sys, time
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if os.fork() == 0:
        while True:
            time.sleep(0.1)
    print('ready', flush=True)
    while True:
        time.sleep(0.1)
    """
    record = supervisor.launch(script(tmp_path, "stubborn.py", body))
    wait_for(lambda: b"ready" in record.log_path.read_bytes())
    assert record.pid is not None
    sent: list[str] = []
    started = time.monotonic()
    final = supervisor.stop_run(record, int_timeout=0.5, term_timeout=0.5, kill_timeout=5, progress=sent.append)
    assert time.monotonic() - started >= 1.0
    assert [s.split()[1] for s in sent] == ["SIGINT", "SIGTERM", "SIGKILL"]
    assert final.status == "stopped" and final.signal == signal.SIGKILL
    assert not group_alive(record.pid)
    log = final.log_path.read_text().splitlines()
    assert log[-4:] == [
        f"[hwmon] stop: sending SIGINT to process group {record.pid}",
        f"[hwmon] stop: sending SIGTERM to process group {record.pid}",
        f"[hwmon] stop: sending SIGKILL to process group {record.pid}",
        "[hwmon] run ended: stopped by 'hwmon stop', killed by signal 9 (SIGKILL)",
    ]


def test_stop_ends_at_sigint_when_the_workload_honours_it(tmp_path: Path) -> None:
    body = "import time\nprint('ready', flush=True)\ntime.sleep(60)\n"
    record = supervisor.launch(script(tmp_path, "polite.py", body))
    wait_for(lambda: b"ready" in record.log_path.read_bytes())
    sent: list[str] = []
    final = supervisor.stop_run(record, int_timeout=10, term_timeout=10, progress=sent.append)
    assert len(sent) == 1 and "SIGINT" in sent[0]
    # Python turns SIGINT into KeyboardInterrupt -> exit code 1 (or -2 if it dies of the signal).
    assert final.status == "stopped"
    assert final.exit_code == 1 or final.signal == signal.SIGINT


def test_second_concurrent_stop_is_a_conflict(tmp_path: Path) -> None:
    body = """
    import signal, time
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    print('ready', flush=True)
    time.sleep(60)
    """
    record = supervisor.launch(script(tmp_path, "slowstop.py", body))
    wait_for(lambda: b"ready" in record.log_path.read_bytes())
    first = subprocess.Popen(
        [sys.executable, "-m", "hwmon", "stop", record.run_id, "--int-timeout", "3", "--term-timeout", "3"],
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for(lambda: (record.dir / supervisor.STOP_FILE).exists())
    with pytest.raises(exitcodes.HwmonError) as excinfo:
        supervisor.stop_run(record, int_timeout=0.1, term_timeout=0.1)
    assert excinfo.value.code == exitcodes.STOP_CONFLICT
    assert "already stopping" in str(excinfo.value)
    first.wait(timeout=30)
    assert first.returncode == 0
    final = registry.load(record.dir)
    assert final is not None and final.status == "stopped"
    # Stopping a run that has ended is a conflict as well.
    with pytest.raises(exitcodes.HwmonError) as again:
        supervisor.stop_run(final)
    assert again.value.code == exitcodes.STOP_CONFLICT


def test_supervisor_killed_shows_lost_and_stop_still_cleans_up(tmp_path: Path) -> None:
    body = "import time\nprint('ready', flush=True)\ntime.sleep(60)\n"
    record = supervisor.launch(script(tmp_path, "orphan.py", body))
    wait_for(lambda: b"ready" in record.log_path.read_bytes())
    assert record.supervisor_pid is not None and record.pid is not None
    os.kill(record.supervisor_pid, signal.SIGKILL)
    wait_for(lambda: not registry.process_alive(record.supervisor_pid, record.supervisor_start))
    lost = registry.resolve(record.run_id)
    assert lost.status == "lost"
    assert f"supervisor (pid {record.supervisor_pid})" in lost.message and "still running" in lost.message
    final = supervisor.stop_run(lost, int_timeout=2, term_timeout=2)
    assert final.status == "stopped" and "supervisor was lost" in final.message
    assert not group_alive(record.pid)
    assert registry.resolve(record.run_id).status == "stopped"


def test_describe_end() -> None:
    assert supervisor.describe_end(0, False) == "exit code 0"
    assert supervisor.describe_end(-15, False) == "killed by signal 15 (SIGTERM)"
    assert supervisor.describe_end(-15, True) == "stopped by 'hwmon stop', killed by signal 15 (SIGTERM)"
    assert supervisor.describe_end(-99, False) == "killed by signal 99 (signal 99)"
