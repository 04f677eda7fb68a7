"""The notices a run's state gives (pure): ends once, every alert by name, keys that survive a re-read, text that is
safe for a terminal; `--on`; the ledger."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hwmon.model.reducer import add_alert
from hwmon.model.state import Alert, RunState
from hwmon.model.text import is_safe
from hwmon.notify.ledger import Ledger
from hwmon.notify.notice import NoticeDetector, RunFacts, attach_command, end_event, parse_on, wanted
from hwmon.sources.read import summarize_bytes

FACTS = RunFacts(key="run:r1", run="r1", name="train", host="node1", status="running", ref="r1")
STEPS = b"".join(
    b"2024-03-30 13:03:%02d,540 INFO:   | Train Device=CSX, Step=%d, Loss=%s, Rate=100.00 samples/sec, "
    b"GlobalRate=100.00 samples/sec\n" % (n, n, b"nan" if n == 3 else b"2.5")
    for n in range(1, 6)
)


def facts(status: str) -> RunFacts:
    return RunFacts(FACTS.key, FACTS.run, FACTS.name, FACTS.host, status, FACTS.ref)


def test_an_end_is_told_once_and_the_logs_failure_and_the_status_are_one_event() -> None:
    state = RunState()
    detector = NoticeDetector(FACTS)
    assert detector.update(facts("running"), state) == []
    add_alert(state, Alert("failed", "RuntimeError: boom", line=7))
    [notice] = detector.update(facts("running"), state)
    assert (notice.event, notice.key, notice.status) == ("failed", "end", "failed")
    # The supervisor's record says so a moment later: the same event.
    assert detector.update(facts("failed"), state) == []
    assert detector.update(facts("failed"), state) == []


@pytest.mark.parametrize(
    ("status", "event"),
    [("succeeded", "succeeded"), ("completed", "succeeded"), ("cancelled", "stopped"), ("stopped", "stopped"),
     ("timeout", "failed"), ("out_of_memory", "failed"), ("lost", "failed"), ("failed", "failed")],
)  # fmt: skip
def test_end_statuses_of_every_view_map_to_an_event(status: str, event: str) -> None:
    assert end_event(status) == event
    [notice] = NoticeDetector(FACTS).update(facts(status), None)
    assert notice.event == event and notice.key == "end"


def test_running_statuses_are_not_ends() -> None:
    for status in ("running", "queued", "stalled", "waiting", "unknown", "reconnecting"):
        assert end_event(status) is None


def test_every_alert_kind_flows_by_name_including_kinds_added_later() -> None:
    state = RunState()
    detector = NoticeDetector(FACTS)
    for kind in ("stall", "silence", "nan", "phase-overrun", "eta", "rank-behind", "some-future-kind"):
        add_alert(state, Alert(kind, f"{kind} happened"))  # type: ignore[arg-type]
    events = [n.event for n in detector.update(facts("running"), state)]
    assert events == ["stalled", "silent", "nan", "phase-overrun", "eta", "rank-behind", "some-future-kind"]
    # Told once: nothing new, nothing again.
    assert detector.update(facts("running"), state) == []


def test_alerts_beyond_the_bounded_list_are_not_lost_between_updates() -> None:
    state = RunState()
    detector = NoticeDetector(FACTS)
    add_alert(state, Alert("nan", "first", line=1))
    assert len(detector.update(facts("running"), state)) == 1
    for n in range(3):
        add_alert(state, Alert("error", f"e{n}", line=10 + n))
    assert [n.message for n in detector.update(facts("running"), state)] == ["e0", "e1", "e2"]


def test_a_log_alerts_key_is_the_same_when_the_log_is_read_again() -> None:
    first = summarize_bytes(STEPS, "a.log")
    second = summarize_bytes(STEPS, "a.log")
    [a] = NoticeDetector(FACTS).update(facts("running"), first)
    [b] = NoticeDetector(FACTS).update(facts("running"), second)
    assert a.event == "nan" and a.key == b.key
    # A different NaN (another step) is another event.
    other = summarize_bytes(
        STEPS.replace(b"Step=3, Loss=nan", b"Step=3, Loss=2.5").replace(b"Step=4, Loss=2.5", b"Step=4, Loss=nan"),
        "a.log",
    )
    [c] = NoticeDetector(FACTS).update(facts("running"), other)
    assert c.key != a.key


def test_a_log_that_starts_over_is_a_new_generation() -> None:
    detector = NoticeDetector(FACTS)
    [first] = detector.update(facts("failed"), RunState())
    [second] = detector.update(facts("failed"), RunState())
    assert first.key == "end" and second.key == "end#1" and detector.generation == 1


def test_notice_text_is_terminal_safe_and_the_attach_command_is_quoted() -> None:
    state = RunState()
    add_alert(state, Alert("error", "bad \x1b[31mred\x1b]0;title\x07 \u202eevil\nsecond line", line=3))
    hostile = RunFacts("file:/x", "/tmp/a b/$(id).log", "a\x1b[2Jb", "h", "running", "/tmp/a b/$(id).log")
    [notice] = NoticeDetector(hostile).update(hostile, state)
    for text in (notice.message, notice.name, notice.title, notice.body, *notice.env().values()):
        assert is_safe(text.replace("\n", "")), repr(text)
    assert notice.attach == "hwmon attach '/tmp/a b/$(id).log'"
    assert attach_command("h:/p", ("Port=2222",)) == "hwmon attach --ssh-opt=Port=2222 h:/p"


def test_on_chooses_events() -> None:
    default = parse_on(None)
    assert wanted(default, "failed") and wanted(default, "rank-silent") and not wanted(default, "error")
    assert parse_on("stall,failed") == frozenset({"stalled", "failed"})
    assert wanted(parse_on("all"), "error")
    with pytest.raises(ValueError, match="not an event name"):
        parse_on("failed,Bad Name")


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_the_ledger_tells_once_across_processes_and_takes_over_a_dead_claim(tmp_path: Path) -> None:
    path = tmp_path / "n.sqlite"
    one = Ledger(path)
    assert one.claim("s1", "run:a", "end") is True
    assert one.claim("s1", "run:a", "end") is False
    assert one.claim("s2", "run:a", "end") is True  # another sink
    one.sent("s1", "run:a", "end")
    two = Ledger(path)  # another process, the same file
    assert two.claim("s1", "run:a", "end") is False
    # A claim left by a process that died before telling: taken over.
    two._conn.execute("INSERT INTO told VALUES ('s3', 'run:a', 'end', 'sending', ?, 0)", (_dead_pid(),))
    assert two.claim("s3", "run:a", "end") is True
    # Given up: another try may claim it again.
    two.release("s3", "run:a", "end")
    assert one.claim("s3", "run:a", "end") is True
    # Baselined events are never told, by any sink.
    one.baseline("run:b", "nan:1")
    assert two.claim("s1", "run:b", "nan:1") is False
    assert one.run_generation("run:a") is None
    one.add_run("run:a", 2)
    assert two.run_generation("run:a") == 2


def test_an_unusable_ledger_warns_and_still_dedupes_in_memory(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    warnings: list[str] = []
    ledger = Ledger(blocker / "sub" / "n.sqlite", warn=warnings.append)
    assert warnings and "unusable" in warnings[0]
    assert ledger.claim("s", "r", "k") is True and ledger.claim("s", "r", "k") is False


def test_a_failure_says_its_likely_cause_and_what_to_try() -> None:
    log = (
        b'step 1, loss=2.5\nTraceback (most recent call last):\n  File "t.py", line 1, in <module>\n'
        b"torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB\n"
    )
    [notice] = NoticeDetector(FACTS).update(facts("running"), summarize_bytes(log, "a.log"))
    assert notice.event == "failed"
    assert notice.message.startswith("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB (")
    assert "try: reduce the micro-batch size" in notice.message
