"""A run hwmon submitted to Slurm: its source ends when the run's record says it ended and the controller says the
job is final — not while a requeued job's next attempt is queued (the attempt's end is recorded first, and the next
attempt's watcher marks the run running again only when it starts). The controller is a test double here; the real
requeue is tests/slurm/test_slurm_ends.py."""

from __future__ import annotations

import threading
import types
from pathlib import Path

import pytest

import hwmon.sources.slurmjob as slurmjob
from hwmon.slurm.parse import JobInfo
from hwmon.store import registry


def _settled(source: slurmjob.SlurmJobSource, calls: int) -> bool:
    """``_ended`` once the controller double was asked at least ``calls`` times since the answer changed."""
    poller = source._slurm
    assert poller is not None
    done = threading.Event()
    for _ in range(2000):
        if poller.calls >= calls:
            done.set()
            break
        done.wait(0.005)
    assert done.is_set(), "the controller was never asked"
    return source._ended()


def test_a_requeued_jobs_attempt_end_is_not_the_runs_end(monkeypatch: pytest.MonkeyPatch) -> None:
    record = types.SimpleNamespace(status="failed")
    monkeypatch.setattr(registry, "load", lambda run_dir: record)
    answer = {"job": JobInfo(job_id="7", state="PENDING")}
    monkeypatch.setattr(slurmjob, "show_job", lambda ref: answer["job"])
    source = slurmjob.SlurmJobSource("7", lambda: None, run_dir=Path("/nowhere"), poll_s=0.001)
    try:
        assert source._ended() is False  # no answer yet: wait for one
        assert _settled(source, 2) is False  # queued again: the run goes on
        answer["job"] = JobInfo(job_id="7", state="COMPLETED")
        calls = source._slurm.calls if source._slurm else 0
        assert _settled(source, calls + 2) is True
        record.status = "running"
        assert source._ended() is False
    finally:
        source.close()


def test_without_a_controller_the_record_decides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "load", lambda run_dir: types.SimpleNamespace(status="succeeded"))

    def unreachable(ref: str) -> JobInfo | None:
        raise RuntimeError("slurm_load_jobs error: Unable to contact slurm controller")

    monkeypatch.setattr(slurmjob, "show_job", unreachable)
    source = slurmjob.SlurmJobSource("7", lambda: None, run_dir=Path("/nowhere"), poll_s=0.001)
    try:
        source._ended()
        assert _settled(source, 2) is True
    finally:
        source.close()
