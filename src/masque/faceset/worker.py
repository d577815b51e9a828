"""The per-frame work of extract.

Worker processes detect, track, landmark, align, score and PNG-encode (dlib holds the GIL, so
threads would not run them in parallel); they never touch torch. The parent runs the identity
network on the chips they return, filters by identity, writes the PNGs and commits.

Workers come from a fork server, not from a fork of the caller: a process forked from one whose
thread pools (OpenMP, OpenCV) have run can hang the first time it touches them (seen in the test
suite: children stuck in ``pthread_cond_destroy`` inside ``cv2.setNumThreads``). The fork server
is a clean single-threaded process, so its children are safe; as with ``spawn``, a script that
calls extract with workers needs the usual ``if __name__ == "__main__":`` guard (without it the
workers fail as they start, and extract raises :class:`~masque.errors.WorkerDiedError`), and
its main module's imports run again in each worker: keep torch's inside the guard.
"""

from __future__ import annotations

import dataclasses
import multiprocessing as mp
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import cv2
import numpy as np

from masque.atomic import atomic_write_bytes
from masque.errors import MasqueError, WorkerDiedError
from masque.face import (
    Face,
    FaceTracker,
    TargetSelector,
    TrackedFace,
    TrackerConfig,
    align_face,
    blur_score,
    identity_distance,
    landmark_mask,
)
from masque.face.embed import face_chip
from masque.face.track import CHEAP_LOOKS
from masque.faceset.ring import Attached, Chunk
from masque.faceset.store import FACES_DIR, FaceRecord
from masque.media.image import encode_image, read_image

T = TypeVar("T")
R = TypeVar("R")

if TYPE_CHECKING:
    from masque.face import FaceAnalyzer
    from masque.face.embed import Embedder
    from masque.faceset.config import ExtractConfig


@dataclass
class PendingFace:
    """A face analysed by a worker, waiting for its embedding.

    ``chip`` is the ResNet input when the face was detected; a tracked face has ``parent``
    instead: its index in the previous frame, whose embedding it keeps.
    """

    record: FaceRecord
    png: bytes
    chip: np.ndarray | None
    parent: int | None


@dataclass
class FrameResult:
    index: int
    records: list[FaceRecord]
    rejected: int = 0


class _State:
    """What a worker holds: the detector and landmark predictor, loaded once, and the tracker."""

    def __init__(self, config: ExtractConfig, analyzer: FaceAnalyzer | None = None) -> None:
        from masque.face import AnalyzerConfig, FaceAnalyzer

        self.config = config
        wanted = AnalyzerConfig(detector=config.detector, upsample=config.upsample, max_side=config.max_side,
                                min_face=config.min_face)
        if analyzer is not None and analyzer.config == wanted:
            self.analyzer = analyzer
        else:  # another detector or option: build it, but keep the fork server's landmark model
            self.analyzer = FaceAnalyzer(wanted, predictor=analyzer.predictor if analyzer else None)
        # extract keeps every face (identity filtering is the parent's, on the embeddings)
        self.tracker = FaceTracker(self.analyzer, TargetSelector("all"),
                                   TrackerConfig(redetect_every=config.detect_every, **CHEAP_LOOKS))


# Per process, never shared: _STATE is set by the pool initializer in each worker; _WARM is the
# default analyzer the fork server loads once (``warm_up``), so workers forked from it start
# with the models already in memory instead of each spending a second or two loading them;
# _SHARED maps the parent's shared frame segment (masque.faceset.ring).
_STATE: _State | None = None
_WARM: FaceAnalyzer | None = None
_SHARED = Attached()
_INIT_ERROR: Exception | None = None


def warm_up() -> None:
    """Load the default detector and predictor into this process (the fork server's preload)."""
    global _WARM
    from masque.face import FaceAnalyzer

    _WARM = FaceAnalyzer()


def _init(config: ExtractConfig) -> None:
    global _STATE, _INIT_ERROR
    cv2.setNumThreads(1)  # the workers already fill the cores
    try:
        _STATE = _State(config, _WARM)
    except Exception as exc:  # an unknown detector, a missing optional package...
        # Raised again with the first chunk, so the parent sees this error: a worker whose
        # initializer raises exits, and the executor would only say that a process died.
        _INIT_ERROR = exc


Analysed = list[tuple[int, list[PendingFace]]]  # (frame index, its faces) for each frame of a chunk


