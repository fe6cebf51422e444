"""Checks of numeric options that argparse's ``type=int`` lets through, done before any work starts
so a wrong number is one line, not a traceback from torch or numpy (or a half-made output folder)."""

from __future__ import annotations

import argparse
import math

# numpy's generators take no negative seed; torch's take none of 2**64 or more (a base plus a count must fit).
SEED_LIMIT = 2**63


def _flag(name: str) -> str:
    return f"--{name.replace('_', '-')}"


def at_least_one(args: argparse.Namespace, *names: str) -> None:
    """Widths, batch sizes and counts below one would fail deep inside torch or the schedule."""
    from ..core.errors import SynthguiError

    for name in names:
        value = getattr(args, name)
        if value is not None and value < 1:
            raise SynthguiError(f"{_flag(name)} must be at least 1, not {value}")


def seeds(args: argparse.Namespace, *names: str) -> None:
    from ..core.errors import SynthguiError

    for name in names:
        value = getattr(args, name)
        if value is not None and not 0 <= value < SEED_LIMIT:
            raise SynthguiError(f"{_flag(name)} must be a whole number from 0 to 2**63 - 1, not {value}")


def positive(args: argparse.Namespace, *names: str) -> None:
    """Rates and factors that must be finite and above zero (``nan`` passes ``type=float``)."""
    from ..core.errors import SynthguiError

    for name in names:
        value = getattr(args, name)
        if value is not None and not (value > 0 and math.isfinite(value)):
            raise SynthguiError(f"{_flag(name)} must be a positive number, not {value}")
