"""`hwmon report`: one self-contained HTML file whose figures are the summary's, whose log text stays text, whose
size does not grow with the log — and, in the integration lane, opened by headless Chromium (its text read back
from the DOM Chromium built, and a screenshot taken)."""

from __future__ import annotations

import html.parser
import json
import os
import re
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from hwmon import exitcodes
from hwmon.commands.report import read_run
from hwmon.commands.summary import summarize_file
from hwmon.model.fmt import fmt_duration, fmt_number
from hwmon.model.summary import summary_dict
from hwmon.views.html_report import MAX_LOG_LINES, ReportInput, render

pytestmark = pytest.mark.timeout(180)

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
CEREBRAS = FIXTURES / "tui_cerebras_run.log"


def hwmon(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "hwmon", *args],
        capture_output=True,
        input=stdin,
        timeout=120,
        env=dict(os.environ, HWMON_HISTORY="off"),
    )


class _Text(html.parser.HTMLParser):
    """The document's text (what a reader sees), and the elements it holds."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.tags: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag in ("style", "title"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "title"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.parts).split())


def read(html_text: str) -> _Text:
    parser = _Text()
    parser.feed(html_text)
    return parser


def report_of(path: Path) -> str:
    """The report, made in this process by the command's own functions."""
    state, lines, command, name = read_run(str(path), MAX_LOG_LINES)
    return render(ReportInput(state, name, lines, datetime(2026, 1, 1), command))


def test_the_report_prints_the_summarys_figures(tmp_path: Path) -> None:
    out = tmp_path / "run.html"
    out.write_text(report_of(CEREBRAS))
    summary = summary_dict(summarize_file(CEREBRAS))
    page = read(out.read_text())
    text = page.text
    assert f"status {summary['status']}" in text
    assert f"wall time {fmt_duration(summary['wall_seconds'])}" in text
    assert f"step {summary['train']['steps']['last']}" in text
    assert f"loss {fmt_number(summary['train']['loss']['last'])}" in text
    for phase in summary["phases"]:
        assert f"{phase['name']} {fmt_duration(phase['seconds'])}" in text
    for checkpoint in summary["checkpoints"]:
        assert checkpoint["path"] in text
    # The charts and the timeline are inline SVG; nothing is fetched.
    assert page.tags.count("svg") == 3 and "polyline" in page.tags
    assert not {"script", "img", "link", "iframe", "object"} & set(page.tags)
    assert re.findall(r"(?:src|href)=", out.read_text()) == []
    assert set(re.findall(r"https?://[^\s\"'<>]+", out.read_text())) <= {"http://www.w3.org/2000/svg"}


def test_log_text_stays_text(tmp_path: Path) -> None:
    # Even the file's name carries an escape sequence (a title-setting OSC) and markup.
    log = tmp_path / "hostile\x1b]0;owned\x07<i>.log"
    log.write_bytes(
        b"2024-03-30 13:03:05,540 INFO:   | Train Device=CSX, Step=10, Loss=2.5, Rate=100.00 samples/sec, "
        b"GlobalRate=100.00 samples/sec\n"
        b"<script>alert('x')</script> </pre><img src=x onerror=alert(1)> &amp; \x1b[31mred\x1b]0;title\x07\n"
        b"Traceback (most recent call last):\n"
        b"RuntimeError: <b>bold</b> \x1b[2J\n"
    )
    document = report_of(log)
    page = read(document)
    assert not {"script", "img", "b"} & set(page.tags)
    assert "\x1b" not in document and "\x07" not in document
    assert "<script>alert('x')</script> </pre><img src=x onerror=alert(1)> &amp;" in page.text
    assert "RuntimeError: <b>bold</b>" in page.text
    assert "i" not in page.tags and "hostile<i>.log" in page.text


