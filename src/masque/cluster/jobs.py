"""What a Ray task does for each command: the picklable recipes and the functions workers run.

A recipe is a frozen dataclass of library options (no open model, no file handle), sent to the
workers with each task; a worker builds the heavy objects (model, detector) from it once and
keeps them for the next task of the same recipe (``_CACHE``: per worker process, like
:mod:`masque.faceset.worker`'s state).

Frames commands (``convert``, ``swap``) implement :class:`FrameRecipe`: ``image(src, dst)`` for
an image and ``video_fn()`` for a video or a segment of one (a fresh per-frame function: tracking
and smoothing start afresh). A whole file runs exactly the code of a local run; a segment writes
its frames, watermarked, to a part file that the driver joins (see :mod:`masque.cluster.segments`).

``detect`` returns each file's :class:`~masque.forensics.detect.FileVerdict` (scores, heat maps,
the frames that drove it, labels) or the reason it could not be read; the driver prints and
writes the report. A worker keeps one :class:`~masque.forensics.detect.FakeDetector`.

``extract`` returns the faces to the driver (aligned PNG bytes and their index rows); the driver
alone writes the face set (PNGs and SQLite). Resume keys (source, frame) and atomic writes make a
repeated task harmless: the same faces land under the same names and rows replace rows.

Adding a command is one recipe class (or task function) here and one entry in :data:`masque.cluster.runner.COMMANDS`.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from masque.cluster.segments import Segment, read_segment
from masque.provenance import LabelConfig, Labeler

FrameFn = Callable[[list[np.ndarray]], list[np.ndarray]]

#: per worker process: built objects by recipe (the model of a convert recipe, a swapper ...)
_CACHE: dict[object, Any] = {}


def _cached(recipe: object, build: Callable[[], Any]) -> Any:
    if recipe not in _CACHE:
        _CACHE.clear()  # one recipe at a time: a worker holds one model
        _CACHE[recipe] = build()
    return _CACHE[recipe]


class FrameRecipe(Protocol):
    """What the runner needs of a frames command's options."""

    @property
    def labels(self) -> LabelConfig: ...

    @property
    def run_id(self) -> int: ...

    @property
    def crf(self) -> int: ...

    def image(self, src: Path, dst: Path) -> int: ...

    def video_fn(self) -> tuple[FrameFn, int]: ...


@dataclass(frozen=True)
class ConvertRecipe:
    """``masque convert``'s options: the model folder, device, :class:`ConvertConfig`, labels."""

    model_dir: str
    device: str
    config: Any  # masque.convert.pipeline.ConvertConfig (its identity array makes it unhashable)
    labels: LabelConfig
    run_id: int
    enhance: bool = True  # use the folder's enhancer when it has one (convert's --no-enhancer: False)

    @property
    def crf(self) -> int:
        return int(self.config.crf)

    def __hash__(self) -> int:
        return hash((self.model_dir, self.device, repr(self.config), self.enhance))

    def _converter(self) -> Any:
        def build() -> Any:
            from masque.convert.pipeline import Converter
            from masque.models.device import pick_device

            return Converter.from_folder(self.model_dir, self.config, pick_device(self.device), self.enhance)

        return _cached(self, build)

    def image(self, src: Path, dst: Path) -> int:  # as masque.convert.files.convert_path does
        from masque.media import read_image, write_image

        converter = self._converter()
        converter.reset()
        labeler = Labeler(self.labels, run_id=self.run_id)
        write_image(dst, labeler.mark(converter.convert_frames([read_image(src)])[0]))
        labeler.finalize(dst)
        return 1

    def video_fn(self) -> tuple[FrameFn, int]:
        converter = self._converter()
        converter.reset()
        return converter.convert_frames, int(self.config.batch)


@dataclass(frozen=True)
class SwapRecipe:
    """``masque swap``'s options: the source photo, analyzer, swap, target and tracking options, labels."""

    source: str
    source_face: int
    analyzer: Any  # masque.face.AnalyzerConfig
    swap: Any  # masque.oneshot.SwapConfig
    target_face: str  # all, largest, or a reference image
    tracking: Any  # masque.face.TrackerConfig
    labels: LabelConfig
    run_id: int
    crf: int = 18

    def _built(self) -> tuple[Any, Any, Any]:
        def build() -> tuple[Any, Any, Any]:
            from masque.face import FaceAnalyzer, TargetSelector
            from masque.media import read_image
            from masque.oneshot import OneShotSwapper

            analyzer = FaceAnalyzer(self.analyzer)
            swapper = OneShotSwapper.from_image(read_image(self.source), analyzer, self.source_face, self.swap,
                                                name=self.source)
            if self.target_face in ("all", "largest"):
                selector = TargetSelector(self.target_face)  # type: ignore[arg-type]  # checked just above
            else:
                selector = TargetSelector.from_reference(read_image(self.target_face), analyzer,
                                                         name=self.target_face)
            return swapper, analyzer, selector

        return _cached(self, build)

    def image(self, src: Path, dst: Path) -> int:
        from masque.oneshot.files import swap_image_file

        swapper, analyzer, selector = self._built()
        swap_image_file(swapper, src, dst, analyzer, Labeler(self.labels, run_id=self.run_id), selector)
        return 1

    def video_fn(self) -> tuple[FrameFn, int]:
        from masque.face import FaceTracker

        swapper, analyzer, selector = self._built()
        tracker = FaceTracker(analyzer, selector, self.tracking)

        def swap_frames(frames: list[np.ndarray]) -> list[np.ndarray]:  # as masque.oneshot.files.swap_video
            faces = tracker.update(frames[0])
            return [swapper.swap(frames[0], faces) if faces else frames[0]]

        return swap_frames, 1


