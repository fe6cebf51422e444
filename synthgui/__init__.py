"""synthgui: draw a lesion or vessel mask and see a locally loaded pix2pix generator render it."""

__version__ = "0.1.0"
