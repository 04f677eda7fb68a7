"""``hwmon export``: full resolution (one row per step line), every format round-trips, chunking-invariant."""

from __future__ import annotations

import csv
import io
import json
import math
import random
import re
import subprocess
import sys
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

import pytest

from hwmon import exitcodes
from hwmon.cli import main
from hwmon.commands import export as export_cmd
from hwmon.commands.export import export_events
from hwmon.events import Event, StepMetrics
from hwmon.parsers.stream import StreamParser
from tests.helpers.records import run_record

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
CORPUS = ROOT / ".." / "shared" / "corpus"
SEED = ROOT / ".." / "shared" / "seed"
GEN = ROOT / "bench" / "gen_cerebras_log.py"


def logs() -> list[Path]:
    found = sorted(FIXTURES.glob("*.log"))
    for folder in (CORPUS, SEED):
        if folder.is_dir():
            found += sorted(folder.glob("*.log"))
    return found


def line_events(data: bytes, chunk: int | None = None) -> list[Event]:
    """Every event of ``data`` through the line-by-line path (no bulk fast path), fed ``chunk`` bytes at a time."""
    parser = StreamParser(blocks=False)
    events: list[Event] = []
    step = chunk or max(1, len(data))
    for start in range(0, len(data), step):
        events += parser.feed(data[start : start + step])
    return events + parser.finish()


def block_events(data: bytes) -> list[Event]:
    parser = StreamParser(blocks=True)
    events: list[Event] = []
    for start in range(0, len(data), 1 << 20):
        events += parser.feed(data[start : start + (1 << 20)])
    return events + parser.finish()


def export_csv(events: Iterable[Event], what: str = "steps") -> list[dict[str, str]]:
    out = io.StringIO()
    export_events(events, "csv", what, None, stdout=out)
    return list(csv.DictReader(io.StringIO(out.getvalue())))


@pytest.mark.parametrize("path", logs(), ids=lambda p: p.name)
def test_one_row_per_step_line(path: Path) -> None:
    """The bulk path's export has exactly the steps the line-by-line parser reports, in order, same values."""
    data = path.read_bytes()
    expected = [e for e in line_events(data) if isinstance(e, StepMetrics)]
    rows = export_csv(block_events(data))
    assert len(rows) == len(expected)
    for row, step in zip(rows, expected, strict=True):
        assert int(row["line"]) == step.line
        if step.step is not None:
            assert int(row["step"]) == step.step
        if step.loss is not None:
            assert float(row["loss"]) == pytest.approx(step.loss, nan_ok=True)


def test_generated_cerebras_log_row_count_equals_step_lines(tmp_path: Path) -> None:
    """On the benchmark's generator output (bulk fast path), the row count is the number of step lines as
    counted by a plain regex over the file, and the steps run 1..N without a gap."""
    log = tmp_path / "cs.log"
    subprocess.run([sys.executable, str(GEN), "--out", str(log), "--size", "3M", "--ckpt-every", "2000"], check=True)
    data = log.read_bytes()
    step_lines = len(re.findall(rb"\| Train Device=CSX, Step=\d+", data))
    assert step_lines > 10000
    rows = export_csv(block_events(data))
    train = [r for r in rows if r["mode"] == "train"]
    assert len(train) == step_lines
    assert [int(r["step"]) for r in train] == list(range(1, step_lines + 1))
    assert all(r["time"] and r["wall_s"] for r in train)
    walls = [float(r["wall_s"]) for r in train]
    assert walls == sorted(walls) and walls[0] > 0


@pytest.mark.parametrize("path", logs(), ids=lambda p: p.name)
def test_byte_at_a_time_and_random_chunks_give_the_same_export(path: Path) -> None:
    data = path.read_bytes()
    whole = {what: export_csv(block_events(data), what) for what in ("steps", "eval", "phases")}
    if len(data) <= 8192:
        chunkings = [line_events(data, chunk=1)]
    else:
        chunkings = []
    rng = random.Random(path.name)
    for _ in range(2):
        parser = StreamParser(blocks=True)
        events: list[Event] = []
        start = 0
        while start < len(data):
            size = rng.randint(1, 4096)
            events += parser.feed(data[start : start + size])
            start += size
        chunkings.append(events + parser.finish())
    for events in chunkings:
        for what in ("steps", "eval", "phases"):
            assert export_csv(events, what) == whole[what], what


