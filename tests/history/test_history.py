"""The run history: recorded by ``summary`` and at the end of a watch, expectations for the same job, concurrent
writers, and a damaged database degrading to "no history" with one warning."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from hwmon.cli import main
from hwmon.model.history import job_key, run_entry
from hwmon.sources.read import summarize_bytes
from hwmon.store import history as history_mod
from hwmon.store.history import SCHEMA_VERSION, History, history_path

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
CEREBRAS = FIXTURES / "cerebras_appliance_train.log"


@pytest.fixture(autouse=True)
def _fresh_warning() -> None:
    # "one warning per process": each test is its own process as far as the warning is concerned.
    history_mod._warned = False


def shifted(tmp_path: Path, day: int, compile_hash: str | None = None, name: str = "run") -> Path:
    """The Cerebras fixture as a run on another day (another run of the same job), optionally another hash."""
    text = CEREBRAS.read_text().replace("2025-01-20", f"2025-01-{day:02d}")
    if compile_hash is not None:
        text = text.replace("cs_11112222333344445555", compile_hash)
    path = tmp_path / f"{name}-{day}.log"
    path.write_text(text)
    return path


def summary_json(path: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    assert main(["summary", str(path), "--json"]) == 0
    out = capsys.readouterr()
    data: dict[str, Any] = json.loads(out.out)
    return data


def compile_seconds(summary: dict[str, Any]) -> float:
    return float(sum(p["seconds"] for p in summary["phases"] if p["name"] == "compile"))


def test_database_lives_under_xdg_state_home(_private_state_home: Path) -> None:
    assert history_path() == _private_state_home / "hwmon" / "history.sqlite"


def test_second_run_of_the_same_compile_hash_expects_the_first_ones_compile_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = summary_json(shifted(tmp_path, 20), capsys)
    assert all(p["expected"] is None for p in first["phases"])  # nothing recorded before it
    # make the second run's compile different, so the expectation visibly comes from the first run
    second_path = shifted(tmp_path, 21)
    second_path.write_text(second_path.read_text().replace("09:13:00,200", "09:13:30,200"))
    second = summary_json(second_path, capsys)
    compile_phases = [p for p in second["phases"] if p["name"] == "compile"]
    assert compile_phases
    for phase in compile_phases:
        assert phase["expected"] == {"seconds": pytest.approx(compile_seconds(first)), "runs": 1, "basis": "same job"}
    assert compile_seconds(second) != pytest.approx(compile_seconds(first))
    queue = next(p for p in second["phases"] if p["name"] == "queue")
    assert queue["expected"]["basis"] == "same vendor"


def test_another_compile_hash_expects_no_compile_time(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    summary_json(shifted(tmp_path, 20), capsys)
    other = summary_json(shifted(tmp_path, 22, compile_hash="cs_99998888777766665555"), capsys)
    assert all(p["expected"] is None for p in other["phases"] if p["name"] != "queue")
    # the queue is a property of the cluster: the other job's queue time is still expected
    assert any(p["expected"] is not None for p in other["phases"] if p["name"] == "queue")


def test_the_same_run_summarised_twice_is_one_record(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = shifted(tmp_path, 20)
    summary_json(path, capsys)
    again = summary_json(path, capsys)
    assert all(p["expected"] is None for p in again["phases"])  # it is not its own past
    assert main(["history", "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)["runs"]
    assert len(runs) == 1
    assert runs[0]["job_key"] == "cs_11112222333344445555" and runs[0]["key_kind"] == "compile_hash"


def test_history_lists_runs_newest_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # wide enough for the whole job key (at 80 columns it is cut to fit)
    for day in (20, 21, 22):
        summary_json(shifted(tmp_path, day), capsys)
    assert main(["history"]) == 0
    out = capsys.readouterr().out
    assert out.count("cs_11112222333344445555") == 3
    assert main(["history", "--json", "-n", "2"]) == 0
    runs = json.loads(capsys.readouterr().out)["runs"]
    assert [r["started"][:10] for r in runs] == ["2025-01-22", "2025-01-21"]
    assert runs[0]["phases"][0]["name"] == "checkpoint"


def test_job_key_falls_back_to_command_and_model() -> None:
    state = summarize_bytes((FIXTURES / "graphcore_poptorch_mnist.log").read_bytes(), "x")
    kind, key = job_key(state, "python mnist_poptorch.py --epochs 1")
    assert kind == "command"
    assert key.startswith("python mnist_poptorch.py --epochs 1")
    cerebras = summarize_bytes(CEREBRAS.read_bytes(), "x")
    assert job_key(cerebras) == ("compile_hash", "cs_11112222333344445555")


def test_schema_is_versioned_and_a_newer_one_is_left_alone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "h.sqlite"
    hist = History(db)
    assert hist.record(run_entry(summarize_bytes(CEREBRAS.read_bytes(), "a"), "a"))
    hist.close()
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.execute("PRAGMA user_version = 99")
    conn.commit()
    conn.close()
    newer = History(db)
    assert newer.runs() == []
    assert not newer.record(run_entry(summarize_bytes(CEREBRAS.read_bytes(), "b"), "b"))
    err = capsys.readouterr().err
    assert err.count("warning") == 1 and "newer" in err


def test_an_old_empty_database_is_migrated(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    sqlite3.connect(db).close()  # version 0: no tables
    hist = History(db)
    assert hist.record(run_entry(summarize_bytes(CEREBRAS.read_bytes(), "a"), "a"))
    assert len(hist.runs()) == 1


_WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from hwmon.model.history import RunEntry
    from hwmon.store.history import History

    db, tag, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    Path(sys.argv[4]).touch()
    while not Path(sys.argv[5]).exists():
        pass
    hist = History(db)
    for i in range(count):
        entry = RunEntry(
            fingerprint=f"{tag}-{i}", key_kind="command", job_key=f"job-{tag}", source=f"{tag}.log",
            vendor="cpu", device=None, status="succeeded", command=None, model=None, started=None, ended=None,
            wall_s=float(i), first_step_s=None, steps=i, last_step=i, final_loss=None, min_loss=None, rate=None,
            rate_unit="it/s", phases=tuple(("train", float(i + k), "") for k in range(5)),
        )
        assert hist.record(entry), "record failed"
    print("ok", tag)
    """
)


