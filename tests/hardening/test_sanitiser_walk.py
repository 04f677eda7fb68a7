"""Every view, walked for control, C1 and bidi characters in strings that did not come from hwmon itself (file
names, run.json fields, host names, commands, follower statuses): plain lines, ``hwmon ls``, ``hwmon summary``
(human and Markdown), and the dashboard's header, notices and title (pilot). Each walk runs twice: with the
sanitiser (``hwmon.model.text.safe_text``) as it is, where nothing may leak, and with it broken (its pattern made
to match nothing: a test double of a sanitiser that does nothing), where the same walk must find the leak, which
shows the check can fail. (The real-terminal title checks are in ``test_names_in_tmux.py``.)
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from hwmon.model import text as text_mod
from hwmon.sources.source import Batch

HOSTILE = "n\x1b]0;TITLE\x07\x1b[2J\x9b31m\u202eevil\u2066\x85\x7f\udc9b.log"
# Characters that must never reach a terminal from outside data (newline ends our own lines and is allowed).
LEAK = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def leaks(text: str) -> list[str]:
    return sorted({repr(m.group()) for m in LEAK.finditer(text)})


def test_the_hostile_string_itself_is_caught() -> None:
    assert len(leaks(HOSTILE)) >= 8


@pytest.fixture(params=["sanitised", "broken"])
def guard(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    if request.param == "broken":
        monkeypatch.setattr(text_mod, "_UNSAFE", re.compile("(?!)"))
    yield str(request.param)


def judge(guard: str, output: str) -> None:
    found = leaks(output)
    if guard == "sanitised":
        assert not found, (found, output[-2000:])
    else:
        assert found, "positive control: with the sanitiser broken the walk must see the hostile characters"


def hostile_run(runs: Path) -> None:
    run_dir = runs / "20260101-000000-evil-0001"
    run_dir.mkdir(parents=True)
    (run_dir / "output.log").write_text("epoch=1 step=3 loss=0.5\n")
    record = {
        "run_id": "20260101-000000-evil-0001",
        "command": [HOSTILE, "--flag"],
        "workload": None,
        "device": HOSTILE,
        "host": HOSTILE,
        "status": "running",
        "supervisor_pid": 999_999_999,
        "started": "2026-01-01T00:00:00+00:00",
        "cwd": "/",
    }
    (run_dir / "run.json").write_text(json.dumps(record))  # \u escapes: JSON can carry every one of them


def test_ls(guard: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from hwmon.commands import ls

    runs = tmp_path / "runs"
    hostile_run(runs)
    monkeypatch.setenv("HWMON_RUNS_DIR", str(runs))
    try:
        assert ls.run(argparse.Namespace(json=False, limit=None)) == 0
        out = capsys.readouterr()
        output = out.out + out.err
    except UnicodeEncodeError:
        output = "evil-0001 \udc9b"  # a lone surrogate reached the writer: that is a leak too
    assert "evil-0001" in output
    judge(guard, output)


@pytest.mark.parametrize("fmt", ["human", "md"])
def test_summary(
    guard: str, fmt: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from hwmon.commands import summary

    monkeypatch.setenv("NO_COLOR", "1")
    log = tmp_path / "run.log"
    log.write_text("epoch=1 step=3 loss=0.5\n")
    state = summary.summarize_file(log, source=HOSTILE)
    from hwmon.model.summary import summary_dict

    data = summary_dict(state)
    assert data["source"] == HOSTILE
    if fmt == "md":
        output = summary.render_markdown(data)
    else:
        try:
            summary.render_human(data)
            output = capsys.readouterr().out
        except UnicodeEncodeError:
            output = "evil \udc9b"  # a lone surrogate reached the writer: that is a leak too
    assert "evil" in output
    judge(guard, output)


class ScriptedSource:
    """Test double of a source: a hostile name and follower statuses quoting it (as ``FileFollower`` words them)."""

    def __init__(self) -> None:
        self.name = HOSTILE
        self.closed = False

    async def batches(self) -> AsyncIterator[Batch]:
        yield Batch([], [], f"waiting for {HOSTILE} to appear", False, 0.0)
        yield Batch([], ["epoch=1 step=3 loss=0.5"], f"following {HOSTILE}", False, 0.0)
        yield Batch([], [], f"{HOSTILE} was moved or deleted; waiting for it to reappear", False, 0.0)
        while not self.closed:
            await asyncio.sleep(0.05)

    def close(self) -> None:
        self.closed = True


def test_plain(guard: str) -> None:
    from hwmon.views.plain import run_plain

    source = ScriptedSource()
    out = io.StringIO()

    async def main() -> None:
        task = asyncio.create_task(run_plain(source, out=out, interval=0.2))  # type: ignore[arg-type]
        await asyncio.sleep(0.6)
        source.close()
        await asyncio.wait_for(task, 5)

    asyncio.run(main())
    output = out.getvalue()
    assert "waiting for" in output
    judge(guard, output)


async def test_dashboard_header_notices_and_title(guard: str) -> None:
    from hwmon.tui.app import HwmonApp

    source = ScriptedSource()
    app = HwmonApp(source, clock=lambda: 1000.0)  # type: ignore[arg-type]
    async with app.run_test(size=(120, 36)) as pilot:
        for _ in range(20):
            await pilot.pause(0.05)
            app.repaint_now()
        rows = [strip.text for strip in app.screen._compositor.render_strips()]
        notices = [str(n.message) + str(n.title) for n in app._notifications]
        titles = [str(app.title), str(app.sub_title), str(app.status_message)]
        output = "\n".join(rows + notices + titles)
        assert any("evil" in row for row in rows)
        # Notices go in the header's status row, never in toasts over the panes (issue 10).
        assert any("waiting for" in t or "moved or deleted" in t for t in rows + notices + titles)
        judge(guard, output)
        await pilot.press("q")


def test_error_lines(guard: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """One-line errors quote what the user named: a directory with a hostile name given to ``attach``."""
    from hwmon import cli

    hostile_dir = tmp_path / HOSTILE.replace("\udc9b", "x")
    hostile_dir.mkdir()
    code = cli.main(["attach", "--plain", str(hostile_dir)])
    err = capsys.readouterr().err
    assert code != 0 and "is a directory" in err, err
    judge(guard, err)
