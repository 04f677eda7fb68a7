"""`hwmon watch --all` end to end: real supervised runs (`hwmon run --detach`) that fail, stall and finish, told
through four real sinks — an `exec:` command, mail to a real SMTP server, Apprise's `json://` to a real HTTP server,
and the terminal (a pty that is the watch's controlling terminal). Each event is told exactly once per sink within
5 s; a watch killed with SIGKILL and started again tells nothing twice, and tells what happened while it was down.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import signal
import subprocess
import sys
import termios
import threading
import time
from collections import Counter
from email.message import Message
from pathlib import Path
from typing import Any

import pytest

from hwmon.store import registry
from tests.notify.conftest import ExecRecorder, HttpServer, SmtpServer, WatchProcess

pytestmark = [pytest.mark.integration, pytest.mark.timeout(150)]

STEP = (
    "def step(n, loss):\n"
    "    from datetime import datetime\n"
    "    stamp = datetime.now().strftime('%Y-%m-%d %H:%M:%S,%f')[:-3]\n"
    "    print(f'{stamp} INFO:   | Train Device=CSX, Step={n}, Loss={loss}, Rate=100.00 samples/sec, "
    "GlobalRate=100.00 samples/sec', flush=True)\n"
)
MARK = "def mark(path):\n    import time\n    open(path, 'w').write(repr(time.time()))\n"
# Fails: a NaN loss, then a traceback whose message carries an escape sequence and a shell substitution.
FAILING = (
    STEP + MARK + "import sys, time\n"
    "for n, loss in ((1, 2.5), (2, 'nan'), (3, 2.1)):\n"
    "    time.sleep(0.5); step(n, loss)\n"
    "mark(sys.argv[1])\n"
    "raise RuntimeError('bad \\x1b[31mred\\x1b]0;owned\\x07 $(touch ' + sys.argv[2] + ') `id`')\n"
)
# Finishes: a few steps, exit 0.
FINISHING = (
    STEP
    + MARK
    + "import sys, time\nfor n in range(1, 5):\n    time.sleep(0.5); step(n, 3.0 - n / 10)\nmark(sys.argv[1])\n"
)
# Stalls: steady steps, then nothing until the test releases it (then it finishes).
STALLING = (
    STEP + MARK + "import os, sys, time\n"
    "for n in range(1, 9):\n"
    "    time.sleep(0.5); step(n, 2.0)\n"
    "mark(sys.argv[1])\n"
    "while not os.path.exists(sys.argv[2]):\n"
    "    time.sleep(0.05)\n"
)


def hwmon(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hwmon", *args], capture_output=True, text=True, env=env, timeout=60)


def start_run(tmp: Path, env: dict[str, str], name: str, body: str, *args: str) -> str:
    script = tmp / f"{name}.py"
    script.write_text(body)
    done = hwmon(["run", "--detach", "--", sys.executable, str(script), *args], env)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


class Pty:
    """A pseudo-terminal whose slave becomes the controlling terminal of the process started on it; everything
    written to it is collected."""

    def __init__(self) -> None:
        self.master, self.slave = pty.openpty()
        self.data = bytearray()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 4096)
            except OSError:
                return
            if not chunk:
                return
            with self._lock:
                self.data.extend(chunk)

    def bytes(self) -> bytes:
        with self._lock:
            return bytes(self.data)

    def popen_args(self) -> dict[str, Any]:
        slave = self.slave

        def become_controlling_terminal() -> None:
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        return {"stdin": slave, "preexec_fn": become_controlling_terminal}

    def close(self) -> None:
        for fd in (self.slave, self.master):
            try:
                os.close(fd)
            except OSError:
                pass


def mail_body(message: Message) -> str:
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode(message.get_content_charset() or "utf-8")


def notices_by_sink(
    exec_recorder: ExecRecorder, smtp_server: SmtpServer, http_server: HttpServer, terminal: Pty
) -> dict[str, list[tuple[float, str, str]]]:
    """(arrival time, event, run id) of every delivery, per sink."""
    out: dict[str, list[tuple[float, str, str]]] = {}
    out["exec"] = [(r["at"], r["env"]["HWMON_EVENT"], r["env"]["HWMON_RUN"]) for r in exec_recorder.records()]
    # The second line of a body is "run RUN on HOST".
    out["mail"] = [
        (at, m["X-Hwmon-Event"], mail_body(m).splitlines()[1].split()[1]) for at, m in smtp_server.messages()
    ]
    out["json"] = [
        (at, p["title"].split()[-1], p["message"].splitlines()[1].split()[1]) for at, p in http_server.posts()
    ]
    text = terminal.bytes().decode("utf-8", "replace")
    out["terminal"] = [(0.0, part.split(";", 2)[1].split()[-1], "") for part in text.split("\x1b]777;notify")[1:]]
    return out


def test_failed_stalled_finished_runs_are_told_once_per_sink_within_5_s_and_never_twice_after_a_restart(
    tmp_path: Path,
    watch_env: dict[str, str],
    exec_recorder: ExecRecorder,
    smtp_server: SmtpServer,
    http_server: HttpServer,
) -> None:
    env = watch_env
    sinks = [
        "--notify",
        exec_recorder.spec,
        "--notify",
        "mail:ops@example.org",
        "--smtp",
        f"{smtp_server.host}:{smtp_server.port}",
        "--notify",
        f"json://{http_server.url}/hook",
        "--notify",
        "terminal",
    ]
    # The stalling run stops after steps 0.5 s apart: its stall is told after 1 s, not the default 30 s.
    args = ["--all", "--interval", "0.1", "--stall-min", "1", *sinks]
    terminal = Pty()
    watch = WatchProcess(args, env, tmp_path / "watch1.out", **terminal.popen_args())
    try:
        watch.wait_line(r"watching 0 runs")
        pwned = tmp_path / "pwned"
        failing = start_run(tmp_path, env, "failing", FAILING, str(tmp_path / "failed.at"), str(pwned))
        finishing = start_run(tmp_path, env, "finishing", FINISHING, str(tmp_path / "finished.at"))
        release = tmp_path / "release"
        stalling = start_run(tmp_path, env, "stalling", STALLING, str(tmp_path / "stalled.at"), str(release))
        expected = {(failing, "nan"), (failing, "failed"), (finishing, "succeeded"), (stalling, "stalled")}

        exec_recorder.wait_for(len(expected), timeout=60)
        smtp_server.inbox.wait_for(len(expected))
        http_server.inbox.wait_for(len(expected))
        deadline = time.monotonic() + 20
        while terminal.bytes().count(b"\x1b]777;notify") < len(expected) and time.monotonic() < deadline:
            time.sleep(0.02)
        # Killed without a chance to clean up (what it told is final now).
        watch.wait_line(r"told ", count=4 * len(expected))
        watch.stop(signal.SIGKILL)
        got = notices_by_sink(exec_recorder, smtp_server, http_server, terminal)
        for sink in ("exec", "mail", "json"):
            assert Counter((run, event) for _, event, run in got[sink]) == Counter(expected), (sink, got[sink])
        assert Counter(event for _, event, _ in got["terminal"]) == Counter(e for _, e in expected)

        # Latency: from the event (the run's own clock: the moment it failed, finished, or passed 5x its step
        # interval without a step) to the delivery, per sink.
        event_at = {
            (failing, "failed"): float((tmp_path / "failed.at").read_text()),
            (finishing, "succeeded"): float((tmp_path / "finished.at").read_text()),
            (stalling, "stalled"): float((tmp_path / "stalled.at").read_text()) + 5 * 0.5,
        }
        latencies = {
            sink: {e: round(at - event_at[(run, e)], 2) for at, e, run in got[sink] if (run, e) in event_at}
            for sink in ("exec", "mail", "json")
        }
        print("latency from event to delivery (s):", json.dumps(latencies))
        for sink, values in latencies.items():
            assert all(v <= 5.0 for v in values.values()), (sink, values)

        # Log text is data: no escape of the run's reaches the terminal, nothing of it was run by a shell.
        raw = terminal.bytes()
        assert b"\x1b[31m" not in raw and b"\x1b]0;" not in raw and b"owned\x07" not in raw
        assert not pwned.exists()
        [failed_mail] = [m for _, m in smtp_server.messages() if m["X-Hwmon-Event"] == "failed"]
        body = mail_body(failed_mail)
        assert "$(touch" in body and "`id`" in body and "\x1b" not in body
        assert f"hwmon attach {failing}" in body
        [failed_exec] = [r for r in exec_recorder.records() if r["env"]["HWMON_EVENT"] == "failed"]
        assert failed_exec["env"]["HWMON_STATUS"] == "failed" and failed_exec["stdin"]["run"] == failing
        assert "\x1b" not in failed_exec["env"]["HWMON_MESSAGE"] and "$(touch" in failed_exec["env"]["HWMON_MESSAGE"]

        # The stalled run finishes while no watch runs.
        release.touch()
        assert _wait_status(Path(env["HWMON_RUNS_DIR"]), stalling) == "succeeded"
        before = {k: len(v) for k, v in got.items()}
        terminal2 = Pty()
        again = WatchProcess([*args, "--once"], env, tmp_path / "watch2.out", **terminal2.popen_args())
        assert again.proc.wait(60) == 0, again.text()
        assert "(known)" in again.text()
        after = notices_by_sink(exec_recorder, smtp_server, http_server, terminal2)
        for sink in ("exec", "mail", "json"):
            new = after[sink][before[sink] :]
            assert [(run, event) for _, event, run in new] == [(stalling, "succeeded")], (sink, new)
        assert [event for _, event, _ in after["terminal"]] == ["succeeded"]
        terminal2.close()
    finally:
        (tmp_path / "release").touch()
        watch.stop()
        terminal.close()


def _wait_status(runs: Path, run_id: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = registry.resolve(run_id, runs)
        if record.status != "running":
            return record.status
        time.sleep(0.05)
    raise AssertionError(f"{run_id} still running")
