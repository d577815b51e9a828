"""``masque detect``: a fake score per face and per frame, a verdict per file, and masque's own labels.

The score is the SBI detector's estimate (:mod:`masque.forensics.net`); the labels (C2PA manifest,
invisible watermark, read by :func:`masque.provenance.verify_file`) are facts about how the file
was made and are reported beside the score, never mixed into it.

>>> from masque.forensics.detect import FakeDetector, detect_file   # doctest: +SKIP
>>> detect_file(FakeDetector(), Path("clip.mp4")).summary()        # doctest: +SKIP
"""

from __future__ import annotations

import heapq
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from masque.cpu import torch_threads
from masque.errors import InvalidMediaError, MasqueError
from masque.face import FaceAnalyzer
from masque.forensics.faces import FaceCrop, crops_in_image, iter_frames, media_files
from masque.forensics.net import DetectorCard, DetectorNet, default_detector_path, load_detector, to_tensor
from masque.media import is_image_path

#: frames whose faces drove a video's verdict, kept (with their pixels) for the report
DRIVERS = 3
#: a face's score is the mean fake probability of this share of its heat-map cells, the most suspicious
TOP_CELLS = 0.1
#: fewer faces than this are scored on one torch thread
SMALL_BATCH = 16


def map_score(heat: np.ndarray) -> np.ndarray:
    """``(N, h, w)`` heat maps in [0, 1] -> ``(N,)`` scores: the mean of each map's top :data:`TOP_CELLS`.

    Why the map and not the global head: both are trained, but on a held-out person the global
    head's scores drifted up with the training (SBI AUC 0.58 on clip_short at step 1039, against
    0.94 in the training domain) while the top map cells kept to the local evidence of a blend
    (0.92 held out; masque swap of Obama onto clip_short 0.96 against 0.34).
    """
    flat = np.sort(heat.reshape(len(heat), -1), axis=1)
    k = max(1, int(round(flat.shape[1] * TOP_CELLS)))
    return flat[:, -k:].mean(1).astype(np.float32)


@dataclass(frozen=True)
class DetectConfig:
    """How files are scored.

    Attributes:
        every: score every ``every``-th video frame.
        threshold: fake at or above this score; ``None``: the detector's own (its card).
        labels: also read masque's labels (C2PA, watermark).
        max_frames: stop a video after this many scored frames (``None``: all).
    """

    every: int = 5
    threshold: float | None = None
    labels: bool = True
    max_frames: int | None = None


