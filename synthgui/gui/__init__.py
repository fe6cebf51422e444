"""Qt front end: the studio window and its parts. Only Qt code lives here; the work is in ``synthgui.core``."""
