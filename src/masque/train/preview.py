"""Preview grids: fixed faces of A and B, their reconstructions and their swaps, one PNG per save.

Columns: A, A->A, A->B, the mask of A->B, B, B->B, B->A, the mask of B->A. Model outputs are
pasted onto their input with the predicted mask, as convert will paste them, so a grid shows what
a swap would look like, and the mask columns (white: the decoder's face, black: the input kept)
show the attention the decoder learned; the
faces are the first held-out faces of each set, the same in every grid of a model folder, so the
PNGs in ``previews/`` make a timelapse of training.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import numpy as np
import torch

from masque.errors import MasqueError
from masque.media import write_image
from masque.models import SwapModel

log = logging.getLogger(__name__)

COLUMNS = ("A", "A->A", "A->B", "mask A->B", "B", "B->B", "B->A", "mask B->A")


@torch.no_grad()
def preview_grid(model: SwapModel, faces_a: np.ndarray, faces_b: np.ndarray, device: torch.device,
                 autocast: contextlib.AbstractContextManager | None = None) -> np.ndarray:
    """The preview grid as RGB ``uint8`` ``(rows * S, 8 * S, 3)``, ``rows = max(n_a, n_b)``.

    Args:
        faces_a, faces_b: ``(n_a, S, S, 3)`` and ``(n_b, S, S, 3)`` ``float32`` RGB [0, 1]
            unaugmented model inputs. The counts may differ (a small set B holds fewer held-out
            faces): the shorter side's cells below its last face are left mid-grey.
    """
    was_training = model.training
    model.eval()
    try:
        cols: list[np.ndarray] = []
        for faces, own, other in ((faces_a, "a", "b"), (faces_b, "b", "a")):
            x = torch.from_numpy(np.ascontiguousarray(faces)).permute(0, 3, 1, 2).to(device)
            cols.append(faces)
            for side in (own, other):
                with autocast or contextlib.nullcontext():
                    rgb, mask = model(x, side)
                pasted = rgb.float() * mask.float() + x * (1 - mask.float())
                cols.append(pasted.clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy())
            cols.append(mask.float().clamp(0, 1).expand(-1, 3, -1, -1).permute(0, 2, 3, 1).cpu().numpy())
    finally:
        model.train(was_training)
    rows = max(len(faces_a), len(faces_b))
    side_a = np.concatenate([_pad_rows(c, rows) for c in cols[:4]], axis=2)
    side_b = np.concatenate([_pad_rows(c, rows) for c in cols[4:]], axis=2)
    grid = np.concatenate([side_a, side_b], axis=2)  # (rows, S, 6 * S, 3)
    return (grid.reshape(-1, *grid.shape[2:]) * 255 + 0.5).astype(np.uint8)


def _pad_rows(faces: np.ndarray, rows: int) -> np.ndarray:
    """``faces`` ``(n, S, S, 3)`` extended to ``rows`` with mid-grey cells."""
    if len(faces) >= rows:
        return faces
    blank = np.full((rows - len(faces), *faces.shape[1:]), 0.5, dtype=faces.dtype)
    return np.concatenate([faces, blank], axis=0)


def write_preview(path: Path, grid: np.ndarray, label: bool = True) -> Path:
    """Write ``grid`` as a PNG, labelled as synthetic (watermark + C2PA manifest) when ``label``.

    A labelling failure is logged and the unlabelled preview kept: previews are for the
    trainer's eyes, and must never stop a training run.
    """
    labeler = None
    if label:
        try:
            from masque.provenance import LabelConfig, Labeler

            labeler = Labeler(LabelConfig(kind="composite"))
            grid = labeler.mark(grid)
        except (MasqueError, ImportError) as exc:
            log.warning("preview not labelled: %s", exc)
            labeler = None
    write_image(path, grid)
    if labeler is not None:
        try:
            labeler.finalize(path)
        except MasqueError as exc:
            log.warning("preview %s has no C2PA manifest: %s", path, exc)
    return path
