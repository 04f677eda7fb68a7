"""The watched runs as Prometheus metrics, through ``prometheus_client`` (the optional extra ``hwmon[prometheus]``).

Per run (labels ``run``, the run id or the log's path, and ``name``):

- ``hwmon_run_info{run,name,host,kind,vendor,device,ref} 1``
- ``hwmon_run_status{run,name,status} 1`` (one series, the status the views show)
- ``hwmon_train_step``, ``hwmon_train_target_step``, ``hwmon_train_loss``, ``hwmon_train_rate{unit}``
- ``hwmon_eval_metric{run,name,metric}``
- ``hwmon_last_step_timestamp_seconds``: Unix time of the last step (the log's own timestamp when it has one, else
  when the watch read it) — for "no step for 10 minutes" rules
- ``hwmon_phase_seconds{run,name,phase}``: time spent in each phase so far (repeats added)
- ``hwmon_eta_seconds``: the run's ETA (absent when unknown)
- ``hwmon_alerts_total{run,name,kind}``: events told of the run, by name (``failed``, ``stalled``, ``nan``...)

Plus ``hwmon_watch_runs`` and ``hwmon_notifications_total{sink}`` / ``hwmon_notification_failures_total{sink}``.

The figures are a ``RunSnapshot`` the watch takes from the model (``hwmon.model.figures``, ``hwmon.model.eta``,
the fleet's row) after each change; a scrape reads the latest snapshots and computes nothing.
"""

from __future__ import annotations

import ipaddress
import math
import socket
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hwmon import exitcodes
from hwmon.model import figures
from hwmon.model.state import RunState
from hwmon.model.text import safe_text

if TYPE_CHECKING:
    from prometheus_client.registry import CollectorRegistry

__all__ = ["RunSnapshot", "WatchCollector", "parse_listen", "registry_for", "serve", "snapshot", "write_textfile"]

LABEL_LIMIT = 200


@dataclass(frozen=True, slots=True)
class RunSnapshot:
    """What a scrape shows of one run (see the module docstring)."""

    run: str
    name: str
    host: str
    kind: str
    vendor: str
    device: str
    ref: str
    status: str
    step: int | None = None
    target: int | None = None
    loss: float | None = None
    rate: float | None = None
    rate_unit: str = ""
    eta_s: float | None = None
    last_step_unix: float | None = None
    phases: Mapping[str, float] = field(default_factory=dict)
    eval: Mapping[str, float] = field(default_factory=dict)
    alerts: Mapping[str, int] = field(default_factory=dict)


def _last_step_unix(state: RunState) -> float | None:
    last = state.last_step
    if last is not None and last.ts is not None:
        try:
            return last.ts.timestamp()  # a naive log timestamp is the log's local time
        except (OverflowError, OSError, ValueError):
            pass
    return state.last_step_at


def snapshot(
    *,
    run: str,
    name: str,
    host: str,
    kind: str,
    ref: str,
    status: str,
    state: RunState | None,
    now: float | None,
    step: int | None = None,
    target: int | None = None,
    loss: float | None = None,
    rate: float | None = None,
    rate_unit: str = "",
    eta_s: float | None = None,
    device: str = "",
    alerts: Mapping[str, int] | None = None,
) -> RunSnapshot:
    """A run's snapshot: the row's figures (as the fleet view shows them) and, from the state, the phases, eval
    metrics, vendor and the last step's time."""
    phases: dict[str, float] = {}
    evals: dict[str, float] = {}
    vendor = ""
    last_unix = None
    if state is not None:
        for phase, seconds in zip(state.phases, figures.phase_durations(state, now), strict=True):
            if seconds is not None:
                phases[phase.name] = phases.get(phase.name, 0.0) + seconds
        evals = {k: v for k, v in state.eval.items() if math.isfinite(v)}
        vendor = state.vendor or ""
        device = device or state.device or ""
        last_unix = _last_step_unix(state)
    return RunSnapshot(
        run=run,
        name=name,
        host=host,
        kind=kind,
        vendor=vendor,
        device=device,
        ref=ref,
        status=status,
        step=step,
        target=target,
        loss=loss,
        rate=rate,
        rate_unit=rate_unit,
        eta_s=eta_s,
        last_step_unix=last_unix,
        phases=phases,
        eval=evals,
        alerts=dict(alerts or {}),
    )


def _label(value: object) -> str:
    return safe_text(value, LABEL_LIMIT)


