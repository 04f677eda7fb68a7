"""MNIST training for ``hwmon run mnist``: the same model on CPU, CUDA, Graphcore IPU (PopTorch) and Cerebras CSX
(cerebras.pytorch).

Run as a script in whatever interpreter has the device's stack (``python mnist.py --device ipu ...``), so this
file and its siblings use only the stdlib, torch, numpy and the vendor library, and stay Python 3.8 compatible
(the Poplar SDK's venvs are 3.8). The model is the one from Graphcore's MNIST tutorial that the seed logs show:
its printed module tree, per-epoch progress bars with the loss in the description, and
``Accuracy on test set: X%``.
"""

from __future__ import print_function

import argparse
import logging
import os
import sys
import time

# Mirrors hwmon.exitcodes (this file cannot import hwmon: vendor venvs do not have it). A test checks they agree.
EXIT_DEVICE_UNAVAILABLE = 5
EXIT_DATA_NOT_FOUND = 6

CS_LOG_FORMAT = "%(asctime)s %(levelname)s:   %(message)s"
CS_USERNODE_CONFIG = "/opt/cerebras/config_v2"


def fail(message, code):
    """One line on stderr, then exit with ``code`` (no traceback for expected failures)."""
    sys.stderr.write("mnist: error: %s\n" % message)
    sys.stderr.flush()
    sys.exit(code)


# What the workload itself knows about its run (last step and loss, test accuracy), written as JSON to
# $HWMON_FACTS_FILE at the end when that is set: the real-emitter tests (tests/emitters) compare hwmon's reading of
# the log against it, never against the log text.
FACTS = {}


def write_facts():
    path = os.environ.get("HWMON_FACTS_FILE")
    if path:
        import json

        with open(path, "w") as handle:
            json.dump(FACTS, handle, indent=1, sort_keys=True)


