"""Slurm ids, ownership and listings against a hostile tester (issue 22, items 1, 13, 14, 15), with the fake
``squeue``/``scancel``/``scontrol`` of ``tests/fakes/fake_bin`` on PATH (test doubles that record their argv and act
on a JSON cluster, as the real ones would act on the controller: ``scancel -uUSER`` cancels all of USER's jobs).
The real-Slurm side of the same items is in ``tests/slurm/test_slurm_hostile.py``."""

from __future__ import annotations

import getpass
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hwmon import exitcodes, refs
from hwmon.slurm import client
from hwmon.store import registry

FAKE_BIN = Path(__file__).resolve().parents[1] / "fakes" / "fake_bin"
ME = getpass.getuser()


class Cluster:
    """The fake controller's state file and the argv log of the fake tools."""

    def __init__(self, base: Path) -> None:
        self.state = base / "cluster.json"
        self.argv_log = base / "argv.jsonl"
        (base / "slurm.conf").write_text("# fake\n")
        self.env = {
            "PATH": f"{FAKE_BIN}{os.pathsep}{os.environ['PATH']}",
            "HWMON_FAKE_SLURM": str(self.state),
            "HWMON_FAKE_ARGV_LOG": str(self.argv_log),
            "SLURM_CONF": str(base / "slurm.conf"),
            "HWMON_RUNS_DIR": str(base / "runs"),
        }

    def write(self, jobs: list[dict[str, Any]], **more: Any) -> None:
        self.state.write_text(json.dumps({"user": ME, "uid": os.getuid(), "jobs": jobs, **more}))

    def jobs(self) -> dict[str, str]:
        return {j["id"]: j["state"] for j in json.loads(self.state.read_text())["jobs"]}

    def calls(self) -> list[list[str]]:
        if not self.argv_log.exists():
            return []
        return [json.loads(line) for line in self.argv_log.read_text().splitlines()]

    def hwmon(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "hwmon", *args],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, **self.env},
        )


def job(job_id: str, user: str = ME, state: str = "RUNNING", **more: Any) -> dict[str, Any]:
    uid = os.getuid() if user == ME else 4242
    return {"id": job_id, "user": user, "uid": uid, "state": state, "name": f"job{job_id}", **more}


@pytest.fixture
def cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cluster]:
    fake = Cluster(tmp_path)
    for key, value in fake.env.items():
        monkeypatch.setenv(key, value)
    yield fake


@pytest.mark.parametrize("ref", ["slurm:-uroot", f"slurm:-u{ME}", "slurm:", "slurm:1,2", "slurm:--full", "slurm:7 8"])
def test_a_malformed_job_id_is_a_usage_error_before_any_tool_runs(cluster: Cluster, ref: str) -> None:
    cluster.write([job("7"), job("8")])
    for command in (["stop", ref], ["attach", "--plain", ref]):
        proc = cluster.hwmon(*command)
        assert proc.returncode == exitcodes.USAGE, (command, proc.returncode, proc.stderr)
        assert "is not a Slurm job id" in proc.stderr and proc.stderr.count("\n") == 1
    assert cluster.calls() == []
    assert cluster.jobs() == {"7": "RUNNING", "8": "RUNNING"}


