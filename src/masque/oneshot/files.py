"""One-shot swap on files: an image, a folder, or a video, written labelled as synthetic.

Every output frame goes through ``labeler.mark`` and every finished file through
``labeler.finalize`` (invisible watermark + signed C2PA manifest); there is no way through these
functions to write an unlabelled file other than a :class:`~masque.provenance.LabelConfig` with
labelling turned off.

A video is processed as a three-stage pipeline: decoding runs in one thread, tracking + swapping
in the caller's thread, labelling + encoding in another. FFmpeg and OpenCV release the GIL, so on
two cores the stages overlap. Every decoded frame is written, so the frame count and frame rate
are kept, and the audio is copied packet for packet; frames without a face pass through.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from masque.errors import InputNotFoundError, InvalidMediaError
from masque.face import FaceAnalyzer
from masque.media import VideoReader, VideoWriter, is_image_path, is_video_path, read_image, write_image
from masque.oneshot.swap import OneShotSwapper, TargetSelector, swap_image
from masque.oneshot.track import FaceTracker, TrackerConfig
from masque.provenance.manifest import MIME_TYPES

Progress = Callable[[int, int | None], None]
_QUEUE_DEPTH = 8


class FrameLabeler(Protocol):
    """What :class:`masque.provenance.Labeler` offers: ``mark`` frames, ``finalize`` files."""

    def mark(self, frame: np.ndarray) -> np.ndarray: ...

    def finalize(self, path: str | os.PathLike[str]) -> None: ...


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


def _prefetch(frames: Iterable[np.ndarray], depth: int = _QUEUE_DEPTH) -> Iterator[np.ndarray]:
    """Iterate ``frames`` with the iteration (decoding) running ahead in a thread."""
    q: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    end = object()

    def produce() -> None:
        try:
            for frame in frames:
                while not stop.is_set():
                    try:
                        q.put(frame, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(end)
        except BaseException as exc:  # handed to the consumer, raised there
            q.put(exc)

    thread = threading.Thread(target=produce, name="masque-decode", daemon=True)
    thread.start()
    try:
        while (item := q.get()) is not end:
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        thread.join()


class _WriterThread:
    """Labels and encodes frames in a background thread; errors surface on the next call."""

    def __init__(self, writer: VideoWriter, labeler: FrameLabeler, depth: int = _QUEUE_DEPTH) -> None:
        self._writer = writer
        self._labeler = labeler
        self._queue: queue.Queue[np.ndarray | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="masque-encode", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (frame := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._writer.write(self._labeler.mark(frame))
                except BaseException as exc:  # raised in the caller's thread
                    self._error = exc

    def put(self, frame: np.ndarray) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(frame)

    def join(self) -> None:
        """Wait until every queued frame is written; raise what the thread raised."""
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error

    def cancel(self) -> None:
        """Stop after the frame being written; queued frames are dropped, errors ignored."""
        self._error = self._error or InterruptedError("cancelled")
        while True:  # make room for the end marker: the thread may be blocked on nothing else
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._queue.put(None)
        self._thread.join()


def swap_video(swapper: OneShotSwapper, target: Path, output: Path, analyzer: FaceAnalyzer,
               labeler: FrameLabeler, selector: TargetSelector | None = None,
               tracking: TrackerConfig | None = None, crf: int = 18,
               progress: Progress | None = None) -> SwapStats:
    """Swap the selected faces through the video ``target``; write the labelled video to ``output``.

    The output keeps the input's frame rate, frame count and audio. The file appears at ``output``
    only when complete (written to a temporary name, then renamed).
    """
    start = time.perf_counter()
    reader = VideoReader(target)
    tracker = FaceTracker(analyzer, selector or TargetSelector(), tracking)
    total = reader.info.frames or None
    frames = swapped = 0
    writer = VideoWriter(output, reader.info.fps, crf=crf, audio_from=target if reader.info.has_audio else None)
    encoder = _WriterThread(writer, labeler)
    try:
        for frame in _prefetch(reader):
            faces = tracker.update(frame)
            encoder.put(swapper.swap(frame, faces) if faces else frame)
            frames += 1
            swapped += bool(faces)
            if progress is not None:
                progress(frames, total)
        encoder.join()
        writer.close()
    except BaseException:
        encoder.cancel()
        writer.abort()
        raise
    labeler.finalize(output)
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


def _labelled_name(path: Path) -> str:
    """The output name of a folder member: its own, or .png / .mp4 where the manifest cannot go."""
    if path.suffix.lower() in MIME_TYPES:
        return path.name
    return path.stem + (".mp4" if is_video_path(path) else ".png")


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
        if is_video_path(path):
            stats += swap_video(swapper, path, output / _labelled_name(path), analyzer, labeler, selector, tracking)
        else:
            stats += swap_image_file(swapper, path, output / _labelled_name(path), analyzer, labeler, selector)
        if progress is not None:
            progress(i + 1, len(files))
    return stats
