"""What runs training: the supervisor, device selection and ``workloads/`` (the training scripts, run by other
interpreters). The run registry and history live in ``hwmon.store``; Slurm jobs in ``hwmon.slurm``; input
(following files and pipes) in ``hwmon.sources``; text output in ``hwmon.views``."""
