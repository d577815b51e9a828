"""The per-frame work of extract, run in worker processes: detect, landmark, embed, align, write.

Each worker loads the models once (pool initializer) and handles chunks of consecutive frames.
"""

from __future__ import annotations

import dataclasses
import multiprocessing as mp
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from masque.face import Face, align_face, blur_score, identity_distance, landmark_mask
from masque.face.embed import face_chip
from masque.faceset.store import FACES_DIR, FaceRecord
from masque.media.image import atomic_write_bytes, encode_image

if TYPE_CHECKING:
    from masque.faceset.extract import ExtractConfig


@dataclass
class Chunk:
    """Consecutive frames ``[(index, RGB uint8 (H, W, 3)), ...]`` of one source."""

    source_id: int
    frames: list[tuple[int, np.ndarray]]


@dataclass
class FrameResult:
    index: int
    records: list[FaceRecord]
    rejected: int


@dataclass
class ChunkResult:
    frames: list[FrameResult]


class _State:
    """What one worker holds: the models, loaded once."""

    def __init__(self, config: ExtractConfig, root: Path) -> None:
        from masque.face import AnalyzerConfig, FaceAnalyzer

        self.config = config
        self.root = root
        self.analyzer = FaceAnalyzer(AnalyzerConfig(detector=config.detector, upsample=config.upsample,
                                                    max_side=config.max_side, min_face=config.min_face))
        self.reference = None if config.identity is None else np.asarray(config.identity, np.float32).mean(0)


_STATE: _State | None = None  # per worker process; set by the pool initializer only


def _init(state: _State, threads: int) -> None:
    global _STATE
    import torch

    # one core per worker: the workers already run in parallel, and nested thread pools on
    # the same cores only add switching
    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)
    _STATE = state


def _process(chunk: Chunk) -> ChunkResult:
    if _STATE is None:
        raise RuntimeError("extract worker used before its initializer ran")
    return process_chunk(_STATE, chunk)


def process_chunk(state: _State, chunk: Chunk) -> ChunkResult:
    """Analyse every frame of ``chunk`` and write its aligned faces as PNGs.

    Faces are tracked between consecutive frames (landmarks re-predicted around the previous
    ones) and fully re-detected every ``detect_every`` frames. A tracked face keeps the identity
    embedding computed where it was detected, unless ``embed_every_frame``; the embeddings a
    chunk needs go through the network as one batch.
    """
    found, parents = _find_faces(state, chunk)
    todo = [(k, j) for k, per_frame in enumerate(found) for j in range(len(per_frame)) if (k, j) not in parents]
    if todo:
        chips = np.stack([face_chip(chunk.frames[k][1], found[k][j].landmarks) for k, j in todo])
        for (k, j), emb in zip(todo, state.analyzer.embedder.embed_chips(chips)):
            found[k][j] = dataclasses.replace(found[k][j], embedding=emb)
    for (k, j), (pk, pj) in sorted(parents.items()):  # frame order: a parent is filled before its child
        found[k][j] = dataclasses.replace(found[k][j], embedding=found[pk][pj].embedding)
    return ChunkResult([_write_frame(state, chunk.source_id, index, frame, faces)
                        for (index, frame), faces in zip(chunk.frames, found)])


def _find_faces(state: _State, chunk: Chunk) -> tuple[list[list[Face]], dict[tuple[int, int], tuple[int, int]]]:
    """Faces of each frame, and for each tracked face whose embedding its track gives, the
    ``(frame, face)`` position of the face it was tracked from."""
    out: list[list[Face]] = []
    parents: dict[tuple[int, int], tuple[int, int]] = {}
    prev_index = -10
    for k, (index, frame) in enumerate(chunk.frames):
        if k == 0 or k % state.config.detect_every == 0 or index - prev_index > 2:
            out.append(state.analyzer.detect(frame))
        else:
            gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
            kept = []
            for j, before in enumerate(out[-1]):
                moved = state.analyzer.relocate(frame, before, gray)
                if _plausible(before, moved):
                    if not state.config.embed_every_frame:
                        parents[(k, len(kept))] = (k - 1, j)
                    kept.append(moved)
            out.append(kept)
        prev_index = index
    return out, parents


def _plausible(before: Face, after: Face) -> bool:
    """A tracked face may move a quarter of its size and change size by 20 % between frames;
    more means the predictor lost it (it always returns a shape), so drop it until re-detected."""
    s0, s1 = np.ptp(before.landmarks, axis=0).max(), np.ptp(after.landmarks, axis=0).max()
    shift = np.linalg.norm(after.landmarks.mean(0) - before.landmarks.mean(0))
    return bool(0.8 < s1 / max(s0, 1e-6) < 1.25 and shift < 0.25 * s0)


def _write_frame(state: _State, source_id: int, index: int, frame: np.ndarray, faces: list[Face]) -> FrameResult:
    records, rejected = [], 0
    for face_index, face in enumerate(faces):
        if state.reference is not None and face.embedding is not None and \
                identity_distance(face.embedding, state.reference) > state.config.identity_threshold:
            rejected += 1
            continue
        aligned = align_face(frame, face.landmarks, state.config.size, state.config.centering)  # type: ignore[arg-type]
        mask = landmark_mask(aligned.landmarks, aligned.image.shape[:2])
        name = f"{FACES_DIR}/{source_id:04d}_{index:07d}_{face_index}.png"
        atomic_write_bytes(state.root / name, encode_image(aligned.image, ".png"))
        yaw, pitch, roll = face.pose or (float("nan"),) * 3
        records.append(FaceRecord("", index, face_index, face.bbox, face.landmarks, aligned.matrix,
                                  face.embedding, yaw, pitch, roll, blur_score(aligned.image, mask), face.score,
                                  name))
    return FrameResult(index, records, rejected)


class Pool:
    """Ordered map of chunks over worker processes, or inline when ``workers == 0``."""

    def __init__(self, config: ExtractConfig, root: Path) -> None:
        self.workers = config.workers
        if self.workers <= 0:
            self._state: _State | None = _State(config, root)
            self._pool = None
        else:
            self._state = None
            # fork, as torch's DataLoader does on Linux: starts in milliseconds, needs no
            # `if __name__ == "__main__"` guard in the user's script, and passes initargs
            # without pickling, so the models load once, here, and the workers share their memory
            ctx = mp.get_context("fork")
            state = _State(config, root)
            state.analyzer.embedder  # noqa: B018 - load the lazy ResNet before forking too
            self._pool = ctx.Pool(self.workers, initializer=_init, initargs=(state, 1))

    def map(self, chunks: Iterable[Chunk]) -> Iterator[ChunkResult]:
        if self._pool is None:
            state = self._state
            return (process_chunk(state, c) for c in chunks)  # type: ignore[arg-type]
        return self._pool.imap(_process, chunks)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()


@contextmanager
def pool(config: ExtractConfig, root: Path | None = None) -> Iterator[Pool]:
    p = Pool(config, root or Path(os.getcwd()))
    try:
        yield p
    finally:
        p.close()
