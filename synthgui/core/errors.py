"""Errors that reach a user: the CLI prints them as one line, the GUI in a message box."""


class SynthguiError(Exception):
    """A problem with the user's input or environment, not a bug: shown without a traceback."""


class CheckpointError(SynthguiError):
    """A weights file that cannot be read, is unsafe to read, or does not fit the network."""


class MaskError(SynthguiError):
    """A mask image that cannot be turned into a label map for the chosen model."""
