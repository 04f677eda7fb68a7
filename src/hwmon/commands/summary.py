"""`hwmon summary LOG [--json | --md]`: what a finished (or cut) log says about its run.

Fast path by design: it imports the parsers and the model only; rich is imported lazily for the human output, and
Textual never. Log text is data: it is always handed to rich as ``Text`` (never markup) and escaped in Markdown.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from hwmon import exitcodes
from hwmon.commands._args import add_format_file
from hwmon.model.figures import fmt_error_count, fmt_share
from hwmon.model.text import safe_text

if TYPE_CHECKING:
    from hwmon.model.state import RunState


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's flags."""
    parser.add_argument(
        "log",
        nargs="?",
        metavar="REF",
        help="what to summarise: a log file ('-' reads stdin), a run directory, a run id (or unique prefix), "
        "HOST:PATH or ssh://[user@]host[:port]/path, slurm:JOBID",
    )
    add_format_file(parser)  # h17a: user formats (issue 17)
    fmt = parser.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print the hwmon.summary/1 JSON contract")
    fmt.add_argument("--md", action="store_true", help="print a Markdown report")
    fmt.add_argument(
        "--explain",
        action="store_true",
        help="for each figure (status, vendor, phases, last step/loss/rate, eval, checkpoints): the line that gave it "
        "and the rule or learned template that read it",
    )  # h17a (issue 17)
    parser.add_argument(
        "--ssh-opt",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="for a remote LOG (HOST:PATH or ssh://[user@]host[:port]/path): an ssh option, passed as -o KEY=VALUE "
        "(repeatable)",
    )
    parser.add_argument(
        "--exit-status",
        action="store_true",
        help=f"exit with {exitcodes.RUN_FAILED} when the run failed",
    )


# C0/C1 control characters (ESC, BEL, CR...): the splitter already strips them from log lines, but the report must
# be terminal-safe whatever state it is given.


def _one_line(text: str) -> str:
    # The one sanitiser (escape sequences, C0, C1, DEL, bidi controls), then whitespace runs folded.
    return " ".join(safe_text(text).split())


def _safe(text: object) -> str:
    """Log-derived text made safe for a terminal: control characters removed, one line."""
    return _one_line(str(text))


def summarize_file(path: Path, source: str | None = None) -> RunState:
    """Read the log at ``path`` to its end through the one reader (``hwmon.sources.read``) into a ``RunState``; the
    log of a supervised run (``output.log`` beside its ``run.json``) brings its run's record, so its status follows
    the supervisor, never the log text.

    Raises ``HwmonError(BAD_INPUT)`` for a missing, unreadable or non-regular file (one line, no traceback).
    """
    from dataclasses import replace

    from hwmon.sources.open import resolve_input
    from hwmon.sources.read import read_state

    inp = resolve_input(str(path)) if path.exists() and not path.is_dir() else None
    if inp is None:
        from hwmon.sources.open import Input

        inp = Input(str(path), path)
    if source is not None:
        inp = replace(inp, name=source)
    return read_state(inp)


