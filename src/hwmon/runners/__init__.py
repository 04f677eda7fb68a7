"""What runs training: the supervisor, the run registry, device selection and ``workloads/`` (the training scripts,
run by other interpreters). Input (following files and pipes) lives in ``hwmon.sources``; text output in
``hwmon.views``."""
