"""Slurm's own end, failure causes, one run across requeues and the time limit (issue 21): Slurm's lines in a job's
output, the scheduler's ``JobState``, the end reason each view prints, the cause table (built-in and the user's),
the requeue's gap as overhead, and the ETA against the time limit. The logs are written by the tests in the formats
``slurmstepd`` and training loops use; ``scontrol`` lines were captured from the project's test cluster (Slurm
22.05)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from tests.helpers.chunking import assert_chunking_invariant, stream_events

from hwmon.events import CheckpointSaved, ErrorSeen, JobState, RunOutcome, RunRequeued, StepMetrics, TargetStated
from hwmon.model import alerts as time_alerts
from hwmon.model import causes
from hwmon.model.distributed import (
    fmt_cause,
    fmt_end_reason,
    fmt_status_line,
    productive_seconds,
    requeue_seconds,
)
from hwmon.model.figures import wall_seconds
from hwmon.model.reducer import apply_all
from hwmon.model.state import RunState
from hwmon.model.summary import summary_dict
from hwmon.model.timelimit import fmt_limit, limit_verdict
from hwmon.parsers.base import Line
from hwmon.parsers.records import RecordReader
from hwmon.parsers.slurm_end import read
from hwmon.slurm.facts import end_reason_record, job_event
from hwmon.sources.read import summarize_bytes

T0 = datetime(2026, 12, 7, 1, 0, 0)


def _record(text: str):  # type: ignore[no-untyped-def]
    return RecordReader().read(Line(1, 0, text, True, False))


# --- Slurm's lines in the output ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "state", "reason"),
    [
        (
            "slurmstepd: error: *** JOB 12 ON node01 CANCELLED AT 2026-12-07T01:00:26 DUE TO TIME LIMIT ***",
            "TIMEOUT",
            "TimeLimit",
        ),
        (
            "slurmstepd-vm: error: *** JOB 12 ON vm CANCELLED AT 2026-12-07T01:00:26 DUE TO PREEMPTION ***",
            "PREEMPTED",
            "Preempted",
        ),
        (
            "slurmstepd: error: *** JOB 12 ON n1 CANCELLED AT 2026-12-07T01:00:26 DUE TO NODE FAILURE, SEE SLURMCTLD "
            "LOG FOR DETAILS ***",
            "NODE_FAIL",
            "NodeFail",
        ),
        (
            "slurmstepd: error: *** JOB 12 ON n1 CANCELLED AT 2026-12-07T01:00:26 ***",
            "CANCELLED",
            "cancelled (scancel)",
        ),
        (
            "slurmstepd: error: *** STEP 12.0 ON n1 CANCELLED AT 2026-12-07T01:00:26 DUE TO TIME LIMIT ***",
            "TIMEOUT",
            "TimeLimit",
        ),
        (
            "slurmstepd: error: Detected 1 oom_kill event in StepId=12.batch. Some of the step tasks have been OOM "
            "Killed.",
            "OUT_OF_MEMORY",
            "OOM killed",
        ),
        ("srun: error: node01: task 0: Out Of Memory", "OUT_OF_MEMORY", "OOM killed"),
    ],
)
def test_slurms_end_lines(text: str, state: str, reason: str) -> None:
    event = read(_record(text))
    assert isinstance(event, JobState)
    assert (event.state, event.reason, event.origin) == (state, reason, "log")


def test_a_requeue_line_is_not_an_error() -> None:
    line = b"slurmstepd-vm: error: *** JOB 2 ON vm CANCELLED AT 2026-12-07T00:59:07 DUE TO JOB REQUEUE ***\n"
    events = stream_events([line])
    assert [type(e) for e in events] == [RunRequeued]
    assert not any(isinstance(e, ErrorSeen) for e in events)
    timeout = stream_events([line.replace(b"JOB REQUEUE", b"TIME LIMIT")])
    assert [type(e) for e in timeout] == [JobState, ErrorSeen] and timeout[1].fatal  # type: ignore[attr-defined]


# --- end reasons ----------------------------------------------------------------------------------------------------


def test_timeout_from_the_scheduler_in_the_header_and_summary_words() -> None:
    state = RunState()
    apply_all(
        state,
        [
            StepMetrics(1, None, 10, 2.0),
            JobState(0, None, "12", "RUNNING", "None", time_limit_s=3600.0, elapsed_s=60.0),
            JobState(0, None, "12", "TIMEOUT", "TimeLimit", 0, 15, 3600.0, 3600.0),
            RunOutcome(0, None, "failed", 0, 15),
        ],
        10.0,
    )
    assert fmt_end_reason(state) == "TIMEOUT after 1h00m (time limit)"
    assert fmt_status_line(state, 20.0) == "failed — TIMEOUT after 1h00m (time limit)"
    summary = summary_dict(state)
    assert summary["end_reason"] == {
        "code": "TIMEOUT",
        "detail": "time limit",
        "source": "slurm",
        "seconds": 3600.0,
        "text": "TIMEOUT after 1h00m (time limit)",
    }
    assert summary["cause"]["name"] == "Slurm time limit"  # type: ignore[index]


def test_the_log_alone_gives_timeout_and_oom() -> None:
    log = (
        b"2026-12-07 01:00:00,000 INFO step=1 loss=2.0\n"
        b"2026-12-07 01:01:00,000 INFO step=2 loss=1.0\n"
        b"slurmstepd: error: *** JOB 12 ON n1 CANCELLED AT 2026-12-07T01:01:05 DUE TO TIME LIMIT ***\n"
    )
    state = summarize_bytes(log, "x")
    assert fmt_status_line(state) == "failed — TIMEOUT after 1m00s (time limit)"
    oom = summarize_bytes(b"step=1 loss=1\nOut of memory: Killed process 4242 (python) total-vm:1234kB\n", "x")
    assert oom.end is not None and oom.end.code in ("OUT_OF_MEMORY", "OOM_KILLED")
    assert oom.cause is not None and oom.cause.name == "host out of memory"


def test_which_end_reason_wins() -> None:
    # The scheduler's specific state wins over the supervisor's record of the signal that delivered it.
    state = RunState()
    apply_all(state, [RunOutcome(0, None, "failed", None, 9), JobState(0, None, "7", "OUT_OF_MEMORY", "OutOfMemory")])
    assert state.end is not None and (state.end.code, state.end.source) == ("OUT_OF_MEMORY", "slurm")
    # An out-of-memory error in the log says more than Slurm's bare FAILED.
    state = RunState()
    apply_all(
        state,
        [
            ErrorSeen(
                5, None, "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB", True, "traceback"
            ),
            JobState(0, None, "7", "FAILED", "NonZeroExitCode", 1, None),
        ],
    )
    assert state.end is not None and (state.end.code, state.end.detail) == ("OUT_OF_MEMORY", "CUDA out of memory")
    assert fmt_cause(state.cause).startswith("CUDA out of memory — try: reduce the micro-batch size")
    # A signal line after a rank failed is the launcher tearing the others down, not the end.
    state = summarize_bytes(
        b"[default0]:step=1 loss=1\n[default1]:step=1 loss=1\n[default1]:[rank1]: Traceback (most recent call last):\n"
        b'[default1]:[rank1]:   File "t.py", line 1\n[default1]:[rank1]: KeyError: 3\n'
        b"  traceback : Signal 15 (SIGTERM) received by PID 4242\n",
        "x",
    )
    assert state.end is None or state.end.code != "SIGNAL"


def test_the_watchers_end_reason_record() -> None:
    from hwmon.slurm.parse import JobInfo

    job = JobInfo("12", "TIMEOUT", "TimeLimit", exit_code=0, signal=15, run_time_s=3600.0)
    job.fields.update({"TimeLimit": "01:00:00", "Restarts": "2"})
    assert end_reason_record(job) == {
        "state": "TIMEOUT",
        "reason": "TimeLimit",
        "exit_code": 0,
        "signal": 15,
        "seconds": 3600.0,
        "restarts": 2,
        "text": "TIMEOUT (time limit)",
    }
    event = job_event(job)
    assert (event.time_limit_s, event.restarts, event.elapsed_s) == (3600.0, 2, 3600.0)
    assert end_reason_record(JobInfo("12", "RUNNING")) is None


# --- causes -----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "name"),
    [
        ("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 MiB", "CUDA out of memory"),
        (
            "[Rank 3] Watchdog caught collective operation timeout: WorkNCCL(SeqNum=41, OpType=ALLREDUCE) ran for "
            "600000 milliseconds before timing out.",
            "NCCL collective timeout",
        ),
        ("RuntimeError: NCCL error in: ProcessGroupNCCL.cpp:1191, unhandled system error", "NCCL error"),
        (
            "poptorch_core.Error: Out of memory on tile 1212: 638984 bytes used but tiles only have 638976",
            "IPU out of memory on tile",
        ),
        ("cerebras.appliance.errors.ApplianceResourceExhausted: not enough memory", "Cerebras appliance error"),
        ("Compilation failed: unsupported op aten::foo", "Cerebras compile error"),
        ("torch.distributed.elastic.multiprocessing.errors.ChildFailedError:", "torch.distributed worker failed"),
        ("everything is fine", None),
    ],
)
def test_the_cause_table(message: str, name: str | None) -> None:
    found = causes.match(message)
    assert (found.name if found else None) == name
    if found is not None:
        assert found.hint


def test_a_root_cause_outranks_what_follows_from_it() -> None:
    state = RunState()
    apply_all(
        state,
        [
            ErrorSeen(1, None, "rank 3: RuntimeError: Connection closed by peer [10.0.0.2]:29500", True, "rank 3"),
            ErrorSeen(2, None, "rank 1: torch.OutOfMemoryError: CUDA out of memory.", True, "rank 1"),
            ErrorSeen(3, None, "torch.distributed.elastic.multiprocessing.errors.ChildFailedError:", True, "traceback"),
        ],
    )
    assert state.cause is not None and state.cause.name == "CUDA out of memory" and state.cause.line == 2


def test_user_causes_from_a_format_file_come_first_and_a_bad_one_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    from hwmon.parsers.userformats import FormatError, parse_format
    from hwmon.sources import formats

    good = tmp_path / "shards.toml"
    good.write_text(
        'name = "shards"\n[[cause]]\nmatch = \'shard \\d+ is corrupt\'\nname = "corrupt shard"\n'
        'hint = "re-download it"\nend = "failed"\n'
    )
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "none"))
    report = io.StringIO()
    try:
        formats.install([good], report=report)
        assert report.getvalue() == ""
        found = causes.match("ValueError: shard 17 is corrupt")
        assert found is not None and (found.name, found.hint, found.end) == (
            "corrupt shard",
            "re-download it",
            "FAILED",
        )
        assert causes.rules()[0].source == str(good)
        state = summarize_bytes(b"step=1 loss=1\nValueError: shard 17 is corrupt\n", "x")
        assert state.cause is not None and state.cause.name == "corrupt shard"
    finally:
        causes.install([])
    assert causes.match("ValueError: shard 17 is corrupt") is None
    with pytest.raises(FormatError, match=r"x.toml: cause 1 \(x\): bad regex at position 2"):
        parse_format('[[cause]]\nmatch = "ab("\nname = "x"\n', "x.toml")
    with pytest.raises(FormatError, match="unknown key 'mtach'"):
        parse_format('[[cause]]\nmtach = "x"\nname = "x"\n', "x.toml")


# --- one run across requeues ----------------------------------------------------------------------------------------


def _ts(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).strftime("%Y-%m-%d %H:%M:%S,%f")[:-3]


def requeued_log(*, marker: bool = True) -> bytes:
    """Attempt 0 trains steps 1-8 (a checkpoint at 5), Slurm requeues the job, attempt 1 resumes from step 6 at
    +40 s and finishes at 12."""
    lines = [f"{_ts(0)} INFO attempt 0 of job 7 starts from scratch"]
    for step in range(1, 9):
        lines.append(f"{_ts(step)} INFO step={step} loss={4 / step:.4f}")
        if step == 5:
            lines.append(f"{_ts(step)} INFO Saving model checkpoint to ckpt-7/checkpoint-5")
    if marker:
        lines.append("slurmstepd: error: *** JOB 7 ON node1 CANCELLED AT 2026-12-07T01:00:09 DUE TO JOB REQUEUE ***")
    lines.append(f"{_ts(40)} INFO attempt 1 of job 7 resumes from checkpoint-5")
    for step in range(6, 13):
        lines.append(f"{_ts(35 + step)} INFO step={step} loss={4 / step:.4f}")
    return ("\n".join(lines) + "\n").encode()


def test_a_requeued_job_is_one_run_with_its_gap_as_overhead() -> None:
    state = summarize_bytes(requeued_log(), "x")
    assert state.runs == 1 and state.job.requeues == 1
    assert state.steps.first is not None and state.steps.first[0] == 1 and state.last_step is not None
    assert state.last_step.step == 12
    names = [(p.name, p.detail.split(":")[0]) for p in state.phases]
    assert names == [("train", ""), ("checkpoint", "step 5"), ("train", ""), ("queue", "requeued"), ("train", "")]
    assert requeue_seconds(state) == pytest.approx(33.0)  # from step 8 (+8 s) to step 6 again (+41 s)
    wall = wall_seconds(state, None)
    assert wall is not None and productive_seconds(state) == pytest.approx(wall - 33.0)
    summary = summary_dict(state)
    assert summary["requeues"] == 1 and summary["productive_seconds"] == pytest.approx(wall - 33.0)
    # Without Slurm's requeue line the steps going back are a new run in the same log, as for any log.
    assert summarize_bytes(requeued_log(marker=False), "x").runs == 2


def test_the_requeue_does_not_depend_on_the_chunking() -> None:
    def steps(chunks: list[bytes]) -> list[object]:
        return [e for e in stream_events(chunks) if isinstance(e, StepMetrics | RunRequeued)]

    assert_chunking_invariant(steps, requeued_log(), bytewise=False)


def test_a_requeue_the_scheduler_tells_keeps_the_run_too() -> None:
    # The output was truncated on the requeue (no requeue line survives): the scheduler's restart count says it.
    state = RunState()
    events = [StepMetrics(i, None, i, 1.0 / i) for i in range(1, 9)]
    apply_all(state, [JobState(0, None, "7", "RUNNING", "None", restarts=0), *events], 1.0)
    apply_all(state, [JobState(0, None, "7", "PENDING", "BeginTime", restarts=1)], 5.0)
    apply_all(state, [StepMetrics(i, None, i, 1.0 / i) for i in range(1, 4)], 30.0)
    assert state.runs == 1 and state.job.requeues == 1
    assert [p.name for p in state.phases] == ["train", "queue", "train"]
    assert requeue_seconds(state, 40.0) == pytest.approx(29.0)  # from the last output (1 s) to the next (30 s)
    # The same requeue told twice (the log's line, then the scheduler's count) is one requeue.
    again = RunState()
    apply_all(again, [StepMetrics(1, None, 1, 1.0), RunRequeued(2, None, "7")], 1.0)
    apply_all(again, [JobState(0, None, "7", "PENDING", "BeginTime", restarts=1)], 2.0)
    assert again.job.requeues == 1


def test_output_resuming_after_a_preemption_is_the_same_run() -> None:
    log = requeued_log().replace(b"DUE TO JOB REQUEUE", b"DUE TO PREEMPTION")
    state = summarize_bytes(log, "x")
    assert state.runs == 1 and state.job.requeues == 1 and state.status != "failed"
    assert state.end is None


# --- will it finish? --------------------------------------------------------------------------------------------------


def test_eta_against_the_time_limit_and_the_eta_alert() -> None:
    state = RunState()
    apply_all(state, [JobState(0, None, "7", "RUNNING", "None", time_limit_s=7200.0, elapsed_s=3600.0)], 0.0)
    apply_all(state, [TargetStated(1, None, "step", 1000)], 0.0)
    for i in range(1, 11):
        apply_all(state, [StepMetrics(i, None, i * 10, 1.0)], i * 60.0)  # 10 steps a minute: 990 steps = 99 min
        if i == 5:
            apply_all(state, [CheckpointSaved(i, None, 50, "ckpt-50")], i * 60.0)
    now = 660.0
    verdict = limit_verdict(state, now)
    assert verdict is not None and verdict.finishes is False
    assert verdict.left_s == pytest.approx(7200 - 3600 - 660)
    assert verdict.checkpoint_age_s == pytest.approx(360.0)
    assert fmt_limit(verdict) == "limit in 49m00s — will not finish; last checkpoint 6m00s ago"
    found = [a for a in time_alerts.check(state, now) if a.kind == "eta"]
    assert [a.message for a in found] == [
        "will not finish before the Slurm time limit: ETA 1h29m, limit in 49m00s; last checkpoint 6m00s ago"
    ]
    assert [a for a in time_alerts.check(state, now + 1) if a.kind == "eta"] == []  # once
    assert "eta" in [a.kind for a in state.alerts]
    # No limit (or no clock): nothing to say.
    assert limit_verdict(RunState(), 1.0) is None and fmt_limit(None) == ""


def test_a_run_that_will_finish_says_so() -> None:
    state = RunState()
    apply_all(state, [JobState(0, None, "7", "RUNNING", "None", time_limit_s=86400.0, elapsed_s=60.0)], 0.0)
    apply_all(state, [TargetStated(1, None, "step", 1000)], 0.0)
    for i in range(1, 11):
        apply_all(state, [StepMetrics(i, None, i * 10, 1.0)], float(i))
    # 86400 - 60 - 10 s left; 900 steps at 10 a second: 90 s.
    assert fmt_limit(limit_verdict(state, 10.0)) == "limit in 23h58m — finishes with 23h57m to spare"
    assert [a for a in time_alerts.check(state, 10.0) if a.kind == "eta"] == []


def test_the_fleet_tells_each_jobs_model_what_slurm_says(tmp_path: Path) -> None:
    """``hwmon watch`` and the fleet read jobs through ``Fleet``: each job's time limit and end reach its model, so
    the ``eta`` alert and the end reason work there too."""
    from hwmon.slurm.parse import JobInfo
    from hwmon.sources.fleet import Fleet

    log = tmp_path / "job.out"
    log.write_bytes(b"".join(b"step=%d loss=1.0\n" % i for i in range(1, 20)))
    job = JobInfo("42", "RUNNING", "None", name="train", stdout=str(log), run_time_s=3500.0)
    job.fields.update({"TimeLimit": "01:00:00", "Restarts": "0"})
    now = [100.0]
    fleet = Fleet(runs=lambda: [], jobs=lambda: [job], recents=lambda: [], clock=lambda: now[0], slurm_every=0.0)
    fleet.refresh(force=True)
    state = fleet.state_of("slurm:42")
    assert state is not None and state.job.time_limit_s == 3600.0 and state.job.elapsed_s == 3500.0
    told = state.version
    fleet.refresh(force=True)
    assert state.version == told  # told once while nothing changed
    job.state, job.reason = "TIMEOUT", "TimeLimit"
    fleet.refresh(force=True)
    assert state.end is not None and state.end.code == "TIMEOUT" and fmt_end_reason(state).startswith("TIMEOUT")
