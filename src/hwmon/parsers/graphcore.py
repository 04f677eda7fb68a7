"""Graphcore IPU output: PopTorch/Poplar/PopART log lines and the training scripts commonly run on IPUs.

Recognised (each may be glued after a tqdm bar, so most patterns are searched, not anchored):

- ``[poptorch:cpp] [warning] ...`` / ``[HH:MM:SS.mmm] [poptorch::python] [warning] ...`` -> ``WarningSeen``
  (``error``/``critical`` -> ``ErrorSeen``). PopTorch's Python logger repeats each message on the next line without
  the prefix; that exact repeat is swallowed so a warning counts once.
- Poplar/PopLibs/PopART ``2023-04-27T03:39:53.291853Z PL:POPLIN  123.456 W: ...`` (levels T/D/I/W/E/C) with their
  timestamp as ``ts`` (the log's own UTC time, kept naive): W -> ``WarningSeen``, E/C -> ``ErrorSeen``.
- ``Compiling Model...`` -> ``PhaseStarted("compile")``; ``Compiled/Loaded model in S secs`` ->
  ``PhaseEnded("compile", seconds=S)``. (The ``Graph compilation`` bar itself is ``TqdmParser``'s; here it only
  identifies the vendor.)
- ``Accuracy on test set: 98.72%`` -> ``EvalMetric("test_accuracy", 0.9872)`` and ``RunCompleted`` (it is the
  last line of a PopTorch MNIST-style run).
- HF Trainer / optimum-graphcore: ``***** Running training *****`` -> ``RunStarted`` + ``PhaseStarted("train")``
  and one ``Info`` per ``  Key = value`` line of its block (``num_examples``, ``num_epochs``,
  ``total_optimization_steps``...); ``***** Running Evaluation *****`` likewise (``eval_``-prefixed keys);
  ``***** eval metrics *****`` blocks -> ``EvalMetric``; ``Saving model checkpoint to .../checkpoint-1000`` ->
  ``CheckpointSaved(step=1000, path=...)``; ``{'loss': .., 'learning_rate': .., 'epoch': ..}`` ->
  ``StepMetrics(step=None, loss, epoch, extra)`` (HF prints no step number; the reducer numbers them in order;
  JSON-style ``{"loss": ..}`` lines too);
  ``{'eval_loss': ..}`` -> ``EvalMetric`` per ``eval_*`` metric; ``{'train_runtime': S, ..}`` ->
  ``RunCompleted(seconds=S, samples=round(train_samples_per_second * S))``; ``Training completed.`` ->
  ``PhaseEnded("train")`` + ``RunCompleted``. A dict cut by a copy (no closing ``}``) is ignored.
- Keras ``2000/2000 [=====] - 12s 6ms/step - loss: 0.62 - accuracy: 0.79`` (and the Keras 3 ``━━━`` bar) ->
  ``ProgressUpdate("train", ...)`` + ``StepMetrics`` (step counted on across ``Epoch E/N`` lines; ``val_*``
  metrics -> ``EvalMetric``). ``Epoch 1/N`` after earlier epochs -> ``RunStarted`` (a new fit).
- ``step 3 of epoch 0, loss: 10.8, acc: 2e-05, lr: 7.5e-05, throughput: 1064.3 samples/sec`` (graphcore/examples
  GPT-2) -> ``StepMetrics(step, loss, rate=throughput, epoch, extra=(acc, lr))``.
- ``terminate called after throwing an instance of 'poplar::graph_memory_allocation_error'`` with its
  ``what():  Out of memory ...`` line -> ONE ``ErrorSeen(fatal=True, kind="oom")`` carrying the ``what()`` text
  (also for a lone ``Out of memory on tile``/``Cannot fit all variable data`` line; the same text again within
  50 lines is the same error). The generic parser may also
  report ``terminate called``/``what():`` generically; ``kind="oom"`` marks this one as the specific report so
  the two can be told apart. ``Profile saved to: P`` -> ``Info("poplar_profile", P)``.
- Slurm: ``srun: job N queued and waiting for resources`` -> ``RunStarted`` + ``JobIdSeen(N, "slurm")`` +
  ``PhaseStarted("queue")``; ``srun: job N has been allocated resources`` -> ``PhaseEnded("queue")``;
  ``salloc: Granted job allocation N`` / ``Submitted batch job N`` -> ``JobIdSeen`` (for this parser used on its
  own: ``hwmon.parsers.stream`` handles Slurm's lines itself and does not pass them to the format parsers).
  ``mpirun``/``poprun`` ``[1,0]<stdout>:`` and ``srun --label`` ``0:`` prefixes are stripped before matching.
- ``VendorDetected("graphcore", device="IPU")`` on decisive lines (poptorch/Poplar/PopART lines, ``IPU``,
  ``Graph compilation``, ``Compiled/Loaded model``, ``--ipus``, poplar errors), at most once per 1000 lines and
  again right after each ``RunStarted`` this parser emits, so a consumer that reset for a new run learns the
  vendor again without being flooded.

``Device Allocation`` tables, ``Arguments: Namespace(...)`` lines and ``Model config: GPT2Config {...}`` JSON give
nothing but (for the tables) the vendor.
"""

