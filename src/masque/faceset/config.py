"""Options of extract (:func:`masque.faceset.extract.extract_faceset`), apart from the run itself,
so that the worker processes and the parent read one definition without importing each other."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class ExtractConfig:
    """Options of :func:`extract_faceset`.

    Attributes:
        size: side of the aligned PNGs in pixels.
        centering: ``face`` (brows to chin) or ``head`` (hair and ears too).
        every: keep every N-th video frame.
        min_face: drop faces whose detector box is narrower than this (source pixels).
        detector / upsample / max_side: see :class:`masque.face.AnalyzerConfig`.
        identity: reference embeddings ``(K, 128)`` (:func:`masque.face.reference_embeddings`);
            when set, only faces within ``identity_threshold`` of their mean are kept.
        workers: analysis processes; 0 runs in this process (debugging, tiny inputs).
        chunk: consecutive frames per work unit (at least ``detect_every``: each starts with a
            detection, since chunks run in parallel).
        detect_every: in a video, run the detector on every N-th frame and track faces in
            between (1 = detect on every frame), by the policy of :mod:`masque.face.track`. A
            face that enters is found within N-1 frames (7 by default: a quarter of a second at
            30 frames/s); one that returns after the tracker lost it, within 3 when it is at
            least 160 px wide (cheap half-resolution looks while no face is followed). A full
            HOG pass costs 15 ms on a 640x360 frame, a half-resolution one 4 ms, tracking a
            face 1-2 ms.
        embed_every_frame: compute the identity embedding on every frame; by default a tracked
            face keeps the embedding of the frame where it was last detected (at most
            ``detect_every - 1`` frames earlier), which saves most of the network's time.
        sequence: the image files given (a folder's in name order) are consecutive frames of a
            video, as ffmpeg or DeepFaceLab write them: track faces between them as in a video,
            with a detection every ``detect_every`` images. By default every image is detected
            on its own.
    """

    size: int = 256
    centering: str = "face"
    every: int = 1
    min_face: int = 0
    detector: str = "hog"
    upsample: int = 0
    max_side: int = 1280
    identity: np.ndarray | None = field(default=None, compare=False)
    identity_threshold: float = 0.6
    workers: int = field(default_factory=lambda: min(2, os.cpu_count() or 1))
    chunk: int = 8
    detect_every: int = 8
    embed_every_frame: bool = False
    sequence: bool = False
