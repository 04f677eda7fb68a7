"""`hwmon export SOURCE [--format csv|jsonl|parquet|tensorboard] [--what steps|eval|phases] [-o PATH]`.

The full-resolution series, streamed from the log through the parser (never the dashboard's downsampled series):
rows leave as they are parsed, so memory stays flat whatever the log's size. What a row holds is decided by the
pure ``hwmon.model.export``; this module reads the source and writes the format.

Formats: CSV (default, to stdout unless ``-o``), JSON Lines, Parquet (pyarrow: the optional ``parquet`` extra) and
TensorBoard event files (tensorboardX: the optional ``tensorboard`` extra; ``-o`` names the log directory; every
table goes in: step scalars by mode, eval scalars, phase durations).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import gc
import io
import json
import math
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, Any, Protocol

from hwmon import exitcodes
from hwmon.commands._args import add_format_file
from hwmon.commands._output import OutputFile, cannot_write
from hwmon.commands._tensorboard import TensorBoardWriter
from hwmon.events import StepBatch
from hwmon.model.export import TABLES, ExportBuilder, Row

FORMATS = ("csv", "jsonl", "parquet", "tensorboard")
WHATS = ("steps", "eval", "phases")

HEADER_AFTER = 4096
"""The CSV/Parquet header (the set of metric columns) is fixed after this many rows; metrics first seen later go
into the ``more`` column as JSON, so nothing is lost and nothing is held back."""

PARQUET_BATCH = 16384

MAX_COLUMNS = 256
"""At most this many metric columns are discovered (the first seen); others go into the ``more`` column as JSON,
so a log of thousands of distinct keys cannot make a table thousands of columns wide."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's flags."""
    parser.add_argument("source", metavar="SOURCE", help="a log file, '-' for stdin, or a run id (or unique prefix)")
    add_format_file(parser)  # h17a: user formats (issue 17)
    parser.add_argument("--format", "-f", choices=FORMATS, default="csv", help="output format (default: csv)")
    parser.add_argument(
        "--what",
        choices=WHATS,
        default="steps",
        help="which table: every step line (default), eval metrics with their step, or the phases",
    )
    parser.add_argument(
        "-o",
        "--output",
        metavar="PATH",
        help="output file (default: stdout for csv/jsonl; required for parquet; the log directory for tensorboard)",
    )


class TableWriter(Protocol):
    def write(self, rows: list[Row]) -> None: ...

    def close(self) -> None: ...


def _missing(package: str, extra: str, what: str) -> exitcodes.HwmonError:
    return exitcodes.HwmonError(
        f"{what} needs the {package} package, which is not installed: pip install 'hwmon[{extra}]' "
        f"(or pip install {package})",
        exitcodes.MISSING_PACKAGE,
    )


_cannot_write = cannot_write


# --- CSV and JSON Lines ----------------------------------------------------------------------------------------------


def _json_value(value: object) -> object:
    # JSON has no NaN/Infinity: a non-finite metric is written as null (strict JSON readers accept every line).
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class _Columns:
    """The header of a table whose metric columns are discovered from its first rows."""

    def __init__(self, fixed: tuple[str, ...], open_ended: bool) -> None:
        self.fixed = fixed
        self.open_ended = open_ended
        self.columns: list[str] | None = None
        self.pending: list[Row] = []
        self._known: frozenset[str] | None = None
        self._values: list[str] = []

    def add(self, rows: list[Row]) -> list[Row]:
        """Rows ready to write (none while the header is still being discovered)."""
        if self.columns is not None:
            return rows
        self.pending.extend(rows)
        if len(self.pending) < HEADER_AFTER:
            return []
        return self.fix()

    def fix(self) -> list[Row]:
        if self.columns is None:
            columns = list(self.fixed)
            if self.open_ended:
                seen = dict.fromkeys(columns)
                limit = len(columns) + MAX_COLUMNS
                for row in self.pending:
                    for key in row:
                        if key not in seen and len(seen) < limit:
                            seen[key] = None
                columns = list(seen)
                columns.append("more")
            self.columns = columns
        rows, self.pending = self.pending, []
        return rows

    def split(self, row: Row) -> tuple[list[object], dict[str, object]]:
        """The row's values in column order, and its metrics that have no column (first seen after the header)."""
        if self._known is None:
            assert self.columns is not None
            self._known = frozenset(self.columns)
            self._values = [c for c in self.columns if c != "more"]
        get = row.get
        values: list[object] = [get(c) for c in self._values]
        if row.keys() <= self._known:
            return values, {}
        return values, {k: v for k, v in row.items() if k not in self._known}


