"""HF Trainer training a tiny randomly initialised BERT classifier (built from a config: no download) on CPU with
evaluation and checkpoints every 10 steps. --verbosity: `info` (TrainingArguments(log_level="info"), as the example
scripts run) or `default` (transformers' own default, warnings only).

Facts: `trainer.state.global_step`, the last training `loss` and the last eval metrics in
`trainer.state.log_history` (not the averaged end-of-run `train_loss`), the `checkpoint-N` directories on disk.
"""

from __future__ import annotations

import argparse
import os
import re
import sys

import torch
import transformers
from _common import versions, write_facts
from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments

N_TRAIN = 320
N_EVAL = 64
SEQ = 16


class Tokens(torch.utils.data.Dataset):  # type: ignore[type-arg]
    """Random token ids; the label says whether token 7 occurs (learnable in a few steps)."""

    def __init__(self, n: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        self.ids = torch.randint(1, 50, (n, SEQ), generator=g)
        self.labels = (self.ids == 7).any(dim=1).long()

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.ids[i], "attention_mask": torch.ones(SEQ, dtype=torch.long), "labels": self.labels[i]}


def accuracy(pred) -> dict[str, float]:  # type: ignore[no-untyped-def]
    return {"accuracy": float((pred.predictions.argmax(-1) == pred.label_ids).mean())}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--verbosity", choices=["info", "default"], required=True)
    ap.add_argument("--facts", required=True)
    ap.add_argument("--workdir", required=True)
    args = ap.parse_args()
    transformers.set_seed(0)
    config = BertConfig(
        vocab_size=64,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=SEQ,
        num_labels=2,
    )
    out = os.path.join(args.workdir, "out")
    targs = TrainingArguments(
        output_dir=out,
        num_train_epochs=2,
        per_device_train_batch_size=16,
        per_device_eval_batch_size=32,
        learning_rate=1e-3,
        logging_steps=5,
        eval_strategy="steps",
        eval_steps=10,
        save_strategy="steps",
        save_steps=10,
        report_to=[],
        use_cpu=os.environ.get("HWMON_EMIT_DEVICE") != "gpu",  # gpu: scripts/gpu_check.sh on a GPU machine
        seed=0,
        log_level="info" if args.verbosity == "info" else "passive",
    )
    trainer = Trainer(
        model=BertForSequenceClassification(config),
        args=targs,
        train_dataset=Tokens(N_TRAIN, 1),
        eval_dataset=Tokens(N_EVAL, 2),
        compute_metrics=accuracy,
    )
    trainer.train()
    history = trainer.state.log_history
    train_logs = [h for h in history if "loss" in h]
    eval_logs = [h for h in history if "eval_loss" in h]
    ckpts = []
    for name in sorted(os.listdir(out)):
        m = re.fullmatch(r"checkpoint-(\d+)", name)
        if m:
            ckpts.append({"step": int(m.group(1)), "path": os.path.join(out, name)})
    final = [h for h in history if "train_loss" in h]
    write_facts(
        args.facts,
        {
            "emitter": f"hf_trainer/{args.verbosity}",
            "versions": versions("transformers", "accelerate", "tqdm", "torch"),
            "last_step": trainer.state.global_step,
            "max_steps": trainer.state.max_steps,
            "progress": [{"n": trainer.state.global_step, "total": trainer.state.max_steps}],
            "last_loss": train_logs[-1]["loss"],
            "last_loss_step": train_logs[-1]["step"],
            "train_loss_average": final[-1]["train_loss"] if final else None,
            "loss_rel_tol": 1e-3,  # Trainer rounds logged values to 4 decimals
            "loss_abs_tol": 1e-4,
            "eval": {
                k: float(v)
                for k, v in eval_logs[-1].items()
                if k.startswith("eval_") and "runtime" not in k and "per_second" not in k
            },
            "eval_rel_tol": 1e-3,
            "eval_abs_tol": 1e-4,
            "checkpoints": sorted(ckpts, key=lambda c: c["step"]),
            # transformers logs its checkpoint saves at info level only
            "checkpoints_in_log": args.verbosity == "info",
            "log_history": history,
            "status": "succeeded",
            "device": trainer.args.device.type,
            "vendor": None,  # neither log level prints the device the Trainer picked
        },
    )


if __name__ == "__main__":
    sys.exit(main())
