"""TensorFlow-estimator era lines (Cerebras R1.x, ``INFO:tensorflow:``): steps, rates, checkpoints, eval dicts,
the final-step loss. Pure; a mixin of ``CerebrasParser`` (the lines are claimed from TensorFlow's own logger or once
the output is known to be Cerebras: other stacks print similar text that their parsers own).

Read from TensorFlow ``estimator/estimator.py`` and ``basic_session_run_hooks.py`` (``loss = 7.1, step = 100
(12.3 sec)``, ``global_step/sec: 8.1``, ``examples/sec: 1152.2``, ``Saving checkpoints for N into PATH.``,
``Saving dict for global step N: k = v, ...``, ``Loss for final step: X.``) and TensorFlow 2's
``Saved checkpoint for global step N in S seconds: PATH``.
"""

from __future__ import annotations

import re
from datetime import datetime

from hwmon.events import CheckpointSaved, EvalMetric, Event, PhaseName, StepMetrics
from hwmon.parsers import vocab
from hwmon.parsers.cerebras_steps import float_or_none as _float
from hwmon.parsers.records import Record
from hwmon.parsers.rules import Rule, RuleTable

__all__ = ["TF_RULES", "TF_SAVED_FOR", "TfEstimatorRules"]

TF_SAVED_FOR = re.compile(
    r"^Saved checkpoint for global step (\d{1,18}) in (\d{1,9}(?:\.\d+)?) seconds?:?\s*(\S+)?", re.IGNORECASE
)
_TF_FINISHED = re.compile(
    r"(?:Training|Evaluation) finished with\s+(\d{1,18})\s+samples?\s+in\s+([\d.]+(?:[eE][-+]?\d+)?)\s+seconds",
    re.IGNORECASE,
)
_NUM = vocab.NUM
_TF_LOSS = re.compile(r"\bloss\s*=\s*(" + _NUM + r")", re.IGNORECASE)
_TF_STEP = re.compile(r"\b(?:global_)?step\s*=\s*(\d{1,18})")
_TF_RATE = re.compile(r"^(global_step/sec|examples/sec|steps/sec|samples/sec):\s*(" + _NUM + ")")
_TF_CKPT = re.compile(r"^Saving checkpoints? for\s+(\d{1,18})\s+into\s+(\S+?)\.?$")
_TF_EVAL_DICT = re.compile(r"^Saving dict for global step\s+(\d{1,18}):\s*(.*)$")
_TF_FINAL_LOSS = re.compile(r"^Loss for final step:\s*(" + _NUM + r")", re.IGNORECASE)
_KV_EQ = re.compile(r"([\w/.\-]+)\s*=\s*([-+]?(?:\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|nan|inf))", re.IGNORECASE)


class TfEstimatorRules:
    """The TensorFlow rules; the state they read and the helpers they call are ``CerebrasParser``'s."""

    _vendor: bool
    _phase: PhaseName | None
    _number: int
    _tf_rate: tuple[float, str] | None
    _tf_last: tuple[int, float | None] | None
    _record: Record

    def _now(self) -> datetime | None:
        raise NotImplementedError

    def _to(self, phase: PhaseName, detail: str, out: list[Event]) -> None:
        raise NotImplementedError

    def _end_phase(self, out: list[Event]) -> None:
        raise NotImplementedError

    def _info(self, key: str, value: str, out: list[Event]) -> None:
        raise NotImplementedError

    def _complete(self, out: list[Event], samples: int | None, seconds: float | None, msg: str) -> None:
        raise NotImplementedError

    def _tf_allowed(self, text: str) -> bool:
        # TensorFlow-style ``loss = .., step = ..`` lines are claimed only from TensorFlow's own logger or once
        # the output is known to be Cerebras: other stacks print similar text that their parsers own.
        return self._vendor or "tensorflow" in text[:40]

    def _tf(self, msg: str, out: list[Event]) -> bool:
        """TensorFlow-estimator era lines (``INFO:tensorflow:loss = 7.1, step = 100``...): the rows of
        ``TF_RULES`` over ``msg``; True when one took it."""
        return TF_RULES.run(self, self._record, out, text=msg)

    def _row_tf_step(self, m: re.Match[str], record: Record, out: list[Event]) -> bool:
        msg = m.string
        step_m = _TF_STEP.search(msg)
        if "=" not in msg or step_m is None or msg.startswith("Saving dict"):
            return False
        rate: float | None = None
        unit = "samples/sec"
        if self._tf_rate is not None:
            rate, unit = self._tf_rate
            self._tf_rate = None
        if self._phase != "train":
            self._to("train", "", out)
        self._tf_last = (int(step_m.group(1)), _float(m.group(1)))
        out.append(
            StepMetrics(
                self._number, self._now(), step=int(step_m.group(1)), loss=_float(m.group(1)), rate=rate, rate_unit=unit
            )
        )
        return True

    def _row_tf_rate(self, m: re.Match[str], record: Record, out: list[Event]) -> None:
        value = _float(m.group(2))
        if value is not None:
            kind = m.group(1)
            unit = "steps/sec" if kind in ("global_step/sec", "steps/sec") else "samples/sec"
            # examples/sec is the better measure: a steps/sec reading must not replace it.
            if self._tf_rate is None or unit == "samples/sec":
                self._tf_rate = (value, unit)

    def _row_tf_checkpoint(self, m: re.Match[str], record: Record, out: list[Event]) -> None:
        out.append(CheckpointSaved(self._number, self._now(), int(m.group(1)), m.group(2)))

    def _row_tf_eval_dict(self, m: re.Match[str], record: Record, out: list[Event]) -> None:
        self._to("eval", "", out)
        for name, value in _KV_EQ.findall(m.group(2)):
            number_value = _float(value)
            if number_value is not None and name != "global_step":
                out.append(EvalMetric(self._number, self._now(), name, number_value))
        self._end_phase(out)

    def _row_tf_finished(self, m: re.Match[str], record: Record, out: list[Event]) -> None:
        self._complete(out, int(m.group(1)), _float(m.group(2)), m.string)

    def _row_tf_final_loss(self, m: re.Match[str], record: Record, out: list[Event]) -> None:
        # The end of an estimator's train(): its last loss, and the run's training is complete.
        self._info("final_loss", m.group(1), out)
        loss = _float(m.group(1))
        if self._tf_last is not None and loss is not None and loss != self._tf_last[1]:
            out.append(StepMetrics(self._number, self._now(), step=self._tf_last[0], loss=loss))
        self._complete(out, None, None, m.string)


TF_RULES = RuleTable(
    (
        Rule("tf:step", ("loss", "Loss", "LOSS"), _TF_LOSS, TfEstimatorRules._row_tf_step),
        Rule("tf:rate", "/sec:", _TF_RATE, TfEstimatorRules._row_tf_rate, how="match"),
        Rule("tf:checkpoint", "Saving checkpoint", _TF_CKPT, TfEstimatorRules._row_tf_checkpoint, how="match"),
        Rule("tf:eval", "Saving dict for global step", _TF_EVAL_DICT, TfEstimatorRules._row_tf_eval_dict, how="match"),
        Rule("tf:finished", " finished with", _TF_FINISHED, TfEstimatorRules._row_tf_finished),
        Rule(
            "tf:final_loss",
            ("Loss for final step", "loss for final step"),
            _TF_FINAL_LOSS,
            TfEstimatorRules._row_tf_final_loss,
            how="match",
        ),
    ),
    "first",
)
"""TensorFlow's lines, first row that takes the message wins."""
