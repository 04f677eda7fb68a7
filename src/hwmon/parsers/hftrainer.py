"""Hugging Face ``Trainer`` output (transformers, optimum-graphcore, TRL...) -> events. Pure; a rule table.

Read from transformers ``trainer.py`` (``_inner_training_loop``'s ``***** Running training *****`` block, ``log``,
``_save_checkpoint``), ``trainer_callback.py`` (``ProgressCallback.on_log`` prints the log dict; transformers 5
prints the numbers quoted: ``{'loss': '0.5812', ...}``) and real output in issue threads (tests/fixtures/SOURCES.md):

- ``***** Running training *****`` -> ``RunStarted`` + train phase; its ``  Key = value`` lines -> ``Info`` each,
  ``Num Epochs = N`` -> ``TargetStated("epoch", N)``, ``Total optimization steps = N`` -> ``TargetStated("step", N)``;
  ``***** Running Evaluation *****`` / ``Prediction`` -> eval phase (its block keys prefixed ``eval_``);
  ``***** eval metrics *****`` blocks -> ``EvalMetric`` per ``eval_*`` result.
- ``{'loss': .., 'learning_rate': .., 'epoch': ..}`` (quoted numbers too, JSON too) -> ``StepMetrics`` (HF prints
  no step number; the reducer numbers them); ``{'eval_loss': ..}`` -> ``EvalMetric`` per result; the end-of-run
  ``{'train_runtime': S, ..., 'train_loss': L}`` -> ``RunCompleted(seconds=S, samples=...)`` with the AVERAGED
  ``train_loss`` only as ``Info`` (it is not the last loss). A dict cut by a copy (no closing ``}``) is ignored.
- ``Saving model checkpoint to .../checkpoint-1000`` -> a checkpoint phase, ``CheckpointSaved(1000, path)``, and
  training goes on; ``Training completed.`` -> train phase ends + ``RunCompleted``.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Sequence

from hwmon.events import (
    CheckpointSaved,
    EvalMetric,
    Event,
    Info,
    PhaseEnded,
    PhaseStarted,
    RunCompleted,
    RunStarted,
    StepMetrics,
    TargetStated,
)
from hwmon.parsers import vocab
from hwmon.parsers.decoders import TemplateDecoder, dict_decoder, dict_keys
from hwmon.parsers.fields import field_role
from hwmon.parsers.records import Record
from hwmon.parsers.rules import RuleParser, rule

__all__ = ["HfTrainerParser"]

_BLOCK_ITEM = re.compile(r"^\s+(?P<k>[^=]+?)\s+=\s+(?P<v>.+?)\s*$")
_CKPT_STEP = re.compile(r"checkpoint-(\d{1,18})/?$")
_NOT_WORD = re.compile(r"[^\w]+")
_PAREN = re.compile(r"\(.*?\)")
_TARGETS = {"num_epochs": "epoch", "total_optimization_steps": "step"}
_DICT_RULE = "hftrainer:dict"
_BAR = re.compile(r"(?<![\w.])\d{1,3}%\|[^|]{0,200}\|\s*(\d{1,18})/(\d{1,18})\s*\[")


def _snake(text: str) -> str:
    return _NOT_WORD.sub("_", _PAREN.sub("", text).strip().lower()).strip("_")


def _int(text: str) -> int | None:
    digits = text.replace(",", "").strip()
    return int(digits) if digits.isdecimal() and len(digits) <= 18 else None


class HfTrainerParser(RuleParser):
    """See the module doc."""

    REDRAWS = True
    """The Trainer's bar (redrawn with ``\\r``) gives the step its log dicts do not print."""

    TRIGGER = re.compile(r"\*\*\*|\{['\"]|Saving model checkpoint|Training completed|%\|")
    BEFORE_RULE = "banner"

    def __init__(self) -> None:
        super().__init__()
        self._block: str | None = None
        self._training = False
        # HF prints no step in its log dicts: the step is the epoch times the steps per epoch (from the "Running
        # training" block), else the Trainer's (anonymous) bar's n drawn just before the dict.
        self._epochs: int | None = None
        self._total_steps: int | None = None
        self._bar_n: int | None = None
        self._last_step = -1
        # Without a stated target the bar drawn before a dict may be stale (tqdm skips redraws of a fast bar), but
        # tqdm.write draws it again right after the dict, at global_step: the dict waits for that redraw.
        self._held: StepMetrics | None = None

    @property
    def holding(self) -> int | None:
        """The line of a loss dict held for its step (its metrics are this parser's: no other reader's)."""
        return self._held.line if self._held is not None else None

    def _release(self, out: list[Event]) -> None:
        held, self._held = self._held, None
        if held is not None:
            out.append(dataclasses.replace(held, step=self._step_of({})))

    def finish(self) -> list[Event]:
        out: list[Event] = []
        self._release(out)
        return out

    def before(self, record: Record, out: list[Event]) -> bool:
        if self._block is None:
            return False
        text = record.text
        if record.logger == "transformers":
            text = text[len("[transformers] ") :]  # transformers 5 tags its logger lines
        m = _BLOCK_ITEM.match(text)
        if m is None:
            self._block = None
            return False
        self._block_item(record, _snake(m["k"]), m["v"].strip(), out)
        return True

    def _block_item(self, record: Record, key: str, value: str, out: list[Event]) -> None:
        block = self._block or ""
        if not key:
            return
        if block.startswith("metrics:"):
            try:
                number = float(value)
            except ValueError:
                number = math.nan
            if block == "metrics:eval" and vocab.role(key) == "eval" and math.isfinite(number):
                out.append(EvalMetric(record.number, record.ts, key, number))
            else:
                out.append(Info(record.number, record.ts, key, value))
            return
        out.append(Info(record.number, record.ts, block + key, value))
        what = _TARGETS.get(key)
        total = _int(value)
        if total is not None and not block:
            if what == "epoch":
                self._epochs = total
            elif what == "step":
                self._total_steps = total
        if what is not None and total is not None and not block:
            out.append(TargetStated(record.number, record.ts, "epoch" if what == "epoch" else "step", total, None))

    @rule("***", r"^\*{3,}\s*(?P<title>[^*]+?)\s*\*{3,}\s*$")
    def _banner(self, m: re.Match[str], record: Record, out: list[Event]) -> None:
        title = m["title"].strip()
        low = title.lower()
        if low.startswith("running training"):
            out.append(RunStarted(record.number, record.ts, None))
            out.append(PhaseStarted(record.number, record.ts, "train", "HF Trainer"))
            self._training = True
            self._block = ""
        elif low.startswith(("running evaluation", "running prediction")):
            out.append(PhaseStarted(record.number, record.ts, "eval", title))
            self._block = "eval_"
        elif low.endswith("metrics"):
            self._block = "metrics:" + low.split()[0]

    @rule("Saving model checkpoint to", r"Saving model checkpoint to (?P<path>\S+)")
    def _checkpoint(self, m: re.Match[str], record: Record, out: list[Event]) -> None:
        # Saved between training steps: a checkpoint phase that the save closes, then training goes on.
        path = m["path"]
        step_m = _CKPT_STEP.search(path)
        step = int(step_m.group(1)) if step_m else None
        out.append(PhaseStarted(record.number, record.ts, "checkpoint", f"step {step}" if step is not None else ""))
        out.append(CheckpointSaved(record.number, record.ts, step, path))
        if self._training:
            out.append(PhaseStarted(record.number, record.ts, "train", "HF Trainer"))

    @rule("{", r"\{['\"][^{}]*\}")
    def _dict(self, m: re.Match[str], record: Record, out: list[Event]) -> None:
        body = m.group(0)
        values = {p.key: p.value for p in vocab.pairs(body)}
        if not values:
            return
        if any(k not in ("step", "epoch") and field_role(k) in ("counter", "epoch") for k in values):
            return  # h17c: a dict that counts its own way ("iteration", "epoch_num") is not the Trainer's
        if "loss" not in values and "train_runtime" not in values and any(vocab.role(k) == "loss" for k in values):
            # A record with a training loss under another name ("train_loss" beside "test_*" per epoch): the Trainer
            # prints train_loss only in its end summary (with train_runtime); the structured stage reads this one.
            return
        number, ts = record.number, record.ts
        self._release(out)
        if "train_runtime" in values:
            seconds = values["train_runtime"]
            sps = values.get("train_samples_per_second")
            samples = None
            if sps is not None and math.isfinite(sps * seconds):
                samples = int(round(sps * seconds))
            if "train_loss" in values:
                # The average over the whole run: a summary figure, never the last loss.
                out.append(Info(number, ts, "train_loss", repr(values["train_loss"])))
            out.append(RunCompleted(number, ts, samples, seconds, True, body[:2000]))
            return
        evals = [(k, v) for k, v in values.items() if vocab.role(k) == "eval"]
        if evals and "loss" not in values:
            for key, value in evals:
                out.append(EvalMetric(number, ts, key, value))
            return
        if "loss" in values:
            extra = tuple((k, v) for k, v in values.items() if k not in ("loss", "epoch", "step"))
            loss, epoch = values["loss"], values.get("epoch")
            if "step" not in values and not (self._epochs and self._total_steps):
                # numbered by the bar drawn next
                self._held = StepMetrics(number, ts, None, loss=loss, epoch=epoch, extra=extra, rule=_DICT_RULE)
            else:
                step = self._step_of(values)
                out.append(StepMetrics(number, ts, step, loss=loss, epoch=epoch, extra=extra, rule=_DICT_RULE))

    # --- runs of (bar line, log dict) pairs in bulk (``hwmon.parsers.stream_runs``) --------------------------------

    def run_decoder(self, text: str) -> TemplateDecoder | None:
        """The decoder of log dicts shaped like ``text`` while a run of them would only give their steps: no
        banner block open, no dict held, the steps per epoch known (a dict's step is its epoch times them), the
        dict a training log (a loss and an epoch, no step, no eval result, nothing counted its own way)."""
        if self._block is not None or self._held is not None or not (self._epochs and self._total_steps):
            return None
        if not self._training or not text.startswith("{") or not text.endswith("}"):
            return None
        keys = dict_keys(text)
        if keys is None or "loss" not in keys or "epoch" not in keys or "step" in keys or "train_runtime" in keys:
            return None
        if any(vocab.role(k) == "eval" or field_role(k) in ("counter", "epoch") and k != "epoch" for k in keys):
            return None
        roles = {k: "loss" if k == "loss" else "epoch" if k == "epoch" else f"extra:{k}" for k in keys}
        return dict_decoder(text, roles, _DICT_RULE, (self._total_steps, self._epochs))

    def run_line(self, text: str, number: int) -> StepMetrics | None:
        """The line path's reading of one log dict of a run (its step as if no earlier step bounded it)."""
        values = {p.key: p.value for p in vocab.pairs(text)}
        if "loss" not in values or "epoch" not in values or not (self._epochs and self._total_steps):
            return None
        extra = tuple((k, v) for k, v in values.items() if k not in ("loss", "epoch", "step"))
        epoch = values["epoch"]
        step = int(round(epoch * self._total_steps / self._epochs)) if math.isfinite(epoch) else None
        return StepMetrics(number, None, step, loss=values["loss"], epoch=epoch, extra=extra, rule=_DICT_RULE)

    def run_steps(self, found: Sequence[int | None]) -> tuple[list[int | None], int]:
        """What ``_step_of`` gives for each of a run's steps in turn (``found``: each dict's own reading; a step
        that is missing or goes back is None) and the last step after them. Changes nothing."""
        last = self._last_step
        steps: list[int | None] = []
        for step in found:
            if step is None or step < last or step >= 2**53:
                steps.append(None)
            else:
                steps.append(step)
                last = step
        return steps, last

    def run_take(self, last: int) -> None:
        """Take a run's steps: what ``_step_of`` leaves after the last (``run_steps``)."""
        self._last_step = last
        self._bar_n = None

    def _step_of(self, values: dict[str, float]) -> int | None:
        step = values.get("step")
        epoch = values.get("epoch")
        found: int | None = None
        if step is not None and math.isfinite(step) and 0 <= step < 2**53:
            found = int(step)
        elif epoch is not None and math.isfinite(epoch) and self._epochs and self._total_steps:
            found = int(round(epoch * self._total_steps / self._epochs))
        elif self._bar_n is not None:
            found = self._bar_n
        self._bar_n = None
        if found is None or found < self._last_step or found >= 2**53:
            return None  # never a step that goes backwards (dicts printed late, after the bar ended)
        self._last_step = found
        return found

    def accepts_redraws(self, texts: list[str]) -> bool:
        """A run of plain-bar redraws only moves the Trainer's bar, unless a dict waits for it or a banner block
        is being read (then the line path decides)."""
        return self._held is None and self._block is None

    def accepts_plain_redraws(self, units: frozenset[str]) -> bool:
        """``accepts_redraws`` of a run of plain tqdm bars (it does not read the run)."""
        return self._held is None and self._block is None

    def take_redraws(self, texts: list[str], line: int) -> list[Event]:
        """What ``_bar`` does for each redraw: the last one drawn gives the step of the next dict."""
        for text in reversed(texts):
            msg = text.strip()
            m = _BAR.search(msg)
            if m is not None and not msg[: m.start()].strip():
                self._bar_n = int(m.group(1))
                break
        return []

    @rule("%|", _BAR.pattern)
    def _bar(self, m: re.Match[str], record: Record, out: list[Event]) -> None:
        # The Trainer's own bar has no description; its n is the global step. (The bar's events are tqdm's.)
        if record.msg[: m.start()].strip() == "":
            self._bar_n = int(m.group(1))
            self._release(out)

    @rule("Training completed", r"^Training completed\.")
    def _completed(self, m: re.Match[str], record: Record, out: list[Event]) -> None:
        self._release(out)
        self._training = False
        out.append(PhaseEnded(record.number, record.ts, "train"))
        out.append(RunCompleted(record.number, record.ts, message=record.msg[:2000]))
