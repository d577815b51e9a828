"""Following faces through video: the one tracker of extract, convert, swap and evaluate.

A full HOG detection costs 15-40 ms on a 640x360 frame; re-predicting a face's 68 landmarks
around where they were a frame ago (:meth:`FaceAnalyzer.relocate`) costs 1-3 ms. So faces are
detected now and then and tracked in between, by this policy:

1. **Detect every N frames.** A full-resolution detection runs on the first frame and then every
   ``redetect_every`` frames; in between, each followed face is tracked.
2. **Re-detect on loss.** A tracked face whose new landmarks are implausible (moved more than a
   quarter of its size since the last frame, grew or shrank by more than 25 % since the last
   frame or since it was last detected, its centre left the frame, or the image under it is
   flat, as where it was blanked or covered: the predictor always returns a shape, and over
   something that is not a face it drifts and shrinks a little each frame) is dropped, and the
   detector runs on that frame.
3. **Re-detect on a scene cut.** A frame whose 32x18 grey thumbnail differs from the last one's
   by more than 30 levels on average starts a new shot: every track is dropped (the predictor
   would still "find" a face where one was) and the detector runs on that frame.
4. **Confirm, do not replace.** A detection confirms a tracked face whose box it overlaps
   (IoU >= ``min_iou``); the face keeps its tracked landmarks (switching to the ones predicted
   from the detector's slightly different box would make it jump every N frames). A face the
   detector misses (profiles, motion blur) is kept through ``max_misses`` re-detections in a
   row, run on the next frames, then dropped. Boxes matching no track start new tracks as the
   :class:`~masque.face.target.TargetSelector` allows; when the selector turned every face
   down (someone else), nothing is detected again until the next N-th frame.
5. **While nothing is followed, look on every frame** (the default: convert and swap must not
   leave a returning face unswapped for a frame longer than needed), or **look cheaply**, as
   extract does (a face lost for a few frames costs it only those frames): the full detection
   still runs every N frames; in between, a cheap pass (the detector on the frame scaled by
   ``lost_scale``: a quarter of the pixels at 0.5, 4-5x cheaper for HOG) runs on the 1st, 2nd,
   4th, 8th... frame since the loss, the gap doubling up to ``lost_every``; only when it finds a
   face does the full detection run on that frame. A face that returns is then picked up within
   ``lost_every`` frames when it is at least 80 / ``lost_scale`` px wide (HOG's smallest face at
   that scale), else within N. :data:`CHEAP_LOOKS` holds extract's settings.
6. **Smooth what is returned.** ``smooth`` damps the landmarks' frame-to-frame jitter with an
   exponential moving average whose weight falls as the face moves faster, so a still face is
   steady and a moving one does not lag. Tracking always starts from the raw landmarks.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TypedDict

import cv2
import numpy as np

from masque.errors import ConfigError
from masque.face.analyze import FaceAnalyzer
from masque.face.detect import Detection
from masque.face.landmarks import face_width, landmarks_bbox
from masque.face.pose import head_pose
from masque.face.target import TargetSelector
from masque.face.types import Face

#: landmark motion (mean displacement over jaw width) at which smoothing falls to 1/e
_MOTION_SCALE = 0.02
#: mean grey-level change of a frame thumbnail above which a frame starts a new shot
_CUT_LEVELS = 30.0
#: grey-level spread under a tracked face's landmarks below which nothing is there (a blurred,
#: dim face still spreads over 20 levels; a blanked one, compression noise only)
_FLAT_LEVELS = 4.0


@dataclass(frozen=True)
class TrackerConfig:
    """How faces are followed through a video (see the module's policy).

    Attributes:
        redetect_every: frames between full detections (1 detects every frame).
        smooth: landmark smoothing in [0, 1): 0 is off, 0.5 is moderate, 0.9 is heavy.
        max_misses: re-detections in a row that may miss a tracked face before it is dropped
            (the detector misses some faces the tracker still follows: profiles, motion blur).
        min_iou: overlap a detection needs with a tracked face to confirm it.
        lost_every: while no face is followed, the longest gap (frames) between looks;
            1 (the default) looks on every frame.
        lost_scale: scale of the frame a look detects on, in (0, 1]; 1 (the default) makes
            every look a full detection.
    """

    redetect_every: int = 10
    smooth: float = 0.0
    max_misses: int = 2
    min_iou: float = 0.3
    lost_every: int = 1
    lost_scale: float = 1.0

    def __post_init__(self) -> None:
        if self.redetect_every < 1:
            raise ConfigError(f"redetect_every (frames between detections) must be 1 or more, "
                              f"got {self.redetect_every}")
        if not 0.0 <= self.smooth < 1.0:
            raise ConfigError(f"smooth must be in [0, 1) (0 off, 0.9 heavy), got {self.smooth}")
        if self.lost_every < 1:
            raise ConfigError(f"lost_every must be 1 or more, got {self.lost_every}")
        if not 0.0 < self.lost_scale <= 1.0:
            raise ConfigError(f"lost_scale must be in (0, 1], got {self.lost_scale}")


class _Looks(TypedDict):
    lost_every: int
    lost_scale: float


#: extract's looks for a lost face: half-resolution passes, at most 4 frames apart
CHEAP_LOOKS: _Looks = {"lost_every": 4, "lost_scale": 0.5}


@dataclass(frozen=True)
class TrackedFace:
    """One followed face in one frame.

    Attributes:
        face: the face; its ``landmarks`` ``(68, 2)`` ``float32`` are the smoothed ones.
        track: the track's number, the same in every frame while the face is followed.
        detected: the detector found the face on this frame (a new track or a confirmed one);
            False when it was only tracked.
    """

    face: Face
    track: int
    detected: bool


@dataclass
class _Track:
    face: Face  # raw landmarks, the starting point for the next frame's relocation
    smoothed: np.ndarray  # what is returned
    number: int
    anchor: float  # the face's size when the detector last saw it
    detected: bool = True
    misses: int = 0


def _iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _size(landmarks: np.ndarray) -> float:
    return float(np.ptp(landmarks, axis=0).max())


def plausible(before: Face, after: Face, gray: np.ndarray, anchor: float | None = None) -> bool:
    """False when relocation has clearly lost the face: it moved more than a quarter of its size,
    changed size by more than 25 % (from ``before``, and from ``anchor``, its size when last
    detected, if given), its centre left the frame, or the grey ``(H, W)`` ``uint8`` frame is
    flat under it (blanked or covered by something plain: the predictor would still place a
    face there)."""
    s0, s1 = _size(before.landmarks), _size(after.landmarks)
    centre = after.landmarks.mean(0)
    shift = float(np.linalg.norm(centre - before.landmarks.mean(0)))
    h, w = gray.shape[:2]
    if not (s0 > 1 and 0.8 < s1 / s0 < 1.25 and shift < 0.25 * s0 and 0 <= centre[0] < w and 0 <= centre[1] < h):
        return False
    if anchor is not None and not 0.8 < s1 / max(anchor, 1.0) < 1.25:
        return False
    x0, y0 = np.clip(after.landmarks.min(0), 0, (w - 1, h - 1)).astype(int)
    x1, y1 = np.clip(after.landmarks.max(0), 1, (w, h)).astype(int)
    patch = gray[y0:y1:2, x0:x1:2]  # every other pixel is plenty for a spread
    return bool(patch.size and float(patch.std()) > _FLAT_LEVELS)


def nearest_face(faces: list[Face], point: np.ndarray | None) -> Face | None:
    """The face whose landmark centre is nearest ``point`` ``(x, y)`` if within one face width;
    with no ``point``, the largest; None when there is none."""
    if not faces:
        return None
    if point is None:
        return max(faces, key=lambda f: f.area)
    dist = [float(np.linalg.norm(f.landmarks.mean(0) - point)) for f in faces]
    best = int(np.argmin(dist))
    return faces[best] if dist[best] < faces[best].width else None


class FaceTracker:
    """Follows the faces a :class:`TargetSelector` picks through consecutive frames.

    Args:
        analyzer: detects and relocates faces.
        selector: which faces to follow (all, the largest, or one person).
        config: detection interval, lost-face search, smoothing, tolerance.

    ``detections`` counts the frames that ran the full-resolution detector and ``glances`` the
    cheap passes (for stats, benchmarks and tests).
    """

    def __init__(self, analyzer: FaceAnalyzer, selector: TargetSelector | None = None,
                 config: TrackerConfig | None = None) -> None:
        self.analyzer = analyzer
        self.selector = selector or TargetSelector()
        self.config = config or TrackerConfig()
        self.detections = 0
        self.glances = 0
        self._numbers = 0
        self.reset()

    def reset(self) -> None:
        """Forget every face: the next frame is detected afresh (between unrelated frames)."""
        self._tracks: list[_Track] = []
        self._since_detect = 0
        self._detect_next = True
        self._thumb: np.ndarray | None = None
        # the last detection's faces were all turned down by the selector (other people): no
        # need to detect and embed them again on the very next frame
        self._only_others = False
        self._lost = 0  # frames since no face was followed
        self._gap = 1
        self._next_look = 1

    def update(self, frame: np.ndarray) -> list[np.ndarray]:
        """Landmarks ``(68, 2)`` ``float32`` of the followed faces in this RGB ``uint8`` frame."""
        return [t.face.landmarks for t in self.track(frame)]

    def track(self, frame: np.ndarray) -> list[TrackedFace]:
        """The followed faces in this RGB ``(H, W, 3)`` ``uint8`` frame, the next of the video."""
        gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        if self._scene_cut(gray):
            self._tracks, self._only_others, self._detect_next = [], False, True
        kept = []
        for t in self._tracks:
            moved = self.analyzer.relocate(frame, t.face, gray)
            if plausible(t.face, moved, gray, t.anchor):
                t.face, t.detected = moved, False
                kept.append(t)
            else:
                self._detect_next = True
        self._tracks = kept
        self._since_detect += 1
        idle = not self._tracks and not self._only_others
        self._lost += idle
        due = self._detect_next or self._since_detect >= self.config.redetect_every
        if idle and not due:
            due = self._look(frame)
        if due:
            self._redetect(frame, gray)
        if self._tracks or self._only_others:
            self._lost, self._gap, self._next_look = 0, 1, 1
        out = []
        for t in self._tracks:
            t.smoothed = self._smooth(t.smoothed, t.face.landmarks)
            out.append(TrackedFace(replace(t.face, landmarks=t.smoothed.copy()), t.number, t.detected))
        return out

    def _look(self, frame: np.ndarray) -> bool:
        """While nothing is followed: on this lost frame's turn, the cheap pass; True when the
        full detection should run (the pass found a face, or there is no cheaper pass)."""
        if self._lost < self._next_look:
            return False
        self._next_look = self._lost + self._gap
        self._gap = min(2 * self._gap, self.config.lost_every)
        scale = self.config.lost_scale
        if scale >= 1.0:
            return True
        self.glances += 1
        small = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        min_face = self.analyzer.config.min_face * scale
        return any(d.bbox[2] - d.bbox[0] >= min_face for d in self.analyzer.detector.detect(small))

    def _scene_cut(self, gray: np.ndarray) -> bool:
        """True when this frame differs from the last as a new shot does (mean grey change of a
        32x18 thumbnail above 30 levels: head motion stays far below that)."""
        thumb = cv2.resize(gray, (32, 18), interpolation=cv2.INTER_AREA).astype(np.int16)
        cut = self._thumb is not None and float(np.abs(thumb - self._thumb).mean()) > _CUT_LEVELS
        self._thumb = thumb
        return cut

    def _smooth(self, previous: np.ndarray, current: np.ndarray) -> np.ndarray:
        if self.config.smooth <= 0 or previous is current:
            return current
        motion = float(np.linalg.norm(current - previous, axis=1).mean()) / max(face_width(current), 1.0)
        keep = self.config.smooth * float(np.exp(-motion / _MOTION_SCALE))
        return (keep * previous + (1.0 - keep) * current).astype(np.float32)

    def _redetect(self, frame: np.ndarray, gray: np.ndarray) -> None:
        """Confirm the tracked faces with detector boxes, drop lost ones, start new ones.

        Only the boxes are needed to confirm a tracked face, so landmarks (1-3 ms a face) are
        predicted only for the faces that start a new track.
        """
        self.detections += 1
        self._since_detect = 0
        self._detect_next = False
        self._only_others = False
        min_face = self.analyzer.config.min_face
        boxes = [d for d in self.analyzer.detector.detect(frame) if d.bbox[2] - d.bbox[0] >= min_face]
        boxes.sort(key=lambda d: -(d.bbox[2] - d.bbox[0]) * (d.bbox[3] - d.bbox[1]))
        free = list(range(len(boxes)))
        survivors = []
        for t in self._tracks:
            box = landmarks_bbox(t.face.landmarks)
            best = max(free, key=lambda i: _iou(box, boxes[i].bbox), default=None)
            if best is not None and _iou(box, boxes[best].bbox) >= self.config.min_iou:
                free.remove(best)
                t.misses, t.detected, t.anchor = 0, True, _size(t.face.landmarks)
                survivors.append(t)
            elif t.misses < self.config.max_misses:
                t.misses += 1
                self._detect_next = True  # look again next frame rather than in N frames
                survivors.append(t)
        self._tracks = self._admit(frame, gray, survivors, boxes, free)

    def _face(self, gray: np.ndarray, detection: Detection) -> Face:
        lm = self.analyzer.predictor.predict(gray, detection.bbox)
        return Face(detection.bbox, lm, detection.score, pose=head_pose(lm, gray.shape[:2]))

    def _new(self, face: Face) -> _Track:
        self._numbers += 1
        return _Track(face, face.landmarks, self._numbers, _size(face.landmarks))

    def _admit(self, frame: np.ndarray, gray: np.ndarray, tracks: list[_Track], boxes: list[Detection],
               free: list[int]) -> list[_Track]:
        """Start tracks for new faces (``boxes[i]`` for ``i`` in ``free``), as the selector allows."""
        mode = self.selector.mode
        if mode == "all":
            return tracks + [self._new(self._face(gray, boxes[i])) for i in free]
        if mode == "largest":
            if 0 in free:  # the largest face is not the one followed so far: switch to it
                return [self._new(self._face(gray, boxes[0]))]
            return tracks[:1]
        if tracks or not free:  # reference: one person, already followed or absent
            return tracks[:1]
        new = [self._face(gray, boxes[i]) for i in free]
        chosen = self.selector.select(frame, new, self.analyzer)
        self._only_others = not chosen
        return [self._new(f) for f in chosen]
