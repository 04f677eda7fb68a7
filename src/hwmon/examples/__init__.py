"""Example logs bundled with hwmon, made by the project itself (``scripts/make_examples.sh``), not copies of anyone's
run.

``cerebras_gpt_small.log`` is synthetic: written by ``bench/gen_cerebras_log.py`` (seed 7) in the format of a
Cerebras appliance run of GPT-2 small (cstorch/Model Zoo ``run.py CSX``): compile with a queue, programming, 165
step reports with ``LoopTimeRemaining``, checkpoints, an eval and the completion lines, over about 50 minutes of log
time. No real run produced these numbers. It is the built-in default of ``hwmon summary`` and ``hwmon demo``.

``mnist_cpu.log`` is real output of the project's own workload: ``hwmon run mnist --cpu --epochs 3
--limit-batches 500 --threads 1`` on the synthetic IDX set of ``tests/fakes/synthetic_mnist.py`` (so its accuracy
says nothing about MNIST), tqdm bars and the supervisor's end line included (``hwmon demo --example mnist``).

Read them with ``importlib.resources.files("hwmon.examples")``.
"""
