"""A FAKE ``poptorch`` for tests: a test double, not Graphcore's library.

It implements just the PopTorch surface that hwmon's MNIST workload uses (the calls of Graphcore's MNIST tutorial),
runs the model on the CPU with plain torch so training is real, checks the arguments it is given the way PopTorch
would reject misuse, and appends one JSON line per call to ``$FAKE_POPTORCH_LOG`` so a test can assert the
sequence. Put ``tests/fakes/fake_poptorch`` first on PYTHONPATH to use it.
"""

from __future__ import annotations

import json
import os
from typing import Any

import torch

__version__ = "0.0.0-fake"
FAKE = True


def _record(call: str, **details: Any) -> None:
    path = os.environ.get("FAKE_POPTORCH_LOG")
    if not path:
        return
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"call": call, **details}, sort_keys=True) + "\n")


class Options:
    """``poptorch.Options``: fluent setters return self, as in PopTorch."""

    def __init__(self) -> None:
        self.device_iterations = 1
        self.ipu_model = False
        _record("Options")

    def deviceIterations(self, n: int) -> Options:  # noqa: N802 - PopTorch's name
        if not isinstance(n, int) or n < 1:
            raise ValueError("deviceIterations must be a positive int")
        self.device_iterations = n
        _record("Options.deviceIterations", n=n)
        return self

    def useIpuModel(self, use: bool) -> Options:  # noqa: N802
        self.ipu_model = bool(use)
        _record("Options.useIpuModel", use=bool(use))
        return self


class DataLoader(torch.utils.data.DataLoader):  # type: ignore[type-arg]
    """``poptorch.DataLoader(options, dataset, batch_size, ...)``: each item is ``device_iterations`` batches."""

    def __init__(
        self,
        options: Options,
        dataset: Any,
        batch_size: int = 1,
        shuffle: bool = False,
        drop_last: bool = True,
        **kwargs: Any,
    ) -> None:
        if not isinstance(options, Options):
            raise TypeError("poptorch.DataLoader needs poptorch.Options as its first argument")
        _record(
            "DataLoader",
            batch_size=batch_size,
            shuffle=shuffle,
            drop_last=drop_last,
            device_iterations=options.device_iterations,
        )
        super().__init__(
            dataset, batch_size=batch_size * options.device_iterations, shuffle=shuffle, drop_last=drop_last, **kwargs
        )


class _optim:  # noqa: N801 - a namespace like poptorch.optim
    class SGD(torch.optim.SGD):
        def __init__(self, params: Any, lr: float, **kwargs: Any) -> None:
            _record("optim.SGD", lr=lr)
            super().__init__(params, lr=lr, **kwargs)


optim = _optim


class _PoplarExecutor:
    def __init__(self, kind: str, model: torch.nn.Module, options: Options | None, optimizer: Any = None) -> None:
        self.kind = kind
        self.model = model
        self.options = options or Options()
        self.optimizer = optimizer
        self.attached = True
        self.calls = 0

    def __call__(self, *args: Any) -> Any:
        if not self.attached:
            _record(f"{self.kind}Model.reattach")
            self.attached = True
        self.calls += 1
        if self.calls == 1:
            _record(f"{self.kind}Model.compile")
        _record(f"{self.kind}Model.__call__", batch=int(args[0].shape[0]))
        if self.kind == "training":
            self.model.train()
            out, loss = self.model(*args)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            return out.detach(), loss.detach()
        self.model.eval()
        with torch.no_grad():
            return self.model(*args)

    def detachFromDevice(self) -> None:  # noqa: N802
        if not self.attached:
            raise RuntimeError("detachFromDevice called on a model that is not attached")
        self.attached = False
        _record(f"{self.kind}Model.detachFromDevice")


def trainingModel(model: torch.nn.Module, options: Options | None = None, optimizer: Any = None) -> _PoplarExecutor:  # noqa: N802
    if not isinstance(optimizer, _optim.SGD):
        raise TypeError("the fake only supports poptorch.optim.SGD")
    _record("trainingModel", model=type(model).__name__, optimizer=type(optimizer).__name__)
    return _PoplarExecutor("training", model, options, optimizer)


def inferenceModel(model: torch.nn.Module, options: Options | None = None) -> _PoplarExecutor:  # noqa: N802
    _record("inferenceModel", model=type(model).__name__)
    return _PoplarExecutor("inference", model, options)
