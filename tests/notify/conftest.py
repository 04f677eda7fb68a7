"""Real receivers for the notification tests: an SMTP server (aiosmtpd) and an HTTP server on 127.0.0.1 that take
what the sinks send and note when it arrived; a helper that runs ``hwmon watch`` as a process."""

from __future__ import annotations

import http.server
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest


@dataclass
class Received:
    at: float
    data: Any


@dataclass
class Inbox:
    """What a receiver got, in order, with arrival times (Unix seconds)."""

    items: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, data: Any) -> None:
        with self.lock:
            self.items.append(Received(time.time(), data))

    def snapshot(self) -> list[Received]:
        with self.lock:
            return list(self.items)

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Received]:
        """Wait until ``count`` items arrived (polling the state, no fixed sleep)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            items = self.snapshot()
            if len(items) >= count:
                return items
            time.sleep(0.02)
        raise AssertionError(f"expected {count} deliveries, got {len(self.snapshot())}: {self.snapshot()}")


@dataclass
class SmtpServer:
    host: str
    port: int
    inbox: Inbox

    def messages(self) -> list[tuple[float, Message]]:
        return [(r.at, r.data) for r in self.inbox.snapshot()]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (for servers that cannot be told to pick one)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1; each message is parsed into an ``email.message.Message``."""
    from aiosmtpd.controller import Controller

    inbox = Inbox()

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            message = message_from_bytes(envelope.original_content or envelope.content)
            message["X-Envelope-To"] = ",".join(envelope.rcpt_tos)
            inbox.add(message)
            return "250 Message accepted for delivery"

    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", port, inbox)
    finally:
        controller.stop()


@dataclass
class HttpServer:
    url: str
    inbox: Inbox
    # Status codes to answer with, in order, before answering 200 (a receiver that fails a few times).
    failures: list[int]

    def posts(self) -> list[tuple[float, dict[str, Any]]]:
        return [(r.at, r.data) for r in self.inbox.snapshot()]


@pytest.fixture
def http_server() -> Iterator[HttpServer]:
    """A real HTTP server on 127.0.0.1 that records every JSON POST (Apprise's ``json://``)."""
    inbox = Inbox()
    failures: list[int] = []
    attempts: list[float] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server API
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            attempts.append(time.time())
            if failures:
                self.send_response(failures.pop(0))
                self.end_headers()
                return
            inbox.add({"path": self.path, "type": self.headers.get("Content-Type"), **json.loads(body)})
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        result = HttpServer(f"127.0.0.1:{server.server_port}", inbox, failures)
        result.attempts = attempts  # type: ignore[attr-defined]
        yield result
    finally:
        server.shutdown()
        server.server_close()


RECORDER = r"""
import json, os, sys, time
record = {"at": time.time(), "argv": sys.argv[2:], "stdin": json.loads(sys.stdin.read()),
          "env": {k: v for k, v in os.environ.items() if k.startswith("HWMON_")}}
with open(sys.argv[1], "a") as fh:
    fh.write(json.dumps(record) + "\n")
"""


@dataclass
class ExecRecorder:
    """An ``exec:`` command (a small Python script) that appends what it was given to a JSON-lines file."""

    script: Path
    out: Path

    @property
    def spec(self) -> str:
        return f"exec:{sys.executable} {self.script} {self.out}"

    def records(self) -> list[dict[str, Any]]:
        if not self.out.exists():
            return []
        return [json.loads(line) for line in self.out.read_text().splitlines() if line.strip()]

    def wait_for(self, count: int, timeout: float = 20.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            records = self.records()
            if len(records) >= count:
                return records
            time.sleep(0.02)
        raise AssertionError(f"expected {count} exec deliveries, got {self.records()}")


@pytest.fixture
def exec_recorder(tmp_path: Path) -> ExecRecorder:
    script = tmp_path / "recorder.py"
    script.write_text(RECORDER)
    return ExecRecorder(script, tmp_path / "exec.jsonl")


class WatchProcess:
    """``hwmon watch`` as a real process; its stdout (one line per event) goes to a file the test reads."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path, **popen: Any) -> None:
        self.log = log
        self._fh = open(log, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hwmon", "watch", *args],
            stdout=self._fh,
            stderr=subprocess.STDOUT,
            env=env,
            **popen,
        )

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_line(self, pattern: str, timeout: float = 20.0, count: int = 1) -> str:
        """Wait until the watch printed ``count`` lines matching ``pattern``."""
        regex = re.compile(pattern, re.M)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.text()
            if len(regex.findall(text)) >= count:
                return text
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        raise AssertionError(f"no {count} x {pattern!r} in the watch's output:\n{self.text()}")

    def stop(self, sig: int | None = None, timeout: float = 20.0) -> int:
        if self.proc.poll() is None:
            if sig is None:
                self.proc.terminate()
            else:
                self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout)
        finally:
            self._fh.close()
        return code


@pytest.fixture
def watch_env(tmp_path: Path) -> dict[str, str]:
    """The environment of an ``hwmon watch`` under test: its own runs dir, ledger, no history."""
    return dict(
        os.environ,
        HWMON_RUNS_DIR=str(tmp_path / "runs"),
        HWMON_NOTIFY_STATE=str(tmp_path / "notify.sqlite"),
        HWMON_HISTORY="off",
        PYTHONUNBUFFERED="1",
    )
