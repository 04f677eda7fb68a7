"""Example logs bundled with hwmon, written for the project in the real formats (not copies of anyone's run).

``cerebras_gpt_small.log`` is the built-in default of ``hwmon summary`` (and a ``hwmon demo`` replay): a Cerebras
appliance run of GPT-2 small — compile with a short queue, programming, 30 step reports, a checkpoint, completion —
over about 17 minutes of log time. Read them with ``importlib.resources.files("hwmon.examples")``.
"""
