"""Face set maintenance: list, sort, prune (recoverably: pruned faces are set aside, not deleted)."""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from typing import Literal

import numpy as np

from masque.errors import FaceSetError, UnsupportedOptionError
from masque.faceset.store import PRUNED_DIR, FaceRecord, FaceSet

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


@dataclass(frozen=True)
class PruneRule:
    """Which faces ``masque faceset prune`` sets aside.

    Absolute thresholds depend on the footage (a sharp face of a low-resolution clip scores
    blurrier than a soft one of a 4K clip); the relative ones rank faces within the set.

    Attributes:
        max_blur: faces with a blur score above this (higher is blurrier).
        max_yaw: faces turned more than this many degrees.
        blurriest: the blurriest this percent of the set, in (0, 100).
        most_turned: the most turned (largest ``|yaw|``) this percent of the set, in (0, 100).
        missing: faces whose PNG was deleted by hand (always on in the CLI).
    """

    max_blur: float | None = None
    max_yaw: float | None = None
    blurriest: float | None = None
    most_turned: float | None = None
    missing: bool = True

    def __post_init__(self) -> None:
        for name in ("blurriest", "most_turned"):
            value = getattr(self, name)
            if value is not None and not 0 < value < 100:
                raise UnsupportedOptionError(f"{name.replace('_', '-')} is a percentage of the face set in "
                                             f"(0, 100), got {value}; e.g. 10 for the worst tenth")
        if self.max_yaw is not None and self.max_yaw < 0:
            raise UnsupportedOptionError(f"max-yaw is an angle in degrees >= 0, got {self.max_yaw}")


def prune_candidates(fs: FaceSet, rule: PruneRule) -> list[FaceRecord]:
    """The faces of ``fs`` that ``rule`` sets aside, in the set's order."""
    faces = list(fs.faces())
    blur_cut = _percentile_cut([r.blur for r in faces], rule.blurriest)
    yaw_cut = _percentile_cut([abs(r.yaw) for r in faces], rule.most_turned)
    limits = [(lambda r: r.blur, rule.max_blur), (lambda r: r.blur, blur_cut),
              (lambda r: abs(r.yaw), rule.max_yaw), (lambda r: abs(r.yaw), yaw_cut)]

    def doomed(r: FaceRecord) -> bool:
        if rule.missing and not fs.image_path(r).is_file():
            return True
        return any(limit is not None and not math.isnan(key(r)) and key(r) > limit for key, limit in limits)

    return [r for r in faces if doomed(r)]


def _percentile_cut(values: list[float], percent: float | None) -> float | None:
    """The value above which the top ``percent`` % of ``values`` lie (NaNs ignored); None if unused."""
    finite = np.array([v for v in values if not math.isnan(v)])
    if percent is None or not len(finite):
        return None
    return float(np.percentile(finite, 100.0 - percent, method="higher")) - 1e-9


def spread(values: list[float]) -> str:
    """``min / median / max`` of ``values`` for messages (NaNs ignored)."""
    finite = [v for v in values if not math.isnan(v)]
    if not finite:
        return "no values"
    return f"{min(finite):.2f} / {float(np.median(finite)):.2f} / {max(finite):.2f}"


def new_batch_name(fs: FaceSet) -> str:
    """A name for the next prune batch: its time, unique within the set."""
    taken = {b for b, _ in fs.pruned_batches()}
    base = time.strftime("%Y%m%d-%H%M%S")
    name, n = base, 1
    while name in taken or (fs.root / PRUNED_DIR / name).exists():
        n += 1
        name = f"{base}-{n}"
    return name
