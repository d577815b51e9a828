"""Each person's detail exemplars: the fine detail of real faces from their face set, kept in the model folder.

A 10-minute decoder draws a 64 px face and the enhancer can only sharpen what it drew: eyes,
nostrils, lip lines and skin stay soft. The face set holds the same person's real faces at
256 px. This module keeps, per person, up to :data:`BANK_SIZE` of them chosen to span the set's
poses and expressions, each as its **detail band** (grey, log domain: the difference of a light
and a wide Gaussian blur, so a relative change that carries no lighting or colour) and its 68
landmarks in the 256 px crop. Convert (:mod:`masque.convert.detail`) warps the band of the few
exemplars whose landmarks are nearest the frame face's onto the face drawn, so the detail added
is the new person's own, never the frame's (the target's pixels never enter).

A model folder stores it in ``exemplars.safetensors``: per side ``{a,b}.band`` ``(N, 256, 256)``
``int8`` (``band / BAND_SCALE``), ``{a,b}.landmarks`` ``(N, 68, 2)`` ``float32``; metadata: format,
the blur sigmas and the face sets it was read from. :mod:`masque.train.exemplars` writes it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from masque.errors import ModelError
from masque.models.io import read_safetensors

__all__ = ["BANK_SIZE", "EXEMPLARS_FILE", "DetailBank", "detail_band", "exemplar_bytes", "load_exemplars",
           "shape_key"]

EXEMPLARS_FILE = "exemplars.safetensors"
EXEMPLARS_FORMAT = "masque-exemplars"
#: exemplars kept per person: enough to span a clip's expressions, 4 MB of ``int8`` bands per side
BANK_SIZE = 64
#: ``int8`` step of the stored band (log units): +-0.5 covers a 1.6x local contrast either way
BAND_SCALE = 0.5 / 127
#: the band's sigmas in 256 px crop pixels: below ``LOW`` is sensor noise and JPEG, above
#: ``HIGH`` the face's shape and shading, which the decoder draws itself. A 64 px decoder shown at
#: 256 px holds nothing finer than 8 px and draws little below twice that after a short training,
#: so the band reaches up to the lid and lip contours (on two demo models, HIGH 3 -> 5 moved both
#: identity distances toward the source by 0.004-0.009 at the same detail; 8 moved them further
#: but lost detail)
LOW, HIGH = 0.5, 5.0
#: weight of each landmark in the nearest-exemplar distance: the eyes and mouth move most with
#: expression and show most when misplaced; the jaw line mostly says pose
_WEIGHTS = np.r_[np.full(17, 0.5), np.ones(19), np.full(12, 3.0), np.full(20, 2.0)]


def detail_band(rgb: np.ndarray, low: float = LOW, high: float = HIGH) -> np.ndarray:
    """The detail band of an RGB ``uint8`` image: ``log G_low(Y) - log G_high(Y)`` of its grey ``Y``.

    Returns:
        ``(H, W)`` ``float32``, about 0 on smooth skin, +-0.1-0.5 on lashes, nostrils and lip lines.
    """
    y = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32) + 4  # +4: no log of 0 in black pixels
    fine = cv2.GaussianBlur(y, (0, 0), low) if low > 0 else y
    return np.log(fine) - np.log(cv2.GaussianBlur(y, (0, 0), high))


def shape_key(landmarks: np.ndarray) -> np.ndarray:
    """``(136,)`` ``float32``: 68 landmarks centred and scaled to unit norm, weighted, flattened.

    The Euclidean distance between two keys compares pose and expression, whatever the faces'
    position and size in their crops.
    """
    lm = np.asarray(landmarks, np.float64)
    c = lm - lm.mean(0)
    c = c / max(float(np.sqrt((c ** 2).sum())), 1e-9)
    return (c * np.sqrt(_WEIGHTS)[:, None]).astype(np.float32).ravel()


@dataclass(frozen=True)
class DetailBank:
    """One person's exemplars.

    Attributes:
        band: ``(N, 256, 256)`` ``float32`` detail bands (:func:`detail_band`, times the face's
            feathered skin-and-features mask: zero off the face).
        landmarks: ``(N, 68, 2)`` ``float32`` in the band's pixels.
    """

    band: np.ndarray
    landmarks: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.band)
        if self.band.ndim != 3 or self.landmarks.shape != (n, 68, 2) or n == 0:
            raise ModelError(f"a detail bank needs (N, H, W) bands and (N, 68, 2) landmarks with N >= 1, got "
                             f"{self.band.shape} and {self.landmarks.shape}; rebuild it (`masque train --enhancer`)")

    @property
    def keys(self) -> np.ndarray:
        """``(N, 136)`` :func:`shape_key` of every exemplar."""
        return np.stack([shape_key(lm) for lm in self.landmarks])


def exemplar_bytes(banks: dict[str, DetailBank], meta: dict[str, str]) -> bytes:
    """The bytes of an ``exemplars.safetensors`` holding ``banks`` (keys ``a``, ``b``)."""
    from safetensors.torch import save

    tensors: dict[str, torch.Tensor] = {}
    for side, bank in banks.items():
        q = np.clip(np.round(bank.band / BAND_SCALE), -127, 127).astype(np.int8)
        tensors[f"{side}.band"] = torch.from_numpy(q)
        tensors[f"{side}.landmarks"] = torch.from_numpy(np.ascontiguousarray(bank.landmarks, np.float32))
    return save(tensors, {"format": EXEMPLARS_FORMAT, "version": "1", "band": json.dumps([LOW, HIGH]), **meta})


def load_exemplars(model_dir: str | os.PathLike[str]) -> dict[str, DetailBank] | None:
    """The model folder's banks (``{"a": ..., "b": ...}``), or ``None`` when it has none.

    Raises:
        ModelError: the file is damaged, a pickle, or not masque's exemplars.
    """
    path = Path(model_dir) / EXEMPLARS_FILE
    if not path.exists():
        return None
    tensors, meta = read_safetensors(path)
    names = {f"{s}.{k}" for s in ("a", "b") for k in ("band", "landmarks")}
    if meta.get("format") != EXEMPLARS_FORMAT or set(tensors) != names:
        raise ModelError(f"{path} is not a masque exemplar file (format {meta.get('format')!r}, tensors "
                         f"{sorted(tensors)}); delete it and rebuild it with `masque train --enhancer`, or "
                         "convert with --detail-transfer 0")
    banks = {}
    for side in ("a", "b"):
        band = tensors[f"{side}.band"]
        if band.dtype != torch.int8:
            raise ModelError(f"{path}: {side}.band must be int8, got {band.dtype}; rebuild it "
                             "(`masque train --enhancer`)")
        banks[side] = DetailBank(band.numpy().astype(np.float32) * BAND_SCALE,
                                 tensors[f"{side}.landmarks"].float().numpy())
    return banks
