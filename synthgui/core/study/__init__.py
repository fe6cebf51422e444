"""Blinded human Turing tests: build a study, log readers' judgments durably, analyse them.

No Qt here: the rating viewer (``synthgui.gui.rating``) and the CLI both drive these modules.
"""
