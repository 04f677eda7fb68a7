"""Process faults with real processes: ``hwmon run --no-tui -- CMD`` (the monitor streams plain lines because stdout
is not a terminal) and the detached supervisor. The monitor must end with the right exit code and status, keep
its memory bounded (RSS of the monitoring process, sampled), and never hang.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from hwmon import exitcodes

pytestmark = pytest.mark.integration

LONG = os.environ.get("HWMON_LONG") == "1"


class Monitored:
    """A running ``hwmon`` subprocess whose RSS is sampled every 50 ms."""

    def __init__(self, args: list[str], runs: Path) -> None:
        env = {**os.environ, "HWMON_RUNS_DIR": str(runs), "NO_COLOR": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hwmon", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        self.peak_rss = 0
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def _sample(self) -> None:
        try:
            process = psutil.Process(self.proc.pid)
            while self.proc.poll() is None:
                self.peak_rss = max(self.peak_rss, process.memory_info().rss)
                time.sleep(0.05)
        except psutil.Error:
            pass

    def wait(self, timeout: float) -> tuple[int, str, str]:
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
            raise AssertionError(f"hwmon did not end within {timeout}s; stderr: {err[-2000:]!r}") from None
        self._sampler.join(1)
        assert b"Traceback" not in err, err[-3000:]
        return self.proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")


def hwmon(*args: str, runs: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HWMON_RUNS_DIR": str(runs), "NO_COLOR": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "hwmon", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


def only_record(runs: Path) -> dict[str, object]:
    records = [json.loads(p.read_text()) for p in runs.glob("*/run.json")]
    assert len(records) == 1, records
    return records[0]


@pytest.fixture
def runs(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "runs"
    path.mkdir()
    yield path
    # Leave no workload behind, whatever the test did.
    for record_path in path.glob("*/run.json"):
        with_pid = json.loads(record_path.read_text())
        for key in ("pid", "supervisor_pid"):
            pid = with_pid.get(key)
            if isinstance(pid, int):
                for kill in (os.killpg, os.kill):
                    try:
                        kill(pid, signal.SIGKILL)
                    except (ProcessLookupError, PermissionError):
                        pass


MB = 1 << 20
RSS_LIMIT = 250 * MB  # the monitor (Python + parsers + reducer) idles around 40-60 MB


def test_child_exits_non_zero(runs: Path) -> None:
    mon = Monitored(["run", "--no-tui", "--", "sh", "-c", "echo working; exit 3"], runs)
    code, _, _ = mon.wait(60)
    assert code == exitcodes.RUN_FAILED
    record = only_record(runs)
    assert record["status"] == "failed" and record["exit_code"] == 3
    listing = hwmon("ls", runs=runs).stdout
    assert "failed (3)" in listing


def test_child_killed_by_a_signal(runs: Path) -> None:
    mon = Monitored(["run", "--no-tui", "--", "sh", "-c", "echo working; kill -SEGV $$"], runs)
    code, _, _ = mon.wait(60)
    assert code == exitcodes.RUN_FAILED
    record = only_record(runs)
    assert record["status"] == "failed" and record["signal"] == signal.SIGSEGV
    assert "SIGSEGV" in str(record.get("message", "")) or "SIGSEGV" in hwmon("ls", runs=runs).stdout


def test_child_forks_grandchildren_that_keep_stdout(runs: Path) -> None:
    """The workload exits 0 while a grandchild it forked still holds the log open: the run is over when the
    workload is; the monitor ends with its status and does not wait for the grandchild."""
    script = "sleep 120 & sleep 120 & echo parent-done; exit 0"
    started = time.monotonic()
    mon = Monitored(["run", "--no-tui", "--", "sh", "-c", script], runs)
    code, _, _ = mon.wait(60)
    assert time.monotonic() - started < 45
    assert code == exitcodes.OK
    assert only_record(runs)["status"] == "succeeded"


def test_child_closes_stdout_early(runs: Path) -> None:
    mon = Monitored(["run", "--no-tui", "--", "sh", "-c", "echo before-close; exec 1>&- 2>&-; sleep 1; exit 0"], runs)
    code, _, _ = mon.wait(60)
    assert code == exitcodes.OK
    record = only_record(runs)
    assert record["status"] == "succeeded"
    assert "before-close" in Path(str(record["log_path"])).read_text()


def test_flood_of_a_million_lines(runs: Path) -> None:
    lines = 1_000_000 if LONG else 300_000
    flood = (
        "import sys\n"
        f"w = sys.stdout.write\nfor i in range({lines}): w(f'flood line {{i}} loss={{1.0 / (i + 1):.6f}}\\n')\n"
    )
    started = time.monotonic()
    mon = Monitored(["run", "--no-tui", "--", sys.executable, "-c", flood], runs)
    code, out, _ = mon.wait(240)
    elapsed = time.monotonic() - started
    assert code == exitcodes.OK
    record = only_record(runs)
    log = Path(str(record["log_path"]))
    assert log.read_bytes().count(b"\n") >= lines
    assert mon.peak_rss < RSS_LIMIT, mon.peak_rss / MB
    print(f"\nflood {lines} lines: {elapsed:.1f}s, monitor peak RSS {mon.peak_rss / MB:.0f} MB")


def test_fifty_megabyte_line_without_newline(runs: Path) -> None:
    size = 50_000_000
    script = f"import sys\nsys.stdout.write('x' * {size})\nsys.stdout.flush()\n"
    mon = Monitored(["run", "--no-tui", "--", sys.executable, "-c", script], runs)
    code, out, _ = mon.wait(180)
    assert code == exitcodes.OK
    log = Path(str(only_record(runs)["log_path"]))
    assert log.stat().st_size >= size
    assert mon.peak_rss < RSS_LIMIT, mon.peak_rss / MB
    # Plain mode never prints the line itself, so stdout stays small however long the line.
    assert len(out) < 100_000
    print(f"\n50 MB line: monitor peak RSS {mon.peak_rss / MB:.0f} MB")


def test_never_exits_until_hwmon_stop(runs: Path) -> None:
    started = hwmon(
        "run", "--detach", "--", "sh", "-c", "trap '' INT TERM; echo looping; while :; do sleep 1; done", runs=runs
    )
    assert started.returncode == 0, started.stderr
    run_id = started.stdout.split()[0]
    watcher = Monitored(["attach", "--plain", "--interval", "1", run_id], runs)
    time.sleep(1.5)
    assert watcher.proc.poll() is None  # still watching a run that never ends by itself
    stop = hwmon("stop", "--int-timeout", "1", "--term-timeout", "1", run_id, runs=runs)
    assert stop.returncode == 0, stop.stderr
    code, out, _ = watcher.wait(30)
    assert only_record(runs)["status"] == "stopped"
    assert "stopped" in out or "stopped" in hwmon("ls", runs=runs).stdout
    assert watcher.peak_rss < RSS_LIMIT


def test_supervisor_killed_with_sigkill_shows_lost(runs: Path) -> None:
    started = hwmon("run", "--detach", "--", "sleep", "120", runs=runs)
    assert started.returncode == 0, started.stderr
    record = only_record(runs)
    supervisor = record["supervisor_pid"]
    assert isinstance(supervisor, int)
    os.kill(supervisor, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while psutil.pid_exists(supervisor) and psutil.Process(supervisor).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    began = time.monotonic()
    listing = hwmon("ls", runs=runs, timeout=20)
    assert time.monotonic() - began < 15
    assert listing.returncode == 0
    assert "lost" in listing.stdout, listing.stdout
    as_json = json.loads(hwmon("ls", "--json", runs=runs).stdout)
    entry = as_json[0] if isinstance(as_json, list) else as_json["runs"][0]
    assert entry["status"] == "lost"
    assert "supervisor" in json.dumps(entry).lower()
    # Attaching to a lost run whose workload still runs keeps following it (its output must still be shown)...
    watcher = Monitored(["attach", "--plain", str(record["run_id"])], runs)
    time.sleep(2.0)
    assert watcher.proc.poll() is None, "attach gave up on a lost run whose workload is still running"
    # ...until the workload ends: the survivor of its supervisor is ended by `hwmon stop`, and attach then ends.
    stop = hwmon("stop", "--int-timeout", "1", "--term-timeout", "1", str(record["run_id"]), runs=runs)
    assert stop.returncode == 0, stop.stderr
    assert only_record(runs)["status"] == "stopped"
    code, _, _ = watcher.wait(30)
    assert code in (exitcodes.OK, exitcodes.RUN_FAILED)
