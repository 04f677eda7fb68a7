"""Parity on a live supervised run (issue 18, item 6): a real ``hwmon run`` of a small training script, read at three
moments — just started, mid-training (the script waits for the test before going on), after its end — by
``summary --json RUN_ID``, ``ls --json``, ``compare --json``, ``export --what phases`` and the fleet's row. Every
view says the same status, step and loss, and the same wall time (± the second that passes between two reads)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from hwmon.model import figures
from tests.helpers.process import Output

from .harness import run_cli

pytestmark = pytest.mark.integration

# Steps with a timestamp each (the generic parser reads them); after step 2 and after step 10 the script waits for
# the test's go file, so "just started" and "mid-training" are moments the test holds, not guessed sleeps.
SCRIPT = textwrap.dedent(
    """
    import datetime, os, sys, time
    go = sys.argv[1]

    def step(n):
        now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S,%f")[:-3]
        print(f"{now} INFO epoch=1 step={n} loss={2.5 - n / 100:.4f} throughput={100 + n:.1f} samples/sec", flush=True)
        time.sleep(0.2)

    def hold(gate):
        print(f"waiting for {gate}", flush=True)
        while not os.path.exists(go + gate):
            time.sleep(0.05)

    for n in range(1, 21):
        step(n)
        if n in (2, 10):
            hold(str(n))
    """
)


def views(run_id: str) -> dict[str, dict[str, Any]]:
    """Status, wall (seconds), step and loss as each view printed them."""
    from hwmon.sources.fleet import Fleet
    from hwmon.tui.fleet import cells

    summary = json.loads(run_cli("summary", "--json", run_id))
    steps, loss = summary["train"]["steps"], summary["train"]["loss"]
    out: dict[str, dict[str, Any]] = {
        "summary": {
            "status": summary["status"],
            "wall": summary["wall_seconds"],
            "step": None if steps is None else str(steps["last"]),
            "loss": None if loss is None else figures.fmt_loss(loss["last"]),
        }
    }
    [row] = [r for r in json.loads(run_cli("ls", "--json")) if r.get("run_id") == run_id]
    out["ls"] = {
        "status": row["status"],
        "wall": row["duration_s"],
        "step": None if row["last_step"] is None else str(row["last_step"]),
        "loss": None if row["last_loss"] is None else figures.fmt_loss(float(row["last_loss"])),
    }
    compare = json.loads(run_cli("compare", "--json", run_id, run_id))["runs"][0]
    out["compare"] = {"status": compare["status"], "wall": compare["wall_seconds"]}
    phases = run_cli("export", "--what", "phases", "--format", "csv", run_id).splitlines()
    out["export"] = {"phases": [line.split(",")[1] for line in phases[1:]]}
    fleet = Fleet(jobs=list, recents=list, registry_every=0.0)
    fleet.refresh(force=True)
    [frow] = [r for r in fleet.rows() if r.ref == run_id]
    _name, _where, _device, status, _phase, step, loss_cell, _rate, _eta, _alerts = cells(frow, wide=True)
    out["fleet"] = {"status": status, "step": step.split("/")[0], "loss": loss_cell}
    return out


def agree(seen: dict[str, dict[str, Any]], status: str) -> None:
    for view, figs in seen.items():
        if "status" in figs:
            assert figs["status"] == status, (view, figs, seen)
    walls = [figs["wall"] for figs in seen.values() if figs.get("wall") is not None]
    assert walls and max(walls) - min(walls) <= 2.0, seen  # read a second or so apart, while the run goes on
    for key in ("step", "loss"):
        values = {figs[key] for figs in seen.values() if key in figs}
        assert len(values) == 1, (key, seen)


def test_every_view_agrees_on_a_live_supervised_run_at_three_moments(tmp_path: Path, monkeypatch: Any) -> None:
    runs = tmp_path / "runs"
    monkeypatch.setenv("HWMON_RUNS_DIR", str(runs))
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    go = tmp_path / "go"
    env = dict(os.environ, HWMON_RUNS_DIR=str(runs))
    started = subprocess.run(
        [sys.executable, "-m", "hwmon", "run", "--detach", "--", sys.executable, str(script), str(go)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    run_id = started.stdout.strip()
    log = runs / run_id / "output.log"
    follower = subprocess.Popen(["tail", "-F", "-n", "+1", str(log)], stdout=subprocess.PIPE, text=True)
    output = Output(follower)
    try:
        output.wait_for(lambda line: "waiting for 2" in line)  # just started: its first steps are out, held there
        start = views(run_id)
        agree(start, "running")
        assert start["summary"]["step"] == "2"
        Path(f"{go}2").write_text("go")
        output.wait_for(lambda line: "waiting for 10" in line)  # mid-training, held there by the script
        mid = views(run_id)
        agree(mid, "running")
        assert mid["summary"]["step"] == "10" and mid["summary"]["loss"] == figures.fmt_loss(2.4)
        Path(f"{go}10").write_text("go")
        output.wait_for(lambda line: "[hwmon] run ended" in line, timeout=60)
    finally:
        follower.kill()
        follower.wait()
    deadline = time.monotonic() + 30
    while json.loads(run_cli("summary", "--json", run_id))["status"] == "running" and time.monotonic() < deadline:
        time.sleep(0.1)  # the supervisor writes run.json just after the end line: wait on that state
    end = views(run_id)
    agree(end, "succeeded")
    assert end["summary"]["step"] == "20" and end["fleet"]["step"] == "20"