class CsvWriter:
    def __init__(self, out: IO[str], fixed: tuple[str, ...], open_ended: bool) -> None:
        self._out = out
        self._csv = csv.writer(out, lineterminator="\n")
        self._cols = _Columns(fixed, open_ended)
        self._header = False

    def write(self, rows: list[Row]) -> None:
        self._emit(self._cols.add(rows))

    def _emit(self, rows: list[Row]) -> None:
        if not rows and self._header:
            return
        if not self._header and self._cols.columns is not None:
            self._csv.writerow(self._cols.columns)
            self._header = True
        # The csv module writes None as an empty cell and a float as its shortest round-trip repr (nan/inf
        # readable), so values go in as they are.
        split = self._cols.split
        open_ended = self._cols.open_ended
        cells = []
        for row in rows:
            values, more = split(row)
            if open_ended:
                values.append(json.dumps({k: _json_value(v) for k, v in more.items()}) if more else None)
            cells.append(values)
        self._csv.writerows(cells)

    @property
    def header(self) -> list[str] | None:
        """The columns once the header is written (then ``write_tuples`` may be used), else ``None``."""
        return self._cols.columns if self._header else None

    def write_tuples(self, rows: Sequence[tuple[object, ...]]) -> None:
        """Rows already in header order, the ``more`` cell included (``ExportBuilder.feed_tuples``)."""
        self._csv.writerows(rows)

    def write_bytes(self, data: bytes) -> None:
        """Rows already written as CSV (UTF-8) in header order (``ExportBuilder.feed_csv``)."""
        _write_bytes(self._out, data)

    def close(self) -> None:
        self._emit(self._cols.fix())
        self._out.flush()


def _write_bytes(out: IO[str], data: bytes) -> None:
    """UTF-8 bytes already formatted: straight to the stream's byte buffer when it has one (after what the text
    layer holds), else as text."""
    buffer = getattr(out, "buffer", None)
    if buffer is None:
        out.write(data.decode())
        return
    out.flush()
    buffer.write(data)


class JsonlWriter:
    def __init__(self, out: IO[str]) -> None:
        self._out = out

    def write_bytes(self, data: bytes) -> None:
        """Lines already written as JSON (UTF-8) (``ExportBuilder.feed_jsonl``)."""
        _write_bytes(self._out, data)

    def write(self, rows: list[Row]) -> None:
        if rows:
            self._out.write(
                "".join(
                    json.dumps({k: _json_value(v) for k, v in row.items()}, ensure_ascii=False) + "\n" for row in rows
                )
            )

    def close(self) -> None:
        self._out.flush()


# --- Parquet -------------------------------------------------------------------------------------------------------

_INT_COLUMNS = {"step", "line", "index", "repeats"}
_STR_COLUMNS = {"mode", "time", "rate_unit", "name", "start", "end", "detail", "more"}


class ParquetWriter:
    """Row groups of ``PARQUET_BATCH`` rows through ``pyarrow.parquet.ParquetWriter``: int64 step/line, string
    text columns, float64 metrics. Rows are moved into column lists as they arrive (no row is held as a dict), so
    memory is one row group's columns."""

    def __init__(self, path: Path, fixed: tuple[str, ...], open_ended: bool, name: Path | None = None) -> None:
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise _missing("pyarrow", "parquet", "parquet export") from None
        self._pa = pa
        self._pq = pq
        self._path = path
        self._name = name if name is not None else path
        self._cols = _Columns(fixed, open_ended)
        self._writer: Any = None
        self._schema: Any = None
        self._data: list[list[object]] = []
        self._count = 0

    def write(self, rows: list[Row]) -> None:
        self._take(self._cols.add(rows))

    def _take(self, rows: list[Row]) -> None:
        if not rows:
            return
        columns = self._cols.columns
        assert columns is not None
        if not self._data:
            self._data = [[] for _ in columns]
        data = self._data
        split = self._cols.split
        open_ended = self._cols.open_ended
        width = len(columns) - (1 if open_ended else 0)
        for row in rows:
            values, more = split(row)
            for i in range(width):
                data[i].append(values[i])
            if open_ended:
                data[width].append(json.dumps({k: _json_value(v) for k, v in more.items()}) if more else None)
            self._count += 1
            if self._count >= PARQUET_BATCH:
                self._flush()
                data = self._data = [[] for _ in columns]

    def _flush(self) -> None:
        pa = self._pa
        columns = self._cols.columns
        if columns is None:
            return
        if self._schema is None:
            fields = []
            for name in columns:
                kind = pa.int64() if name in _INT_COLUMNS else pa.string() if name in _STR_COLUMNS else pa.float64()
                fields.append(pa.field(name, kind))
            self._schema = pa.schema(fields)
            try:
                self._writer = self._pq.ParquetWriter(str(self._path), self._schema)
            except OSError as exc:
                raise _cannot_write(self._name, exc) from None
        if not self._data:
            self._data = [[] for _ in columns]
        arrays = [pa.array(values, type=field.type) for values, field in zip(self._data, self._schema, strict=True)]
        self._writer.write_table(pa.Table.from_arrays(arrays, schema=self._schema))
        self._data = []
        self._count = 0

    def close(self) -> None:
        self._take(self._cols.fix())
        if self._count or self._writer is None:
            self._flush()
        if self._writer is not None:
            self._writer.close()


# --- the command ---------------------------------------------------------------------------------------------------


