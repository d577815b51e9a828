"""``extract``: videos, images or folders in; every face detected, aligned and indexed.

The main process decodes frames and commits results to SQLite; worker processes (one per
core) detect, landmark, align, embed and write the aligned PNGs. Work goes out in chunks of
consecutive frames with a bounded number in flight, so memory stays flat on long videos and
decode, analysis and writes overlap.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from masque.cpu import torch_threads
from masque.errors import InputNotFoundError, InvalidMediaError, MasqueError
from masque.face.analyze import default_embedder
from masque.face.embed import Embedder
from masque.faceset import worker
from masque.faceset.config import ExtractConfig
from masque.faceset.ring import Chunk, FrameRing, RingClosed
from masque.faceset.store import FaceSet
from masque.media import VideoReader, is_image_path, is_video_path, probe_video

log = logging.getLogger(__name__)
_RING_BYTES = 64 << 20  # decoded frames in flight: about 90 of 640x360, 10 of 1080p (at least 5 chunks)
_MAX_SLOTS = 16
Progress = Callable[[int, int | None], None]


@dataclass
class ExtractSummary:
    """What an extract run did."""

    frames: int = 0
    faces: int = 0
    frames_without_face: int = 0
    frames_skipped: int = 0
    faces_rejected: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def collect_inputs(inputs: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """Expand folders into their image and video files (sorted); check every path exists."""
    out: list[Path] = []
    for raw in inputs:
        p = Path(raw)
        if not p.exists():
            raise InputNotFoundError(f"input not found: {p}")
        if p.is_dir():
            media = sorted(f for f in p.iterdir() if f.is_file() and (is_image_path(f) or is_video_path(f)))
            if not media:
                raise InvalidMediaError(f"folder {p} holds no images or videos masque reads "
                                        "(.jpg .png .bmp .webp .tif, .mp4 .mov .mkv .avi .webm)")
            out.extend(media)
        else:
            out.append(p)
    return out


def extract_faceset(inputs: Sequence[str | os.PathLike[str]], output: str | os.PathLike[str],
                    config: ExtractConfig | None = None, progress: Progress | None = None) -> ExtractSummary:
    """Extract every face of ``inputs`` into the face set at ``output``, resuming a previous run.

    Unreadable inputs are reported in ``summary.errors`` and skipped; the run goes on.

    Raises:
        InputNotFoundError / InvalidMediaError: an input path is missing or a folder is empty.
        InvalidMediaError: no input at all could be read.
    """
    config = config or ExtractConfig()
    config = dataclasses.replace(config, chunk=max(config.chunk, config.detect_every))
    files = collect_inputs(inputs)
    summary = ExtractSummary()
    start = time.perf_counter()
    with FaceSet(Path(output), create=True, size=config.size, centering=config.centering) as fs:
        jobs = _plan(fs, files, config, summary)
        total = sum(j.todo for j in jobs)
        if progress:
            progress(0, total)
        if total <= config.chunk:  # a few images: not worth starting worker processes
            config = dataclasses.replace(config, workers=0)
        if jobs:
            with _Identity(default_embedder) as identity, worker.pool(config) as pool:
                images = [job for job in jobs if not job.is_video]
                if images:
                    _run_images(fs, pool, identity, images, config, summary, progress, total)
                for job in jobs:
                    if job.is_video:
                        _run_job(fs, pool, identity, job, config, summary, progress, total)
    summary.seconds = time.perf_counter() - start
    if summary.errors and len(summary.errors) == len(files):
        raise InvalidMediaError("nothing could be read: " + "; ".join(summary.errors))
    return summary


class _Identity:
    """The identity network, loaded in a thread while the workers start and take the first
    chunks (both cost most of a second: torch's import, the fork server's models), so neither
    waits for the other. Once it is used, torch runs on one thread beside the workers; the
    thread count is restored on exit."""

    def __init__(self, load: Callable[[], Embedder]) -> None:
        self._future: Future[Embedder] = Future()
        self._threads = ExitStack()
        self._ready: Embedder | None = None
        threading.Thread(target=self._load, args=(load,), name="masque-load", daemon=True).start()

    def _load(self, load: Callable[[], Embedder]) -> None:
        try:
            self._future.set_result(load())
        except BaseException as exc:  # re-raised by result()
            self._future.set_exception(exc)

    def embedder(self) -> Embedder:
        """The loaded network (waits for it the first time)."""
        if self._ready is None:
            self._ready = self._future.result()
            self._threads.enter_context(torch_threads(1))
        return self._ready

    def __enter__(self) -> _Identity:
        return self

    def __exit__(self, *exc: object) -> None:
        # the loading thread must not outlive the run: an interpreter that exits while torch
        # is loading aborts ("terminate called without an active exception")
        self._future.exception()
        self._threads.close()


@dataclass
class _Job:
    path: Path
    source_id: int
    is_video: bool
    frames: int
    done: set[int]
    todo: int
    width: int = 0
    height: int = 0


def _plan(fs: FaceSet, files: list[Path], config: ExtractConfig, summary: ExtractSummary) -> list[_Job]:
    jobs = []
    for path in files:
        try:
            job = _job_for(fs, path, config)
        except MasqueError as exc:
            log.warning("skipping %s: %s", path, exc)
            summary.errors.append(f"{path}: {exc}")
            continue
        if job.todo == 0:
            summary.frames_skipped += len(job.done)
            continue
        jobs.append(job)
    return jobs


def _job_for(fs: FaceSet, path: Path, config: ExtractConfig) -> _Job:
    key = str(path.resolve())
    if is_video_path(path):
        info = probe_video(path)
        sid = fs.add_source(key, "video", info.width, info.height, float(info.fps), info.frames)
        wanted = len(range(0, info.frames, config.every)) if info.frames else 1
        done = fs.frames_done(sid)
        todo = 0 if fs.source_done(key) else max(wanted - len(done), 1)
        return _Job(path, sid, True, info.frames, done, todo, info.width, info.height)
    if not is_image_path(path):
        raise InvalidMediaError(f"{path} is neither an image nor a video masque reads")
    sid = fs.add_source(key, "image", 0, 0, 0.0, 1)
    done = fs.frames_done(sid)
    return _Job(path, sid, False, 1, done, 0 if 0 in done else 1)


def _frames(job: _Job, config: ExtractConfig) -> Iterator[tuple[int, np.ndarray]]:
    for index, frame in enumerate(VideoReader(job.path)):
        if index % config.every == 0 and index not in job.done:
            yield index, frame


def _chunks(job: _Job, config: ExtractConfig, ring: FrameRing, failure: list[BaseException]) -> Iterator[Chunk]:
    """Consecutive frames in chunks, each in a ring slot (which bounds how many are in flight).
    Stops when the ring is closed (the job failed)."""
    chunk: Chunk | None = None
    try:
        for index, frame in _frames(job, config):
            chunk = chunk or ring.chunk(job.source_id)
            ring.add(chunk, index, frame)
            if len(chunk) == config.chunk:
                yield chunk
                chunk = None
    except RingClosed:
        return
    except MasqueError as exc:  # a corrupt tail: keep what decoded, report the rest
        failure.append(exc)
    if chunk:
        yield chunk


def _ring(job: _Job, config: ExtractConfig) -> FrameRing:
    """Two chunks in flight a worker and one being decoded, or more while they fit in
    ``_RING_BYTES``: the workers can then run ahead while the parent is busy (loading the
    identity network at the start)."""
    least = max(2, 2 * config.workers) + 1
    if config.workers == 0 or job.width * job.height == 0:  # inline: nothing to share; no frame size: the pipe
        return FrameRing(least, config.chunk, None)
    slots = min(_MAX_SLOTS, _RING_BYTES // (config.chunk * job.height * job.width * 3))
    return FrameRing(max(least, slots), config.chunk, (job.height, job.width, 3), min_slots=least)


def _run_images(fs: FaceSet, pool: worker.Pool, identity: _Identity, jobs: list[_Job], config: ExtractConfig,
                summary: ExtractSummary, progress: Progress | None, total: int) -> None:
    """Image files, ``config.chunk`` to a work unit, each read and analysed by a worker."""
    batches = [jobs[i:i + config.chunk] for i in range(0, len(jobs), config.chunk)]
    chunks = (worker.ImageChunk([(job.source_id, str(job.path)) for job in batch]) for batch in batches)
    for batch, results in zip(batches, pool.map_images(chunks)):
        read: list[tuple[_Job, worker.Analysed]] = []
        for job, result in zip(batch, results):
            if isinstance(result, MasqueError):
                log.warning("%s: %s", job.path, result)
                summary.errors.append(f"{job.path}: {result}")
            else:
                read.append((job, result))
        # every face of an image is a detection: one identity batch for the whole chunk
        pending = [frame for _, analysed in read for frame in analysed]
        for (job, _), frame in zip(read, worker.finish_chunk(pending, identity.embedder(), config, fs.root)):
            _commit(fs, job, frame, summary)
            fs.mark_source_done(job.source_id)
        if progress:
            progress(summary.frames, total)


def _run_job(fs: FaceSet, pool: worker.Pool, identity: _Identity, job: _Job, config: ExtractConfig,
             summary: ExtractSummary, progress: Progress | None, total: int) -> None:
    failure: list[BaseException] = []
    ring = _ring(job, config)
    try:
        chunks = _chunks(job, config, ring, failure)
        for chunk, pending in pool.map(chunks):
            ring.release(chunk)
            for frame in worker.finish_chunk(pending, identity.embedder(), config, fs.root):
                _commit(fs, job, frame, summary)
            if progress:
                progress(summary.frames, total)
    finally:
        ring.close()
    if failure:
        log.warning("%s: %s", job.path, failure[0])
        summary.errors.append(f"{job.path}: {failure[0]}")
    else:
        fs.mark_source_done(job.source_id)


def _commit(fs: FaceSet, job: _Job, frame: worker.FrameResult, summary: ExtractSummary) -> None:
    fs.commit_frame(job.source_id, frame.index, frame.records)
    summary.frames += 1
    summary.faces += len(frame.records)
    summary.faces_rejected += frame.rejected
    summary.frames_without_face += not frame.records
    if not job.is_video and not frame.records:
        log.warning("no face found in %s", job.path)
