"""Training data: face sets in memory, augmentation, colour shift, batches from background workers.

Each face of a face set (an aligned 256 px "face" crop) is loaded once, area-resized so that the
model's ``coverage`` window is about ``input_size`` pixels, and stored with two auxiliary channels:
the landmark mask (the mask target and the loss's support) and the loss weight (eyes x3, mouth
x2). A sample is one random similarity (rotate, zoom, shift, flip) of that crop: the target; and
the same crop seen through a smooth random warp (a jittered 5x5 grid of control points): the
input. Both are sampled straight from the stored crop, so each is interpolated once.

Batches are NHWC ``float32`` arrays, built in DataLoader worker processes; the main process only
permutes them to NCHW views, which are channels_last without a copy.
"""

from __future__ import annotations

import functools
import math
import multiprocessing as mp
import os
import signal
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from masque.errors import FaceSetError
from masque.face.landmarks import LEFT_EYE, MOUTH, RIGHT_EYE
from masque.face.mask import MaskKind, landmark_mask
from masque.faceset import FaceRecord, FaceSet
from masque.faceset.coverage import EYES as EYE_STATE
from masque.faceset.coverage import MOUTH as MOUTH_STATE
from masque.faceset.coverage import measure
from masque.media import read_image

#: crop size of the face sets training reads (``masque extract``'s default)
CROP = 256


@dataclass(frozen=True)
class AugmentConfig:
    """Random augmentation of training faces (all on by default, as in faceswap).

    Attributes:
        rotate: max rotation, degrees (uniform in +/-).
        zoom: max relative zoom (uniform in +/-).
        shift: max shift as a fraction of the input size (uniform in +/-, each axis).
        flip: probability of a horizontal flip.
        warp: standard deviation of the 5x5 control-point jitter, as a fraction of the input size.
        lightness: max relative change of Lab lightness (toward white or black).
        ab: max shift of Lab a and b, as a fraction of their range.
    """

    rotate: float = 10.0
    zoom: float = 0.05
    shift: float = 0.05
    flip: float = 0.5
    warp: float = 0.025
    lightness: float = 0.2
    ab: float = 0.05


@dataclass
class FacePool:
    """The faces of one side in memory.

    Attributes:
        images: ``(N, R, R, 3)`` ``uint8`` RGB, the whole 256 px crop area-resized to ``R``.
        aux: ``(N, R, R, 2)`` ``uint8``: landmark mask (0/255) and loss weight (1, 2 mouth, 3 eyes).
        ids: face ids in the face set, ``(N,)``.
        path: the face set folder.
        weights: ``(N,)`` ``float64`` probabilities of drawing each face (sum 1), or ``None``:
            every face equally likely (see :func:`expression_weights`).
    """

    images: np.ndarray
    aux: np.ndarray
    ids: np.ndarray
    path: str
    weights: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.images)

    @property
    def res(self) -> int:
        return int(self.images.shape[1])


def stored_size(input_size: int, coverage: float) -> int:
    """Side ``R`` the 256 px crops are kept at: the coverage window is then ``input_size`` px."""
    return math.ceil(input_size / coverage)


def training_records(fs: FaceSet, path: str | Path, select: Sequence[int] | None = None,
                     reader: str = "training reads",
                     task: str = "train on; extract more footage of this person") -> list[FaceRecord]:
    """The records of an open face set of 256 px ``face`` crops (all, or those at positions ``select`` in id order).

    ``reader`` and ``task`` name who reads the set in the error messages.

    Raises:
        FaceSetError: the set is not of 256 px ``face`` crops, or holds no face.
    """
    if (fs.size, fs.centering) != (CROP, "face"):
        raise FaceSetError(f"{path} holds {fs.size} px '{fs.centering}' crops; {reader} {CROP} px 'face' "
                           "crops (`masque extract` with the default --size and centering)")
    records = list(fs.faces("faces.id"))
    if select is not None:
        records = [records[i] for i in select]
    if not records:
        raise FaceSetError(f"face set {path} has no faces to {task}")
    return records


