"""The fleet: incremental trackers (never re-reading a whole log), rows from the model's functions, and the
Textual view (pilot: Enter opens, Esc comes back, s stops after a confirmation, sort and filter; snapshots at 80x24
and 160x48 with a supervised run, a Slurm job and a remote log)."""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from hwmon.slurm.parse import JobInfo, job_from_fields
from hwmon.sources.fleet import Fleet, LogTracker
from hwmon.store import recent, registry
from hwmon.tui.fleet import FleetApp, FleetChoice
from hwmon.tui.screens import ConfirmScreen
from tests.helpers.records import run_record

from .conftest import Sshd

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


# A running job of the test Slurm (scripts/slurm_up.sh) as ``squeue -O`` reports it, its paths pointed at the test's
# directory.
def _job(jobs_dir: Path) -> JobInfo | None:
    return job_from_fields(
        {
            "JobId": "42",
            "ArrayJobId": "42",
            "ArrayTaskId": "N/A",
            "JobName": "bert-large",
            "UserName": "root",
            "UserNumber": "0",
            "JobState": "RUNNING",
            "Reason": "None",
            "ExitStatus": "0",
            "RunTime": "12:05",
            "SubmitTime": "2026-11-29T22:38:23",
            "StartTime": "2026-11-29T22:38:23",
            "EndTime": "NONE",
            "NodeList": "vm",
            "WorkDir": str(jobs_dir),
            "StdOut": f"{jobs_dir}/%x-%j.out",
            "StdErr": f"{jobs_dir}/%x-%j.out",
        }
    )


def _write_run(root: Path, run_id: str, log: Path, status: str = "succeeded") -> Path:
    run_dir = root / run_id
    run_dir.mkdir(parents=True)
    shutil.copy(log, run_dir / registry.LOG_FILE)
    record = run_record(run_dir, run_id=run_id, workload="mnist", status=status)
    registry.save(record)
    return run_dir


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sshd: Sshd) -> dict[str, Any]:
    """A supervised run (finished), a running Slurm job with its output file, a remote log over ssh."""
    root = tmp_path / "state" / "runs"
    monkeypatch.setenv("HWMON_RUNS_DIR", str(root))
    _write_run(root, "20261129-220000-mnist-abcd", FIXTURES / "tui_poptorch_run.log")
    jobs_dir = tmp_path / "jobs"
    jobs_dir.mkdir()
    shutil.copy(FIXTURES / "follow_cerebras_ok.log", jobs_dir / "bert-large-42.out")
    job = _job(jobs_dir)
    assert job is not None and job.stdout == f"{jobs_dir}/bert-large-42.out"
    remote_log = tmp_path / "remote" / "hf_trainer.log"
    remote_log.parent.mkdir()
    shutil.copy(FIXTURES / "graphcore_hf_trainer.log", remote_log)
    recent.remember(f"127.0.0.1:{remote_log}", "ssh", tuple(sshd.options()))
    fleet = Fleet(jobs=lambda: [job])
    return {"fleet": fleet, "root": root, "job": job, "remote": remote_log}


