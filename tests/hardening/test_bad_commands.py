"""Bad commands end in one line on stderr (no traceback) and the exit code ``hwmon --help`` documents for them.

Every case runs the real ``hwmon`` in a subprocess with its own run registry (``HWMON_RUNS_DIR``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hwmon import exitcodes

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


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The one error line: no traceback, and exactly one line that is not argparse's usage text."""
    err = result.stderr
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    # argparse prints its usage (possibly wrapped onto indented lines) before the error line.
    message = [line for line in lines if not line.startswith(("usage:", " "))]
    assert len(message) == 1, err
    assert message[0].startswith("hwmon"), err
    return message[0]


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    path = tmp_path / "runs"
    path.mkdir()
    return path


def test_help_documents_every_exit_code(runs: Path) -> None:
    out = hwmon("--help", runs=runs).stdout
    for code, text in exitcodes.DESCRIPTIONS.items():
        assert f"{code:>3}  {text}" in out, (code, text)
    assert len(set(exitcodes.DESCRIPTIONS)) == len(exitcodes.DESCRIPTIONS)


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (("frobnicate",), exitcodes.USAGE, "invalid choice"),
        (("run", "mnist", "--tpu"), exitcodes.USAGE, "--cpu"),
        (("run", "mnist", "--cpu", "--gpu"), exitcodes.USAGE, "not allowed with"),
        (("run", "--bogus-flag"), exitcodes.USAGE, "--bogus-flag"),
        (("ls", "--bogus"), exitcodes.USAGE, "unrecognized arguments"),
        (("run", "mnist", "--cpu", "--data", "/nonexistent/mnist"), exitcodes.DATA_NOT_FOUND, "--data"),
        (("summary", "/nonexistent/run.log"), exitcodes.BAD_INPUT, "no such file"),
        (("summary", "/"), exitcodes.BAD_INPUT, "directory"),
        # Unreadable: we run as root, so chmod 000 does not stop a read; a path through a regular file does.
        (("summary", "/etc/hostname/run.log"), exitcodes.BAD_INPUT, "Not a directory"),
        (("attach", "--plain", "/etc/hostname/run.log"), exitcodes.BAD_INPUT, "Not a directory"),
        (("attach", "--plain", "/"), exitcodes.BAD_INPUT, "directory"),
        (("attach", "--plain", "nosuchrun"), exitcodes.RUN_NOT_FOUND, "no run matches"),
        (("attach", "--plain"), exitcodes.RUN_NOT_FOUND, "run"),
        (("stop", "nosuchrun"), exitcodes.RUN_NOT_FOUND, "no run matches"),
    ],
)
def test_bad_command_is_one_line_with_its_code(args: tuple[str, ...], code: int, needle: str, runs: Path) -> None:
    result = hwmon(*args, runs=runs)
    line = error_line(result)
    assert result.returncode == code, (result.returncode, result.stderr)
    assert needle in line or needle in result.stderr, result.stderr


def test_unknown_workload_is_a_usage_error_and_launches_nothing(runs: Path) -> None:
    """``hwmon run NAME`` without ``--`` runs a known workload or a program found on PATH; a name that is neither is
    a one-line usage error (64), and no run is registered."""
    result = hwmon("run", "--no-tui", "nosuchworkload_xyz", runs=runs)
    line = error_line(result)
    assert result.returncode == exitcodes.USAGE
    assert "unknown workload or command 'nosuchworkload_xyz'" in line
    listing = hwmon("ls", runs=runs)
    assert listing.returncode == 0 and "nosuchworkload_xyz" not in listing.stdout


def test_bare_program_name_still_runs_as_a_command(runs: Path) -> None:
    result = hwmon("run", "--no-tui", "true", runs=runs)
    assert result.returncode == 0, result.stderr


def test_unreadable_file_by_permissions_when_not_root(tmp_path: Path, runs: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads mode-000 files; unreadability is covered by the not-a-directory path cases")
    log = tmp_path / "secret.log"
    log.write_text("x\n")
    log.chmod(0)
    result = hwmon("summary", str(log), runs=runs)
    error_line(result)
    assert result.returncode == exitcodes.BAD_INPUT


def test_two_stops_at_once(runs: Path) -> None:
    """The second of two concurrent ``hwmon stop``s is refused with STOP_CONFLICT while the first escalates; a stop
    after the run ended is STOP_CONFLICT too."""
    started = hwmon("run", "--detach", "--", "sh", "-c", "trap '' INT; echo ready; sleep 60", runs=runs)
    assert started.returncode == 0, started.stderr
    run_id = started.stdout.split()[0]
    log = next(runs.glob("*/output.log"))
    deadline = time.monotonic() + 15
    while b"ready" not in log.read_bytes() and time.monotonic() < deadline:
        time.sleep(0.05)
    env = {**os.environ, "HWMON_RUNS_DIR": str(runs)}
    first = subprocess.Popen(
        [sys.executable, "-m", "hwmon", "stop", "--int-timeout", "3", "--term-timeout", "5", run_id],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        # Wait until the first stop holds the lock (it has sent SIGINT, which the shell ignores).
        deadline = time.monotonic() + 15
        while b"sending SIGINT" not in log.read_bytes() and time.monotonic() < deadline:
            time.sleep(0.05)
        second = hwmon("stop", run_id, runs=runs)
        line = error_line(second)
        assert second.returncode == exitcodes.STOP_CONFLICT, second.stderr
        assert "already" in line
        out, err = first.communicate(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 0, err
    assert "stopped" in out
    third = hwmon("stop", run_id, runs=runs)
    assert third.returncode == exitcodes.STOP_CONFLICT
    assert "not running" in error_line(third)