@dataclass
class ImageChunk:
    """Image files ``[(source id, path)]`` for one work unit. The worker reads them itself, so
    decoding runs in parallel too and only paths cross the pipe."""

    images: list[tuple[int, str]]


def _state() -> _State:
    if _INIT_ERROR is not None:
        raise _INIT_ERROR
    if _STATE is None:
        # an internal bug (the executor runs the initializer first), never a user error: stays built-in
        raise RuntimeError("extract worker used before its initializer ran")
    return _STATE


def _process(chunk: Chunk) -> Analysed:
    return analyse_chunk(_state(), chunk.source_id, _SHARED.frames(chunk))


def _process_images(chunk: ImageChunk) -> list[Analysed | MasqueError]:
    return analyse_images(_state(), chunk)


def analyse_images(state: _State, chunk: ImageChunk) -> list[Analysed | MasqueError]:
    """Each image of ``chunk`` read and analysed as a one-frame source (frame 0), or the error
    that made it unreadable, in order. With ``config.sequence`` the images are consecutive frames
    and faces are tracked between them as in a video (an unreadable one or another size breaks
    the track: the next is detected afresh)."""
    out: list[Analysed | MasqueError] = []
    previous: list[TrackedFace] | None = None
    shape: tuple[int, ...] = ()
    for source_id, path in chunk.images:
        try:
            image = read_image(path)
        except MasqueError as exc:  # reported by the parent; the other images go on
            out.append(exc)
            previous = None
            continue
        follows = state.config.sequence and previous is not None and image.shape == shape
        faces, parents, previous = _faces(state, image, previous if follows else None)
        out.append([(0, [_pending(state, source_id, 0, image, face_index=j, face=f, parent=p)
                         for j, (f, p) in enumerate(zip(faces, parents))])])
        shape = image.shape
    return out


def analyse_chunk(state: _State, source_id: int, frames: list[tuple[int, np.ndarray]]) -> Analysed:
    """Faces of consecutive ``frames`` ``[(index, RGB uint8 (H, W, 3))]`` of one source, aligned
    and encoded, embeddings still to compute.

    Faces are followed by :class:`~masque.face.track.FaceTracker` (its policy: detect every
    ``detect_every`` frames, track in between, re-detect on loss or a scene cut, look cheaply
    while no face is followed). A gap of more than one skipped frame starts it afresh.
    """
    out: Analysed = []
    previous: list[TrackedFace] | None = None
    prev_index = -10
    for index, frame in frames:
        faces, parents, previous = _faces(state, frame, previous if index - prev_index <= 2 else None)
        out.append((index, [_pending(state, source_id, index, frame, face_index=j, face=f, parent=p)
                            for j, (f, p) in enumerate(zip(faces, parents))]))
        prev_index = index
    return out


def _faces(state: _State, frame: np.ndarray, previous: list[TrackedFace] | None
           ) -> tuple[list[Face], list[int | None], list[TrackedFace]]:
    """The faces of the next frame of a run (with no ``previous`` frame, None, detected
    afresh); for each, the index of the previous frame's face whose embedding it keeps (None:
    embed it, as every face the detector found on this frame); and the ``previous`` of the next."""
    if previous is None:
        state.tracker.reset()
    tracked = state.tracker.track(frame)
    where = {t.track: j for j, t in enumerate(previous or [])}
    parents = [None if t.detected or state.config.embed_every_frame else where.get(t.track) for t in tracked]
    return [t.face for t in tracked], parents, tracked


def _pending(state: _State, source_id: int, index: int, frame: np.ndarray, *, face_index: int, face: Face,
             parent: int | None) -> PendingFace:
    aligned = align_face(frame, face.landmarks, state.config.size, state.config.centering)  # type: ignore[arg-type]
    mask = landmark_mask(aligned.landmarks, aligned.image.shape[:2])
    yaw, pitch, roll = face.pose or (float("nan"),) * 3
    record = FaceRecord("", index, face_index, face.bbox, face.landmarks, aligned.matrix, None, yaw, pitch, roll,
                        blur_score(aligned.image, mask), face.score,
                        f"{FACES_DIR}/{source_id:04d}_{index:07d}_{face_index}.png")
    chip = face_chip(frame, face.landmarks) if parent is None else None
    return PendingFace(record, encode_image(aligned.image, ".png"), chip, parent)