# ---- what the tasks run ----------------------------------------------------------------------

def frames_file(recipe: FrameRecipe, src: str, dst: str) -> int:
    """A whole image or video, exactly as a local run does it; returns frames written."""
    from masque.media import is_video_path
    from masque.media.pipeline import process_video

    if not is_video_path(src):
        return recipe.image(Path(src), Path(dst))
    fn, batch = recipe.video_fn()
    return process_video(Path(src), Path(dst), fn, Labeler(recipe.labels, run_id=recipe.run_id), crf=recipe.crf,
                         batch=batch)


def frames_segment(recipe: FrameRecipe, src: str, segment: Segment, part: str) -> int:
    """One segment of a video into the part file ``part`` (watermarked frames, no audio, no manifest yet)."""
    from masque.media import VideoWriter, probe_video
    from masque.media.pipeline import _batches

    fn, batch = recipe.video_fn()
    labeler = Labeler(recipe.labels, run_id=recipe.run_id)
    written = 0
    with VideoWriter(part, probe_video(src).fps, crf=recipe.crf) as writer:
        for frames in _batches(read_segment(src, segment), batch):
            for frame in fn(frames):
                writer.write(labeler.mark(frame))
                written += 1
    return written


@dataclass(frozen=True)
class FaceOut:
    """One frame's faces as a worker returns them: index rows and aligned PNG bytes (same order)."""

    index: int
    records: list[Any]  # masque.faceset.store.FaceRecord
    pngs: list[bytes]
    rejected: int


def extract_frames(config: Any, source_id: int, src: str, segment: Segment | None, done: frozenset[int]
                   ) -> list[FaceOut]:
    """Analyse the frames of ``src`` (or of one segment) not in ``done``; faces returned, nothing written.

    ``config`` is an :class:`~masque.faceset.config.ExtractConfig`; frames are taken as a local
    extract takes them (every ``config.every``-th, tracked between detections).
    """
    from masque.faceset import worker
    from masque.media import VideoReader, is_video_path, read_image

    state = _cached(("extract", repr(config)), lambda: worker._State(config))
    embedder = _embedder()
    if is_video_path(src):
        frames = enumerate(VideoReader(src)) if segment is None else enumerate(read_segment(src, segment),
                                                                               segment.start)
        todo = [(i, f) for i, f in frames if i % config.every == 0 and i not in done]
    else:
        todo = [(0, read_image(src))] if 0 not in done else []
    out: list[FaceOut] = []
    with tempfile.TemporaryDirectory(prefix="masque-extract-") as tmp:
        for k in range(0, len(todo), config.chunk):
            pending = worker.analyse_chunk(state, source_id, todo[k:k + config.chunk])
            for result in worker.finish_chunk(pending, embedder, config, Path(tmp)):
                pngs = [(Path(tmp) / r.image).read_bytes() for r in result.records]
                for r in result.records:
                    os.unlink(Path(tmp) / r.image)
                out.append(FaceOut(result.index, result.records, pngs, result.rejected))
    return out


#: per worker process: the identity network, loaded by the first extract task
_EMBEDDER: list[Any] = []


def _embedder() -> Any:
    from masque.face.analyze import default_embedder

    if not _EMBEDDER:
        _EMBEDDER.append(default_embedder())
    return _EMBEDDER[0]


@dataclass(frozen=True)
class DetectRecipe:
    """``masque detect``'s options: the detector (an absolute path, ``None``: the shipped one) and its config."""

    model: str | None
    config: Any  # masque.forensics.detect.DetectConfig (frozen, hashable)


def detect_one(recipe: DetectRecipe, src: str) -> Any:
    """Score one image or whole video as a local ``masque detect`` does.

    Returns:
        The :class:`~masque.forensics.detect.FileVerdict`, or the message (``str``) of the
        :class:`~masque.errors.MasqueError` that made the file unreadable, exactly as a local run
        reports it (returned, not raised: Ray would reformat it).
    """
    from masque.errors import MasqueError
    from masque.forensics.detect import FakeDetector, detect_file

    detector = _cached(("detect", recipe), lambda: FakeDetector(recipe.model))
    try:
        return detect_file(detector, src, recipe.config)
    except MasqueError as exc:
        return str(exc)
