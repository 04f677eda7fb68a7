"""The fallback parser: facts any training log may hold, whatever stack printed it. Pure.

- ``loss=``/``loss:``/``Loss =`` key-values -> ``StepMetrics`` with the other numeric key-values of the line
  (``acc``, ``lr`` ...) in ``extra`` and ``step``/``epoch``/``batch`` and a ``N samples/sec``-style rate picked up.
  Keys named ``val_*``/``eval_*``/``test_*`` (or preceded by the word Eval/Val/Test) make it an eval step.
- Python tracebacks and ``terminate called``/``what():`` aborts, assembled by ``hwmon.parsers.multiline`` (a chain
  reports only its last exception, held until the lines after it show it is the last).
- ``ERROR`` level lines, ``Error:``/``FooError:`` lines and glog ``E``/``F`` lines -> ``ErrorSeen``; ``Killed``,
  ``Segmentation fault``, ``Aborted (core dumped)``, ``Bus error`` -> fatal ``ErrorSeen(kind="signal")``.
- Python warnings (``file.py:13: UserWarning: text``, ``FutureWarning: text``) and ``WARNING`` level lines ->
  ``WarningSeen``.
- ``cuda:0``, ``Using device: cuda``, CUDA/NCCL evidence -> ``VendorDetected("gpu")``; ``Using device: cpu`` ->
  ``"cpu"`` (once per vendor/device). ``Finished training``, ``exited with code 0`` -> ``RunCompleted``.

The stream drops this parser's facts for a line a format parser already reported the same kind of fact for.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Literal

from hwmon.events import (
    ErrorSeen,
    EvalMetric,
    Event,
    RunCompleted,
    StepMetrics,
    TrainingTotals,
    Vendor,
    VendorDetected,
    WarningSeen,
)
from hwmon.parsers import vocab
from hwmon.parsers.base import Line
from hwmon.parsers.multiline import HOLD_LINES, MultilineErrors
from hwmon.parsers.records import RecordReader, as_record

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

_LEVEL_ERROR = re.compile(r"^(?:\S+\s+){0,3}?[\[|(]?(?:ERROR|CRITICAL|FATAL)[\]|):]?(?:\s|:|$)")
_LEVEL_FATAL = re.compile(r"^(?:\S+\s+){0,3}?[\[|(]?(?:CRITICAL|FATAL)[\]|):]?(?:\s|:|$)")
_ERROR_PREFIX = re.compile(r"^\s*(?:[A-Za-z_][\w.]*Error|Error|FatalError|Fatal error)\s*:\s*\S")
_GLOG = re.compile(r"^([EFW])\d{4} \d{2}:\d{2}:\d{2}\.\d+\s")
_GLOG_WHERE = re.compile(r"^\s*\d+\s+[\w./-]+:\d+\]\s*")
_SIGNALS = r"(?:Killed|Segmentation fault|Aborted|Bus error|Floating point exception|Illegal instruction)"
_SIGNAL = re.compile(
    # The whole line ("Killed"), the end of a message ("task 0: Killed"), or a shell's job report
    # ("line 1: 4242 Killed     python train.py").
    r"(?:^\s*|:\s|\s\d+\s+)" + _SIGNALS + r"(?: \(core dumped\))?(?:\s*$|\s{2,}\S)"
)
_PY_WARNING = re.compile(r"(?:^|:\d+: |\s)([A-Z]\w*Warning): (.+)$")
_LEVEL_WARNING = re.compile(r"^(?:\S+\s+){0,3}?[\[|(]?(?:WARNING|WARN)[\]|):]?(?:\s|:|$)")
# A log record glued behind other output ("...[00:02, note=x]2024-03-14 03:18:49,076 WARNING:   text").
_CUDA = re.compile(
    r"(?<![\w/.])cuda:(\d{1,18})\b|\b(?:[Uu]sing|[Dd]evice)\b[^\n]{0,12}?\bcuda(?::(\d{1,18}))?\b(?![\w.])"
)
# CUDA/NCCL evidence beyond a device name: NCCL's own log lines, the visible-devices variable (Lightning prints
# "LOCAL_RANK: 0 - CUDA_VISIBLE_DEVICES: [0]"), AMP's CUDA backend, CUDA OOM errors, nanoGPT's fused AdamW (only
# used on CUDA).
_GPU_EVIDENCE = re.compile(
    r"\bNCCL (?:INFO|WARN|version)\b|CUDA_VISIBLE_DEVICES: \[?\d|\bcuda_amp\b|using fused AdamW: True|"
    r"CUDA out of memory|torch\.cuda\.OutOfMemoryError|/device:GPU:\d|Created device .{0,80}GPU|"
    r"Found device \d+ with properties"
)
# Completion forms any stack may print: a bare "Finished training" line, a launcher reporting exit code 0.
_COMPLETION = re.compile(
    r"^(?:Finished training|Training (?:is )?(?:finished|done))\.?!?\s*$"
    r"|\b(?:exited|finished|completed) with (?:exit )?(?:code|status) 0\b",
    re.IGNORECASE,
)
# A training loop's totals: "(24000 samples in 22.38 s)", "Trained 5000 examples in 12.5 seconds". The sample word
# comes right before "in": a throughput ("1072.5 samples/sec") is not a total.
_TOTALS = re.compile(
    r"(?<![\d.])(\d{1,18}) (?:samples?|examples?|images?|sequences?|tokens?) in (\d{1,12}(?:\.\d{1,9})?) ?"
    r"(?:s|secs?|seconds)\b",
    re.IGNORECASE,
)
_CPU = re.compile(r"\b[Uu]sing device:?\s*['\"]?cpu\b|\bdevice\s*[=:]\s*['\"]?cpu\b")

_STEP_KEYS = {"step", "global_step", "globalstep", "iter", "iteration", "it", "steps"}
_EPOCH_KEYS = {"epoch", "epochs"}
_BATCH_KEYS = {"batch", "batch_idx"}


class GenericParser:
    """Fallback facts from any log; see the module docstring."""

    def __init__(self) -> None:
        self._reader = RecordReader()
        self._multi = MultilineErrors(hold=True)
        self._vendors_seen: set[tuple[str, str | None]] = set()

    def feed(self, line: Line, *, facts: bool = True) -> list[Event]:
        """Events for this line (and possibly a held traceback error from an earlier line).

        ``facts=False``: a format parser already took this line's facts (its step metrics, its error), so only
        the multi-line state (tracebacks, ``terminate called``) and vendor hints are looked at; re-deriving
        key/values and error levels is most of this parser's cost and would only produce duplicates."""
        if not line.final:
            return []
        return self._feed(line, facts)

    def finish(self) -> list[Event]:
        """End of input: release a held traceback / terminate error."""
        return list(self._multi.finish())

    # ------------------------------------------------------------------

    def _feed(self, line: Line, facts: bool = True) -> list[Event]:
        text = line.text
        out: list[Event] = []
        record = as_record(line, self._reader)
        consumed, errors = self._multi.feed(record)
        out.extend(errors)
        if consumed:
            return out
        if not facts:
            # Only vendor hints are left to look at (most lines take this path when a
            # format parser recognised them).
            self._vendor(line.number, None, text, out)
            return out
        ts = record.ts
        # The record without its timestamp (the level word kept: the rules below read "ERROR: x", "[ERROR] x").
        rest = (
            f"{record.level}: {record.msg}"
            if record.has_ts and record.level
            else (record.msg if record.has_ts else text)
        )
        if facts:
            self._errors(line.number, ts, text, rest, out)
        self._vendor(line.number, ts, text, out)
        if facts and "cc" in text:
            self._accuracy(line.number, ts, text, out)
        if facts and ("inish" in text or "one" in text or " 0" in text) and _COMPLETION.search(rest) is not None:
            out.append(RunCompleted(line.number, ts, message=rest.strip()[:MAX_MESSAGE]))
        if facts and " in " in text:
            totals = _TOTALS.search(rest)
            if totals is not None:
                out.append(TrainingTotals(line.number, ts, int(totals.group(1)), float(totals.group(2))))
        if facts and _LOSS_HINT.search(text) is not None:
            metrics = self._metrics(line.number, ts, text)
            if metrics is not None:
                out.append(metrics)
        return out

    # ------------------------------------------------------------------ errors, warnings, vendor

    def _errors(self, number: int, ts: datetime | None, text: str, rest: str, out: list[Event]) -> None:
        glog = _GLOG.match(text)
        if glog is not None:
            level = glog.group(1)
            # Drop glog's thread id and file:line] so the message starts with the message.
            message = _GLOG_WHERE.sub("", text[glog.end() :]).strip()[:MAX_MESSAGE]
            if level == "W":
                out.append(WarningSeen(number, ts, message, "glog"))
            else:
                out.append(ErrorSeen(number, ts, message, level == "F", "glog"))
            return
        signal = _SIGNAL.search(text)
        if signal is not None:
            out.append(ErrorSeen(number, ts, text.strip()[:MAX_MESSAGE], True, "signal"))
            return
        level = _LEVEL_ERROR.match(rest)
        if level is not None or _ERROR_PREFIX.match(rest) is not None:
            fatal = _LEVEL_FATAL.match(rest) is not None
            message = _after_level(rest, level)
            out.append(ErrorSeen(number, ts, message[:MAX_MESSAGE], fatal, "error"))
            return
        warning = _PY_WARNING.search(text)
        if warning is not None:
            message = f"{warning.group(1)}: {warning.group(2).strip()}"[:MAX_MESSAGE]
            out.append(WarningSeen(number, ts, message, "python"))
            return
        level = _LEVEL_WARNING.match(rest)
        if level is not None:
            message = _after_level(rest, level)
            out.append(WarningSeen(number, ts, message[:MAX_MESSAGE], "log"))

    def _vendor(self, number: int, ts: datetime | None, text: str, out: list[Event]) -> None:
        if "cuda" in text:
            m = _CUDA.search(text)
            if m is not None:
                index = m.group(1) or m.group(2)
                device = f"cuda:{index}" if index else None
                self._vendor_event(number, ts, "gpu", device, out)
                return
        if (
            "CUDA" in text or "NCCL" in text or "cuda" in text or "fused" in text or "GPU" in text or "Found" in text
        ) and (_GPU_EVIDENCE.search(text)):
            self._vendor_event(number, ts, "gpu", None, out)
            return
        if "cpu" in text:
            if _CPU.search(text) is not None:
                self._vendor_event(number, ts, "cpu", None, out)

    def _vendor_event(
        self, number: int, ts: datetime | None, vendor: Vendor, device: str | None, out: list[Event]
    ) -> None:
        key = (vendor, device)
        if key in self._vendors_seen:
            return
        self._vendors_seen.add(key)
        out.append(VendorDetected(number, ts, vendor, device))

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
                extra.append((lower, value))
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


def _after_level(rest: str, level: re.Match[str] | None) -> str:
    """The message of a log record: what follows its level word ("- trainer - ERROR - x" -> "x")."""
    if level is None:
        return rest.strip()
    message = rest[level.end() :].lstrip(" -|:")
    return message.rstrip() or rest.strip()
