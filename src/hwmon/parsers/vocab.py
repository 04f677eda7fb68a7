"""One metric vocabulary for every format: key/value pairs in any common spelling, mapped to what they mean. Pure.

``pairs(text)`` finds the numeric key/value pairs of a message, whatever the spelling:

- ``k=v`` (tqdm postfixes, TensorFlow, Lightning's tqdm bar ``loss=0.223, v_num=77``), also inside ``[...]``;
- ``k: v`` and ``| k: v |`` (Keras ``- loss: 0.62``, Megatron ``| lm loss: 7.1E+00 |``, Lightning's rich bar
  ``train_loss: 0.292``), the key possibly several words (``lm loss``, ``elapsed time per iteration (ms)``);
- ``'k': v`` and ``'k': 'v'`` (HF Trainer dicts; transformers 5 quotes the numbers: ``{'loss': '0.5812'}``);
- ``k v`` for the words the nanoGPT family prints that way (``loss 4.2000``, ``time 12.34ms``, ``mfu 30.00%``).

Percentages become fractions (95.78 % -> 0.9578). ``role(key)`` maps a key to ``step``, ``epoch``, ``loss``,
``rate``, ``lr`` or ``eval`` (or ``None``) by the synonym table below, and ``read(text)`` folds the pairs of one
message into ``Metrics`` (step, loss, rate, epoch, eval metrics, the rest as extras). An averaged end-of-run
``train_loss`` is a summary, not the last loss: a rule that sees one says so with ``averaged=True``.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass, field
from typing import NamedTuple

__all__ = ["NUM", "NUM_B", "Metrics", "Pair", "pairs", "pick_loss", "read", "role"]

NUM = r"(?:[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?i:nan|inf(?:inity)?))"
"""The one number pattern of every format: a decimal (sign, fraction, exponent optional) or nan/inf in any case,
everything ``float()`` reads the same way. A non-capturing group: put it in a group of your own to capture it."""
NUM_B = NUM.encode()
"""``NUM`` for bytes patterns (the bulk fast paths)."""
_NUM = NUM
# 'k': v / "k": "v" (dict reprs, JSON). The value may be quoted (transformers 5) or a tensor(...) repr.
_QUOTED = re.compile(
    r"['\"](?P<k>[^'\"]{1,60})['\"]\s*:\s*(?:tensor\()?['\"]?(?P<v>" + _NUM + r")['\"]?(?P<pct>%)?(?=[\s,})\]]|$)",
    re.I,
)
# k=v / k: v. The key is one token or up to four words ("lm loss", "elapsed time per iteration (ms)"); a word key
# must start after a separator so that "step 10: loss" does not read "10: loss".
_KV = re.compile(
    r"(?:(?<=^)|(?<=[\s|,\[({;-]))(?P<k>[A-Za-z_][\w./-]{0,40}(?:\s[A-Za-z_(][\w./()-]{0,30}){0,5}?)"
    r"\s{0,2}(?P<sep>[=:])\s{0,16}(?P<v>" + _NUM + r")(?P<unit>%|[A-Za-z]{1,8}(?:/[A-Za-z]{1,8})?)?(?![\w.])",
    re.I,
)
# One "| key: value |" field (the key starts with a letter; the value is a number, a percentage or nan/inf).
_BAR_FIELD = re.compile(r"(?:^|\|)\s*([A-Za-z_][^|:=]{0,80}?)\s*:\s*(" + _NUM + r")\s*(%?)\s*(?=\||$)", re.I)
# k v: only the words the nanoGPT family prints that way, so prose is not read as metrics.
_SPACED = re.compile(
    r"(?<![\w.])(?P<k>loss|train loss|val loss|time|mfu|lr|iter|step|epoch)\s+(?P<v>" + _NUM + r")"
    r"(?P<unit>%|ms|s)?(?![\w.])",
    re.I,
)


class Pair(NamedTuple):
    """One key/value found in a message: the key as written (lower-cased, spaces kept), the value (percentages as
    fractions) and the unit written after it, if any. (A tuple: made for every field of every step line.)"""

    key: str
    value: float
    unit: str = ""
    start: int = 0
    end: int = 0


def pairs(text: str, *, spaced: bool = True) -> list[Pair]:
    """The numeric key/value pairs of ``text`` in order (see the module doc); ``spaced=False`` leaves out the
    ``k v`` spelling (a bar's name "Epoch 3" is a name, not a metric)."""
    if text.count("|") >= 2 and "{" not in text:
        return _bar_pairs(text)
    found: list[Pair] = []
    quoted = "'" in text or '"' in text
    if quoted:
        for m in _QUOTED.finditer(text):
            _add(found, m, m["k"], m["v"], "%" if m["pct"] else "")
        if found and text.lstrip()[:1] == "{":
            return found  # a dict repr: every pair is quoted
    spans = [(p.start, p.end) for p in found]
    if "=" in text or ":" in text:
        for m in _KV.finditer(text):
            key = m["k"]
            if m["sep"] == ":" and key[-1:] in "'\"":
                continue
            if spans and _overlaps(spans, m.start(), m.end()):
                continue
            _add(found, m, key, m["v"], m["unit"] or "")
    if spaced and " " in text:
        spans = [(p.start, p.end) for p in found]
        for m in _SPACED.finditer(text):
            if spans and _overlaps(spans, m.start(), m.end()):
                continue
            _add(found, m, m["k"], m["v"], m["unit"] or "")
    if quoted or spaced:
        found.sort(key=lambda p: p.start)
    return found


def _bar_pairs(text: str) -> list[Pair]:
    """``| k: v | k: v |`` (Megatron, Keras-style logs): one C-level scan of the fields."""
    found = [
        Pair(
            m.group(1).lower(),
            float(m.group(2)) / 100.0 if m.group(3) else float(m.group(2)),
            m.group(3),
            m.start(),
            m.end(),
        )
        for m in _BAR_FIELD.finditer(text)
    ]
    if "=" in text or "'" in text:
        # Fields in other spellings between the bars ("| loss=0.5 |").
        for start, part in _fields(text):
            if ("=" in part or "'" in part) and ":" not in part:
                found.extend(_shift(pairs(part, spaced=False), start))
        found.sort(key=lambda p: p.start)
    return found


def _fields(text: str) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    pos = 0
    for part in text.split("|"):
        out.append((pos, part))
        pos += len(part) + 1
    return out


def _shift(found: list[Pair], by: int) -> list[Pair]:
    return [Pair(p.key, p.value, p.unit, p.start + by, p.end + by) for p in found]


def _overlaps(spans: list[tuple[int, int]], start: int, end: int) -> bool:
    return any(a < end and start < b for a, b in spans)


def _add(found: list[Pair], m: re.Match[str], key: str, raw: str, unit: str) -> None:
    try:
        value = float(raw)
    except ValueError:
        return
    if unit == "%":
        value /= 100.0
    found.append(Pair(key.strip().lower(), value, unit, m.start(), m.end()))


# --- roles --------------------------------------------------------------------------------------------------------

_STEP = {"step", "steps", "iter", "iteration", "global_step", "globalstep", "global step", "it", "batch_idx"}
_EPOCH = {"epoch", "epochs"}
_LOSS = {
    "loss",
    "lm loss",
    "total loss",
    "train_loss_step",
    "train/loss",
    "train_loss",
    "train loss",
    "training_loss",
    "training loss",
    "loss_step",
    "avg loss",
    "running loss",
}
_RATE = {
    "throughput",
    "samples/sec",
    "samples_per_second",
    "samples per second",
    "sps",
    "tokens/s",
    "tokens/sec",
    "tokens_per_sec",
    "tok/s",
    "it/s",
    "examples/sec",
}
_LR = {"lr", "learning rate", "learning_rate", "lr-adam"}
_EVAL_PREFIXES = (
    "val_",
    "val/",
    "val ",
    "eval_",
    "eval/",
    "eval ",
    "test_",
    "test/",
    "test ",
    "valid_",
    "valid/",
    "validation_",
    "validation ",
    "validation/",
)


# Among several loss keys of one report, the step's own value wins: Lightning 1.x puts a running mean ``loss`` before
# ``train_loss``; ``*_epoch`` values are epoch averages (not a role at all).
_LOSS_PREFERENCE = ("train_loss_step", "train_loss", "train/loss", "lm loss", "training_loss", "total loss")


def pick_loss(metrics: list[tuple[str, float]] | tuple[tuple[str, float], ...]) -> tuple[str, float] | None:
    """The (key, value) that is the step's loss among ``metrics``, by preference (see above), else the first loss."""
    losses = [(k, v) for k, v in metrics if role(k) == "loss"]
    if not losses:
        return None
    for wanted in _LOSS_PREFERENCE:
        for key, value in losses:
            if key == wanted:
                return key, value
    return losses[0]


@functools.lru_cache(maxsize=4096)
def role(key: str) -> str | None:
    """What a (lower-cased) key means: ``step``, ``epoch``, ``loss``, ``rate``, ``lr``, ``eval`` or ``None``."""
    if key in _LOSS:
        return "loss"
    if key.startswith(_EVAL_PREFIXES):
        if key.endswith(("_runtime", "_per_second", "_steps_per_second")) or key in ("eval_epoch", "eval_step"):
            return None
        return "eval"
    if key in _STEP:
        return "step"
    if key in _EPOCH:
        return "epoch"
    if key in _RATE:
        return "rate"
    if key in _LR:
        return "lr"
    return None


@dataclass(slots=True)
class Metrics:
    """The pairs of one message, by role."""

    step: int | None = None
    epoch: float | None = None
    loss: float | None = None
    rate: float | None = None
    rate_unit: str = ""
    lr: float | None = None
    evals: list[tuple[str, float]] = field(default_factory=list)
    extra: list[tuple[str, float]] = field(default_factory=list)


_MAX_EXTRA = 16


def read(text: str, found: list[Pair] | None = None) -> Metrics:
    """``text``'s pairs (or the ``found`` ones) folded by role; the first value of each role wins."""
    out = Metrics()
    extra = out.extra
    for pair in pairs(text) if found is None else found:
        key, value = pair.key, pair.value
        kind = role(key)
        if kind == "loss" and out.loss is None:
            out.loss = value
        elif kind == "step" and out.step is None and math.isfinite(value) and 0 <= value < 2**53:
            out.step = int(value)
        elif kind == "epoch" and out.epoch is None and math.isfinite(value):
            out.epoch = value
        elif kind == "rate" and out.rate is None:
            out.rate = value
            out.rate_unit = key if "/" in key else (pair.unit or "samples/sec")
        elif kind == "eval":
            out.evals.append((key, value))
        elif len(extra) < _MAX_EXTRA:
            if kind == "lr" and out.lr is None:
                out.lr = value
                key = "lr"
            extra.append((key, value))
    return out
