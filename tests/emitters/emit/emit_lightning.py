"""Lightning (2.x `lightning.pytorch`, or 1.x `pytorch_lightning`) fitting a tiny classifier on CPU for two epochs,
with validation every epoch and a verbose ModelCheckpoint. --bar picks the progress bar: `default` (what Lightning
picks itself), `tqdm` (TQDMProgressBar) or `rich` (RichProgressBar).

Facts: `trainer.global_step`, the loss the last training step returned (a callback records it), the validation
metrics in `trainer.callback_metrics`, the checkpoint files on disk with the step ModelCheckpoint saved them at.
"""

from __future__ import annotations

import argparse
import os
import re
import sys

import torch
from _common import versions, write_facts

try:
    import lightning.pytorch as pl
    from lightning.pytorch.callbacks import ModelCheckpoint, RichProgressBar, TQDMProgressBar
except ImportError:  # the 1.x line
    import pytorch_lightning as pl  # type: ignore[no-redef]
    from pytorch_lightning.callbacks import ModelCheckpoint, RichProgressBar, TQDMProgressBar  # type: ignore[no-redef]

EPOCHS = 2
N_TRAIN = 640
N_VAL = 160
BATCH = 32


class Tiny(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(10, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))

    def training_step(self, batch, batch_idx):  # type: ignore[no-untyped-def]
        x, y = batch
        loss = torch.nn.functional.cross_entropy(self.net(x), y)
        self.log("train_loss", loss, prog_bar=True)
        return loss

    def validation_step(self, batch, batch_idx):  # type: ignore[no-untyped-def]
        x, y = batch
        logits = self.net(x)
        self.log("val_loss", torch.nn.functional.cross_entropy(logits, y), prog_bar=True)
        self.log("val_acc", (logits.argmax(-1) == y).float().mean(), prog_bar=True)

    def configure_optimizers(self):  # type: ignore[no-untyped-def]
        return torch.optim.SGD(self.parameters(), lr=0.5)


class Record(pl.Callback):
    """What Lightning itself reports: the step loss each training batch returned, and the global step."""

    def __init__(self) -> None:
        self.last_loss = float("nan")
        self.step = 0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):  # type: ignore[no-untyped-def]
        self.last_loss = float(outputs["loss"].item())
        self.step = trainer.global_step


def data(n: int, seed: int) -> torch.utils.data.DataLoader:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 10, generator=g)
    y = (x[:, 0] + x[:, 1] > 0).long()
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=BATCH)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bar", choices=["default", "tqdm", "rich"], required=True)
    ap.add_argument("--facts", required=True)
    ap.add_argument("--workdir", required=True)
    args = ap.parse_args()
    pl.seed_everything(0)
    record = Record()
    ckpt_dir = os.path.join(args.workdir, "checkpoints")
    checkpoint = ModelCheckpoint(dirpath=ckpt_dir, monitor="val_loss", save_top_k=-1, verbose=True)
    callbacks: list = [record, checkpoint]
    if args.bar == "tqdm":
        callbacks.append(TQDMProgressBar())
    elif args.bar == "rich":
        callbacks.append(RichProgressBar())
    trainer = pl.Trainer(
        max_epochs=EPOCHS,
        # HWMON_EMIT_DEVICE=gpu (scripts/gpu_check.sh on a GPU machine) trains on CUDA; the lane is CPU only.
        accelerator="gpu" if os.environ.get("HWMON_EMIT_DEVICE") == "gpu" else "cpu",
        devices=1,
        callbacks=callbacks,
        default_root_dir=args.workdir,
        log_every_n_steps=5,
    )
    trainer.fit(Tiny(), data(N_TRAIN, 1), data(N_VAL, 2))
    bar = type(trainer.progress_bar_callback).__name__
    ckpts = []
    for name in sorted(os.listdir(ckpt_dir)):
        m = re.search(r"step=(\d+)", name)
        ckpts.append({"step": int(m.group(1)) if m else None, "path": os.path.join(ckpt_dir, name)})
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    write_facts(
        args.facts,
        {
            "emitter": f"lightning/{args.bar}",
            "versions": versions("lightning", "pytorch-lightning", "rich", "tqdm", "torch"),
            "progress_bar": bar,
            "last_step": trainer.global_step,
            "last_loss": record.last_loss,
            "loss_rel_tol": 5e-3,  # the tqdm postfix prints 3 significant digits
            "loss_abs_tol": 5e-4,  # the rich bar prints 3 decimals
            "eval": {k: v for k, v in metrics.items() if k.startswith("val_")},
            "eval_rel_tol": 5e-3,
            "eval_abs_tol": 5e-4,
            "logged_metrics": {k: float(v) for k, v in trainer.logged_metrics.items()},
            "checkpoints": sorted(ckpts, key=lambda c: c["step"] or 0),
            "status": "succeeded" if trainer.state.finished else "failed",
            # 'GPU available: False, used: False' on the CPU; 'GPU available: True (cuda), used: True' on a GPU.
            "vendor": "gpu" if os.environ.get("HWMON_EMIT_DEVICE") == "gpu" else "cpu",
        },
    )


if __name__ == "__main__":
    sys.exit(main())
