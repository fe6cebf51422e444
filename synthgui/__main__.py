import sys

from synthgui.cli import main

sys.exit(main())
