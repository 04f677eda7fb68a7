"""The system pane's sampler against real processes: the process tree's CPU and RSS, host memory, NVML's absence
said in words, and ``gc-monitor`` output (a test-double script named as such stands in for the Graphcore tool)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hwmon.sources.system import SystemSampler


def test_process_tree_cpu_and_rss_and_host_memory() -> None:
    busy = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import subprocess, sys, time\n"
            "child = subprocess.Popen([sys.executable, '-c', 'while True: pass'])\n"
            "time.sleep(30)",
        ],
    )
    try:
        sampler = SystemSampler(busy.pid, nvml=False, gc_monitor=None)
        deadline = time.monotonic() + 10
        sample = sampler.sample(0.0)
        while time.monotonic() < deadline and (sample.processes < 2 or (sample.cpu_percent or 0) < 20):
            time.sleep(0.5)
            sample = sampler.sample(time.monotonic())
        assert sample.processes == 2  # the workload and its busy child
        assert sample.cpu_percent is not None and sample.cpu_percent > 20  # the child spins a core
        assert sample.rss is not None and sample.rss > 1 << 20
        assert sample.host_mem_total and 0 < (sample.host_mem_used or 0) <= sample.host_mem_total
        assert sample.gpu_note == "NVML not asked for"
    finally:
        for proc in __import__("psutil").Process(busy.pid).children(recursive=True):
            proc.kill()
        busy.kill()
        busy.wait(timeout=10)
    gone = sampler.sample(1.0)
    assert gone.processes == 0 and "has exited" in gone.process_note


def test_without_an_nvidia_driver_the_note_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    import pynvml

    def no_driver_library() -> None:
        # What nvidia-ml-py raises on a machine without the driver's libnvidia-ml.so (test double of the loader).
        raise pynvml.NVMLError(pynvml.NVML_ERROR_LIBRARY_NOT_FOUND)

    monkeypatch.setattr(pynvml, "nvmlInit", no_driver_library)
    sample = SystemSampler(None, gc_monitor=None).sample(0.0)
    assert sample.gpus == () and sample.gpu_note == "no NVML (no NVIDIA driver library)"
    assert sample.processes == 0 and sample.process_note == "no process known"


def test_gc_monitor_output_is_shown_and_sampled_at_most_every_few_seconds(tmp_path: Path) -> None:
    calls = tmp_path / "calls"
    fake = tmp_path / "gc-monitor-test-double"
    fake.write_text(
        f"#!/bin/sh\necho called >> {calls}\necho '+---------------+'\necho '| IPU 0  | 1.3 GHz | 43 C | 82 W |'\n"
    )
    fake.chmod(0o755)
    sampler = SystemSampler(None, nvml=False, gc_monitor=str(fake))
    first = sampler.sample(100.0)
    assert "| IPU 0  | 1.3 GHz | 43 C | 82 W |" in first.ipu_lines and first.ipu_note == ""
    sampler.sample(101.0)  # within the interval: the last output again, no new run of the tool
    assert calls.read_text().count("called") == 1
    sampler.sample(106.0)
    assert calls.read_text().count("called") == 2


def test_gc_monitor_missing_is_said() -> None:
    sample = SystemSampler(None, nvml=False, gc_monitor="gc-monitor-that-is-not-installed").sample(0.0)
    assert sample.ipu_lines == () and sample.ipu_note == "gc-monitor not on PATH"
    assert os.environ.get("PATH") is not None
