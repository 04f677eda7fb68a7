"""Slurm jobs as runs, against a real single-node Slurm (slurmctld + slurmd + munge from scripts/slurm_up.sh):
run --sbatch (queue -> train -> succeeded), attach slurm:ID on a job hwmon did not start, stop -> cancelled, an
array job, and ls listing them."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from hwmon.model.reducer import apply_all
from hwmon.model.state import RunState
from hwmon.slurm import client
from hwmon.slurm.watcher import slurm_state
from hwmon.sources.open import open_source
from hwmon.store import registry

from .conftest import JOB, hwmon, wait_for

pytestmark = pytest.mark.integration


def _sbatch(*args: str) -> str:
    proc = subprocess.run(["sbatch", "--parsable", *args], capture_output=True, text=True, check=True, timeout=30)
    return proc.stdout.strip().split(";")[0]


def _slurm_state(run_dir: Path) -> str:
    record = registry.load(run_dir)
    assert record is not None
    return str(slurm_state(record).get("state", ""))


def test_run_sbatch_queue_then_train_then_succeeded(slurm_cluster: Path, runs_dir: Path, tmp_path: Path) -> None:
    proc = hwmon(
        "run", "--detach", "--sbatch", "--sbatch-arg=--begin=now+2", "--", sys.executable, str(JOB), "8", "0.4"
    )
    assert proc.returncode == 0, proc.stderr
    run_id = proc.stdout.strip()
    assert "submitted as Slurm job" in proc.stderr
    record = registry.resolve(run_id)
    assert record.slurm_job_id and record.slurm_job_id.isdigit()
    listed = json.loads(hwmon("ls", "--json").stdout)
    assert [r["slurm_job_id"] for r in listed if r.get("run_id") == run_id] == [record.slurm_job_id]

    state = RunState(source=run_id)
    states_seen: list[str] = []
    phases_seen: list[tuple[str, ...]] = []
    queue_details: list[str] = []

    async def watch() -> None:
        source = open_source(run_id)
        async for batch in source.batches():
            apply_all(state, batch.events, batch.at)
            names = tuple(p.name for p in state.phases)
            if not phases_seen or phases_seen[-1] != names:
                phases_seen.append(names)
            current = state.current_phase
            if current is not None and current.name == "queue":
                queue_details.append(current.detail)
            slurm_state = _slurm_state(record.dir)
            if not states_seen or states_seen[-1] != slurm_state:
                states_seen.append(slurm_state)

    asyncio.run(asyncio.wait_for(watch(), 90))
    assert states_seen[0] == "PENDING" and states_seen[-1] == "COMPLETED", states_seen
    assert "RUNNING" in states_seen, states_seen
    assert phases_seen[0] == ("queue",), phases_seen
    assert "Slurm: BeginTime" in queue_details
    names = [p.name for p in state.phases]
    assert names[0] == "queue" and "train" in names and names.index("train") > 0
    assert state.status == "succeeded"
    assert state.last_step is not None and state.last_step.step == 80
    final = registry.resolve(run_id)
    assert final.status == "succeeded" and final.exit_code == 0
    assert str(record.slurm_job_id) in state.job_ids


def test_attach_a_job_hwmon_did_not_start(slurm_cluster: Path, runs_dir: Path, tmp_path: Path) -> None:
    job_id = _sbatch(
        "-J",
        "foreign",
        f"--output={tmp_path}/%x-%j.out",
        "--export=ALL,PYTHONUNBUFFERED=1",
        f"--wrap={sys.executable} {JOB} 4 0.2",
    )
    proc = hwmon("attach", "--plain", "--interval", "60", f"slurm:{job_id}", timeout=90)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert "succeeded" in proc.stdout and "step 40" in proc.stdout, proc.stdout
    assert (tmp_path / f"foreign-{job_id}.out").exists()
    # A bare number scontrol knows works too (the job is finished now and still known for MinJobAge).
    bare = hwmon("attach", "--plain", job_id, timeout=60)
    assert bare.returncode == 0 and "succeeded" in bare.stdout, bare.stderr + bare.stdout
    unknown = hwmon("attach", "--plain", "slurm:987654")
    assert unknown.returncode != 0 and "not known to the controller" in unknown.stderr


def test_stop_cancels_a_running_job(slurm_cluster: Path, runs_dir: Path) -> None:
    proc = hwmon("run", "--detach", "--sbatch", "--", sys.executable, str(JOB), "500", "0.5")
    assert proc.returncode == 0, proc.stderr
    run_id = proc.stdout.strip()
    record = registry.resolve(run_id)
    wait_for(lambda: _slurm_state(record.dir) == "RUNNING", "the job to run", 60)
    wait_for(lambda: b"Step=10," in record.log_path.read_bytes(), "its first step", 30)  # run dir made by us
    stop = hwmon("stop", run_id, "--int-timeout", "5", "--term-timeout", "20", timeout=90)
    assert stop.returncode == 0, stop.stderr
    assert "scancel --full --signal=INT" in stop.stderr
    final = registry.resolve(run_id)
    assert final.status == "stopped", (final.status, final.message)
    assert final.message.startswith("stopped by 'hwmon stop'")
    assert "[hwmon] run ended: stopped by 'hwmon stop'" in record.log_path.read_text()
    again = hwmon("stop", run_id)
    assert again.returncode != 0 and "is not running" in again.stderr


def test_stop_a_pending_job_is_cancelled(slurm_cluster: Path, runs_dir: Path) -> None:
    proc = hwmon("run", "--detach", "--sbatch", "--sbatch-arg=--begin=now+600", "--", sys.executable, str(JOB))
    run_id = proc.stdout.strip()
    record = registry.resolve(run_id)
    stop = hwmon("stop", run_id, timeout=60)
    assert stop.returncode == 0, stop.stderr
    final = registry.resolve(run_id)
    assert final.status == "stopped"
    assert slurm_state(final)["state"] == "CANCELLED"
    assert "cancelled by Slurm (scancel)" in final.message
    assert record.log_path.read_text().endswith("cancelled by Slurm (scancel)\n")


def test_array_job_tasks_and_ls(slurm_cluster: Path, runs_dir: Path, tmp_path: Path) -> None:
    job_id = _sbatch(
        "--array=0-1",
        "-J",
        "arr",
        f"--output={tmp_path}/%x-%A_%a.out",
        "--export=ALL,PYTHONUNBUFFERED=1",
        f"--wrap={sys.executable} {JOB} 60 0.5",
    )
    try:
        wait_for(
            lambda: all(j.state == "RUNNING" for j in client.show_jobs(job_id)) and len(client.show_jobs(job_id)) == 2,
            "both tasks to run",
            60,
        )
        task = client.show_job(f"{job_id}_1")
        assert task is not None and task.stdout == f"{tmp_path}/arr-{job_id}_1.out"
        out = Path(task.stdout)
        wait_for(lambda: out.exists() and b"Step=20," in out.read_bytes(), "steps in task 1's output", 30)
        listed = json.loads(hwmon("ls", "--json").stdout)
        jobs = {r["slurm_job_id"]: r for r in listed if r.get("kind") == "slurm"}
        assert {f"{job_id}_0", f"{job_id}_1"} <= set(jobs), listed
        row = jobs[f"{job_id}_1"]
        assert row["state"] == "RUNNING" and row["phase"] == "train" and row["last_step"] >= 20
        assert row["output"] == task.stdout and row["elapsed_s"] is not None
        table = hwmon("ls").stdout
        assert f"{job_id}_1" in table and "RUNNING" in table and "train" in table
    finally:
        subprocess.run(["scancel", job_id], check=False, timeout=30)


def test_run_mnist_sbatch_records_the_workload(slurm_cluster: Path, runs_dir: Path) -> None:
    # Held in the queue (BeginTime) so nothing trains: this checks the workload's submission and record.
    proc = hwmon(
        "run", "mnist", "--cpu", "--sbatch", "--sbatch-arg=--begin=now+600", "--detach", "--no-check", "--epochs", "1"
    )
    assert proc.returncode == 0, proc.stderr
    record = registry.resolve(proc.stdout.strip())
    try:
        assert record.workload == "mnist" and record.device == "cpu" and record.slurm_job_id
        assert record.command[1].endswith("mnist.py") and record.command[2:4] == ["--device", "cpu"]
        job = client.show_job(record.slurm_job_id)
        assert job is not None and job.pending and job.reason == "BeginTime"
        assert job.stdout == str(record.log_path)
    finally:
        hwmon("stop", record.run_id, timeout=60)
    assert registry.resolve(record.run_id).status == "stopped"