def export_events(
    events: Iterable[Any],
    fmt: str,
    what: str,
    output: str | None,
    stdout: IO[str] | None = None,
    inputs: tuple[Path | None, ...] = (),
) -> tuple[int, int]:
    """Write the ``what`` table of ``events`` as ``fmt``; returns (rows written, step rows seen). The I/O core of
    the command, usable on any event stream. An output file is written to a temporary file and renamed into place
    when complete (``hwmon.commands._output``); one of ``inputs`` as the output is refused (exit 64)."""
    builder = ExportBuilder()
    fixed = TABLES[what]
    open_ended = what == "steps"
    if fmt == "tensorboard":
        if output is None or output == "-":
            raise exitcodes.HwmonError("tensorboard export needs -o LOGDIR (a directory)", exitcodes.USAGE)
        tb = TensorBoardWriter(Path(output))
        try:
            for event in events:
                steps, evals = builder.feed(event)
                if steps:
                    tb.steps(steps)
                if evals:
                    tb.evals(evals)
            tb.phases(builder.phase_rows())
            tb.close()
        except OSError as exc:
            tb.discard()
            raise _cannot_write(output, exc) from None
        except BaseException:
            tb.discard()
            raise
        return tb.scalars, builder.step_count
    target = OutputFile(output, inputs) if output is not None and output != "-" else None
    out: IO[str] | None = None
    writer: TableWriter
    try:
        if fmt == "parquet":
            if target is None:
                raise exitcodes.HwmonError("parquet export needs -o FILE (parquet is binary)", exitcodes.USAGE)
            target.create()
            writer = ParquetWriter(target.path, fixed, open_ended, name=target.destination)
        else:
            if target is None:
                out = stdout if stdout is not None else sys.stdout
            else:
                try:
                    out = open(target.path, "w", encoding="utf-8", newline="")
                except OSError as exc:
                    raise _cannot_write(output, exc) from None
            writer = CsvWriter(out, fixed, open_ended) if fmt == "csv" else JsonlWriter(out)
        written = _write_table(builder, writer, events, what)
        if target is not None and out is not None:
            out.close()
        if target is not None:
            target.commit()
    except OSError as exc:
        if target is not None:
            target.discard()
        if isinstance(exc, BrokenPipeError):
            raise
        raise _cannot_write(output or "stdout", exc) from None
    except BaseException:
        if target is not None:
            target.discard()
        raise
    finally:
        if target is not None and out is not None and not out.closed:
            with contextlib.suppress(OSError):
                out.close()
    return written, builder.step_count


def _write_table(builder: ExportBuilder, writer: TableWriter, events: Iterable[Any], what: str) -> int:
    # Millions of short-lived rows and tuples (regex matches, cells) and no reference cycles: the cyclic garbage
    # collector's passes over them cost a tenth of the CSV export and free nothing; reference counting frees them.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _write_rows(builder, writer, events, what)
    finally:
        if collecting:
            gc.enable()


def _write_rows(builder: ExportBuilder, writer: TableWriter, events: Iterable[Any], what: str) -> int:
    written = 0
    csv_steps = writer if isinstance(writer, CsvWriter) and what == "steps" else None
    jsonl_steps = writer if isinstance(writer, JsonlWriter) and what == "steps" else None
    for event in events:
        if jsonl_steps is not None and isinstance(event, StepBatch):
            # A bulk batch whose decoder gives number texts: its lines joined from them (feed's rows as json writes
            # them).
            fast = builder.feed_jsonl(event)
            if fast is not None:
                jsonl_steps.write_bytes(fast[0])
                written += fast[1]
                continue
        if csv_steps is not None and isinstance(event, StepBatch) and (header := csv_steps.header) is not None:
            # The bulk path's block of step lines written as CSV at once: joined from the log's own number texts
            # when its decoder gives them, else from its columns, column by column (as the csv module writes them).
            fast = builder.feed_csv(event, header)
            if fast is not None:
                csv_steps.write_bytes(fast[0])
                written += fast[1]
                continue
        steps, evals = builder.feed(event)
        rows = steps if what == "steps" else evals if what == "eval" else None
        if rows:
            writer.write(rows)
            written += len(rows)
    if what == "phases":
        rows = builder.phase_rows()
        writer.write(rows)
        written = len(rows)
    writer.close()
    return written


def run(args: argparse.Namespace) -> int:
    """Entry point of ``hwmon export``."""
    from hwmon.sources.open import resolve_input
    from hwmon.sources.read import read_events

    inp = resolve_input(args.source)
    if args.format in ("parquet", "tensorboard") and (args.output is None or args.output == "-"):
        kind = "FILE" if args.format == "parquet" else "LOGDIR"
        raise exitcodes.HwmonError(f"{args.format} export needs -o {kind}", exitcodes.USAGE)
    stdout = None
    if args.output is None or args.output == "-":
        # Line-buffered text on a pipe is slow for millions of rows: a large buffer, flushed at the end.
        stdout = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="", write_through=False)
    try:
        export_events(read_events(inp), args.format, args.what, args.output, stdout=stdout, inputs=(inp.path,))
    finally:
        if stdout is not None:
            try:
                stdout.flush()
            finally:
                stdout.detach()
    return exitcodes.OK
