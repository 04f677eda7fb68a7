"""`hwmon watch HOST:PATH` over a real sshd on 127.0.0.1: a remote log that fails is told once, with the ref that
opens it again (its ssh options included) in the notice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import Sshd

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

RECORDER = (
    "import json, os, sys\n"
    "env = {k: v for k, v in os.environ.items() if k.startswith('HWMON_')}\n"
    "open(sys.argv[1], 'a').write(json.dumps(env) + '\\n')\n"
)
LINE = (
    "2024-03-30 13:03:{sec:02d},540 INFO:   | Train Device=CSX, Step={step}, Loss=2.5, Rate=100.00 samples/sec, "
    "GlobalRate=100.00 samples/sec\n"
)


def test_watch_tells_a_remote_log_that_fails(sshd: Sshd, tmp_path: Path) -> None:
    log = tmp_path / "remote.log"
    log.write_text(LINE.format(sec=1, step=1))
    recorder = tmp_path / "recorder.py"
    recorder.write_text(RECORDER)
    out = tmp_path / "told.jsonl"
    env = dict(
        os.environ,
        HWMON_RUNS_DIR=str(tmp_path / "runs"),
        HWMON_NOTIFY_STATE=str(tmp_path / "n.sqlite"),
        HWMON_HISTORY="off",
    )
    ref = f"127.0.0.1:{log}"
    opts = [arg for opt in sshd.options() for arg in ("--ssh-opt", opt)]
    watch_out = tmp_path / "watch.out"
    with watch_out.open("wb") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hwmon", "watch", ref, *opts, "--interval", "0.2", "--notify",
             f"exec:{sys.executable} {recorder} {out}"],
            stdout=fh, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while b"watching 1 run" not in watch_out.read_bytes() and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(1.0)  # the ssh follower connects and reads the backlog
            with log.open("a") as log_fh:
                log_fh.write(LINE.format(sec=2, step=2))
                log_fh.write("Traceback (most recent call last):\nRuntimeError: remote boom\n")
            code = proc.wait(60)
        finally:
            if proc.poll() is None:
                proc.kill()
    text = watch_out.read_text()
    assert code == 1, text
    [told] = [json.loads(line) for line in out.read_text().splitlines()]
    assert told["HWMON_EVENT"] == "failed" and told["HWMON_MESSAGE"] == "RuntimeError: remote boom"
    assert told["HWMON_REF"] == ref and told["HWMON_HOST"] == "127.0.0.1"
    assert told["HWMON_ATTACH"].startswith("hwmon attach --ssh-opt=Port=") and told["HWMON_ATTACH"].endswith(ref)
