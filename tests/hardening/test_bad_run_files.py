"""Hardening II items 9, 10 and 14 with the real command line: one bad ``run.json`` (mixed-offset times, 200,000
``[``, a link to ``/dev/zero``, a FIFO) must not break ``ls``, ``attach`` or ``stop`` for the other runs; an empty
run id is a usage error, never "the latest run"; ``--interval`` is bounded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hwmon import exitcodes

pytestmark = pytest.mark.integration

GOOD = "20260101-000000-good-0001"


def hwmon(*args: str, runs: Path, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HWMON_RUNS_DIR": str(runs), "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "hwmon", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


def write_run(runs: Path, run_id: str, **fields: object) -> Path:
    run_dir = runs / run_id
    run_dir.mkdir(parents=True)
    (run_dir / "output.log").write_text("epoch=1 step=7 loss=0.25\n[hwmon] run ended: exit code 0\n")
    record: dict[str, object] = {
        "run_id": run_id,
        "command": ["python", "train.py"],
        "status": "succeeded",
        "started": "2026-01-01T00:00:00+00:00",
        "ended": "2026-01-01T00:01:00+00:00",
        "exit_code": 0,
        "host": "node1",
        "cwd": "/",
    }
    record.update(fields)
    (run_dir / "run.json").write_text(json.dumps(record))
    return run_dir


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    runs = tmp_path / "runs"
    write_run(runs, GOOD)
    return runs


def bad_mixed_offsets(runs: Path) -> None:
    write_run(runs, "20260102-000000-mixed-0002", ended="2026-01-02T00:01:00", started="2026-01-02T00:00:00+02:00")


def bad_deep_nesting(runs: Path) -> None:
    run_dir = write_run(runs, "20260102-000000-deep-0003")
    (run_dir / "run.json").write_text("[" * 200_000)


def bad_dev_zero(runs: Path) -> None:
    run_dir = write_run(runs, "20260102-000000-zero-0004")
    (run_dir / "run.json").unlink()
    (run_dir / "run.json").symlink_to("/dev/zero")


def bad_fifo(runs: Path) -> None:
    run_dir = write_run(runs, "20260102-000000-fifo-0005")
    (run_dir / "run.json").unlink()
    os.mkfifo(run_dir / "run.json")


BAD = {"mixed offsets": bad_mixed_offsets, "deep": bad_deep_nesting, "dev zero": bad_dev_zero, "fifo": bad_fifo}


@pytest.mark.parametrize("kind", sorted(BAD))
def test_one_bad_run_json_breaks_nothing_else(runs: Path, kind: str) -> None:
    BAD[kind](runs)
    listing = hwmon("ls", runs=runs)
    assert "Traceback" not in listing.stderr, listing.stderr
    assert listing.returncode == exitcodes.OK, listing.stderr
    assert GOOD in listing.stdout
    as_json = hwmon("ls", "--json", runs=runs)
    assert as_json.returncode == exitcodes.OK, as_json.stderr
    assert GOOD in {row["run_id"] for row in json.loads(as_json.stdout)}
    if kind != "mixed offsets":
        # The unusable record is skipped with exactly one warning naming it.
        warnings = [line for line in listing.stderr.splitlines() if "warning" in line]
        assert len(warnings) == 1 and "skipping run" in warnings[0], listing.stderr
    attach = hwmon("attach", "--plain", GOOD, runs=runs)
    assert "Traceback" not in attach.stderr, attach.stderr
    assert attach.returncode == exitcodes.OK, attach.stderr
    assert "step 7" in attach.stdout
    stop = hwmon("stop", GOOD, runs=runs)
    assert "Traceback" not in stop.stderr, stop.stderr
    assert stop.returncode == exitcodes.STOP_CONFLICT, stop.stderr


def test_mixed_offsets_show_an_unknown_duration(runs: Path) -> None:
    bad_mixed_offsets(runs)
    listing = hwmon("ls", runs=runs)
    assert listing.returncode == exitcodes.OK, listing.stderr
    row = next(line for line in listing.stdout.splitlines() if "mixed" in line)
    assert " - " in row


@pytest.mark.parametrize("command", ["stop", "attach"])
def test_empty_run_id_is_a_usage_error(runs: Path, command: str) -> None:
    result = hwmon(command, "", runs=runs)
    assert result.returncode == exitcodes.USAGE, (result.returncode, result.stderr)
    assert "empty" in result.stderr


@pytest.mark.parametrize("value", ["1e-9", "0.01", "1e9"])
def test_interval_is_bounded(runs: Path, value: str) -> None:
    result = hwmon("attach", "--plain", "--interval", value, GOOD, runs=runs, timeout=10)
    assert result.returncode == exitcodes.USAGE, (result.returncode, result.stdout[-500:])
    assert "between" in result.stderr
    assert result.stdout == ""


def test_smallest_interval_is_accepted(runs: Path) -> None:
    result = hwmon("attach", "--plain", "--interval", "0.1", GOOD, runs=runs)
    assert result.returncode == exitcodes.OK, result.stderr
