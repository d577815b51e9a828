"""Detail transfer: the new person's own fine detail, from their face set, laid onto the faces drawn.

The enhancer draws the decoder's 64 px face at 256 px but can only sharpen what the decoder drew:
after a 10-minute training the eyes, nostrils, lip lines and teeth are smudges. The model folder
keeps each person's detail exemplars (:mod:`masque.models.exemplars`: real faces of their face
set, as a grey log-domain band between 0.5 and 5 px). For each face drawn, the ``K`` exemplars
whose landmarks are nearest the frame face's (pose and expression) are warped onto its
landmarks through the shared Delaunay mesh (:func:`masque.compose.warp.warp_meshes`) and their
weighted band multiplies the face: ``face * exp(gain * band)``. Lashes, nostrils, lip lines and
skin then come from real pictures of the person the face becomes, placed where the frame's
features are; nothing of the frame's own face enters. A face's exemplar weights carry over
from its previous frame (``carry``), so the detail does not pop from one exemplar to another.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from masque.compose.warp import triangulate_landmarks, warp_meshes
from masque.errors import ConfigError
from masque.models.exemplars import DetailBank, shape_key

__all__ = ["ExemplarDetail"]


class ExemplarDetail:
    """Adds one person's exemplar detail to the faces drawn as them.

    Args:
        bank: that person's exemplars.
        gain: strength (1: the exemplars' own contrast; 0 adds nothing).
        k: exemplars blended per face.
        carry: share of a tracked face's exemplar weights kept from its previous frame, in [0, 1).
    """

    def __init__(self, bank: DetailBank, gain: float = 1.0, k: int = 3, carry: float = 0.5) -> None:
        if gain < 0 or k < 1 or not 0 <= carry < 1:
            raise ConfigError(f"detail transfer needs gain >= 0, k >= 1 and carry in [0, 1), got {gain}, {k}, {carry}")
        self.bank, self.gain, self.k, self.carry = bank, gain, min(k, len(bank.band)), carry
        self.keys = bank.keys
        # one topology for every exemplar (their mean face, features drawn open): the target's
        # triangle raster is then shared by all the exemplars blended into a face. The 68 points
        # alone: the bands are zero outside the jaw-and-brows hull, so the warp needs no forehead
        # or ring around the face (half the triangles to raster)
        self.triangles = triangulate_landmarks(bank.landmarks.mean(0))
        self._weights: dict[int, np.ndarray] = {}

    def reset(self) -> None:
        """Forget every face's exemplar weights (between unrelated images or files)."""
        self._weights.clear()

    def retain(self, tracks: Iterable[int]) -> None:
        """Forget the faces not in ``tracks`` (lost, or a cut)."""
        keep = set(tracks)
        for t in [t for t in self._weights if t not in keep]:
            del self._weights[t]

    def weights(self, landmarks: np.ndarray, track: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The exemplars blended for a face with ``landmarks`` ``(68, 2)``: ``(indices, weights)``
        (``weights`` sum to 1), carried over from ``track``'s previous frame."""
        d2 = ((self.keys - shape_key(landmarks)) ** 2).sum(1)
        near = np.argsort(d2)[:self.k]
        # relative to the nearest: an exemplar twice as far weighs e^-1 as much
        w = np.zeros(len(d2))
        w[near] = np.exp(-(d2[near] - d2[near[0]]) / max(float(d2[near[0]]), 1e-9))
        w /= w.sum()
        if track is not None:
            if track in self._weights:
                w = self.carry * self._weights[track] + (1 - self.carry) * w
            self._weights[track] = w
        idx = np.argsort(w)[::-1][:self.k]
        return idx, w[idx] / w[idx].sum()

    def band(self, landmarks: np.ndarray, size: int, track: int | None = None) -> tuple[np.ndarray, tuple[int, int]]:
        """The blended band warped onto ``landmarks`` (pixels of a ``size`` face), rendered only over
        the face's jaw-and-brows box (the bands are zero beyond it): ``(band, (x0, y0))``, the band
        ``float32`` and the box's corner in the face."""
        idx, w = self.weights(landmarks, track)
        lo = np.clip(np.floor(landmarks[:27].min(0)).astype(int) - 1, 0, size - 1)  # never an empty box
        hi = np.clip(np.ceil(landmarks[:27].max(0)).astype(int) + 2, lo + 1, size)
        roi = (int(lo[0]), int(lo[1]), int(hi[0]), int(hi[1]))
        warped, _ = warp_meshes([self.bank.band[i] for i in idx], [self.bank.landmarks[i] for i in idx],
                                landmarks, self.triangles, roi)
        out = warped[0] * np.float32(w[0])
        for image, wj in zip(warped[1:], w[1:]):
            out += image * np.float32(wj)
        # what the exemplars share (lid lines, nostrils) adds up, but their skin texture and the
        # parts that do not line up cancel in the blend: restore the exemplars' own energy, at most
        # the 1 / sqrt(sum w^2) that uncorrelated bands would need (on the demo's B as A, detail
        # 0.39 -> 0.44, frame-to-frame change as the real clip's; one exemplar alone flickers)
        energy = float(np.dot(w, [np.square(image).mean() for image in warped]))
        gain = min(np.sqrt(energy / max(float(np.square(out).mean()), 1e-12)), 1 / np.sqrt(np.square(w).sum()))
        return out * np.float32(gain), (roi[0], roi[1])

    def apply(self, face: np.ndarray, landmarks: np.ndarray, track: int | None = None) -> np.ndarray:
        """``face`` ``(S, S, 3)`` ``uint8`` (RGB or BGR) with the detail laid on, same shape and dtype.

        ``landmarks`` ``(68, 2)`` are the frame face's in ``face``'s pixels (where its features are).
        """
        if self.gain == 0:
            return face
        band, (x0, y0) = self.band(landmarks, face.shape[0], track)
        box = np.s_[y0:y0 + band.shape[0], x0:x0 + band.shape[1]]
        out = face.copy()
        scale = np.exp(band * np.float32(self.gain))[..., None]
        out[box] = np.clip(face[box].astype(np.float32) * scale + 0.5, 0, 255).astype(np.uint8)
        return out
