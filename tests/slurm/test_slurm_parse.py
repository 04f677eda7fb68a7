"""The pure side of the Slurm runner: ``scontrol show job -o`` fields, output patterns, durations, statuses (no
Slurm needed)."""

from __future__ import annotations

from hwmon import refs
from hwmon.slurm import client, parse, watcher

LINE = (
    "JobId=3 ArrayJobId=2 ArrayTaskId=1 JobName=arr name UserId=alice(1000) GroupId=alice(1000) MCS_label=N/A "
    "JobState=RUNNING Reason=None Dependency=(null) ExitCode=0:0 RunTime=1-02:03:04 TimeLimit=UNLIMITED "
    "SubmitTime=2026-11-29T22:38:23 StartTime=2026-11-29T22:38:24 EndTime=Unknown NodeList=gpu[01-02] "
    "WorkDir=/home/alice/my runs StdErr=/home/alice/my runs/%x-%A_%a.err StdIn=/dev/null "
    "StdOut=logs/%x-%j-%t-%4a-%%.out Power="
)


def test_fields_keep_values_with_spaces() -> None:
    fields = parse.parse_fields(LINE)
    assert fields["JobName"] == "arr name"
    assert fields["WorkDir"] == "/home/alice/my runs"
    assert fields["Power"] == ""


def test_job_line_array_task_and_patterns() -> None:
    job = parse.parse_job_line(LINE)
    assert job is not None
    assert job.job_id == "2_1" and job.raw_id == "3"
    assert job.state == "RUNNING" and job.active and not job.pending and not job.final
    assert job.run_time_s == 93784.0
    # Relative to WorkDir; %x name, %j own id, %t task 0, %4a zero-padded array index, %% a percent sign.
    assert job.stdout == "/home/alice/my runs/logs/arr name-3-0-0001-%.out"
    assert job.stderr == "/home/alice/my runs/arr name-2_1.err"
    assert job.user == "alice(1000)" and job.nodes == "gpu[01-02]"


def test_non_job_lines() -> None:
    assert parse.parse_job_line("No jobs in the system") is None
    assert parse.parse_job_line("") is None


def test_durations() -> None:
    assert parse.parse_duration("00:00:05") == 5.0
    assert parse.parse_duration("12:34") == 754.0
    assert parse.parse_duration("2-00:00:00") == 172800.0
    assert parse.parse_duration("UNLIMITED") is None
    assert parse.parse_duration("N/A") is None


def test_statuses() -> None:
    def job(state: str, exit_code: str = "0:0") -> parse.JobInfo:
        parsed = parse.parse_job_line(f"JobId=9 JobName=x JobState={state} ExitCode={exit_code}")
        assert parsed is not None
        return parsed

    assert parse.run_status(job("PENDING")) == ("running", "")
    assert parse.run_status(job("COMPLETED")) == ("succeeded", "exit code 0")
    assert parse.run_status(job("FAILED", "1:0")) == ("failed", "failed, exit code 1")
    assert parse.run_status(job("CANCELLED", "0:15")) == ("stopped", "cancelled by Slurm (scancel)")
    assert parse.run_status(job("TIMEOUT", "0:15")) == ("failed", "timeout, killed by signal 15")
    assert parse.run_status(job("FAILED", "130:0"), stop_requested=True) == (
        "stopped",
        "stopped by 'hwmon stop', failed, exit code 130",
    )


def test_job_refs() -> None:
    assert refs.is_job_ref("slurm:12") and refs.is_job_ref("12_3") and refs.is_job_ref("12")
    assert not refs.is_job_ref("run.log") and not refs.is_job_ref("slurm:") and not refs.is_job_ref("12a")
    assert refs.job_ref_of("slurm:12_3") == "12_3"


def test_sbatch_argv_runs_unbuffered_and_quotes_the_command(tmp_path: object) -> None:
    from pathlib import Path

    argv = watcher.sbatch_argv(
        ["python", "train.py", "--name", "a b"], Path("/r/output.log"), "hwmon-x", "/w", ["-p", "q"]
    )
    assert "--export=ALL,PYTHONUNBUFFERED=1" in argv
    assert argv[-1] == "--wrap=exec python train.py --name 'a b'"
    assert argv.index("-p") < argv.index(argv[-1])


