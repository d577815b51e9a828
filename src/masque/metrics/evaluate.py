"""Measure a swap against the frames it was made from: ``evaluate(swapped, original, source)``.

For every frame pair the face of the original is followed (:class:`~masque.face.FaceTracker`), the face at the
same place in the swapped frame is found, and pose, expression, motion, seam and detail are measured.
Identity embeddings cost about 0.1-0.4 s a face on a CPU, so they are computed on every
``every``-th frame only; the summary says how many frames that was.

>>> report = evaluate("swapped.mp4", "input.mp4", "source_faceset/")  # doctest: +SKIP
>>> report.summary()["identity"]["to_source"]                        # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from masque.face import Face, FaceAnalyzer, FaceTracker, TargetSelector, TrackerConfig, identity_distance, nearest_face
from masque.face.embed import face_chip
from masque.face.types import SAME_PERSON_THRESHOLD
from masque.metrics.detail import detail_ratio
from masque.metrics.frames import check_pair, paired_frames
from masque.metrics.geometry import expression_error, face_pose, landmark_motion, pose_error
from masque.metrics.identity import Identity, load_identity, mean_identity, nearest_identity
from masque.metrics.reconstruction import model_reconstruction
from masque.metrics.seam import seam_score

Progress = Callable[[int, int | None], None]
NAN = float("nan")
#: default identity sampling: a 472-frame clip embeds 48 frame pairs
DEFAULT_EVERY = 10
#: frame pairs embedded per batch (64 chips; batching makes the PyTorch embedder about 9x faster)
EMBED_BATCH = 32


@dataclass(frozen=True)
class FrameMetrics:
    """The measurements of one frame pair; NaN where not measured (no face, or not sampled).

    Attributes:
        index: frame number, from 0.
        face_original / face_swapped: whether the face was found in each frame.
        embedded: whether identity was measured on this frame.
        id_source: embedding distance of the swapped face to the source identity (lower = more source).
        id_target: embedding distance of the swapped face to this frame's original face.
        nearest: gallery entry nearest the swapped face ('source', 'target' or 'gallery:<name>'), '' if not embedded.
        yaw, pitch, roll: signed pose error swapped - original, degrees.
        expression: eye and mouth shape error after Procrustes, in inter-ocular distances.
        motion_swapped / motion_original: landmark motion since the previous frame, inter-ocular distances.
        jitter: ``motion_swapped - motion_original``.
        seam: gradient energy of the change along the pasted region's border / the swapped face's interior
            (0 = no step; see :mod:`masque.metrics.seam`).
        detail / detail_full: Laplacian energy of the swapped face / the original's in the inner 60 % of the
            original's box, at half scale (the headline: grain and halos do not count) and at full scale
            (1 = as much detail as the original, below 1 softer; see :mod:`masque.metrics.detail`).
        bbox: the original face's detector box ``(x0, y0, x1, y1)``, or None.
    """

    index: int
    face_original: bool = False
    face_swapped: bool = False
    embedded: bool = False
    id_source: float = NAN
    id_target: float = NAN
    nearest: str = ""
    yaw: float = NAN
    pitch: float = NAN
    roll: float = NAN
    expression: float = NAN
    motion_swapped: float = NAN
    motion_original: float = NAN
    jitter: float = NAN
    seam: float = NAN
    detail: float = NAN
    detail_full: float = NAN
    bbox: tuple[float, float, float, float] | None = None

    def row(self) -> dict[str, Any]:
        """This frame as a JSON-ready dict (NaN becomes None)."""
        return {k: _clean(v) for k, v in dataclasses.asdict(self).items()}


@dataclass(frozen=True)
class EvaluationReport:
    """Everything :func:`evaluate` measured.

    Attributes:
        swapped, original: the compared files.
        source: the identity the swap should show; gallery: the other identities it was ranked against
            (the original's own person, as 'target', first).
        every: identity was measured on every ``every``-th frame.
        frames: per-frame measurements.
        reconstruction: :func:`masque.metrics.reconstruction.reconstruction_metrics` of ``--model``, or None.
        notes: caveats to show with the numbers.
    """

    swapped: str
    original: str
    source: Identity
    gallery: tuple[Identity, ...]
    every: int
    frames: tuple[FrameMetrics, ...]
    reconstruction: dict[str, Any] | None = None
    notes: tuple[str, ...] = ()

    def rows(self) -> list[dict[str, Any]]:
        """Per-frame measurements as JSON-ready dicts."""
        return [f.row() for f in self.frames]

    def summary(self) -> dict[str, Any]:
        """Means over frames (absolute values for signed errors; detail: medians); None where nothing was measured."""
        fr = self.frames
        emb = [f for f in fr if f.embedded]
        col = lambda name, fs=fr: np.array([getattr(f, name) for f in fs], np.float64)  # noqa: E731
        splits = {a: pose_split(col(a)) for a in ("yaw", "pitch", "roll")}
        out: dict[str, Any] = {
            "swapped": self.swapped, "original": self.original,
            "source": {"name": self.source.name, "faces": self.source.faces},
            "gallery": [g.name for g in self.gallery],
            "frames": len(fr),
            "faces_found": {"original": sum(f.face_original for f in fr), "swapped": sum(f.face_swapped for f in fr)},
            "identity": {
                "frames": len(emb), "every": self.every,
                "to_source": _nanmean(col("id_source", emb)), "to_target": _nanmean(col("id_target", emb)),
                "same_person_as_source": _share(col("id_source", emb) < SAME_PERSON_THRESHOLD, emb),
                "retrieval": _share(np.array([f.nearest == "source" for f in emb]), emb),
            },
            "pose_error_deg": {a: _nanmean(np.abs(col(a))) for a in ("yaw", "pitch", "roll")},
            "pose_offset_deg": {a: split[0] for a, split in splits.items()},
            "pose_tracking_deg": {a: split[1] for a, split in splits.items()},
            "expression_error": _nanmean(col("expression")),
            "jitter": {"swapped": _nanmean(col("motion_swapped")), "original": _nanmean(col("motion_original")),
                       "excess": _nanmean(col("jitter"))},
            "seam": _nanmean(col("seam")),
            "detail": {"half_scale": _nanmedian(col("detail")), "full_scale": _nanmedian(col("detail_full")),
                       "frames": int(np.isfinite(col("detail")).sum())},
            "reconstruction": self.reconstruction,
            "notes": list(self.notes),
        }
        return _round(out)


def evaluate(swapped: str | os.PathLike[str], original: str | os.PathLike[str], source: str | os.PathLike[str],
             gallery: Sequence[str | os.PathLike[str]] = (), model_dir: str | os.PathLike[str] | None = None,
             progress: Progress | None = None, *, every: int = DEFAULT_EVERY, redetect: int = 10,
             analyzer: FaceAnalyzer | None = None) -> EvaluationReport:
    """Measure ``swapped`` (image or video) against the ``original`` it was made from.

    Args:
        swapped: the swap's output; frame-aligned with ``original`` (same frame count and size).
        original: the input the swap was made from.
        source: the identity swapped in: an image, a folder of images, a video or a face set.
        gallery: more identities (same kinds) the swapped face is ranked against; the original's
            own person ('target', the mean over the original's sampled faces) always is one.
        model_dir: a trained model folder; adds A->A / B->B reconstruction SSIM and PSNR.
        progress: ``callback(done, total)`` per frame (total None when a video does not say).
        every: measure identity on every ``every``-th frame (embeddings are slow); 1 for all.
        redetect: run the face detector every ``redetect`` frames and track in between.
        analyzer: a ready :class:`FaceAnalyzer` to reuse (its models load once).

    Raises:
        InputNotFoundError, InvalidMediaError: a path is missing or unreadable, or the two inputs
            are not frame-aligned. NoFaceFoundError: no face in ``source`` or a gallery entry.
        ModelError: ``model_dir`` is not a model masque can load.
    """
    total = check_pair(swapped, original)  # before any slow work: bad inputs fail at once
    analyzer = analyzer or FaceAnalyzer()
    every = max(1, int(every))
    src = load_identity(source, analyzer)
    extra = tuple(load_identity(g, analyzer) for g in gallery)
    # the model is measured first too: a wrong --model fails before the long frame loop
    recon = model_reconstruction(model_dir) if model_dir is not None else None
    rows, ids = _measure_frames(swapped, original, src, analyzer, every, redetect, progress, total)
    target_id = mean_identity("target", ids.targets, str(original)) if ids.targets else None
    named = {"source": src.embedding, **({"target": target_id.embedding} if target_id else {}),
             **{f"gallery:{g.name}": g.embedding for g in extra}}
    for pos, emb in ids.swapped.items():
        rows[pos] = dataclasses.replace(rows[pos], nearest=nearest_identity(emb, named))
    notes = _notes(rows, every) + _gallery_notes(src, extra)
    if recon is not None and not recon["unseen"]:
        notes += (f"reconstruction is measured on every {recon['holdout_every']}th face of each face set; the model "
                  "does not record holding those out of training, so they may have been seen",)
    return EvaluationReport(str(swapped), str(original), src, ((target_id,) if target_id else ()) + extra,
                            every, tuple(rows), recon, notes)


class _IdentityBatcher:
    """Collects face chips of sampled frames and embeds them in batches (about 9x faster than one by one)."""

    def __init__(self, analyzer: FaceAnalyzer, source: Identity, batch: int = EMBED_BATCH) -> None:
        self.analyzer, self.source, self.batch = analyzer, source, batch
        self.pending: list[tuple[int, np.ndarray, np.ndarray]] = []
        self.swapped: dict[int, np.ndarray] = {}
        self.targets: list[np.ndarray] = []

    def add(self, pos: int, sw_img: np.ndarray, sw: Face, og_img: np.ndarray, og: Face) -> None:
        self.pending.append((pos, face_chip(sw_img, sw.landmarks), face_chip(og_img, og.landmarks)))

    def flush(self, rows: list[FrameMetrics], force: bool = False) -> None:
        """Embed the pending chips (when a batch is full, or ``force``) and fill in their rows."""
        if not self.pending or (len(self.pending) < self.batch and not force):
            return
        embs = self.analyzer.embedder.embed_chips(np.stack([c for _, s, o in self.pending for c in (s, o)]))
        for k, (pos, _, _) in enumerate(self.pending):
            sw_e, og_e = embs[2 * k], embs[2 * k + 1]
            self.swapped[pos] = sw_e
            self.targets.append(og_e)
            rows[pos] = dataclasses.replace(rows[pos], embedded=True,
                                            id_source=identity_distance(sw_e, self.source.embedding),
                                            id_target=identity_distance(sw_e, og_e))
        self.pending.clear()


def _measure_frames(swapped: str | os.PathLike[str], original: str | os.PathLike[str], src: Identity,
                    analyzer: FaceAnalyzer, every: int, redetect: int, progress: Progress | None,
                    total: int | None) -> tuple[list[FrameMetrics], _IdentityBatcher]:
    """Per-frame metrics, and the batcher holding the swapped and original faces' embeddings."""
    # a measurement wants every frame a face is in: while none is followed, look on every frame
    tracking = TrackerConfig(redetect_every=max(1, redetect), lost_every=1)
    track_og = FaceTracker(analyzer, TargetSelector("largest"), tracking)
    track_sw = FaceTracker(analyzer, TargetSelector("all"), tracking)  # the one at the original's face is used
    ids = _IdentityBatcher(analyzer, src)
    rows: list[FrameMetrics] = []
    prev: tuple[Face | None, Face | None] = (None, None)
    for i, sw_img, og_img in paired_frames(swapped, original):
        og = nearest_face([t.face for t in track_og.track(og_img)], None)
        sw = nearest_face([t.face for t in track_sw.track(sw_img)], None if og is None else og.landmarks.mean(0))
        if og is not None and sw is not None and i % every == 0:
            ids.add(len(rows), sw_img, sw, og_img, og)
        rows.append(_frame_geometry(i, sw_img, og_img, sw, og, prev))
        ids.flush(rows)
        prev = (sw, og)
        if progress is not None:
            progress(i + 1, total)
    ids.flush(rows, force=True)
    return rows, ids


def _frame_geometry(i: int, sw_img: np.ndarray, og_img: np.ndarray, sw: Face | None, og: Face | None,
                    prev: tuple[Face | None, Face | None]) -> FrameMetrics:
    """Pose, expression, motion, seam and detail of one frame pair (NaN where a face is missing)."""
    row = FrameMetrics(i, face_original=og is not None, face_swapped=sw is not None,
                       bbox=None if og is None else tuple(float(v) for v in og.bbox))  # type: ignore[arg-type]
    if og is None or row.bbox is None:
        return row
    motion_o = landmark_motion(prev[1].landmarks, og.landmarks) if prev[1] is not None else NAN
    # detail is read where the original face is, whether or not a face is found there in the output
    half, full = detail_ratio(sw_img, og_img, row.bbox)
    row = dataclasses.replace(row, motion_original=motion_o, detail=half, detail_full=full)
    if sw is None:
        return row
    pe = pose_error(face_pose(sw.landmarks, sw_img.shape[:2]), face_pose(og.landmarks, og_img.shape[:2]))
    motion_s = landmark_motion(prev[0].landmarks, sw.landmarks) if prev[0] is not None else NAN
    return dataclasses.replace(row, yaw=pe.yaw, pitch=pe.pitch, roll=pe.roll,
                               expression=expression_error(sw.landmarks, og.landmarks),
                               motion_swapped=motion_s, jitter=motion_s - motion_o,
                               seam=seam_score(sw_img, og_img, og.landmarks))


def _notes(rows: list[FrameMetrics], every: int) -> tuple[str, ...]:
    notes = []
    n_emb = sum(r.embedded for r in rows)
    if every > 1 and len(rows) > 1:
        notes.append(f"identity measured on every {every}th frame ({n_emb} of {len(rows)}); --every 1 for all")
    lost = sum(r.face_original and not r.face_swapped for r in rows)
    if lost:
        notes.append(f"no face found in the swapped output on {lost} frames that have one in the original")
    if not any(r.face_original for r in rows):
        notes.append("no face found in the original: nothing could be measured")
    return tuple(notes)


def _gallery_notes(source: Identity, gallery: tuple[Identity, ...]) -> tuple[str, ...]:
    """Warn about gallery entries that look like the source person: retrieval counts only the source."""
    return tuple(f"gallery entry '{g.name}' looks like the source person (distance "
                 f"{identity_distance(g.embedding, source.embedding):.2f}); retrieval counts a frame only when the "
                 "source itself is nearest, so give other people as --gallery"
                 for g in gallery if identity_distance(g.embedding, source.embedding) < SAME_PERSON_THRESHOLD)


def pose_split(errors: np.ndarray) -> tuple[float, float]:
    """``(offset, tracking)`` of one angle's signed per-frame errors (degrees; NaN frames skipped).

    The offset is the median error: a steady difference over the whole clip. A landmark pose
    estimate reads a face's proportions as part of its pose (a shorter nose reads as tilted), so
    a swapped face that follows every move of the head still shows an offset when its
    proportions are another person's. Tracking is the mean absolute error about that offset:
    how far the swapped head strays from the original's moves. NaN, NaN without a finite error.

    >>> pose_split(np.array([3.0, 4.0, 4.0, 5.0, np.nan]))
    (4.0, 0.5)
    """
    finite = errors[np.isfinite(errors)]
    if not finite.size:
        return NAN, NAN
    offset = float(np.median(finite))
    return offset, float(np.abs(finite - offset).mean())


def _nanmean(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else NAN


def _nanmedian(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(np.median(finite)) if finite.size else NAN


def _share(hits: np.ndarray, frames: Sequence[FrameMetrics]) -> float:
    return float(np.mean(hits)) if len(frames) else NAN


def _clean(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _round(obj: Any) -> Any:
    """Floats to 4 significant decimals, NaN to None, recursively (a readable, valid JSON summary)."""
    if isinstance(obj, dict):
        return {k: _round(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_round(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return round(float(obj), 4) if math.isfinite(obj) else None
    return obj
