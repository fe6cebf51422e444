"""Everything that is not a window: masks, encodings, networks, models, the engine, export, studies.

Nothing under ``synthgui.core`` imports Qt (a test proves it), so the CLI, export and the study
analysis run on machines without a display.
"""
