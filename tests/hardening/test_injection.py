"""Terminal and markup injection: a log full of OSC 52 (clipboard), OSC 0/2 (title), CSI 2J/H, DEC private modes,
bells, C1 controls, Rich markup and bidi overrides must show as literal safe text in the log pane and change nothing
else — proven on the real parse path in a pilot test, and in a real terminal (tmux) where a leak would set a paste
buffer, the pane title or the bell flag. Positive controls prove tmux would have noticed a leak.

The fixture ``tests/fixtures/hardening_injection.log`` was written for this test.
"""

from __future__ import annotations

import shlex
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.tmux import SHELL, Tmux, private_server

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "hardening_injection.log"

# What the log pane must show for each hostile line: the text with every escape sequence and control removed.
LITERAL = (
    "osc52  after-osc52",
    "title  after-title  done",
    "clear  after-clear",
    "modes      after-modes",
    "bell  after-bell",  # the raw byte 0x9b is not UTF-8: it shows as U+FFFD, not as a CSI
    "markup [bold]not-bold[/bold] [link=https://example.invalid]click[/link] [/] [red on blue]x[/]",
    "bidi EVIL after-bidi iso",
    "boom [bold red]not-markup[/] red",
    "INJECTION-END",
)
FORBIDDEN = ("\x1b", "\x07", "\x9b", "\u202e", "\u202c", "\u2066", "\u2069", "PWNED", "aGFja2Vk")


def screen_rows(app: object) -> list[str]:
    strips = app.screen._compositor.render_strips()  # type: ignore[attr-defined]
    return [strip.text for strip in strips]


async def test_pilot_log_pane_shows_literal_safe_text(tmp_path: Path) -> None:
    from hwmon.sources.source import file_source
    from hwmon.tui.app import HwmonApp
    from hwmon.tui.widgets import RunHeader

    log = tmp_path / "evil.log"
    log.write_bytes(FIXTURE.read_bytes())
    source = file_source(log, use_inotify=False)
    app = HwmonApp(source, clock=lambda: 1000.0, title="evil.log")
    async with app.run_test(size=(200, 60)) as pilot:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not any("INJECTION-END" in x for x in app.log_pane.log_widget.lines):
            await pilot.pause(0.05)
            app.repaint_now()
        await pilot.pause(0.2)
        app.repaint_now()
        await pilot.pause()
        await pilot.pause()
        rows = screen_rows(app)
        text = "\n".join(rows)
        # The raw log holds each hostile line as its literal, cleaned text.
        logged = list(app.log_pane.log_widget.lines)
        for literal in LITERAL:
            assert any(literal in line for line in logged), (literal, logged)
        for bad in FORBIDDEN:
            assert all(bad not in line for line in logged), bad
            assert bad not in text, bad
        # Markup was not interpreted: the tags are on screen as typed.
        assert "[bold]not-bold[/bold]" in text
        assert "[link=https://example.invalid]click[/link]" in text
        # The header and title are ours: the log's OSC titles changed neither.
        assert app.title == "hwmon"
        header = app.query_one(RunHeader)
        assert "evil.log" in "\n".join(rows[: header.size.height])
        assert app.state.steps.count == 1
        # The error line became an alert without any markup error; the app is still running.
        assert app.state.error_count == 1
        assert app.is_running
        await pilot.press("q")


# ----------------------------------------------------------------------------------------------- tmux


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    if shutil.which("tmux") is None:
        pytest.skip("tmux not on PATH")
    with private_server("hwmon-inject", tmp_path) as server:
        yield server


