"""`hwmon watch` as a command: usage errors, what a first watch does with what happened before it (recorded, not
told, unless --replay), and the exit status with REFs."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from hwmon import exitcodes
from tests.notify.conftest import ExecRecorder, WatchProcess

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

FAILED_LOG = (
    "2024-03-30 13:03:05,540 INFO:   | Train Device=CSX, Step=10, Loss=2.5, Rate=100.00 samples/sec, "
    "GlobalRate=100.00 samples/sec\n"
    "Traceback (most recent call last):\n"
    "RuntimeError: out of memory\n"
)


def watch(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hwmon", "watch", *args], capture_output=True, text=True, env=env, timeout=60
    )


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ([], "(REF...) or --all"),
        (["x.log", "--on", "failed,Not A Name"], "not an event name"),
        (["x.log", "--interval", "0"], "--interval"),
        (["-"], "not stdin"),
        (["x.log", "--notify", "pager"], "not a sink"),
        (["x.log", "--smtp", "nohost"], "HOST:PORT"),
        (["x.log", "--metrics", "localhost"], "HOST:PORT"),
        (["x.log", "--stall-min", "0"], "--stall-min must be a number above 0"),
        (["x.log", "--stall-factor", "nan"], "--stall-factor must be a number above 0"),
    ],
)
def test_usage_errors(tmp_path: Path, watch_env: dict[str, str], args: list[str], words: str) -> None:
    (tmp_path / "x.log").write_text("hello\n")
    done = subprocess.run(
        [sys.executable, "-m", "hwmon", "watch", *args],
        capture_output=True,
        text=True,
        env=watch_env,
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode == exitcodes.USAGE, done.stderr
    assert words in done.stderr


def test_what_happened_before_a_first_watch_is_recorded_not_told_unless_replayed(
    tmp_path: Path, watch_env: dict[str, str], exec_recorder: ExecRecorder
) -> None:
    log = tmp_path / "old.log"
    log.write_text(FAILED_LOG)
    first = watch(watch_env, str(log), "--notify", exec_recorder.spec)
    assert first.returncode == exitcodes.RUN_FAILED
    assert "RuntimeError: out of memory (before this watch: not told)" in first.stdout
    assert "every run has ended" in first.stdout
    assert exec_recorder.records() == []
    # The ledger knows the run now: its old failure stays untold.
    again = watch(watch_env, str(log), "--notify", exec_recorder.spec)
    assert again.returncode == exitcodes.RUN_FAILED and exec_recorder.records() == []
    # --replay tells a run's past when the watch first sees it (a fresh ledger here).
    replay_env = dict(watch_env, HWMON_NOTIFY_STATE=str(tmp_path / "other.sqlite"))
    replayed = watch(replay_env, str(log), "--notify", exec_recorder.spec, "--replay")
    assert replayed.returncode == exitcodes.RUN_FAILED, replayed.stdout
    [record] = exec_recorder.records()
    assert record["env"]["HWMON_EVENT"] == "failed" and record["env"]["HWMON_RUN"] == str(log)
    assert record["env"]["HWMON_MESSAGE"] == "RuntimeError: out of memory"


def test_sigint_and_sigterm_stop_the_watch_cleanly(tmp_path: Path, watch_env: dict[str, str]) -> None:
    for sig, code in ((signal.SIGINT, exitcodes.INTERRUPTED), (signal.SIGTERM, exitcodes.OK)):
        out = tmp_path / f"{sig.name}.out"
        textfile = tmp_path / f"{sig.name}.prom"
        watch = WatchProcess(["--all", "--metrics-textfile", str(textfile)], watch_env, out)
        watch.wait_line(r"watching 0 runs")
        assert watch.stop(sig) == code
        assert f"stopped by {sig.name}" in watch.text() and "Traceback" not in watch.text()
        # The last metrics are written on the way out.
        assert "hwmon_watch_runs 0.0" in textfile.read_text()
