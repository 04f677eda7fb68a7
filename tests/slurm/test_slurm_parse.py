"""The pure side of the Slurm runner: ``squeue -O`` records, output patterns, durations, statuses (no Slurm
needed)."""

from __future__ import annotations

from hwmon import refs
from hwmon.slurm import client, parse, watcher
from tests.helpers.records import run_record

SEP = "|5f0c2a9e|"


def record(**values: str) -> str:
    """One record as ``squeue -h -O parse.squeue_format(SEP)`` prints it (fields not given: what squeue prints for a
    plain running job)."""
    base = {
        "JobId": "9",
        "ArrayJobId": "9",
        "ArrayTaskId": "N/A",
        "JobArrayId": "9",
        "UserName": "alice",
        "UserNumber": "1000",
        "JobState": "RUNNING",
        "Reason": "None",
        "JobName": "x",
        "WorkDir": "/w",
        "StdOut": "/w/slurm-%j.out",
        "StdErr": "/w/slurm-%j.out",
        "NodeList": "n1",
        "ExitStatus": "0",
        "RunTime": "0:05",
        "SubmitTime": "2026-11-29T22:38:23",
        "StartTime": "2026-11-29T22:38:24",
        "EndTime": "NONE",
        "TimeLimit": "UNLIMITED",
        "Restarts": "0",
    }
    base.update(values)
    return "".join(base[key] + SEP for _, key in parse.SQUEUE_FIELDS) + "\n"


ARRAY_TASK = record(
    JobId="3",
    ArrayJobId="2",
    ArrayTaskId="1",
    JobArrayId="2_1",
    JobName="arr name",
    RunTime="1-02:03:04",
    NodeList="gpu[01-02]",
    WorkDir="/home/alice/my runs",
    StdErr="/home/alice/my runs/%x-%A_%a.err",
    StdOut="logs/%x-%j-%t-%4a-%%.out",
)


def test_record_array_task_and_patterns() -> None:
    [job] = parse.parse_squeue(ARRAY_TASK, SEP)
    assert job.job_id == "2_1" and job.raw_id == "3"
    assert job.state == "RUNNING" and job.active and not job.pending and not job.final
    assert job.run_time_s == 93784.0
    # Relative to WorkDir; %x name, %j own id, %t task 0, %4a zero-padded array index, %% a percent sign.
    assert job.stdout == "/home/alice/my runs/logs/arr name-3-0-0001-%.out"
    assert job.stderr == "/home/alice/my runs/arr name-2_1.err"
    assert job.user == "alice(1000)" and job.user_id == 1000 and job.nodes == "gpu[01-02]"
    assert job.fields["ArrayJobId"] == "2" and job.fields["JobState"] == "RUNNING"


def test_records_that_do_not_split_are_dropped() -> None:
    assert parse.parse_squeue("", SEP) == []
    assert parse.parse_squeue("No jobs in the system\n", SEP) == []
    two = record(JobId="1") + record(JobId="2")
    assert [j.job_id for j in parse.parse_squeue(two, SEP)] == ["1", "2"]
    # A record one field short cannot be realigned: it and what follows are dropped, what came before is kept.
    short = record(JobId="1") + record(JobId="2").replace("alice" + SEP, "", 1) + record(JobId="3")
    assert [j.job_id for j in parse.parse_squeue(short, SEP)] == ["1"]


def test_a_comment_or_name_cannot_pass_for_another_job() -> None:
    """Item 13: free text that reads like other fields (``scontrol show job -o`` took the last ``JobId=``) is the
    job's own value here; the separator is random per call, so the text cannot hold it."""
    evil = record(JobId="77", JobName="x JobId=12 JobState=COMPLETED UserId=bob(1001)", UserName="mallory")
    [job] = parse.parse_squeue(evil, SEP)
    assert (job.job_id, job.state, job.user) == ("77", "RUNNING", "mallory(1000)")
    assert job.name == "x JobId=12 JobState=COMPLETED UserId=bob(1001)"
    # A name holding a newline and a separator of another call stays one value too.
    odd = record(JobId="78", JobName="a\nb|0000|c") + record(JobId="79")
    assert [(j.job_id, j.name) for j in parse.parse_squeue(odd, SEP)] == [("78", "a\nb|0000|c"), ("79", "x")]


