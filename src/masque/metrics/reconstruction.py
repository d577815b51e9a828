"""Reconstruction quality of a trained model: SSIM and PSNR of A->A and B->B on held-out faces.

A trained autoencoder swap should redraw a face of its own person faithfully. Held-out faces are
a fixed, deterministic subset of each face set (every :data:`HOLDOUT_EVERY`-th face by id, from
the first), so figures are comparable between runs and models; training must skip the same
subset (:func:`is_held_out`) for them to be truly unseen.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from masque.errors import ModelError
from masque.face.align import alignment_matrix, mat_scale
from masque.faceset import FaceRecord, FaceSet
from masque.media import read_image
from masque.models.swap import SIDES, Side, SwapNetwork

HOLDOUT_EVERY = 10
#: PSNR of identical images is infinite; report this instead so the summary stays valid JSON
PSNR_CAP = 100.0
BATCH = 16


def is_held_out(position: int, every: int = HOLDOUT_EVERY) -> bool:
    """Whether the face at ``position`` (0-based, face set order by id) is held out of training."""
    return position % every == 0


def held_out_records(faceset: FaceSet, every: int = HOLDOUT_EVERY) -> list[FaceRecord]:
    """The held-out faces of ``faceset``: every ``every``-th face by id, starting with the first."""
    return [r for i, r in enumerate(faceset.faces("faces.id")) if is_held_out(i, every)]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB of two float images in [0, 1] (capped at :data:`PSNR_CAP`)."""
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return PSNR_CAP if mse <= 10 ** (-PSNR_CAP / 10) else float(10 * np.log10(1.0 / mse))


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Structural similarity (Wang et al. 2004) of two ``(H, W, C)`` float images in [0, 1].

    Gaussian window 11 x 11, sigma 1.5, K1 = 0.01, K2 = 0.03, mean over channels and over the
    pixels whose window lies inside the image (the usual reference settings).
    """
    x, y = np.asarray(a, np.float64), np.asarray(b, np.float64)
    c1, c2 = 0.01**2, 0.03**2

    def blur(im: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(im, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT)

    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    smap = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return float(smap[5:-5, 5:-5].mean())


def model_inputs(faceset: FaceSet, records: Sequence[FaceRecord], align: dict[str, Any],
                 shift: Sequence[float] | None = None) -> np.ndarray:
    """The records' faces as the model takes them, ``(N, S, S, 3)`` float32 RGB [0, 1].

    Args:
        align: ``centering``, ``coverage`` and ``size`` (the model state's ``align``; its
            ``input_size``, when it differs, should be passed as ``size``).
        shift: RGB offset in [0, 1] added before the model sees the faces (the state's
            ``color_shift`` of that side), clipped to [0, 1].
    """
    size, centering, coverage = int(align["size"]), align["centering"], float(align.get("coverage", 1.0))
    out = np.empty((len(records), size, size, 3), np.float32)
    for i, rec in enumerate(records):
        crop = read_image(faceset.image_path(rec))
        mat = alignment_matrix(rec.aligned_landmarks, size, centering, coverage)
        scale = mat_scale(mat)
        if scale < 1:  # warpAffine has no area filter: blur about as much as a box of 1/scale px
            crop = cv2.GaussianBlur(crop, (0, 0), 0.3 * np.sqrt(1 / scale**2 - 1))
        face = cv2.warpAffine(crop, mat, (size, size), flags=cv2.INTER_LINEAR if scale < 1 else cv2.INTER_CUBIC,
                              borderMode=cv2.BORDER_REFLECT101)
        out[i] = face.astype(np.float32) / 255.0
    if shift is not None:
        np.clip(out + np.asarray(shift, np.float32), 0.0, 1.0, out=out)
    return out


def reconstruct(model: SwapNetwork, faces: np.ndarray, to: Side) -> np.ndarray:
    """Run ``model.swap`` on ``(N, S, S, 3)`` float faces in batches; returns the same layout."""
    import torch  # only this metric needs torch; keep `import masque.metrics` light

    outs = []
    with torch.no_grad():
        for start in range(0, len(faces), BATCH):
            x = torch.from_numpy(np.ascontiguousarray(faces[start:start + BATCH].transpose(0, 3, 1, 2)))
            rgb, _ = model.swap(x, to=to)
            outs.append(rgb.detach().float().clamp(0, 1).cpu().numpy().transpose(0, 2, 3, 1))
    return np.concatenate(outs) if outs else np.zeros_like(faces)


def reconstruction_metrics(model: SwapNetwork, state: dict[str, Any], base: Path | None = None,
                           every: int = HOLDOUT_EVERY,
                           progress: Callable[[int, int | None], None] | None = None) -> dict[str, Any]:
    """SSIM and PSNR of A->A and B->B on each face set's held-out faces.

    Each face is fed as training fed it (aligned per ``state["align"]`` at ``state["input_size"]``,
    plus that side's ``state["color_shift"]``) and its reconstruction compared with that input.

    Args:
        model: the trained model (see :class:`masque.models.SwapNetwork`).
        state: its state; uses ``align``, ``facesets`` (A then B paths; relative paths are tried
            against ``base``, the model folder, too) and, when present, ``input_size`` and ``color_shift``.

    Returns:
        ``{"a": {"faces", "ssim", "psnr"}, "b": {...}, "holdout_every": every, "unseen": bool}``;
        ``unseen`` is True only when the state records that training held out the same faces
        (``state["holdout_every"] == every``).
    """
    paths = list(state.get("facesets") or [])
    if len(paths) != 2 or "align" not in state:
        raise ModelError(f"model state lacks 'facesets' (A and B) or 'align' (got keys {sorted(state)}); "
                         "it was not saved by `masque train`")
    # the faces are unseen only if training skipped the same ones; a state that says so is trusted
    result: dict[str, Any] = {"holdout_every": every, "unseen": state.get("holdout_every") == every}
    align = {**state["align"], "size": int(state.get("input_size", state["align"]["size"]))}
    shifts = state.get("color_shift") or {}
    for side, path in zip(SIDES, paths):
        with FaceSet(_resolve(path, base)) as fs:
            records = held_out_records(fs, every)
            faces = model_inputs(fs, records, align, shifts.get(side))
        recon = reconstruct(model, faces, to=side)
        scores = [(ssim(f, r), psnr(f, r)) for f, r in zip(faces, recon)]
        result[side] = {"faces": len(scores), "ssim": _mean([s for s, _ in scores]),
                        "psnr": _mean([p for _, p in scores])}
        if progress is not None:
            progress(1 if side == "a" else 2, 2)
    return result


def model_reconstruction(model_dir: str | os.PathLike[str],
                         progress: Callable[[int, int | None], None] | None = None) -> dict[str, Any]:
    """Load the model in ``model_dir`` and return :func:`reconstruction_metrics` for it."""
    from masque.models.io import load_model

    model, card = load_model(model_dir)  # in eval mode: dropout and batch-norm for inference
    return reconstruction_metrics(model, card.to_json(), Path(model_dir), progress=progress)


def _resolve(path: str | os.PathLike[str], base: Path | None) -> Path:
    p = Path(path)
    if not p.exists() and base is not None and not p.is_absolute() and (base / p).exists():
        return base / p
    return p


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else float("nan")
