"""A video through a per-frame function, as a three-stage pipeline, written labelled.

Decoding runs in one thread, the caller's function in the caller's thread, labelling and H.264
encoding in another; FFmpeg, OpenCV and torch release the GIL, so on two cores the stages
overlap. Every decoded frame is written, so frame count and frame rate are kept, and the audio
is copied packet for packet. The file appears at the output path only when complete.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Protocol

import numpy as np

from masque.media.video import VideoReader, VideoWriter

Progress = Callable[[int, int | None], None]
_QUEUE_DEPTH = 8


class FrameLabeler(Protocol):
    """What :class:`masque.provenance.Labeler` offers: ``mark`` frames, ``finalize`` files."""

    def mark(self, frame: np.ndarray) -> np.ndarray: ...

    def finalize(self, path: str | os.PathLike[str]) -> None: ...


def prefetch(items: Iterable[np.ndarray], depth: int = _QUEUE_DEPTH) -> Iterator[np.ndarray]:
    """Iterate ``items`` with the iteration (decoding) running ahead in a thread."""
    q: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    end = object()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
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


def _batches(frames: Iterable[np.ndarray], size: int) -> Iterator[list[np.ndarray]]:
    batch: list[np.ndarray] = []
    for frame in frames:
        batch.append(frame)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def process_video(source: Path, output: Path, process: Callable[[list[np.ndarray]], list[np.ndarray]],
                  labeler: FrameLabeler, *, crf: int = 18, batch: int = 1, progress: Progress | None = None) -> int:
    """Write ``process`` applied to the frames of ``source`` (``batch`` consecutive RGB frames a
    call, one output frame per input frame) to ``output``, labelled; returns the frame count.

    On any error, Ctrl-C included, the partial output is removed and ``output`` is untouched.
    """
    reader = VideoReader(source)
    total = reader.info.frames or None
    writer = VideoWriter(output, reader.info.fps, crf=crf, audio_from=source if reader.info.has_audio else None)
    encoder = _WriterThread(writer, labeler)
    done = 0
    try:
        for frames in _batches(prefetch(reader), batch):
            for frame in process(frames):
                encoder.put(frame)
            done += len(frames)
            if progress is not None:
                progress(done, total)
        encoder.join()
        writer.close()
    except BaseException:
        encoder.cancel()
        writer.abort()
        raise
    labeler.finalize(output)
    return done
