"""The history's truth (issue 18, item 5): job keys only from specific identities, no expected phase a run of that
vendor cannot have, a running log not recorded as finished, newest first, one row per run."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from hwmon.cli import main
from hwmon.model.history import NO_KEY, PastRun, expected_phases, job_key, run_entry
from hwmon.sources.read import summarize_bytes
from hwmon.store.history import History, open_history, record_if_ended

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
MNIST_CPU = FIXTURES / "mnist_cpu_3epochs.log"
POPTORCH = FIXTURES / "graphcore_poptorch_mnist.log"


def summary(path: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    assert main(["summary", "--json", str(path)]) == 0
    data: dict[str, Any] = json.loads(capsys.readouterr().out)
    return data


def rows() -> list[dict[str, Any]]:
    history = open_history()
    assert history is not None
    try:
        return [r.to_json() for r in history.runs(100)]
    finally:
        history.close()


def test_a_log_without_a_command_line_has_no_job_key() -> None:
    # Logs without a command line were keyed " | TrainingModelWithLoss": CPU MNIST, GPU and PopTorch runs were "the
    # same job".
    cpu = summarize_bytes(MNIST_CPU.read_bytes(), "cpu.log")
    poptorch = summarize_bytes(POPTORCH.read_bytes(), "ipu.log")
    assert cpu.command is None and job_key(cpu) == NO_KEY and job_key(poptorch) == NO_KEY
    assert job_key(cpu, "python mnist.py", "/home/a") == (
        "command",
        "python mnist.py @ /home/a | TrainingModelWithLoss",
    )


def test_no_run_expects_a_phase_from_another_vendor_or_from_a_keyless_log() -> None:
    # A CPU run showed "compile ~31s exp" learnt from a PopTorch run keyed the same.
    past = [
        PastRun("python mnist.py", "graphcore", {"compile": 31.0, "train": 40.0}),
        PastRun("", "cpu", {"train": 5.0}),
    ]
    assert "compile" not in expected_phases("python mnist.py", "cpu", past)
    assert expected_phases("", "cpu", past) == {}
    same = expected_phases("python mnist.py", "graphcore", past)
    assert same["compile"].seconds == 31.0


def test_a_log_being_written_is_recorded_as_running_then_as_finished_in_one_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `summary` of a running log recorded it as a finished "unknown" run; read again at its end it was a second row.
    text = MNIST_CPU.read_text()
    log = tmp_path / "run.log"
    log.write_text(text[: len(text) // 2])
    summary(log, capsys)
    [row] = rows()
    assert row["status"] == "running"
    log.write_text(text)
    summary(log, capsys)
    [row] = rows()
    assert row["status"] == "succeeded"
    # A log nobody writes to any more (quiet past the silence threshold) that never said how it ended is over.
    cut = tmp_path / "cut.log"
    cut.write_text(text[: len(text) // 2])
    old = time.time() - 3600
    os.utime(cut, (old, old))
    summary(cut, capsys)
    assert {r["source"]: r["status"] for r in rows()}[str(cut.resolve())] == "unknown"


def test_history_is_newest_first_by_start(tmp_path: Path) -> None:
    cerebras = (FIXTURES / "cerebras_appliance_train.log").read_text()
    history = History(tmp_path / "h.sqlite")
    # Recorded out of order (a later run summarised first): listed by when each run started.
    for day in (21, 23, 22):
        state = summarize_bytes(cerebras.replace("2025-01-20", f"2025-01-{day}").encode(), f"d{day}")
        assert history.record(run_entry(state, f"d{day}"))
    assert [r.started[:10] for r in history.runs()] == ["2025-01-23", "2025-01-22", "2025-01-21"]  # type: ignore[index]
    history.close()


def test_the_live_view_and_summary_of_one_log_are_one_row(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The dashboard recorded a run under its source's name, summary under the log's path: one run listed twice.
    from hwmon.sources.source import file_source

    log = tmp_path / "mnist.log"
    log.write_bytes(MNIST_CPU.read_bytes())
    old = time.time() - 3600
    os.utime(log, (old, old))
    summary(log, capsys)
    state = summarize_bytes(log.read_bytes(), log.name)
    record_if_ended(state, file_source(log).history_key)
    assert len(rows()) == 1
