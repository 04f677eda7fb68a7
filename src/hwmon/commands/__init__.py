"""One module per subcommand: ``add_arguments(parser)`` and ``run(args) -> int``. Heavy imports stay inside
``run`` so that importing a command module is cheap."""
