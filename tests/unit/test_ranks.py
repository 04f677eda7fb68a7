"""Ranks of a multi-rank log (issue 21): the rank tracker in the stream (per-rank lines, steps, hosts, tracebacks,
torch elastic's root cause), the reducer's per-rank state and its rank-behind / rank-silent alerts, the run's error
from the first failing rank, and ``"ranks"`` in ``hwmon.summary/1``. The logs here are written by the tests, in the
launchers' prefix formats (torchrun ``--tee``, Open MPI ``--tag-output``, ``[host:rank]``)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from tests.helpers.chunking import assert_chunking_invariant, stream_events

from hwmon.events import ErrorSeen, RankError, RankLine, StepBatch, StepMetrics
from hwmon.model import alerts as time_alerts
from hwmon.model.distributed import MAX_RANKS_LISTED, run_error
from hwmon.model.reducer import apply, apply_all
from hwmon.model.reducer.ranks import median_interval
from hwmon.model.state import Alert, RunState
from hwmon.model.summary import summary_dict
from hwmon.parsers import ranks as rank_parser
from hwmon.parsers.ranks import RankLines, read_step
from hwmon.parsers.stream import StreamParser
from hwmon.sources.read import summarize_bytes

T0 = datetime(2026, 12, 7, 10, 0, 0)


def _ts(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).strftime("%Y-%m-%d %H:%M:%S,%f")[:-3]


def lockstep_log(ranks: int = 4, steps: int = 20, *, late: dict[int, tuple[int, float]] | None = None) -> bytes:
    """A torchrun --tee log with timestamps: every rank logs ``step=N loss=X`` once a second. ``late`` delays one
    rank's report of one step: ``{rank: (step, seconds)}``, and the others wait for it at the next step (a
    collective), as a real data-parallel run does."""
    late = late or {}
    lines: list[str] = []
    clock = 0.0
    for step in range(1, steps + 1):
        clock += 1.0
        stamps = {rank: clock + 0.01 * rank for rank in range(ranks)}
        for rank, (at_step, delay) in late.items():
            if at_step == step:
                stamps[rank] += delay
        for rank, stamp in sorted(stamps.items(), key=lambda item: item[1]):
            lines.append(f"[default{rank}]:{_ts(stamp)} INFO step={step} loss={4.0 / step:.4f}")
        clock = max(clock, max(stamps.values()) - 0.05)
    return ("\n".join(lines) + "\n").encode()


FAILING = b"""[default0]:step=1 loss=2.0
[default1]:step=1 loss=2.1
[default2]:step=1 loss=2.2
[default3]:step=1 loss=2.3
[default2]:[rank2]: Traceback (most recent call last):
[default2]:[rank2]:   File "train.py", line 12, in <module>
[default2]:[rank2]:     step(batch)
[default2]:[rank2]: RuntimeError: the loader on rank 2 broke at step 2
[default0]:step=2 loss=1.9
[default3]:[rank3]: Traceback (most recent call last):
[default3]:[rank3]:   File "train.py", line 14, in <module>
[default3]:[rank3]:     loss.backward()
[default3]:[rank3]: RuntimeError: Connection closed by peer [10.0.0.2]:1234
[default0]:[rank0]: Traceback (most recent call last):
[default0]:[rank0]:   File "train.py", line 14, in <module>
[default0]:[rank0]: RuntimeError: Connection closed by peer [10.0.0.3]:1234
Root Cause (first observed failure):
[0]:
  time      : 2026-12-07_10:00:05
  host      : node17
  rank      : 2 (local_rank: 2)
  exitcode  : 1 (pid: 4242)
