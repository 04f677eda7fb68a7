"""`hwmon summary`: the renderers in-process (hand-built state) and the command end to end in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from hwmon.commands.summary import fmt_seconds, render_human, render_markdown
from hwmon.events import (
    CheckpointSaved,
    ErrorSeen,
    EvalMetric,
    JobIdSeen,
    ModelSummary,
    ModuleNode,
    PhaseStarted,
    RunCompleted,
    StepMetrics,
    VendorDetected,
    WarningSeen,
)
from hwmon.model.reducer import apply_all
from hwmon.model.state import RunState
from hwmon.model.summary import summary_dict

T0 = datetime(2024, 6, 3, 9, 0, 0)
HOSTILE = "[bold red]boom[/] \x1b]52;c;ZXZpbA==\x07 | `x` *y*"


def _state() -> RunState:
    def at(s: float) -> datetime:
        return T0 + timedelta(seconds=s)

    state = RunState(source="/very/long/path/" + "d" * 90 + "/run.log")
    apply_all(
        state,
        [
            VendorDetected(1, at(0), "cerebras", "CSX"),
            JobIdSeen(2, at(0), "wsjob-q4m7c2xh8rzt5nvkd3pyla"),
            JobIdSeen(3, at(0), "wsjob-b9w2kf6tjm4xes7hqc8nru"),
            PhaseStarted(4, at(0), "compile", "Exploring floorplans " * 8),
            PhaseStarted(5, at(300), "setup", "Programming"),
            StepMetrics(6, at(600), step=100, loss=9.5, rate=1300.0, global_rate=1250.0),
            StepMetrics(7, at(700), step=200, loss=7.25, rate=1310.0, global_rate=1260.0),
            CheckpointSaved(8, at(701), step=200, path="model_dir/" + "c" * 100 + ".mdl"),
            EvalMetric(9, at(702), "eval/accuracy", 0.9872),
            ModelSummary(10, None, ModuleNode("", "GPT2LMHeadModel", children=(ModuleNode("h", "Block"),))),
            ErrorSeen(11, at(703), HOSTILE),
            WarningSeen(12, at(704), "w"),
            RunCompleted(13, at(720), samples=51200, seconds=120.5),
        ],
    )
    return state


def test_fmt_seconds() -> None:
    # The one duration spelling (hwmon.model.figures.fmt_wall): the summary says what the dashboard, plain mode,
    # ls and the fleet say of the same run.
    assert fmt_seconds(None) == "-"
    assert fmt_seconds(3.25) == "3s"
    assert fmt_seconds(42.4) == "42s"
    assert fmt_seconds(305.0) == "5m05s"
    assert fmt_seconds(3725.0) == "1h02m"


def test_human_output_fits_80_columns_and_keeps_log_text_literal(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("NO_COLOR", "1")
    render_human(summary_dict(_state()))
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "\x1b" not in out and "\x07" not in out  # no escape sequence reaches the terminal
    assert "[bold red]boom[/]" in out  # markup-looking log text shown literally
    for fact in (
        "succeeded",
        "cerebras (CSX)",
        "compile",
        "setup",
        "train",
        "100 → 200",
        "9.500 → 7.250",
        "1310",
        "1260",
        "51200 samples",
        "step 200",
        "eval/accuracy",
        "0.9872",
        "GPT2LMHeadModel",
        "2 modules",
        "Warnings: 1",
        "wsjob-q4m7c2xh8rzt5nvkd3pyla",
    ):
        assert fact in out, fact
    # Phase durations and shares of the 720 s wall time.
    assert "5m00s" in out and "42%" in out


def test_markdown_report_escapes_log_text() -> None:
    md = render_markdown(summary_dict(_state()))
    assert md.startswith("# hwmon summary: ")
    assert "| phase | duration | % wall | detail |" in md
    assert "| compile | 5m00s | 42% |" in md
    assert "\\[bold red\\]boom\\[/\\]" in md and "\\|" in md and "\\`x\\`" in md
    assert "\x1b" not in md and "\x07" not in md
    assert "- **status**: succeeded" in md
    assert "| eval/accuracy | 0.9872 |" in md


# --- end to end (subprocess): needs the parsers (hwmon.parsers.stream) -------------------------------------------

REPO = Path(__file__).resolve().parents[2]


def hwmon(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "COLUMNS": "80", "NO_COLOR": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "hwmon", "summary", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=60,
        cwd=REPO,
    )


def test_missing_file_is_one_line_exit_2(tmp_path: Path) -> None:
    result = hwmon(str(tmp_path / "nope.log"))
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and "no such file" in result.stderr
    assert "Traceback" not in result.stderr


def test_directory_is_one_line_exit_2(tmp_path: Path) -> None:
    result = hwmon(str(tmp_path), "--json")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "directory" in result.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read anything")
def test_unreadable_file_is_one_line_exit_2(tmp_path: Path) -> None:
    log = tmp_path / "secret.log"
    log.write_text("x\n")
    log.chmod(0)
    result = hwmon(str(log))
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def _write_log(tmp_path: Path) -> Path:
    log = tmp_path / "mini_cerebras.log"
    log.write_text(
        "2024-06-03 09:00:00,000 INFO:   Compiling the model. This may take a few minutes.\n"
        "2024-06-03 09:00:01,000 INFO:   compile job id: wsjob-aaaaaaaaaaaaaaaaaaaaaa, remote log path: /x\n"
        "2024-06-03 09:05:00,000 INFO:   Compile was successful!\n"
        "2024-06-03 09:10:00,000 INFO:   | Train Device=CSX, Step=100, Loss=9.50000, Rate=100.00 samples/sec, "
        "GlobalRate=90.00 samples/sec\n"
        "2024-06-03 09:11:00,000 INFO:   | Train Device=CSX, Step=200, Loss=8.25000, Rate=110.00 samples/sec, "
        "GlobalRate=95.00 samples/sec\n"
        "2024-06-03 09:11:00,100 ERROR:   [bold red]not markup[/]\n"
        "2024-06-03 09:11:05,000 INFO:   Training completed successfully!\n"
        "2024-06-03 09:11:05,001 INFO:   Processed 20000 sample(s) in 120.5 seconds.\n"
    )
    return log


def test_json_parses_and_carries_the_facts(tmp_path: Path) -> None:
    result = hwmon(str(_write_log(tmp_path)), "--json")
    assert result.returncode == 0, result.stderr
    s = json.loads(result.stdout)
    assert s["schema"] == "hwmon.summary/1" and s["vendor"] == "cerebras" and s["status"] == "succeeded"
    assert s["job_ids"] == ["wsjob-aaaaaaaaaaaaaaaaaaaaaa"]
    assert s["train"]["steps"] == {"first": 100, "last": 200, "count": 2}
    assert s["train"]["loss"]["last"] == 8.25 and s["train"]["rate"]["last"] == 110.0
    assert s["train"]["samples"] == 20000 and s["train"]["seconds"] == 120.5
    assert "compile" in [p["name"] for p in s["phases"]] and "train" in [p["name"] for p in s["phases"]]


def test_markdown_and_human_end_to_end(tmp_path: Path) -> None:
    log = _write_log(tmp_path)
    md = hwmon(str(log), "--md")
    assert md.returncode == 0, md.stderr
    assert md.stdout.startswith("# hwmon summary:") and "## Phases" in md.stdout
    human = hwmon(str(log))
    assert human.returncode == 0, human.stderr
    assert max(len(line) for line in human.stdout.splitlines()) <= 80
    assert "succeeded" in human.stdout and "[bold red]not markup[/]" in human.stdout
    assert "\x1b" not in human.stdout  # NO_COLOR and not a TTY: plain text


def test_the_bundled_example_summarises() -> None:
    # A bare `hwmon summary` is a usage error now (tests/unit/test_cli_conventions.py); the example is a file.
    from importlib.resources import files

    example = files("hwmon.examples").joinpath("cerebras_gpt_small.log")
    result = hwmon(str(example), "--json")
    assert result.returncode == 0, result.stderr
    s = json.loads(result.stdout)
    assert s["source"].endswith("cerebras_gpt_small.log")
    assert s["status"] == "succeeded" and s["vendor"] == "cerebras"
    # The example is the project's own generated run (bench/gen_cerebras_log.py, seed 7: scripts/make_examples.sh).
    assert s["job_ids"] == ["wsjob-benchcompile0000000000", "wsjob-benchexecute0000000000"]
    assert s["train"]["steps"] == {"first": 1, "last": 165, "count": 165}
    assert s["train"]["loss"]["last"] == 2.03125
    assert s["train"]["rate"] == {"last": 128.07, "global": 120.68, "unit": "samples/sec"}
    assert s["train"]["samples"] == 42240 and s["train"]["seconds"] == pytest.approx(350.013584753)
    assert [c["step"] for c in s["checkpoints"]] == [0, 100, 165]
    names = [p["name"] for p in s["phases"]]
    assert names[:3] == ["checkpoint", "compile", "queue"] and "train" in names
    assert "checkpoint" in names or names.count("train") == 1


def test_exit_status_flag(tmp_path: Path) -> None:
    log = tmp_path / "fail.log"
    log.write_text(
        "2024-06-03 09:00:00,000 INFO:   Beginning appliance run\n"
        "Traceback (most recent call last):\n"
        '  File "run.py", line 1, in <module>\n'
        "RuntimeError: device lost\n"
    )
    result = hwmon(str(log), "--json", "--exit-status")
    assert json.loads(result.stdout)["status"] == "failed"
    assert result.returncode == 1
