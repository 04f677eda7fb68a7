"""Keras 3 on the torch backend (KERAS_BACKEND=torch): `fit` with validation_data and a verbose ModelCheckpoint on
a tiny dense classifier, three epochs.

Facts: `History.history` (Keras reports the epoch's running mean as `loss`: that is the last loss it reports),
`model.optimizer.iterations` (the global step), the checkpoint files on disk.
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from _common import versions, write_facts  # noqa: E402

EPOCHS = 3
BATCH = 32


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--facts", required=True)
    ap.add_argument("--workdir", required=True)
    args = ap.parse_args()
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(640, 10)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("int64")
    xv = rng.normal(size=(160, 10)).astype("float32")
    yv = (xv[:, 0] + xv[:, 1] > 0).astype("int64")
    model = keras.Sequential([keras.Input((10,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(2)])
    model.compile(
        optimizer=keras.optimizers.SGD(0.1),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    ckpt_dir = os.path.join(args.workdir, "checkpoints")
    os.makedirs(ckpt_dir)
    checkpoint = keras.callbacks.ModelCheckpoint(os.path.join(ckpt_dir, "model_{epoch:02d}.keras"), verbose=1)
    history = model.fit(x, y, batch_size=BATCH, epochs=EPOCHS, validation_data=(xv, yv), callbacks=[checkpoint])
    steps_per_epoch = -(-len(x) // BATCH)
    h = history.history
    write_facts(
        args.facts,
        {
            "emitter": "keras/fit",
            "versions": versions("keras", "torch"),
            "backend": keras.backend.backend(),
            "last_step": int(model.optimizer.iterations),
            "steps_per_epoch": steps_per_epoch,
            "epochs": EPOCHS,
            "last_loss": h["loss"][-1],
            "loss_rel_tol": 1e-3,  # the progress bar prints 4 decimals
            "loss_abs_tol": 1e-4,
            "eval": {k: v[-1] for k, v in h.items() if k.startswith("val_")},
            "eval_rel_tol": 1e-3,
            "eval_abs_tol": 1e-4,
            "history": h,
            "checkpoints": [
                {"step": (i + 1) * steps_per_epoch, "path": os.path.join(ckpt_dir, name)}
                for i, name in enumerate(sorted(os.listdir(ckpt_dir)))
            ],
            "status": None,  # Keras prints nothing after the last epoch's line
            "vendor": None,  # a Keras log does not say where it ran
        },
    )


if __name__ == "__main__":
    sys.exit(main())
