"""Slurm's own end, for real (issue 21), against the single-node test Slurm (scripts/slurm_up.sh): a job past
``--time=1`` ends TIMEOUT, a job cancelled with ``scancel`` ends CANCELLED, a requeued job (``scontrol requeue``) is
one run with both job starts, and an array job's tasks end each their own way. The TIMEOUT job is submitted first
(Slurm ends it 60-90 s later: its limit is a whole minute and the controller checks limits every 30 s); the others
run meanwhile."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hwmon.model.distributed import fmt_status_line, productive_seconds, run_error
from hwmon.model.figures import wall_seconds
from hwmon.model.reducer import apply_all
from hwmon.model.state import RunState
from hwmon.slurm import client
from hwmon.sources.open import open_source
from hwmon.store import registry

from .conftest import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("timeout_run")]

JOB = Path(__file__).with_name("job_steps.py")


@pytest.fixture(scope="module")
def work(slurm_cluster: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A runs dir for the module (HWMON_RUNS_DIR) and the jobs' working directory (their checkpoints)."""
    root = tmp_path_factory.mktemp("ends")
    old = os.environ.get("HWMON_RUNS_DIR")
    os.environ["HWMON_RUNS_DIR"] = str(root / "runs")
    try:
        yield root
    finally:
        if old is None:
            os.environ.pop("HWMON_RUNS_DIR", None)
        else:
            os.environ["HWMON_RUNS_DIR"] = old


def hwmon(work: Path, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hwmon", *args], capture_output=True, text=True, timeout=timeout, cwd=work, check=False
    )


def submit(work: Path, *args: str, sbatch: tuple[str, ...] = ()) -> registry.RunRecord:
    flags = [f"--sbatch-arg={a}" for a in sbatch]
    proc = hwmon(work, "run", "--detach", "--sbatch", *flags, "--", sys.executable, str(JOB), *args)
    assert proc.returncode == 0, proc.stderr
    return registry.resolve(proc.stdout.strip())


def ended(run_id: str) -> bool:
    return registry.resolve(run_id).status != "running"


def follow(run_id: str, timeout: float = 120) -> RunState:
    """The run as a view sees it: its source (run.json + output.log through the Slurm source) until it ends."""
    state = RunState(source=run_id)

    async def go() -> None:
        source = open_source(run_id)
        try:
            async for batch in source.batches():
                apply_all(state, batch.events, batch.at)
                if batch.eof:
                    return
        finally:
            source.close()

    asyncio.run(asyncio.wait_for(go(), timeout))
    return state


@pytest.fixture(scope="module")
def timeout_run(work: Path) -> registry.RunRecord:
    """A job with a one-minute limit that would train for ~14 hours."""
    return submit(work, "100000", "0.5", sbatch=("--time=1",))


def test_a_job_cancelled_with_scancel_ends_cancelled(work: Path) -> None:
    record = submit(work, "1000", "0.3")
    wait_for(lambda: b"step=3 " in record.log_path.read_bytes(), "its first steps", 90)
    subprocess.run(["scancel", str(record.slurm_job_id)], check=True, timeout=30)
    wait_for(lambda: ended(record.run_id), "the watcher to record the end", 60)
    final = registry.resolve(record.run_id)
    assert final.status == "stopped" and final.end_reason is not None
    assert final.end_reason["state"] == "CANCELLED", final.end_reason
    listed = json.loads(hwmon(work, "ls", "--json").stdout)
    assert [r["end_reason"]["state"] for r in listed if r.get("run_id") == record.run_id] == ["CANCELLED"]
    state = follow(record.run_id)
    assert state.end is not None and state.end.code == "CANCELLED" and state.end.source == "slurm"
    assert fmt_status_line(state, None).startswith("stopped — CANCELLED")
    # The log alone says it too (slurmstepd's line).
    summary = json.loads(hwmon(work, "summary", str(record.log_path), "--json").stdout)
    assert summary["end_reason"]["code"] == "CANCELLED"


