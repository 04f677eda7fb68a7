"""What hwmon keeps on disk between commands: the run registry (``registry``: one ``run.json`` per supervised run),
the run history (``history``: SQLite, past runs' phase durations per job) and the recently attached refs
(``recent``: the fleet view's list). Files only: no process is started or signalled here."""
