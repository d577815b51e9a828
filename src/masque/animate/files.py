"""Whole videos: ``masque animate`` (a photo driven by a video) and ``masque reenact`` (a target
video given a source video's expression), written labelled as synthetic.

Both read their driving video twice. The first pass tracks the driving face (landmarks only,
a few milliseconds a frame) so that the reference frame can be chosen from the whole video: the
frame whose pose and expression are nearest the photo's (animate), or the most neutral frame
(reenact: mouth closed, eyes as open as usual, facing the camera). The second pass draws. The
output keeps the driving video's frame count and frame rate, and its audio (reenact: the
source actor's audio by default, since the mouth follows the source).
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from masque.animate.animator import AnimateConfig, Animator, Reenactor
from masque.animate.motion import match_score
from masque.errors import ConfigError, NoFaceFoundError
from masque.face import FaceAnalyzer, FaceTracker, TargetSelector, TrackerConfig
from masque.face.expression import eye_aspect_ratio, mouth_openness
from masque.face.pose import head_pose
from masque.media import VideoReader
from masque.media.pipeline import FrameLabeler, Progress, prefetch, process_video
from masque.media.video import VideoWriter, probe_video

#: a driving video must show its face within this many first frames
FIRST_FRAMES = 50


@dataclass(frozen=True)
class Track:
    """A driving face through a video.

    Attributes:
        landmarks: per frame, ``(68, 2)`` ``float32`` landmarks, or None where no face was followed.
        poses: per frame, ``(yaw, pitch, roll)`` degrees, or None.
    """

    landmarks: list[np.ndarray | None]
    poses: list[tuple[float, float, float] | None]

    @property
    def found(self) -> int:
        """Frames with a face."""
        return sum(lm is not None for lm in self.landmarks)


@dataclass(frozen=True)
class AnimateStats:
    """What a run did: ``frames`` written, ``driven`` of them with a driving face, the
    ``reference`` frame's index, wall ``seconds``."""

    frames: int
    driven: int
    reference: int
    seconds: float

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def _selector(frame: np.ndarray, analyzer: FaceAnalyzer, index: int, name: str) -> TargetSelector | None:
    """The selector following face ``index`` of the first frame that has faces; None: no face here."""
    faces = analyzer.detect(frame)
    if not faces:
        return None
    if index >= len(faces):
        raise NoFaceFoundError(f"the first frame of {name} with faces has {len(faces)}, so face {index} "
                               f"does not exist; pick 0 to {len(faces) - 1} (0 is the largest)")
    if len(faces) == 1:
        return TargetSelector("largest")
    # several people: follow this one by identity, so a passer-by never takes over
    embedding = analyzer.embed(frame, [faces[index]])[0].embedding
    return TargetSelector("reference", np.asarray(embedding, np.float32))


def track_video(path: Path, analyzer: FaceAnalyzer, config: AnimateConfig, face: int = 0,
                first_frames: int = FIRST_FRAMES, name: str = "the driving video") -> Track:
    """Follow face ``face`` (0 = largest, in the first frame with faces) through a video.

    Raises:
        NoFaceFoundError: no face in the first ``first_frames`` frames, or no face ``face``.
    """
    tracker: FaceTracker | None = None
    landmarks: list[np.ndarray | None] = []
    poses: list[tuple[float, float, float] | None] = []
    tracking = TrackerConfig(redetect_every=config.redetect_every, smooth=config.smooth)
    for i, frame in enumerate(prefetch(VideoReader(path))):
        if tracker is None:
            if i >= first_frames:
                raise NoFaceFoundError(f"no face in the first {first_frames} frames of {name}; the driving "
                                       "face must be visible from the start (trim the video to where it is)")
            selector = _selector(frame, analyzer, face, name)
            if selector is not None:
                tracker = FaceTracker(analyzer, selector, tracking)
        faces = tracker.update(frame) if tracker is not None else []
        landmarks.append(faces[0] if faces else None)
        poses.append(head_pose(faces[0], frame.shape[:2]) if faces else None)
    if tracker is None or not any(lm is not None for lm in landmarks):
        raise NoFaceFoundError(f"no face found in {name} ({len(landmarks)} frames read)")
    return Track(landmarks, poses)


def matching_reference(track: Track, photo: np.ndarray, photo_pose: tuple[float, float, float]) -> int:
    """The frame of ``track`` whose pose and expression are nearest the photo's landmarks."""
    scores = [match_score(lm, photo, pose, photo_pose) if lm is not None else np.inf
              for lm, pose in zip(track.landmarks, track.poses)]
    return int(np.argmin(scores))


