"""The parity test (issue 18, item 6): for every fixture and every open corpus log, each view prints the same status,
wall time, phases, step, loss, rate and ETA as the model's own figures — ``summary`` (human, Markdown, JSON),
``compare --json``, ``export --what phases``, ``report`` (HTML), plain mode, the fleet row and the dashboard header.
A view that computes a figure its own way, or spells it its own way, fails here. Each log is read as a finished one
(a copy nobody has written to for an hour: every view knows its source has ended).

The live supervised run attached at three moments is ``test_parity_supervised.py`` (integration lane).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from .harness import (
    CLOCK,
    Shown,
    compare_json,
    export_phases,
    fleet_cells,
    header,
    live_state,
    plain_end_line,
    reference,
    report_html,
    summarize,
    summary_human,
    summary_json,
    summary_md,
)

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
CORPUS = ROOT / ".." / "shared" / "corpus"
LOGS = sorted(FIXTURES.glob("*.log")) + (sorted(p for p in CORPUS.iterdir() if p.is_file()) if CORPUS.is_dir() else [])
FIELDS = ("status", "wall", "phases", "step", "loss", "rate", "eta")


def ids(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def agree(expected: Shown, shown: Shown) -> None:
    """Every figure the view shows is the model's, spelt the model's way."""
    for name in FIELDS:
        value = getattr(shown, name)
        if value is not None:
            model = getattr(expected, name)
            assert value == model, f"{shown.view} shows {name} {value!r}, the model says {model!r}"


@pytest.fixture(autouse=True)
def _private_history(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HWMON_RUNS_DIR", str(tmp_path / "runs"))


@pytest.fixture
def finished(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """The log as a finished one: a copy last written an hour ago (past the silence threshold)."""
    original: Path = request.param
    copy = tmp_path / original.name
    copy.write_bytes(original.read_bytes())
    hour_ago = time.time() - 3600
    os.utime(copy, (hour_ago, hour_ago))
    return copy


@pytest.mark.parametrize("finished", LOGS, ids=ids, indirect=True)
def test_headless_views_print_the_models_figures(finished: Path) -> None:
    from hwmon.model import figures

    path = finished
    state = summarize(path)
    expected = reference(state)
    report = report_html(path)
    headless = (
        summary_json(path),
        summary_human(path),
        summary_md(path),
        compare_json(path),
        export_phases(path),
        report,
    )
    for shown in headless:
        agree(expected, shown)
    # The per-name totals and shares compare prints, and the per-span shares export writes, are the model's too.
    totals = [
        (t.name, figures.fmt_wall(t.seconds), figures.fmt_share(t.share)) for t in figures.phase_totals(state, None)
    ]
    assert compare_json(path).extra["totals"] == totals
    shares = [figures.fmt_share(s) for s in figures.phase_shares(state, None)]
    assert export_phases(path).extra["shares"] == shares
    assert report.extra["shares"] == shares
    loss = summary_json(path).extra["loss.last"]
    assert loss is None or loss == expected.loss or state.loss.last is None


@pytest.mark.parametrize("path", LOGS, ids=ids)
def test_live_views_print_what_the_whole_file_read_says(path: Path) -> None:
    """A follower that read the finished log to its end (plain mode, the fleet) knows what ``summary`` knows."""
    expected = reference(summarize(path))
    live = reference(live_state(path.read_bytes(), str(path)), CLOCK)
    live.view = "live state"
    agree(expected, live)
    agree(expected, plain_end_line(path.read_bytes(), str(path)))
    agree(expected, fleet_cells(path))


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.log")), ids=ids)
async def test_dashboard_header_prints_the_models_figures(path: Path) -> None:
    expected = reference(summarize(path))
    agree(expected, await header(path))
