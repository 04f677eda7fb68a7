"""Plain tqdm around a tiny torch regression: one bar style per --variant, the loss in the postfix.

Facts: the optimizer steps taken, the loss of the last step (what `set_postfix` was given last) and the bar's own
final `n`/`total` (`format_dict`).
"""

from __future__ import annotations

import argparse
import sys
import time

import torch
from _common import versions, write_facts
from tqdm import tqdm

STEPS = 60
BATCH = 32
EPOCHS = 3


def model_and_data() -> tuple[torch.nn.Module, torch.optim.Optimizer, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    x = torch.randn(STEPS * BATCH, 8)
    y = x @ torch.randn(8, 1) + 0.1 * torch.randn(STEPS * BATCH, 1)
    model = torch.nn.Linear(8, 1)
    return model, torch.optim.SGD(model.parameters(), lr=0.05), x, y


def step(model: torch.nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, i: int) -> float:
    xb, yb = x[i * BATCH : (i + 1) * BATCH], y[i * BATCH : (i + 1) * BATCH]
    loss = torch.nn.functional.mse_loss(model(xb), yb)
    opt.zero_grad()
    loss.backward()
    opt.step()
    time.sleep(0.01)  # a few refreshes reach the log, as in a real loop
    return float(loss.item())


BAR_FORMATS = {
    "bar_format_lbar": "{l_bar}{bar:20}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}{postfix}]",
    "bar_format_plain": "{desc} step {n_fmt}/{total_fmt} [{elapsed}, {rate_fmt}] {postfix}",
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--variant", required=True)
    ap.add_argument("--facts", required=True)
    args = ap.parse_args()
    model, opt, x, y = model_and_data()
    facts: dict = {"emitter": f"tqdm/{args.variant}", "versions": versions("tqdm", "torch"), "status": None}
    loss = float("nan")
    if args.variant == "nested":
        # An epoch bar at position 0 and a per-epoch batch bar at position 1 (leave=False), the loss on the inner bar.
        steps_per_epoch = STEPS // EPOCHS
        outer = tqdm(range(EPOCHS), desc="epoch", position=0)
        done = 0
        for _epoch in outer:
            # mininterval=0: every update is drawn, so the last state (n = total) reaches the log before the bar
            # erases itself (leave=False); with throttled redraws what the log last shows would depend on timing.
            inner = tqdm(range(steps_per_epoch), desc="batch", position=1, leave=False, mininterval=0)
            for _ in inner:
                loss = step(model, opt, x, y, done)
                done += 1
                inner.set_postfix(loss=loss)
            inner.close()
        outer.close()
        facts["progress"] = [{"n": outer.format_dict["n"], "total": outer.format_dict["total"]}]
        facts["last_step"] = facts["steps_taken"] = done
    elif args.variant == "unit_scale":
        # Samples, not iterations: the bar counts 32 per step and shows '1.92k/1.92k'.
        bar = tqdm(total=STEPS * BATCH, desc="train", unit="samples", unit_scale=True)
        for i in range(STEPS):
            loss = step(model, opt, x, y, i)
            bar.update(BATCH)
            bar.set_postfix(loss=loss)
        bar.close()
        facts["progress"] = [{"n": bar.format_dict["n"], "total": bar.format_dict["total"]}]
        facts["steps_taken"] = STEPS
    else:
        kwargs: dict = {"desc": "train"}
        iterable: object = range(STEPS)
        if args.variant in BAR_FORMATS:
            kwargs["bar_format"] = BAR_FORMATS[args.variant]
        elif args.variant == "ncols":
            kwargs["ncols"] = 100
        elif args.variant == "no_total":
            iterable = iter(range(STEPS))  # no len(): tqdm shows '60it [...]'
        elif args.variant != "default":
            raise SystemExit(f"unknown variant {args.variant}")
        bar = tqdm(iterable, **kwargs)
        for i in bar:
            loss = step(model, opt, x, y, i)
            bar.set_postfix(loss=loss)
        bar.close()
        facts["last_step"] = bar.format_dict["n"]
        facts["progress"] = [{"n": bar.format_dict["n"], "total": bar.format_dict["total"]}]
        facts["steps_taken"] = STEPS
    facts["last_loss"] = loss
    facts["loss_rel_tol"] = 5e-3  # tqdm's postfix prints floats with 3 significant digits
    facts["vendor"] = None  # nothing in a plain tqdm log says where it ran
    write_facts(args.facts, facts)


if __name__ == "__main__":
    sys.exit(main())
