"""Input: bytes from files (``tail -F``), pipes, run directories and replays, handed to the sans-I/O parser stream.

Nothing here knows a log format; ``source`` puts the parser behind a follower and yields time-batched events."""
