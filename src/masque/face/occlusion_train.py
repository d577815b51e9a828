"""Training of the occlusion model (:mod:`masque.face.occlusion`) on faces with synthetic occluders.

Faces are found in the given photos and video frames (:class:`FaceAnalyzer`), aligned on a
wider crop than the model's (so augmentation can shift, turn and scale them without reaching
the crop's border), and kept in memory with their landmarks. Each training example is one of
them, jittered (similarity transform, landmark noise as a detector would have, mirror), with
0-3 synthetic occluders pasted on (:func:`masque.face.occluders.occlude`), then colour, blur,
noise and JPEG-like degradations. Loss: binary cross-entropy (pixels off the face count a fifth)
plus a soft Dice term on visible face. Everything is seeded: the same sources, seed and steps
give the same weights on the same machine.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from masque.face.align import alignment_matrix, transform_points
from masque.face.analyze import FaceAnalyzer
from masque.face.mask import landmark_mask
from masque.face.occluders import occlude
from masque.face.occlusion import OcclusionCard, OcclusionModel, OcclusionNet

_WIDE = 128  # side of the stored crops
_WIDE_COVERAGE = 0.7  # stored crops show 1/0.7 of the model's field


@dataclass(frozen=True)
class FaceSample:
    """One aligned training face: ``(128, 128, 3)`` ``uint8`` RGB and its ``(68, 2)`` landmarks there."""

    image: np.ndarray
    landmarks: np.ndarray
    person: str


def collect_faces(images: Sequence[tuple[str, np.ndarray]], analyzer: FaceAnalyzer | None = None) -> list[FaceSample]:
    """Detect and align every face of the ``(person, RGB uint8 image)`` pairs."""
    analyzer = analyzer or FaceAnalyzer()
    out = []
    for person, image in images:
        for face in analyzer.detect(image):
            m = alignment_matrix(face.landmarks, _WIDE, "face", _WIDE_COVERAGE)
            crop = cv2.warpAffine(image, m, (_WIDE, _WIDE), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT101)
            out.append(FaceSample(crop, transform_points(face.landmarks, m), person))
    return out


def _degrade(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Colour, contrast, blur, noise and JPEG: ``uint8`` RGB in and out."""
    x: np.ndarray = img.astype(np.float32)
    x = x * np.float32(rng.uniform(0.6, 1.3)) + np.float32(rng.normal(0, 15))  # exposure
    x = x * rng.uniform(0.85, 1.15, 3).astype(np.float32)  # white balance
    if rng.random() < 0.2:
        x = x.mean(2, keepdims=True).repeat(3, 2)
    x = np.float32(255) * (np.clip(x, 0, 255) / np.float32(255)) ** np.float32(rng.uniform(0.7, 1.4))
    if rng.random() < 0.4:
        x = np.asarray(cv2.GaussianBlur(x, (0, 0), rng.uniform(0.3, 1.2)))
    x = x + rng.normal(0, rng.uniform(0, 6), x.shape).astype(np.float32)
    out = np.clip(x + 0.5, 0, 255).astype(np.uint8)
    if rng.random() < 0.3:
        _, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(30, 90))])
        out = np.asarray(cv2.imdecode(buf, cv2.IMREAD_UNCHANGED), np.uint8)
    return out


def make_example(face: FaceSample, rng: np.random.Generator, size: int, sources: list[np.ndarray],
                 others: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One ``(size, size, 3)`` ``uint8`` input, its ``(size, size)`` ``float32`` label (1 = visible
    face) and loss weight (1 near the face, a fifth further out)."""
    lm = face.landmarks
    unit = float(np.linalg.norm(lm[36:42].mean(0) - lm[42:48].mean(0)))
    noisy = lm + rng.normal(0, 0.04 * unit, lm.shape).astype(np.float32)  # the detector's landmarks are never exact
    m = alignment_matrix(noisy, size, "face")
    jitter = cv2.getRotationMatrix2D((size / 2, size / 2), rng.normal(0, 12), rng.uniform(0.85, 1.1))
    jitter[:, 2] = jitter[:, 2] + rng.normal(0, 0.04 * size, 2)
    m = jitter[:, :2] @ m
    m[:, 2] += jitter[:, 2]
    img = cv2.warpAffine(face.image, m, (size, size), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT101)
    lm_crop = transform_points(lm, m)  # the label follows the true landmarks, not the noisy ones
    if rng.random() < 0.5:
        img = img[:, ::-1].copy()
        lm_crop = lm_crop.copy()
        lm_crop[:, 0] = size - lm_crop[:, 0]
        lm_crop = lm_crop[_MIRROR]
    img, label = occlude(img, lm_crop, rng, sources, others)
    near = cv2.dilate(landmark_mask(lm_crop, (size, size), "extended"), np.ones((size // 8 + 1,) * 2, np.uint8))
    return _degrade(img, rng), label, np.where(near > 0, np.float32(1), np.float32(0.2))


# iBUG 68 point order under a horizontal mirror (the glasses and hands need left/right right)
_MIRROR = np.array(list(range(16, -1, -1)) + list(range(26, 16, -1)) + list(range(27, 31)) + list(range(35, 30, -1))
                   + [45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40] + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55]
                   + [64, 63, 62, 61, 60, 67, 66, 65])


def loss_fn(logits: torch.Tensor, label: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Weighted BCE plus soft Dice on the visible face; all ``(N, 1, S, S)``."""
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, label, weight=weight)
    p = torch.sigmoid(logits)
    dice = 1 - (2 * (p * label).sum((1, 2, 3)) + 1) / ((p + label).sum((1, 2, 3)) + 1)
    return bce + dice.mean()


def train(faces: list[FaceSample], sources: list[np.ndarray], *, steps: int = 2000, batch: int = 16,
          seed: int = 0, width: int = 16, size: int = 64, lr: float = 3e-3,
          log: Callable[[int, float], None] | None = None) -> OcclusionModel:
    """Train an :class:`OcclusionNet` from scratch; returns it in eval mode with its card."""
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    net = OcclusionNet(width)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
    pool = [(f.image, f.landmarks) for f in faces]
    all_sources = sources + [f.image for f in faces]
    by_person: dict[str, list[int]] = {}
    for i, f in enumerate(faces):
        by_person.setdefault(f.person, []).append(i)
    people = sorted(by_person)
    for step in range(steps):
        # people drawn evenly, then one of their faces: the video's 36 frames of one man would
        # otherwise be three quarters of what the model sees
        picks = [by_person[p][rng.integers(len(by_person[p]))] for p in rng.choice(people, size=batch)]
        pairs = [make_example(faces[i], rng, size, all_sources, pool) for i in picks]
        x = torch.from_numpy(np.stack([p[0] for p in pairs])).permute(0, 3, 1, 2).float().div_(255)
        y = torch.from_numpy(np.stack([p[1] for p in pairs]))[:, None]
        w = torch.from_numpy(np.stack([p[2] for p in pairs]))[:, None]
        net.train()
        loss = loss_fn(net(x), y, w)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if log is not None and (step % 50 == 0 or step == steps - 1):
            log(step, float(loss.detach()))
    card = OcclusionCard(width=width, size=size, steps=steps, seed=seed,
                         train_people=tuple(sorted({f.person for f in faces})))
    return OcclusionModel(net.eval(), card)