def build_parser():
    p = argparse.ArgumentParser(description="MNIST training on CPU / GPU / IPU / CSX (hwmon workload)")
    p.add_argument("--device", choices=["cpu", "gpu", "ipu", "ipu-model", "csx"], default="cpu")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--limit-batches", type=int, default=None, help="at most N training (and test) steps per epoch")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--test-batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--data", default=None, help="directory with the MNIST / Fashion-MNIST IDX files")
    p.add_argument("--no-download", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads (CPU)")
    p.add_argument("--device-iterations", type=int, default=50, help="IPU: batches per device step")
    # Cerebras
    p.add_argument("--cs-backend", choices=["csx", "cpu"], default="csx")
    p.add_argument("--validate-only", action="store_true", help="CSX: validate/compile offline, do not train")
    p.add_argument("--compile-only", action="store_true", help="CSX: compile on the cluster, do not train")
    p.add_argument("--log-steps", type=int, default=10, help="CSX: log a step line every N steps")
    p.add_argument("--mgmt-address", default=None)
    p.add_argument("--mgmt-namespace", default=None)
    p.add_argument("--credentials-path", default=None)
    p.add_argument("--num-csx", type=int, default=1)
    p.add_argument("--mount-dirs", nargs="*", default=None)
    p.add_argument("--python-paths", nargs="*", default=None)
    p.add_argument("--job-labels", nargs="*", default=None)
    p.add_argument("--compile-dir", default=None)
    p.add_argument("--model-dir", default="model_dir_mnist", help="CSX: artifact directory")
    return p


def build_model():
    """The tutorial network and its loss wrapper (classes defined here so their printed names match)."""
    import torch
    import torch.nn as nn

    class Block(nn.Module):
        def __init__(self, in_channels, num_filters, kernel_size, pool_size):
            super(Block, self).__init__()
            self.conv = nn.Conv2d(in_channels, num_filters, kernel_size=kernel_size)
            self.pool = nn.MaxPool2d(kernel_size=pool_size)
            self.relu = nn.ReLU()

        def forward(self, x):
            return self.relu(self.pool(self.conv(x)))

    class Network(nn.Module):
        def __init__(self):
            super(Network, self).__init__()
            self.layer1 = Block(1, 32, 3, 2)
            self.layer2 = Block(32, 64, 3, 2)
            self.layer3 = nn.Linear(1600, 128)
            self.layer3_act = nn.ReLU()
            self.layer3_dropout = torch.nn.Dropout(0.5)
            self.layer4 = nn.Linear(128, 10)
            self.softmax = nn.Softmax(1)

        def forward(self, x):
            x = self.layer1(x)
            x = self.layer2(x)
            x = x.view(-1, 1600)
            x = self.layer3_act(self.layer3(x))
            x = self.layer4(self.layer3_dropout(x))
            return self.softmax(x)

    class TrainingModelWithLoss(torch.nn.Module):
        def __init__(self, model):
            super(TrainingModelWithLoss, self).__init__()
            self.model = model
            self.loss = torch.nn.CrossEntropyLoss()

        def forward(self, args, loss_inputs=None):
            output = self.model(args)
            if loss_inputs is None:
                return output
            return output, self.loss(output, loss_inputs)

    model = Network()
    return model, TrainingModelWithLoss(model)


def accuracy(predictions, labels):
    """Percent of ``labels`` matched by the argmax of ``predictions`` (the trailing labels when the device
    returned predictions for the last batch only)."""
    import torch

    _, ind = torch.max(predictions, 1)
    labels = labels[-predictions.size()[0] :]
    return torch.sum(torch.eq(ind, labels)).item() / float(labels.size()[0]) * 100.0


def batches(images, labels, batch_size, shuffle, rng, limit=None):
    """(images, labels) numpy slices of ``batch_size``, last partial batch dropped, at most ``limit``."""
    import numpy as np

    n = (len(images) // batch_size) * batch_size
    order = rng.permutation(len(images))[:n] if shuffle else np.arange(n)
    count = n // batch_size
    if limit is not None:
        count = min(count, limit)
    for i in range(count):
        idx = order[i * batch_size : (i + 1) * batch_size]
        yield images[idx], labels[idx]


def n_batches(count, batch_size, limit):
    n = count // batch_size
    return n if limit is None else min(n, limit)


def report_throughput(samples, seconds):
    if seconds > 0:
        print("Train throughput: %.1f samples/sec (%d samples in %.2f s)" % (samples / seconds, samples, seconds))


def load_data(args):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import mnist_data

    try:
        data = mnist_data.load(args.data, allow_download=not args.no_download)
    except mnist_data.DataError as exc:
        fail(str(exc), EXIT_DATA_NOT_FOUND)
    print(
        "Dataset: %s (%d train / %d test images) from %s"
        % (data.name, len(data.train_x), len(data.test_x), data.source)
    )
    return data


def train_torch(args, data, bar):
    """Plain PyTorch on CPU or CUDA."""
    import numpy as np
    import torch

    if args.device == "gpu":
        if not torch.cuda.is_available():
            fail(
                "--gpu: CUDA is not available to this torch (no GPU/driver, or a CPU-only build); use --cpu",
                EXIT_DEVICE_UNAVAILABLE,
            )
        dev = torch.device("cuda:0")
    else:
        dev = torch.device("cpu")
    if args.threads:
        torch.set_num_threads(args.threads)
    if dev.type == "cuda":
        print("Using device: cuda:0 (%s, torch %s)" % (torch.cuda.get_device_name(0), torch.__version__))
    else:
        print("Using device: cpu (torch %s, %d threads)" % (torch.__version__, torch.get_num_threads()))
    torch.manual_seed(args.seed)
    rng = np.random.RandomState(args.seed)
    model, model_with_loss = build_model()
    print(model_with_loss)
    model_with_loss.to(dev)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)
    per_epoch = n_batches(len(data.train_x), args.batch_size, args.limit_batches)
    samples, train_s = 0, 0.0
    for _epoch in bar(range(args.epochs), desc="Epochs"):
        model_with_loss.train()
        t0 = time.time()
        progress = bar(
            batches(data.train_x, data.train_y, args.batch_size, True, rng, args.limit_batches), total=per_epoch
        )
        for x, y in progress:
            x = torch.from_numpy(x).to(dev)
            y = torch.from_numpy(y).to(dev)
            preds, loss = model_with_loss(x, y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            samples += len(y)
            progress.set_description("Loss:{:0.4f} | Accuracy:{:0.2f}%".format(loss.item(), accuracy(preds, y)))
            FACTS["steps_taken"] = FACTS.get("steps_taken", 0) + 1
            FACTS["last_loss"] = loss.item()
        train_s += time.time() - t0
    report_throughput(samples, train_s)
    model.eval()
    total_acc, count = 0.0, 0
    with torch.no_grad():
        test_total = n_batches(len(data.test_x), args.test_batch_size, args.limit_batches)
        for x, y in bar(
            batches(data.test_x, data.test_y, args.test_batch_size, False, None, args.limit_batches), total=test_total
        ):
            out = model(torch.from_numpy(x).to(dev))
            total_acc += accuracy(out, torch.from_numpy(y).to(dev))
            count += 1
    print("Accuracy on test set: {:0.2f}%".format(total_acc / max(count, 1)))
    FACTS.update(last_step=FACTS.get("steps_taken"), loss_abs_tol=5e-5, eval_abs_tol=1e-6)
    FACTS.update(eval={"test_accuracy": round(total_acc / max(count, 1), 2) / 100.0})
    FACTS.update(vendor="gpu" if dev.type == "cuda" else "cpu")


def train_ipu(args, data, bar):
    """PopTorch, as in Graphcore's MNIST tutorial: Options().deviceIterations, poptorch.DataLoader,
    trainingModel with a poptorch optimizer, detachFromDevice, then inferenceModel for the test set."""
    try:
        import poptorch
    except ImportError as exc:
        fail(
            "--%s: cannot import poptorch (%s); enable the Poplar SDK (`source <sdk>/enable`) and activate its "
            "PopTorch venv, or pass --python /path/to/poptorch_venv/bin/python" % (args.device, exc),
            EXIT_DEVICE_UNAVAILABLE,
        )
    import torch

    torch.manual_seed(args.seed)
    train_ds = torch.utils.data.TensorDataset(torch.from_numpy(data.train_x), torch.from_numpy(data.train_y))
    test_ds = torch.utils.data.TensorDataset(torch.from_numpy(data.test_x), torch.from_numpy(data.test_y))
    model, model_with_loss = build_model()
    print(model_with_loss)

    train_opts = poptorch.Options().deviceIterations(args.device_iterations)
    if args.device == "ipu-model":
        train_opts.useIpuModel(True)
    training_data = poptorch.DataLoader(train_opts, train_ds, batch_size=args.batch_size, shuffle=True, drop_last=True)
    training_model = poptorch.trainingModel(
        model_with_loss, train_opts, optimizer=poptorch.optim.SGD(model.parameters(), lr=args.lr)
    )
    per_epoch = len(training_data) if args.limit_batches is None else min(len(training_data), args.limit_batches)
    samples, train_s = 0, 0.0
    for _epoch in bar(range(args.epochs), desc="Epochs"):
        t0 = time.time()
        progress = bar(total=per_epoch)
        for i, (x, y) in enumerate(training_data):
            if i >= per_epoch:
                break
            preds, losses = training_model(x, y)
            with torch.no_grad():
                mean_loss = torch.mean(losses).item()
                acc = accuracy(preds, y)
            samples += len(y)
            progress.set_description("Loss:{:0.4f} | Accuracy:{:0.2f}%".format(mean_loss, acc))
            progress.update(1)
        progress.close()
        train_s += time.time() - t0
    report_throughput(samples, train_s)
    training_model.detachFromDevice()

    test_opts = poptorch.Options().deviceIterations(args.device_iterations)
    if args.device == "ipu-model":
        test_opts.useIpuModel(True)
    test_data = poptorch.DataLoader(test_opts, test_ds, batch_size=args.test_batch_size, drop_last=True)
    inference_model = poptorch.inferenceModel(model, test_opts)
    test_total = len(test_data) if args.limit_batches is None else min(len(test_data), args.limit_batches)
    total_acc, count = 0.0, 0
    progress = bar(total=test_total)
    with torch.no_grad():
        for i, (x, y) in enumerate(test_data):
            if i >= test_total:
                break
            total_acc += accuracy(inference_model(x), y)
            count += 1
            progress.update(1)
    progress.close()
    inference_model.detachFromDevice()
    print("Accuracy on test set: {:0.2f}%".format(total_acc / max(count, 1)))


def train_csx(args, data, bar):
    """cerebras.pytorch 2.x: backend, compile, a traced step, DataLoader/DataExecutor and a step closure that
    logs Model-Zoo-style step lines from the executor's rate tracker, through the appliance's log format."""
    logging.basicConfig(level=logging.INFO, format=CS_LOG_FORMAT, stream=sys.stdout, force=True)
    # cerebras.pytorch runs helper tools (torch-cirh-opt, ...) from its venv's bin/, which is on PATH only when
    # the venv is activated; `--python .../bin/python` alone must work too.
    venv_bin = os.path.dirname(sys.executable)
    if venv_bin not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = venv_bin + os.pathsep + os.environ.get("PATH", "")
    logger = logging.getLogger("mnist")
    try:
        import cerebras.pytorch as cstorch
    except ImportError as exc:
        fail(
            "--csx: cannot import cerebras.pytorch (%s); activate the cerebras-pytorch venv on the Cerebras user "
            "node, or pass --python /path/to/venv_cerebras_pt/bin/python" % exc,
            EXIT_DEVICE_UNAVAILABLE,
        )
    import torch

    on_cluster = args.cs_backend == "csx"
    if on_cluster and not args.validate_only and not args.mgmt_address and not os.path.exists(CS_USERNODE_CONFIG):
        fail(
            "--csx: no Cerebras cluster configuration (%s is missing and no --mgmt-address given); run on a "
            "Cerebras user node, pass --mgmt-address HOST:PORT, or use --cs-backend cpu / --validate-only"
            % CS_USERNODE_CONFIG,
            EXIT_DEVICE_UNAVAILABLE,
        )
    torch.manual_seed(args.seed)
    if on_cluster:
        cluster_kwargs = {"num_csx": args.num_csx}
        for key in ("mgmt_address", "mgmt_namespace", "credentials_path", "mount_dirs", "python_paths", "job_labels"):
            value = getattr(args, key)
            if value:
                cluster_kwargs[key] = value
        backend_kwargs = {
            "artifact_dir": args.model_dir,
            "compile_only": args.compile_only,
            "validate_only": args.validate_only,
            "cluster_config": cstorch.distributed.ClusterConfig(**cluster_kwargs),
        }
        if args.compile_dir:
            backend_kwargs["compile_dir"] = args.compile_dir
        backend = cstorch.backend("CSX", **backend_kwargs)
        device_name = "CSX"
    else:
        backend = cstorch.backend("CPU", artifact_dir=args.model_dir)
        device_name = "CPU"

    model, model_with_loss = build_model()
    print(model_with_loss)
    compiled = cstorch.compile(model_with_loss, backend)
    optimizer = cstorch.optim.SGD(model.parameters(), lr=args.lr)

    train_x, train_y = data.train_x, data.train_y
    batch_size = args.batch_size

    def train_input_fn():
        ds = torch.utils.data.TensorDataset(torch.from_numpy(train_x), torch.from_numpy(train_y))
        return torch.utils.data.DataLoader(ds, batch_size=batch_size, shuffle=True, drop_last=True)

    per_epoch = n_batches(len(train_x), batch_size, args.limit_batches)
    num_steps = per_epoch * max(args.epochs, 1)
    train_loader = cstorch.utils.data.DataLoader(train_input_fn)
    executor = cstorch.utils.data.DataExecutor(train_loader, num_steps=num_steps)

    @cstorch.trace
    def training_step(inputs, targets):
        outputs, loss = compiled(inputs, targets)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        return loss

    @cstorch.step_closure
    def log_step(loss):
        step = executor.user_iteration
        FACTS.update(last_step=step, last_loss=loss.item())
        if step % args.log_steps == 0 or step == 1 or executor.on_final_iteration:
            tracker = executor.profiler.rate_tracker
            logger.info(
                "| Train Device=%s, Step=%d, Loss=%.5f, Rate=%.2f samples/sec, GlobalRate=%.2f samples/sec"
                % (device_name, step, loss.item(), tracker.rate, tracker.global_rate)
            )

    t0 = time.time()
    steps = 0
    compiled.train()
    for inputs, targets in executor:
        loss = training_step(inputs, targets)
        log_step(loss)
        steps += 1
    if args.validate_only or args.compile_only:
        logger.info("%s completed; no training was run." % ("Validation" if args.validate_only else "Compile"))
        return
    report_throughput(steps * batch_size, time.time() - t0)
    logger.info("Training completed successfully!")

    test_x, test_y = data.test_x, data.test_y
    test_bs = args.test_batch_size

    def test_input_fn():
        ds = torch.utils.data.TensorDataset(torch.from_numpy(test_x), torch.from_numpy(test_y))
        return torch.utils.data.DataLoader(ds, batch_size=test_bs, shuffle=False, drop_last=True)

    test_steps = n_batches(len(test_x), test_bs, args.limit_batches)
    test_executor = cstorch.utils.data.DataExecutor(cstorch.utils.data.DataLoader(test_input_fn), num_steps=test_steps)
    results = {"correct": 0, "seen": 0}

    @cstorch.trace
    @torch.no_grad()
    def eval_step(inputs, targets):
        outputs = compiled(inputs)
        correct = (outputs.argmax(dim=1) == targets).sum()
        return correct

    @cstorch.step_closure
    def collect(correct):
        results["correct"] += int(correct.item())
        results["seen"] += test_bs

    compiled.eval()
    for inputs, targets in test_executor:
        collect(eval_step(inputs, targets))
    acc = 100.0 * results["correct"] / max(results["seen"], 1)
    print("Accuracy on test set: {:0.2f}%".format(acc))
    FACTS.update(loss_abs_tol=5e-6, eval_abs_tol=1e-6, eval={"test_accuracy": round(acc, 2) / 100.0}, vendor="cerebras")


def main(argv=None):
    args = build_parser().parse_args(argv)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from progress import bar

    # Fail fast on a missing device stack, before spending time on the data.
    if args.device in ("ipu", "ipu-model"):
        try:
            import poptorch  # noqa: F401
        except ImportError as exc:
            fail(
                "--%s: cannot import poptorch (%s); enable the Poplar SDK (`source <sdk>/enable`) and activate "
                "its PopTorch venv, or pass --python /path/to/poptorch_venv/bin/python" % (args.device, exc),
                EXIT_DEVICE_UNAVAILABLE,
            )
    elif args.device == "csx":
        try:
            import cerebras.pytorch  # noqa: F401
        except ImportError as exc:
            fail(
                "--csx: cannot import cerebras.pytorch (%s); activate the cerebras-pytorch venv on the Cerebras "
                "user node, or pass --python /path/to/venv_cerebras_pt/bin/python" % exc,
                EXIT_DEVICE_UNAVAILABLE,
            )
    data = load_data(args)
    if args.device in ("cpu", "gpu"):
        train_torch(args, data, bar)
    elif args.device in ("ipu", "ipu-model"):
        train_ipu(args, data, bar)
    else:
        train_csx(args, data, bar)
    FACTS.update(emitter="hwmon mnist --%s" % args.device, status="succeeded")
    write_facts()
    return 0


if __name__ == "__main__":
    sys.exit(main())
