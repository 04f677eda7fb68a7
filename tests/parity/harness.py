"""What each view prints of one run, read back as strings: the parity test compares them (issue 18, item 6).

Every view is driven the way a user drives it — the CLI in-process (``summary``, ``compare``, ``export``, ``ls``),
plain mode's printer, the fleet's tracker and row cells, the dashboard's header on a real (pilot) screen — and what
it printed is parsed back into the same fields: status, wall, phases, step, loss, rate, ETA. A field a view does not
show is left out. The reference is the model's own figures over the whole-file read (``hwmon.model.figures``).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from hwmon.cli import main
from hwmon.events import SourceEnded
from hwmon.model import figures
from hwmon.model.eta import eta_seconds, fmt_eta
from hwmon.model.state import RunState
from hwmon.sources.pipeline import Reader
from hwmon.sources.read import summarize_bytes

CLOCK = 1000.0


@dataclass
class Shown:
    """The figures one view printed (None: the view does not show that figure)."""

    view: str
    status: str | None = None
    wall: str | None = None
    phases: list[tuple[str, str]] | None = None
    step: str | None = None
    loss: str | None = None
    rate: str | None = None
    eta: str | None = None
    extra: dict[str, object] = field(default_factory=dict)


def reference(state: RunState, now: float | None = None) -> Shown:
    """The model's figures, spelt by its ``fmt_*`` functions: what every view must print."""
    progress = figures.step_progress(state)
    _step, loss = figures.last_loss(state)
    return Shown(
        "model",
        status=figures.display_status(state, now),
        wall=figures.fmt_wall(figures.wall_seconds(state, now)),
        phases=[
            (p.name, figures.fmt_wall(s))
            for p, s in zip(state.phases, figures.phase_durations(state, now), strict=True)
        ],
        step=None if progress is None or progress.step is None else str(progress.step),
        loss=None if loss is None else figures.fmt_loss(loss),
        rate=None if (rate := figures.current_rate(state)) is None else figures.fmt_rate(rate),
        eta=fmt_eta(eta_seconds(state, now)),
    )


def run_cli(*args: str) -> str:
    """``hwmon ARGS`` in-process: its stdout (it must exit 0)."""
    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding="utf-8", write_through=True)
    with contextlib.redirect_stdout(out):
        code = main(list(args))
    out.flush()
    assert code == 0, (args, code)
    return raw.getvalue().decode("utf-8")


def summary_json(path: Path) -> Shown:
    data = json.loads(run_cli("summary", "--json", str(path)))
    loss = (data["train"]["loss"] or {}).get("last")
    return Shown(
        "summary --json",
        status=data["status"],
        wall=figures.fmt_wall(data["wall_seconds"]),
        phases=[(p["name"], figures.fmt_wall(p["seconds"])) for p in data["phases"]],
        extra={"loss.last": None if loss is None else figures.fmt_loss(loss)},
    )


def summary_human(path: Path) -> Shown:
    text = run_cli("summary", str(path))
    status = re.search(r"^status\s+(\S+)", text, re.M)
    wall = re.search(r"^wall time\s+(\S+)", text, re.M)
    return Shown("summary", status=status.group(1) if status else None, wall=wall.group(1) if wall else None)


def summary_md(path: Path) -> Shown:
    text = run_cli("summary", "--md", str(path))
    status = re.search(r"^- \*\*status\*\*: (\S+)", text, re.M)
    wall = re.search(r"^- \*\*wall time\*\*: (\S+)", text, re.M)
    rows = re.findall(r"^\| (\w+) \| (\S+) \| \S+ \|", text, re.M)
    phases = [(name, duration) for name, duration in rows if name not in ("phase", "metric")]
    return Shown(
        "summary --md",
        status=status.group(1) if status else None,
        wall=wall.group(1) if wall else None,
        phases=phases or None,
    )


def compare_json(path: Path) -> Shown:
    run = json.loads(run_cli("compare", "--json", str(path), str(path)))["runs"][0]
    return Shown(
        "compare --json",
        status=run["status"],
        wall=figures.fmt_wall(run["wall_seconds"]),
        extra={
            "totals": [
                (p["name"], figures.fmt_wall(p["seconds"]), figures.fmt_share(p["share"])) for p in run["phases"]
            ]
        },
    )


def export_phases(path: Path) -> Shown:
    rows = list(csv.DictReader(io.StringIO(run_cli("export", "--what", "phases", "--format", "csv", str(path)))))
    return Shown(
        "export --what phases",
        phases=[(r["name"], figures.fmt_wall(float(r["seconds"]) if r["seconds"] else None)) for r in rows],
        extra={"shares": [figures.fmt_share(float(r["share"]) if r["share"] else None) for r in rows]},
    )


def live_state(data: bytes, name: str) -> RunState:
    """What a live view folds: the one reader's events arriving at the clock, then the source's end (a finished
    log: its file goes quiet, or its pipe closes)."""
    reader = Reader(name, keep_lines=0)
    reader.feed(data, CLOCK)
    reader.feed(b"", CLOCK, eof=True)
    reader.apply([SourceEnded(0, None, "ended")], CLOCK)
    return reader.state


