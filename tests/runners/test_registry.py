"""The run registry: where runs live, reading records (corrupt ones skipped, dead supervisors -> "lost"),
atomic writes, and run-id / prefix resolution."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hwmon import exitcodes
from hwmon.store import registry
from tests.helpers.records import run_record


def test_runs_root_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HWMON_RUNS_DIR", str(tmp_path / "explicit"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert registry.runs_root() == tmp_path / "explicit"
    monkeypatch.delenv("HWMON_RUNS_DIR")
    assert registry.runs_root() == tmp_path / "state" / "hwmon" / "runs"
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert registry.runs_root() == tmp_path / "home" / ".local" / "state" / "hwmon" / "runs"


def make_run(root: Path, run_id: str, started: str, status: str = "succeeded", **fields: object) -> Path:
    run_dir = root / run_id
    run_dir.mkdir(parents=True)
    data = {
        "run_id": run_id,
        "command": ["python", "x.py"],
        "workload": None,
        "device": None,
        "pid": None,
        "supervisor_pid": None,
        "host": "h",
        "cwd": "/",
        "started": started,
        "ended": None,
        "exit_code": 0,
        "signal": None,
        "status": status,
    }
    data.update(fields)
    registry.write_json_atomic(run_dir / registry.RUN_FILE, data)
    return run_dir


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_list_runs_newest_first_and_skips_junk(tmp_path: Path) -> None:
    make_run(tmp_path, "20240101-000000-a-0001", "2024-01-01T00:00:00+00:00")
    make_run(tmp_path, "20240301-000000-b-0002", "2024-03-01T00:00:00+00:00")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "run.json").write_text("{not json")
    (tmp_path / "empty").mkdir()
    (tmp_path / "stray-file").write_text("x")
    (tmp_path / "list").mkdir()
    (tmp_path / "list" / "run.json").write_text("[1, 2]")
    runs = registry.list_runs(tmp_path)
    assert [r.run_id for r in runs] == ["20240301-000000-b-0002", "20240101-000000-a-0001"]
    assert runs[0].log_path == tmp_path / "20240301-000000-b-0002" / "output.log"
    assert registry.list_runs(tmp_path / "missing") == []


def test_resolve_exact_prefix_latest_and_errors(tmp_path: Path) -> None:
    make_run(tmp_path, "20240101-000000-mnist-aaaa", "2024-01-01T00:00:00+00:00")
    make_run(tmp_path, "20240101-000000-mnist-aabb", "2024-01-01T00:00:01+00:00")
    make_run(tmp_path, "20240202-000000-cmd-cccc", "2024-02-02T00:00:00+00:00")
    assert registry.resolve(None, tmp_path).run_id == "20240202-000000-cmd-cccc"
    assert registry.resolve("20240202", tmp_path).run_id == "20240202-000000-cmd-cccc"
    assert registry.resolve("20240101-000000-mnist-aab", tmp_path).run_id == "20240101-000000-mnist-aabb"
    with pytest.raises(exitcodes.HwmonError) as ambiguous:
        registry.resolve("20240101", tmp_path)
    assert ambiguous.value.code == exitcodes.RUN_NOT_FOUND and "ambiguous" in str(ambiguous.value)
    with pytest.raises(exitcodes.HwmonError) as missing:
        registry.resolve("2099", tmp_path)
    assert missing.value.code == exitcodes.RUN_NOT_FOUND
    with pytest.raises(exitcodes.HwmonError) as none:
        registry.resolve(None, tmp_path / "empty")
    assert none.value.code == exitcodes.RUN_NOT_FOUND


def test_running_record_with_dead_supervisor_is_lost(tmp_path: Path) -> None:
    pid = dead_pid()
    make_run(tmp_path, "r1", "2024-01-01T00:00:00+00:00", status="running", supervisor_pid=pid, pid=pid, host="n1")
    record = registry.resolve("r1", tmp_path)
    assert record.status == "lost"
    assert f"supervisor (pid {pid}) on n1 died" in record.message and "unknown" in record.message
    # Reading never rewrites the file.
    assert json.loads((tmp_path / "r1" / "run.json").read_text())["status"] == "running"


def test_reused_pid_is_not_mistaken_for_the_supervisor(tmp_path: Path) -> None:
    # Our own pid is alive, but its start time is not the one recorded: a reused pid.
    make_run(
        tmp_path, "r1", "2024-01-01T00:00:00+00:00", status="running", supervisor_pid=os.getpid(), supervisor_start="1"
    )
    assert registry.resolve("r1", tmp_path).status == "lost"
    token = registry.process_start_token(os.getpid())
    make_run(
        tmp_path,
        "r2",
        "2024-01-01T00:00:00+00:00",
        status="running",
        supervisor_pid=os.getpid(),
        supervisor_start=token,
    )
    assert registry.resolve("r2", tmp_path).status == "running"


def test_write_json_atomic_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "run.json"
    registry.write_json_atomic(target, {"a": 1})
    registry.write_json_atomic(target, {"a": 2})
    assert json.loads(target.read_text()) == {"a": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]


def test_duration_and_ids() -> None:
    record = run_record(
        Path("/x"),
        run_id="x",
        log_path=Path("/x/output.log"),
        command=[],
        device=None,
        cwd="",
        started="2024-01-01T00:00:00+00:00",
        ended="2024-01-01T00:01:30+00:00",
    )
    assert record.duration_s() == 90.0
    run_id = registry.new_run_id("my/work load")
    assert "/" not in run_id and " " not in run_id and run_id != registry.new_run_id("my/work load")
