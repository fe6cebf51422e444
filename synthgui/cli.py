"""The ``synthgui`` entry point: subcommands for the terminal, the studio window without one.

Each subcommand lives in ``synthgui/commands/<name>.py`` with ``register(subparsers)``; nothing
heavy (torch, Qt) is imported before a subcommand is chosen, so ``--help`` and the window start fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from . import __version__

# Modules under synthgui.commands, in the order ``--help`` lists them.
COMMANDS = ("render", "models", "train", "train_gan", "prepare", "export", "study", "rate", "gui", "selftest")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="synthgui",
        description="Draw lesion or vessel masks and render them with a local pix2pix generator. "
        "Without a subcommand, the studio window opens.",
    )
    parser.add_argument("--version", action="version", version=f"synthgui {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"synthgui.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"synthgui.commands.{name}":
                continue  # a subcommand not built yet
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        from .commands.gui import launch

        return launch([])
    from .core.errors import SynthguiError

    try:
        return int(args.func(args) or 0)
    except SynthguiError as exc:
        print(f"synthgui {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # an output under a file, a full disk: the user's to fix, so no traceback
        where = f"{exc.strerror}: {exc.filename}" if exc.strerror and exc.filename else str(exc)
        print(f"synthgui {args.command}: error: {where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"synthgui {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
