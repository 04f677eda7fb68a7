"""Telling people and systems when a run needs them, without a server: ``hwmon watch`` and the dashboard's
``--notify``.

- ``notice``: what is told — a ``Notice`` per event of a run (its end, or any alert the reducer raised, by name),
  found by comparing the run's ``RunState`` with what was already told (pure).
- ``ledger``: what was told, on disk (SQLite), so a restarted watch never tells it twice.
- ``sinks``: where it is told — ``exec:CMD``, ``terminal``, ``desktop``, ``mail:ADDR``, any Apprise URL.
- ``dispatch``: one worker thread per sink: rate limit, retry with backoff; a failing sink never stops the watch.
- ``metrics``: the runs as Prometheus metrics (``/metrics`` and node_exporter's textfile collector).

Layering: above ``hwmon.sources`` (the watch follows runs with the fleet's trackers), below the views and the
dashboard (which take ``--notify`` too). Log text reaches a notification only through
``hwmon.model.text.safe_text``.
"""
