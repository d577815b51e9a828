"""Stylise (or translate) an image, a video, or a folder of them, writing labelled outputs.

A :class:`FrameStyler` turns one RGB frame into another; :func:`style_path` runs it over the files
:mod:`masque.compose.files` names (the one image/video/folder driver of masque), marking every
frame with the labeller and finalising every file (watermark + C2PA manifest). Videos keep their
frame rate, frame count and audio (:func:`masque.media.pipeline.process_video`).
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from masque.compose.files import run_path
from masque.media import is_video_path, read_image, write_image
from masque.media.pipeline import FrameLabeler, Progress, process_video

#: ``frame -> frame`` for consecutive frames of one video (it may keep state between calls)
FrameFn = Callable[[np.ndarray], np.ndarray]


class FrameStyler(Protocol):
    """What :func:`style_path` needs: a still-image function and a per-video (stateful) one.

    Both take and return RGB ``uint8`` ``(H, W, 3)``; output sizes may differ from the input's,
    but every frame of one video must come out the same size.
    """

    def image(self, rgb: np.ndarray) -> np.ndarray: ...

    def video(self) -> FrameFn: ...


@dataclass(frozen=True)
class StyleStats:
    """What a run did: files and frames written, wall seconds, files of a folder skipped."""

    files: int
    frames: int
    seconds: float
    skipped: tuple[Path, ...] = ()

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def __add__(self, other: StyleStats) -> StyleStats:
        return StyleStats(self.files + other.files, self.frames + other.frames, self.seconds + other.seconds,
                          self.skipped + other.skipped)


def style_path(styler: FrameStyler, source: Path, output: Path, labeler: FrameLabeler,
               progress: Progress | None = None, crf: int = 18) -> StyleStats:
    """Run ``styler`` on an image, a video, or every image and video of a folder (``output`` then a folder)."""

    def job(src: Path, dst: Path, file_progress: Progress | None) -> StyleStats:
        start = time.perf_counter()
        if is_video_path(src):
            many = getattr(styler, "frames", None)  # stateless stylers take several frames at once
            if many is not None:
                frames = process_video(src, dst, many, labeler, crf=crf, batch=max(2, os.cpu_count() or 1),
                                       progress=file_progress)
                return StyleStats(1, frames, time.perf_counter() - start)
            fn = styler.video()
            frames = process_video(src, dst, lambda batch: [fn(batch[0])], labeler, crf=crf, progress=file_progress)
            return StyleStats(1, frames, time.perf_counter() - start)
        write_image(dst, labeler.mark(styler.image(read_image(src))))
        labeler.finalize(dst)
        return StyleStats(1, 1, time.perf_counter() - start)

    run = run_path(source, output, job, progress)
    stats = sum(run.results, StyleStats(0, 0, 0.0))
    return dataclasses.replace(stats, skipped=tuple(path for path, _ in run.skipped))


def even_size(image: np.ndarray) -> np.ndarray:
    """Crop a pixel row/column off so both sides are even (H.264's 4:2:0 needs even sides)."""
    h, w = image.shape[:2]
    return image[: h - h % 2, : w - w % 2]
