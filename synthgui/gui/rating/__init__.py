"""The reader's side of a Turing test: a distraction-free, keyboard-first rating viewer."""

from .launch import launch_rating

__all__ = ["launch_rating"]
