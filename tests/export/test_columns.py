"""The columnar expansion of the Cerebras bulk path (``expand_columns``, and the batch's own decoder,
``StepBatch.columns()``) against the per-line one (``expand_batch``), and the export written from columns (CSV as
tuples, JSONL) against the export written the per-line way: the same values field by field, the same bytes.
Every fixture, corpus and seed log (the shared ones skipped
when absent), generated logs of several seeds/sizes/options, and hand-made blocks (NaN/Inf losses, step-1 reset
rates, odd lines that must fall back)."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest

import hwmon.commands.export as export_cmd
import hwmon.model.export as model_export
from hwmon.commands.export import export_events
from hwmon.events import Event, StepBatch, StepColumns, StepMetrics
from hwmon.parsers.cerebras_fast import CerebrasDecoder, expand_batch, expand_columns
from hwmon.parsers.cerebras_steps import step_from_line
from hwmon.parsers.stream import StreamParser

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
SHARED = ROOT / ".." / "shared"
GEN = ROOT / "bench" / "gen_cerebras_log.py"
FORMATS = ("csv", "jsonl")


def logs() -> list[Path]:
    found = sorted(FIXTURES.glob("*.log"))
    for folder in (SHARED / "corpus", SHARED / "seed"):
        if folder.is_dir():
            found += sorted(folder.glob("*.log"))
    return found


def block_events(data: bytes, chunk: int = 1 << 20) -> list[Event]:
    parser = StreamParser(blocks=True)
    events: list[Event] = []
    for start in range(0, len(data), chunk):
        events += parser.feed(data[start : start + chunk])
    return events + parser.finish()


def same(a: StepMetrics, b: StepMetrics) -> bool:
    # repr: NaN equals NaN, -0.0 differs from 0.0, int differs from float.
    return repr(a) == repr(b) and type(a.loss) is type(b.loss)


def check_columns(batch: StepBatch) -> bool:
    """Asserts that the columns of ``batch`` (when it reads as columns) are ``expand_batch``'s, field by field;
    returns whether it read as columns."""
    slow = list(expand_batch(batch))
    decoded = [m for piece in batch.columns() for m in piece.rows()]
    assert len(decoded) == len(slow)
    for f, s in zip(decoded, slow, strict=True):
        assert same(f, s) and f.rule == s.rule == "cerebras:step", (f, s)
    columns = expand_columns(batch.raw, batch.first.line, batch.reset_step)
    if columns is None:
        return False
    fast = list(columns.rows())
    assert columns.iso == [m.ts.isoformat() for m in slow if m.ts is not None]
    assert len(fast) == len(slow) == batch.count
    for f, s in zip(fast, slow, strict=True):
        assert same(f, s), (f, s)
    assert fast[0].line == batch.first.line and same(fast[0], batch.first)
    assert same(fast[-1], batch.last)
    return True


def export_text(events: Iterable[Event], fmt: str, what: str = "steps") -> str:
    out = io.StringIO()
    export_events(events, fmt, what, None, stdout=out)
    return out.getvalue()


def slow_text(events: Iterable[Event], fmt: str, monkeypatch: pytest.MonkeyPatch, what: str = "steps") -> str:
    """The export as it is written without the columnar path (every batch expanded line by line into dicts)."""
    with monkeypatch.context() as mp:
        mp.setattr(model_export.ExportBuilder, "feed_tuples", lambda self, event, header: None)
        mp.setattr(model_export.ExportBuilder, "feed_csv", lambda self, event, header: None)
        mp.setattr(model_export.ExportBuilder, "feed_jsonl", lambda self, event: None)
        per_line = lambda self, event: StepColumns.of(list(expand_batch(event)))  # noqa: E731
        mp.setattr(model_export.ExportBuilder, "_columns", per_line)
        return export_text(events, fmt, what)


def check_export(events: list[Event], monkeypatch: pytest.MonkeyPatch) -> None:
    for fmt in FORMATS:
        fast = export_text(events, fmt)
        assert fast == slow_text(events, fmt, monkeypatch), fmt
    fast_eval = export_text(events, "csv", "eval")
    assert fast_eval == slow_text(events, "csv", monkeypatch, "eval")


# --- real logs -------------------------------------------------------------------------------------------------


def step_runs(data: bytes) -> list[tuple[int, bytes]]:
    """(first line number, bytes) of every run of >= 4 consecutive Cerebras step lines in ``data``."""
    runs: list[tuple[int, bytes]] = []
    current: list[bytes] = []
    first = 0
    lines = data.split(b"\n")
    for number, line in enumerate([*lines, b""], start=1):
        if b"| Train Device=" in line or b"| Eval Device=" in line:
            if not current:
                first = number
            current.append(line + b"\n")
        else:
            if len(current) >= 4:
                runs.append((first, b"".join(current)))
            current = []
    return runs


def hand_batch(raw: bytes, first_line: int = 1, reset_step: int = 1) -> StepBatch | None:
    """A ``StepBatch`` standing for the step lines ``raw`` (as the bulk path would make it), or None when its first
    or last line is not a step line."""
    lines = raw.decode("ascii", "replace").split("\n")[:-1]
    first = step_from_line(lines[0], first_line, reset_step)
    last = step_from_line(lines[-1], first_line + len(lines) - 1, reset_step)
    if first is None or last is None:
        return None
    return StepBatch(
        line=last.line,
        ts=last.ts,
        first=first,
        last=last,
        count=len(lines),
        loss_min=None,
        loss_max=None,
        raw=raw,
        reset_step=reset_step,
        decoder=CerebrasDecoder(reset_step),
    )


@pytest.mark.parametrize("path", logs(), ids=lambda p: p.name)
def test_columns_and_export_of_every_log(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = path.read_bytes()
    for chunk in (1 << 20, 4096):
        events = block_events(data, chunk)
        for event in events:
            if isinstance(event, StepBatch) and event.raw:
                check_columns(event)
        check_export(events, monkeypatch)
    # Every run of step lines of the log as a batch of its own (whether or not the stream made one of it).
    for first, raw in step_runs(data):
        for reset in (1, 2):
            batch = hand_batch(raw, first, reset)
            if batch is not None:
                check_columns(batch)


@pytest.mark.integration
@pytest.mark.parametrize(
    "options",
    [
        ("--size", "2M", "--seed", "0"),
        ("--size", "3M", "--seed", "1", "--eta"),
        ("--size", "1M", "--seed", "2", "--ckpt-every", "37"),
        ("--size", "2M", "--seed", "3", "--ckpt-every", "0", "--eta"),
        ("--size", "512K", "--seed", "4", "--ckpt-every", "500", "--state-target"),
        ("--size", "1M", "--seed", "5", "--step-seconds", "0.0004", "--eta"),
    ],
    ids=lambda o: "_".join(x.strip("-") for x in o),
)
def test_generated_logs(options: tuple[str, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "cs.log"
    subprocess.run([sys.executable, str(GEN), "--out", str(log), *options], check=True, capture_output=True)
    data = log.read_bytes()
    events = block_events(data)
    batches = [e for e in events if isinstance(e, StepBatch) and e.raw]
    assert batches
    # The generator writes canonical train lines only: every batch reads as columns.
    assert all(check_columns(b) for b in batches)
    assert sum(b.count for b in batches) > 0.9 * len(re.findall(rb"\| Train Device=", data))
    check_export(events, monkeypatch)


# --- hand-made blocks ------------------------------------------------------------------------------------------

TS = "2024-03-30 12:00:{s:02d},{ms:03d}"


def line(step: int, loss: str = "7.50000", rate: str = "100.00", grate: str = "90.00", **kw: str) -> str:
    unit = kw.get("unit", "samples/sec")
    stamp = kw.get("ts", TS.format(s=step % 60, ms=(step * 7) % 1000))
    text = (
        f"{stamp} {kw.get('level', 'INFO')}:   | Train Device={kw.get('device', 'CSX')}, Step={step}, Loss={loss}, "
        f"Rate={rate} {unit}, GlobalRate={grate} {kw.get('gunit', unit)}"
    )
    return text + kw.get("tail", "")


def block(lines: list[str]) -> bytes:
    return "".join(f"{text}\n" for text in lines).encode()


HAND_FAST = {
    "nan_inf_losses": [line(s, loss) for s, loss in enumerate(["nan", "inf", "-inf", "+inf", "7.5", "-0.0", "8"], 10)],
    "step1_reset": [line(s) for s in range(1, 9)],
    "eta": [line(s, tail=", LoopTimeRemaining=1:02:03, TimeRemaining=10:00:59") for s in range(1, 9)],
    "tokens_unit": [line(s, unit="tokens/sec") for s in range(5, 12)],
    "empty_device": [line(s, device="") for s in range(5, 12)],
    "iso_micro": [line(s, ts=f"2024-03-30T12:00:{s:02d}.{s * 1234:06d}") for s in range(5, 12)],
    "nine_digits": [line(s, ts=f"2024-03-30 12:00:{s:02d}.{s:09d}") for s in range(5, 12)],
    "no_fraction_digits_in_rate": [line(s, rate="100.", grate="7") for s in range(1, 9)],
    "warning_level": [line(s, level="WARNING") for s in range(3, 12)],
}

HAND_SLOW = {
    "missing_global_rate": [*[line(s) for s in range(1, 5)], line(5).split(", GlobalRate")[0], line(6)],
    "extra_metric": [line(s, tail=", lr=0.001") for s in range(1, 9)],
    "mixed_units": [*[line(s) for s in range(1, 5)], *[line(s, unit="tokens/sec") for s in range(5, 9)]],
    "global_unit_differs": [line(s, gunit="tokens/sec") for s in range(1, 9)],
    "bad_date": [*[line(s) for s in range(1, 5)], line(5, ts="2024-13-45 12:00:00,000"), line(6)],
    "no_fraction": [*[line(s) for s in range(1, 5)], line(5, ts="2024-03-30 12:00:05"), line(6)],
    "glued_fraction": [*[line(s) for s in range(1, 5)], line(5, ts="2024-03-30 12:00:0512"), line(6)],
    "rate_without_integer": [line(s, rate=".5") for s in range(1, 9)],
    "two_dots": [*[line(s) for s in range(1, 5)], line(5, rate="1.2.3"), line(6)],
    "signed_loss_twice": [*[line(s) for s in range(1, 5)], line(5, loss="+-1.5"), line(6)],
    "ten_digits": [line(s, ts=f"2024-03-30 12:00:{s:02d}.{s:010d}") for s in range(1, 9)],
    "carriage_return": [line(s) + "\r" for s in range(1, 9)],
    "trailing_space": [line(s) + " " for s in range(1, 9)],
    "space_separated": [line(s).replace(", ", " ") for s in range(1, 9)],
    "eval_lines": [
        f"2024-03-30 12:00:0{b},000 INFO:   | Eval Device=CSX, GlobalStep=100, Batch={b}, Loss=2.1, "
        f"Rate=5000.00 samples/sec, GlobalRate=6000.00 samples/sec"
        for b in range(1, 9)
    ],
    "prefixed": [f"[1,0]<stdout>:{line(s)}" for s in range(1, 9)],
    "epoch_field": [line(s).replace(", Loss", ", Epoch=1, Loss") for s in range(1, 9)],
}


@pytest.mark.parametrize("name", sorted(HAND_FAST))
@pytest.mark.parametrize("reset", [1, 3, 10])
def test_hand_made_blocks_read_as_columns(name: str, reset: int) -> None:
    batch = hand_batch(block(HAND_FAST[name]), 41, reset)
    assert batch is not None
    assert check_columns(batch)


@pytest.mark.parametrize("name", sorted(HAND_SLOW))
def test_odd_blocks_fall_back(name: str) -> None:
    batch = hand_batch(block(HAND_SLOW[name]), 7)
    assert batch is not None
    assert expand_columns(batch.raw, batch.first.line, batch.reset_step) is None
    assert list(expand_batch(batch))  # the per-line path still reads what it can
    assert [m for piece in batch.columns() for m in piece.rows()] == list(expand_batch(batch))


def test_no_final_newline_falls_back() -> None:
    batch = hand_batch(block(HAND_FAST["step1_reset"]), 1)
    assert batch is not None
    cut = StepBatch(
        line=batch.line,
        ts=batch.ts,
        first=batch.first,
        last=batch.last,
        count=batch.count,
        loss_min=None,
        loss_max=None,
        raw=batch.raw[:-1],
    )
    assert expand_columns(cut.raw, cut.first.line, cut.reset_step) is None


def _hand_log(lines: list[str], copies: int) -> bytes:
    head = "2024-03-30 11:59:00,000 INFO:   Beginning appliance run\n"
    body = []
    for c in range(copies):
        for text in lines:
            body.append(re.sub(r"Step=(\d+)", lambda m, c=c: f"Step={int(m.group(1)) + 100 * c}", text))
    return (head + "".join(f"{t}\n" for t in body)).encode()


@pytest.mark.parametrize("name", sorted(HAND_FAST) + sorted(HAND_SLOW))
def test_hand_made_logs_export_the_same_bytes(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Through the stream (blocks of the bulk path) and the export, whatever path each block takes."""
    table = {**HAND_FAST, **HAND_SLOW}
    # Past the CSV header's discovery rows (made 512 here, from 4096: the same code path, an eighth of the rows) and
    # long enough for the bulk path's blocks.
    monkeypatch.setattr(export_cmd, "HEADER_AFTER", 512)
    data = _hand_log(table[name], 100)
    assert data.count(b"\n") > 512
    for chunk in (1 << 20, 8192):
        events = block_events(data, chunk)
        for event in events:
            if isinstance(event, StepBatch) and event.raw:
                check_columns(event)
        check_export(events, monkeypatch)


