"""`hwmon report SOURCE [-o FILE]`: a run as one self-contained HTML file to share (``--md``: the Markdown text form,
as ``hwmon summary --md``)."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections import deque
from datetime import datetime
from pathlib import Path

from hwmon import exitcodes
from hwmon.model.state import RunState
from hwmon.model.text import safe_text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``hwmon report``."""
    parser.add_argument("source", metavar="SOURCE", help="a log file, '-' for stdin, or a run id (or unique prefix)")
    parser.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="where to write the HTML ('-': stdout; default: stdout when it is not a terminal, else SOURCE.html)",
    )
    parser.add_argument("--md", action="store_true", help="print the Markdown summary instead (as summary --md)")


def read_run(ref: str, keep_lines: int) -> tuple[RunState, list[str], str | None, str]:
    """The run ``ref`` names, read to its end: its state, its last ``keep_lines`` lines, its command and name."""
    from hwmon.sources.open import resolve_input
    from hwmon.sources.pipeline import Reader
    from hwmon.sources.read import read_chunks, source_end

    # The one reader (one parser assembly, one fault policy), and the run's record (run.json) after its log.
    inp = resolve_input(ref)
    reader = Reader(inp.name, keep_lines=keep_lines)
    tail: deque[str] = deque(maxlen=keep_lines)
    for data in read_chunks(inp):
        events, lines, _failed = reader.parse(data)
        reader.apply(events)
        tail.extend(lines)
    events, lines, _failed = reader.parse(b"", eof=True)
    reader.apply(events)
    tail.extend(lines)
    reader.apply(inp.record)
    ended = source_end(inp)
    if ended is not None:
        reader.apply([ended])
    state = reader.state
    return state, list(tail), inp.command, inp.name


def _default_output(name: str) -> str:
    if not sys.stdout.isatty():
        return "-"
    stem = Path(name).name or "run"
    if stem.endswith(".log"):
        stem = stem[: -len(".log")]
    return f"{stem}.html"


def write_output(text: str, output: str, source_path: Path | None = None) -> None:
    """Write ``text`` to ``output`` (``-``: stdout) through a temporary file renamed into place, never over the
    input itself. Raises ``HwmonError(CANNOT_WRITE)``."""
    if output == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    target = Path(output).expanduser()
    if source_path is not None:
        try:
            if target.exists() and os.path.samefile(target, source_path):
                raise exitcodes.HwmonError(f"{output}: is the log being reported on", exitcodes.CANNOT_WRITE)
        except OSError:
            pass
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent or Path("."))
    except OSError as exc:
        raise exitcodes.HwmonError(f"{output}: cannot write: {exc.strerror or exc}", exitcodes.CANNOT_WRITE) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise exitcodes.HwmonError(f"{output}: cannot write: {exc.strerror or exc}", exitcodes.CANNOT_WRITE) from None


def run(args: argparse.Namespace) -> int:
    """Entry point of ``hwmon report``."""
    from hwmon.views.html_report import MAX_LOG_LINES, ReportInput, render

    state, lines, command, name = read_run(args.source, MAX_LOG_LINES)
    if args.md:
        from hwmon.commands.summary import render_markdown
        from hwmon.model.summary import summary_dict

        text = render_markdown(summary_dict(state)) + "\n"
    else:
        text = render(ReportInput(state, name, lines, datetime.now(), command))
    output = args.output or (_default_output(name) if not args.md else "-")
    source_path = None if args.source == "-" else Path(args.source)
    write_output(text, output, source_path if source_path is not None and source_path.is_file() else None)
    if output != "-":
        print(f"hwmon: wrote {safe_text(output)} ({len(text.encode()) / 1024:.0f} KiB)", file=sys.stderr)
    return exitcodes.OK