def test_positive_control_without_the_guards_scancel_cancels_every_job(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same id with the grammar check and the ``--`` taken out (the argv before the fix): the fake scancel, as
    the real one, reads ``-u<me>`` as "every job of <me>". With ``--`` alone, it is an id scancel refuses."""
    cluster.write([job("7"), job("8")])
    attack = f"-u{ME}"
    with monkeypatch.context() as mp:
        mp.setattr(client, "checked_job_id", lambda ref, what="": refs.job_ref_of(ref))
        mp.setattr(client, "scancel_argv", lambda ref, sig=None: ["scancel", ref])
        client.cancel(attack)
    assert cluster.jobs() == {"7": "CANCELLED", "8": "CANCELLED"}, "the attack did nothing: the test shows nothing"
    cluster.write([job("7"), job("8")])
    with monkeypatch.context() as mp:
        mp.setattr(client, "checked_job_id", lambda ref, what="": refs.job_ref_of(ref))
        client.cancel(attack)  # "--" before it: an id, not an option
    assert cluster.jobs() == {"7": "RUNNING", "8": "RUNNING"}
    with pytest.raises(exitcodes.HwmonError) as info:
        client.cancel(attack)
    assert info.value.code == exitcodes.USAGE


def test_a_run_file_cannot_aim_stop_at_the_users_jobs(cluster: Cluster, tmp_path: Path) -> None:
    """``run.json`` with ``slurm_job_id: "-uroot"`` and ``supervisor_pid: 1`` (alive, no start time): it was stopped
    as a running Slurm run and every job of the user was cancelled. Now the id is not an id and pid 1 proves
    nothing: the run is lost, nothing is signalled."""
    cluster.write([job("7"), job("8")])
    run_dir = tmp_path / "runs" / "evil"
    run_dir.mkdir(parents=True)
    (run_dir / registry.LOG_FILE).write_text("")
    (run_dir / registry.RUN_FILE).write_text(
        json.dumps({"run_id": "evil", "status": "running", "slurm_job_id": f"-u{ME}", "supervisor_pid": 1, "host": "x"})
    )
    proc = cluster.hwmon("stop", "evil")
    assert proc.returncode == exitcodes.STOP_CONFLICT, proc.stderr
    # The same id with a supervisor that does prove alive (this test's own process and its start time).
    data = json.loads((run_dir / registry.RUN_FILE).read_text())
    data.update(supervisor_pid=os.getpid(), supervisor_start=registry.process_start_token(os.getpid()))
    data["host"] = socket.gethostname()
    (run_dir / registry.RUN_FILE).write_text(json.dumps(data))
    loaded = registry.load(run_dir)
    assert loaded is not None and loaded.slurm_job_id is None  # not an id: not a Slurm run
    proc = cluster.hwmon("stop", "evil", "--int-timeout", "0.2", "--term-timeout", "0.2", "--kill-timeout", "0.2")
    assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr
    assert [c for c in cluster.calls() if c[0] == "scancel"] == []
    assert cluster.jobs() == {"7": "RUNNING", "8": "RUNNING"}


def test_a_live_pid_without_its_start_time_proves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """pid 1 is always alive: a run.json naming it as its supervisor, without the supervisor's start time, is not a
    running run (it was, and stop went on to signal on its word)."""
    monkeypatch.setenv("HWMON_RUNS_DIR", str(tmp_path / "runs"))
    run_dir = tmp_path / "runs" / "r"
    run_dir.mkdir(parents=True)
    (run_dir / registry.RUN_FILE).write_text(
        json.dumps(
            {"run_id": "r", "status": "running", "slurm_job_id": "7", "supervisor_pid": 1, "host": socket.gethostname()}
        )
    )
    record = registry.load(run_dir)
    assert record is not None and record.slurm_job_id == "7" and record.status == "lost"
    assert registry.process_alive(os.getpid(), registry.process_start_token(os.getpid()))
    assert not registry.process_alive(os.getpid(), None)


def _live_slurm_run(tmp_path: Path, job_id: str) -> Path:
    """A run record whose watcher is alive (this test's own process, with its start time) for ``job_id``."""
    run_dir = tmp_path / "runs" / f"run{job_id}"
    run_dir.mkdir(parents=True)
    (run_dir / registry.LOG_FILE).write_text("")
    record = registry.RunRecord.starting(
        f"run{job_id}",
        run_dir,
        ["true"],
        None,
        None,
        "/",
        slurm_job_id=job_id,
        supervisor_pid=os.getpid(),
        supervisor_start=registry.process_start_token(os.getpid()),
    )
    registry.save(record)
    return run_dir


@pytest.mark.integration  # a real process for seconds: the integration lane
def test_stop_signals_only_the_users_own_job_and_the_runs_own(cluster: Cluster, tmp_path: Path) -> None:
    """Ownership before any signal: another user's job (root may scancel it) and a job of ours that writes
    elsewhere than the run's output.log are refused (exit 4); the run's own job is cancelled."""
    mine_dir = _live_slurm_run(tmp_path, "31")
    cluster.write(
        [
            job("30", user="mallory"),
            job("31", stdout=str(mine_dir / registry.LOG_FILE)),
            job("32", stdout="/elsewhere/out.log"),
        ]
    )
    _live_slurm_run(tmp_path, "32")
    proc = cluster.hwmon("stop", "slurm:30")
    assert proc.returncode == exitcodes.STOP_CONFLICT and "is not yours" in proc.stderr, proc.stderr
    proc = cluster.hwmon("stop", "run32", "--term-timeout", "0.5", "--int-timeout", "0.5")
    assert proc.returncode == exitcodes.STOP_CONFLICT and "cannot be shown to be this run's" in proc.stderr
    assert [c for c in cluster.calls() if c[0] == "scancel"] == []
    proc = cluster.hwmon("stop", "run31", "--term-timeout", "0.5", "--int-timeout", "0.5")
    assert [c for c in cluster.calls() if c[0] == "scancel"][-1][-2:] == ["--", "31"]
    assert cluster.jobs()["31"] == "CANCELLED" and cluster.jobs()["30"] == "RUNNING"


def test_a_refused_scancel_is_not_reported_as_done(cluster: Cluster) -> None:
    """Item 15: scancel refused printed "running" and exit 0; now its complaint and exit 1."""
    cluster.write([job("16")], scancel_refuse=True)
    proc = cluster.hwmon("stop", "slurm:16", "--int-timeout", "0.2", "--term-timeout", "0.2")
    assert proc.returncode == exitcodes.RUN_FAILED, (proc.returncode, proc.stdout, proc.stderr)
    assert "scancel refused" in proc.stderr and "Access/permission denied" in proc.stderr
    assert "running" not in proc.stdout


def test_ls_and_the_fleet_ask_for_the_users_jobs_only(cluster: Cluster) -> None:
    """Item 14: 2,000 jobs of others and 3 of mine: squeue is asked for mine (``--me``), scontrol never lists the
    cluster, and exactly my jobs are listed."""
    cluster.write([job("11"), job("12", state="PENDING"), job("13")], others=2000)
    proc = cluster.hwmon("ls", "--json")
    assert proc.returncode == 0, proc.stderr
    listed = json.loads(proc.stdout)
    assert sorted(str(r.get("slurm_job_id") or r.get("job_id")) for r in listed) == ["11", "12", "13"], listed
    calls = cluster.calls()
    assert calls and all(c[0] == "squeue" and "--me" in c for c in calls), calls
    from hwmon.sources.fleet import Fleet

    fleet = Fleet()
    fleet.refresh(force=True)
    assert sorted(j.job_id for j in fleet._jobs) == ["11", "12", "13"]
    assert all(c[0] == "squeue" and "--me" in c for c in cluster.calls())
