"""Entry point of the bundled executables: the same ``synthgui`` command as a pip install."""

import multiprocessing
import sys

from synthgui.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # a frozen app must not re-run main() in worker processes
    sys.exit(main())