def expression_weights(records: Sequence[FaceRecord], balance: float) -> np.ndarray | None:
    """Probabilities ``(N,)`` of drawing each face that favour rare expressions; ``None`` when ``balance`` is 0.

    Each face falls in one cell of eye state x mouth state (closed / half / open eyes, closed /
    open / wide mouth: :mod:`masque.faceset.coverage`'s bins, measured on its landmarks) and is
    drawn with probability proportional to ``cell_size ** -balance``: 0 draws every face alike, 1
    every cell alike. Why: a talking-head set is mostly open eyes and a closed mouth, so with
    uniform draws a decoder sees its few blinks too rarely to learn to draw them, and the swap then
    opens the other person's closed eyes.
    """
    if balance == 0:
        return None
    cells = [(EYE_STATE.index(m), MOUTH_STATE.index(m)) for m in map(measure, records)]
    sizes = Counter(cells)
    w = np.array([float(sizes[c]) ** -balance for c in cells])
    return w / w.sum()


def load_pool(path: str | Path, input_size: int, coverage: float, mask_kind: MaskKind = "extended",
              select: Sequence[int] | None = None, balance: float = 0.0) -> FacePool:
    """Load a face set's faces (all, or those at positions ``select`` in id order).

    ``balance`` weights the draws towards rare expressions (:func:`expression_weights`).

    Raises:
        FaceSetError: the face set is not of 256 px "face" crops, or holds no face.
        InputNotFoundError: the folder does not exist.
    """
    res = stored_size(input_size, coverage)
    with FaceSet(path) as fs:
        records = training_records(fs, path, select)
        images = np.empty((len(records), res, res, 3), np.uint8)
        aux = np.empty((len(records), res, res, 2), np.uint8)

        def load(i: int) -> None:
            rec = records[i]
            crop = read_image(fs.image_path(rec))
            if crop.shape[:2] != (CROP, CROP):
                raise FaceSetError(f"{fs.image_path(rec)} is {crop.shape[1]}x{crop.shape[0]}, not {CROP} px")
            images[i] = cv2.resize(crop, (res, res), interpolation=cv2.INTER_AREA)
            # crop pixel centres -> stored pixel centres
            aux[i] = face_aux((rec.aligned_landmarks + 0.5) * (res / CROP) - 0.5, res, mask_kind)

        # PNG decoding releases the GIL: threads overlap it
        with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
            list(pool.map(load, range(len(records))))
    return FacePool(images, aux, np.array([r.id for r in records]), str(path), expression_weights(records, balance))


def face_aux(landmarks: np.ndarray, res: int, mask_kind: MaskKind) -> np.ndarray:
    """Mask and loss-weight channels ``(res, res, 2)`` ``uint8`` from 68 landmarks in those pixels."""
    mask = landmark_mask(landmarks, (res, res), mask_kind)
    weight = np.ones((res, res), np.uint8)
    grow = max(1, round(res / 24))
    for part, value in ((MOUTH, 2), (LEFT_EYE, 3), (RIGHT_EYE, 3)):
        region: np.ndarray = np.zeros((res, res), np.uint8)
        cv2.fillConvexPoly(region, cv2.convexHull(np.round(landmarks[part]).astype(np.int32)), 1)
        region = cv2.dilate(region, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1)))
        weight[region > 0] = value
    return np.stack([mask, weight], axis=-1)


def mean_color(pool: FacePool, limit: int = 256) -> np.ndarray:
    """Mean RGB ``(3,)`` in [0, 1] over the masked face pixels of up to ``limit`` evenly spread faces."""
    idx = np.linspace(0, len(pool) - 1, min(limit, len(pool))).round().astype(int)
    weights = pool.aux[idx, ..., 0:1].astype(np.float64) / 255
    return (pool.images[idx] * weights).sum((0, 1, 2)) / max(weights.sum(), 1.0) / 255


# ---- geometry ---------------------------------------------------------------------------------

def base_matrix(res: int, size: int, coverage: float) -> np.ndarray:
    """``(3, 3)``: stored-crop pixels -> model-input pixels, the central ``coverage`` window.

    Matches :func:`masque.face.align.alignment_matrix` with ``(size, "face", coverage)``: the
    model input is the crop's centre (pixel 128) zoomed by ``size / (256 coverage)``.
    """
    to_crop = np.array([[CROP / res, 0, 0.5 * CROP / res - 0.5], [0, CROP / res, 0.5 * CROP / res - 0.5], [0, 0, 1]])
    k = size / (CROP * coverage)
    window = np.array([[k, 0, size / 2 - CROP / 2 * k], [0, k, size / 2 - CROP / 2 * k], [0, 0, 1]])
    return window @ to_crop


