"""One module per ``synthgui`` subcommand, each with ``register(subparsers)``."""