def test_tracker_reads_only_what_was_added(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    data = (FIXTURES / "follow_cerebras_ok.log").read_bytes()
    half = data.index(b"\n", len(data) // 2) + 1
    log.write_bytes(data[:half])
    tracker = LogTracker(log)
    assert tracker.poll() is True
    first_reads = tracker.reads
    assert tracker.poll() is False and tracker.reads == first_reads  # nothing new: a stat, no read
    with open(log, "ab") as fh:
        fh.write(data[half:])
    assert tracker.poll() is True
    assert tracker.reads == first_reads + 1
    whole = LogTracker(log)
    whole.poll()
    assert tracker.state.status == whole.state.status == "succeeded"
    assert tracker.state.last_step is not None and whole.state.last_step is not None
    assert tracker.state.last_step.step == whole.state.last_step.step == 100
    log.write_bytes(b"")  # truncated: starts over
    tracker.poll()
    log.write_bytes(data[:half])
    assert tracker.poll() is True and tracker.state.status != "succeeded"


def test_tracker_starts_at_the_tail_of_a_big_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hwmon.sources import fleet as fleet_module

    monkeypatch.setattr(fleet_module, "FIRST_READ_BYTES", 700)
    log = tmp_path / "big.log"
    log.write_bytes((FIXTURES / "follow_cerebras_ok.log").read_bytes())
    tracker = LogTracker(log)
    tracker.poll()
    assert tracker.state.last_step is not None and tracker.state.last_step.step == 100
    assert 4 < tracker.state.lines < 9  # only the tail was parsed (the file has 12 lines)


def _wait_remote(fleet: Fleet, remote: Path) -> None:
    fleet.refresh(force=True)


async def _settle(pilot: Any, remote_key: str) -> None:
    app: FleetApp = pilot.app
    deadline = time.monotonic() + 20
    while True:
        state = app.fleet.state_of(remote_key)
        if state is not None and state.status == "succeeded":
            break
        if time.monotonic() > deadline:
            raise AssertionError("the remote log was not followed")
        await pilot.pause(0.05)
    app.fleet.refresh(force=True)
    app._repaint()
    await pilot.pause()


@pytest.mark.integration
def test_rows_from_every_kind(world: dict[str, Any]) -> None:
    fleet: Fleet = world["fleet"]
    fleet.refresh(force=True)
    rows = {r.kind: r for r in fleet.rows()}
    assert set(rows) == {"run", "slurm", "ssh"}
    assert rows["run"].status == "succeeded" and rows["run"].where == "local" and rows["run"].name == "mnist"
    assert rows["slurm"].where == "job 42" and rows["slurm"].status == "running" and rows["slurm"].step == 100
    assert rows["slurm"].stop_ref == "slurm:42"
    assert rows["ssh"].where == "127.0.0.1" and rows["ssh"].ref == f"127.0.0.1:{world['remote']}"


@pytest.mark.integration
@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_fleet_snapshot(snap_compare: Any, world: dict[str, Any], size: tuple[int, int]) -> None:
    app = FleetApp(world["fleet"], threaded=False)
    key = f"ssh:127.0.0.1:{world['remote']}"
    assert snap_compare(app, terminal_size=size, run_before=lambda pilot: _settle(pilot, key))


@pytest.mark.integration
async def test_enter_opens_esc_in_filter_sort_and_invert(world: dict[str, Any]) -> None:
    app = FleetApp(world["fleet"], threaded=False)
    key = f"ssh:127.0.0.1:{world['remote']}"
    async with app.run_test(size=(120, 30)) as pilot:
        await _settle(pilot, key)
        assert [r.kind for r in app.visible_rows()] == ["run", "slurm", "ssh"]
        await pilot.press("greater_than_sign")  # sort by name
        assert [r.name for r in app.visible_rows()] == sorted(r.name for r in app.visible_rows())
        await pilot.press("i")
        names = [r.name for r in app.visible_rows()]
        assert names == sorted(names, reverse=True)
        await pilot.press("slash", *"bert", "enter")
        assert [r.kind for r in app.visible_rows()] == ["slurm"]
        await pilot.press("escape")
        assert len(app.visible_rows()) == 3
        keys = {r.kind: r.key for r in app.visible_rows()}
        app.select(keys["ssh"])
        await pilot.press("s")  # a remote log cannot be stopped: says so, asks nothing
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)
        app.select(keys["slurm"])
        await pilot.press("s")  # a Slurm job can: asks first; "n" leaves it alone
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)
        await pilot.press("home")
        row = app.selected()
        assert row is not None
        await pilot.press("enter")
        await pilot.pause()
    assert isinstance(app.return_value, FleetChoice) and app.return_value.ref == row.ref