@pytest.mark.parametrize("path", logs(), ids=lambda p: p.name)
def test_parquet_rows_are_the_csv_rows(path: Path, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    data = path.read_bytes()
    rows = export_csv(block_events(data))
    out = tmp_path / "x.parquet"
    export_events(block_events(data), "parquet", "steps", str(out))
    if not rows:
        assert not out.exists() or pq.read_table(out).num_rows == 0
        return
    table = pq.read_table(out)
    assert table.num_rows == len(rows)
    assert table.column("line").to_pylist() == [int(r["line"]) for r in rows]


def test_columns_and_values_of_a_cerebras_step() -> None:
    rows = export_csv(block_events((FIXTURES / "cerebras_appliance_train.log").read_bytes()))
    assert list(rows[0])[:11] == list(export_cmd.TABLES["steps"])
    row = rows[1]
    assert row["step"] == "10" and row["mode"] == "train"
    assert row["loss"] == "8.5" and row["rate"] == "410.5" and row["global_rate"] == "380.25"
    assert row["rate_unit"] == "samples/sec"
    assert row["time"] == "2025-01-20T09:15:45"
    # seconds since the run's first log timestamp (09:00:01.100)
    assert float(row["wall_s"]) == pytest.approx(943.9, abs=1e-6)
    assert any(r["loss"] == "nan" for r in rows)  # a NaN loss is kept, not dropped


def test_lr_column_and_other_metrics_by_name() -> None:
    rows = export_csv(block_events((FIXTURES / "graphcore_hf_trainer.log").read_bytes()))
    assert rows and all(r["lr"] for r in rows)
    assert float(rows[0]["lr"]) == pytest.approx(4e-05)
    # the metric that fills the lr column is not repeated under its own name
    assert "learning_rate" not in rows[0] and "extra_lr" not in rows[0]


def test_phases_table_matches_summary() -> None:
    from hwmon.model.summary import summary_dict
    from hwmon.sources.read import summarize_bytes

    data = (FIXTURES / "cerebras_appliance_train.log").read_bytes()
    phases = export_csv(block_events(data), "phases")
    summary = summary_dict(summarize_bytes(data, "x"))
    assert [p["name"] for p in phases] == [p["name"] for p in summary["phases"]]  # type: ignore[index]
    for row, p in zip(phases, summary["phases"], strict=True):  # type: ignore[call-overload]
        assert float(row["seconds"]) == pytest.approx(p["seconds"])
        assert float(row["share"]) == pytest.approx(p["seconds"] / summary["wall_seconds"], abs=1e-5)


def test_eval_metrics_carry_their_step() -> None:
    data = (FIXTURES / "cerebras_appliance_train.log").read_bytes()
    evals = export_csv(block_events(data), "eval")
    assert evals
    steps = export_csv(block_events(data))
    last_train = max(int(r["step"]) for r in steps if r["mode"] == "train")
    assert all(r["step"] == str(last_train) for r in evals)
    assert {r["name"] for r in evals}


def test_a_metric_first_seen_after_the_header_goes_to_more(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(export_cmd, "HEADER_AFTER", 2)
    events: list[Event] = [
        StepMetrics(1, None, 1, loss=1.0),
        StepMetrics(2, None, 2, loss=0.9),
        StepMetrics(3, None, 3, loss=0.8, extra=(("grad_norm", 2.5),)),
    ]
    rows = export_csv(events)
    assert [r["step"] for r in rows] == ["1", "2", "3"]
    assert "grad_norm" not in rows[0]
    assert json.loads(rows[2]["more"]) == {"grad_norm": 2.5}
    assert rows[0]["more"] == ""


def test_jsonl_is_strict_json_with_null_for_nan(tmp_path: Path) -> None:
    out = tmp_path / "steps.jsonl"
    code = main(["export", str(FIXTURES / "cerebras_appliance_train.log"), "-f", "jsonl", "-o", str(out)])
    assert code == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == len(export_csv(block_events((FIXTURES / "cerebras_appliance_train.log").read_bytes())))
    assert any(r["loss"] is None for r in rows)
    assert "NaN" not in out.read_text()


def test_parquet_round_trip(tmp_path: Path) -> None:
    import pyarrow.parquet as pq  # the optional extra; the dev extra (and so CI) installs it

    out = tmp_path / "steps.parquet"
    log = FIXTURES / "cerebras_appliance_train.log"
    assert main(["export", str(log), "-f", "parquet", "-o", str(out)]) == 0
    table = pq.read_table(out)
    rows = export_csv(block_events(log.read_bytes()))
    assert table.num_rows == len(rows)
    assert table.column("step").to_pylist() == [int(r["step"]) for r in rows]
    losses = table.column("loss").to_pylist()
    for got, row in zip(losses, rows, strict=True):
        want = float(row["loss"])
        assert (math.isnan(got) and math.isnan(want)) or got == want


def test_parquet_without_pyarrow_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    code = main(["export", str(FIXTURES / "generic_train.log"), "-f", "parquet", "-o", str(tmp_path / "x.parquet")])
    assert code == exitcodes.MISSING_PACKAGE
    err = capsys.readouterr().err
    assert "pyarrow" in err and "hwmon[parquet]" in err
    assert not (tmp_path / "x.parquet").exists()


@pytest.mark.integration
def test_tensorboard_reads_back_the_same_series(tmp_path: Path) -> None:
    # tensorboardX (the writer, the optional extra) and tensorboard (the reader) come with the dev extra.
    from tensorboard.backend.event_processing import event_accumulator as accumulator

    log = FIXTURES / "cerebras_appliance_train.log"
    logdir = tmp_path / "tb"
    assert main(["export", str(log), "-f", "tensorboard", "-o", str(logdir)]) == 0
    acc = accumulator.EventAccumulator(str(logdir), size_guidance={accumulator.SCALARS: 0})
    acc.Reload()
    tags = acc.Tags()["scalars"]
    rows = [r for r in export_csv(block_events(log.read_bytes())) if r["mode"] == "train"]
    loss = acc.Scalars("train/loss")
    assert [e.step for e in loss] == [int(r["step"]) for r in rows if r["loss"]]
    for event, row in zip(loss, [r for r in rows if r["loss"]], strict=True):
        want = float(row["loss"])
        assert (math.isnan(event.value) and math.isnan(want)) or event.value == pytest.approx(want, rel=1e-6)
    rate = acc.Scalars("train/rate")
    assert [e.value for e in rate] == [float(r["rate"]) for r in rows if r["rate"]]
    assert any(t.startswith("phase_seconds/") for t in tags)
    assert any(t.startswith("eval_metrics/") for t in tags)
    # the log's own time is the event's wall time
    assert loss[1].wall_time == pytest.approx(datetime.fromisoformat(rows[1]["time"]).timestamp())


def test_cli_stdin_and_errors(tmp_path: Path) -> None:
    log = FIXTURES / "generic_train.log"
    env_cmd = [sys.executable, "-m", "hwmon", "export", "-"]
    done = subprocess.run(env_cmd, input=log.read_bytes(), capture_output=True, check=False)
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout.decode())))
    assert len(rows) == len(export_csv(block_events(log.read_bytes())))

    missing = subprocess.run(
        [sys.executable, "-m", "hwmon", "export", str(tmp_path / "nope.log")], capture_output=True, check=False
    )
    assert missing.returncode == exitcodes.BAD_INPUT
    assert b"no such file" in missing.stderr and b"Traceback" not in missing.stderr

    no_out = subprocess.run(
        [sys.executable, "-m", "hwmon", "export", str(log), "-f", "parquet"], capture_output=True, check=False
    )
    assert no_out.returncode == exitcodes.USAGE and b"-o" in no_out.stderr

    unwritable = subprocess.run(
        [sys.executable, "-m", "hwmon", "export", str(log), "-o", str(tmp_path / "no" / "dir" / "x.csv")],
        capture_output=True,
        check=False,
    )
    assert unwritable.returncode == exitcodes.CANNOT_WRITE and b"cannot write" in unwritable.stderr


def test_a_run_id_is_a_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from hwmon.store import registry

    root = tmp_path / "runs"
    monkeypatch.setenv("HWMON_RUNS_DIR", str(root))
    run_dir = root / "20250101-000000-cmd-abcd"
    run_dir.mkdir(parents=True)
    log = run_dir / registry.LOG_FILE
    log.write_bytes((FIXTURES / "generic_train.log").read_bytes())
    record = run_record(
        run_dir, log_path=log, host="h", started="2025-01-01T00:00:00+00:00", ended="2025-01-01T00:01:00+00:00"
    )
    registry.save(record)
    assert main(["export", "20250101-000000-cmd"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == len(export_csv(block_events(log.read_bytes()))) > 0