def test_output_pattern_padding_is_capped_as_slurm_caps_it() -> None:
    """Item 2: ``sbatch -o '/tmp/o%99999999999j.out'`` made every user's ``ls`` allocate 10^11 characters. Slurm pads
    numbers to at most 10 digits and never pads text; so do we, and a pattern longer than any path is left alone."""
    job = parse.job_from_fields({"JobId": "42", "JobName": "n", "UserName": "u", "UserNumber": "1"})
    assert job is not None
    assert parse.expand_output_pattern("/tmp/o%99999999999j.out", job) == "/tmp/o0000000042.out"
    assert parse.expand_output_pattern("/tmp/o%3j-%12x-%020N.out", job).startswith("/tmp/o042-n-")
    digits = "9" * 3000  # a width no one could allocate
    assert parse.expand_output_pattern(f"/o%{digits}j", job) == "/o0000000042"
    long = "/x" * 3000 + "%j"
    assert parse.expand_output_pattern(long, job) == long


def test_exit_status_of_squeue() -> None:
    failed = parse.parse_squeue(record(JobState="FAILED", ExitStatus="768"), SEP)[0]
    assert (failed.exit_code, failed.signal, failed.fields["ExitCode"]) == (3, None, "3:0")
    killed = parse.parse_squeue(record(JobState="FAILED", ExitStatus="9"), SEP)[0]
    assert (killed.exit_code, killed.signal) == (None, 9)


def test_durations() -> None:
    assert parse.parse_duration("00:00:05") == 5.0
    assert parse.parse_duration("12:34") == 754.0
    assert parse.parse_duration("2-00:00:00") == 172800.0
    assert parse.parse_duration("UNLIMITED") is None
    assert parse.parse_duration("N/A") is None


def test_statuses() -> None:
    def job(state: str, exit_code: str = "0:0") -> parse.JobInfo:
        code, _, sig = exit_code.partition(":")
        return parse.parse_squeue(record(JobState=state, ExitStatus=str(int(code) << 8 | int(sig))), SEP)[0]

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
    for name in ("squeue",):
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
    fake.write_text(
        "#!/bin/sh\nfor a; do case $a in --delimiter=*) d=${a#--delimiter=};; esac; done\n"
        'echo "77${d}FAILED${d}3:0${d}train${d}00:01:05${d}/home/a"\n'
        'echo "78${d}COMPLETED${d}0:0${d}x${d}00:00:01${d}/"\n'
    )
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
    run = run_record(
        run_dir,
        run_id="r",
        command=["x"],
        device=None,
        started=registry.now_iso(),
        ended=None,
        exit_code=None,
        status="running",
        slurm_job_id="5",
    )
    registry.save(run)
    running = parse.parse_squeue(record(JobId="5"), SEP)[0]
    assert watcher.watch_once(run, lambda _id: running) is False
    assert watcher.slurm_state(run)["state"] == "RUNNING" and run.status == "running"
    done = parse.parse_squeue(record(JobId="5", JobState="COMPLETED"), SEP)[0]
    assert watcher.watch_once(run, lambda _id: done) is True
    saved = registry.load(run_dir)
    assert saved is not None and saved.status == "succeeded" and saved.exit_code == 0 and saved.ended
    # The end line starts on a line of its own after a \r-redrawn bar.
    assert (run_dir / registry.LOG_FILE).read_bytes() == b"step 1\r50%\n[hwmon] run ended: exit code 0\n"
    run.status = "running"
    assert watcher.watch_once(run, lambda _id: None) is True
    assert run.status == "lost" and "left the controller" in run.message