"""


# --- the stream's rank tracker --------------------------------------------------------------------------------------


def _rank_events(chunks: list[bytes]) -> list[object]:
    return [e for e in stream_events(chunks) if isinstance(e, RankLine | RankError | ErrorSeen)]


def test_rank_events_do_not_depend_on_the_chunking() -> None:
    events = assert_chunking_invariant(_rank_events, FAILING)
    assert any(isinstance(e, RankLine) and e.rank == 3 for e in events)


def test_every_rank_is_counted_and_other_ranks_tracebacks_are_errors() -> None:
    events = stream_events([FAILING])
    lines = [e for e in events if isinstance(e, RankLine)]
    # The catch-up: rank 0's first line is told when rank 1 appears, then one event per line.
    assert (lines[0].rank, lines[0].lines, lines[0].step) == (0, 1, 1)
    assert sum(e.lines for e in lines if e.rank == 2) == 5  # its step line and its traceback
    # A traceback's lines state no step, even when the exception mentions one.
    assert max(e.step or 0 for e in lines if e.rank == 2) == 1
    errors = [e for e in events if isinstance(e, RankError)]
    assert [(e.rank, e.fatal, e.root_cause) for e in errors] == [
        (2, True, False),
        (3, True, False),
        (0, True, False),
        (2, True, True),
    ]
    assert errors[-1].host == "node17"
    # Other ranks' exceptions are the run's errors (the voice's own come from the format parsers).
    seen = [e.message for e in events if isinstance(e, ErrorSeen) and e.kind.startswith("rank ")]
    assert seen == [
        "rank 2: RuntimeError: the loader on rank 2 broke at step 2",
        "rank 3: RuntimeError: Connection closed by peer [10.0.0.2]:1234",
    ]


def test_the_runs_error_is_the_first_failing_ranks_not_an_echo() -> None:
    state = summarize_bytes(FAILING, "failing.log")
    assert state.status == "failed"
    assert run_error(state) == "rank 2: RuntimeError: the loader on rank 2 broke at step 2"
    assert state.ranks.table[2].host == "node17"
    summary = summary_dict(state)
    assert summary["error"] == run_error(state)
    assert summary["cause"] is not None and summary["cause"]["name"] == "a peer rank died"  # type: ignore[index]


def test_the_launchers_root_cause_names_the_rank_even_when_another_failed_first() -> None:
    # Rank 3's echo comes first in the log; torch elastic's report names rank 2 as the first observed failure.
    text = FAILING.replace(
        b"[default2]:[rank2]: RuntimeError: the loader", b"[default2]:[rank2]: ValueError: the loader"
    )
    lines = text.split(b"\n")
    rank2 = [line for line in lines if line.startswith(b"[default2]:[rank2]")]
    others = [line for line in lines if not line.startswith(b"[default2]:[rank2]")]
    reordered = b"\n".join(others[:12] + rank2 + others[12:])
    state = summarize_bytes(reordered, "x")
    assert state.ranks.first_failure is not None and state.ranks.first_failure[0] == 3
    assert run_error(state) == "rank 2: ValueError: the loader on rank 2 broke at step 2"


def test_a_root_cause_that_only_lost_its_peer_is_not_the_runs_error() -> None:
    # Without @record, torch elastic's "first observed failure" is the first child it saw exit: a race that can
    # name a rank whose only error is the echo of another's (seen in CI: rank 3 named, rank 2 raised).
    echo_named = FAILING.replace(b"  rank      : 2 (local_rank: 2)", b"  rank      : 3 (local_rank: 3)")
    state = summarize_bytes(echo_named, "x")
    assert state.ranks.root_cause == 3
    assert run_error(state) == "rank 2: RuntimeError: the loader on rank 2 broke at step 2"
    # A root cause whose own error is a real exception still outranks the log's order.
    assert run_error(summarize_bytes(FAILING, "x")) == "rank 2: RuntimeError: the loader on rank 2 broke at step 2"


def test_a_single_rank_log_emits_no_rank_events() -> None:
    data = b"".join(b"[default0]:step=%d loss=1.0\n" % i for i in range(1, 50))
    assert [e for e in stream_events([data]) if isinstance(e, RankLine | RankError)] == []
    assert summary_dict(summarize_bytes(data, "x"))["ranks"] == []


def test_hosts_from_the_prefix_and_other_launchers() -> None:
    data = b"[node3:0] step=1 loss=1\n[node4:1] step=1 loss=1\n[1,2]<stdout>:step=1 loss=1\n"
    state = summarize_bytes(data, "x")
    assert {r: i.host for r, i in state.ranks.table.items()} == {0: "node3", 1: "node4", 2: None}


@pytest.mark.parametrize(
    ("text", "step"),
    [
        ("step 12 loss 2.4", 12),
        ("Step=12, Loss=2.4", 12),
        (" iteration       30/     100 | consumed samples: 1920", 30),
        ("global_step=7 loss=1", 7),
        ("[step 4] loss 1", 4),
        ("Epoch 1:  40%|████      | 4/10 [00:01<00:02]", 4),
        ("stepping through 12 files", None),
        ("lr 1e-4 at warmup", None),
        ("step 1.5 ahead", None),
    ],
)
def test_the_cheap_step_reader(text: str, step: int | None) -> None:
    assert read_step(text) == step


def test_ranks_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rank_parser, "MAX_RANKS", 8)
    data = b"".join(b"[default%d]:step=1 loss=1\n" % rank for rank in range(20))
    parser = StreamParser()
    events = parser.feed(data) + parser.finish()
    assert {e.rank for e in events if isinstance(e, RankLine)} == set(range(8))
    assert parser._ranks.dropped == 12


def test_a_fast_path_block_counts_as_its_ranks_lines() -> None:
    tracker = RankLines()
    first = StepMetrics(1, None, 10)
    last = StepMetrics(40, None, 400)
    raw = b"".join(b"[default3]: iteration %d/ 1000 | lm loss: 1.0 |\n" % (10 * i) for i in range(1, 41))
    assert tracker.feed_batch(StepBatch(40, None, first, last, 40, 1.0, 1.0, raw=raw)) == []  # one rank: silent
    other = StepBatch(80, None, StepMetrics(41, None, 10), StepMetrics(80, None, 400), 40, 1.0, 1.0, raw=raw[:0])
    assert tracker.feed_batch(other) == []  # no raw lines: no rank to tell
    raw1 = raw.replace(b"[default3]", b"[default5]")
    events = tracker.feed_batch(StepBatch(120, None, first, last, 40, 1.0, 1.0, raw=raw1))
    assert [(e.rank, e.lines, e.step) for e in events if isinstance(e, RankLine)] == [(3, 40, None), (5, 40, 400)]


# --- per-rank state and alerts ------------------------------------------------------------------------------------


def test_a_healthy_lockstep_run_raises_nothing_live_or_from_the_log() -> None:
    data = lockstep_log()
    state = summarize_bytes(data, "x")
    assert [a for a in state.alerts if a.kind.startswith("rank")] == []
    assert {info.last_step for info in state.ranks.table.values()} == {20}
    assert median_interval(state) == pytest.approx(1.0, abs=0.05)
    # The same lines arriving live, one a second, with the time check after each.
    live = RunState()
    parser = StreamParser()
    for second, line in enumerate(data.splitlines(keepends=True)):
        now = 100.0 + second / 4
        apply_all(live, parser.feed(line), now)
        time_alerts.check(live, now + 0.2)
    assert [a for a in live.alerts if a.kind.startswith("rank")] == []


def test_a_pause_every_rank_shares_is_not_a_silent_rank() -> None:
    # All four ranks stop for 30 s between steps 10 and 11 (a checkpoint, an evaluation): nobody is to blame.
    lines = lockstep_log().decode().splitlines()
    shifted = []
    for line in lines:
        step = int(line.split("step=")[1].split()[0])
        if step > 10:
            prefix, rest = line.split("]:", 1)
            stamp = datetime.strptime(rest[:23], "%Y-%m-%d %H:%M:%S,%f") + timedelta(seconds=30)
            line = f"{prefix}]:{stamp.strftime('%Y-%m-%d %H:%M:%S,%f')[:-3]}{rest[23:]}"
        shifted.append(line)
    state = summarize_bytes(("\n".join(shifted) + "\n").encode(), "x")
    assert [a for a in state.alerts if a.kind.startswith("rank")] == []


def test_a_rank_reporting_a_step_long_after_the_others_is_named_from_the_log() -> None:
    state = summarize_bytes(lockstep_log(late={2: (10, 9.0)}), "x")
    silent = [a for a in state.alerts if a.kind == "rank-silent"]
    assert len(silent) == 1, state.alerts
    assert silent[0].message.startswith("rank 2 was silent for 10 s (10.0x the usual 1.0 s) and reported step 10 9 s")
    assert summary_dict(state)["alerts"][-1]["kind"] == "rank-silent"  # type: ignore[index]


def _ranked(alerts: list[Alert]) -> list[Alert]:
    return [a for a in alerts if a.kind.startswith("rank-")]


def _live(state: RunState, parser: StreamParser, text: str, now: float) -> None:
    apply_all(state, parser.feed(text.encode() + b"\n"), now)


def test_a_rank_that_stops_while_the_others_wait_is_named_by_the_clock() -> None:
    state, parser = RunState(), StreamParser()
    now = 0.0
    for step in range(1, 10):
        now += 1.0
        for rank in range(4):
            _live(state, parser, f"[default{rank}]:step={step} loss=1.0", now + 0.01 * rank)
    # Step 10: ranks 0, 1 and 3 report and wait in the all-reduce; rank 2 never does.
    now += 1.0
    for rank in (0, 1, 3):
        _live(state, parser, f"[default{rank}]:step=10 loss=1.0", now)
    assert _ranked(time_alerts.check(state, now + 1.9)) == []  # under 2 intervals: not yet
    found = _ranked(time_alerts.check(state, now + 2.1))
    assert [a.kind for a in found] == ["rank-silent"]
    assert found[0].message.startswith("rank 2 silent for 3 s") and "the others reached 10" in found[0].message
    assert found[0].message.endswith("its last line: step=9 loss=1.0")
    assert _ranked(time_alerts.check(state, now + 9.0)) == []  # once
    # It prints again: re-armed, and the alert is not raised twice for the same silence.
    _live(state, parser, "[default2]:step=10 loss=1.0", now + 10)
    assert not state.ranks.table[2].silent
    assert [a.kind for a in state.alerts].count("rank-silent") == 1


def test_ranks_that_state_no_steps_are_never_silent() -> None:
    # Megatron: only the last rank prints iterations; the others said a few things at the start.
    state, parser = RunState(), StreamParser()
    _live(state, parser, "[default0]:> building model ...", 0.0)
    _live(state, parser, "[default1]:> building model ...", 0.0)
    for step in range(1, 30):
        _live(state, parser, f"[default1]: iteration {step}/ 100 | lm loss: 1.0 |", float(step))
        time_alerts.check(state, step + 0.5)
    assert [a for a in state.alerts if a.kind.startswith("rank")] == []


def test_a_rank_behind_the_median_step() -> None:
    state, parser = RunState(), StreamParser()
    for step in range(1, 40):
        for rank in range(4):
            if rank == 3 and step > 5:
                _live(state, parser, f"[node9:{rank}] still loading shard {step}", float(step))
                continue
            _live(state, parser, f"[node{rank}:{rank}] step={step} loss=1.0", float(step))
    behind = [a for a in state.alerts if a.kind == "rank-behind"]
    assert len(behind) == 1
    assert behind[0].message.startswith("rank 3 on node3 is 11 steps behind (step 5, the ranks' median 16)")
    assert behind[0].message.endswith("its last line: still loading shard 16")


def test_the_limits_are_configurable() -> None:
    from hwmon.model.dist_state import LIMITS, RankLimits
    from hwmon.model.reducer.ranks import configure

    saved = LIMITS[0]
    try:
        configure(RankLimits(behind_steps=2, silent_factor=5.0, silent_min_s=1.0))
        state, parser = RunState(), StreamParser()
        for step in range(1, 8):
            for rank in range(3):
                if rank == 2 and step > 3:
                    continue
                _live(state, parser, f"[default{rank}]:step={step} loss=1.0", float(step))
        assert [a.kind for a in state.alerts] == ["rank-behind"]
        # Rank 2 last spoke at 3 s and the others went past it at 4 s: silent at 5x the interval, not 2x.
        assert _ranked(time_alerts.check(state, 8.9)) == []
        assert [a.kind for a in _ranked(time_alerts.check(state, 9.1))] == ["rank-silent"]
    finally:
        configure(saved)


def test_per_rank_state_is_bounded() -> None:
    from hwmon.model import dist_state

    state = RunState()
    for rank in range(dist_state.MAX_RANKS + 100):
        apply(state, RankLine(rank + 1, None, rank, 1, 1, None, "x"), None)
    assert len(state.ranks.table) == dist_state.MAX_RANKS and state.ranks.dropped == 100
    summary = summary_dict(state)
    assert len(summary["ranks"]) == MAX_RANKS_LISTED  # type: ignore[arg-type]
    assert summary["ranks_count"] == dist_state.MAX_RANKS + 100
    assert len(state.ranks.front_times) <= dist_state.FRONT_TIMES_KEPT


def test_limits_from_the_environment() -> None:
    from hwmon.model.dist_state import RankLimits

    limits, complaints = RankLimits.from_env({"HWMON_RANK_BEHIND": "3", "HWMON_RANK_SILENT": "4.5"})
    assert limits == RankLimits(behind_steps=3, silent_factor=4.5, silent_min_s=1.0) and complaints == []
    limits, complaints = RankLimits.from_env({"HWMON_RANK_SILENT": "-1", "HWMON_RANK_SILENT_MIN_S": "soon"})
    assert limits == RankLimits()
    assert complaints == [
        "HWMON_RANK_SILENT='-1' is not a positive number; using the default",
        "HWMON_RANK_SILENT_MIN_S='soon' is not a positive number; using the default",
    ]


def test_the_cli_passes_the_limits_on(tmp_path: Path) -> None:
    import json
    import os
    import subprocess
    import sys

    log = tmp_path / "ranks.log"
    log.write_bytes(lockstep_log(late={2: (10, 4.0)}))
    env = {**os.environ, "HWMON_HISTORY": "off"}
    plain = subprocess.run([sys.executable, "-m", "hwmon", "summary", "--json", str(log)], env=env, capture_output=True)
    kinds = [a["kind"] for a in json.loads(plain.stdout)["alerts"]]
    assert "rank-silent" in kinds  # 4 s late: past 2 intervals
    env["HWMON_RANK_SILENT"] = "6"
    patient = subprocess.run(
        [sys.executable, "-m", "hwmon", "summary", "--json", str(log)], env=env, capture_output=True
    )
    assert "rank-silent" not in [a["kind"] for a in json.loads(patient.stdout)["alerts"]]
