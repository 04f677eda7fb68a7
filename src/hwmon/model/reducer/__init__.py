"""The one reducer: folds events (``hwmon.events``) into a ``RunState``.

Everything the dashboard and ``hwmon summary`` show is derived from the state this builds, so the live and the
headless views cannot disagree. Pure: no I/O, no clock of its own — ``now`` is the caller's clock reading at the
event's arrival (``None`` for a whole-file summary). Bad or odd input never raises: an event that does not fit the
current state is folded in as well as it can be.

Modules: ``dispatch`` (``apply``: the shared bookkeeping, then one handler per event type), ``timeline`` (phases and
checkpoints), ``steps`` (training/eval steps and step blocks), ``facts`` (progress bars, eval metrics, targets,
info), ``alerts`` (alerts, errors, warnings), ``run`` (the run as a whole: restarts, vendor, end, clock, status).
"""

from hwmon.model.reducer.alerts import add_alert, record_time_alerts
from hwmon.model.reducer.dispatch import apply, apply_all
from hwmon.model.reducer.run import reset_run
from hwmon.model.reducer.timeline import fold_phases

__all__ = ["apply", "apply_all", "add_alert", "fold_phases", "record_time_alerts", "reset_run"]
