"""Data files are data (issue 22, item 4 and the minor items about history and the runs directory): a
``.recent.json`` in a (shared) runs directory cannot make the fleet view run a command — what a row reconnects with
is re-derived from its checked ref and the allow-listed options, never replayed; a wrongly typed history value or
an absurd ``-n`` is not a crash; a runs directory that cannot be written is exit 8."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hwmon import exitcodes
from hwmon.sources.fleet import Fleet, RemoteTracker
from hwmon.store import recent, registry

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _hwmon(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hwmon", *args], capture_output=True, text=True, timeout=120)


def _write_recent(pwned: Path) -> None:
    """What an attacker with write access to the runs directory leaves there."""
    path = recent.recent_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    now = time.time()
    path.write_text(
        json.dumps(
            [
                {
                    "ref": "ssh://127.0.0.1:1/x.log",  # port 1: nothing listens; a ProxyCommand would run instead
                    "kind": "ssh",
                    "at": now,
                    "ssh_opts": [
                        f"ProxyCommand=touch {pwned}-proxy",
                        f"LocalCommand=touch {pwned}-local",
                        "PermitLocalCommand=yes",
                        f"KnownHostsCommand=/bin/touch {pwned}-known",
                        "ConnectTimeout=3",
                    ],
                },
                {"ref": f"-oProxyCommand=touch {pwned.name}-ref:x", "kind": "ssh", "at": now, "ssh_opts": []},
                {"ref": "slurm:-uroot", "kind": "slurm", "at": now},
                {"ref": "relative/run.log", "kind": "file", "at": now},
            ]
        )
    )


async def _open_fleet_remote_rows() -> list[RemoteTracker]:
    """What the fleet view does on opening: list, then start following the remote rows until each has ended."""
    fleet = Fleet(runs=lambda: [], jobs=lambda: [])
    fleet.refresh(force=True)
    fleet.start_remote()
    trackers = [e.tracker for e in fleet._entries.values() if isinstance(e.tracker, RemoteTracker)]
    deadline = time.monotonic() + 30
    while any(t._task is not None and not t._task.done() for t in trackers) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    await fleet.stop_remote()
    return trackers


@pytest.mark.skipif(shutil.which("ssh") is None, reason="no OpenSSH client")
async def test_recent_file_cannot_make_the_fleet_run_a_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HWMON_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.chdir(tmp_path)
    pwned = tmp_path / "PWNED"
    _write_recent(pwned)
    loaded = recent.load()
    assert [(r.ref, r.ssh_opts) for r in loaded] == [("ssh://127.0.0.1:1/x.log", ("ConnectTimeout=3",))]
    trackers = await _open_fleet_remote_rows()
    assert len(trackers) == 1 and trackers[0].ssh_opts == ("ConnectTimeout=3",)
    assert "connection failed" in trackers[0].status or "ssh" in trackers[0].status, trackers[0].status
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("PWNED")) == []
    # What is written back keeps only the allow-listed options too.
    recent.remember("ssh://127.0.0.1:1/y.log", "ssh", ("ProxyCommand=touch x", "Port=22"))
    stored = json.loads(recent.recent_path().read_text())
    assert stored[0]["ssh_opts"] == ["Port=22"]


@pytest.mark.skipif(shutil.which("ssh") is None, reason="no OpenSSH client")
async def test_positive_control_replayed_options_run_the_proxy_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same file with the option filter taken out (options replayed as stored, as before): opening the fleet
    makes the real ssh run the ProxyCommand."""
    monkeypatch.setenv("HWMON_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.chdir(tmp_path)
    pwned = tmp_path / "PWNED"
    _write_recent(pwned)
    monkeypatch.setattr(recent, "safe_options", lambda options: tuple(o for o in options if isinstance(o, str)))
    await _open_fleet_remote_rows()
    assert (tmp_path / "PWNED-proxy").exists(), "the attack did not act without the filter: the test shows nothing"


def test_wrongly_typed_history_values_are_not_a_crash(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    log.write_bytes((FIXTURES / "follow_cerebras_ok.log").read_bytes())
    assert _hwmon("summary", str(log)).returncode == 0  # records the run
    db = Path(os.environ["XDG_STATE_HOME"]) / "hwmon" / "history.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE runs SET wall_s = 'abc', steps = 'many', final_loss = x'00ff', first_step_s = 'inf'")
        conn.execute("UPDATE phases SET seconds = 'soon'")
    for args in (["history"], ["history", "--json"], ["summary", str(log)], ["summary", str(log), "--json"]):
        proc = _hwmon(*args)
        assert proc.returncode == 0 and "Traceback" not in proc.stderr, (args, proc.stderr)


def test_history_limit_beyond_sqlite_integers(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    log.write_bytes((FIXTURES / "follow_cerebras_ok.log").read_bytes())
    assert _hwmon("summary", str(log)).returncode == 0
    proc = _hwmon("history", "-n", "99999999999999999999")
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert "succeeded" in proc.stdout and "cerebras" in proc.stdout


@pytest.mark.parametrize("where", ["under-a-file", "sysfs"])
def test_a_runs_directory_that_cannot_be_written_is_exit_8(tmp_path: Path, where: str) -> None:
    if where == "under-a-file":
        blocker = tmp_path / "file"
        blocker.write_text("")
        root = blocker / "runs"
    else:
        root = Path("/sys/hwmon-test-runs")
        if not Path("/sys").is_dir() or os.access("/sys", os.W_OK) and _mkdir_works(root):
            pytest.skip("no read-only /sys here")
    env = {**os.environ, "HWMON_RUNS_DIR": str(root)}
    proc = subprocess.run(
        [sys.executable, "-m", "hwmon", "run", "--detach", "--", "true"], capture_output=True, text=True, env=env
    )
    assert proc.returncode == exitcodes.CANNOT_WRITE, proc.stderr
    assert proc.stderr.count("\n") == 1 and "cannot create run directory" in proc.stderr
    assert not registry.runs_root().joinpath("x").exists()


def _mkdir_works(path: Path) -> bool:
    try:
        path.mkdir()
    except OSError:
        return False
    path.rmdir()
    return True
