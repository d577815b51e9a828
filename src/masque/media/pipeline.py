"""A video through a per-frame function, as a three-stage pipeline, written labelled.

Decoding runs in one thread, the caller's function in the caller's thread (after any stages
of its own, each in a thread: :func:`staged`), labelling and H.264 encoding in another; FFmpeg,
OpenCV, dlib and torch release the GIL, so on two cores the stages overlap. Every decoded frame
is written, so frame count and frame rate are kept, and the audio is copied packet for packet.
The file appears at the output path only when complete.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np

from masque.media.video import VideoReader, VideoWriter

Progress = Callable[[int, int | None], None]
_QUEUE_DEPTH = 8
#: batches waiting between two stages of :func:`staged`
_STAGE_DEPTH = 2
T = TypeVar("T")


class FrameLabeler(Protocol):
    """What :class:`masque.provenance.Labeler` offers: ``mark`` frames, ``finalize`` files."""

    def mark(self, frame: np.ndarray) -> np.ndarray: ...

    def finalize(self, path: str | os.PathLike[str]) -> None: ...


def prefetch(items: Iterable[T], depth: int = _QUEUE_DEPTH, name: str = "masque-decode") -> Iterator[T]:
    """Iterate ``items`` with the iteration (decoding) running ahead in a thread.

    When the iteration ends early (the consumer stops or fails), ``items`` is closed in that
    thread, so a chain of these (:func:`staged`) winds down stage by stage.
    """
    q: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    end = object()

    def put(item: object) -> bool:
        """Queue ``item`` unless the consumer stopped (then a full queue would block for ever)."""
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(end)
        except BaseException as exc:  # handed to the consumer, raised there
            put(exc)
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name=name, daemon=True)
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


def _apply(stage: Callable[[Any], Any], items: Iterator[Any]) -> Iterator[Any]:
    try:
        for item in items:
            yield stage(item)
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            close()


def staged(items: Iterable[Any], stages: Sequence[Callable[[Any], Any]]) -> Iterator[Any]:
    """``items`` through each of ``stages`` in turn, every stage in a thread of its own.

    Each stage sees the items in order, one at a time, so a stage may keep state from one item
    to the next; the stages overlap (stage 2 works on item k while stage 1 works on item k + 1),
    which keeps both cores busy when the stages release the GIL (OpenCV, dlib, torch, FFmpeg).
    An exception in a stage is raised to the consumer; when the consumer stops, every stage
    stops after its current item.
    """
    it: Iterator[Any] = iter(items)
    for i, stage in enumerate(stages):
        it = prefetch(_apply(stage, it), _STAGE_DEPTH, name=f"masque-stage-{i}")
    return it


def _batches(frames: Iterable[np.ndarray], size: int) -> Iterator[list[np.ndarray]]:
    batch: list[np.ndarray] = []
    for frame in frames:
        batch.append(frame)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def process_video(source: Path, output: Path, process: Callable[[Any], list[np.ndarray]],
                  labeler: FrameLabeler, *, crf: int = 18, batch: int = 1, progress: Progress | None = None,
                  stages: Sequence[Callable[[Any], Any]] = ()) -> int:
    """Write ``process`` applied to the frames of ``source`` (``batch`` consecutive RGB frames a
    call, one output frame per input frame) to ``output``, labelled; returns the frame count.

    ``stages``: functions the batches go through before ``process``, each in a thread of its own
    (:func:`staged`); ``process`` then takes the last stage's result and runs in the caller's thread.

    On any error, Ctrl-C included, the partial output is removed and ``output`` is untouched.
    """
    reader = VideoReader(source)
    total = reader.info.frames or None
    writer = VideoWriter(output, reader.info.fps, crf=crf, audio_from=source if reader.info.has_audio else None)
    encoder = _WriterThread(writer, labeler)
    done = 0
    batches = _batches(prefetch(reader), batch)
    if stages:
        batches = staged(batches, stages)
    try:
        for item in batches:
            frames = process(item)
            for frame in frames:
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
    finally:
        close = getattr(batches, "close", None)
        if close is not None:  # stop the stage threads now, not when the generator is collected
            close()
    labeler.finalize(output)
    return done
