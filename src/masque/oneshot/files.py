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

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from masque.errors import InputNotFoundError, InvalidMediaError
from masque.face import FaceAnalyzer, FaceTracker, TargetSelector, TrackerConfig
from masque.media import is_image_path, is_video_path, read_image, write_image
from masque.media.pipeline import FrameLabeler, Progress, process_video
from masque.oneshot.swap import OneShotSwapper, swap_image
from masque.provenance.manifest import labelled_name


@dataclass(frozen=True)
class SwapStats:
    """What a run did.

    Attributes:
        files: output files written.
        frames: frames (or images) written.
        swapped: frames in which at least one face was swapped.
        detections: frames on which the face detector ran (the rest were tracked).
        seconds: wall time.
    """

    files: int
    frames: int
    swapped: int
    detections: int
    seconds: float

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def __add__(self, other: SwapStats) -> SwapStats:
        return SwapStats(self.files + other.files, self.frames + other.frames, self.swapped + other.swapped,
                         self.detections + other.detections, self.seconds + other.seconds)


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


def target_files(target: Path) -> list[Path]:
    """The images and videos a target stands for: itself, or a folder's media files, sorted.

    Raises:
        InputNotFoundError: ``target`` does not exist.
        InvalidMediaError: it is neither an image, a video, nor a folder holding either.
    """
    if not target.exists():
        raise InputNotFoundError(f"target not found: {target}")
    if target.is_dir():
        files = sorted(p for p in target.iterdir() if p.is_file() and (is_image_path(p) or is_video_path(p)))
        if not files:
            raise InvalidMediaError(f"the folder {target} holds no image or video to swap into")
        return files
    if is_image_path(target) or is_video_path(target):
        return [target]
    raise InvalidMediaError(f"{target} is not an image, a video or a folder; give a .jpg/.png image, "
                            "an .mp4/.mov/.mkv video, or a folder of them")


def swap_path(swapper: OneShotSwapper, target: Path, output: Path, analyzer: FaceAnalyzer,
              labeler: FrameLabeler, selector: TargetSelector | None = None,
              tracking: TrackerConfig | None = None, progress: Progress | None = None) -> SwapStats:
    """Swap into an image, a video, or every image and video of a folder (``output`` is then a folder)."""
    files = target_files(target)
    if not target.is_dir():
        run = swap_video if is_video_path(target) else swap_image_file
        kwargs = {"tracking": tracking, "progress": progress} if run is swap_video else {}
        return run(swapper, target, output, analyzer, labeler, selector, **kwargs)  # type: ignore[operator]
    output.mkdir(parents=True, exist_ok=True)
    stats = SwapStats(0, 0, 0, 0, 0.0)
    for i, path in enumerate(files):
        out = output / labelled_name(path.name, is_video_path(path))
        if is_video_path(path):
            stats += swap_video(swapper, path, out, analyzer, labeler, selector, tracking)
        else:
            stats += swap_image_file(swapper, path, out, analyzer, labeler, selector)
        if progress is not None:
            progress(i + 1, len(files))
    return stats
