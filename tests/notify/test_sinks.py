"""Each sink against a real receiver (a command, an SMTP server, an HTTP server, a terminal's bytes), the dispatcher's
retry with backoff, give-up and rate limit, and the usage errors of specs that cannot work here."""

from __future__ import annotations

import json
import os
import stat
import sys
import time
from pathlib import Path

import pytest

from hwmon import exitcodes
from hwmon.model.text import is_safe
from hwmon.notify.dispatch import Notifier
from hwmon.notify.ledger import Ledger, sink_id
from hwmon.notify.notice import Notice
from hwmon.notify.sinks import SinkError, SinkOptions, parse_sink, terminal_bytes
from tests.notify.conftest import ExecRecorder, HttpServer, SmtpServer

pytestmark = pytest.mark.timeout(60)

HOSTILE = "boom \x1b[31mred\x1b]0;title\x07 $(touch {pwned}) `id` ; rm -rf x | cat && echo $HOME"


def notice(event: str = "failed", message: str = "RuntimeError: boom", run: str = "r1", key: str = "end") -> Notice:
    return Notice(
        event=event,
        key=key,
        run_key=f"run:{run}",
        run=run,
        name="train",
        host="node1",
        status="failed",
        step=120,
        loss=2.25,
        message=message,
        ref=run,
        attach=f"hwmon attach {run}",
        seen_at=time.time(),
    )


