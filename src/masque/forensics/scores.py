"""Measures of a detector's scores: ROC AUC and accuracy at a threshold.

>>> roc_auc([0.1, 0.4], [0.35, 0.8])
0.75
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def roc_auc(real: Sequence[float] | np.ndarray, fake: Sequence[float] | np.ndarray) -> float:
    """Area under the ROC curve: the chance that a random fake scores above a random real (ties count half)."""
    r, f = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    if not len(r) or not len(f):
        return float("nan")
    above = (f[:, None] > r[None, :]).sum() + 0.5 * (f[:, None] == r[None, :]).sum()
    return float(above / (len(r) * len(f)))


def accuracy(real: Sequence[float] | np.ndarray, fake: Sequence[float] | np.ndarray, threshold: float) -> float:
    """Share of reals below ``threshold`` and fakes at or above it, both classes weighted equally."""
    r, f = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    return float(((r < threshold).mean() + (f >= threshold).mean()) / 2)
