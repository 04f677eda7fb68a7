"""The dashboard's panes. Each is fed from the one ``RunState`` by the app's repaints."""

from __future__ import annotations

from hwmon.tui.widgets.alerts import AlertsPane
from hwmon.tui.widgets.charts import ChartPane
from hwmon.tui.widgets.header import RunHeader
from hwmon.tui.widgets.logpane import LogPane
from hwmon.tui.widgets.logview import LogView
from hwmon.tui.widgets.modeltree import ModelTree
from hwmon.tui.widgets.progress import ProgressPane
from hwmon.tui.widgets.ranks import RanksPane
from hwmon.tui.widgets.system import SystemPane
from hwmon.tui.widgets.tabs import PaneTabs
from hwmon.tui.widgets.timeline import PhaseTimeline

__all__ = [
    "AlertsPane",
    "ChartPane",
    "LogPane",
    "LogView",
    "ModelTree",
    "PaneTabs",
    "PhaseTimeline",
    "ProgressPane",
    "RanksPane",
    "RunHeader",
    "SystemPane",
]
