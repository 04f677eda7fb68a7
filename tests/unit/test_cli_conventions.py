"""The flags and messages people expect from a command line (issue 10): -V, "did you mean", summary from stdin,
no silent example, attach -f and a missing directory, one exit-code table, a clean `run mnist --help`, and the
workload's last lines after a failed `run --no-tui`. Each runs the real ``hwmon`` in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hwmon import __version__, exitcodes

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def hwmon(
    *args: str, stdin: bytes | None = None, runs: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "NO_COLOR": "1"}
    if runs is not None:
        env["HWMON_RUNS_DIR"] = str(runs)
    return subprocess.run(
        [sys.executable, "-m", "hwmon", *args],
        input=stdin if stdin is not None else b"",
        capture_output=True,
        env=env,
        timeout=timeout,
    )


def test_dash_V_prints_the_version() -> None:
    result = hwmon("-V")
    assert result.returncode == 0 and result.stdout.decode().strip() == f"hwmon {__version__}"


def test_a_typo_gets_did_you_mean() -> None:
    result = hwmon("atach", "x.log")
    assert result.returncode == exitcodes.USAGE
    assert "did you mean 'attach'?" in result.stderr.decode()


def test_summary_dash_reads_stdin() -> None:
    data = (FIXTURES / "tui_cerebras_run.log").read_bytes()
    result = hwmon("summary", "-", "--json", stdin=data)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["source"] == "stdin" and summary["vendor"] == "cerebras"
    assert summary["train"]["steps"]["last"] == 600


def test_bare_summary_is_a_usage_error_pointing_to_demo() -> None:
    result = hwmon("summary")
    assert result.returncode == exitcodes.USAGE
    err = result.stderr.decode()
    assert "hwmon demo" in err and result.stdout == b""


def test_command_help_does_not_repeat_the_exit_code_table() -> None:
    top = hwmon("--help").stdout.decode()
    assert "exit codes:" in top
    for command in ("attach", "summary", "ls", "stop", "demo"):
        out = hwmon(command, "--help").stdout.decode()
        assert exitcodes.DESCRIPTIONS[exitcodes.STOP_CONFLICT] not in out, command
        assert "hwmon --help" in out, command


def test_run_mnist_help_lists_each_option_once() -> None:
    out = hwmon("run", "mnist", "--help").stdout.decode()
    assert out.count("-h, --help") == 1
    assert "--device {" not in out and "--device " not in out
    assert out.count("--epochs") == 1 and "--cpu" in out


def test_attach_f_is_follow(tmp_path: Path) -> None:
    from hwmon.cli import build_parser

    args = build_parser(only="attach").parse_args(["attach", "-f", "x.log"])
    assert args.follow is True


def test_attach_in_a_missing_directory_is_exit_2_not_a_wait(tmp_path: Path) -> None:
    started = time.monotonic()
    result = hwmon("attach", "--plain", str(tmp_path / "no" / "such" / "x.log"), timeout=20)
    assert result.returncode == exitcodes.BAD_INPUT
    assert "no such directory" in result.stderr.decode()
    assert time.monotonic() - started < 15


def test_attach_a_missing_file_in_an_existing_directory_waits_and_says_the_full_path(tmp_path: Path) -> None:
    env = {**os.environ, "NO_COLOR": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "hwmon", "attach", "--plain", "later.log"],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline().decode()
        assert f"waiting for {tmp_path / 'later.log'} to appear" in line
    finally:
        proc.kill()
        proc.wait(timeout=10)


@pytest.mark.timeout(90)
def test_run_no_tui_failure_shows_the_workloads_last_lines(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    result = hwmon(
        "run", "--no-tui", "--", "sh", "-c", "echo preparing; echo 'the real reason: disk full'; exit 6", runs=runs
    )
    assert result.returncode == exitcodes.RUN_FAILED
    err = result.stderr.decode()
    assert "last" in err and "the real reason: disk full" in err


def test_the_missing_directory_rule_leaves_remote_and_slurm_refs_alone() -> None:
    from hwmon.commands.attach import check_missing_path

    assert check_missing_path("gpu-node-7:/no/such/dir/run.log") is None
    assert check_missing_path("ssh://gpu-node-7/no/such/dir/run.log") is None
    assert check_missing_path("slurm:12345") is None
