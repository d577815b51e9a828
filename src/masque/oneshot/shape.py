"""The source's face proportions inside the target's outline.

The classic swap lands every source landmark on the target's, so the result has the target's
eye spacing, nose length and mouth width: half of what makes a face someone's (a recogniser
reads it: on the fixture pairs the result stayed closer to the target than to the source in a
third of the pairs). :func:`identity_landmarks` moves each inner feature of the target (each
eye, each brow, the nose, the mouth) to where it sits on the source face and gives it the
source's size, but keeps the target's own shape of that feature, so its expression (open lids,
parted lips, raised brows) stays the target's. The jaw outline stays the target's: moving it
would move the background.

The source is brought onto the target by a similarity fit on the jaw line and nose bridge; a
head turned differently foreshortens features differently, so the transfer fades out as the two
faces' yaw (read from the landmarks' left/right asymmetry) differs.
"""

from __future__ import annotations

import cv2
import numpy as np

#: the inner features moved as wholes (iBUG 68 indices), each with the two points whose distance
#: is its size (None: the spread of all its points). Widths, not heights: a lid or lip opening is
#: expression, and must not scale the feature.
FEATURES: tuple[tuple[range, tuple[int, int] | None], ...] = (
    (range(17, 22), (17, 21)), (range(22, 27), (22, 26)), (range(27, 36), None),
    (range(36, 42), (36, 39)), (range(42, 48), (42, 45)), (range(48, 68), (48, 54)))
#: the features that follow the ``eyes`` weight: the eyes, and the brows above them (a kept eye
#: under a moved brow reads as another expression)
EYES = (range(17, 22), range(22, 27), range(36, 42), range(42, 48))
MOUTH = range(48, 68)
#: the transfer is off where the two faces' turn (:func:`_turn`) differs by this much: about 25
#: degrees of yaw (on the fixture photos the measure reads 0.2 at 9 degrees, -0.95 at -19)
TURN_FADE = 1.2
#: points the source is aligned on: jaw line and nose bridge
_ANCHORS = np.r_[0:17, 27:31]


def _turn(landmarks: np.ndarray) -> float:
    """Signed yaw proxy in [-1, 1]: where the nose tip sits between the jaw's ends."""
    left, right, nose = landmarks[0, 0], landmarks[16, 0], landmarks[30, 0]
    return float(np.clip(2 * (nose - left) / max(right - left, 1e-6) - 1, -1, 1))


def _size(points: np.ndarray, ends: tuple[int, int] | None, first: int) -> float:
    if ends is None:
        return float(np.sqrt(((points - points.mean(0)) ** 2).sum(1).mean()))
    return float(np.linalg.norm(points[ends[0] - first] - points[ends[1] - first]))


def identity_landmarks(source: np.ndarray, target: np.ndarray, strength: float = 1.0,
                       eyes: float = 1.0, mouth: float = 1.0) -> np.ndarray:
    """``(68, 2)`` target landmarks with the source's inner-feature placement and size.

    Args:
        source, target: ``(68, 2)`` landmarks in their own images' pixels.
        strength: 0 returns ``target``; 1 moves the features all the way (before the fade for
            differing head turns).
        eyes: the share of ``strength`` the eyes and brows get (0 keeps them in place; the
            swapper moves them even where the target's own eyes are kept,
            :mod:`masque.oneshot.eyes`: it warps those eyes along).
        mouth: the share the mouth gets (0 where the target's own mouth interior is kept: the
            lips must stay around it).
    """
    src = np.asarray(source, np.float32)
    tgt = np.asarray(target, np.float32)
    fade = float(np.clip(1 - abs(_turn(src) - _turn(tgt)) / TURN_FADE, 0, 1))
    s = strength * fade
    if s <= 0:
        return tgt.copy()
    m, _ = cv2.estimateAffinePartial2D(src[_ANCHORS], tgt[_ANCHORS], method=cv2.LMEDS)
    if m is None:
        return tgt.copy()
    aligned = src @ m[:, :2].T + m[:, 2]
    moves = _moves(aligned, tgt)
    out = tgt.copy()
    for (idx, ends), move in zip(FEATURES, moves, strict=True):
        k, w = list(idx), s * (eyes if idx in EYES else mouth if idx == MOUTH else 1.0)
        c_t = tgt[k].mean(0)
        ratio = _size(aligned[k], ends, idx.start) / max(_size(tgt[k], ends, idx.start), 1e-6)
        out[k] = c_t + w * move + (tgt[k] - c_t) * (1 + w * (ratio - 1))
    return out


def _moves(aligned: np.ndarray, tgt: np.ndarray) -> list[np.ndarray]:
    """Per feature of :data:`FEATURES`, the shift of its centre toward the aligned source's.

    Up and down the face, the whole shift. Across it, only the spreading or narrowing of the
    paired features (eyes, brows) about their midpoint: where the nose and mouth sit across the
    face, and the pairs' midpoint, is how far the head is turned, and must stay the target's.
    """
    across = tgt[16] - tgt[0]
    across = across / max(float(np.linalg.norm(across)), 1e-6)
    down = np.array([-across[1], across[0]], np.float32)
    d = [aligned[list(idx)].mean(0) - tgt[list(idx)].mean(0) for idx, _ in FEATURES]
    ud = [(float(v @ across), float(v @ down)) for v in d]
    out = [np.float32(dv) * down for _, dv in ud]
    for left, right in ((0, 1), (3, 4)):  # brows, eyes
        spread = (ud[right][0] - ud[left][0]) / 2
        out[left] = out[left] - spread * across
        out[right] = out[right] + spread * across
    return out