def run(args: argparse.Namespace) -> int:
    """Summarise what the ref names and print it in the chosen format."""
    from hwmon.model.summary import summary_dict
    from hwmon.sources.open import resolve_input
    from hwmon.sources.read import read_state

    if args.log is None:
        # A bare `hwmon summary` used to summarise a bundled example silently; the example lives in `hwmon demo`.
        raise exitcodes.HwmonError(
            "summary needs a log file (or '-' to read stdin); to see an example run: hwmon demo", exitcodes.USAGE
        )
    inp = resolve_input(args.log, args.ssh_opt)
    state = read_state(inp)
    summary = summary_dict(state)
    if inp.path is not None or inp.remote is not None:
        add_expected(summary, state, inp.key, inp.command, finished=_finished(state, inp.path))
    if args.json:
        sys.stdout.write(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    elif args.md:
        sys.stdout.write(render_markdown(summary))
    elif args.explain:
        from hwmon.commands.explain import explain

        explain(summary, sys.stdout, inp.path if inp.path is not None and inp.path.is_file() else None)
    else:
        render_human(summary)
    if args.exit_status and summary["status"] == "failed":
        return exitcodes.RUN_FAILED
    return exitcodes.OK


def _finished(state: RunState, path: Path | None) -> bool:
    """Whether the run read is over, so the history may record it: it ended (its own end, its supervisor's record),
    or its log has been quiet past the silence threshold (its end is unknown, but it is not going on)."""
    from hwmon.model.alerts import SILENCE_S
    from hwmon.model.figures import is_ended

    if is_ended(state) or state.outcome is not None:
        return True
    if state.status == "running" or path is None:
        return False  # the supervisor says it runs; a remote log cannot be asked
    try:
        return time.time() - path.stat().st_mtime >= SILENCE_S
    except OSError:
        return False


def add_expected(
    summary: dict[str, object], state: RunState, source: str, command: str | None = None, *, finished: bool = True
) -> None:
    """Record the run in the history and add each phase's ``expected`` duration from past runs of the same job
    (``{"seconds", "runs", "basis"}``, or null when no past run says): keys are only added to the contract."""
    from hwmon.store.history import remember

    expected = remember(state, source, command, finished=finished)
    phases = summary.get("phases")
    if isinstance(phases, list):
        for phase in phases:
            if isinstance(phase, dict):
                exp = expected.get(str(phase.get("name")))
                phase["expected"] = (
                    None if exp is None else {"seconds": exp.seconds, "runs": exp.runs, "basis": exp.basis}
                )


# --- formatting helpers (shared by the human and Markdown reports) -------------------------------------------------


def fmt_seconds(seconds: object) -> str:
    """A duration as every view spells it (``hwmon.model.figures.fmt_wall``); ``-`` when unknown."""
    from hwmon.model.figures import fmt_wall

    return fmt_wall(float(seconds)) if isinstance(seconds, (int, float)) and not isinstance(seconds, bool) else "-"


def fmt_loss_value(value: object) -> str:
    """A loss or metric value as every view spells it (``hwmon.model.figures.fmt_loss``)."""
    from hwmon.model.figures import fmt_loss

    return fmt_loss(float(value)) if isinstance(value, (int, float)) and not isinstance(value, bool) else "-"


def fmt_num(value: object) -> str:
    """A compact number: integers as is, floats with 4–6 significant digits."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != 0 and (abs(value) >= 1e6 or abs(value) < 1e-3):
            return f"{value:.4g}"
        return f"{value:.6g}"
    return str(value)


def _dict(value: object) -> dict[str, object]:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[object]:
    return value if isinstance(value, list) else []


def _phase_rows(summary: dict[str, object]) -> list[tuple[str, str, str, str]]:
    """(name, duration, % of wall, detail) for each phase."""
    wall = summary.get("wall_seconds")
    rows = []
    for item in _list(summary.get("phases")):
        phase = _dict(item)
        seconds = phase.get("seconds")
        share = "-"
        if isinstance(seconds, (int, float)) and isinstance(wall, (int, float)) and wall > 0:
            share = fmt_share(seconds / wall)
        rows.append((str(phase.get("name")), fmt_seconds(seconds), share, str(phase.get("detail") or "")))
    return rows


def _train_lines(summary: dict[str, object]) -> list[tuple[str, str]]:
    train = _dict(summary.get("train"))
    rows: list[tuple[str, str]] = []
    steps = _dict(train.get("steps"))
    if steps:
        rows.append(("steps", f"{steps['first']} → {steps['last']} ({steps['count']} reports)"))
    loss = _dict(train.get("loss"))
    if loss:
        first, last, low = (fmt_loss_value(loss.get(k)) for k in ("first", "last", "min"))
        rows.append(("loss", f"{first} → {last} (min {low})"))
        if loss.get("nonfinite"):
            rows.append(("non-finite losses", str(loss["nonfinite"])))
    rate = _dict(train.get("rate"))
    if rate:
        unit = str(rate.get("unit") or "")
        rows.append(("rate", f"{fmt_num(rate.get('last'))} {unit}   global {fmt_num(rate.get('global'))} {unit}"))
    if train.get("samples") is not None or train.get("seconds") is not None:
        rows.append(("processed", f"{fmt_num(train.get('samples'))} samples in {fmt_seconds(train.get('seconds'))}"))
    eval_steps = _dict(summary.get("eval_steps"))
    if eval_steps:
        last_loss = fmt_loss_value(eval_steps.get("last_loss"))
        rows.append(("eval steps", f"{eval_steps['count']} reports, last loss {last_loss}"))
    return rows


def _progress_text(bar: dict[str, object]) -> str:
    total = bar.get("total")
    done = f"{bar.get('n')}/{total}" if total is not None else f"{bar.get('n')}"
    extra = f" in {fmt_seconds(bar.get('elapsed_s'))}" if bar.get("elapsed_s") is not None else ""
    return done + extra


def _header_fields(summary: dict[str, object]) -> list[tuple[str, str]]:
    vendor = summary.get("vendor") or "unknown vendor"
    device = summary.get("device")
    rows = [
        ("source", str(summary.get("source"))),
        ("vendor", f"{vendor}" + (f" ({device})" if device else "")),
        ("status", str(summary.get("status"))),
        ("wall time", fmt_seconds(summary.get("wall_seconds"))),
    ]
    jobs = [str(j) for j in _list(summary.get("job_ids"))]
    if jobs:
        rows.append(("job ids", ", ".join(jobs)))
    runs = summary.get("runs")
    if isinstance(runs, int) and runs > 1:
        rows.append(("runs in log", f"{runs} (showing the last)"))
    rows.extend(distributed_rows(summary))
    return rows


def distributed_rows(summary: dict[str, object]) -> list[tuple[str, str]]:
    """Issue 21's header rows, from the summary's own keys: how the run ended, its error (the first failing rank's),
    the known failure it matches with what to try, requeues and productive time, the ranks."""
    rows: list[tuple[str, str]] = []
    end = _dict(summary.get("end_reason"))
    if end.get("text"):
        rows.append(("ended", str(end["text"])))
    if summary.get("error") and summary.get("status") == "failed":
        rows.append(("error", str(summary["error"])))
    cause = _dict(summary.get("cause"))
    if cause.get("name"):
        rows.append(
            ("cause", f"{cause['name']} — try: {cause.get('hint')}" if cause.get("hint") else str(cause["name"]))
        )
    requeues = summary.get("requeues")
    if isinstance(requeues, int) and requeues:
        rows.append(
            ("requeues", f"{requeues}; productive {fmt_seconds(summary.get('productive_seconds'))} of the wall time")
        )
    ranks = summary.get("ranks_count")
    if isinstance(ranks, int) and ranks:
        rows.append(("ranks", str(ranks)))
    return rows


# --- human output (rich) -------------------------------------------------------------------------------------------


def render_human(summary: dict[str, object]) -> None:
    """Print the report with rich: readable at 80 columns, colour only on a terminal, NO_COLOR honoured."""
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(highlight=False, emoji=False)
    status = str(summary.get("status"))
    status_style = {"succeeded": "bold green", "failed": "bold red", "running": "bold yellow"}.get(status, "bold")

    head = Table.grid(padding=(0, 1))
    head.add_column(style="bold", no_wrap=True)
    head.add_column(overflow="fold")
    for key, value in _header_fields(summary):
        head.add_row(key, Text(_safe(value), style=status_style if key == "status" else ""))
    console.print(Text("hwmon summary", style="bold underline"))
    console.print(head)

    phases = _phase_rows(summary)
    if phases:
        table = Table(title="Phases", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
        table.add_column("phase", no_wrap=True)
        table.add_column("duration", justify="right", no_wrap=True)
        table.add_column("% wall", justify="right", no_wrap=True)
        table.add_column("detail", overflow="fold", max_width=40)
        for name, duration, share, detail in phases:
            table.add_row(Text(_safe(name)), Text(duration), Text(share), Text(_safe(detail)))
        console.print(table)

    train = _train_lines(summary)
    if train:
        console.print(Text("Training", style="bold"))
        grid = Table.grid(padding=(0, 1))
        grid.add_column(no_wrap=True)
        grid.add_column(overflow="fold")
        for key, value in train:
            grid.add_row(Text(f"  {_safe(key)}"), Text(_safe(value)))
        console.print(grid)

    def section(title: str, rows: list[tuple[str, str]]) -> None:
        if not rows:
            return
        console.print(Text(title, style="bold"))
        grid = Table.grid(padding=(0, 1))
        grid.add_column(no_wrap=False, max_width=38, overflow="fold")
        grid.add_column(overflow="fold")
        for key, value in rows:
            grid.add_row(Text(f"  {_safe(key)}"), Text(_safe(value)))
        console.print(grid)

    section(
        "Progress",
        [(str(_dict(b).get("name") or "(bar)"), _progress_text(_dict(b))) for b in _list(summary.get("progress"))],
    )
    section(
        "Checkpoints",
        [
            (f"step {fmt_num(_dict(c).get('step'))}", str(_dict(c).get("path") or ""))
            for c in _list(summary.get("checkpoints"))
        ],
    )
    section("Eval", [(str(k), fmt_loss_value(v)) for k, v in _dict(summary.get("eval")).items()])
    model = _dict(summary.get("model"))
    if model:
        section("Model", [(str(model.get("name")), f"{model.get('modules')} modules")])
    errors = [str(e) for e in _list(summary.get("errors"))]
    if errors:
        console.print(Text(f"Errors ({_error_count(summary)})", style="bold red"))
        grid = Table.grid(padding=(0, 1))
        grid.add_column(no_wrap=True)
        grid.add_column(overflow="fold")
        for message in errors[-10:]:
            grid.add_row(Text(" "), Text(_safe(message)))
        console.print(grid)
        if len(errors) > 10:
            console.print(Text(f"  … and {len(errors) - 10} earlier distinct errors (see --json)"))
    console.print(Text(f"Warnings: {summary.get('warnings')}"))


def _error_count(summary: dict[str, object]) -> str:
    count, earlier = summary.get("error_count"), summary.get("earlier_error_count")
    return fmt_error_count(count if isinstance(count, int) else 0, earlier if isinstance(earlier, int) else 0)


# --- Markdown ------------------------------------------------------------------------------------------------------


def _md(text: object) -> str:
    """Escape log text for a Markdown table cell or line: it must stay literal."""
    out = safe_text(text).replace("\\", "\\\\")  # sanitised first: escaping must not split a sequence
    for char in "|`*_[]<>#":
        out = out.replace(char, "\\" + char)
    return _one_line(out)


def render_markdown(summary: dict[str, object]) -> str:
    """The report as Markdown (for pasting into an issue or a lab notebook)."""
    lines = [f"# hwmon summary: {_md(summary.get('source'))}", ""]
    for key, value in _header_fields(summary):
        lines.append(f"- **{key}**: {_md(value)}")
    phases = _phase_rows(summary)
    if phases:
        lines += ["", "## Phases", "", "| phase | duration | % wall | detail |", "|---|---:|---:|---|"]
        lines += [f"| {_md(n)} | {d} | {s} | {_md(detail)} |" for n, d, s, detail in phases]
    train = _train_lines(summary)
    if train:
        lines += ["", "## Training", ""]
        lines += [f"- **{key}**: {_md(value)}" for key, value in train]
    progress = _list(summary.get("progress"))
    if progress:
        lines += ["", "## Progress", ""]
        lines += [f"- {_md(_dict(b).get('name') or '(bar)')}: {_progress_text(_dict(b))}" for b in progress]
    checkpoints = _list(summary.get("checkpoints"))
    if checkpoints:
        lines += ["", "## Checkpoints", ""]
        for item in checkpoints:
            c = _dict(item)
            lines.append(f"- step {fmt_num(c.get('step'))}: {_md(c.get('path') or '')}")
    evals = _dict(summary.get("eval"))
    if evals:
        lines += ["", "## Eval", "", "| metric | value |", "|---|---:|"]
        lines += [f"| {_md(k)} | {fmt_loss_value(v)} |" for k, v in evals.items()]
    model = _dict(summary.get("model"))
    if model:
        lines += ["", "## Model", "", f"{_md(model.get('name'))}: {model.get('modules')} modules"]
    errors = _list(summary.get("errors"))
    lines += ["", f"## Errors ({_error_count(summary)})", ""]
    lines += [f"- {_md(e)}" for e in errors] or ["none"]
    lines += ["", f"**Warnings**: {summary.get('warnings')}", ""]
    return "\n".join(lines)
