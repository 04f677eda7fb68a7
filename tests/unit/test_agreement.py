"""One truth: every log (the corpus and seed logs in ../shared when present, every fixture) gives the same figures
through the headless summary (``hwmon summary``: the whole file, no clock) and through the live view model (the
dashboard's and plain mode's path: the file arriving in small chunks on an injected clock, then the source ending).

The live feed is a catch-up read (the whole file arrives at one clock reading, as when attaching to a finished
log) so arrival times carry no duration of their own; the figures must then agree exactly: status, wall time,
every phase's duration, the loss (its aggregates and every plotted point) and the ETA (none: the source ended).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hwmon.events import SourceEnded
from hwmon.model import figures
from hwmon.model.eta import eta_seconds
from hwmon.model.state import RunState
from hwmon.model.summary import summary_dict
from hwmon.sources.pipeline import Reader
from hwmon.sources.read import summarize_bytes
from hwmon.tui import view

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT / ".." / "shared"
LOGS = sorted(
    [*(SHARED / "corpus").glob("*.log"), *(SHARED / "seed").glob("*.log"), *(ROOT / "tests" / "fixtures").glob("*.log")]
)
NOW = 5000.0
LATER = NOW + 3600.0


def live_state(data: bytes, chunk: int) -> RunState:
    """The dashboard's path: the one reader (``FollowSource``'s) over chunks, the reducer with a clock, then the
    end. Nothing is patched here that the live path does not do itself."""
    reader = Reader("live", keep_lines=0)
    for start in range(0, len(data), chunk):
        reader.feed(data[start : start + chunk], NOW)
    reader.feed(b"", NOW, eof=True)
    reader.apply([SourceEnded(0, None, "caught up, quiet")], NOW)
    return reader.state


def test_there_are_logs_to_compare() -> None:
    assert len([p for p in LOGS if p.parent.name == "fixtures"]) >= 10


@pytest.mark.parametrize("path", LOGS, ids=[f"{p.parent.name}/{p.name}" for p in LOGS])
@pytest.mark.parametrize("chunk", [4096, 65537])
def test_headless_summary_and_live_view_agree(path: Path, chunk: int) -> None:
    data = path.read_bytes()
    headless = summary_dict(summarize_bytes(data, str(path)))
    state = live_state(data, chunk)

    # Status: the summary's word and the header's; vendor and device: the reducer's decision on both paths (no
    # path patches them after the fact).
    assert figures.display_status(state, LATER, output_seen=True) == headless["status"]
    assert (state.vendor, state.device) == (headless["vendor"], headless["device"])
    # Wall time: the header's and the timeline's, an hour after the source ended (clocks stopped).
    assert view.wall_seconds(state, LATER) == pytest.approx(headless["wall_seconds"])
    assert view.timeline(state, LATER).wall == pytest.approx(headless["wall_seconds"])
    # Every phase, in order, exactly: a phase the catch-up clock cannot measure is one the summary cannot (None).
    live_phases = [(p.name, d) for p, d in zip(state.phases, figures.phase_durations(state, LATER), strict=True)]
    head_phases = [(p["name"], p["seconds"]) for p in headless["phases"]]  # type: ignore[union-attr]
    assert [n for n, _ in live_phases] == [n for n, _ in head_phases]
    assert [d is None for _, d in live_phases] == [d is None for _, d in head_phases]
    assert [d or 0.0 for _, d in live_phases] == pytest.approx([d or 0.0 for _, d in head_phases])
    timeline_total = sum(row.seconds for row in view.timeline(state, LATER).rows)
    assert timeline_total == pytest.approx(sum(d or 0.0 for _, d in head_phases))
    # Loss: aggregates and the plotted points, whatever the chunking.
    loss = headless["train"]["loss"]  # type: ignore[index]
    if loss is None:
        assert state.loss.count == 0
    else:
        assert (state.loss.count, state.loss.min, state.loss.max) == (loss["count"], loss["min"], loss["max"])
    whole = summarize_bytes(data, str(path))
    assert state.loss.points == whole.loss.points
    assert figures.last_loss(state) == figures.last_loss(whole)
    # No ETA once the source has ended; none in a summary of an ended run either.
    assert eta_seconds(state, LATER) is None
