"""Checks of numeric options that argparse's ``type=int`` lets through, done before any work starts
so a wrong number is one line, not a traceback from torch or numpy (or a half-made output folder)."""

from __future__ import annotations

import argparse
import math
import os

# numpy's generators take no negative seed; torch's take none of 2**64 or more (a base plus a count must fit).
SEED_LIMIT = 2**63

# The largest image side synthgui trains at or prepares pairs for. One pix2pix step (unet_256, batch 1)
# holds at least 13 GB at 4096 px and 49 GB at 8192 px (weights, Adam state, the activations kept for
# the backward pass), and in practice about three times that: 8192 fits no single GPU. The study
# images stop at 4096 too.
MAX_SIDE = 4096


def _flag(name: str) -> str:
    return f"--{name.replace('_', '-')}"


def _error(message: str):
    from ..core.errors import SynthguiError

    return SynthguiError(message)


def at_least_one(args: argparse.Namespace, *names: str) -> None:
    """Widths, batch sizes and counts below one would fail deep inside torch or the schedule."""
    for name in names:
        value = getattr(args, name)
        if value is not None and value < 1:
            raise _error(f"{_flag(name)} must be at least 1, not {value}")


def at_least_zero(args: argparse.Namespace, *names: str) -> None:
    """Counts and intervals where 0 is a choice (none, never); a negative one is a typo, not a setting."""
    for name in names:
        value = getattr(args, name)
        if value is not None and value < 0:
            raise _error(f"{_flag(name)} must be 0 or more, not {value}")


def at_most(args: argparse.Namespace, name: str, limit: int, why: str) -> None:
    value = getattr(args, name)
    if value is not None and value > limit:
        raise _error(f"{_flag(name)} must be at most {limit:,}, not {value}: {why}")


def side(args: argparse.Namespace, name: str, low: int) -> None:
    """An image side the networks can train at (see ``MAX_SIDE``)."""
    value = getattr(args, name)
    if value is not None and not low <= value <= MAX_SIDE:
        raise _error(f"{_flag(name)} must be {low} to {MAX_SIDE} pixels, not {value}: synthgui's networks train at up "
                     f"to {MAX_SIDE} px (one step at {MAX_SIDE * 2} px needs more memory than any single GPU has)")


THREADS_PER_CORE = 4


def threads(args: argparse.Namespace, name: str = "threads") -> None:
    """torch's thread pool: a million threads crash it. A few per core are allowed, so a script
    written on a larger machine still runs (more than one per core only take turns)."""
    at_least_one(args, name)
    limit = THREADS_PER_CORE * (os.cpu_count() or 1)
    value = getattr(args, name)
    if value is not None and value > limit:
        raise _error(f"{_flag(name)} must be at most {limit} ({THREADS_PER_CORE} per CPU core of this machine), not {value}")


def seeds(args: argparse.Namespace, *names: str) -> None:
    for name in names:
        value = getattr(args, name)
        if value is not None and not 0 <= value < SEED_LIMIT:
            raise _error(f"{_flag(name)} must be a whole number from 0 to 2**63 - 1, not {value}")


def positive(args: argparse.Namespace, *names: str) -> None:
    """Rates and factors that must be finite and above zero (``nan`` passes ``type=float``)."""
    for name in names:
        value = getattr(args, name)
        if value is not None and not (value > 0 and math.isfinite(value)):
            raise _error(f"{_flag(name)} must be a positive number, not {value}")


def non_negative(args: argparse.Namespace, *names: str) -> None:
    """Weights and intervals where 0 is a choice but ``nan``, ``inf`` or a negative number is not."""
    for name in names:
        value = getattr(args, name)
        if value is not None and not (value >= 0 and math.isfinite(value)):
            raise _error(f"{_flag(name)} must be 0 or a positive number, not {value}")


def fraction(args: argparse.Namespace, *names: str) -> None:
    for name in names:
        value = getattr(args, name)
        if value is not None and not 0 <= value <= 1:
            raise _error(f"{_flag(name)} must be a fraction from 0 to 1, not {value}")