def random_similarity(rng: np.random.Generator, size: int, cfg: AugmentConfig) -> np.ndarray:
    """``(3, 3)`` random rotation, zoom and shift about the centre of a ``size`` image."""
    angle = rng.uniform(-cfg.rotate, cfg.rotate)
    scale = 1 + rng.uniform(-cfg.zoom, cfg.zoom)
    mat = np.vstack([cv2.getRotationMatrix2D((size / 2, size / 2), angle, scale), [0, 0, 1]])
    mat[:2, 2] += rng.uniform(-cfg.shift, cfg.shift, 2) * size
    return mat


def warp_field(rng: np.random.Generator, size: int, sigma: float) -> np.ndarray:
    """Smooth displacement ``(2, size, size)`` ``float32``: a 5x5 grid of N(0, sigma*size) jitters, upsampled."""
    grid = rng.normal(0, sigma * size, (2, 5, 5)).astype(np.float32)
    return np.stack([cv2.resize(g, (size, size), interpolation=cv2.INTER_CUBIC) for g in grid])


def jitter_lab(images: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    """Random Lab lightness and colour change of each of ``(N, H, W, 3)`` RGB ``uint8`` images.

    Lightness moves toward white or black by up to ``cfg.lightness`` (faceswap's colour
    augmentation); a and b shift by up to ``cfg.ab`` of their range. 8-bit Lab (table-driven in
    OpenCV, several times faster than float), one cvtColor call each way for the whole stack.
    """
    if cfg.lightness <= 0 and cfg.ab <= 0:
        return images
    n, h, w, _ = images.shape
    lab = cv2.cvtColor(images.reshape(n * h, w, 3), cv2.COLOR_RGB2LAB).reshape(n, h, w, 3).astype(np.float32)
    adj = (rng.uniform(-1, 1, (n, 3)) * (cfg.lightness, cfg.ab, cfg.ab)).astype(np.float32)
    dl = adj[:, 0, None, None]
    light = lab[..., 0]
    lab[..., 0] = np.where(dl >= 0, light + (255 - light) * dl, light * (1 + dl))
    lab[..., 1:] += adj[:, None, None, 1:] * 127
    lab = np.clip(lab + 0.5, 0, 255).astype(np.uint8)
    return cv2.cvtColor(lab.reshape(n * h, w, 3), cv2.COLOR_LAB2RGB).reshape(n, h, w, 3)


def sample(image: np.ndarray, aux: np.ndarray, rng: np.random.Generator, size: int, coverage: float,
           cfg: AugmentConfig, out: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    """Write one augmented example into ``out`` = (warped input, target ``(S, S, 3)``, aux ``(S, S, 2)``).

    Args:
        image: ``(R, R, 3)`` ``float32`` RGB [0, 1] stored crop (colour already shifted and jittered).
        aux: ``(R, R, 2)`` ``uint8`` mask and weight channels of that crop.
    """
    warped, target, aux_out = out
    mat = random_similarity(rng, size, cfg) @ base_matrix(image.shape[0], size, coverage)
    flags, border = cv2.INTER_LINEAR, cv2.BORDER_REFLECT101
    cv2.warpAffine(image, mat[:2], (size, size), dst=target, flags=flags, borderMode=border)
    cv2.warpAffine(aux.astype(np.float32), mat[:2], (size, size), dst=aux_out, flags=flags,
                   borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 1))
    # input pixel p shows the crop at M^-1 (p + d(p)): the target seen through a smooth warp
    d = warp_field(rng, size, cfg.warp)
    inv = cv2.invertAffineTransform(mat[:2]).astype(np.float32)
    qx, qy = _grid(size)
    qx, qy = qx + d[0], qy + d[1]
    mapx = inv[0, 0] * qx + inv[0, 1] * qy + inv[0, 2]
    mapy = inv[1, 0] * qx + inv[1, 1] * qy + inv[1, 2]
    cv2.remap(image, mapx, mapy, flags, dst=warped, borderMode=border)
    if rng.random() < cfg.flip:
        for arr in out:
            arr[:] = arr[:, ::-1].copy()


@functools.lru_cache(maxsize=4)
def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    return xs, ys


def make_batch(pools: tuple[FacePool, FacePool], batch: int, rng: np.random.Generator, size: int,
               coverage: float, shifts: tuple[np.ndarray, np.ndarray], cfg: AugmentConfig) -> dict[str, np.ndarray]:
    """One training batch: ``batch`` random faces of A then ``batch`` of B.

    ``shifts[side]`` ``(3,)`` is added to that side's RGB in [0, 1] (the colour shift).

    Returns:
        ``warped`` and ``target`` ``(2B, S, S, 3)`` and ``aux`` ``(2B, S, S, 2)``, ``float32``
        NHWC (aux: mask in [0, 255], loss weight in [1, 3]).
    """
    n = 2 * batch
    warped = np.empty((n, size, size, 3), np.float32)
    target = np.empty((n, size, size, 3), np.float32)
    aux = np.empty((n, size, size, 2), np.float32)
    for side, pool in enumerate(pools):
        if pool.weights is None:
            picks = rng.integers(0, len(pool), batch)
        else:
            picks = rng.choice(len(pool), batch, p=pool.weights)
        images = jitter_lab(pool.images[picks], rng, cfg).astype(np.float32)
        images = np.clip(images * np.float32(1 / 255) + shifts[side].astype(np.float32), 0, 1, out=images)
        for j, index in enumerate(picks):
            k = side * batch + j
            sample(images[j], pool.aux[index], rng, size, coverage, cfg, (warped[k], target[k], aux[k]))
    return {"warped": warped, "target": target, "aux": aux}


def preview_batch(pool: FacePool, indices: Sequence[int], size: int, coverage: float,
                  shift: np.ndarray) -> np.ndarray:
    """Unaugmented model inputs ``(n, S, S, 3)`` ``float32`` [0, 1] of the faces at ``indices``."""
    mat = base_matrix(pool.res, size, coverage)[:2]
    out = np.empty((len(indices), size, size, 3), np.float32)
    for k, i in enumerate(indices):
        image = np.clip(pool.images[i].astype(np.float32) / 255 + shift.astype(np.float32), 0, 1)
        out[k] = cv2.warpAffine(image, mat, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
    return out


# ---- background workers ------------------------------------------------------------------------

class BatchStream(IterableDataset):
    """An endless stream of :func:`make_batch` batches (as torch tensors), one RNG per worker."""

    def __init__(self, pools: tuple[FacePool, FacePool], batch: int, size: int, coverage: float,
                 shifts: tuple[np.ndarray, np.ndarray], cfg: AugmentConfig, seed: int) -> None:
        self.pools, self.batch, self.size, self.coverage = pools, batch, size, coverage
        self.shifts, self.cfg, self.seed = shifts, cfg, seed

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        info = get_worker_info()
        rng = np.random.default_rng([self.seed, info.id if info else 0])
        while True:
            arrays = make_batch(self.pools, self.batch, rng, self.size, self.coverage, self.shifts, self.cfg)
            yield {k: torch.from_numpy(v) for k, v in arrays.items()}


def _worker_init(worker_id: int) -> None:
    # Ctrl-C goes to the whole process group: the main process saves and stops the workers
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch.set_num_threads(1)
    cv2.setNumThreads(1)


def batch_loader(stream: BatchStream, workers: int, pin_memory: bool = False, prefetch: int = 4) -> DataLoader:
    """A DataLoader over ``stream``: ``workers`` processes keep ``prefetch`` batches each ready.

    With ``workers=0`` batches are built in the calling thread (debugging, tests).
    """
    if workers <= 0:
        return DataLoader(stream, batch_size=None, num_workers=0)
    # forkserver, not fork: a child forked from a process whose OpenCV/OpenMP thread pools have
    # run can hang in its first thread-pool call (seen: workers stuck in _worker_init when the
    # test suite had used cv2 before); the fork server is a clean single-threaded process
    return DataLoader(stream, batch_size=None, num_workers=workers, worker_init_fn=_worker_init,
                      prefetch_factor=prefetch, persistent_workers=True, pin_memory=pin_memory,
                      multiprocessing_context="forkserver" if "forkserver" in mp.get_all_start_methods()
                      else "spawn")
