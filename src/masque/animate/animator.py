"""Frame-by-frame photo animation and expression reenactment: the streaming API.

>>> animator = Animator.from_photo(read_image("me.jpg"))        # doctest: +SKIP
>>> for frame in webcam():                                       # doctest: +SKIP
...     show(animator.step(frame))                               # RGB in, RGB out, 512 px

:class:`Animator` moves a photo as a driving face moves (head, brows, lids, mouth);
:class:`Reenactor` keeps a target video's head and gives it a source actor's expression. Both
take one driving RGB frame per :meth:`step` and return one output frame; both track the
driving face themselves (:class:`masque.face.FaceTracker`), or take landmarks found beforehand
(:meth:`Animator.step_landmarks`, what ``masque animate`` uses after choosing the reference frame).

**Reference.** Motion is measured from a reference driving frame (:mod:`masque.animate.motion`):
the first frame with a face unless :meth:`Animator.set_reference` gives one (a live UI's
"calibrate" button: the user takes the photo's pose and expression and presses it).

**A lost face.** While the driving face is lost the last motion is held for ``hold`` frames,
then eased back to the photo's own pose over ``ease`` frames; a face that comes back after that
is eased into over ``ease`` frames too, so nothing jumps.

Neither class is thread-safe (the tracker keeps state); use one per stream.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
from scipy.spatial import Delaunay

from masque.animate.motion import Motion, MotionSource, drive, reenact_points, rigid_map
from masque.animate.render import build_rig, mouth_weight, paint_mouth, region_mean, render, scene_points
from masque.compose.warp import mesh_points, open_features, ring_points, warp_mesh
from masque.errors import ConfigError, NoFaceFoundError
from masque.face import FaceAnalyzer, FaceTracker, TargetSelector, TrackerConfig

Crop = Literal["face", "photo"]
#: how many face widths (jaw width) the square of ``crop="face"`` spans
FACE_CROP = 2.8
#: change of yaw or pitch between frames (radians, 2 degrees) at which their damping falls to 1/e
_TURN_SCALE = 0.035


@dataclass(frozen=True)
class AnimateConfig:
    """How a photo is animated.

    Attributes:
        size: output size in pixels: the side of the square (``crop="face"``) or the photo's
            longer side (``crop="photo"``); rounded down to even.
        crop: ``face``, a square around the face with hair and shoulders, or ``photo``, all of it.
        smooth: driving landmark smoothing in [0, 1) (:class:`masque.face.TrackerConfig`): 0 off.
        hold: frames a lost driving face's last motion is held.
        ease: frames the motion then takes to return to the photo's own pose (and to come back).
        mouth: paint a mouth interior where the driven mouth opens wider than the photo's.
        redetect_every: driving frames between full face detections (tracked in between).
    """

    size: int = 512
    crop: Crop = "face"
    smooth: float = 0.5
    hold: int = 12
    ease: int = 12
    mouth: bool = True
    redetect_every: int = 10

    def __post_init__(self) -> None:
        if not 64 <= self.size <= 4096:
            raise ConfigError(f"size must be 64-4096 px, got {self.size}")
        if self.crop not in ("face", "photo"):
            raise ConfigError(f"crop must be face or photo, got {self.crop!r}")
        if not 0.0 <= self.smooth < 1.0:
            raise ConfigError(f"smooth must be in [0, 1) (0 off, 0.9 heavy), got {self.smooth}")
        if self.hold < 0 or self.ease < 1:
            raise ConfigError(f"hold must be 0 or more and ease 1 or more, got {self.hold} and {self.ease}")


def pick_face(image: np.ndarray, analyzer: FaceAnalyzer, index: int, name: str) -> np.ndarray:
    """``(68, 2)`` landmarks of face ``index`` (0 = largest) of an RGB image.

    Raises:
        NoFaceFoundError: no face, or fewer than ``index + 1`` faces (the message says how many).
    """
    faces = analyzer.detect(image)
    if not faces:
        raise NoFaceFoundError(f"no face found in {name}; it needs one clear, roughly frontal face "
                               "at least 80 px wide")
    if index >= len(faces):
        raise NoFaceFoundError(f"{name} has {len(faces)} face(s), so face {index} does not exist; "
                               f"pick 0 to {len(faces) - 1} (0 is the largest)")
    return faces[index].landmarks


def frame_photo(image: np.ndarray, landmarks: np.ndarray, size: int, crop: Crop) -> tuple[np.ndarray, np.ndarray]:
    """The output-sized picture and its landmarks: a square around the face (``face``; with
    hair and shoulders, shrunk to fit inside the photo) or the whole photo (``photo``)."""
    h, w = image.shape[:2]
    lm = np.asarray(landmarks, np.float64)
    if crop == "face":
        width = float(np.ptp(lm[:, 0]))
        side = min(FACE_CROP * width, w, h)
        cx, cy = lm[:, 0].mean(), lm[:, 1].mean() - 0.15 * width  # a little room for the hair
        x0 = float(np.clip(cx - side / 2, 0, w - side))
        y0 = float(np.clip(cy - side / 2, 0, h - side))
        out_w = out_h = size - size % 2
        scale = out_w / side
    else:
        x0 = y0 = 0.0
        scale = size / max(h, w)
        out_w, out_h = int(round(w * scale)), int(round(h * scale))
        out_w, out_h = out_w - out_w % 2, out_h - out_h % 2
    m = np.array([[scale, 0, -x0 * scale], [0, scale, -y0 * scale]])
    inter = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    picture = cv2.warpAffine(image, m, (out_w, out_h), flags=inter, borderMode=cv2.BORDER_REPLICATE)
    return picture, (lm * scale - (x0 * scale, y0 * scale)).astype(np.float32)


class _Follower:
    """Driving landmarks -> :class:`Motion`, with the hold-then-ease policy for a lost face."""

    def __init__(self, hold: int, ease: int, smooth: float = 0.0) -> None:
        self.hold, self.ease, self.smooth = hold, ease, smooth
        self.source: MotionSource | None = None
        self.shown = Motion.still()
        self._last = Motion.still()
        self._lost = 0
        self._returning = 0

    def set_reference(self, landmarks: np.ndarray, image_size: tuple[int, int]) -> None:
        self.source = MotionSource(landmarks, image_size)

    def motion(self, landmarks: np.ndarray | None, image_size: tuple[int, int] = (720, 1280)) -> Motion:
        if landmarks is not None and self.source is None:
            self.set_reference(landmarks, image_size)
        if landmarks is None or self.source is None:
            self._lost += 1
            if self._lost > self.hold:  # ease back toward the photo's own pose
                self.shown = self.shown.toward(Motion.still(), 1.0 / max(self.ease - (self._lost - self.hold) + 1, 1))
            else:
                self.shown = self._last
            if self._lost > self.hold:
                self._returning = self.ease
            return self.shown
        now = self._steady(self.source.motion(landmarks))
        self._lost = 0
        if self._returning > 0:  # back after easing out: ease in rather than jump
            self.shown = self.shown.toward(now, 1.0 / self._returning)
            self._returning -= 1
        else:
            self.shown = now
        self._last = now
        return self.shown

    def _steady(self, now: Motion) -> Motion:
        """Damp the turn in depth: the pose fit wobbles by a degree between frames even on a
        still head, and a degree of yaw moves the jaw line by 3 % of the eyes' distance. The
        damping fades as the head turns faster (as the tracker's landmark smoothing does)."""
        if self.smooth <= 0 or self._lost > 0 or self.source is None:
            return now
        prev = self._last
        change = max(abs(now.yaw - prev.yaw), abs(now.pitch - prev.pitch))
        keep = self.smooth * float(np.exp(-change / _TURN_SCALE))
        return Motion(now.rigid, now.delta, keep * prev.yaw + (1 - keep) * now.yaw,
                      keep * prev.pitch + (1 - keep) * now.pitch)


class Animator:
    """A photo animated by driving frames: ``step(frame) -> frame``.

    Args:
        photo: RGB ``(H, W, 3)`` ``uint8`` photo of the person to animate.
        landmarks: ``(68, 2)`` landmarks of the face to animate in ``photo`` (pixels).
        analyzer: finds and tracks the driving face (shared; built with :meth:`from_photo`).
        config: output size, crop, smoothing, lost-face policy.
        selector: which driving face to follow (default: the largest).
    """

    def __init__(self, photo: np.ndarray, landmarks: np.ndarray, analyzer: FaceAnalyzer,
                 config: AnimateConfig | None = None, selector: TargetSelector | None = None) -> None:
        self.config = config or AnimateConfig()
        picture, lm = frame_photo(photo, landmarks, self.config.size, self.config.crop)
        self.rig = build_rig(picture, lm)
        self.analyzer = analyzer
        self.tracker = FaceTracker(analyzer, selector or TargetSelector(),
                                   TrackerConfig(redetect_every=self.config.redetect_every, smooth=self.config.smooth))
        self._follow = _Follower(self.config.hold, self.config.ease, self.config.smooth)
        self.driven: np.ndarray = self.rig.landmarks.copy()

    @classmethod
    def from_photo(cls, photo: np.ndarray, config: AnimateConfig | None = None, source_face: int = 0,
                   analyzer: FaceAnalyzer | None = None, selector: TargetSelector | None = None,
                   name: str = "the photo") -> Animator:
        """An animator for face ``source_face`` (0 = largest) of ``photo`` (RGB ``uint8``).

        Raises:
            NoFaceFoundError: the photo has no such face.
        """
        analyzer = analyzer or FaceAnalyzer()
        return cls(photo, pick_face(photo, analyzer, source_face, name), analyzer, config, selector)

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` of the frames :meth:`step` returns."""
        return self.rig.image.shape[1], self.rig.image.shape[0]

    def set_reference(self, landmarks: np.ndarray, image_size: tuple[int, int]) -> None:
        """Measure motion from the driving frame with these ``(68, 2)`` landmarks from now on
        (``image_size``: the driving frames' ``(H, W)``)."""
        self._follow.set_reference(landmarks, image_size)

    def reset(self) -> None:
        """Forget the driving face and the reference (a new driving stream)."""
        self.tracker.reset()
        self._follow = _Follower(self.config.hold, self.config.ease, self.config.smooth)

    def step(self, frame: np.ndarray) -> np.ndarray:
        """The photo moved as the driving face of this RGB ``(H, W, 3)`` ``uint8`` frame moved.

        Returns:
            RGB ``uint8`` frame of :attr:`size`. Before any driving face is seen: the photo.
        """
        faces = self.tracker.update(frame)
        return self.step_landmarks(frame, faces[0] if faces else None)

    def step_landmarks(self, frame: np.ndarray | None, landmarks: np.ndarray | None) -> np.ndarray:
        """:meth:`step` with the driving landmarks ``(68, 2)`` given (None: no face this frame).
        ``frame`` lends its mouth interior (None: a painted cavity)."""
        motion = self._follow.motion(landmarks, frame.shape[:2] if frame is not None else self.rig.image.shape[:2])
        self.driven = drive(self.rig.landmarks, motion)
        rigid = rigid_map(self.rig.landmarks, motion.rigid)
        out = render(self.rig, scene_points(self.rig, self.driven, rigid))
        if self.config.mouth:
            weight = mouth_weight(self.driven, self.rig.landmarks)
            lend = frame if landmarks is not None else None
            paint_mouth(out, self.driven, weight, self.rig.skin, self.rig.lips, lend, landmarks)
        return out


class Reenactor:
    """A target video given a source actor's expression, keeping its own head: ``step(frame)``.

    Args:
        analyzer: finds and tracks both faces.
        config: smoothing, lost-face policy, mouth painting (``size`` and ``crop`` are unused:
            the target keeps its frame size).
        target_frames: the target video's RGB frames, looped, for :meth:`step` (a live source
            actor drives a recorded target); :meth:`step_pair` needs none.
    """

    def __init__(self, analyzer: FaceAnalyzer, config: AnimateConfig | None = None,
                 target_frames: Iterable[np.ndarray] | None = None) -> None:
        self.config = config or AnimateConfig()
        self.analyzer = analyzer
        tracking = TrackerConfig(redetect_every=self.config.redetect_every, smooth=self.config.smooth)
        self.source_tracker = FaceTracker(analyzer, TargetSelector(), tracking)
        self.target_tracker = FaceTracker(analyzer, TargetSelector(), tracking)
        self._source = _Follower(self.config.hold, self.config.ease, self.config.smooth)
        self._target = _Follower(self.config.hold, self.config.ease)
        self._frames = list(target_frames) if target_frames is not None else []
        self._cycle: Iterator[np.ndarray] | None = None

    def set_references(self, source: np.ndarray | None = None, target: np.ndarray | None = None,
                       source_size: tuple[int, int] = (720, 1280), target_size: tuple[int, int] = (720, 1280)) -> None:
        """The neutral frames' ``(68, 2)`` landmarks the source's and target's expressions are
        measured from (default: each one's first frame with a face), and their frames' ``(H, W)``."""
        if source is not None:
            self._source.set_reference(source, source_size)
        if target is not None:
            self._target.set_reference(target, target_size)

    def step(self, frame: np.ndarray) -> np.ndarray:
        """The next target frame with the expression of the source actor in RGB ``frame``.

        Raises:
            ConfigError: the reenactor was built without ``target_frames``.
        """
        if not self._frames:
            raise ConfigError("Reenactor.step needs target_frames; give them at construction or use step_pair")
        if self._cycle is None:
            self._cycle = _loop(self._frames)
        target = next(self._cycle)
        src = self.source_tracker.update(frame)
        tgt = self.target_tracker.update(target)
        return self.step_pair(frame, src[0] if src else None, target, tgt[0] if tgt else None)

    def step_pair(self, source: np.ndarray | None, source_landmarks: np.ndarray | None,
                  target: np.ndarray, target_landmarks: np.ndarray | None) -> np.ndarray:
        """One target frame (RGB ``uint8``, returned at its size) reenacted with the source frame's
        expression; landmarks ``(68, 2)`` or None where that frame has no face."""
        source_motion = self._source.motion(source_landmarks, source.shape[:2] if source is not None else (720, 1280))
        if target_landmarks is None:
            return target
        target_motion = self._target.motion(target_landmarks, target.shape[:2])
        driven = reenact_points(target_landmarks, target_motion, source_motion)
        out = warp_face(target, target_landmarks, driven)
        if self.config.mouth:
            weight = mouth_weight(driven, target_landmarks)
            if weight > 0:
                lips = region_mean(target, target_landmarks, (np.arange(48, 60),))
                skin = region_mean(target, target_landmarks, (np.array([1, 2, 3, 48, 31, 29]),))
                paint_mouth(out, driven, weight, skin, lips, source if source_landmarks is not None else None,
                            source_landmarks)
        return out


def _loop(frames: list[np.ndarray]) -> Iterator[np.ndarray]:
    while True:
        yield from frames


def warp_face(image: np.ndarray, landmarks: np.ndarray, driven: np.ndarray) -> np.ndarray:
    """``image`` (RGB ``uint8``) with its face mesh moved from ``landmarks`` to ``driven`` (both
    ``(68, 2)``); a ring around the face holds still, so the change fades out before it."""
    src = mesh_points(landmarks).astype(np.float64)
    fixed = ring_points(landmarks, growth=0.55).astype(np.float64)
    src_all = np.concatenate([src, fixed])
    dst_all = np.concatenate([mesh_points(driven).astype(np.float64), fixed])
    opened = np.concatenate([mesh_points(open_features(landmarks)).astype(np.float64), fixed])
    triangles = Delaunay(opened).simplices.astype(np.int32)
    h, w = image.shape[:2]
    x0, y0 = np.maximum(np.floor(fixed.min(0)).astype(int), 0)
    x1, y1 = np.minimum(np.ceil(fixed.max(0)).astype(int) + 1, (w, h))
    out = image.copy()
    if x1 - x0 < 2 or y1 - y0 < 2:
        return out
    warped, covered = warp_mesh(image, src_all, dst_all, triangles, (x0, y0, x1, y1))
    region = out[y0:y1, x0:x1]
    region[covered] = warped[covered]
    return out