from __future__ import annotations

import math
import re
from datetime import datetime

from hwmon.events import (
    CheckpointSaved,
    ErrorSeen,
    EvalMetric,
    Event,
    Info,
    JobIdSeen,
    PhaseEnded,
    PhaseStarted,
    ProgressUpdate,
    RunCompleted,
    RunStarted,
    StepMetrics,
    VendorDetected,
    WarningSeen,
)
from hwmon.parsers.base import Line

__all__ = ["GraphcoreParser"]

_FLOAT = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"

# One cheap search decides whether a line can concern this parser at all (most lines of a big log do not).
_TRIGGER = re.compile(
    r"pop(?:torch|art|lar|run)|P[LOU]:|IPU|ipus|Graph compilation|Compil|\*\*\*\*\*|checkpoint|\{'|\{\"|"
    r"on (?:the )?(?:test|val|eval)|Training completed|of epoch|terminate called|what\(\)|Out of memory|"
    r"Cannot fit|srun:|salloc:|Submitted batch job|Profile saved"
)
_PREFIX = re.compile(r"^(?:\s*\[\d+,\d+\]<std(?:out|err)>:\s?|\d+:\s)")
_VENDOR = re.compile(
    r"\[pop(?:torch|art)|pop(?:torch|art|lar|run)\b|poplar::|\bP[LOU]:[A-Z]|\bpopart:|\bIPUs?\b|--ipus|"
    r"Graph compilation|Compiled/Loaded model|Compiling Model\.\.\."
)
_POPTORCH = re.compile(
    r"(?:\[(?P<time>\d\d:\d\d:\d\d(?:\.\d+)?)\]\s*)?\[(?P<src>pop(?:torch|art)(?:::?\w+)?)\]\s*"
    r"\[(?P<lvl>trace|debug|info|warning|warn|error|err|critical)\]\s?(?P<msg>.*)",
    re.I,
)
_POPLAR = re.compile(
    r"(?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?)Z?\s+(?P<mod>[A-Za-z]+:[A-Za-z_]+)\s+\d+\.\d+\s+"
    r"(?P<lvl>[TDIWEC]):\s?(?P<msg>.*)"
)
# Older SDKs: "09:16:12.345 12345 PO:ENGINE   [W] message" (time-only, so no ``ts``).
_POPLAR_OLD = re.compile(
    r"(?<![\w:])(?P<mod>P[LO]:[A-Z_]+|popart:\w+)\s+(?:\d+(?:\.\d+)?\s+)?\[(?P<lvl>[TDIWEC])\]\s?(?P<msg>.*)"
)
_COMPILING = re.compile(r"^\s*Compiling Model\.\.\.")
_COMPILED = re.compile(r"\b(?:Compiled/Loaded|Compiled|Loaded) model in (?P<s>" + _FLOAT + r") secs?\b")
# "Accuracy on test set: 98.72%": found from the literal " on " (fast), the metric is the word before it.
_EVAL_LINE = re.compile(
    r"\bon (?:the )?(?P<set>test|validation|val|eval\w*) (?:set|data(?:set)?)\s*[:=]\s*(?P<v>"
    + _FLOAT
    + r")\s*(?P<pct>%)?",
    re.I,
)
_EVAL_METRIC_WORD = re.compile(r"(?P<metric>[A-Za-z][\w-]*)\s+$")
_BANNER = re.compile(r"^\s*\*{3,}\s*(?P<title>[^*]+?)\s*\*{3,}\s*$")
_BLOCK_ITEM = re.compile(r"^\s+(?P<k>[^=]+?)\s+=\s+(?P<v>.+?)\s*$")
_SAVE_CKPT = re.compile(r"Saving model checkpoint to (?P<path>\S+)")
_CKPT_STEP = re.compile(r"checkpoint-(\d{1,18})/?$")
_DICT = re.compile(r"\{['\"][^{}]*\}")
_DICT_PAIR = re.compile(r"['\"](?P<k>[\w/.-]+)['\"]:\s*(?P<v>" + _FLOAT + r"|nan|inf|-inf)(?=\s*[,}])", re.I)
_HF_DONE = re.compile(r"^\s*Training completed\.")
_KERAS = re.compile(
    r"^\s*(?P<n>\d{1,18})/(?P<total>\d{1,18})\s+(?:\[[=>.]*\]|[━─]+)\s*(?P<rest>.*)$",
)
_KERAS_ETA = re.compile(r"ETA:\s*(?:(?P<h>\d{1,9}):)?(?:(?P<m>\d{1,9}):)?(?P<s>\d{1,9})s?\b")
_KERAS_TIME = re.compile(
    r"(?P<el>\d+(?:\.\d+)?)(?P<elu>ms|us|µs|s|m)\s+(?P<per>\d+(?:\.\d+)?)(?P<peru>ms|us|µs|s)/(?P<what>step|sample)"
)
_KERAS_METRIC = re.compile(r"(?P<k>[A-Za-z_][\w]*):\s*(?P<v>" + _FLOAT + r"|nan|inf)", re.I)
_KERAS_EPOCH = re.compile(r"^\s*Epoch (?P<e>\d{1,18})/(?P<n>\d{1,18})\s*$")
_GPT2_STEP = re.compile(r"\bstep (?P<step>\d{1,18}) of epoch (?P<epoch>\d{1,18})(?P<rest>.*)$")
_KV_COLON = re.compile(
    r"(?P<k>[A-Za-z_][\w ]*?):\s*(?P<v>" + _FLOAT + r"|nan|inf)(?:\s*(?P<unit>[A-Za-z]+/\w+))?", re.I
)
_TERMINATE = re.compile(r"terminate called after throwing an instance of '(?P<what>[^']+)'")
_WHAT = re.compile(r"^\s*what\(\):\s*(?P<msg>.*)$")
_OOM_TEXT = re.compile(r"Out of memory(?: on tile \d+)?:|Cannot fit all variable data|graph_memory_allocation_error")
_PROFILE = re.compile(r"Profile saved to:\s*(?P<path>\S+)")
_SRUN_QUEUED = re.compile(r"^\s*s(?:run|alloc): (?:job (?P<a>\d+) queued|Pending job allocation (?P<b>\d+))")
_SRUN_ALLOCATED = re.compile(
    r"^\s*s(?:run|alloc): (?:job (?P<a>\d+) has been allocated|Granted job allocation (?P<b>\d+))"
)
_SBATCH = re.compile(r"^\s*Submitted batch job (?P<a>\d+)")

