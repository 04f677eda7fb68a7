"""`hwmon watch --metrics`: `/metrics` scraped over HTTP and parsed with prometheus_client's own parser, the
textfile for node_exporter, the loopback rule — and, in the integration lane, a real Prometheus server scraping the
watch and answering a query with the run's step."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from hwmon import exitcodes
from tests.notify.conftest import WatchProcess, free_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

LINE = (
    "2024-03-30 13:03:{sec:02d},540 INFO:   | Train Device=CSX, Step={step}, Loss={loss}, Rate=250.00 samples/sec, "
    "GlobalRate=240.00 samples/sec\n"
)


Samples = dict[str, list[tuple[dict[str, str], float]]]


def write_steps(log: Path, steps: range, loss: float = 2.0) -> None:
    with log.open("a") as fh:
        for step in steps:
            fh.write(LINE.format(sec=step % 60, step=step, loss=loss - step / 1000))


def samples(text: str) -> Samples:
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    return out


def scrape(url: str) -> Samples:
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        return samples(response.read().decode())


def wait_metric(url: str, name: str, value: float, timeout: float = 20.0) -> Samples:
    deadline = time.monotonic() + timeout
    got: Samples = {}
    while time.monotonic() < deadline:
        got = scrape(url)
        if any(v == value for _, v in got.get(name, [])):
            return got
        time.sleep(0.05)
    raise AssertionError(f"{name} never {value}: {got.get(name)}")


def metrics_url(watch: WatchProcess) -> str:
    text = watch.wait_line(r"serving http://\S+/metrics")
    match = re.search(r"serving (http://\S+/metrics)", text)
    assert match is not None
    return match.group(1)


def test_metrics_are_scraped_and_parsed_with_the_reference_parser(tmp_path: Path, watch_env: dict[str, str]) -> None:
    log = tmp_path / "train.log"
    write_steps(log, range(1, 11))
    textfile = tmp_path / "textfile" / "hwmon.prom"
    textfile.parent.mkdir()
    watch = WatchProcess(
        [str(log), "--interval", "0.1", "--metrics", "127.0.0.1:0", "--metrics-textfile", str(textfile)],
        watch_env,
        tmp_path / "watch.out",
    )
    try:
        url = metrics_url(watch)
        got = wait_metric(url, "hwmon_train_step", 10)
        [(labels, _)] = got["hwmon_run_info"]
        assert labels["run"] == str(log) and labels["name"] == "train.log" and labels["vendor"] == "cerebras"
        assert got["hwmon_train_loss"][0][1] == pytest.approx(1.99)
        # The current rate is the last step's Rate (figures.current_rate, as the header and ls), not GlobalRate.
        assert got["hwmon_train_rate"][0] == ({"run": str(log), "name": "train.log", "unit": "samples/sec"}, 250.0)
        [(status, _)] = got["hwmon_run_status"]
        assert status["status"] == "running"
        # The last step's own timestamp (the log's local time), not when the watch read it.
        assert got["hwmon_last_step_timestamp_seconds"][0][1] == pytest.approx(
            time.mktime(time.strptime("2024-03-30 13:03:10", "%Y-%m-%d %H:%M:%S")) + 0.54
        )
        assert any(lab["phase"] == "train" for lab, _ in got["hwmon_phase_seconds"])
        # The run moves on and fails with a NaN loss: the step, the alert count and the status follow.
        write_steps(log, range(11, 16))
        with log.open("a") as fh:
            fh.write(LINE.format(sec=16, step=16, loss="nan"))
        got = wait_metric(url, "hwmon_train_step", 16)
        got = wait_metric(url, "hwmon_alerts_total", 1)
        assert got["hwmon_alerts_total"] == [({"run": str(log), "name": "train.log", "kind": "nan"}, 1.0)]
        # The textfile holds the same, written by rename (node_exporter never reads half a file).
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            on_disk = samples(textfile.read_text()) if textfile.exists() else {}
            if on_disk.get("hwmon_train_step", [({}, 0)])[0][1] == 16:
                break
            time.sleep(0.05)
        assert on_disk["hwmon_train_step"][0][1] == 16
        assert not [p for p in textfile.parent.iterdir() if p != textfile]
    finally:
        assert watch.stop() == 0
    assert "stopped by SIGTERM" in watch.text()


def test_a_non_loopback_address_needs_metrics_public(tmp_path: Path, watch_env: dict[str, str]) -> None:
    log = tmp_path / "train.log"
    write_steps(log, range(1, 3))
    done = subprocess.run(
        [sys.executable, "-m", "hwmon", "watch", str(log), "--metrics", "0.0.0.0:0", "--once"],
        capture_output=True,
        text=True,
        env=watch_env,
        timeout=60,
    )
    assert done.returncode == exitcodes.USAGE
    assert "--metrics-public" in done.stderr
    allowed = subprocess.run(
        [sys.executable, "-m", "hwmon", "watch", str(log), "--metrics", "0.0.0.0:0", "--metrics-public", "--once"],
        capture_output=True,
        text=True,
        env=watch_env,
        timeout=60,
    )
    assert allowed.returncode == 0, allowed.stderr
    assert "serving http://0.0.0.0:" in allowed.stdout


PROMETHEUS_CONFIG = """
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: hwmon
    static_configs:
      - targets: ["{target}"]
"""


def test_a_real_prometheus_server_scrapes_the_watch_and_its_query_api_returns_the_step(
    tmp_path: Path, watch_env: dict[str, str]
) -> None:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip("Debian's prometheus package is not installed (apt install prometheus; .ci/run does)")
    log = tmp_path / "train.log"
    write_steps(log, range(1, 43))
    watch = WatchProcess([str(log), "--interval", "0.2", "--metrics", "127.0.0.1:0"], watch_env, tmp_path / "w.out")
    server = None
    try:
        target = metrics_url(watch).removeprefix("http://").removesuffix("/metrics")
        config = tmp_path / "prometheus.yml"
        config.write_text(PROMETHEUS_CONFIG.format(target=target))
        web = f"127.0.0.1:{free_port()}"
        server = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address={web}",
                "--log.level=warn",
            ],
            stdout=subprocess.DEVNULL,
            stderr=(tmp_path / "prometheus.err").open("wb"),
        )
        query = urllib.parse.urlencode({"query": f'hwmon_train_step{{run="{log}"}}'})
        deadline = time.monotonic() + 60
        result: list[dict[str, object]] = []
        while time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(f"http://{web}/api/v1/query?{query}", timeout=5) as response:
                    body = json.loads(response.read())
                result = body["data"]["result"]
                if result:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        assert result, (tmp_path / "prometheus.err").read_text()[-2000:]
        [series] = result
        metric = series["metric"]
        assert isinstance(metric, dict) and metric["job"] == "hwmon" and metric["name"] == "train.log"
        value = series["value"]
        assert isinstance(value, list) and value[1] == "42"
    finally:
        if server is not None:
            server.terminate()
            server.wait(20)
        watch.stop()