@dataclass(frozen=True)
class FaceScore:
    """One scored face.

    Attributes:
        frame: frame index (0 for an image). index: face index in the frame, largest first.
        bbox: detector box in source pixels. score: fake probability in [0, 1].
        heat: ``(S/8, S/8)`` ``float32`` per-cell fake probability over the aligned crop.
        matrix: ``(2, 3)`` source-to-crop matrix of that crop.
    """

    frame: int
    index: int
    bbox: tuple[float, float, float, float]
    score: float
    heat: np.ndarray = field(repr=False, compare=False)
    matrix: np.ndarray = field(repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {"frame": self.frame, "face": self.index, "bbox": [round(float(v), 1) for v in self.bbox],
                "score": round(self.score, 4)}


class FakeDetector:
    """A loaded detector. ``path``: a file or folder from ``masque detect train``; default: the shipped one."""

    def __init__(self, path: str | os.PathLike[str] | None = None, analyzer: FaceAnalyzer | None = None) -> None:
        self.path = Path(path) if path is not None else default_detector_path()
        self.net: DetectorNet
        self.card: DetectorCard
        self.net, self.card = load_detector(self.path)
        self._analyzer = analyzer

    @property
    def analyzer(self) -> FaceAnalyzer:
        if self._analyzer is None:
            self._analyzer = FaceAnalyzer()
        return self._analyzer

    def score(self, crops: list[np.ndarray] | np.ndarray, batch: int = 64,
              raw: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Fake probabilities of aligned crops.

        Args:
            crops: ``(N, S, S, 3)`` ``uint8`` RGB crops aligned as :mod:`masque.forensics.faces` does.
            raw: skip the card's calibration (the scores calibration is fitted on).

        Returns:
            ``(N,)`` ``float32`` scores in [0, 1] (:func:`map_score` of the heat maps, calibrated by
            the card's Platt scaling unless ``raw``) and ``(N, S/8, S/8)`` ``float32`` heat maps in
            [0, 1] (per-cell probabilities, uncalibrated).
        """
        n = len(crops)
        if n == 0:
            cells = self.card.size // 8
            return np.zeros(0, np.float32), np.zeros((0, cells, cells), np.float32)
        heats = []
        # one thread for a frame's few faces: a second one spins at barriers whenever anything else
        # runs (measured on 2 loaded cores: one face 15 ms on one thread, 450 ms on two)
        threads = 1 if n < SMALL_BATCH else min(2, os.cpu_count() or 1)
        with torch.inference_mode(), torch_threads(threads):
            for i in range(0, n, batch):
                _, logit_map = self.net(to_tensor(crops[i:i + batch]))
                heats.append(torch.sigmoid(logit_map).numpy())
        heat = np.concatenate(heats).astype(np.float32)
        scores = map_score(heat)
        if raw or self.card.calibration == (1.0, 0.0):
            return scores, heat
        from masque.forensics.calibrate import calibrated

        return calibrated(scores, *self.card.calibration), heat

    def score_faces(self, crops: list[FaceCrop]) -> list[FaceScore]:
        """Score face crops found by :func:`masque.forensics.faces.crops_in_image`."""
        scores, heats = self.score([c.image for c in crops])
        return [FaceScore(c.frame, c.index, c.bbox, float(s), h, c.matrix) for c, s, h in zip(crops, scores, heats)]


@dataclass(frozen=True)
class FileVerdict:
    """What ``masque detect`` says of one file.

    Attributes:
        path, media: the file and ``image`` or ``video``.
        frames: frames scored. faces: every scored face.
        frame_scores: ``(frame, score)`` per scored frame with a face (its most suspicious face).
        score: the file's score (an image: its most suspicious face; a video: the mean frame score),
            ``None`` when no face was found.
        threshold: the threshold used. fake: ``score >= threshold``. confidence: in [0, 1], how far
            the score is from the threshold towards 0 or 1.
        drivers: the most suspicious faces (of the frames kept in ``driver_frames``): what made a fake
            verdict, or what came closest to one.
        labels: masque's own labels (``labelled``, ``manifest``, ``watermark``), or ``None`` when not read.
    """

    path: str
    media: str
    frames: int
    faces: tuple[FaceScore, ...]
    frame_scores: tuple[tuple[int, float], ...]
    score: float | None
    threshold: float
    fake: bool
    confidence: float
    drivers: tuple[FaceScore, ...]
    driver_frames: dict[int, np.ndarray] = field(repr=False, compare=False, default_factory=dict)
    labels: dict[str, Any] | None = None

    @property
    def labelled(self) -> bool:
        """True when masque's own label (manifest or watermark) says the file is synthetic: a fact."""
        return bool(self.labels and self.labels.get("labelled"))

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "media": self.media, "frames_scored": self.frames, "faces_scored": len(self.faces),
                "score": None if self.score is None else round(self.score, 4), "threshold": self.threshold,
                "looks_fake": self.fake, "confidence": round(self.confidence, 3),
                "drivers": [d.to_dict() for d in self.drivers],
                "frame_scores": [[f, round(s, 4)] for f, s in self.frame_scores],
                "labelled_by_masque": self.labelled if self.labels is not None else None, "labels": self.labels}

    def summary(self) -> str:
        """A few human-readable lines."""
        if self.score is None:
            head = f"{self.path}: NO FACE FOUND ({self.media}, {self.frames} frame(s) scored)"
        else:
            verdict = "LOOKS FAKE" if self.fake else "looks real"
            head = (f"{self.path}: {verdict} (detector estimate: score {self.score:.2f}, threshold "
                    f"{self.threshold:.2f}, confidence {self.confidence:.2f}; {len(self.faces)} face(s) in "
                    f"{self.frames} frame(s))")
        lines = [head]
        if self.drivers:
            lines.append("  driven by: " + ", ".join(
                f"frame {d.frame} face {d.index} ({d.score:.2f})" for d in self.drivers))
        if self.labels is None:
            lines.append("  masque labels: not read")
        elif self.labelled:
            lines.append(f"  LABELLED AS SYNTHETIC BY MASQUE (a fact: manifest {self.labels['manifest']}, "
                         f"watermark {'found' if self.labels['watermark'] else 'not found'})")
        else:
            lines.append(f"  masque labels: none (manifest {self.labels['manifest']}, watermark not found); "
                         "another tool's fake would carry none either")
        return "\n".join(lines)


def expand_inputs(paths: list[Path]) -> list[Path]:
    """Files and folders' media files, in order; a missing path is kept (reported as unreadable later)."""
    out: list[Path] = []
    for p in paths:
        out += media_files([p]) if p.is_dir() else [p]
    return out


def detect_file(detector: FakeDetector, path: str | os.PathLike[str],
                config: DetectConfig | None = None) -> FileVerdict:
    """Score every face of an image, or of every ``config.every``-th frame of a video.

    Raises:
        InputNotFoundError: the file does not exist.
        InvalidMediaError: it cannot be decoded.
    """
    config = config or DetectConfig()
    path = Path(path)
    media = "image" if is_image_path(path) else "video"
    threshold = detector.card.threshold if config.threshold is None else config.threshold
    faces: list[FaceScore] = []
    frame_scores: list[tuple[int, float]] = []
    kept: list[tuple[float, int, np.ndarray]] = []  # min-heap of the most suspicious frames
    frames = 0
    for i, frame in iter_frames(path, config.every, config.max_frames):
        frames += 1
        scored = detector.score_faces(crops_in_image(detector.analyzer, frame, detector.card.size, str(path), i))
        if not scored:
            continue
        faces += scored
        top = max(f.score for f in scored)
        frame_scores.append((i, top))
        heapq.heappush(kept, (top, i, frame))
        if len(kept) > DRIVERS:
            heapq.heappop(kept)
    if frames == 0:
        raise InvalidMediaError(f"{path} has no frames; give a complete image or video")
    labels = read_labels(path) if config.labels else None
    return verdict(str(path), media, frames, faces, frame_scores, threshold, {i: f for _, i, f in kept}, labels)


def verdict(path: str, media: str, frames: int, faces: list[FaceScore], frame_scores: list[tuple[int, float]],
            threshold: float, kept: dict[int, np.ndarray], labels: dict[str, Any] | None) -> FileVerdict:
    """Aggregate face scores into a file's verdict."""
    if not faces:
        return FileVerdict(path, media, frames, (), (), None, threshold, False, 0.0, (), {}, labels)
    score = float(max(f.score for f in faces)) if media == "image" else float(np.mean([s for _, s in frame_scores]))
    fake = score >= threshold
    confidence = (score - threshold) / max(1e-6, 1 - threshold) if fake else (threshold - score) / max(1e-6, threshold)
    ranked = sorted(faces, key=lambda f: -f.score)
    drivers = tuple(f for f in ranked if f.frame in kept)[:DRIVERS]
    keep = {d.frame: kept[d.frame] for d in drivers if d.frame in kept}
    return FileVerdict(path, media, frames, tuple(faces), tuple(frame_scores), score, threshold, fake,
                       float(np.clip(confidence, 0, 1)), drivers, keep, labels)


def read_labels(path: Path) -> dict[str, Any]:
    """masque's labels of a file: ``{"labelled", "manifest", "watermark", "confidence"}``."""
    from masque.provenance import verify_file

    try:
        r = verify_file(path)
    except MasqueError as exc:
        return {"labelled": False, "manifest": "unreadable", "watermark": False, "confidence": 0.0,
                "error": str(exc)}
    return {"labelled": r.labelled, "manifest": r.manifest.status, "watermark": r.watermark.found,
            "confidence": round(float(r.watermark.confidence), 3), "run_id": r.watermark.run_id or r.manifest.run_id}