@pytest.mark.integration
def test_stdout_and_markdown(tmp_path: Path) -> None:
    done = hwmon("report", "-", "-o", "-", stdin=CEREBRAS.read_bytes())
    assert done.returncode == 0 and done.stdout.startswith(b"<!DOCTYPE html>")
    md = hwmon("report", str(CEREBRAS), "--md")
    assert md.returncode == 0
    assert md.stdout.decode().rstrip("\n") == hwmon("summary", str(CEREBRAS), "--md").stdout.decode().rstrip("\n")
    missing = hwmon("report", str(tmp_path / "nope.log"), "-o", str(tmp_path / "x.html"))
    assert missing.returncode == exitcodes.BAD_INPUT and not (tmp_path / "x.html").exists()
    unwritable = hwmon("report", str(CEREBRAS), "-o", str(tmp_path / "no" / "dir" / "x.html"))
    assert unwritable.returncode == exitcodes.CANNOT_WRITE
    # The log itself is never the output.
    copy = tmp_path / "copy.log"
    shutil.copy(CEREBRAS, copy)
    assert hwmon("report", str(copy), "-o", str(copy)).returncode == exitcodes.CANNOT_WRITE
    assert copy.read_bytes() == CEREBRAS.read_bytes()


def _steps(path: Path, count: int) -> None:
    with path.open("w") as fh:
        for step in range(1, count + 1):
            fh.write(
                f"2024-03-30 13:{step // 60 % 60:02d}:{step % 60:02d},540 INFO:   | Train Device=CSX, Step={step}, "
                f"Loss={5 / (1 + step / 1000):.5f}, Rate={100 + step % 7}.00 samples/sec, "
                "GlobalRate=100.00 samples/sec\n"
            )


def test_the_size_is_bounded_whatever_the_length_of_the_log(tmp_path: Path) -> None:
    sizes = {}
    for count in (20_000, 200_000):
        log = tmp_path / f"{count}.log"
        _steps(log, count)
        sizes[count] = len(report_of(log).encode())
    # Ten times the log, the same report (the series are the model's bounded ones; the log tail is 200 lines).
    assert sizes[200_000] < 1.1 * sizes[20_000] < 200_000, sizes


@pytest.mark.integration
def test_chromium_opens_the_report_and_shows_its_figures(tmp_path: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Debian's chromium package is not installed (apt install chromium; .ci/run does)")
    out = tmp_path / "run.html"
    assert hwmon("report", str(CEREBRAS), "-o", str(out)).returncode == 0
    summary = json.loads(hwmon("summary", str(CEREBRAS), "--json").stdout)
    base = [chromium, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*base, "--dump-dom", out.as_uri()], capture_output=True, text=True, timeout=90)
    assert dom.returncode == 0, dom.stderr[-2000:]
    page = read(dom.stdout)
    assert f"status {summary['status']}" in page.text
    assert f"wall time {fmt_duration(summary['wall_seconds'])}" in page.text
    assert page.tags.count("svg") == 3
    png = tmp_path / "run.png"
    shot = subprocess.run(
        [*base, "--hide-scrollbars", "--window-size=1000,1800", f"--screenshot={png}", out.as_uri()],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert shot.returncode == 0, shot.stderr[-2000:]
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1000, 1800)


def test_the_smoothed_loss_is_the_dashboards(monkeypatch: pytest.MonkeyPatch) -> None:
    """One truth: the report's smoothed curve and its label come from model.smoothing (the dashboard's S), so a
    change of its weight shows in the report too."""
    from hwmon.events import StepMetrics
    from hwmon.model import smoothing
    from hwmon.model.reducer import apply
    from hwmon.model.state import RunState

    state = RunState()
    for n, loss in enumerate([3.0, 2.5, 2.6, 2.0, 1.8, 1.7, 1.9, 1.5], start=1):
        apply(state, StepMetrics(n, None, step=n, loss=loss), float(n))

    def smoothed_curve() -> tuple[str, str]:
        page = render(ReportInput(state, "run", [], datetime(2026, 1, 1), None))
        [(points, label)] = re.findall(r'<polyline class="smooth" points="([^"]*)"><title>([^<]*)</title>', page)
        return points, label

    points, label = smoothed_curve()
    assert label == "smoothed (EMA 0.6)" and len(points.split()) == 8
    monkeypatch.setattr(smoothing, "DEFAULT_WEIGHT", 0.9)
    heavier, label = smoothed_curve()
    assert label == "smoothed (EMA 0.9)" and heavier != points