@pytest.mark.integration
@pytest.mark.tmux
def test_tmux_nothing_reaches_the_terminal(tmp_path: Path, tmux: Tmux) -> None:
    log = tmp_path / "evil.log"
    log.write_bytes(b"")
    tmux.new_session(tmp_path, 120, 36)
    # Let applications set tmux buffers and titles, so a leaked OSC 52 / OSC 0 would be visible to us.
    tmux("set-option", "-g", "set-clipboard", "on")
    tmux("set-option", "-g", "allow-rename", "on")
    tmux("set-option", "-g", "monitor-bell", "on")
    tmux("set-option", "-g", "bell-action", "any")
    tmux("select-pane", "-t", "hw:0", "-T", "SAFE-TITLE")

    # Positive control in a second window: the same sequences printed raw DO set a buffer, a title and the bell.
    tmux("new-window", "-d", "-t", "hw:1", SHELL)
    tmux("send-keys", "-t", "hw:1", r"printf '\033]52;c;Y29udHJvbA==\a\033]2;CONTROL-TITLE\a\a'", "Enter")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not (tmux.buffers() and tmux.fmt("hw:1", "#{pane_title}") == "CONTROL-TITLE"):
        time.sleep(0.1)
    assert tmux.buffers(), "control: tmux did not record an OSC 52 buffer; this check could not fail"
    assert tmux.fmt("hw:1", "#{pane_title}") == "CONTROL-TITLE"
    tmux("delete-buffer", check=False)
    while tmux.buffers():
        tmux("delete-buffer")
    tmux("kill-window", "-t", "hw:1")

    hwmon = ROOT / ".venv" / "bin" / "hwmon"
    command = [str(hwmon)] if hwmon.exists() else [sys.executable, "-m", "hwmon"]
    line = " ".join(shlex.quote(p) for p in [*command, "attach", str(log)])
    tmux("send-keys", "-t", "hw:0", f"{line}; echo HWMON-EXIT-$?", "Enter")
    tmux.wait_for("hw:0", lambda s: "q Quit" in s, "the dashboard")
    # A second window becomes current, so a bell in window 0 would raise its bell flag.
    tmux("new-window", "-d", "-t", "hw:2", SHELL)
    tmux("select-window", "-t", "hw:2")
    with log.open("ab") as handle:
        handle.write(FIXTURE.read_bytes())
    screen = tmux.wait_for("hw:0", lambda s: "INJECTION-END" in s, "the last hostile line")
    time.sleep(0.5)  # a few more frames
    screen = tmux("capture-pane", "-p", "-e", "-t", "hw:0")
    plain = tmux("capture-pane", "-p", "-t", "hw:0")
    assert tmux.buffers() == "", "a clipboard (OSC 52) sequence reached the terminal"
    assert tmux.fmt("hw:0", "#{pane_title}") == "SAFE-TITLE", "the pane title changed"
    assert tmux.fmt("hw:0", "#{window_bell_flag}") == "0", "a bell reached the terminal"
    for literal in ("after-osc52", "after-title", "[bold]not-bold[/bold]", "after-bidi"):
        assert literal in plain, literal
    assert "PWNED" not in screen and "\u202e" not in screen
    rows = plain.splitlines()
    # Outside the log pane nothing moved: the header is intact on the first row, the footer on the last.
    assert "evil.log" in rows[0]
    assert "q Quit" in rows[-1]
    tmux("send-keys", "-t", "hw:0", "q")
    tmux.wait_for("hw:0", lambda s: "HWMON-EXIT-0" in s, "hwmon to exit")
    assert tmux.fmt("hw:0", "#{alternate_on}") == "0"
    assert tmux.fmt("hw:0", "#{cursor_flag}") == "1"
    assert tmux.fmt("hw:0", "#{mouse_any_flag}") == "0"
    assert tmux.buffers() == ""


def test_fixture_really_is_hostile() -> None:
    data = FIXTURE.read_bytes()
    for needle in (
        b"\x1b]52;",
        b"\x1b]0;",
        b"\x1b[2J",
        b"\x1b[?1049h",
        b"\x1b[?25l",
        b"\x1b[?1000h",
        b"\x07",
        b"[link=",
    ):
        assert needle in data
    assert "\u202e".encode() in data