_FIELD = re.compile(r"^(step|loss|rate|ETA) (.+)$")


def plain_end_line(data: bytes, name: str) -> Shown:
    """Plain mode's closing line over the same state a follower gives it."""
    from hwmon.views.plain import PlainPrinter

    state = live_state(data, name)
    out = io.StringIO()
    printer = PlainPrinter(state, out)
    printer.emit("end", f"source ended | {printer.status_text(CLOCK)}")
    parts = out.getvalue().strip().split(" | ")
    shown = Shown("plain", status=parts[1], eta="-")
    for part in parts[2:]:
        match = _FIELD.match(part)
        if match is not None:
            key, value = match.groups()
            setattr(shown, key.lower(), value)
    return shown


def fleet_cells(path: Path) -> Shown:
    """The fleet's row for the log (a recently attached file): its tracker, its row, its printed cells."""
    import os
    import tempfile

    from hwmon.sources.fleet import LogTracker, _row
    from hwmon.tui.fleet import cells

    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / path.name
        copy.write_bytes(path.read_bytes())
        written = os.stat(copy).st_mtime - 5.0  # written a few seconds ago: the tracker's next look finds it quiet
        os.utime(copy, (written, written))
        readings = iter([CLOCK - 5.0, CLOCK])  # read, then looked at again 5 s later: quiet, held lines released
        tracker = LogTracker(copy, clock=lambda: next(readings, CLOCK))
        tracker.poll()
        tracker.poll()
    tracker.reader.apply([SourceEnded(0, None, "ended")], CLOCK)
    state = tracker.state
    row = _row("file:x", "file", path.name, "local", "", figures.display_status(state, CLOCK), state, CLOCK, ref="x")
    name, where, device, status, phase, step, loss, rate, eta, alerts = cells(row, wide=True)
    return Shown(
        "fleet",
        status=status,
        step=None if step == "-" else step.split("/")[0],
        loss=None if loss == "-" else loss,
        rate=None if rate == "-" else rate.replace("sa/s", "samples/sec"),
        eta=eta,
    )


def summarize(path: Path) -> RunState:
    """The whole-file read of a finished log: ``summary``'s state, and its source has ended (a follower of the same
    file says so once it is quiet)."""
    state = summarize_bytes(path.read_bytes(), str(path))
    from hwmon.model.reducer import apply

    apply(state, SourceEnded(0, None, "ended"), None)
    return state


_STATUS = re.compile(r"│\s+([A-Z]+)\s+│\s+wall (\S+)")


async def header(path: Path) -> Shown:
    """The dashboard's header at 160x48 (a real Textual screen, driven by pilot) after the whole log arrived in one
    batch and the source ended, as a finished file's follower delivers it."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pilot"))
    from screen import screen_text  # type: ignore[import-not-found]
    from sources import FakeBatch, ReplaySourceForTests  # type: ignore[import-not-found]

    from hwmon.tui.app import HwmonApp

    reader = Reader(path.name, keep_lines=1000)
    events, lines, _ = reader.parse(path.read_bytes(), eof=True)
    events.append(SourceEnded(0, None, "ended"))
    source = ReplaySourceForTests([FakeBatch(events, lines, eof=True, at=CLOCK)], name=path.name)
    app = HwmonApp(source, clock=lambda: CLOCK, system=False)
    async with app.run_test(size=(160, 48)) as pilot:
        for _ in range(50):
            await pilot.pause(0.02)
            if app.source_done:
                break
        app.repaint_now()
        await pilot.pause()
        rows = screen_text(app).splitlines()[:3]
    top, second = rows[0], rows[1]
    shown = Shown("dashboard header", eta="-")
    if (match := _STATUS.search(top)) is not None:
        shown.status, shown.wall = match.group(1).lower(), match.group(2)
    for key, pattern in (("step", r"· step (\S+)"), ("loss", r"· loss (\S+)"), ("eta", r"· ETA (\S+)")):
        if (found := re.search(pattern, second)) is not None:
            setattr(shown, key, found.group(1))
    return shown


_REPORT_ROW = re.compile(r"<tr><th>([a-zA-Z /]+)</th><td[^>]*>([^<]*)")
_REPORT_PHASE = re.compile(r"<tr><td>([a-z]+)(?: ×\d+)?</td><td class=num>([^<]*)</td><td class=num>([^<]*)")


def report_html(path: Path) -> Shown:
    """``hwmon report``'s HTML: its facts table and its phases table."""
    html = run_cli("report", "-o", "-", str(path))
    facts = dict(_REPORT_ROW.findall(html))
    phases = _REPORT_PHASE.findall(html)
    return Shown(
        "report",
        status=facts.get("status"),
        wall=facts.get("wall time"),
        phases=[(name, duration) for name, duration, _share in phases] or None,
        step=facts["step"].split("/")[0] if "step" in facts else None,
        loss=facts["loss"].split()[0] if "loss" in facts else None,
        rate=facts.get("rate"),
        eta=facts.get("ETA", "-"),
        extra={"shares": [share for _name, _duration, share in phases]},
    )