@pytest.mark.integration
def test_the_columnar_path_is_taken_on_a_generated_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Guards the guard: the byte comparisons above compare two different paths (the CSV tuples and the columns
    are used on the generator's output)."""
    log = tmp_path / "cs.log"
    subprocess.run([sys.executable, str(GEN), "--out", str(log), "--size", "3M"], check=True, capture_output=True)
    events = block_events(log.read_bytes())
    calls = {"tuples": 0}
    feed_csv = model_export.ExportBuilder.feed_csv

    def counting(self: model_export.ExportBuilder, event: Event, header: list[str]) -> object:
        done = feed_csv(self, event, header)
        calls["tuples"] += done is not None and done[1]
        return done

    monkeypatch.setattr(model_export.ExportBuilder, "feed_csv", counting)
    text = export_text(events, "csv")
    # All but the header's discovery rows (written the general way) and the eval lines at the end.
    assert calls["tuples"] > 0.75 * text.count("\n")


class _Decoded:
    """A test double of a BlockDecoder: hands back fixed columns."""

    rule = "test:columns"

    def __init__(self, columns: list[StepColumns]) -> None:
        self.columns = columns

    def decode(self, raw: bytes, first_line: int) -> list[StepColumns]:
        return self.columns


def test_csv_text_of_columns_is_what_the_csv_module_writes() -> None:
    import csv
    import math as m

    n = 5
    columns = StepColumns(
        lines=range(10, 10 + n),
        step=[1, 2, 3, 4, 5],
        loss=[0.1, m.nan, -m.inf, 1e-7, None],
        rate=[None, 2.0, 3.5, None, 1e20],
        rate_unit='tok,"s"\n/s',
        extra=(("acc", [0.5, None, 1.0, None, 0.25]),),
    )
    batch = StepBatch(
        14, None, columns.row(0), columns.row(n - 1), n, None, None, raw=b"x\n" * n, decoder=_Decoded([columns])
    )
    header = [*model_export.STEP_COLUMNS, "acc", "more"]
    tuples = model_export.ExportBuilder().feed_tuples(batch, header)
    text = model_export.ExportBuilder().feed_csv(batch, header)
    assert tuples is not None and text is not None
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(tuples)
    assert text == (out.getvalue().encode(), n)
