"""The CSV export's text path (``StepBatch.texts`` -> ``ExportBuilder.feed_csv`` joins rows from the log's own
number texts, no float parse or format per cell) against the general path (events -> ``StepMetrics`` rows -> the
``csv`` module): the same table cell by cell, numeric cells read as floats, and the same bytes. Fixture logs, a
generated log, and a generated log of edge cases (several runs in one log, one of them earlier than the first, eval
sections, checkpoints, NaN/Inf losses, missing rates, the step-1 reset rate, lines with extra metrics, trailing
zeros, values repr writes with an exponent, leading zeros, microsecond fractions near the run's start). Also: the
decoders' texts row by row against their columns (``StepTexts``' contract), a test double of a ``TextDecoder`` for
the format-neutral parts (epoch, lr, extra columns, units per row, stamps without fractions), and guards that the
text path is taken at all."""

from __future__ import annotations

import csv
import io
import json
import math
import random
import subprocess
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from pathlib import Path

import pytest

import hwmon.commands.export as export_cmd
import hwmon.model.export as model_export
from hwmon.commands.export import export_events
from hwmon.events import Event, StepBatch, StepColumns, StepMetrics, StepTexts
from hwmon.parsers.cerebras_fast import CerebrasDecoder, expand_columns, expand_texts
from hwmon.parsers.stream import StreamParser

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
GEN = ROOT / "bench" / "gen_cerebras_log.py"
TEXT_COLUMNS = {"step", "mode", "time", "wall_s", "rate_unit", "line", "more"}


def block_events(data: bytes, chunk: int = 1 << 20) -> list[Event]:
    parser = StreamParser(blocks=True)
    events: list[Event] = []
    for start in range(0, len(data), chunk):
        events += parser.feed(data[start : start + chunk])
    return events + parser.finish()


def export_csv(events: Iterable[Event]) -> str:
    out = io.StringIO()
    export_events(events, "csv", "steps", None, stdout=out)
    return out.getvalue()


def export_jsonl(events: Iterable[Event]) -> str:
    out = io.StringIO()
    export_events(events, "jsonl", "steps", None, stdout=out)
    return out.getvalue()


def general_jsonl(events: Iterable[Event], monkeypatch: pytest.MonkeyPatch) -> str:
    """JSON Lines as the general path writes them: every batch's steps as row dicts through json.dumps."""
    with monkeypatch.context() as mp:
        mp.setattr(model_export.ExportBuilder, "feed_jsonl", lambda self, event: None)
        return export_jsonl(events)


def assert_same_lines(fast: str, slow: str) -> None:
    """JSON Lines: the same objects line by line (same keys in the same order, same values), then the bytes."""
    fast_lines, slow_lines = fast.splitlines(), slow.splitlines()
    assert len(fast_lines) == len(slow_lines)
    for number, (a, b) in enumerate(zip(fast_lines, slow_lines, strict=True), start=1):
        assert list(json.loads(a).items()) == list(json.loads(b).items()), (number, a, b)
    assert fast == slow


def general_csv(events: Iterable[Event], monkeypatch: pytest.MonkeyPatch) -> str:
    """The CSV as the general path writes it: every batch's steps as rows through the csv module."""
    with monkeypatch.context() as mp:
        mp.setattr(model_export.ExportBuilder, "feed_csv", lambda self, event, header: None)
        return export_csv(events)