class WatchCollector:
    """A ``prometheus_client`` collector over the watch's latest snapshots (``snapshots()``) and its sink
    counters (``counters()``: sink -> (told, failed))."""

    def __init__(
        self,
        snapshots: Callable[[], Sequence[RunSnapshot]],
        counters: Callable[[], Mapping[str, tuple[int, int]]] = dict,
    ) -> None:
        self._snapshots = snapshots
        self._counters = counters

    def describe(self) -> list[Any]:
        # Metric families are built per scrape; nothing to describe up front (keeps registration cheap).
        return []

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        runs = list(self._snapshots())
        base = ["run", "name"]
        info = GaugeMetricFamily(
            "hwmon_run_info",
            "A run hwmon watches (value 1): where it runs and what on",
            labels=[*base, "host", "kind", "vendor", "device", "ref"],
        )
        status = GaugeMetricFamily("hwmon_run_status", "The run's status (value 1)", labels=[*base, "status"])
        step = GaugeMetricFamily("hwmon_train_step", "The last training step", labels=base)
        target = GaugeMetricFamily("hwmon_train_target_step", "The step the run trains to", labels=base)
        loss = GaugeMetricFamily("hwmon_train_loss", "The last training loss", labels=base)
        rate = GaugeMetricFamily("hwmon_train_rate", "The current training rate", labels=[*base, "unit"])
        evals = GaugeMetricFamily("hwmon_eval_metric", "The last value of an eval metric", labels=[*base, "metric"])
        last = GaugeMetricFamily(
            "hwmon_last_step_timestamp_seconds", "Unix time of the last training step", labels=base
        )
        phases = GaugeMetricFamily("hwmon_phase_seconds", "Seconds spent in a phase so far", labels=[*base, "phase"])
        eta = GaugeMetricFamily("hwmon_eta_seconds", "Seconds until the run ends, at its current pace", labels=base)
        alerts = CounterMetricFamily("hwmon_alerts", "Events of the run, by name", labels=[*base, "kind"])
        for snap in runs:
            key = [_label(snap.run), _label(snap.name)]
            info.add_metric(
                [*key, _label(snap.host), snap.kind, _label(snap.vendor), _label(snap.device), _label(snap.ref)], 1
            )
            status.add_metric([*key, _label(snap.status)], 1)
            if snap.step is not None:
                step.add_metric(key, snap.step)
            if snap.target is not None:
                target.add_metric(key, snap.target)
            if snap.loss is not None:
                loss.add_metric(key, snap.loss)
            if snap.rate is not None and math.isfinite(snap.rate):
                rate.add_metric([*key, _label(snap.rate_unit)], snap.rate)
            for metric, value in snap.eval.items():
                evals.add_metric([*key, _label(metric)], value)
            if snap.last_step_unix is not None:
                last.add_metric(key, snap.last_step_unix)
            for phase, seconds in snap.phases.items():
                phases.add_metric([*key, phase], seconds)
            if snap.eta_s is not None and math.isfinite(snap.eta_s):
                eta.add_metric(key, snap.eta_s)
            for kind, count in snap.alerts.items():
                alerts.add_metric([*key, _label(kind)], count)
        watched = GaugeMetricFamily("hwmon_watch_runs", "Runs the watch follows")
        watched.add_metric([], len(runs))
        told = CounterMetricFamily("hwmon_notifications", "Notices a sink took", labels=["sink"])
        failed = CounterMetricFamily("hwmon_notification_failures", "Failed deliveries (retried)", labels=["sink"])
        for sink, (ok, bad) in self._counters().items():
            told.add_metric([_label(sink)], ok)
            failed.add_metric([_label(sink)], bad)
        yield from (info, status, step, target, loss, rate, evals, last, phases, eta, alerts, watched, told, failed)


def registry_for(collector: WatchCollector) -> CollectorRegistry:
    """A registry holding only the watch's metrics (not the client's process/platform defaults)."""
    try:
        from prometheus_client import CollectorRegistry
    except ImportError:
        raise exitcodes.HwmonError(
            "--metrics needs the prometheus-client package: pip install 'hwmon[prometheus]'",
            exitcodes.MISSING_PACKAGE,
        ) from None
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry


def parse_listen(text: str, *, public: bool = False) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:9464`` for IPv6; port 0 picks a free one) checked: the host must be a loopback
    address unless ``public``. Raises ``HwmonError`` (``USAGE``)."""
    host, sep, port_text = text.rpartition(":")
    if not sep or not port_text.isdigit() or not host:
        raise exitcodes.HwmonError(f"--metrics {safe_text(text, 80)!r}: expected HOST:PORT", exitcodes.USAGE)
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    port = int(port_text)
    if port > 65535:
        raise exitcodes.HwmonError(f"--metrics: port {port} is out of range", exitcodes.USAGE)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise exitcodes.HwmonError(f"--metrics: cannot resolve {safe_text(host, 80)}: {exc}", exitcodes.USAGE) from None
    loopback = all(ipaddress.ip_address(str(info[4][0]).split("%")[0]).is_loopback for info in infos)
    if not loopback and not public:
        raise exitcodes.HwmonError(
            f"--metrics {safe_text(text, 80)}: not a loopback address; exposing run metrics on the network needs "
            "--metrics-public",
            exitcodes.USAGE,
        )
    return host, port


def serve(registry: CollectorRegistry, host: str, port: int) -> tuple[Any, Any]:
    """Serve ``/metrics`` on ``host:port`` in a daemon thread; (server, thread). ``server.server_port`` is the port
    (the one picked for port 0)."""
    from prometheus_client import start_http_server

    try:
        return start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        raise exitcodes.HwmonError(
            f"--metrics {safe_text(host, 80)}:{port}: cannot listen ({exc.strerror or exc})", exitcodes.USAGE
        ) from None


def write_textfile(registry: CollectorRegistry, path: str) -> None:
    """Write the metrics for node_exporter's textfile collector: a temp file renamed over ``path`` (a scrape never
    reads half a file)."""
    from prometheus_client import write_to_textfile

    write_to_textfile(path, registry)
