"""`hwmon demo` end to end (plain mode, real subprocess) and the replay planner."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hwmon import exitcodes
from hwmon.commands.demo import EXAMPLES, example_log
from hwmon.sources.replay import ReplayWriter, plan_replay, schedule


def demo(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    # TMPDIR is private to the test so "the temporary log was removed" can be checked without other processes'.
    env = {**os.environ, "TMPDIR": str(tmp_path), "NO_COLOR": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "hwmon", "demo", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


@pytest.mark.parametrize(("example", "expected"), [("cerebras", {"compile", "queue", "train"}), ("mnist", {"train"})])
def test_demo_plain_fast_finishes_and_prints_phases(tmp_path: Path, example: str, expected: set[str]) -> None:
    proc = demo(tmp_path, "--plain", "--speed", "1000", "--example", example)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == exitcodes.OK, err
    phases = {line.split()[2] for line in out.splitlines() if line.split()[1:2] == ["phase"]}
    assert expected <= phases
    assert "succeeded" in out.splitlines()[-1]
    assert list(tmp_path.iterdir()) == []  # the temporary log is gone


def test_demo_ctrl_c_cleans_up(tmp_path: Path) -> None:
    proc = demo(tmp_path, "--plain", "--speed", "1")
    deadline = time.monotonic() + 10
    while not list(tmp_path.glob("hwmon-demo-*/*.log")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(tmp_path.glob("hwmon-demo-*/*.log"))
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == exitcodes.INTERRUPTED
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_demo_sigterm_cleans_up(tmp_path: Path) -> None:
    proc = demo(tmp_path, "--plain", "--speed", "1")
    time.sleep(1.5)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=10)
    assert list(tmp_path.iterdir()) == []


def test_every_example_is_bundled() -> None:
    for name in EXAMPLES:
        assert example_log(name).stat().st_size > 0


def test_plan_keeps_every_byte_and_uses_timestamps() -> None:
    data = (
        b"2024-03-30 12:00:00,000 INFO:   a\n"
        b"no timestamp here\n"
        b"2024-03-30 12:00:10,500 INFO:   b\n"
        b"2024-03-30 12:00:09,000 INFO:   clock went back\n"
        b"2024-03-30 12:01:10,500 INFO:   c"
    )
    plan = plan_replay(data)
    assert b"".join(p.data for p in plan) == data
    assert [p.at for p in plan] == [0.0, 0.0, 10.5, 10.5, 70.5]
    assert schedule(plan, speed=10, max_gap=4.0) == [0.0, 0.0, 1.05, 1.05, 1.05 + 4.0]


def test_plan_uses_tqdm_elapsed_without_double_counting_nested_bars() -> None:
    def bar(desc: str, n: int, total: int, elapsed: int) -> bytes:
        return f"\r{desc}: {100 * n // total:3d}%|##        | {n}/{total} [00:{elapsed:02d}<00:10, 1.00it/s]".encode()

    data = (
        bar("Epochs", 0, 2, 0)
        + b"\n"
        + bar("Loss: 0.5", 5, 10, 5)
        + bar("Loss: 0.4", 10, 10, 10)
        + b"\n"
        + bar("Loss: 0.3", 5, 10, 5)  # a new inner bar: its count went down, it started anew
        + bar("Loss: 0.2", 10, 10, 10)
        + bar("Epochs", 2, 2, 20)  # the outer bar's 20 s are the same 20 s the inner bars took
        + b"\n"
    )
    plan = plan_replay(data)
    assert b"".join(p.data for p in plan) == data
    assert max(p.at for p in plan) == pytest.approx(20.0, abs=0.5)


def test_replay_writer_writes_everything_on_schedule(tmp_path: Path) -> None:
    data = b"".join(f"2024-03-30 12:00:{i:02d},000 INFO:   line {i}\n".encode() for i in range(10))
    target = tmp_path / "out.log"
    writer = ReplayWriter(target, plan_replay(data), speed=30)
    start = time.monotonic()
    writer.start()
    assert writer.done.wait(5)
    elapsed = time.monotonic() - start
    assert target.read_bytes() == data
    assert 0.25 <= elapsed < 2.0  # 9 s of log at 30x
