"""The watch's stall rule is the dashboard's (issue 19 item 7): a stall needs ``factor`` x the usual step interval
AND at least ``min_s`` seconds, set with ``--stall-min`` / ``--stall-factor`` over HWMON_STALL_MIN_S /
HWMON_STALL_FACTOR. In process, on the watch's own loop with an injected clock."""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path

import pytest

from hwmon.commands.watch import _stall_rule, add_arguments
from hwmon.model.alerts import STALL_FACTOR, STALL_MIN_S, StallRule, tick
from hwmon.notify.ledger import Ledger
from hwmon.notify.watch import Watch
from hwmon.sources.fleet import Fleet
from hwmon.store import registry
from hwmon.store.recent import Recent
from tests.helpers.records import run_record

START = 1_700_000_000.0


def step_line(n: int, at: float) -> str:
    stamp = datetime.fromtimestamp(at).strftime("%Y-%m-%d %H:%M:%S,%f")[:-3]
    return (
        f"{stamp} INFO:   | Train Device=CSX, Step={n}, Loss=2.0, Rate=100.00 samples/sec, "
        "GlobalRate=100.00 samples/sec\n"
    )


def stalls_told(tmp_path: Path, rule: StallRule, quiet_s: float) -> list[str]:
    """Steps 0.5 s apart, then ``quiet_s`` without one: the events the watch tells."""
    tmp_path.mkdir()
    log = tmp_path / "train.log"
    log.write_text("starting\n")
    now = [START]
    # As ``hwmon watch`` builds it: the fleet's own trackers tick with the watch's rule too.
    recents = [Recent(str(log), "file", START)]
    fleet = Fleet(runs=list, jobs=list, recents=lambda: recents, clock=lambda: now[0], tick=tick(stall=rule))
    watch = Watch(fleet, None, Ledger(None), clock=lambda: now[0], stall=rule)
    watch.tick()
    told: list[str] = []
    for n in range(1, 9):
        now[0] += 0.5
        with log.open("a") as fh:
            fh.write(step_line(n, now[0]))
        told += [notice.event for notice in watch.tick()]
    for _ in range(int(quiet_s / 0.5)):
        now[0] += 0.5
        told += [notice.event for notice in watch.tick()]
    return told


def test_a_stall_needs_the_minimum_gap_as_well_as_the_ratio(tmp_path: Path) -> None:
    # 5 s without a step after steps 0.5 s apart: 10x the usual interval, but under the default 30 s minimum.
    assert "stalled" not in stalls_told(tmp_path / "a", StallRule(), quiet_s=5.0)
    assert stalls_told(tmp_path / "b", StallRule(min_s=1.0), quiet_s=5.0).count("stalled") == 1
    # Past the minimum but under the ratio: 1.5 s = 3x the interval.
    assert "stalled" not in stalls_told(tmp_path / "c", StallRule(min_s=1.0), quiet_s=1.5)
    # A minimum above the default (30 s): 40 s is not a stall yet, 61 s is.
    assert "stalled" not in stalls_told(tmp_path / "d", StallRule(min_s=60.0), quiet_s=40.0)
    assert "stalled" in stalls_told(tmp_path / "e", StallRule(min_s=60.0), quiet_s=61.0)


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(["x.log", *argv])


def test_stall_min_and_factor_flags_override_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HWMON_STALL_MIN_S", raising=False)
    monkeypatch.delenv("HWMON_STALL_FACTOR", raising=False)
    assert _stall_rule(parse()) == StallRule(STALL_FACTOR, STALL_MIN_S)
    monkeypatch.setenv("HWMON_STALL_MIN_S", "7")
    monkeypatch.setenv("HWMON_STALL_FACTOR", "3")
    assert _stall_rule(parse()) == StallRule(3.0, 7.0)
    assert _stall_rule(parse("--stall-min", "1")) == StallRule(3.0, 1.0)
    assert _stall_rule(parse("--stall-min", "2.5", "--stall-factor", "8")) == StallRule(8.0, 2.5)


def test_a_supervised_run_that_ended_is_never_judged_stalled(tmp_path: Path) -> None:
    """The fleet's trackers tell their run model what run.json recorded (its end), so their own Tick never calls a
    finished run stalled because its log went quiet (the run's end is not in its log)."""
    run_dir = tmp_path / "20261207-120000-python-abcd"
    run_dir.mkdir()
    log = run_dir / registry.LOG_FILE
    log.write_text("starting\n")

    def record(status: str) -> registry.RunRecord:
        return run_record(
            run_dir,
            log_path=log,
            started="2026-12-07T12:00:00",
            ended=None if status == "running" else "2026-12-07T12:00:03",
            exit_code=None if status == "running" else 0,
            status=status,
        )

    records = [record("running")]
    now = [START]
    rule = tick(stall=StallRule(1, 1))
    fleet = Fleet(runs=lambda: list(records), jobs=list, recents=list, clock=lambda: now[0], tick=rule)
    fleet.refresh(force=True)
    for n in range(1, 9):  # steps 0.5 s apart, each read as it comes
        now[0] += 0.5
        with log.open("a") as fh:
            fh.write(step_line(n, now[0]))
        fleet.refresh(force=True)
    records[:] = [record("succeeded")]  # the workload exited 0; its log says nothing of it
    for _ in range(20):
        now[0] += 0.5
        fleet.refresh(force=True)
    state = fleet.state_of(f"run:{run_dir.name}")
    assert state is not None and state.last_step is not None and state.last_step.step == 8
    assert state.status == "succeeded"
    assert [alert.kind for alert in state.alerts] == []
