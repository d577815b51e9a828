"""Face set maintenance: list, sort, prune."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from typing import Literal

import numpy as np

from masque.errors import FaceSetError
from masque.faceset.store import FaceRecord, FaceSet

SortKey = Literal["blur", "yaw", "identity"]


def record_json(fs: FaceSet, r: FaceRecord) -> dict[str, object]:
    """The ``masque faceset list --json`` object of one face."""
    return {"source": r.source, "frame": r.frame, "face_index": r.face_index, "bbox": list(r.bbox),
            "landmarks": np.round(r.landmarks, 2).tolist(), "yaw": _num(r.yaw), "pitch": _num(r.pitch),
            "roll": _num(r.roll), "blur": _num(r.blur), "image": str(fs.image_path(r))}


def _num(v: float | None) -> float | None:
    return None if v is None or math.isnan(v) else round(float(v), 3)


def sorted_faces(fs: FaceSet, by: SortKey) -> list[FaceRecord]:
    """Faces ordered by ``blur`` (sharpest first), ``yaw`` (left to right) or ``identity``
    (closest to the set's mean embedding first, so other people and bad crops come last)."""
    faces = list(fs.faces())
    if by == "blur":
        return sorted(faces, key=lambda r: r.blur)
    if by == "yaw":
        return sorted(faces, key=lambda r: r.yaw)
    if by == "identity":
        embs = [r.embedding for r in faces if r.embedding is not None]
        if not embs:
            raise FaceSetError(f"{fs.root} has no identity embeddings to sort by")
        mean = np.mean(embs, axis=0)
        return sorted(faces, key=lambda r: np.inf if r.embedding is None else float(np.linalg.norm(r.embedding - mean)))
    raise FaceSetError(f"cannot sort by {by!r}; use blur, yaw or identity")


def rename_in_order(fs: FaceSet, faces: list[FaceRecord]) -> None:
    """Prefix each PNG with its rank so a file browser shows the sorted order (faceswap's sort).

    The index is updated in the same transaction as each rename pair, so it never points at a
    missing file for longer than one face.
    """
    for rank, r in enumerate(faces):
        base = os.path.basename(r.image).split("__", 1)[-1]
        new = f"{os.path.dirname(r.image)}/{rank:06d}__{base}"
        if new == r.image:
            continue
        os.replace(fs.root / r.image, fs.root / new)
        with fs.conn:
            fs.conn.execute("UPDATE faces SET image = ? WHERE id = ?", (new, r.id))


def prune_candidates(fs: FaceSet, max_blur: float | None, max_yaw: float | None) -> Iterator[FaceRecord]:
    """Faces blurrier than ``max_blur``, turned more than ``max_yaw`` degrees, or whose PNG was deleted."""
    for r in fs.faces():
        if not fs.image_path(r).is_file():
            yield r
        elif max_blur is not None and r.blur > max_blur:
            yield r
        elif max_yaw is not None and not math.isnan(r.yaw) and abs(r.yaw) > max_yaw:
            yield r