def wait(predicate: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(predicate) and predicate():
            return
        time.sleep(0.01)
    raise AssertionError("condition not reached")


def test_exec_gets_the_notice_in_its_environment_and_as_json_and_never_through_a_shell(
    tmp_path: Path, exec_recorder: ExecRecorder
) -> None:
    pwned = tmp_path / "pwned"
    message = HOSTILE.format(pwned=pwned)
    from hwmon.model.text import safe_text

    sink = parse_sink(exec_recorder.spec + " 'an arg with spaces'")
    sink.send([notice(message=safe_text(message))])
    [record] = exec_recorder.records()
    assert record["argv"] == ["an arg with spaces"]
    env = record["env"]
    assert env["HWMON_EVENT"] == "failed" and env["HWMON_RUN"] == "r1" and env["HWMON_STEP"] == "120"
    assert env["HWMON_LOSS"] == "2.250" and env["HWMON_STATUS"] == "failed" and env["HWMON_REF"] == "r1"
    assert "$(touch" in env["HWMON_MESSAGE"] and "`id`" in env["HWMON_MESSAGE"]
    assert record["stdin"]["schema"] == "hwmon.notice/1" and record["stdin"]["step"] == 120
    # A shell command given by the user sees the message as one literal value.
    out = tmp_path / "out"
    shell = parse_sink(f"exec:sh -c 'printf %s \"$HWMON_MESSAGE\" > {out}'")
    shell.send([notice(message=safe_text(message))])
    assert out.read_text() == safe_text(message)
    assert not pwned.exists()


def test_exec_failures_are_sink_errors(tmp_path: Path) -> None:
    script = tmp_path / "fail.py"
    script.write_text("import sys\nprint('nope', file=sys.stderr)\nsys.exit(3)\n")
    with pytest.raises(SinkError, match="exit status 3: nope"):
        parse_sink(f"exec:{sys.executable} {script}").send([notice()])


def test_terminal_bytes_are_a_bell_and_two_osc_notifications_of_safe_text() -> None:
    data = terminal_bytes("hwmon: x\x1b]0;evil\x07 failed", "boom; \x1b[31mred\nnext line")
    text = data.decode()
    assert text.startswith("\x07\x1b]9;")
    osc9, osc777 = text[1:].split("\x07")[:2]
    assert osc9 == "\x1b]9;hwmon: x failed: boom, red"
    assert osc777 == "\x1b]777;notify;hwmon: x failed;boom, red"
    assert text.count("\x1b") == 2 and text.count("\x07") == 3
    tmux = terminal_bytes("t", "b", tmux=True).decode()
    assert tmux == "\x07\x1bPtmux;\x1b\x1b]9;t: b\x07\x1b\\\x1bPtmux;\x1b\x1b]777;notify;t;b\x07\x1b\\"


def test_mail_reaches_a_real_smtp_server_with_a_safe_subject(smtp_server: SmtpServer) -> None:
    options = SinkOptions(smtp=(smtp_server.host, smtp_server.port), mail_from="hwmon@test.example")
    sink = parse_sink("mail:ops@example.org", options)
    sink.send([notice(message="line one\r\nBcc: victim@example.org\x1b[31m")])
    [(_, message)] = smtp_server.inbox.wait_for(1) and smtp_server.messages()
    assert message["Subject"] == "hwmon: train failed" and message["To"] == "ops@example.org"
    assert message["X-Envelope-To"] == "ops@example.org" and message["Bcc"] is None
    body = message.get_payload(decode=True).decode()
    assert "hwmon attach r1" in body and "status failed · step 120 · loss 2.250" in body
    assert "\x1b" not in body


def test_a_failing_receiver_is_retried_with_backoff_and_told_once(tmp_path: Path, http_server: HttpServer) -> None:
    http_server.failures.extend([500, 503])
    ledger = Ledger(tmp_path / "n.sqlite")
    lines: list[str] = []
    sink = parse_sink(f"json://{http_server.url}/hook")
    notifier = Notifier([sink], ledger, retry_base=0.05, log=lines.append)
    assert notifier.submit(notice()) == 1
    assert notifier.submit(notice()) == 0  # the same event again: already claimed
    [post] = http_server.inbox.wait_for(1)
    wait(notifier.idle)
    notifier.close()
    assert post.data["title"] == "hwmon: train failed" and post.data["type"] == "failure"
    assert len(http_server.attempts) == 3  # type: ignore[attr-defined]
    failures = [line for line in lines if "failed (" in line]
    assert len(failures) == 2 and "error=500" in failures[0] and "error=503" in failures[1]
    assert failures[0].startswith(f"{sink.label}: failed (Apprise could not deliver: Failed to send JSON POST")
    assert failures[0].endswith("retry 2 in 0 s") and failures[1].endswith("retry 3 in 0 s")
    assert ledger.told(sink_id(sink.spec)) == [(sink_id(sink.spec), "run:r1", "end", "sent")]


def test_a_sink_that_keeps_failing_is_given_up_without_holding_the_others(
    tmp_path: Path, http_server: HttpServer
) -> None:
    ledger = Ledger(tmp_path / "n.sqlite")
    lines: list[str] = []
    broken = parse_sink("exec:false")
    good = parse_sink(f"json://{http_server.url}/hook")
    notifier = Notifier([broken, good], ledger, retry_base=0.05, attempts=3, log=lines.append)
    notifier.submit(notice())
    http_server.inbox.wait_for(1)
    wait(notifier.idle)
    notifier.close()
    assert any(line.startswith("exec:false: gave up after 3 attempts (exit status 1)") for line in lines)
    # Given up: its claim is released, so a later watch tries again; the good sink's stays told.
    assert ledger.told(sink_id(broken.spec)) == []
    assert ledger.claim(sink_id(broken.spec), "run:r1", "end") is True
    assert notifier.counters() == {"exec:false": (0, 3), good.label: (1, 0)}


def test_a_burst_beyond_the_rate_limit_goes_out_as_one_message(tmp_path: Path, http_server: HttpServer) -> None:
    ledger = Ledger(tmp_path / "n.sqlite")
    sink = parse_sink(f"json://{http_server.url}/hook")
    notifier = Notifier([sink], ledger, per_minute=60, burst=1)
    notifier.submit(notice(event="nan", message="NaN at step 0", key="nan:0"))
    http_server.inbox.wait_for(1)
    # The bucket is empty now (1 a second, 1 at once): the next three wait together.
    for n in range(1, 4):
        notifier.submit(notice(event="nan", message=f"NaN at step {n}", key=f"nan:{n}"))
    http_server.inbox.wait_for(2)
    wait(notifier.idle)
    notifier.close()
    posts = http_server.inbox.snapshot()
    assert [p.data["title"] for p in posts] == ["hwmon: train nan", "hwmon: 3 events"]
    assert posts[1].at - posts[0].at >= 0.9  # the second waited for the bucket (1 a second)
    assert all(f"NaN at step {n}" in posts[1].data["message"] for n in (1, 2, 3))
    assert [row[3] for row in ledger.told(sink_id(sink.spec))] == ["sent"] * 4


def test_desktop_runs_notify_send_with_escaped_markup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A test double of notify-send (no notification daemon in CI): it records its argv.
    double = tmp_path / "bin" / "notify-send"
    double.parent.mkdir()
    double.write_text(
        f"#!{sys.executable}\nimport json, sys\nopen({str(tmp_path / 'argv')!r}, 'w').write(json.dumps(sys.argv[1:]))\n"
    )
    double.chmod(double.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{double.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "nobus"))
    with pytest.raises(exitcodes.HwmonError, match="no session bus"):
        parse_sink("desktop")
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/run/user/0/bus")
    parse_sink("desktop").send([notice(message="<b>x</b> & <a href='y'>")])
    argv = json.loads((tmp_path / "argv").read_text())
    assert argv[:4] == ["--app-name=hwmon", "--urgency=critical", "--", "hwmon: train failed"]
    assert argv[4].startswith("failed: &lt;b&gt;x&lt;/b&gt; &amp; &lt;a href='y'&gt;")
    assert all(is_safe(a.replace("\n", "")) for a in argv)


def test_specs_that_cannot_work_here_are_usage_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for spec, words in (
        ("pager", "not a sink"),
        ("exec:", "needs a command"),
        ("exec:no-such-program-xyz", "not on PATH"),
        ("exec:'unbalanced", "cannot split"),
        ("mail:not an address", "not a mail address"),
        ("bogus://x", "not an URL Apprise can send to"),
    ):
        with pytest.raises(exitcodes.HwmonError, match=words) as info:
            parse_sink(spec)
        assert info.value.code == exitcodes.USAGE
    monkeypatch.setenv("PATH", str(tmp_path))
    if not any(os.access(p, os.X_OK) for p in ("/usr/sbin/sendmail", "/usr/lib/sendmail")):
        with pytest.raises(exitcodes.HwmonError, match="--smtp"):
            parse_sink("mail:ops@example.org")
    with pytest.raises(exitcodes.HwmonError, match="no controlling terminal"):
        parse_sink("terminal", SinkOptions(tty=str(tmp_path / "no-tty")))


def test_log_lines_never_show_an_urls_token() -> None:
    from hwmon.notify.sinks import redact_url

    assert redact_url("slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#channel") == "slack://…"
    assert redact_url("discord://4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js") == "discord://…"
    assert redact_url("mailto://user:secret@gmail.com") == "mailto://gmail.com"
    assert redact_url("ntfy://ntfy.sh/my-topic") == "ntfy://ntfy.sh"
    assert redact_url("json://127.0.0.1:8000/hook?token=x") == "json://127.0.0.1:8000"