_UNIT_SECONDS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "m": 60.0}
_VENDOR_EVERY = 1000
_OOM_REPEAT_LINES = 50
_THROUGHPUT_KEYS = ("throughput", "samples_per_sec", "samples/sec", "tput")


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _snake(text: str) -> str:
    key = re.sub(r"\(.*?\)", "", text).strip().lower()
    key = re.sub(r"[^\w]+", "_", key).strip("_")
    return key


def _iso(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


class GraphcoreParser:
    """Pure parser of Graphcore/PopTorch output and of the trainer formats IPU runs print. Never raises."""

    def __init__(self) -> None:
        self._vendor_line: int | None = None
        self._dup_message: str | None = None
        self._pending_oom: tuple[int, str] | None = None
        self._last_oom: tuple[str, int] | None = None
        self._block: str | None = None
        self._keras_epoch: int | None = None
        self._keras_last_step: int | None = None
        self._jobs_started: set[str] = set()

    # --- interface ------------------------------------------------------------------------------------------------

    def feed(self, line: Line) -> list[Event]:
        """Events for this line (and, when a held ``terminate called`` line gets no ``what():``, for that one)."""
        out: list[Event] = []
        self._feed(line, out)
        return out

    def finish(self) -> list[Event]:
        """Flush a held ``terminate called`` line that never got its ``what():``."""
        out: list[Event] = []
        self._flush_oom(out)
        return out

    # --- dispatch -------------------------------------------------------------------------------------------------

    def _feed(self, line: Line, out: list[Event]) -> None:
        text = line.text
        dup, self._dup_message = self._dup_message, None
        if self._pending_oom is not None:
            what = _WHAT.match(text)
            if what is not None:
                self._oom(line, what["msg"].strip(), out)
                self._pending_oom = None
                self._vendor(line, out)
                return
            self._flush_oom(out)
        if dup is not None and text.strip() == dup:
            # PopTorch's Python logger prints each message twice; the unprefixed repeat is the same warning.
            return
        if self._block is not None:
            if self._block_line(line, text, out):
                return
        if not _TRIGGER.search(text) and not _maybe_keras(text):
            return
        text = _PREFIX.sub("", text)
        if _VENDOR.search(text):
            self._vendor(line, out)
        self._match(line, text, out)

    def _match(self, line: Line, text: str, out: list[Event]) -> None:
        number = line.number
        if "[pop" in text or "[Pop" in text:
            m = _POPTORCH.search(text)
            if m is not None:
                self._poptorch(line, m, out)
        if "PL:" in text or "PO:" in text or "popart:" in text:
            m = _POPLAR.search(text)
            if m is None and "[" in text:
                m = _POPLAR_OLD.search(text)
            if m is not None:
                self._poplar(line, m, out)
        if _COMPILING.match(text):
            out.append(PhaseStarted(number, None, "compile", "Compiling Model"))
        if "model in" in text:
            m = _COMPILED.search(text)
            if m is not None:
                out.append(PhaseEnded(number, None, "compile", _float(m["s"])))
        if "***" in text:
            m = _BANNER.match(text)
            if m is not None:
                self._banner(line, m["title"], out)
                return
        m = _SAVE_CKPT.search(text)
        if m is not None:
            # HF Trainer saves between training steps: a checkpoint phase that the save closes, then training
            # goes on.
            path = m["path"]
            step_m = _CKPT_STEP.search(path)
            step = int(step_m.group(1)) if step_m else None
            out.append(PhaseStarted(number, None, "checkpoint", f"step {step}" if step is not None else path))
            out.append(CheckpointSaved(number, None, step, path))
            out.append(PhaseStarted(number, None, "train", "HF Trainer"))
        if "{'" in text or '{"' in text:
            m = _DICT.search(text)
            if m is not None:
                self._hf_dict(line, m.group(0), out)
        if _HF_DONE.match(text):
            out.append(PhaseEnded(number, None, "train"))
            out.append(RunCompleted(number, None, message=text.strip()))
        if " on " in text:
            m = _EVAL_LINE.search(text)
            if m is not None:
                self._eval_line(line, m, text, out)
        if "/" in text:
            m = _KERAS_EPOCH.match(text)
            if m is not None:
                epoch = int(m["e"])
                if epoch == 1 and self._keras_epoch is not None:
                    # Keras starts counting again: a second fit() (or a second run in the same file).
                    self._keras_last_step = None
                    self._run_started(line, out)
                self._keras_epoch = epoch
            else:
                self._keras(line, text, out)
        if "of epoch" in text:
            m = _GPT2_STEP.search(text)
            if m is not None:
                self._gpt2_step(line, m, out)
        self._errors(line, text, out)
        self._slurm(line, text, out)

    # --- vendor / logging lines -----------------------------------------------------------------------------------

    def _vendor(self, line: Line, out: list[Event]) -> None:
        if self._vendor_line is None or line.number - self._vendor_line >= _VENDOR_EVERY:
            self._vendor_line = line.number
            out.append(VendorDetected(line.number, None, "graphcore", "IPU"))

    def _run_started(self, line: Line, out: list[Event], command: str | None = None) -> None:
        out.append(RunStarted(line.number, None, command))
        if self._vendor_line is not None:
            # The consumer may have reset its state for this new run: tell it the vendor again.
            self._vendor_line = None
            self._vendor(line, out)

    def _poptorch(self, line: Line, m: re.Match[str], out: list[Event]) -> None:
        level = m["lvl"].lower()
        message = m["msg"].strip()
        source = m["src"]
        if level in ("warning", "warn"):
            out.append(WarningSeen(line.number, None, message, source))
        elif level in ("error", "err", "critical"):
            out.append(ErrorSeen(line.number, None, message, False, "poptorch"))
        else:
            return
        if "python" in source.lower():
            self._dup_message = message

    def _poplar(self, line: Line, m: re.Match[str], out: list[Event]) -> None:
        ts = _iso(m["ts"]) if "ts" in m.re.groupindex else None
        level = m["lvl"]
        message = m["msg"].strip()
        if level == "W":
            out.append(WarningSeen(line.number, ts, message, m["mod"]))
        elif level in ("E", "C"):
            out.append(ErrorSeen(line.number, ts, message, False, "poplar"))

    # --- HF Trainer / optimum -------------------------------------------------------------------------------------

    def _banner(self, line: Line, title: str, out: list[Event]) -> None:
        low = title.lower()
        number = line.number
        if low.startswith("running training"):
            self._run_started(line, out)
            out.append(PhaseStarted(number, None, "train", "HF Trainer"))
            self._block = ""
        elif low.startswith("running evaluation") or low.startswith("running prediction"):
            out.append(PhaseStarted(number, None, "eval", title.strip()))
            self._block = "eval_"
        elif low.endswith("metrics"):
            self._block = "metrics:" + low.split()[0]
        else:
            self._block = None

    def _block_line(self, line: Line, text: str, out: list[Event]) -> bool:
        """A ``  Key = value`` line of the block opened by a banner; False (and the block ends) for any other."""
        m = _BLOCK_ITEM.match(text)
        block = self._block or ""
        if m is None:
            self._block = None
            return False
        key, value = _snake(m["k"]), m["v"].strip()
        if not key:
            return True
        if block.startswith("metrics:"):
            number = _float(value)
            if block == "metrics:eval" and key.startswith("eval_") and number is not None and _is_metric(key):
                out.append(EvalMetric(line.number, None, key, number))
            else:
                out.append(Info(line.number, None, key, value))
            return True
        out.append(Info(line.number, None, block + key, value))
        return True

    def _hf_dict(self, line: Line, body: str, out: list[Event]) -> None:
        values: dict[str, float] = {}
        for pair in _DICT_PAIR.finditer(body):
            v = _float(pair["v"])
            if v is not None:
                values[pair["k"]] = v
        if not values:
            return
        number = line.number
        if "train_runtime" in values:
            seconds = values["train_runtime"]
            sps = values.get("train_samples_per_second")
            samples = None
            if sps is not None and math.isfinite(sps * seconds):
                samples = int(round(sps * seconds))
            if "train_loss" in values:
                out.append(Info(number, None, "train_loss", repr(values["train_loss"])))
            out.append(RunCompleted(number, None, samples, seconds, True, body))
            return
        evals = [(k, v) for k, v in values.items() if k.startswith("eval_") and _is_metric(k)]
        if evals:
            for key, value in evals:
                out.append(EvalMetric(number, None, key, value))
            return
        if "loss" in values:
            step = values.get("step")
            extra = tuple((k, v) for k, v in values.items() if k not in ("loss", "epoch", "step"))
            out.append(
                StepMetrics(
                    number,
                    None,
                    int(step) if step is not None and math.isfinite(step) else None,
                    loss=values["loss"],
                    epoch=values.get("epoch"),
                    extra=extra,
                )
            )

    def _eval_line(self, line: Line, m: re.Match[str], text: str, out: list[Event]) -> None:
        value = _float(m["v"])
        if value is None:
            return
        if m["pct"]:
            value /= 100.0
        split = m["set"].lower()
        word = _EVAL_METRIC_WORD.search(text, max(0, m.start() - 64), m.start())
        metric = _snake(word["metric"]) if word is not None else "metric"
        # A result line is an evaluation (a short one, when nothing announced it), never the end of the run: a
        # script may print one after every epoch.
        out.append(PhaseStarted(line.number, None, "eval", f"{split} set"))
        out.append(EvalMetric(line.number, None, f"{split}_{metric}", value))
        out.append(PhaseEnded(line.number, None, "eval"))

    # --- Keras / GPT-2 step lines ---------------------------------------------------------------------------------

    def _keras(self, line: Line, text: str, out: list[Event]) -> None:
        m = _KERAS.match(text)
        if m is None:
            return
        n, total = int(m["n"]), int(m["total"])
        rest = m["rest"]
        elapsed: float | None = None
        remaining: float | None = None
        rate: float | None = None
        unit = "step"
        t = _KERAS_TIME.search(rest)
        if t is not None:
            elapsed = float(t["el"]) * _UNIT_SECONDS[t["elu"]]
            per = float(t["per"]) * _UNIT_SECONDS[t["peru"]]
            unit = t["what"]
            rate = 1.0 / per if per > 0 else None
        eta = _KERAS_ETA.search(rest)
        if eta is not None:
            parts = [int(p) for p in (eta["h"], eta["m"], eta["s"]) if p is not None]
            remaining = 0.0
            for p in parts:
                remaining = remaining * 60 + p
        elif n >= total:
            remaining = 0.0
        metrics: list[tuple[str, float]] = []
        for km in _KERAS_METRIC.finditer(rest):
            if km["k"] == "ETA":
                continue
            v = _float(km["v"])
            if v is not None:
                metrics.append((km["k"].lower(), v))
        number = line.number
        out.append(
            ProgressUpdate(
                number, None, "train", n, total, elapsed, remaining, rate, unit, tuple(metrics), not line.final
            )
        )
        step = n
        if self._keras_epoch is not None and self._keras_epoch >= 1:
            step = (self._keras_epoch - 1) * total + n
        train = [(k, v) for k, v in metrics if not k.startswith("val_")]
        loss = next((v for k, v in train if k == "loss"), None)
        if loss is not None and step != self._keras_last_step:
            self._keras_last_step = step
            out.append(
                StepMetrics(
                    number,
                    None,
                    step,
                    loss=loss,
                    rate=rate,
                    rate_unit=f"{unit}s/sec",
                    remaining_s=remaining,
                    epoch=None if self._keras_epoch is None else float(self._keras_epoch),
                    extra=tuple((k, v) for k, v in train if k != "loss"),
                )
            )
        if line.final:
            for k, v in metrics:
                if k.startswith("val_"):
                    out.append(EvalMetric(number, None, k, v))

    def _gpt2_step(self, line: Line, m: re.Match[str], out: list[Event]) -> None:
        loss: float | None = None
        rate: float | None = None
        rate_unit = "samples/sec"
        extra: list[tuple[str, float]] = []
        for kv in _KV_COLON.finditer(m["rest"]):
            key = _snake(kv["k"])
            value = _float(kv["v"])
            if value is None:
                continue
            if key == "loss":
                loss = value
            elif key in _THROUGHPUT_KEYS:
                rate = value
                if kv["unit"]:
                    rate_unit = kv["unit"]
            else:
                extra.append((key, value))
        out.append(
            StepMetrics(
                line.number,
                None,
                int(m["step"]),
                loss=loss,
                rate=rate,
                rate_unit=rate_unit,
                epoch=float(m["epoch"]),
                extra=tuple(extra),
            )
        )

    # --- errors / scheduler ---------------------------------------------------------------------------------------

    def _errors(self, line: Line, text: str, out: list[Event]) -> None:
        m = _TERMINATE.search(text)
        if m is not None:
            what = m["what"]
            if "memory_allocation" in what or "out_of_memory" in what:
                self._pending_oom = (line.number, what)
            return
        m = _PROFILE.search(text)
        if m is not None:
            out.append(Info(line.number, None, "poplar_profile", m["path"]))
        if _OOM_TEXT.search(text):
            what = _WHAT.match(text)
            message = what["msg"].strip() if what is not None else text.strip()
            self._oom(line, message, out)

    def _repeated_oom(self, message: str, number: int) -> bool:
        """The same out-of-memory text again within a few lines (the exception echoed by a traceback or a log
        line) is the same error; further away it is a new one (a second run in the same file)."""
        last = self._last_oom
        self._last_oom = (message, number)
        return last is not None and last[0] == message and 0 <= number - last[1] <= _OOM_REPEAT_LINES

    def _oom(self, line: Line, message: str, out: list[Event]) -> None:
        if self._repeated_oom(message, line.number):
            return
        out.append(ErrorSeen(line.number, None, message, True, "oom"))
        m = _PROFILE.search(message)
        if m is not None:
            out.append(Info(line.number, None, "poplar_profile", m["path"]))

    def _flush_oom(self, out: list[Event]) -> None:
        if self._pending_oom is None:
            return
        number, what = self._pending_oom
        self._pending_oom = None
        message = f"terminate called after throwing an instance of '{what}'"
        if not self._repeated_oom(message, number):
            out.append(ErrorSeen(number, None, message, True, "oom"))

    def _slurm(self, line: Line, text: str, out: list[Event]) -> None:
        if "srun" not in text and "salloc" not in text and "Submitted" not in text:
            return
        number = line.number
        m = _SRUN_QUEUED.match(text)
        if m is not None:
            job = m["a"] or m["b"]
            if job not in self._jobs_started:
                self._jobs_started.add(job)
                self._run_started(line, out, None)
            out.append(JobIdSeen(number, None, job, "slurm"))
            out.append(PhaseStarted(number, None, "queue", "Slurm queue"))
            return
        m = _SRUN_ALLOCATED.match(text)
        if m is not None:
            job = m["a"] or m["b"]
            if job not in self._jobs_started:
                self._jobs_started.add(job)
                self._run_started(line, out, None)
                out.append(JobIdSeen(number, None, job, "slurm"))
            else:
                out.append(PhaseEnded(number, None, "queue"))
            return
        m = _SBATCH.match(text)
        if m is not None:
            out.append(JobIdSeen(number, None, m["a"], "slurm"))


def _is_metric(key: str) -> bool:
    """An ``eval_*`` value that is a result, not bookkeeping (runtime, throughput, epoch)."""
    return not (key.endswith("_runtime") or key.endswith("_per_second") or key in ("eval_epoch", "eval_step"))


def _maybe_keras(text: str) -> bool:
    """Cheap test for a Keras progress line (``12/100 [==...``) or its ``Epoch 3/10`` header."""
    if "/" not in text:
        return False
    start = text.lstrip()
    if start.startswith("Epoch "):
        return _KERAS_EPOCH.match(start) is not None
    slash = start.find("/", 0, 12)
    return slash > 0 and start[:slash].isdigit()
