"""Training pairs of the enhancer stage: the model-size input and the real crop at the output size.

Each face of a face set is kept twice: area-resized for the model input exactly as the swap
model's training pool keeps it (:func:`masque.train.data.load_pool`), and at the face set's own
256 px with its landmark mask. A sample is one random similarity (small rotation, zoom, shift,
flip) applied to both, through the same model-crop geometry: the input ``(S, S)`` and the target
``(kS, kS)`` show the same face window (``kS`` pixel centres are ``S`` centres scaled about the
pixel grid: ``p_big = k p + (k - 1) / 2``, as convert pastes them). No warp: the enhancer sees the
decoder's reconstruction of the unwarped face, which is what convert feeds it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from masque.errors import FaceSetError
from masque.faceset import FaceSet
from masque.media import read_image
from masque.models.enhancer import scale_matrix
from masque.train.data import (
    CROP,
    AugmentConfig,
    base_matrix,
    face_aux,
    jitter_lab,
    random_similarity,
    stored_size,
    training_records,
)

#: augmentation of enhancer pairs: geometry only a little (the decoder output is aligned), colour
#: like the swap model's training so both sides' colour shifts and lighting are covered
AUGMENT = AugmentConfig(rotate=5.0, zoom=0.05, shift=0.03, flip=0.5, warp=0.0, lightness=0.1, ab=0.03)


@dataclass
class CropPool:
    """One side's faces at two resolutions.

    Attributes:
        small: ``(N, R, R, 3)`` ``uint8`` RGB, area-resized as the swap model's pool (``R`` =
            :func:`masque.train.data.stored_size`).
        full: ``(N, 256, 256, 3)`` ``uint8`` RGB, the face set's crops.
        mask: ``(N, 256, 256)`` ``uint8`` landmark mask (0 / 255) of the ``extended`` kind.
    """

    small: np.ndarray
    full: np.ndarray
    mask: np.ndarray

    def __len__(self) -> int:
        return len(self.full)


def load_crops(path: str | Path, input_size: int, coverage: float, select: Sequence[int] | None = None) -> CropPool:
    """Load a face set's faces (all, or those at positions ``select`` in id order).

    Raises:
        FaceSetError: the set is not of 256 px ``face`` crops or holds no face.
        InputNotFoundError: the folder does not exist.
    """
    res = stored_size(input_size, coverage)
    with FaceSet(path) as fs:
        records = training_records(fs, path, select, reader="the enhancer trains on",
                                   task="train the enhancer on; extract more footage")
        pool = CropPool(np.empty((len(records), res, res, 3), np.uint8), np.empty((len(records), CROP, CROP, 3),
                        np.uint8), np.empty((len(records), CROP, CROP), np.uint8))

        def load(i: int) -> None:
            crop = read_image(fs.image_path(records[i]))
            if crop.shape[:2] != (CROP, CROP):
                raise FaceSetError(f"{fs.image_path(records[i])} is {crop.shape[1]}x{crop.shape[0]}, not {CROP} px")
            pool.full[i] = crop
            pool.small[i] = cv2.resize(crop, (res, res), interpolation=cv2.INTER_AREA)
            pool.mask[i] = face_aux(records[i].aligned_landmarks, CROP, "extended")[..., 0]

        with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as ex:  # PNG decoding frees the GIL
            list(ex.map(load, range(len(records))))
    return pool


def make_pairs(pools: tuple[CropPool, CropPool], batch: int, rng: np.random.Generator, size: int, scale: int,
               coverage: float, shifts: tuple[np.ndarray, np.ndarray],
               cfg: AugmentConfig = AUGMENT) -> dict[str, np.ndarray]:
    """``batch`` pairs of A then ``batch`` of B, NHWC ``float32``.

    Returns:
        ``input`` ``(2B, S, S, 3)`` and ``target`` ``(2B, kS, kS, 3)`` RGB in [0, 1] with the side's
        colour shift added; ``mask`` ``(2B, kS, kS, 1)`` in [0, 1].
    """
    big = size * scale
    n = 2 * batch
    out = {"input": np.empty((n, size, size, 3), np.float32), "target": np.empty((n, big, big, 3), np.float32),
           "mask": np.empty((n, big, big, 1), np.float32)}
    for side, pool in enumerate(pools):
        picks = rng.integers(0, len(pool), batch)
        for j, i in enumerate(picks):
            k = side * batch + j
            # one colour jitter for both resolutions: the same random state drives both calls
            state = rng.bit_generator.state
            small = jitter_lab(pool.small[i:i + 1], rng, cfg)[0]
            rng.bit_generator.state = state
            full = jitter_lab(pool.full[i:i + 1], rng, cfg)[0]
            shift = shifts[side].astype(np.float32)
            small_f = np.clip(small.astype(np.float32) / 255 + shift, 0, 1)
            full_f = np.clip(full.astype(np.float32) / 255 + shift, 0, 1)
            sim = random_similarity(rng, size, cfg)
            m_small = (sim @ base_matrix(pool.small.shape[1], size, coverage))[:2]
            m_big = scale_matrix(sim @ base_matrix(CROP, size, coverage), scale)
            out["input"][k] = cv2.warpAffine(small_f, m_small, (size, size), flags=cv2.INTER_LINEAR,
                                             borderMode=cv2.BORDER_REFLECT101)
            out["target"][k] = cv2.warpAffine(full_f, m_big, (big, big), flags=cv2.INTER_CUBIC,
                                              borderMode=cv2.BORDER_REFLECT101).clip(0, 1)
            out["mask"][k, ..., 0] = cv2.warpAffine(pool.mask[i], m_big, (big, big), flags=cv2.INTER_LINEAR) / 255
            if rng.random() < cfg.flip:
                for arr in out.values():
                    arr[k] = arr[k][:, ::-1].copy()
    return out


class PairStream(IterableDataset):
    """An endless stream of :func:`make_pairs` batches as torch tensors, one RNG per worker."""

    def __init__(self, pools: tuple[CropPool, CropPool], batch: int, size: int, scale: int, coverage: float,
                 shifts: tuple[np.ndarray, np.ndarray], seed: int) -> None:
        self.pools, self.batch, self.size, self.scale = pools, batch, size, scale
        self.coverage, self.shifts, self.seed = coverage, shifts, seed

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        info = get_worker_info()
        rng = np.random.default_rng([self.seed, info.id if info else 0])
        while True:
            arrays = make_pairs(self.pools, self.batch, rng, self.size, self.scale, self.coverage, self.shifts)
            yield {k: torch.from_numpy(v) for k, v in arrays.items()}
