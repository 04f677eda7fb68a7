"""Slurm jobs as runs: ``parse`` (pure: ``scontrol`` lines, durations, output patterns, job state -> run status),
``client`` (the client commands, each with a timeout) and ``watcher`` (runs hwmon submitted: submit, stop, and the
detached watcher that records a job's end in ``run.json``). ``hwmon.sources.slurmjob`` follows a job as a source."""