def counting_texts(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Counts the rows the text path writes (from here on)."""
    calls = {"rows": 0}
    text_rows = model_export.ExportBuilder._text_rows

    def counting(self: model_export.ExportBuilder, event: Event, header: list[str]) -> tuple[bytes, int] | None:
        done = text_rows(self, event, header)
        calls["rows"] += 0 if done is None else done[1]
        return done

    monkeypatch.setattr(model_export.ExportBuilder, "_text_rows", counting)
    return calls


def counting_jsonl(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Counts the JSON lines the text path writes (from here on)."""
    calls = {"rows": 0}
    feed_jsonl = model_export.ExportBuilder.feed_jsonl

    def counting(self: model_export.ExportBuilder, event: Event) -> tuple[bytes, int] | None:
        done = feed_jsonl(self, event)
        calls["rows"] += 0 if done is None else done[1]
        return done

    monkeypatch.setattr(model_export.ExportBuilder, "feed_jsonl", counting)
    return calls


def assert_same_table(fast: str, slow: str) -> None:
    """Cell by cell: text columns equal, numeric cells equal as floats (NaN as NaN), empty where empty; then the
    bytes."""
    fast_rows = list(csv.reader(io.StringIO(fast)))
    slow_rows = list(csv.reader(io.StringIO(slow)))
    assert fast_rows[0] == slow_rows[0]
    assert len(fast_rows) == len(slow_rows)
    header = fast_rows[0]
    for number, (a, b) in enumerate(zip(fast_rows[1:], slow_rows[1:], strict=True), start=1):
        assert len(a) == len(b) == len(header), number
        for name, x, y in zip(header, a, b, strict=True):
            if name in TEXT_COLUMNS or not x or not y:
                assert x == y, (number, name, x, y)
            else:
                fx, fy = float(x), float(y)
                assert fx == fy or (math.isnan(fx) and math.isnan(fy)), (number, name, x, y)
    assert fast == slow


# --- a generated log of edge cases -----------------------------------------------------------------------------


def _stamp(t: datetime, digits: int) -> str:
    text = t.strftime("%Y-%m-%d %H:%M:%S")
    return f"{text},{t.microsecond // 10 ** (6 - digits):0{digits}d}"


ODD = [
    "loss=nan",
    "loss=inf",
    "loss=-inf",
    "loss=-0.5",
    "loss=0.00001",  # repr: 1e-05
    "loss=0123.5",
    "rate=12345678.00",
    "rate=100.",
    "rate=0.00005",
    "extra",
    "no rates",
]


def edge_log(seed: int, steps: int = 3000) -> bytes:
    """Cerebras appliance output with what a bulk block can hold: several runs (the second earlier than the first,
    starting at step 1 with the reset rate), eval sections, checkpoints, NaN/Inf losses, lines without rates or with
    extra metrics, trailing zeros, small and large numbers, microsecond timestamps at the run's start."""
    rng = random.Random(seed)
    out: list[str] = []

    def info(t: datetime, text: str) -> None:
        out.append(f"{_stamp(t, 3)} INFO:   {text}")

    runs = (
        (datetime(2024, 3, 30, 12, 0, 0, 250000), 3, rng.choice([0.0, 0.055, 0.37])),
        (datetime(2024, 3, 30, 9, 0, 0), 6, rng.choice([0.000037, 0.055])),  # before the first run's start
        (datetime(2024, 3, 30, 12, 0, 0), 6, 0.00000004),  # a whole second: walls repr writes with an exponent
    )
    for run, (start, digits, step_s) in enumerate(runs):
        t, elapsed = start, 0.0
        info(t, "Beginning appliance run")
        for step in range(1, steps + 1):
            if step > 1500 or step_s > 1e-6:
                # (the third run's first 1500 lines on its whole second, where its first batch, which fixes its
                # start, ends; the later ones microseconds after it)
                elapsed += step_s * rng.uniform(0.5, 1.5)
            t = start + timedelta(seconds=elapsed)
            loss = rng.choice([f"{rng.uniform(0, 12):.5f}", f"{rng.uniform(0, 2):.3f}", "7.50000", "10.00000"])
            rate, grate = f"{rng.uniform(1, 5000):.2f}", f"{rng.uniform(1, 5000):.2f}"
            tail = ""
            odd = ODD[(step // 90 + 5 * run) % len(ODD)] if step % 90 == 45 and step < 1000 else ""
            if odd.startswith("loss="):
                loss = odd[5:]
            elif odd.startswith("rate="):
                rate = odd[5:]
            elif odd == "extra":
                tail = ", lr=0.0001"
            fields = f"Step={step}, Loss={loss}, Rate={rate} samples/sec, GlobalRate={grate} samples/sec{tail}"
            if odd == "no rates":
                fields = f"Step={step}, Loss={loss}"
            out.append(f"{_stamp(t, digits)} INFO:   | Train Device=CSX, Step={fields.split('Step=', 1)[1]}")
            if step % 997 == 0:
                info(t, f"Saving checkpoint at step {step}")
                info(t, f"Saved checkpoint model_dir/checkpoint_{step}.mdl")
            if step % 1499 == 0:
                for batch in range(1, 6):
                    out.append(
                        f"{_stamp(t, 3)} INFO:   | Eval Device=CSX, GlobalStep={step}, Batch={batch}, Loss=2.1, "
                        f"Rate=5000.00 samples/sec, GlobalRate=6000.00 samples/sec"
                    )
                info(t, "Avg Eval Loss: 2.1")
        info(t, f"Training completed successfully! (run {run})")
    return "".join(f"{line}\n" for line in out).encode()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_edge_case_log_exports_the_same_table(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(export_cmd, "HEADER_AFTER", 256)  # the header's discovery rows: the general path
    data = edge_log(seed)
    for chunk in (1 << 20, 65536):
        events = block_events(data, chunk)
        slow = general_csv(events, monkeypatch)
        with monkeypatch.context() as mp:
            calls = counting_texts(mp)
            fast = export_csv(events)
        assert calls["rows"] > 0.4 * slow.count("\n")  # guards the guard: two different paths compared
        assert_same_table(fast, slow)
        with monkeypatch.context() as mp:
            calls = counting_jsonl(mp)
            fast_lines = export_jsonl(events)
        assert calls["rows"] > 0.4 * slow.count("\n")
        assert_same_lines(fast_lines, general_jsonl(events, monkeypatch))


def test_line_numbers_past_ten_thousand_export_the_same_table(monkeypatch: pytest.MonkeyPatch) -> None:
    """Line numbers of five digits and more are written as two pieces per row (``_LineNumbers.columns``): the edge
    log after 9,990 other lines, its batches crossing 10,000, 20,000 and 30,000."""
    monkeypatch.setattr(export_cmd, "HEADER_AFTER", 256)
    filler = b"".join(
        b"2024-03-30 08:00:00,%03d INFO:   Effective batch size is 256.\n" % (i % 1000) for i in range(9990)
    )
    data = filler + edge_log(5, steps=7000)
    events = block_events(data, 1 << 20)
    slow = general_csv(events, monkeypatch)
    with monkeypatch.context() as mp:
        calls = counting_texts(mp)
        fast = export_csv(events)
    assert calls["rows"] > 0.4 * slow.count("\n")
    lines = [int(row["line"]) for row in csv.DictReader(io.StringIO(slow))]
    assert min(lines) < 10_000 < 20_000 < 30_000 < max(lines)
    assert_same_table(fast, slow)
    with monkeypatch.context() as mp:
        calls = counting_jsonl(mp)
        fast_lines = export_jsonl(events)
    assert calls["rows"] > 0.4 * slow.count("\n")
    assert_same_lines(fast_lines, general_jsonl(events, monkeypatch))


@pytest.mark.parametrize(
    "lines",
    [
        range(1, 30),
        range(9_990, 10_010),
        range(10_000, 10_001),
        range(19_995, 40_005),
        range(99_999, 100_002),
        range(12_345_678, 12_345_681),
        range(999_999_990, 1_000_000_010),
        range(10_000, 30_000, 7),
    ],
    ids=str,
)
@pytest.mark.parametrize("before,after", [(b"", b""), (b",x,", b",\n"), (b"%d%", b"%s\n")])
def test_line_numbers_are_their_decimal_texts(lines: range, before: bytes, after: bytes) -> None:
    numbers = model_export._LineNumbers(lines)
    columns = numbers.columns(before, after)
    # The two-piece path is taken where it may be (consecutive numbers from 10,000 on).
    assert len(columns) == (1 if lines.start < 10_000 or lines.step != 1 else 2)
    assert [b"".join(cells) for cells in zip(*columns, strict=True)] == [b"%s%d%s" % (before, i, after) for i in lines]
    assert numbers.texts(before, after) == [b"%s%d%s" % (before, i, after) for i in lines]


def test_a_table_keeps_its_folded_texts_only_while_they_hold() -> None:
    """``_Table`` with ``folds`` (the wall_s fractions' table, kept across batches): the folded texts are reused
    for the same constants while the table has not grown, folded again when it has, and never for other
    constants."""
    table = {b"5": b".5", b"25": b".25"}
    folds: model_export._Folds = {}
    first = model_export._Table([b"5", b"25", b"5"], table, folds)
    assert first.texts(b"", b",") == [b".5,", b".25,", b".5,"]
    assert first.texts(b"[", b"]") == [b"[.5]", b"[.25]", b"[.5]"]  # other constants: their own fold
    table[b"125"] = b".125"  # a later batch's new fraction
    later = model_export._Table([b"125", b"5"], table, folds)
    assert later.texts(b"", b",") == [b".125,", b".5,"]
    assert later.texts(b"[", b"]") == [b"[.125]", b"[.5]"]
    assert model_export._Table([b"25"], table, folds).texts(b"", b"") == [b".25"]
    assert set(folds) == {(b"", b","), (b"[", b"]")}  # the folds are kept (the point of them)


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.log")), ids=lambda p: p.name)
def test_fixture_logs_export_the_same_table(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(export_cmd, "HEADER_AFTER", 16)
    events = block_events(path.read_bytes(), 4096)
    assert_same_table(export_csv(events), general_csv(events, monkeypatch))


@pytest.mark.integration
def test_generated_log_exports_the_same_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "cs.log"
    subprocess.run([sys.executable, str(GEN), "--out", str(log), "--size", "3M"], check=True, capture_output=True)
    events = block_events(log.read_bytes())
    slow = general_csv(events, monkeypatch)
    with monkeypatch.context() as mp:
        calls = counting_texts(mp)
        fast = export_csv(events)
    # All but the header's discovery rows (written the general way), block edges and the eval lines at the end.
    assert calls["rows"] > 0.75 * slow.count("\n")
    assert_same_table(fast, slow)


# --- the decoders' texts against their columns ---------------------------------------------------------------


def check_texts(texts: StepTexts, columns: StepColumns) -> None:
    """``StepTexts``' contract, row by row: the step's own spelling, every number its value's repr (b"" for None),
    the same extras, the time of a stamp and its fraction."""
    n = len(columns)
    assert len(texts) == n and texts.lines == columns.lines
    assert list(texts.step) == [str(s).encode() for s in columns.step]
    for name in ("loss", "rate", "global_rate", "epoch"):
        values = getattr(columns, name)
        spelled = getattr(texts, name)
        if spelled is None:
            assert values is None or values == [None] * n, name
            continue
        assert values is not None, name
        assert list(spelled) == [b"" if v is None else repr(v).encode() for v in values], name
    assert [name for name, _ in texts.extra] == [name for name, _ in columns.extra]
    for (_, spelled), (_, values) in zip(texts.extra, columns.extra, strict=True):
        assert list(spelled) == [b"" if v is None else repr(v).encode() for v in values]
    assert texts.mode == columns.mode and texts.rate_unit == columns.rate_unit
    if texts.stamps is None:
        assert columns.ts is None or columns.ts == [None] * n
        return
    assert texts.clock is not None and columns.ts is not None
    fractions = texts.fractions or [b""] * n
    for stamp, fraction, ts in zip(texts.stamps, fractions, columns.ts, strict=True):
        base = texts.clock(stamp)
        assert base is not None
        assert base + timedelta(microseconds=int((fraction + b"000000")[:6]) if fraction else 0) == ts


def text_batches(data: bytes) -> tuple[int, int]:
    """Checks every batch of ``data`` whose decoder gives texts; (batches with texts, batches)."""
    found = total = 0
    for event in block_events(data, 65536):
        if isinstance(event, StepBatch) and event.raw:
            total += 1
            texts = event.texts()
            if texts is not None:
                found += 1
                (columns,) = event.columns()
                check_texts(texts, columns)
    return found, total


@pytest.mark.parametrize("seed", [0, 3])
def test_cerebras_texts_are_the_columns(seed: int) -> None:
    found, total = text_batches(edge_log(seed))
    assert found > total / 2 and found < total  # most batches give texts, the odd ones do not


def test_cerebras_texts_decline_what_is_not_a_shortest_text() -> None:
    def line(step: str, loss: str, rate: str = "10.00") -> str:
        fields = f"Step={step}, Loss={loss}, Rate={rate} samples/sec, GlobalRate=5.25 samples/sec"
        return f"2024-03-30 12:00:01,500 INFO:   | Train Device=CSX, {fields}\n"

    ok = "".join(line(str(s), "1.50000") for s in range(1, 6)).encode()
    texts = expand_texts(ok, 10, 1)
    assert texts is not None and set(texts.loss or ()) == {b"1.5"}
    columns = expand_columns(ok, 10, 1)
    assert columns is not None
    check_texts(texts, columns)
    for step, loss, rate in [
        ("007", "1.5", "10.0"),  # leading zeros: the step 7
        ("7", "01.5", "10.0"),
        ("7", "nan", "10.0"),
        ("7", "-1.5", "10.0"),
        ("7", "0.00001", "10.0"),  # repr: 1e-05
        ("7", "1.123456789", "10.0"),  # more digits than the text path takes
        ("7", "1.5", "12345678.5"),
        ("7", "1.5", "100"),  # no fraction: repr writes 100.0
        ("7", "1.5", "100."),
    ]:
        odd = ok + line(step, loss, rate).encode()
        assert expand_texts(odd, 10, 1) is None, (step, loss, rate)


def test_megatron_texts_are_the_columns() -> None:
    from hwmon.parsers.megatron_block import MegatronDecoder

    def line(i: int, loss: str, ms: str = "350.2", rate: str | None = None) -> bytes:
        rate_field = "" if rate is None else f" samples per second: {rate} |"
        return (
            f" iteration {i:8d}/ 1000 | consumed samples: {i * 32:10d} | elapsed time per iteration (ms): {ms} |"
            f"{rate_field} learning rate: 1.000E-04 | global batch size:    32 | lm loss: {loss} | loss scale: 1.0 |"
            f" grad norm: 0.500 | number of skipped iterations:   0 | number of nan iterations:   0 |\n"
        ).encode()

    def read(text: str, number: int) -> StepMetrics | None:
        return None

    for rate in (None, "91.4"):
        raw = b"".join(line(i, f"{3.5 + i / 1000:.6E}", rate=rate) for i in range(1, 40))
        decoder = MegatronDecoder.of(raw.split(b"\n")[0], read)
        assert decoder is not None
        texts = decoder.texts(raw, 5)
        assert texts is not None
        (columns,) = decoder.decode(raw, 5)
        check_texts(texts, columns)
    odd = line(1, "3.5E+00") + line(2, "nan") + line(3, "-0.0") + line(4, "0.0")
    decoder = MegatronDecoder.of(odd.split(b"\n")[0], read)
    assert decoder is not None
    texts = decoder.texts(odd, 1)
    assert texts is not None and list(texts.loss or ()) == [b"3.5", b"nan", b"-0.0", b"0.0"]
    (columns,) = decoder.decode(odd, 1)
    check_texts(texts, columns)


# --- the format-neutral parts: a test double of a text decoder ------------------------------------------------


class _TextDecoderDouble:
    """A test double of a ``TextDecoder``: hands back fixed columns and the texts a decoder would give for them
    (every number its repr), and records the calls."""

    rule = "test:texts"

    def __init__(self, columns: StepColumns, texts: StepTexts) -> None:
        self._columns = columns
        self._texts = texts
        self.calls: list[str] = []

    def decode(self, raw: bytes, first_line: int) -> list[StepColumns]:
        self.calls.append("decode")
        return [self._columns]

    def texts(self, raw: bytes, first_line: int) -> StepTexts | None:
        self.calls.append("texts")
        return self._texts


def _spell(values: Sequence[float | None]) -> list[bytes]:
    return [b"" if v is None else repr(v).encode() for v in values]


def _double(stamps: bool, fractions: bool, start_second: int) -> tuple[StepColumns, StepTexts]:
    n = 40
    base = datetime(2024, 5, 1, 10, 0, start_second)
    micro = [(i * 123457) % 1_000_000 for i in range(n)]
    whole = [base + timedelta(seconds=i // 3) for i in range(n)]
    ts = [w + timedelta(microseconds=micro[i] if fractions else 0) for i, w in enumerate(whole)]
    loss = [None if i % 7 == 3 else math.nan if i == 5 else 1.0 / (i + 1) for i in range(n)]
    rate = [None if i % 5 == 1 else 10.5 * i for i in range(n)]
    grate = [None if i % 5 == 1 or i % 3 == 0 else 3.25 * i for i in range(n)]
    epoch = [float(i // 10) for i in range(n)]
    lr = [1e-4 * (i + 1) for i in range(n)]
    acc = [None if i % 2 else math.inf if i == 4 else i / 40 for i in range(n)]
    columns = StepColumns(
        lines=range(100, 100 + n),
        step=list(range(7, 7 + n)),
        loss=loss,
        ts=ts if stamps else None,
        rate=rate,
        global_rate=grate,
        epoch=epoch,
        extra=(("learning_rate", lr), ("acc", acc)),
        rate_unit="tokens/s",
    )
    clock_texts = {w.strftime("%H:%M:%S").encode(): w for w in whole}
    if not fractions:
        clock_texts = {t.strftime("%H:%M:%S.%f").encode(): t for t in ts}
    texts = StepTexts(
        lines=range(100, 100 + n),
        step=[str(s).encode() for s in columns.step],
        loss=_spell(loss),
        rate=_spell(rate),
        global_rate=_spell(grate),
        epoch=_spell(epoch),
        extra=(("learning_rate", _spell(lr)), ("acc", _spell(acc))),
        stamps=None
        if not stamps
        else [
            (w.strftime("%H:%M:%S") if fractions else t.strftime("%H:%M:%S.%f")).encode()
            for w, t in zip(whole, ts, strict=True)
        ],
        fractions=None if not (stamps and fractions) else [b"%06d" % us for us in micro],
        clock=clock_texts.get,
        rate_unit="tokens/s",
    )
    return columns, texts


@pytest.mark.parametrize("stamps,fractions", [(True, True), (True, False), (False, False)])
@pytest.mark.parametrize("start_second", [0, 30])
def test_a_text_decoder_of_any_format_writes_the_general_table(
    stamps: bool, fractions: bool, start_second: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(export_cmd, "HEADER_AFTER", 1)
    columns, texts = _double(stamps, fractions, start_second)
    check_texts(texts, columns)
    decoder = _TextDecoderDouble(columns, texts)
    first = columns.row(0)
    # A first event fixes the header (learning_rate as lr, acc a column) and, 30 s earlier, the run's start.
    head = StepColumns(
        lines=[1],
        step=[1],
        loss=[2.0],
        ts=[datetime(2024, 5, 1, 10, 0, 0, 400000)],
        extra=(("learning_rate", [0.1]), ("acc", [0.5])),
    ).row(0)
    batch = StepBatch(
        139,
        None,
        first,
        columns.row(len(columns) - 1),
        len(columns),
        None,
        None,
        raw=b"x\n" * len(columns),
        decoder=decoder,
    )
    events: list[Event] = [head, batch]
    slow = general_csv(events, monkeypatch)
    with monkeypatch.context() as mp:
        calls = counting_texts(mp)
        fast = export_csv(events)
    assert calls["rows"] == len(columns)  # the text path wrote the batch
    assert_same_table(fast, slow)
    with monkeypatch.context() as mp:
        calls = counting_jsonl(mp)
        fast_lines = export_jsonl(events)
    assert calls["rows"] == len(columns)
    assert_same_lines(fast_lines, general_jsonl(events, monkeypatch))


def test_a_text_decoder_whose_stamp_does_not_read_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(export_cmd, "HEADER_AFTER", 1)
    columns, texts = _double(True, True, 30)
    broken = StepTexts(
        lines=texts.lines,
        step=texts.step,
        loss=texts.loss,
        stamps=texts.stamps,
        fractions=texts.fractions,
        clock=lambda s: None,
    )
    decoder = _TextDecoderDouble(columns, broken)
    head = StepColumns(lines=[1], step=[1], loss=[2.0], extra=(("learning_rate", [0.1]), ("acc", [0.5]))).row(0)
    batch = StepBatch(139, None, columns.row(0), columns.row(39), 40, None, None, raw=b"x\n" * 40, decoder=decoder)
    with monkeypatch.context() as mp:
        calls = counting_texts(mp)
        fast = export_csv([head, batch])
    assert "texts" in decoder.calls and calls["rows"] == 0
    assert_same_table(fast, general_csv([head, batch], monkeypatch))


def test_cerebras_decoder_is_a_text_decoder() -> None:
    assert callable(getattr(CerebrasDecoder(1), "texts", None))


@pytest.mark.parametrize("odd", ["aware", "micro_and_fraction", "unknown_metric"])
def test_texts_the_general_path_must_write(odd: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Texts whose stamps read as aware times, or as times with microseconds while a fraction column is given too,
    or with a metric the header has no column for: the batch goes the general way (the columns)."""
    from datetime import timezone

    monkeypatch.setattr(export_cmd, "HEADER_AFTER", 1)
    columns, texts = _double(True, True, 30)
    clock = texts.clock
    assert clock is not None
    extra = texts.extra
    if odd == "aware":
        texts_clock = lambda s: None if (t := clock(s)) is None else t.replace(tzinfo=timezone.utc)  # noqa: E731
    elif odd == "micro_and_fraction":
        texts_clock = lambda s: None if (t := clock(s)) is None else t.replace(microsecond=5)  # noqa: E731
    else:
        texts_clock = clock
        extra = (*extra, ("zzz", [b"1.0"] * len(columns)))
    changed = StepTexts(
        lines=texts.lines,
        step=texts.step,
        loss=texts.loss,
        rate=texts.rate,
        global_rate=texts.global_rate,
        epoch=texts.epoch,
        extra=extra,
        stamps=texts.stamps,
        fractions=texts.fractions,
        clock=texts_clock,
        rate_unit=texts.rate_unit,
    )
    decoder = _TextDecoderDouble(columns, changed)
    head = StepColumns(lines=[1], step=[1], loss=[2.0], extra=(("learning_rate", [0.1]), ("acc", [0.5]))).row(0)
    batch = StepBatch(139, None, columns.row(0), columns.row(39), 40, None, None, raw=b"x\n" * 40, decoder=decoder)
    with monkeypatch.context() as mp:
        calls = counting_texts(mp)
        fast = export_csv([head, batch])
    assert "texts" in decoder.calls and calls["rows"] == 0
    assert_same_table(fast, general_csv([head, batch], monkeypatch))


def _fields_clock(stamp: bytes) -> datetime | None:
    """A stamp's time from its six fields, as expand_columns and the record stage read it."""
    try:
        return datetime(
            int(stamp[0:4]), int(stamp[5:7]), int(stamp[8:10]), int(stamp[11:13]), int(stamp[14:16]), int(stamp[17:19])
        )
    except ValueError:
        return None


def test_the_texts_clock_reads_a_stamp_as_its_fields_do() -> None:
    """``cerebras_fast._clock`` (datetime.fromisoformat) against datetime() of the six fields: every hour, minute
    and second text of two digits, days and months out of range, years 0000-9999, both separators; and what the
    shape check refuses."""
    from hwmon.parsers.cerebras_fast import _clock

    stamps = [
        b"2024-03-31 %02d:%02d:%02d" % (h, m, s) for h in range(100) for m in (0, 7, 59, 60, 99) for s in range(100)
    ]
    stamps += [
        b"%s-%02d-%02dT12:00:00" % (y, mo, d)
        for y in (b"0000", b"0001", b"2024", b"9999")
        for mo in range(100)
        for d in range(100)
    ]
    stamps += [b"2024-02-29 00:00:00", b"2023-02-29 00:00:00", b"2024-12-31 23:59:59"]
    read = 0
    for stamp in stamps:
        assert _clock(stamp) == _fields_clock(stamp), stamp
        read += _clock(stamp) is not None
    assert 0 < read < len(stamps)
    for odd in (b"2024-03-31 1:00:000", b"2024-03-31_12:00:00", b"+024-03-31 12:00:00", b"2024-03-31 12:00:0\xd9"):
        assert _clock(odd) is None, odd


def test_the_texts_clock_refuses_hour_24_on_any_python(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Python whose fromisoformat reads ``24:00:00`` as the next midnight (a test double of it): the line path
    reads no time there, so neither does the clock."""
    import hwmon.parsers.cerebras_fast as cerebras_fast

    class LenientDatetime:
        @staticmethod
        def fromisoformat(text: str) -> datetime:
            if text[11:13] == "24":
                return datetime.fromisoformat(text[:11] + "00" + text[13:]) + timedelta(days=1)
            return datetime.fromisoformat(text)

    monkeypatch.setattr(cerebras_fast, "datetime", LenientDatetime)
    assert cerebras_fast._clock(b"2024-03-31 23:00:00") == datetime(2024, 3, 31, 23)
    assert cerebras_fast._clock(b"2024-03-31 24:00:00") is None


def test_a_stamp_the_line_path_does_not_read_is_not_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """A step line whose timestamp int() would read but the record stage does not (a space-padded second) inside a
    bulk batch: its row has no time, as in the general path."""
    monkeypatch.setattr(export_cmd, "HEADER_AFTER", 16)
    lines = []
    for step in range(1, 2000):
        t = datetime(2024, 3, 30, 11, 59, 1) + timedelta(seconds=step)
        stamp = "2024-03-30 12:00: 5,500" if step == 1500 else f"{t:%Y-%m-%d %H:%M:%S},500"
        fields = f"Step={step}, Loss=1.50000, Rate=10.00 samples/sec, GlobalRate=5.25 samples/sec"
        lines.append(f"{stamp} INFO:   | Train Device=CSX, {fields}\n")
    data = ("2024-03-30 11:59:00,000 INFO:   Beginning appliance run\n" + "".join(lines)).encode()
    events = block_events(data, 65536)
    assert any(isinstance(e, StepBatch) and b"12:00: 5" in e.raw and e.first.line > 20 for e in events)
    with monkeypatch.context() as mp:
        calls = counting_texts(mp)
        fast = export_csv(events)
    assert calls["rows"] > 900
    assert_same_table(fast, general_csv(events, monkeypatch))
