"""`hwmon watch --all` on a real single-node Slurm: a job of the user's that hwmon did not start is picked up as it
appears and its end, as Slurm tells it (FAILED with an exit code), is told once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import JOB

pytestmark = [pytest.mark.integration, pytest.mark.timeout(150)]

RECORDER = (
    "import json, os, sys\n"
    "env = {k: v for k, v in os.environ.items() if k.startswith('HWMON_')}\n"
    "open(sys.argv[1], 'a').write(json.dumps(env) + '\\n')\n"
)


def test_watch_all_tells_a_slurm_job_that_fails(slurm_cluster: Path, runs_dir: Path, tmp_path: Path) -> None:
    recorder = tmp_path / "recorder.py"
    recorder.write_text(RECORDER)
    out = tmp_path / "told.jsonl"
    env = dict(os.environ, HWMON_NOTIFY_STATE=str(tmp_path / "n.sqlite"), HWMON_HISTORY="off")
    log = (tmp_path / "watch.out").open("wb")
    watch = subprocess.Popen(
        [sys.executable, "-m", "hwmon", "watch", "--all", "--interval", "0.5", "--notify",
         f"exec:{sys.executable} {recorder} {out}"],
        stdout=log, stderr=subprocess.STDOUT, env=env,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while b"watching 0 runs" not in (tmp_path / "watch.out").read_bytes() and time.monotonic() < deadline:
            time.sleep(0.05)
        job = subprocess.run(
            ["sbatch", "--parsable", "-J", "watched", f"--output={tmp_path}/%x-%j.out",
             "--export=ALL,PYTHONUNBUFFERED=1", f"--wrap={sys.executable} {JOB} 6 0.3; exit 3"],
            capture_output=True, text=True, check=True, timeout=30,
        ).stdout.strip().split(";")[0]  # fmt: skip
        deadline = time.monotonic() + 90
        told: list[dict[str, str]] = []
        while time.monotonic() < deadline:
            told = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
            if any(t["HWMON_EVENT"] == "failed" for t in told):
                break
            time.sleep(0.1)
        [failed] = [t for t in told if t["HWMON_EVENT"] == "failed"]
        assert failed["HWMON_RUN"] == f"slurm:{job}" and failed["HWMON_NAME"] == "watched"
        assert "FAILED" in failed["HWMON_MESSAGE"] or "failed" in failed["HWMON_MESSAGE"]
        assert failed["HWMON_ATTACH"] == f"hwmon attach slurm:{job}"
    finally:
        watch.terminate()
        assert watch.wait(30) == 0
        log.close()
    text = (tmp_path / "watch.out").read_text()
    assert text.count("told failed") == 1, text
