"""Run a :class:`Converter` over a video, an image or a folder, labelling every output."""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from masque.cpu import torch_threads
from masque.convert.pipeline import ConvertConfig, Converter, Progress, _threaded, batches, check_inputs
from masque.errors import MasqueError
from masque.media import VideoReader, VideoWriter, is_image_path, read_image, write_image
from masque.provenance import LabelConfig, Labeler

log = logging.getLogger(__name__)


@dataclass
class ConvertSummary:
    frames: int = 0
    faces: int = 0
    seconds: float = 0.0
    outputs: tuple[Path, ...] = ()

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds else 0.0


def convert_path(converter: Converter, input_path: str | os.PathLike[str], output: str | os.PathLike[str],
                 labels: LabelConfig | None = None, progress: Progress | None = None) -> ConvertSummary:
    """Convert a video, an image, or every image of a folder into ``output`` (same kind).

    Raises:
        InputNotFoundError / InvalidMediaError: a missing or unreadable input, or an output of the wrong kind.
    """
    src, dst = Path(input_path), Path(output)
    check_inputs(src, dst)
    labeler = Labeler(labels or LabelConfig(kind="composite"))
    start = time.perf_counter()
    with torch_threads(1, converter.device):  # the model beside decode/track/paste/encode threads
        if src.is_dir():
            summary = _convert_folder(converter, src, dst, labeler, progress)
        elif is_image_path(src):
            summary = ConvertSummary(frames=1, outputs=(_convert_image(converter, src, dst, labeler),))
        else:
            summary = _convert_video(converter, src, dst, converter.config, labeler, progress)
    summary.faces = converter.faces_swapped
    summary.seconds = time.perf_counter() - start
    return summary


class _Sink:
    """Runs ``write`` on each item in a background thread, so labelling and H.264 encoding
    overlap the next batch; an error in the thread is raised in the caller at the next put or
    at exit."""

    def __init__(self, write: Callable[[np.ndarray], None], depth: int = 16) -> None:
        self._write = write
        self._queue: queue.Queue[np.ndarray | None] = queue.Queue(depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._write(item)
                except BaseException as exc:  # handed to the caller
                    self._error = exc

    def put(self, item: np.ndarray) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(item)

    def __enter__(self) -> _Sink:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._queue.put(None)
        self._thread.join()
        if self._error is not None and exc[0] is None:
            raise self._error


def _convert_image(converter: Converter, src: Path, dst: Path, labeler: Labeler) -> Path:
    converter.reset()
    out = converter.convert_frames([read_image(src)])[0]
    write_image(dst, labeler.mark(out))
    labeler.finalize(dst)
    return dst


def _convert_folder(converter: Converter, src: Path, dst: Path, labeler: Labeler,
                    progress: Progress | None) -> ConvertSummary:
    images = sorted(p for p in src.iterdir() if p.is_file() and is_image_path(p))
    outputs = []
    for i, path in enumerate(images):
        try:
            outputs.append(_convert_image(converter, path, dst / path.name, labeler))
        except MasqueError as exc:  # one bad file must not cost the others
            log.warning("skipping %s: %s", path, exc)
        if progress:
            progress(i + 1, len(images))
    return ConvertSummary(frames=len(outputs), outputs=tuple(outputs))


def _convert_video(converter: Converter, src: Path, dst: Path, config: ConvertConfig, labeler: Labeler,
                   progress: Progress | None) -> ConvertSummary:
    reader = VideoReader(src)
    info = reader.info
    done = 0
    with VideoWriter(dst, info.fps, crf=config.crf, audio_from=src if info.has_audio else None) as writer, \
            _Sink(lambda f: writer.write(labeler.mark(f))) as sink:
        for batch in batches(_threaded(reader), config.batch):
            for frame in converter.convert_frames(batch):
                sink.put(frame)
            done += len(batch)
            if progress:
                progress(done, info.frames or None)
    labeler.finalize(dst)
    return ConvertSummary(frames=done, outputs=(dst,))
