"""`hwmon attach --plain` end to end, as a real subprocess: finished and failed logs, a log written while attached,
stdin, a supervised run ended by its run.json, and the one-line errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hwmon import exitcodes
from tests.helpers.process import Output
from tests.helpers.records import run_record

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
OK_LOG = FIXTURES / "follow_cerebras_ok.log"
FAILED_LOG = FIXTURES / "follow_cerebras_failed.log"


def hwmon(*args: str, env: dict[str, str] | None = None, **kwargs: object) -> subprocess.Popen[str]:
    full_env = {**os.environ, "NO_COLOR": "1", **(env or {})}
    return subprocess.Popen(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-m", "hwmon", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=full_env,
        **kwargs,
    )


def finish(proc: subprocess.Popen[str], timeout: float = 20) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"hwmon did not exit; stdout={out!r} stderr={err!r}") from None
    return proc.returncode, out, err


def tags(out: str) -> list[str]:
    return [line.split()[1] for line in out.splitlines() if len(line.split()) > 1]


def test_finished_log_exits_zero_with_phase_lines() -> None:
    code, out, err = finish(hwmon("attach", str(OK_LOG), "--plain"))
    assert code == exitcodes.OK, err
    phases = [line.split()[2] for line in out.splitlines() if line.split()[1] == "phase"]
    assert phases[:3] == ["compile", "setup", "train"]
    last = out.splitlines()[-1]
    assert "end" in last and "succeeded" in last and "step 100" in last
    assert "\x1b" not in out


def test_failed_log_exits_run_failed_with_alert() -> None:
    code, out, _ = finish(hwmon("attach", str(FAILED_LOG), "--plain"))
    assert code == exitcodes.RUN_FAILED
    assert "ALERT" in tags(out)
    assert "| failed |" in out.splitlines()[-1]


def test_not_a_tty_means_plain_without_the_flag() -> None:
    code, out, _ = finish(hwmon("attach", str(OK_LOG)))
    assert code == exitcodes.OK
    assert "phase" in tags(out)


def test_log_written_while_attached(tmp_path: Path) -> None:
    log = tmp_path / "live.log"
    lines = OK_LOG.read_text().splitlines(keepends=True)
    proc = hwmon("attach", str(log), "--plain", "--interval", "0.3")
    output = Output(proc)
    try:
        # The file does not exist yet: attach says it waits for it (the test waits for that line, not a second).
        first = output.wait_for(lambda line: "waiting for live.log to appear" in line)
        half = len(lines) // 2
        with open(log, "a", encoding="utf-8") as fh:
            fh.writelines(lines[:half])
            fh.flush()
            # An interval line while the run is going, before the rest (and its end) is written.
            output.wait_for(lambda line: line.split()[1:3] == ["status", "running"])
            fh.writelines(lines[half:])
            fh.flush()
        code, out, err = output.finish()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == exitcodes.OK, err
    lines_out = out.splitlines()
    assert first.rstrip().endswith("waiting for live.log to appear")
    # Said before anything of the run was shown.
    assert lines_out.index(first.rstrip("\n")) < min(i for i, line in enumerate(lines_out) if " phase " in line)
    assert any(line.split()[1:3] == ["status", "running"] for line in lines_out)
    assert "succeeded" in out.splitlines()[-1]


def test_stdin_pipe() -> None:
    proc = hwmon("attach", "-", "--plain", stdin=subprocess.PIPE)
    assert proc.stdin is not None
    for line in FAILED_LOG.read_text().splitlines(keepends=True)[:5]:
        proc.stdin.write(line)
        proc.stdin.flush()
        time.sleep(0.02)
    proc.stdin.close()
    proc.stdin = None  # closed: communicate() must not flush it
    code, out, _ = finish(proc)
    assert code == exitcodes.OK  # no end line and no failure: unknown, not a failure
    assert "stdin closed" in out
    assert "source ended" in out.splitlines()[-1] and "step 50" in out.splitlines()[-1]


def test_ctrl_c_exits_130(tmp_path: Path) -> None:
    log = tmp_path / "forever.log"
    log.write_text("2025-02-11 09:00:01,100 INFO:   Compiling the model. This may take a few minutes.\n")
    proc = hwmon("attach", str(log), "--plain")
    output = Output(proc)
    # Interrupted once it is following (it printed the compile phase), not after a guessed second.
    output.wait_for(lambda line: " phase " in line and "compile" in line)
    proc.send_signal(signal.SIGINT)
    code, _, err = output.finish()
    assert code == exitcodes.INTERRUPTED
    assert "Traceback" not in err


def test_unknown_run_id_is_a_one_line_error(tmp_path: Path) -> None:
    code, _, err = finish(hwmon("attach", "nosuchrun", "--plain", env={"HWMON_RUNS_DIR": str(tmp_path)}))
    assert code == exitcodes.RUN_NOT_FOUND
    assert len(err.strip().splitlines()) == 1 and err.startswith("hwmon: ")


def test_no_runs_and_no_ref(tmp_path: Path) -> None:
    code, _, err = finish(hwmon("attach", "--plain", env={"HWMON_RUNS_DIR": str(tmp_path)}))
    assert code == exitcodes.RUN_NOT_FOUND
    assert err.startswith("hwmon: ")


def test_directory_is_bad_input(tmp_path: Path) -> None:
    code, _, err = finish(hwmon("attach", str(tmp_path), "--plain"))
    assert code == exitcodes.BAD_INPUT
    assert "directory" in err and len(err.strip().splitlines()) == 1


def _write_run(run_dir: Path, supervisor: subprocess.Popen[bytes], status: str, exit_code: int | None) -> None:
    from hwmon.store import registry

    record = run_record(
        run_dir,
        device="csx",
        pid=supervisor.pid,
        supervisor_pid=supervisor.pid,
        host="testhost",
        cwd=str(run_dir),
        started=registry.now_iso(),
        ended=None if status == "running" else registry.now_iso(),
        exit_code=exit_code,
        status=status,
        supervisor_start=registry.process_start_token(supervisor.pid),
        pid_start=registry.process_start_token(supervisor.pid),
    )
    registry.save(record)


@pytest.mark.parametrize(("final", "expected"), [("failed", exitcodes.RUN_FAILED), ("succeeded", exitcodes.OK)])
def test_supervised_run_ends_when_its_record_says_so(tmp_path: Path, final: str, expected: int) -> None:
    runs = tmp_path / "runs"
    run_dir = runs / "20250211-090000-cmd-ab12"
    run_dir.mkdir(parents=True)
    # A stand-in supervisor process, so the registry sees a live "running" run.
    supervisor = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        _write_run(run_dir, supervisor, "running", None)
        log = run_dir / "output.log"
        log.write_text("epoch 1 step 1 loss=0.9\n")
        proc = hwmon("attach", "20250211", "--plain", env={"HWMON_RUNS_DIR": str(runs)})
        output = Output(proc)
        # It has read the log (its first phase line is out) and goes on: the run has not ended.
        output.wait_for(lambda line: " phase " in line)
        assert proc.poll() is None
        with open(log, "a", encoding="utf-8") as fh:
            fh.write("last line before exit\n")
        _write_run(run_dir, supervisor, final, 1 if final == "failed" else 0)
        code, out, err = output.finish()
    finally:
        supervisor.kill()
        supervisor.wait()
    assert code == expected, (out, err)
    assert f"| {final} |" in out.splitlines()[-1]
    assert json.loads((run_dir / "run.json").read_text())["status"] == final
