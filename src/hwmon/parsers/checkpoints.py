"""Checkpoint lines no format rule reads, by their words: a save verb and a saved thing, or a line led by
``Checkpoint``, with the step the checkpoint is of. Pure; vocabulary as data, no framework named.

- ``Saved checkpoint at step 500``, ``saving the model at the end of epoch 5, iters 900``, ``[ITER 7000] saving
  checkpoint``, ``Checkpoint policy after step 5000``: the step is the number of a step word in the message
  (``step``, ``global step``, ``iter``/``iters``/``iteration``, ``update``);
- ``Unsharded checkpoint saved to run/step500-unsharded``, ``Saved model to ckpt/global_step_20/model.pt``,
  ``saving to chk-model-30.gguf``: else the step a path names (``step500``, ``global_step_20``,
  ``checkpoint-1000``, ``iter_0000500``, a name ending ``-30.gguf``).

A line that saves something else (``Saving data order indices ...``, a path under ``checkpoints/``), loads or
resumes one, or states no step is not read: a checkpoint without its step says nothing the chart can place.
"""

from __future__ import annotations

import re

from hwmon.events import CheckpointSaved
from hwmon.parsers.records import Record

__all__ = ["NEEDLES", "read_checkpoint"]

NEEDLES = ("sav", "Sav", "SAV", "heckpoint", "HECKPOINT", "rote", "ritten", "riting", "stor", "Stor", "ump", "xport")
"""A line holds one of these or is no checkpoint line (a cheap test before the patterns)."""

# A path: a token with a slash or a file extension of saved weights, quotes and brackets stripped.
_PATH = re.compile(
    r"""['"(\[]?((?:[\w.~+-]*/)+[\w.+=-]*|[\w.+=-]+\.(?:pt|pth|ckpt|bin|safetensors|gguf|h5|pkl|npz|mdl|"""
    r"""msgpack|tar))['")\],:]?""",
)
_SAVE = re.compile(
    r"\b(?:sav(?:e|ed|ing)|wr(?:ote|itten|iting)|stor(?:ed|ing)|dump(?:ed|ing)|export(?:ed|ing))\b", re.I
)
# (Inside an identifier too: "save_checkpoint_lora_file: saving to ...".)
_THING = re.compile(
    r"(?<![A-Za-z])(?:checkpoints?|ckpts?|models?|weights|state(?:[_ ]dict)?|snapshots?|polic(?:y|ies)|params|"
    r"parameters|optim(?:izer)?s?|lora|adapters?)(?![A-Za-z])",
    re.I,
)
# A short line that is only a save at a named step, whatever it calls the model ("[ITER 7000] Saving Gaussians",
# "Step 500: saving generator and discriminator"): the save verb leads the message (after a bracketed or named
# counter), and what it saves is not one of the things a loop writes beside its weights.
_SAVE_LED = re.compile(
    r"^\W*(?:\[[^\]]{0,40}\]\s*|(?:global[_ ]?step|steps?|iters?|iterations?|updates?)\s*[=:#]?\s*\d{1,12}\W{0,3}\s*)?"
    r"(?:sav(?:e|ed|ing)|wr(?:ote|iting)|stor(?:ed|ing)|dump(?:ed|ing))\s+(?:[\w-]+\s*){1,4}\W*$",
    re.I,
)
_OTHER_THING = re.compile(
    r"(?<![A-Za-z])(?:samples?|images?|imgs?|figures?|figs?|plots?|predictions?|preds?|results?|logs?|outputs?|"
    r"visuali[sz]ations?|videos?|gifs?|data|datasets?|indices|config(?:uration)?s?|metrics?|stats|statistics|"
    r"embeddings?|generations?|reconstructions?|examples?|renders?|tokens?|tokenizers?|vocab(?:ulary)?|history|"
    r"curves?|summar(?:y|ies)|scores?|csv|json|txt|png|jpe?g|html|tables?|events?)(?![A-Za-z])",
    re.I,
)
# The save is done ("saved", "wrote"); else the line says it is under way ("Saving ...").
_DONE = re.compile(r"\b(?:saved|wrote|written|stored|dumped|exported)\b", re.I)
_LED = re.compile(r"^\W*(?:\[[^\]]{0,40}\]\s*)?checkpoint(?:ing|ed)?\b(?!\s*[=:])", re.I)
_NOT = re.compile(
    r"\b(?:load(?:ed|ing)?|restor(?:e|ed|ing)|resum(?:e|ed|ing)|will|every|freq(?:uency)?|interval|not|no|"
    r"skip(?:ped|ping)?|fail(?:ed|ing)?|error)\b",
    re.I,
)
_STEP = re.compile(
    r"(?<![\w.])(?:global[_ ]?step|steps?|iters?|iterations?|updates?)\s*[=:#]?\s*(\d{1,12})(?![\w.])", re.I
)
_PATH_STEP = re.compile(r"(?:global_step|step|iter|iteration|checkpoint|ckpt)[_-]?0*(\d{1,12})(?!\d)", re.I)
# A file name's last number ("chk-model-30.gguf"), when the line names no epoch (then it is the epoch's number).
_NAME_STEP = re.compile(r"[_-](\d{1,12})\.[a-z]{2,11}$", re.I)
_EPOCH = re.compile(r"\bepochs?\b", re.I)


def read_checkpoint(record: Record) -> CheckpointSaved | None:
    """The checkpoint a line says was saved, with its step, or None (see the module doc)."""
    msg = record.msg
    if len(msg) > 1000 or not any(needle in msg for needle in NEEDLES):
        return None
    paths = [m.group(1) for m in _PATH.finditer(msg)]
    words = _PATH.sub(" ", msg)
    if _NOT.search(words) is not None:
        return None
    # (What is saved may be named by its path alone: "Saved checkpoints/iter_0036.pt".)
    thing = _THING.search(words) is not None or any(_THING.search(path) is not None for path in paths)
    if _LED.search(words) is None and (_SAVE.search(words) is None or not thing):
        if _SAVE_LED.search(words) is None or _OTHER_THING.search(words) is not None or _STEP.search(words) is None:
            return None
    step: int | None = None
    where = paths[0] if paths else None
    m = _STEP.search(words)
    if m is not None:
        step = int(m.group(1))
    else:
        for path in paths:
            p = _PATH_STEP.search(path)  # the first: "global_step_20/actor/model_rank_0.pt" is step 20
            if p is None and _EPOCH.search(words) is None:
                p = _NAME_STEP.search(path)
            if p is not None:
                step = int(p.group(1))
                # The checkpoint is the directory the step names: its model, optimizer and config files are one.
                cut = path.find("/", p.end())
                where = path[:cut] if cut >= 0 else path
                break
    if step is None:
        return None
    pending = _DONE.search(words) is None and _LED.search(words) is None
    return CheckpointSaved(record.number, record.ts, step, where, pending, rule="learned:checkpoint")
