"""The shape of a reducer handler: ``handler(state, event, now)`` folds one event of its type into ``state``.

Each module of the reducer (``timeline``, ``steps``, ``facts``, ``alerts``, ``run``) ends with its ``HANDLERS``
table (event type -> handler); ``dispatch`` merges the tables. A new kind of event gets a handler in the module it
belongs to (or a new module with its own ``HANDLERS``, added to ``dispatch.TABLES``): nothing else changes.
"""

from __future__ import annotations

from collections.abc import Callable

from hwmon.events import Event
from hwmon.model.state import RunState

Handler = Callable[[RunState, Event, float | None], None]
