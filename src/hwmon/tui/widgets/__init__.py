"""The dashboard's panes. Each is fed from the one ``RunState`` by the app's repaint timer."""

from __future__ import annotations

from hwmon.tui.widgets.alerts import AlertsPane
from hwmon.tui.widgets.header import RunHeader
from hwmon.tui.widgets.logpane import LogPane, RawLog
from hwmon.tui.widgets.metrics import MetricsPane
from hwmon.tui.widgets.modeltree import ModelTree
from hwmon.tui.widgets.progress import ProgressPane
from hwmon.tui.widgets.timeline import PhaseTimeline

__all__ = [
    "AlertsPane",
    "LogPane",
    "MetricsPane",
    "ModelTree",
    "PhaseTimeline",
    "ProgressPane",
    "RawLog",
    "RunHeader",
]