def finish_chunk(pending: Analysed, embedder: Embedder, config: ExtractConfig, root: Path) -> list[FrameResult]:
    """Embed (one batch per chunk), give tracked faces their track's embedding, drop other
    people when an identity is set, and write the kept faces' PNGs."""
    chips = [p.chip for _, frame in pending for p in frame if p.chip is not None]
    embs = iter(embedder.embed_chips(np.stack(chips)) if chips else ())
    reference = None if config.identity is None else np.asarray(config.identity, np.float32).mean(0)
    results: list[FrameResult] = []
    previous: list[np.ndarray] = []
    for index, frame in pending:
        current = [next(embs) if p.chip is not None else previous[p.parent] for p in frame]  # type: ignore[index]
        result = FrameResult(index, [])
        for p, emb in zip(frame, current):
            if reference is not None and identity_distance(emb, reference) > config.identity_threshold:
                result.rejected += 1
                continue
            atomic_write_bytes(root / p.record.image, p.png)
            result.records.append(dataclasses.replace(p.record, embedding=emb))
        results.append(result)
        previous = current
    return results


class Pool:
    """Ordered map of chunks over worker processes, or inline when ``workers == 0``.

    A :class:`~concurrent.futures.ProcessPoolExecutor`, not a :class:`multiprocessing.pool.Pool`:
    when a worker dies (killed, out of memory, a crash in native code, or it could not even
    start) the executor says so, where a ``multiprocessing`` pool starts another and waits
    forever for the lost chunk.
    """

    def __init__(self, config: ExtractConfig) -> None:
        self._state: _State | None = None
        self._executor: ProcessPoolExecutor | None = None
        if config.workers <= 0:
            self._state = _State(config)
        else:
            ctx = mp.get_context("forkserver")
            ctx.set_forkserver_preload(["masque.faceset._forkserver"])  # loads the models once, in the server
            self._executor = ProcessPoolExecutor(config.workers, mp_context=ctx, initializer=_init,
                                                 initargs=(config,))

    def map(self, chunks: Iterable[Chunk]) -> Iterator[tuple[Chunk, Analysed]]:
        """Each chunk with its analysis, in order.

        Raises:
            WorkerDiedError: a worker process died.
        """
        if self._executor is None:
            state = self._state
            return ((c, analyse_chunk(state, c.source_id, _SHARED.frames(c))) for c in chunks)  # type: ignore[arg-type]
        return self._ordered(_process, chunks)

    def map_images(self, chunks: Iterable[ImageChunk]) -> Iterator[list[Analysed | MasqueError]]:
        """Each image chunk's results (see :func:`analyse_images`), in order.

        Raises:
            WorkerDiedError: a worker process died.
        """
        if self._executor is None:
            state = self._state
            return (analyse_images(state, c) for c in chunks)  # type: ignore[arg-type]
        return (result for _, result in self._ordered(_process_images, chunks))

    def _ordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[tuple[T, R]]:
        """Submit ``items`` from a thread of their own (drawing one may wait: for a free ring
        slot, for the decoder) and hand back each with its result, in order."""
        assert self._executor is not None
        executor = self._executor
        submitted: queue.SimpleQueue[tuple[T, Future[R]] | BaseException | None] = queue.SimpleQueue()

        def submit_all() -> None:
            try:
                for item in items:
                    submitted.put((item, executor.submit(fn, item)))
                submitted.put(None)
            except BaseException as exc:  # raised again below, in the caller
                submitted.put(exc)

        threading.Thread(target=submit_all, name="masque-submit", daemon=True).start()
        while (entry := submitted.get()) is not None:
            if isinstance(entry, BaseException):
                raise _explained(entry)
            item, future = entry
            try:
                result = future.result()
            except BrokenProcessPool as exc:
                raise _explained(exc) from exc
            yield item, result

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)


def _explained(exc: BaseException) -> BaseException:
    if not isinstance(exc, BrokenProcessPool):
        return exc
    return WorkerDiedError(
        "an extract worker process died (killed, out of memory, or a crash in native code; or it could not "
        "start: a script that calls extract_faceset with workers needs `if __name__ == \"__main__\":`, "
        "as with any process pool); what was committed is kept: run the same extract again to resume")


@contextmanager
def pool(config: ExtractConfig) -> Iterator[Pool]:
    p = Pool(config)
    try:
        yield p
    finally:
        p.close()
