"""`hwmon compare A B [C ...] [--json | --md]`: runs side by side (logs, run ids, any vendors).

Each source is read once, at full resolution, through the streaming parser; the figures come from the pure
``hwmon.model.compare``. ``--json`` prints the ``hwmon.compare/1`` dict, ``--md`` a Markdown table; otherwise a
terminal gets the compare screen (loss curves against step and wall time, timelines on one time axis) and a pipe a
plain table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from hwmon import exitcodes
from hwmon.commands._args import add_format_file

if TYPE_CHECKING:
    from hwmon.model.compare import RunFigures


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's flags."""
    parser.add_argument("sources", nargs="+", metavar="SOURCE", help="log files, run ids (or unique prefixes), '-'")
    add_format_file(parser)  # h17a: user formats (issue 17)
    fmt = parser.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print the hwmon.compare/1 JSON")
    fmt.add_argument("--md", action="store_true", help="print a Markdown table")
    fmt.add_argument("--plain", action="store_true", help="print a plain table even on a terminal")


def collect(refs: list[str]) -> list[RunFigures]:
    """The figures of each source, in the order given."""
    from hwmon.model.compare import RunCollector
    from hwmon.sources.open import resolve_input
    from hwmon.sources.read import read_events

    if refs.count("-") > 1:
        raise exitcodes.HwmonError("stdin ('-') can be only one of the sources", exitcodes.USAGE)
    inputs = [resolve_input(ref) for ref in refs]  # every source checked before any is read
    names = [Path(inp.name).name if inp.path is not None and inp.name == str(inp.path) else inp.name for inp in inputs]
    if len(set(names)) < len(names):
        names = [inp.name for inp in inputs]  # two logs of the same name: their paths tell them apart
    figures = []
    for inp, name in zip(inputs, names, strict=True):
        collector = RunCollector(name, command=inp.command)
        for event in read_events(inp):
            collector.feed(event)
        figures.append(collector.figures())
    return figures


def _safe(text: str) -> str:
    from hwmon.commands.summary import _safe as summary_safe

    return summary_safe(text)


def render_markdown(runs: list[RunFigures]) -> str:
    """The comparison as a Markdown table (log-derived text escaped)."""
    from hwmon.commands.summary import _md
    from hwmon.model.compare import table_rows

    header = "| | " + " | ".join(_md(r.name) for r in runs) + " |"
    lines = ["# hwmon compare", "", header, "|---|" + "---:|" * len(runs)]
    for label, cells in table_rows(runs):
        lines.append(f"| {_md(label.strip())} | " + " | ".join(_md(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def render_plain(runs: list[RunFigures]) -> None:
    """The comparison as a rich table (no colour off a terminal, NO_COLOR honoured); log text is ``Text``."""
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from hwmon.model.compare import table_rows

    rows = table_rows(runs)
    console = Console(highlight=False, emoji=False)
    if not console.is_terminal:
        # A file or a pipe has no width to respect: room for every name and cell on one line.
        widths = [max([len(_safe(r.name))] + [len(cells[i]) for _, cells in rows]) for i, r in enumerate(runs)]
        console.width = max(console.width, max(len(label) for label, _ in rows) + sum(w + 3 for w in widths) + 4)
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, title="hwmon compare", title_justify="left")
    table.add_column("", no_wrap=True)
    for r in runs:
        table.add_column(Text(_safe(r.name)), justify="right", overflow="fold", min_width=min(24, len(_safe(r.name))))
    for label, cells in rows:
        table.add_row(Text(_safe(label)), *(Text(_safe(c)) for c in cells))
    console.print(table)


def run(args: argparse.Namespace) -> int:
    """Entry point of ``hwmon compare``."""
    if len(args.sources) < 2:
        raise exitcodes.HwmonError("compare needs at least two sources (A B [C ...])", exitcodes.USAGE)
    runs = collect(list(args.sources))
    if args.json:
        from hwmon.model.compare import compare_dict

        sys.stdout.write(json.dumps(compare_dict(runs), indent=2, ensure_ascii=False) + "\n")
    elif args.md:
        sys.stdout.write(render_markdown(runs))
    elif args.plain or not sys.stdout.isatty() or os.environ.get("TERM", "") == "dumb" or "-" in args.sources:
        render_plain(runs)
    else:
        from hwmon.tui.compare import run_compare

        run_compare(runs)
    return exitcodes.OK
