"""The fallback parser: facts any training log may hold, whatever stack printed it. Pure.

- ``loss=``/``loss:``/``Loss =`` key-values -> ``StepMetrics`` with the other numeric key-values of the line
  (``acc``, ``lr`` ...) in ``extra`` and ``step``/``epoch``/``batch`` and a ``N samples/sec``-style rate picked up.
  Keys named ``val_*``/``eval_*``/``test_*`` (or preceded by the word Eval/Val/Test) make it an eval step.
- Python tracebacks and ``terminate called``/``what():`` aborts, assembled by ``hwmon.parsers.multiline`` (a chain
  reports only its last exception, held until the lines after it show it is the last).
- Errors, warnings, kill/signal lines, device and vendor evidence, completion phrases and a loop's totals: the rows
  of ``hwmon.parsers.evidence`` over its data tables (``ERROR`` level lines, ``Error:``/``FooError:`` lines and
  glog ``E``/``F`` records -> ``ErrorSeen``; ``Killed``, signals, the OOM killer, a non-zero exit -> fatal
  ``ErrorSeen``; ``cuda:0``, GPU model names, ``mps``, TPU, ``Using device: cpu`` -> ``VendorDetected`` once per
  vendor/device; ``Finished training``, ``exited with code 0`` -> ``RunCompleted``).

The stream drops this parser's facts for a line a format parser already reported the same kind of fact for.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Literal

from hwmon.events import EvalMetric, Event, StepMetrics
from hwmon.parsers import vocab
from hwmon.parsers.base import Line
from hwmon.parsers.evidence import DEVICE_ROWS, END_ROWS, ERRORS, Evidence
from hwmon.parsers.fields import share
from hwmon.parsers.multiline import HOLD_LINES, MultilineErrors
from hwmon.parsers.records import RecordReader, as_record
from hwmon.parsers.rules import stamp

__all__ = ["GenericParser", "HOLD_LINES"]

MAX_EXTRA = 16
MAX_MESSAGE = 2000

_NUM = vocab.NUM
# key, separator (= or :), optional quote, number (or nan/inf); the key may be quoted ('loss': 0.6).
_KV = re.compile(
    r"(?<![\w./-])['\"]?([A-Za-z][\w./-]{0,40}?)['\"]?\s{0,2}[=:]\s{0,3}['\"]?"
    r"(" + _NUM + r"|nan|NaN|inf|-inf|Inf|-Inf)(?![\w.])(%?)"
)
_LOSS_HINT = re.compile(r"loss['\"]?\s{0,2}[=:]", re.IGNORECASE)
# "Test accuracy: 97.5%", "val_acc=0.91", "Accuracy on the validation set: 88.1%"
_ACCURACY = re.compile(
    r"(?<![\w])(?:(test|validation|val|eval(?:uation)?)(?:[ _]set)?[ _]acc(?:uracy)?"
    r"|acc(?:uracy)? on (?:the )?(test|validation|val|eval(?:uation)?) (?:set|data(?:set)?))"
    r"\s{0,2}[:=]\s{0,3}(\d{1,3}(?:\.\d+)?|\.\d+)\s?(%?)",
    re.IGNORECASE,
)
_SPLIT_NAMES = {"test": "test", "validation": "val", "val": "val", "eval": "eval", "evaluation": "eval"}
_STEP_WORD = re.compile(r"\b(?:global[ _])?(?:step|iter(?:ation)?)\s*[#:]?\s*(\d{1,18})\b", re.IGNORECASE)
_EPOCH_WORD = re.compile(r"\bepoch\s*[#:]?\s*(\d+(?:\.\d+)?)\b", re.IGNORECASE)
_RATE = re.compile(
    # The look-behind starts a number only where one starts: without it a long run of digits is retried from
    # every digit, which is quadratic (a "loss: " line with 6400 digits took 3 s).
    r"(?<![\d.])(" + _NUM + r")\s*"
    r"(samples/s(?:ec)?|tokens/s(?:ec)?|images?/s(?:ec)?|img/s|seq(?:uences)?/s(?:ec)?|it/s|steps/s)",
    re.IGNORECASE,
)
_EVAL_WORD = re.compile(r"\b(?:eval(?:uation)?|val(?:idation)?|test)\b[^=:]{0,20}$", re.IGNORECASE)


_STEP_KEYS = {"step", "global_step", "globalstep", "iter", "iteration", "it", "steps"}
_EPOCH_KEYS = {"epoch", "epochs"}
_BATCH_KEYS = {"batch", "batch_idx"}


class GenericParser(Evidence):
    """Fallback facts from any log; see the module docstring."""

    def __init__(self) -> None:
        self._reader = RecordReader()
        self._multi = MultilineErrors(hold=True)
        self._vendors_seen: set[tuple[str, str | None]] = set()

    @property
    def busy(self) -> bool:
        """A traceback or ``terminate called`` is being read (the next lines may belong to it)."""
        return self._multi.busy

    def feed(self, line: Line, *, facts: bool = True, ends: bool = False) -> list[Event]:
        """Events for this line (and possibly a held traceback error from an earlier line).

        ``facts=False``: a format parser already took this line's facts (its step metrics, its error), so only
        the multi-line state (tracebacks, ``terminate called``) and vendor hints are looked at; re-deriving
        key/values and error levels is most of this parser's cost and would only produce duplicates. ``ends``: look
        for the run's end words even so (a line the learned stage read as metrics may also end the run: ``Finish
        training: the best accuracy is 0.77``)."""
        if not line.final:
            return []
        return self._feed(line, facts, ends)

    def finish(self) -> list[Event]:
        """End of input: release a held traceback / terminate error."""
        out: list[Event] = list(self._multi.finish())
        stamp(out, 0, "generic:traceback")
        return out

    # ------------------------------------------------------------------

    def _feed(self, line: Line, facts: bool = True, ends: bool = False) -> list[Event]:
        text = line.text
        out: list[Event] = []
        record = as_record(line, self._reader)
        if not facts:
            # A parser read this line's step or error: a record of its own, so it ends an exception's message.
            out.extend(self._multi.record_begins())
        consumed, errors = self._multi.feed(record)
        out.extend(errors)
        if out:
            stamp(out, 0, "generic:traceback")
        if consumed:
            # A traceback's lines still tell the device (``RuntimeError: CUDA out of memory``, ``cuDNN error``,
            # ``... devices, cuda:0 and cpu!``).
            DEVICE_ROWS.run(self, record, out)
            return out
        # The record without its timestamp (the level word kept: the rules below read "ERROR: x", "[ERROR] x").
        stamped = record.has_ts or record.stamp == "time"  # (a time of day dates nothing but is no message)
        rest = f"{record.level}: {record.msg}" if stamped and record.level else (record.msg if stamped else text)
        if not facts:
            # Only vendor hints are left to look at (most lines take this path when a
            # format parser recognised them), and the end words where asked.
            DEVICE_ROWS.run(self, record, out)
            if ends:
                END_ROWS.run(self, record, out, text=rest)
            return out
        ts = record.ts
        ERRORS.run(self, record, out, text=rest)
        DEVICE_ROWS.run(self, record, out)
        if "cc" in text:
            mark = len(out)
            self._accuracy(line.number, ts, text, out)
            stamp(out, mark, "generic:accuracy")
        END_ROWS.run(self, record, out, text=rest)
        if _LOSS_HINT.search(text) is not None:
            metrics = self._metrics(line.number, ts, text)
            if metrics is not None:
                out.append(metrics)
                stamp(out, len(out) - 1, "generic:metrics")
        return out

    # ------------------------------------------------------------------ metrics

    def _accuracy(self, number: int, ts: datetime | None, text: str, out: list[Event]) -> None:
        m = _ACCURACY.search(text)
        if m is None:
            return
        split = _SPLIT_NAMES[(m.group(1) or m.group(2)).lower()]
        value = float(m.group(3))
        if m.group(4) or value > 1.0:
            value /= 100.0  # a percentage (said, or implied by a value over 1)
        if 0.0 <= value <= 1.0:
            out.append(EvalMetric(number, ts, f"{split}_accuracy", value))

    def _metrics(self, number: int, ts: datetime | None, text: str) -> StepMetrics | None:
        loss: float | None = None
        eval_loss: float | None = None
        step: int | None = None
        epoch: float | None = None
        batch: int | None = None
        extra: list[tuple[str, float]] = []
        for m in _KV.finditer(text):
            key, raw, percent = m.group(1), m.group(2), m.group(3)
            lower = key.lower()
            try:
                value = float(raw)
            except ValueError:
                continue
            if percent:
                value /= 100.0
            if lower.endswith("loss"):
                prefix = lower[:-4].rstrip("_/. -")
                is_eval = prefix.startswith(("val", "eval", "test", "valid")) or (
                    not prefix and _EVAL_WORD.search(text[: m.start()]) is not None
                )
                if is_eval:
                    if eval_loss is None:
                        eval_loss = value
                elif prefix in ("", "train", "training", "avg", "mean", "total", "train/", "running") and loss is None:
                    loss = value
                elif len(extra) < MAX_EXTRA:
                    extra.append((lower, value))
            elif lower in _STEP_KEYS and step is None and math.isfinite(value) and value >= 0:
                step = int(value)
            elif lower in _EPOCH_KEYS and epoch is None and math.isfinite(value):
                epoch = value
            elif lower in _BATCH_KEYS and batch is None and math.isfinite(value) and value >= 0:
                batch = int(value)
            elif len(extra) < MAX_EXTRA:
                extra.append((lower, value if percent else share(lower, value)))  # h17c: acc=97.5 is 0.975
        mode: Literal["train", "eval"] = "train"
        if loss is None:
            if eval_loss is None:
                return None
            loss, mode = eval_loss, "eval"
        elif eval_loss is not None and len(extra) < MAX_EXTRA:
            extra.append(("eval_loss", eval_loss))
        if step is None:
            word = _STEP_WORD.search(text)
            if word is not None:
                step = int(word.group(1))
        if epoch is None:
            word = _EPOCH_WORD.search(text)
            if word is not None:
                epoch = float(word.group(1))
        rate: float | None = None
        unit = "samples/sec"
        rate_match = _RATE.search(text)
        if rate_match is not None:
            rate = float(rate_match.group(1))
            unit = rate_match.group(2)
            extra = [(k, v) for k, v in extra if k not in ("throughput", "rate")]
        return StepMetrics(
            number,
            ts,
            step,
            loss=loss,
            rate=rate,
            rate_unit=unit,
            mode=mode,
            batch=batch,
            epoch=epoch,
            extra=tuple(extra),
        )