@pytest.mark.timeout(420)  # attempt 0 (<= 90 s), the requeued start (<= 120 s), attempt 1 (<= 150 s), loaded
def test_a_requeued_job_is_one_run_with_both_job_starts(work: Path) -> None:
    record = submit(work, "24", "0.4", "5")
    job_id = str(record.slurm_job_id)
    states: list[RunState] = []
    follower = threading.Thread(target=lambda: states.append(follow(record.run_id, timeout=150)), daemon=True)
    follower.start()
    wait_for(lambda: b"step=7 " in record.log_path.read_bytes(), "attempt 0 past its checkpoint", 90)
    subprocess.run(["scontrol", "requeue", job_id], check=True, timeout=30)
    # A requeued job waits (BeginTime) before it may start again: let it start now.
    deadline = time.monotonic() + 120
    # Until it runs again, or has already run to its end (a fast second attempt on an idle machine). Only a pending job
    # takes a StartTime: asking a finished one only makes scontrol say "Job has already finished", forever.
    while (job := client.show_job(job_id)) is None or job.pending or job.state == "COMPLETING":
        assert time.monotonic() < deadline, f"the requeued job did not start again: {job}"
        if job is not None and job.pending:
            subprocess.run(
                ["scontrol", "update", f"JobId={job_id}", "StartTime=now"], check=False, timeout=30, capture_output=True
            )
        time.sleep(0.5)
    follower.join(150)
    assert states, "the follower did not finish"
    state = states[0]
    text = record.log_path.read_text()
    assert "attempt 0 of job" in text and "attempt 1 of job" in text and "DUE TO JOB REQUEUE" in text
    assert state.runs == 1 and state.job.requeues == 1, (state.runs, state.job)
    assert state.status == "succeeded" and state.last_step is not None and state.last_step.step == 24
    names = [(p.name, p.detail.split(":")[0]) for p in state.phases]
    assert ("queue", "requeued") in names and names[-1][0] == "train", names
    assert names.index(("queue", "requeued")) > [n for n, _ in names].index("train")
    final = registry.resolve(record.run_id)
    assert final.status == "succeeded" and final.end_reason is not None
    assert final.end_reason["state"] == "COMPLETED" and final.end_reason["restarts"] == 1
    summary = json.loads(hwmon(work, "summary", str(record.log_path), "--json").stdout)
    assert summary["requeues"] == 1 and summary["runs"] == 1
    assert summary["productive_seconds"] < summary["wall_seconds"]
    productive, wall = productive_seconds(state), wall_seconds(state, None)
    assert productive is not None and wall is not None and productive < wall


def test_an_array_jobs_tasks_end_each_their_own_way(work: Path) -> None:
    proc = subprocess.run(
        [
            "sbatch",
            "--parsable",
            "--array=0-1",
            "-J",
            "ends",
            f"--output={work}/%x-%A_%a.out",
            f"--chdir={work}",
            "--export=ALL,PYTHONUNBUFFERED=1",
            f"--wrap={sys.executable} {JOB} 6 0.2 5 --exit-task 1 --exit-code 3",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    job_id = proc.stdout.strip().split(";")[0]
    wait_for(
        lambda: all(j.final for j in client.show_jobs(job_id)) and len(client.show_jobs(job_id)) == 2,
        "both tasks to end",
        90,
    )
    failed = hwmon(work, "attach", "--plain", "--interval", "60", f"slurm:{job_id}_1")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert re.search(r"\| failed — FAILED after \S+ \(exit code 3\) \|", failed.stdout), failed.stdout
    assert re.search(r"error +task 1 gives up with exit code 3", failed.stdout), failed.stdout  # the run's error
    done = hwmon(work, "attach", "--plain", "--interval", "60", f"slurm:{job_id}_0")
    assert done.returncode == 0 and "| succeeded |" in done.stdout, done.stdout


def test_a_job_past_its_time_limit_ends_timeout(work: Path, timeout_run: registry.RunRecord) -> None:
    run_id = timeout_run.run_id
    wait_for(lambda: ended(run_id), "Slurm to end the job at its time limit", 200)
    final = registry.resolve(run_id)
    assert final.status == "failed" and final.end_reason is not None, (final.status, final.message)
    assert final.end_reason["state"] == "TIMEOUT" and final.end_reason["text"].startswith("TIMEOUT (time limit")
    listed = json.loads(hwmon(work, "ls", "--json").stdout)
    assert [r["end_reason"]["state"] for r in listed if r.get("run_id") == run_id] == ["TIMEOUT"]
    assert "failed (TIMEOUT)" in hwmon(work, "ls").stdout
    state = follow(run_id)
    assert state.job.time_limit_s == 60.0
    assert state.end is not None and state.end.code == "TIMEOUT" and state.end.source == "slurm"
    line = fmt_status_line(state, None)
    assert line.startswith("failed — TIMEOUT after 1m") and line.endswith("(time limit)"), line
    assert run_error(state) is not None
    summary = json.loads(hwmon(work, "summary", str(final.log_path), "--json").stdout)
    assert summary["status"] == "failed" and summary["end_reason"]["code"] == "TIMEOUT"
    assert summary["cause"]["name"] == "Slurm time limit"
    plain = hwmon(work, "attach", "--plain", run_id)
    assert "failed — TIMEOUT after 1m" in plain.stdout, plain.stdout
