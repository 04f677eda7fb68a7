"""The `hwmon run`, `ls` and `stop` commands end to end, as a user runs them (real processes, temp registry)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hwmon import exitcodes
from hwmon.model.figures import fmt_loss
from hwmon.store import registry

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


def hwmon(args: list[str], runs: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, HWMON_RUNS_DIR=str(runs))
    return subprocess.run(
        [sys.executable, "-m", "hwmon", *args], capture_output=True, text=True, env=env, timeout=timeout
    )


def wait_status(runs: Path, run_id: str, timeout: float = 30) -> registry.RunRecord:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = registry.resolve(run_id, runs)
        if record.status != "running":
            return record
        time.sleep(0.05)
    raise AssertionError(f"{run_id} still running")


def test_detach_prints_the_run_id_and_ls_shows_it(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    proc = hwmon(["run", "--detach", "--", sys.executable, "-c", "print('hi')"], runs)
    assert proc.returncode == 0, proc.stderr
    run_id = proc.stdout.strip()
    assert run_id and "\n" not in run_id
    record = wait_status(runs, run_id)
    assert record.status == "succeeded" and record.log_path.read_text().startswith("hi\n")
    table = hwmon(["ls"], runs)
    assert table.returncode == 0
    header, row = table.stdout.splitlines()
    assert header.split() == ["ID", "WORKLOAD", "DEVICE", "STATUS", "STARTED", "DURATION", "STEP", "LOSS"]
    assert row.split()[0] == run_id and "succeeded" in row
    listed = json.loads(hwmon(["ls", "--json"], runs).stdout)
    assert [r["run_id"] for r in listed] == [run_id]
    assert listed[0]["status"] == "succeeded" and listed[0]["exit_code"] == 0
    assert listed[0]["command"][1:] == ["-c", "print('hi')"]
    assert {"duration_s", "last_step", "last_loss", "started", "ended", "pid", "supervisor_pid"} <= set(listed[0])


def test_ls_reports_last_step_and_loss_from_the_log(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    body = (
        "for s in (10, 20):\n"
        "    print(f'2024-03-30 13:03:05,540 INFO:   | Train Device=CSX, Step={s}, Loss={s/10:.5f}, "
        "Rate=100.00 samples/sec, GlobalRate=100.00 samples/sec')\n"
    )
    run_id = hwmon(["run", "--detach", "--", sys.executable, "-c", body], runs).stdout.strip()
    wait_status(runs, run_id)
    [row] = json.loads(hwmon(["ls", "--json"], runs).stdout)
    assert row["last_step"] == 20 and row["last_loss"] == pytest.approx(2.0)
    line = hwmon(["ls"], runs).stdout.splitlines()[1].split()
    assert line[-2:] == ["20", fmt_loss(2.0)] == ["20", "2.000"]  # the model's spelling of a loss, as every view


def test_no_tui_streams_and_returns_the_run_outcome(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    ok = hwmon(["run", "--no-tui", "--", sys.executable, "-c", "print('step one')"], runs)
    assert ok.returncode == 0, ok.stderr
    failed = hwmon(["run", "--no-tui", "--", sys.executable, "-c", "import sys; sys.exit(4)"], runs)
    assert failed.returncode == exitcodes.RUN_FAILED
    statuses = sorted(r.status for r in registry.list_runs(runs))
    assert statuses == ["failed", "succeeded"]


def test_stop_by_prefix_and_conflicts(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    code = "import time\nprint('ready', flush=True)\ntime.sleep(60)\n"
    run_id = hwmon(["run", "--detach", "--", sys.executable, "-c", code], runs).stdout.strip()
    record = registry.resolve(run_id, runs)
    deadline = time.monotonic() + 20
    while b"ready" not in record.log_path.read_bytes() and time.monotonic() < deadline:
        time.sleep(0.05)
    stop = hwmon(["stop", run_id[:-2], "--int-timeout", "5"], runs)
    assert stop.returncode == 0, stop.stderr
    assert "stopped" in stop.stdout and "SIGINT" in stop.stderr
    assert registry.resolve(run_id, runs).status == "stopped"
    again = hwmon(["stop", run_id], runs)
    assert again.returncode == exitcodes.STOP_CONFLICT
    assert again.stderr.strip() == f"hwmon: run {run_id} is not running (status: stopped)"
    unknown = hwmon(["stop", "nope"], runs)
    assert unknown.returncode == exitcodes.RUN_NOT_FOUND and len(unknown.stderr.strip().splitlines()) == 1


def test_dir_option_places_the_run_and_keeps_it_listed(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    where = tmp_path / "elsewhere" / "myrun"
    proc = hwmon(["run", "--detach", "--dir", str(where), "--", sys.executable, "-c", "print(1)"], runs)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "myrun"
    record = wait_status(runs, "myrun")
    assert record.status == "succeeded"
    assert (where / "output.log").read_text().startswith("1\n")
    reused = hwmon(["run", "--detach", "--dir", str(where), "--", "true"], runs)
    assert reused.returncode == exitcodes.USAGE and "already holds a run" in reused.stderr


def test_usage_errors(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    assert hwmon(["run"], runs).returncode == exitcodes.USAGE
    assert hwmon(["run", "mnist"], runs).returncode == exitcodes.USAGE  # no device flag
    assert hwmon(["run", "mnist", "--cpu", "--gpu"], runs).returncode == exitcodes.USAGE
    bad = hwmon(["run", "mnist", "--cpu", "--epochs", "many"], runs)
    assert bad.returncode == exitcodes.USAGE and "--epochs" in bad.stderr
    assert not runs.exists() or not any(runs.iterdir())


def test_csx_needs_a_cluster_config(tmp_path: Path) -> None:
    if Path("/opt/cerebras/config_v2").exists():
        pytest.skip("this machine is a Cerebras user node")
    proc = hwmon(["run", "mnist", "--csx", "--no-check", "--no-tui"], tmp_path / "runs")
    assert proc.returncode == exitcodes.DEVICE_UNAVAILABLE
    assert "no Cerebras cluster configuration" in proc.stderr and "--mgmt-address" in proc.stderr


def test_gpu_without_cuda_is_a_clear_error(tmp_path: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    proc = hwmon(["run", "mnist", "--gpu", "--no-tui"], tmp_path / "runs")
    assert proc.returncode == exitcodes.DEVICE_UNAVAILABLE
    assert "CUDA is not available" in proc.stderr
