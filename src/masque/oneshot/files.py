"""One-shot swap on files: an image, a folder, or a video, written labelled as synthetic.

Every output frame goes through ``labeler.mark`` and every finished file through
``labeler.finalize`` (invisible watermark + signed C2PA manifest); there is no way through these
functions to write an unlabelled file other than a :class:`~masque.provenance.LabelConfig` with
labelling turned off.

A video goes through :func:`masque.media.pipeline.process_video` (decode, swap and encode
overlapping in three threads; frame count, frame rate and audio kept); frames without a face pass
through.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from masque.compose.files import run_path
from masque.face import FaceAnalyzer, FaceTracker, TargetSelector, TrackerConfig
from masque.media import is_video_path, read_image, write_image
from masque.media.pipeline import FrameLabeler, Progress, process_video
from masque.oneshot.swap import OneShotSwapper, swap_image


@dataclass(frozen=True)
class SwapStats:
    """What a run did.

    Attributes:
        files: output files written.
        frames: frames (or images) written.
        swapped: frames in which at least one face was swapped.
        detections: frames on which the face detector ran (the rest were tracked).
        seconds: wall time.
        skipped: files of a folder that could not be decoded (see :mod:`masque.compose.files`).
    """

    files: int
    frames: int
    swapped: int
    detections: int
    seconds: float
    skipped: tuple[Path, ...] = ()

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def __add__(self, other: SwapStats) -> SwapStats:
        return SwapStats(self.files + other.files, self.frames + other.frames, self.swapped + other.swapped,
                         self.detections + other.detections, self.seconds + other.seconds,
                         self.skipped + other.skipped)


def swap_image_file(swapper: OneShotSwapper, target: Path, output: Path, analyzer: FaceAnalyzer,
                    labeler: FrameLabeler, selector: TargetSelector | None = None) -> SwapStats:
    """Swap the selected faces of the image ``target`` and write the labelled result to ``output``."""
    start = time.perf_counter()
    out, faces = swap_image(swapper, read_image(target), analyzer, selector)
    write_image(output, labeler.mark(out))
    labeler.finalize(output)
    return SwapStats(1, 1, int(bool(faces)), 1, time.perf_counter() - start)


def swap_video(swapper: OneShotSwapper, target: Path, output: Path, analyzer: FaceAnalyzer,
               labeler: FrameLabeler, selector: TargetSelector | None = None,
               tracking: TrackerConfig | None = None, crf: int = 18,
               progress: Progress | None = None) -> SwapStats:
    """Swap the selected faces through the video ``target``; write the labelled video to ``output``.

    The output keeps the input's frame rate, frame count and audio. The file appears at ``output``
    only when complete (written to a temporary name, then renamed).
    """
    start = time.perf_counter()
    tracker = FaceTracker(analyzer, selector or TargetSelector(), tracking)
    swapped = 0

    def swap_frames(frames: list[np.ndarray]) -> list[np.ndarray]:
        nonlocal swapped
        faces = tracker.update(frames[0])
        swapped += bool(faces)
        return [swapper.swap(frames[0], faces) if faces else frames[0]]

    frames = process_video(target, output, swap_frames, labeler, crf=crf, progress=progress)
    return SwapStats(1, frames, swapped, tracker.detections, time.perf_counter() - start)


def swap_path(swapper: OneShotSwapper, target: Path, output: Path, analyzer: FaceAnalyzer,
              labeler: FrameLabeler, selector: TargetSelector | None = None,
              tracking: TrackerConfig | None = None, progress: Progress | None = None) -> SwapStats:
    """Swap into an image, a video, or every image and video of a folder (``output`` is then a folder).

    Which files of a folder, the output names and what happens to a damaged file follow
    :mod:`masque.compose.files`, the rule ``masque convert`` uses too.
    """

    def job(src: Path, dst: Path, file_progress: Progress | None) -> SwapStats:
        if is_video_path(src):
            return swap_video(swapper, src, dst, analyzer, labeler, selector, tracking, progress=file_progress)
        return swap_image_file(swapper, src, dst, analyzer, labeler, selector)

    run = run_path(target, output, job, progress)
    stats = sum(run.results, SwapStats(0, 0, 0, 0, 0.0))
    return dataclasses.replace(stats, skipped=tuple(path for path, _ in run.skipped))
