"""Build each person's detail exemplars (:mod:`masque.models.exemplars`) from their face set.

Run by the enhancer stage (``masque train --enhancer``) at its start, so every model folder with
an enhancer also has them; a few seconds (the sharper faces of each set are read and put through
the occlusion model once).
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from masque.atomic import atomic_write_bytes
from masque.face.landmarks import inter_ocular
from masque.face.mask import landmark_mask
from masque.face.occlusion import OcclusionModel
from masque.faceset import FaceRecord, FaceSet
from masque.media import read_image
from masque.models.exemplars import BANK_SIZE, EXEMPLARS_FILE, DetailBank, detail_band, exemplar_bytes, shape_key
from masque.train.data import training_records

__all__ = ["build_bank", "choose_exemplars", "write_exemplars"]

#: the band stays this far (inter-ocular distances) inside the jaw-and-brows hull, so no exemplar's
#: jaw line, hair or background edge is drawn over another face, and fades over :data:`FEATHER`
INSET, FEATHER = 0.12, 0.06
#: share of the band's region the occlusion model must see as face for a face to be an exemplar
WHOLE = 0.97
#: at most this many faces of a set are read to choose from (evenly spread over the set; about
#: 0.7 MB of memory each while the bank is built)
CANDIDATES = 512


def choose_exemplars(keys: np.ndarray, n: int = BANK_SIZE) -> list[int]:
    """Indices of up to ``n`` of the faces with these ``(N, D)`` shape keys, spanning their poses and expressions.

    Farthest-point sampling on :func:`masque.models.exemplars.shape_key` from the face nearest the
    mean shape: each pick is the face least like any picked so far, so a rare wide-open mouth or
    closed eye is kept. Returned in increasing order.
    """
    picked = [int(np.argmin(((keys - keys.mean(0)) ** 2).sum(1)))]
    dist = ((keys - keys[picked[0]]) ** 2).sum(1)
    while len(picked) < min(n, len(keys)):
        j = int(np.argmax(dist))
        picked.append(j)
        dist = np.minimum(dist, ((keys - keys[j]) ** 2).sum(1))
    return sorted(picked)


def _candidates(records: list[FaceRecord]) -> np.ndarray:
    """Indices of the records worth reading: the sharper three quarters, at most :data:`CANDIDATES`."""
    blur = np.array([r.blur for r in records], np.float64)
    order = np.flatnonzero(blur <= np.quantile(blur, 0.75)) if len(records) >= 8 else np.arange(len(records))
    if len(order) > CANDIDATES:
        order = order[np.linspace(0, len(order) - 1, CANDIDATES).round().astype(int)]
    return order


def _visibility(crops: list[np.ndarray], landmarks: np.ndarray, occlusion: OcclusionModel) -> np.ndarray:
    """``(N, H, W)`` ``float32``: each crop's visible-face probability (0 on hands, hair, off the face)."""
    aligned = [occlusion.align(c, [lm]) for c, lm in zip(crops, landmarks)]
    probs = occlusion.predict(np.concatenate([a[0] for a in aligned]))
    eye = np.eye(2, 3)
    return np.stack([occlusion.warp(p, a[1][0], eye, (c.shape[1], c.shape[0]))
                     for p, a, c in zip(probs, aligned, crops)])


def band_region(landmarks: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``(H, W)`` ``float32`` in [0, 1]: where an exemplar's band is kept (see :data:`INSET`)."""
    iod = inter_ocular(landmarks)
    mask = landmark_mask(landmarks, shape, "components")
    inset = max(1, round(INSET * iod))
    mask = cv2.erode(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * inset + 1,) * 2))
    return cv2.GaussianBlur(mask.astype(np.float32) / 255, (0, 0), max(0.5, FEATHER * iod))


def build_bank(path: str | Path, n: int = BANK_SIZE, occlusion: OcclusionModel | None = None) -> DetailBank:
    """One person's :class:`DetailBank` from their face set (256 px ``face`` crops).

    Only faces the occlusion model (the shipped one by default) sees whole are kept: a hand or a
    strand of hair across an exemplar would be drawn across every face it lends detail to. What
    it still sees in front of a kept face is cut from that face's band.

    Raises:
        FaceSetError: the set is not of 256 px ``face`` crops or holds no face.
        InputNotFoundError: the folder does not exist.
    """
    occlusion = occlusion or OcclusionModel.load()
    with FaceSet(path) as fs:
        records = training_records(fs, path, reader="the detail exemplars are read from",
                                   task="read detail exemplars from; extract more footage")
        cand = _candidates(records)
        crops = [read_image(fs.image_path(records[i])) for i in cand]
    landmarks = np.stack([records[i].aligned_landmarks for i in cand]).astype(np.float32)
    regions = np.stack([band_region(lm, c.shape[:2]) for c, lm in zip(crops, landmarks)])
    visible = _visibility(crops, landmarks, occlusion)
    share = (visible * regions).sum((1, 2)) / np.maximum(regions.sum((1, 2)), 1e-6)
    whole = np.flatnonzero(share >= min(WHOLE, float(np.median(share))))  # never fewer than half of them
    picks = whole[choose_exemplars(np.stack([shape_key(landmarks[i]) for i in whole]), n)]
    bands = np.stack([detail_band(crops[i]) * regions[i] * visible[i] for i in picks])
    return DetailBank(bands.astype(np.float32), landmarks[picks])


def write_exemplars(model_dir: str | os.PathLike[str], faceset_a: str | os.PathLike[str],
                    faceset_b: str | os.PathLike[str], n: int = BANK_SIZE) -> Path:
    """Build both people's banks and write ``MODEL_DIR/exemplars.safetensors`` (atomically); its path."""
    banks = {"a": build_bank(Path(faceset_a), n), "b": build_bank(Path(faceset_b), n)}
    meta = {"facesets": str([str(Path(faceset_a).resolve()), str(Path(faceset_b).resolve())])}
    out = Path(model_dir) / EXEMPLARS_FILE
    atomic_write_bytes(out, exemplar_bytes(banks, meta))
    return out