@pytest.mark.integration
async def test_s_stops_a_supervised_run_after_confirmation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess

    monkeypatch.setenv("HWMON_RUNS_DIR", str(tmp_path / "runs"))
    proc = subprocess.run(
        [sys.executable, "-m", "hwmon", "run", "--detach", "--", sys.executable, "-c", "import time; time.sleep(120)"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    run_id = proc.stdout.strip()
    app = FleetApp(Fleet(jobs=lambda: [], recents=lambda: []), threaded=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.selected() is not None and app.selected().ref == run_id  # type: ignore[union-attr]
        await pilot.press("s")
        await pilot.pause()
        await pilot.press("n")  # declined: still running
        await pilot.pause()
        assert registry.resolve(run_id).status == "running"
        await pilot.press("s")
        await pilot.pause()
        await pilot.press("y")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert registry.resolve(run_id).status == "stopped"
        row = app.visible_rows()[0]
        assert row.status == "stopped" and row.stop_ref == ""


def test_recent_list_is_bounded_and_newest_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HWMON_RUNS_DIR", str(tmp_path / "runs"))
    for i in range(recent.MAX_RECENT + 5):
        recent.remember(str(tmp_path / f"log{i}.log"), "file", now=1000.0 + i)
    recent.remember(str(tmp_path / "log3.log"), "file", now=2000.0)
    items = recent.load(now=2000.0)
    assert len(items) == recent.MAX_RECENT
    assert items[0].ref == str(tmp_path / "log3.log")
    assert [i.ref for i in items].count(str(tmp_path / "log3.log")) == 1
    assert json.loads(recent.recent_path().read_text())[0]["kind"] == "file"


@pytest.mark.integration
def test_hwmon_alone_on_a_terminal_opens_the_fleet(tmp_path: Path) -> None:
    import os
    import pty
    import select
    import subprocess

    master, slave = pty.openpty()
    env = dict(os.environ, HWMON_RUNS_DIR=str(tmp_path / "runs"), TERM="xterm-256color", COLUMNS="80", LINES="24")
    proc = subprocess.Popen(
        [sys.executable, "-m", "hwmon"], stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
    )
    os.close(slave)
    seen = b""
    try:
        deadline = time.monotonic() + 30
        while b"hwmon fleet" not in seen and time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    seen += os.read(master, 65536)
                except OSError:
                    break
        assert b"hwmon fleet" in seen and b"no runs" in seen
        os.write(master, b"q")
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    # Without a terminal, `hwmon` alone still prints the usage (exit 64), as scripts expect.
    plain = subprocess.run([sys.executable, "-m", "hwmon"], capture_output=True, text=True, env=env, timeout=30)
    assert plain.returncode == 64 and "usage: hwmon" in plain.stdout + plain.stderr


async def test_esc_in_an_opened_dashboard_goes_back(tmp_path: Path) -> None:
    from hwmon.sources.source import file_source
    from hwmon.tui.fleet import FleetDashboard

    log = tmp_path / "run.log"
    shutil.copy(FIXTURES / "follow_cerebras_ok.log", log)
    app = FleetDashboard(file_source(log), title="run.log (local)")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.3)
        await pilot.press("slash", *"Step", "enter")  # a search: the first Esc clears it and stays
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert app.is_running
        await pilot.press("escape")  # nothing left to clear: back to the fleet
        await pilot.pause()
    assert app.return_value == 0


def test_cached_registry_rereads_only_changed_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hwmon.sources import fleet as fleet_module

    root = tmp_path / "runs"
    monkeypatch.setenv("HWMON_RUNS_DIR", str(root))
    for i in range(3):
        _write_run(root, f"20261129-22000{i}-mnist-000{i}", FIXTURES / "follow_cerebras_ok.log")
    expected = [r.run_id for r in registry.list_runs()]
    loads: list[Path] = []
    real_load = registry.load

    def counting_load(run_dir: Path) -> registry.RunRecord | None:
        loads.append(run_dir)
        return real_load(run_dir)

    monkeypatch.setattr(fleet_module.registry, "load", counting_load)
    lister = fleet_module.CachedRegistry()
    assert [r.run_id for r in lister()] == expected
    assert len(loads) == 3
    lister()
    assert len(loads) == 3  # nothing changed: no record read again
    changed = root / "20261129-220001-mnist-0001"
    record = real_load(changed)
    assert record is not None
    record.message = "edited"
    registry.save(record)
    assert {r.run_id: r.message for r in lister()}["20261129-220001-mnist-0001"] == "edited"
    assert loads[3:] == [changed]
