"""A tiny data-parallel training on CPU (torch.distributed with the gloo backend), started by a real ``torchrun``
in the rank tests. Each rank prints ``step=N loss=X`` after its forward pass and before its backward pass (where
DDP all-reduces the gradients), as training scripts that log the local loss do; so a rank that stops inside a
step falls one report behind the others, which wait for it in the all-reduce.

    torchrun --nproc-per-node 4 --tee 3 ddp_job.py --steps 40 --interval 0.3 [--stall-rank 2 --stall-step 12 ...]

``--stall-rank R --stall-step S --stall-s T`` make rank R sleep T seconds inside step S (after writing the time it
stopped, ``time.time()``, to ``--stall-file``); ``--fail-rank R --fail-step S`` make it raise instead.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--interval", type=float, default=0.3, help="seconds per step (the rest is sleep)")
    parser.add_argument("--stall-rank", type=int, default=-1)
    parser.add_argument("--stall-step", type=int, default=-1)
    parser.add_argument("--stall-s", type=float, default=0.0)
    parser.add_argument("--stall-file", type=Path, default=None)
    parser.add_argument("--fail-rank", type=int, default=-1)
    parser.add_argument("--fail-step", type=int, default=-1)
    args = parser.parse_args()

    dist.init_process_group("gloo")
    rank = dist.get_rank()
    torch.manual_seed(1234 + rank)
    model = DistributedDataParallel(torch.nn.Linear(16, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    target = torch.ones(32, 1)
    print(f"rank {rank} of {dist.get_world_size()} ready", flush=True)
    for step in range(1, args.steps + 1):
        started = time.monotonic()
        if rank == args.stall_rank and step == args.stall_step:
            if args.stall_file is not None:
                args.stall_file.write_text(f"{time.time():.6f}\n")
            time.sleep(args.stall_s)
        if rank == args.fail_rank and step == args.fail_step:
            raise RuntimeError(f"injected failure on rank {rank} at step {step}")
        inputs = torch.randn(32, 16)
        loss = (model(inputs) - target).pow(2).mean()
        print(f"step={step} loss={loss.item():.4f}", flush=True)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        time.sleep(max(0.0, args.interval - (time.monotonic() - started)))
    dist.barrier()
    if rank == 0:
        print("training complete", flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