@pytest.mark.parametrize("round_", range(5))
def test_two_processes_writing_at_once(tmp_path: Path, round_: int) -> None:
    """Two writers start at the same moment on a database that does not exist yet (both create it, switch it to
    WAL and migrate it) and then interleave their writes: every record of both lands, the file stays sound.
    Five rounds, because the creation race is a matter of timing."""
    db = tmp_path / "h.sqlite"
    go = tmp_path / "go"
    count = 100
    procs = []
    for tag in ("a", "b"):
        ready = tmp_path / f"ready-{tag}"
        procs.append(
            (
                ready,
                subprocess.Popen(
                    [sys.executable, "-c", _WRITER, str(db), tag, str(count), str(ready), str(go)],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                ),
            )
        )
    for ready, _ in procs:
        while not ready.exists():
            pass
    go.touch()  # both start writing at the same moment
    for _, proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err.decode()
        assert b"warning" not in err
        assert out.startswith(b"ok")
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("SELECT count(*) FROM runs").fetchone()[0] == 2 * count
    assert conn.execute("SELECT count(*) FROM phases").fetchone()[0] == 2 * count * 5
    conn.close()


def _populated(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    for day in (20, 21, 22, 23):
        summary_json(shifted(tmp_path, day), capsys)
    db = history_path()
    assert db is not None and db.exists()
    # fold the WAL into the main file, so that truncating the file really loses committed pages
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return db


@pytest.mark.parametrize("damage", ["truncated", "garbage", "zero-half"])
def test_a_damaged_database_degrades_to_no_history_with_one_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: str
) -> None:
    db = _populated(tmp_path, capsys)
    size = db.stat().st_size
    assert size > 4096
    if damage == "truncated":
        with db.open("r+b") as fh:
            fh.truncate(size // 2)
    elif damage == "garbage":
        db.write_bytes(b"this is not a database " * 200)
    else:
        with db.open("r+b") as fh:
            fh.seek(size // 2)
            fh.write(b"\0" * (size - size // 2))
    for name in ("-wal", "-shm"):
        Path(str(db) + name).unlink(missing_ok=True)
    history_mod._warned = False
    # two summaries and a listing in one process: each still works, and the warning comes once
    assert main(["summary", str(shifted(tmp_path, 24)), "--json"]) == 0
    out = capsys.readouterr()
    first = json.loads(out.out)
    err = out.err
    assert main(["summary", str(shifted(tmp_path, 25)), "--json"]) == 0
    assert main(["history"]) == 0
    err += capsys.readouterr().err
    assert all(p["expected"] is None for p in first["phases"])
    assert first["status"] == "succeeded"
    assert err.count("warning") == 1, err
    assert "going on without run history" in err


def test_a_locked_database_degrades_instead_of_hanging(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = _populated(tmp_path, capsys)
    monkeypatch.setattr(history_mod, "BUSY_TIMEOUT_MS", 200)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("PRAGMA locking_mode = EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        assert main(["summary", str(shifted(tmp_path, 26)), "--json"]) == 0
        out = capsys.readouterr()
        summary = json.loads(out.out)
        assert all(p["expected"] is None for p in summary["phases"])
        assert out.err.count("warning") == 1 and "locked" in out.err
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_history_off(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HWMON_HISTORY", "off")
    summary_json(shifted(tmp_path, 20), capsys)
    summary = summary_json(shifted(tmp_path, 21), capsys)
    assert all(p["expected"] is None for p in summary["phases"])
    assert history_path() is None


def test_a_watched_run_is_recorded_when_it_ends(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Plain-mode watch of a finished log to its end records the run, like summary does."""
    log = shifted(tmp_path, 20)
    done = subprocess.run(
        [sys.executable, "-m", "hwmon", "attach", str(log), "--plain"], capture_output=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert main(["history", "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)["runs"]
    assert len(runs) == 1 and runs[0]["status"] == "succeeded"
    assert runs[0]["job_key"] == "cs_11112222333344445555"


def test_a_growing_log_is_one_record_and_a_cut_run_teaches_only_its_ended_phases(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = shifted(tmp_path, 20)
    full = path.read_text()
    path.write_text("".join(full.splitlines(keepends=True)[:47]))  # the run so far: compiled, being set up
    cut = summary_json(path, capsys)
    assert cut["status"] != "succeeded"
    setups = [p for p in cut["phases"] if p["name"] == "setup"]
    assert len(setups) == 2 and setups[0]["end"] is not None and setups[1]["end"] is None
    # a later run of the same job learns the cut run's finished compile and its first (ended) setup span, not the
    # setup span still open when the log was read
    other = summary_json(shifted(tmp_path, 21), capsys)
    expected = {p["name"]: p["expected"] for p in other["phases"]}
    assert expected["compile"]["seconds"] == pytest.approx(compile_seconds(cut))
    assert expected["setup"]["seconds"] == pytest.approx(setups[0]["seconds"])
    path.write_text(full)  # the first run went on to its end: summarised again, its row is updated
    summary_json(path, capsys)
    assert main(["history", "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)["runs"]
    assert sorted(r["started"][:10] for r in runs) == ["2025-01-20", "2025-01-21"]
    assert {r["status"] for r in runs} == {"succeeded"}
    third = summary_json(shifted(tmp_path, 22), capsys)
    assert {p["expected"]["runs"] for p in third["phases"] if p["name"] == "setup"} == {2}


def test_a_failed_run_teaches_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from hwmon.model.history import PastRun, expected_phases

    past = [
        PastRun("cs_x", "cerebras", {"compile": 100.0}, status="failed"),
        PastRun("cs_x", "cerebras", {"compile": 300.0}, status="succeeded"),
        PastRun("cs_x", "cerebras", {"compile": 120.0}, status="stopped"),
    ]
    # the median of all three would be 120: only the succeeded run counts
    got = expected_phases("cs_x", "cerebras", past)["compile"]
    assert (got.seconds, got.runs) == (300.0, 1)