def neutral_reference(track: Track) -> int:
    """The most neutral frame of ``track``: mouth closed above all (0.01 of lip gap over width
    counts as 3 degrees), eyes at their usual opening (0.01 counts as 1 degree), head at its
    usual pose (degrees from the median yaw and pitch: a camera seldom faces anyone squarely)."""
    found = [(lm, pose) for lm, pose in zip(track.landmarks, track.poses) if lm is not None and pose is not None]
    usual_eyes = float(np.median([eye_aspect_ratio(lm) for lm, _ in found]))
    usual_yaw = float(np.median([pose[0] for _, pose in found]))
    usual_pitch = float(np.median([pose[1] for _, pose in found]))
    scores = []
    for lm, pose in zip(track.landmarks, track.poses):
        if lm is None or pose is None:
            scores.append(np.inf)
            continue
        scores.append(300 * mouth_openness(lm) + 100 * abs(eye_aspect_ratio(lm) - usual_eyes)
                      + abs(pose[0] - usual_yaw) + abs(pose[1] - usual_pitch))
    return int(np.argmin(scores))


def _check_reference(reference: int, track: Track, name: str) -> None:
    if not 0 <= reference < len(track.landmarks):
        raise ConfigError(f"--reference {reference} is past the end of {name} ({len(track.landmarks)} frames)")
    if track.landmarks[reference] is None:
        raise NoFaceFoundError(f"frame {reference} of {name} has no face to use as the reference; pick another "
                               "or leave --reference out")


def animate_video(animator: Animator, driving: Path, output: Path, labeler: FrameLabeler, *,
                  reference: int | None = None, driving_face: int = 0, first_frames: int = FIRST_FRAMES,
                  progress: Progress | None = None) -> AnimateStats:
    """Animate ``animator``'s photo with the video ``driving``; write the labelled video ``output``.

    Args:
        reference: the driving frame motion is measured from; None picks the frame nearest the
            photo's pose and expression.
        driving_face: which driving face to follow (0 = largest).

    Raises:
        NoFaceFoundError: no driving face in the first ``first_frames`` frames.
    """
    start = time.perf_counter()
    track = track_video(driving, animator.analyzer, animator.config, driving_face, first_frames, str(driving))
    if reference is None:
        photo = animator.rig.landmarks
        reference = matching_reference(track, photo, head_pose(photo, animator.rig.image.shape[:2]))
    _check_reference(reference, track, str(driving))
    animator.set_reference(track.landmarks[reference], probe_size(driving))  # type: ignore[arg-type]
    position = 0

    def draw(frames: list[np.ndarray]) -> list[np.ndarray]:
        nonlocal position
        lm = track.landmarks[position] if position < len(track.landmarks) else None
        position += 1
        return [animator.step_landmarks(frames[0], lm)]

    frames = process_video(driving, output, draw, labeler, progress=progress)
    return AnimateStats(frames, track.found, reference, time.perf_counter() - start)


def reenact_video(reenactor: Reenactor, source: Path, target: Path, output: Path, labeler: FrameLabeler, *,
                  audio: Literal["source", "target", "none"] = "source", source_face: int = 0,
                  target_face: int = 0, first_frames: int = FIRST_FRAMES, crf: int = 18,
                  progress: Progress | None = None) -> AnimateStats:
    """Give the video ``target`` the expressions of the video ``source``; write labelled ``output``.

    The output has the target's frames, frame rate and size; past the source's end (or while its
    face is lost) the last expression is held, then eased back to the target's own.

    Raises:
        NoFaceFoundError: no face in the first ``first_frames`` frames of either video.
    """
    start = time.perf_counter()
    config = reenactor.config
    src = track_video(source, reenactor.analyzer, config, source_face, first_frames, f"the source video {source}")
    tgt = track_video(target, reenactor.analyzer, config, target_face, first_frames, f"the target video {target}")
    reenactor.set_references(src.landmarks[neutral_reference(src)], tgt.landmarks[neutral_reference(tgt)],
                             probe_size(source), probe_size(target))
    info = probe_video(target)
    audio_from = {"source": source, "target": target, "none": None}[audio]
    if audio_from is not None and not probe_video(audio_from).has_audio:
        audio_from = None
    writer = VideoWriter(output, info.fps, crf=crf, audio_from=audio_from)
    done = 0
    try:
        sources = _padded(prefetch(VideoReader(source)))
        try:
            for i, frame in enumerate(prefetch(VideoReader(target))):
                s = next(sources)
                s_lm = src.landmarks[i] if s is not None and i < len(src.landmarks) else None
                t_lm = tgt.landmarks[i] if i < len(tgt.landmarks) else None
                writer.write(labeler.mark(reenactor.step_pair(s, s_lm, frame, t_lm)))
                done += 1
                if progress is not None:
                    progress(done, info.frames or None)
        finally:
            sources.close()  # stops the source's decoding thread
        writer.close()
    except BaseException:
        writer.abort()
        raise
    labeler.finalize(output)
    return AnimateStats(done, tgt.found, 0, time.perf_counter() - start)


def probe_size(path: Path) -> tuple[int, int]:
    """``(H, W)`` of a video's frames."""
    info = probe_video(path)
    return info.height, info.width


def _padded(frames: Iterator[np.ndarray]) -> Generator[np.ndarray | None, None, None]:
    """``frames``, then None for ever (a source shorter than the target)."""
    yield from frames
    while True:
        yield None
