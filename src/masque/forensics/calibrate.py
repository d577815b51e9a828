"""Calibrating the detector's scores on self-blended validation faces (never on any real generator's fakes).

The raw score of a face (the mean of its most suspicious heat-map cells) ranks faces well but its
level is arbitrary: a network trained to drive every real cell to 0 still gives unseen real faces
scores around 0.4-0.5. Platt scaling fits ``p = sigmoid(a * logit(raw) + b)`` by logistic
regression on faces held out of training (the last frames of each training video) and their
self-blended fakes, so that 0.5 means "as likely a blend as not" on that data; the default
threshold is then set no lower than the calibrated score that 95 % of those real faces stay under,
because a false accusation costs more than a missed fake.

>>> a, b = fit_platt(np.array([0.2, 0.3, 0.35]), np.array([0.5, 0.6, 0.7]))
>>> bool(calibrated(np.array([0.25]), a, b)[0] < 0.5 < calibrated(np.array([0.65]), a, b)[0])
True
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

import numpy as np

from masque.forensics.faces import FaceCrop
from masque.forensics.sbi import common_augment, self_blend

#: share of real validation faces the default threshold keeps below it (a 5 % false-positive budget)
REAL_QUANTILE = 0.95


def split_validation(crops: list[FaceCrop], share: float) -> tuple[list[FaceCrop], list[FaceCrop]]:
    """``(train, validation)``: the last ``share`` of each video's frames go to validation.

    A contiguous tail rather than every n-th frame: neighbouring frames are near copies, so a
    validation frame next to a training frame would say little. Sources with a single frame
    (photos) stay in training.
    """
    by_source: dict[str, list[FaceCrop]] = defaultdict(list)
    for c in crops:
        by_source[c.source].append(c)
    train: list[FaceCrop] = []
    val: list[FaceCrop] = []
    for group in by_source.values():
        frames = sorted({c.frame for c in group})
        if share <= 0 or len(frames) < 10:
            train += group
            continue
        cut = frames[int(len(frames) * (1 - share))]
        train += [c for c in group if c.frame < cut]
        val += [c for c in group if c.frame >= cut]
    return train, val


def sbi_pairs(crops: list[FaceCrop], seed: int, fakes_per_face: int = 2) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``(reals, fakes)``: each crop through the common post-processing, and self-blended fakes of it.

    ``(S, S, 3)`` ``uint8`` RGB crops; the same ``seed`` gives the same pairs.
    """
    rng = np.random.default_rng(seed)
    reals, fakes = [], []
    for c in crops:
        reals.append(common_augment(c.image, rng))
        for _ in range(fakes_per_face):
            fakes.append(common_augment(self_blend(c.image, c.landmarks, rng)[0], rng))
    return reals, fakes


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(np.asarray(p, np.float64), 1e-6, 1 - 1e-6)
    return np.log(q / (1 - q))


def fit_platt(real: np.ndarray, fake: np.ndarray, iterations: int = 50) -> tuple[float, float]:
    """``(a, b)`` of ``sigmoid(a * logit(raw) + b)`` fitted by Newton's method (logistic regression).

    Both classes weigh alike whatever their counts; a small ridge keeps ``a`` finite when the two
    are separable. ``real``/``fake``: raw scores in [0, 1].
    """
    x = np.concatenate([_logit(real), _logit(fake)])
    y = np.concatenate([np.zeros(len(real)), np.ones(len(fake))])
    w = np.concatenate([np.full(len(real), 0.5 / max(1, len(real))), np.full(len(fake), 0.5 / max(1, len(fake)))])
    feats = np.stack([x, np.ones_like(x)], 1)
    theta = np.array([1.0, 0.0])
    ridge = np.diag([1e-3, 0.0])
    for _ in range(iterations):
        p = 1 / (1 + np.exp(-np.clip(feats @ theta, -30, 30)))
        grad = feats.T @ (w * (p - y)) + ridge @ theta
        hess = (feats * (w * p * (1 - p))[:, None]).T @ feats + ridge + 1e-9 * np.eye(2)
        step = np.linalg.solve(hess, grad)
        theta = theta - step
        if np.abs(step).max() < 1e-8:
            break
    return float(theta[0]), float(theta[1])


def calibrated(raw: np.ndarray, a: float, b: float) -> np.ndarray:
    """Raw scores in [0, 1] -> calibrated probabilities in [0, 1] (``float32``, same shape)."""
    z = np.clip(a * _logit(raw) + b, -30, 30)
    return (1 / (1 + np.exp(-z))).astype(np.float32)


def calibrate(score_raw: Callable[[list[np.ndarray]], np.ndarray], crops: list[FaceCrop],
              seed: int) -> tuple[tuple[float, float], float, dict[str, float]]:
    """Fit the calibration and pick the default threshold on validation ``crops``.

    Args:
        score_raw: aligned crops -> raw scores in [0, 1].
        crops: real validation faces (not trained on).
        seed: seed of the self-blended fakes.

    Returns:
        ``((a, b), threshold, metrics)``: the threshold is 0.5, raised to the calibrated score 95 %
        of the real validation faces stay under if that is higher; the metrics (SBI validation AUC,
        accuracy at the threshold, counts) go into the detector's card.
    """
    from masque.forensics.scores import accuracy, roc_auc

    reals, fakes = sbi_pairs(crops, seed)
    raw_real, raw_fake = score_raw(reals), score_raw(fakes)
    a, b = fit_platt(raw_real, raw_fake)
    real, fake = calibrated(raw_real, a, b), calibrated(raw_fake, a, b)
    # just above the real face at the quantile (a score at the threshold counts as fake), in 3 decimals
    above = float(np.floor(float(np.quantile(real, REAL_QUANTILE, method="higher")) * 1000) + 1) / 1000
    threshold = min(0.999, max(0.5, above))
    metrics = {"val_faces": float(len(reals)), "val_sbi_auc": round(roc_auc(real, fake), 4),
               "val_accuracy": round(accuracy(real, fake, threshold), 4),
               "val_real_below": round(float((real < threshold).mean()), 4),
               "val_fake_above": round(float((fake >= threshold).mean()), 4)}
    return (a, b), threshold, metrics
