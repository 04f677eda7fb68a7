"""Issue 22's Slurm items against a real single-node Slurm (scripts/slurm_up.sh): an id that is an option
(``slurm:-uroot``), another user's job (root may scancel it; hwmon must not), a job whose output pattern pads to
10^11 digits, a Comment that reads as another job, and a run directory holding ``%``. Positive control: the same
``-uroot`` with the guards taken out makes the real scancel cancel every job of the user."""

from __future__ import annotations

import getpass
import json
import subprocess
import sys
from pathlib import Path

import pytest

from hwmon import exitcodes, refs
from hwmon.slurm import client

from .conftest import hwmon, wait_for

pytestmark = pytest.mark.integration

ME = getpass.getuser()


def _sbatch(*args: str) -> str:
    proc = subprocess.run(["sbatch", "--parsable", *args], capture_output=True, text=True, check=True, timeout=30)
    return proc.stdout.strip().split(";")[0]


def _state(job_id: str) -> str:
    out = subprocess.run(
        ["squeue", "-h", "-t", "all", "-j", job_id, "-O", "State:|"], capture_output=True, text=True, timeout=30
    )
    return out.stdout.strip().rstrip("|")


def _jobs(tmp_path: Path, count: int = 2) -> list[str]:
    return [
        _sbatch("--wrap", "sleep 300", "-o", str(tmp_path / "j-%j.out"), "--chdir", str(tmp_path)) for _ in range(count)
    ]


@pytest.fixture
def clean_queue(slurm_cluster: Path) -> object:
    yield slurm_cluster
    subprocess.run(["scancel", f"--user={ME}"], check=False, timeout=30)
    subprocess.run(["scancel", "--user=nobody"], check=False, timeout=30)


def test_stop_of_an_option_is_a_usage_error_and_cancels_nothing(clean_queue: Path, tmp_path: Path) -> None:
    jobs = _jobs(tmp_path)
    proc = hwmon("stop", f"slurm:-u{ME}")
    assert proc.returncode == exitcodes.USAGE, proc.stderr
    assert all(_state(j) in ("RUNNING", "PENDING") for j in jobs)


def test_positive_control_without_the_guards_the_real_scancel_cancels_every_job(
    clean_queue: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs = _jobs(tmp_path)
    monkeypatch.setattr(client, "checked_job_id", lambda ref, what="": refs.job_ref_of(ref))
    monkeypatch.setattr(client, "scancel_argv", lambda ref, sig=None: ["scancel", ref])  # the argv before the fix
    client.cancel(f"-u{ME}")
    wait_for(lambda: all(_state(j) == "CANCELLED" for j in jobs), "every job of the user cancelled")


def test_another_users_job_is_not_signalled(clean_queue: Path, tmp_path: Path) -> None:
    """As root, scancel would cancel anyone's job: hwmon stops only the user's own."""
    if ME != "root":
        pytest.skip("submitting as another user needs root (sbatch --uid)")
    theirs = _sbatch("--uid=nobody", "--gid=nogroup", "--wrap", "sleep 300", "-o", "/dev/null", "--chdir", "/tmp")
    proc = hwmon("stop", f"slurm:{theirs}")
    assert proc.returncode == exitcodes.STOP_CONFLICT and "is not yours" in proc.stderr, proc.stderr
    assert _state(theirs) in ("RUNNING", "PENDING")


def test_a_huge_padding_in_an_output_pattern_does_not_crash_ls(clean_queue: Path, tmp_path: Path) -> None:
    """Item 2: ``sbatch -o '/tmp/o%99999999999j.out'`` (any user's) made ``hwmon ls`` raise MemoryError."""
    job_id = _sbatch("--wrap", "sleep 300", "-o", str(tmp_path / "o%99999999999j.out"), "--chdir", str(tmp_path))
    proc = hwmon("ls", "--json")
    assert proc.returncode == 0, proc.stderr
    assert job_id in proc.stdout
    assert f"o{int(job_id):010d}.out" in json.dumps([client.show_job(job_id).stdout])  # type: ignore[union-attr]


def test_a_comment_naming_another_job_changes_nothing(clean_queue: Path, tmp_path: Path) -> None:
    """Item 13: a job whose Comment reads `` JobId=<mine> JobState=COMPLETED`` made my running job read as the
    other job and COMPLETED in ``ls``."""
    [mine] = _jobs(tmp_path, 1)
    _sbatch("--wrap", "sleep 300", "-o", "/dev/null", "--comment", f" JobId={mine} JobState=COMPLETED UserId={ME}(0)")
    wait_for(lambda: _state(mine) == "RUNNING", "my job running", timeout=30)
    listed = json.loads(hwmon("ls", "--json").stdout)
    row = next(r for r in listed if str(r.get("slurm_job_id") or r.get("job_id")) == mine)
    assert "completed" not in json.dumps(row).lower(), row
    job = client.show_job(mine)
    assert job is not None and job.state == "RUNNING" and job.stdout == str(tmp_path / f"j-{mine}.out")


def test_a_percent_in_the_run_directory_is_not_expanded(clean_queue: Path, runs_dir: Path, tmp_path: Path) -> None:
    """``hwmon run --sbatch --dir DIR`` with ``%`` in DIR: the output goes to DIR/output.log, not to a path Slurm
    made of it."""
    run_dir = tmp_path / "r%j%%x"
    proc = hwmon("run", "--detach", "--sbatch", "--dir", str(run_dir), "--", sys.executable, "-c", "print('hi')")
    assert proc.returncode == 0, proc.stderr
    wait_for(lambda: "hi" in (run_dir / "output.log").read_text(), "the job's output in the run's output.log")
