"""TensorBoard event files for ``hwmon export --format tensorboard`` (tensorboardX: the optional extra)."""

from __future__ import annotations

import contextlib
import math
import os
import time
from datetime import datetime
from pathlib import Path

from hwmon import exitcodes
from hwmon.commands._output import cannot_write
from hwmon.model.export import Row


def _missing() -> exitcodes.HwmonError:
    return exitcodes.HwmonError(
        "tensorboard export needs the tensorboardX package, which is not installed: pip install 'hwmon[tensorboard]' "
        "(or pip install tensorboardX)",
        exitcodes.MISSING_PACKAGE,
    )


def _walltime(text: object) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text).timestamp()
    except (ValueError, OverflowError, OSError):
        return None


_TB_SKIP = {"step", "mode", "epoch", "time", "wall_s", "rate_unit", "line"}


class TensorBoardWriter:
    """Scalars as TensorBoard events: ``train/loss``, ``train/rate``, ``train/lr``, ``train/<metric>``
    (``eval/...`` for eval steps) at the step number, with the log's time as wall time; ``eval_metrics/<name>`` at
    their step; ``phase_seconds/<name>`` at the phase's index.

    Written synchronously with tensorboardX's own event-file and summary code (not its ``SummaryWriter``, whose
    writer thread dies silently on a full disk while every later ``add_scalar`` waits on its queue forever): a
    failed write is an ``OSError`` here, exit 8. The file is written under a temporary name in the log directory
    and renamed to its ``events.out.tfevents...`` name when complete; after an error it is removed."""

    def __init__(self, logdir: Path) -> None:
        try:
            from tensorboardX.event_file_writer import EventsWriter
            from tensorboardX.proto.event_pb2 import Event
            from tensorboardX.summary import scalar
        except ImportError:
            raise _missing() from None
        self._event = Event
        self._scalar = scalar
        try:
            logdir.mkdir(parents=True, exist_ok=True)
            self._writer = EventsWriter(str(logdir / ".events"), filename_suffix=_TB_TMP)
        except OSError as exc:
            raise cannot_write(logdir, exc) from None
        self._tmp = Path(self._writer._file_name)
        self.path = self._tmp.with_name(self._tmp.name[1 : -len(_TB_TMP)])
        self.scalars = 0

    def _add(self, tag: str, value: float, step: object, walltime: float | None = None) -> None:
        event = self._event(summary=self._scalar(tag, value))
        event.wall_time = time.time() if walltime is None else walltime
        event.step = int(step) if isinstance(step, (int, float)) and math.isfinite(step) else 0
        self._writer.write_event(event)
        self.scalars += 1

    def steps(self, rows: list[Row]) -> None:
        for row in rows:
            step = row["step"]
            mode = row["mode"]
            walltime = _walltime(row["time"])
            for key, value in row.items():
                if key in _TB_SKIP or not isinstance(value, (int, float)):
                    continue
                self._add(f"{mode}/{key}", float(value), step, walltime)

    def evals(self, rows: list[Row]) -> None:
        for row in rows:
            value = row["value"]
            if isinstance(value, (int, float)):
                self._add(f"eval_metrics/{row['name']}", float(value), row["step"] or 0)

    def phases(self, rows: list[Row]) -> None:
        for row in rows:
            seconds = row["seconds"]
            if isinstance(seconds, (int, float)):
                self._add(f"phase_seconds/{row['name']}", float(seconds), row["index"])

    def close(self) -> None:
        """Flush, close and give the file its name."""
        self._writer.close()
        os.replace(self._tmp, self.path)

    def discard(self) -> None:
        """After an error: the partial file is removed."""
        with contextlib.suppress(OSError):
            self._writer.close()
        with contextlib.suppress(OSError):
            os.unlink(self._tmp)


_TB_TMP = ".hwmon-tmp"