def test_available_needs_a_configuration(tmp_path: object, monkeypatch: object) -> None:
    import shutil
    from pathlib import Path

    import pytest

    mp: pytest.MonkeyPatch = monkeypatch  # type: ignore[assignment]
    base = Path(str(tmp_path))
    bin_dir = base / "bin"
    bin_dir.mkdir()
    for name in ("scontrol", "squeue"):
        tool = bin_dir / name
        tool.write_text("#!/bin/sh\nexit 0\n")
        tool.chmod(0o755)
    mp.setenv("PATH", str(bin_dir))
    assert shutil.which("squeue") == str(bin_dir / "squeue")
    mp.setattr(client, "CONFIG_PATHS", ())
    mp.delenv("SLURM_CONF", raising=False)
    assert not client.available()  # the commands alone: no cluster, no squeue calls (nor its DNS SRV lookup)
    mp.setenv("SLURM_CONF", str(base / "missing.conf"))
    assert not client.available()
    (base / "slurm.conf").write_text("ClusterName=x\n")
    mp.setenv("SLURM_CONF", str(base / "slurm.conf"))
    assert client.available()
    mp.setenv("PATH", str(base / "nothing"))
    assert not client.available()


def test_sacct_fallback_reads_a_job_that_left_the_controller(tmp_path: object, monkeypatch: object) -> None:
    from pathlib import Path

    import pytest

    mp: pytest.MonkeyPatch = monkeypatch  # type: ignore[assignment]
    bin_dir = Path(str(tmp_path)) / "bin"
    bin_dir.mkdir()
    # A stand-in for sacct (test double: no slurmdbd here), printing what `sacct -n -P -X --format=...` prints.
    fake = bin_dir / "sacct"
    fake.write_text("#!/bin/sh\necho '77|FAILED|3:0|train|00:01:05|/home/a'\necho '78|COMPLETED|0:0|x|00:00:01|/'\n")
    fake.chmod(0o755)
    mp.setenv("PATH", str(bin_dir))
    job = client.sacct_job("77")
    assert job is not None
    assert (job.state, job.exit_code, job.name, job.run_time_s) == ("FAILED", 3, "train", 65.0)
    assert parse.run_status(job) == ("failed", "failed, exit code 3")
    assert client.sacct_job("79") is None


def test_watcher_records_the_end_and_a_lost_job(tmp_path: object, monkeypatch: object) -> None:
    from pathlib import Path

    import pytest

    from hwmon.store import registry

    mp: pytest.MonkeyPatch = monkeypatch  # type: ignore[assignment]
    mp.setenv("PATH", "/nonexistent")  # no sacct
    run_dir = Path(str(tmp_path)) / "run"
    run_dir.mkdir()
    (run_dir / registry.LOG_FILE).write_bytes(b"step 1\r50%")
    record = registry.RunRecord(
        run_id="r",
        dir=run_dir,
        log_path=run_dir / registry.LOG_FILE,
        command=["x"],
        workload=None,
        device=None,
        pid=None,
        supervisor_pid=None,
        host="",
        cwd="/",
        started=registry.now_iso(),
        ended=None,
        exit_code=None,
        signal=None,
        status="running",
        slurm_job_id="5",
    )
    registry.save(record)
    running = parse.parse_job_line("JobId=5 JobName=x JobState=RUNNING Reason=None ExitCode=0:0 NodeList=n1")
    assert watcher.watch_once(record, lambda _id: running) is False
    assert watcher.slurm_state(record)["state"] == "RUNNING" and record.status == "running"
    done = parse.parse_job_line("JobId=5 JobName=x JobState=COMPLETED Reason=None ExitCode=0:0")
    assert watcher.watch_once(record, lambda _id: done) is True
    saved = registry.load(run_dir)
    assert saved is not None and saved.status == "succeeded" and saved.exit_code == 0 and saved.ended
    # The end line starts on a line of its own after a \r-redrawn bar.
    assert (run_dir / registry.LOG_FILE).read_bytes() == b"step 1\r50%\n[hwmon] run ended: exit code 0\n"
    record.status = "running"
    assert watcher.watch_once(record, lambda _id: None) is True
    assert record.status == "lost" and "left the controller" in record.message
