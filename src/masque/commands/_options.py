"""Argument types shared by the commands: numbers checked when the command line is parsed.

A bad value (``--batch 0``, ``--smooth 1``, ``--every x``) is refused by argparse before any
model or video is loaded, and :class:`masque.cli.Parser` turns the refusal into one
``masque: error:`` line with exit code 2. This module imports nothing heavy: it is loaded by
``masque --help``.
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable


def _number(text: str, kind: type[int] | type[float]) -> float:
    try:
        value = kind(text)
    except ValueError:
        noun = "a whole number" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"must be {noun}, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def int_range(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse ``type`` for a whole number in ``[low, high]`` (no upper bound when ``high`` is None)."""

    def parse(text: str) -> int:
        value = int(_number(text, int))
        if value < low or (high is not None and value > high):
            bound = f"{low} or more" if high is None else f"from {low} to {high}"
            raise argparse.ArgumentTypeError(f"must be a whole number {bound}, got {text!r}")
        return value

    parse.__name__ = f"int_range({low}, {high})"
    return parse


def float_range(low: float | None = None, high: float | None = None, *, low_open: bool = False,
                high_open: bool = False) -> Callable[[str], float]:
    """An argparse ``type`` for a finite number between ``low`` and ``high`` (either may be None: no bound)."""
    lo = "" if low is None else f"{'(' if low_open else '['}{low:g}"
    hi = "" if high is None else f"{high:g}{')' if high_open else ']'}"
    if low is not None and high is not None:
        wanted = f"in {lo}, {hi}"
    elif low is not None:
        wanted = f"{'above' if low_open else 'at least'} {low:g}"
    elif high is not None:
        wanted = f"{'below' if high_open else 'at most'} {high:g}"
    else:
        wanted = "a finite number"

    def parse(text: str) -> float:
        value = _number(text, float)
        too_low = low is not None and (value <= low if low_open else value < low)
        too_high = high is not None and (value >= high if high_open else value > high)
        if too_low or too_high:
            raise argparse.ArgumentTypeError(f"must be {wanted}, got {text!r}")
        return value

    parse.__name__ = f"float_range({low}, {high})"
    return parse


#: 1, 2, 3... (batch sizes, steps between things, frame strides)
positive_int = int_range(1)
#: 0, 1, 2... (indices, counts where 0 means none or off)
non_negative_int = int_range(0)
#: a number above 0 (minutes, learning rates, distances)
positive_float = float_range(0.0, low_open=True)
#: a number of 0 or more (thresholds, pixel widths)
non_negative_float = float_range(0.0)
#: a smoothing factor in [0, 1): 0 off, 0.9 heavy
smoothing = float_range(0.0, 1.0, high_open=True)
#: a share of a set in percent, strictly between 0 and 100
percentage = float_range(0.0, 100.0, low_open=True, high_open=True)


def device(text: str) -> str:
    """An argparse ``type`` for ``--device``: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.

    Only the spelling is checked here; whether that device exists is checked when the command
    loads torch (masque.models.device.pick_device).
    """
    if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", text):
        raise argparse.ArgumentTypeError(f"must be auto, cpu, cuda or cuda:N, got {text!r}")
    return text
