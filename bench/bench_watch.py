"""`hwmon watch` benchmark: its CPU with 20 live runs, and the latency from a run's event to each sink. Prints
figures; it is not a timed test.

    .venv/bin/python bench/bench_watch.py [--runs 20] [--seconds 30] [--events 5]

Set-up (bench_fleet.py's harness: its WRITER, one Cerebras-style step line per second per run, in a throwaway
registry): RUNS real supervised runs, then ``hwmon watch --all`` with four sinks — ``exec:`` (a Python recorder),
``mail:`` through a real SMTP server (aiosmtpd, in this process), Apprise ``json://`` to a real HTTP server (in this
process) and ``terminal`` (a pty that is the watch's controlling terminal) — and ``--metrics`` on 127.0.0.1.

Measures:
  * CPU of the watch process over SECONDS after a warm-up (target <= 1 % of a core with 20 runs); baseline in the
    same run: ``hwmon top`` (the fleet view, the same sources and refresh, plus its screen) on the same runs;
  * latency per sink: EVENTS more runs that fail at a moment they record themselves (just before raising); the time
    from that moment to the arrival at each receiver (median and max).
"""

from __future__ import annotations

import argparse
import fcntl
import http.server
import json
import os
import pty
import socket
import statistics
import subprocess
import sys
import tempfile
import termios
import threading
import time
from email import message_from_bytes
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_fleet import WRITER, _pty_app, cpu_over  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FAILER = (
    "import sys, time, datetime\n"
    "for step in (10, 20, 30):\n"
    "    now = datetime.datetime.now()\n"
    "    print(f'{now:%Y-%m-%d %H:%M:%S},000 INFO:   | Train Device=CSX, Step={step}, Loss=2.5, "
    "Rate=905.10 samples/sec, GlobalRate=907.70 samples/sec', flush=True)\n"
    "    time.sleep(0.5)\n"
    "open(sys.argv[1], 'w').write(repr(time.time()))\n"
    "raise RuntimeError('out of memory')\n"
)
RECORDER = (
    "import json, os, sys, time\n"
    "rec = {'at': time.time(), 'run': os.environ['HWMON_RUN'], 'event': os.environ['HWMON_EVENT']}\n"
    "open(sys.argv[1], 'a').write(json.dumps(rec) + '\\n')\n"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Receivers:
    """An SMTP and an HTTP server on 127.0.0.1 recording (arrival time, run id, event)."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.mail: list[tuple[float, str, str]] = []
        self.http: list[tuple[float, str, str]] = []
        outer = self

        class Mail:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
                message = message_from_bytes(envelope.content)
                payload = message.get_payload(decode=True)
                assert isinstance(payload, bytes)
                run = payload.decode().splitlines()[1].split()[1]
                outer.mail.append((time.time(), run, str(message["X-Hwmon-Event"])))
                return "250 OK"

        class Http(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.http.append((time.time(), body["message"].splitlines()[1].split()[1], body["title"].split()[-1]))
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.smtp_port = free_port()
        self._smtp = Controller(Mail(), hostname="127.0.0.1", port=self.smtp_port)
        self._smtp.start()
        self._http = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Http)
        threading.Thread(target=self._http.serve_forever, daemon=True).start()
        self.http_port = self._http.server_port

    def close(self) -> None:
        self._smtp.stop()
        self._http.shutdown()


class Terminal:
    """A pty whose slave becomes the controlling terminal of the watch; arrival times of OSC 777 notifications."""

    def __init__(self) -> None:
        self.master, self.slave = pty.openpty()
        self.arrivals: list[tuple[float, bytes]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            if not data:
                return
            self.arrivals.append((time.time(), data))

    def told(self) -> list[float]:
        return [at for at, data in self.arrivals for _ in range(data.count(b"\x1b]777;notify"))]

    def preexec(self) -> None:
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def start_runs(env: dict[str, str], count: int, body: str, *args: str) -> list[str]:
    ids = []
    for _ in range(count):
        done = subprocess.run(
            [sys.executable, "-m", "hwmon", "run", "--detach", "--", sys.executable, "-c", body, *args],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        ids.append(done.stdout.strip())
    return ids


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=6.0)
    parser.add_argument("--events", type=int, default=5)
    args = parser.parse_args()
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} (1/5 min), {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="hwmon-bench-watch-") as tmp_text:
        tmp = Path(tmp_text)
        runs_dir = tmp / "runs"
        env = dict(
            os.environ,
            HWMON_RUNS_DIR=str(runs_dir),
            HWMON_NOTIFY_STATE=str(tmp / "notify.sqlite"),
            HWMON_HISTORY="off",
            PYTHONUNBUFFERED="1",
        )
        lifetime = args.warmup * 2 + args.seconds * 2 + 90
        writers = start_runs(env, args.runs, WRITER, "1.0", str(lifetime))
        receivers = Receivers()
        terminal = Terminal()
        recorder = tmp / "recorder.py"
        recorder.write_text(RECORDER)
        exec_out = tmp / "exec.jsonl"
        script = ROOT / ".venv" / "bin" / "hwmon"
        command = [str(script)] if script.exists() else [sys.executable, "-m", "hwmon"]
        watch_cmd = [
            *command,
            "watch",
            "--all",
            "--notify",
            f"exec:{sys.executable} {recorder} {exec_out}",
            "--notify",
            "mail:bench@example.org",
            "--smtp",
            f"127.0.0.1:{receivers.smtp_port}",
            "--notify",
            f"json://127.0.0.1:{receivers.http_port}/hook",
            "--notify",
            "terminal",
            "--metrics",
            "127.0.0.1:0",
        ]
        log = (tmp / "watch.out").open("wb")
        watch = subprocess.Popen(
            watch_cmd, stdin=terminal.slave, stdout=log, stderr=subprocess.STDOUT, env=env, preexec_fn=terminal.preexec
        )
        ps = psutil.Process(watch.pid)
        try:
            time.sleep(args.warmup)
            before, t0 = ps.cpu_times(), time.monotonic()
            time.sleep(args.seconds)
            after = ps.cpu_times()
            watch_cpu = 100.0 * ((after.user + after.system) - (before.user + before.system)) / (time.monotonic() - t0)
            top = _pty_app(["top"], runs_dir)
            time.sleep(args.warmup)
            top_cpu = cpu_over(top, args.seconds)
            top.close()
            marks = []
            for n in range(args.events):
                mark = tmp / f"failed{n}.at"
                [run_id] = start_runs(env, 1, FAILER, str(mark))
                marks.append((run_id, mark))
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline and not (
                    mark.exists()
                    and any(r == run_id for _, r, _ in receivers.mail)
                    and any(r == run_id for _, r, _ in receivers.http)
                    and exec_out.exists()
                    and run_id in exec_out.read_text()
                    and len(terminal.told()) > n
                ):
                    time.sleep(0.02)
            time.sleep(1.0)
        finally:
            watch.terminate()
            watch.wait(30)
            log.close()
            receivers.close()
            for run_id in writers:
                subprocess.run(
                    [sys.executable, "-m", "hwmon", "stop", "-q", "--int-timeout", "2", run_id],
                    capture_output=True,
                    env=env,
                    check=False,
                )
        event_at = {run_id: float(mark.read_text()) for run_id, mark in marks if mark.exists()}
        execs = [json.loads(line) for line in exec_out.read_text().splitlines()] if exec_out.exists() else []
        latency: dict[str, list[float]] = {
            "exec": [r["at"] - event_at[r["run"]] for r in execs if r["run"] in event_at and r["event"] == "failed"],
            "mail": [at - event_at[r] for at, r, e in receivers.mail if r in event_at and e == "failed"],
            "json (Apprise)": [at - event_at[r] for at, r, e in receivers.http if r in event_at and e == "failed"],
            "terminal": [at - t for at, t in zip(terminal.told(), sorted(event_at.values()), strict=False)],
        }
        told = (tmp / "watch.out").read_text(errors="replace").count(": told failed")
    print(
        f"hwmon watch --all, {args.runs} live runs, 4 sinks + /metrics: {watch_cpu:.2f} % of a core over "
        f"{args.seconds:g} s (target <= 1 %)"
    )
    print(
        f"baseline, hwmon top on the same runs: {top_cpu:.2f} % of a core; ratio watch/top = "
        f"{watch_cpu / top_cpu if top_cpu else float('nan'):.2f}"
    )
    print(f"latency from a run's failure to the sink, {len(event_at)} failures ({told} deliveries logged):")
    for sink, values in latency.items():
        if values:
            print(
                f"  {sink:<15} median {statistics.median(values):.2f} s, max {max(values):.2f} s ({len(values)} events)"
            )
        else:
            print(f"  {sink:<15} no delivery measured")
    return 0


if __name__ == "__main__":
    sys.exit(main())
