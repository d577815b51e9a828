"""Face tracking for video: detect now and then, follow the landmarks in between.

Detection (HOG) costs about 20 ms a 640x360 frame; re-predicting the landmarks around where they
were a frame ago (:meth:`FaceAnalyzer.relocate`) costs about 3 ms. The tracker detects every
``redetect_every`` frames, or on the next frame when a face is lost, and relocates otherwise.
A re-detection only confirms or drops a tracked face: its landmarks keep coming from tracking,
since switching to the detector's (from a slightly different box) would make the face jump
every ``redetect_every`` frames.

``smooth`` damps the landmarks' frame-to-frame jitter with an exponential moving average whose
weight falls as the face moves faster, so a still face is steady and a moving one does not lag.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from masque.face import Detection, Face, FaceAnalyzer
from masque.face.landmarks import landmarks_bbox
from masque.face.pose import head_pose
from masque.oneshot.masks import face_width
from masque.oneshot.swap import TargetSelector

#: landmark motion (mean displacement over face width) at which smoothing falls to 1/e
_MOTION_SCALE = 0.02
#: mean grey-level change of a frame thumbnail above which a frame starts a new shot
_CUT_LEVELS = 30.0


@dataclass(frozen=True)
class TrackerConfig:
    """How faces are followed through a video.

    Attributes:
        redetect_every: frames between full detections (1 detects every frame).
        smooth: landmark smoothing in [0, 1): 0 is off, 0.5 is moderate, 0.9 is heavy.
        max_misses: re-detections in a row that may miss a tracked face before it is dropped
            (the detector misses some faces the tracker still follows: profiles, motion blur).
        min_iou: overlap a detection needs with a tracked face to confirm it.
    """

    redetect_every: int = 10
    smooth: float = 0.0
    max_misses: int = 2
    min_iou: float = 0.3

    def __post_init__(self) -> None:
        if self.redetect_every < 1:
            raise ValueError(f"redetect_every must be at least 1, got {self.redetect_every}")
        if not 0.0 <= self.smooth < 1.0:
            raise ValueError(f"smooth must be in [0, 1), got {self.smooth}")


@dataclass
class _Track:
    face: Face  # raw landmarks, the starting point for the next frame's relocation
    smoothed: np.ndarray  # what is rendered
    misses: int = 0


def _iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _plausible(before: Face, after: Face, shape: tuple[int, int]) -> bool:
    """False when relocation has clearly lost the face (jumped, shrunk, grown, or left the frame)."""
    w0, w1 = face_width(before.landmarks), face_width(after.landmarks)
    if w0 <= 1 or not 0.7 < w1 / w0 < 1.4:
        return False
    shift = float(np.linalg.norm(after.landmarks.mean(0) - before.landmarks.mean(0)))
    cx, cy = after.landmarks.mean(0)
    return shift < 0.5 * w0 and 0 <= cx < shape[1] and 0 <= cy < shape[0]


class FaceTracker:
    """Follows the faces a :class:`TargetSelector` picks through consecutive frames.

    Args:
        analyzer: detects and relocates faces.
        selector: which faces to follow (all, the largest, or one person).
        config: detection interval, smoothing, tolerance.
    """

    def __init__(self, analyzer: FaceAnalyzer, selector: TargetSelector, config: TrackerConfig | None = None) -> None:
        self.analyzer = analyzer
        self.selector = selector
        self.config = config or TrackerConfig()
        self._tracks: list[_Track] = []
        self._since_detect = 0
        self._detect_next = True
        self._thumb: np.ndarray | None = None
        # faces seen at the last detection that the selector turned down (other people): no
        # need to detect and embed them again on the very next frame
        self._only_others = False
        self.detections = 0  # how many frames ran the detector (for benchmarks and tests)

    def update(self, frame: np.ndarray) -> list[np.ndarray]:
        """Landmarks ``(68, 2)`` ``float32`` of the followed faces in this RGB ``uint8`` frame."""
        gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        shape = gray.shape[:2]
        if self._scene_cut(gray):
            self._tracks = []  # after a cut, the predictor would still "find" a face where one was
            self._only_others = False
        kept = []
        for track in self._tracks:
            moved = self.analyzer.relocate(frame, track.face, gray)
            if _plausible(track.face, moved, shape):
                track.face = moved
                kept.append(track)
            else:
                self._detect_next = True
        self._tracks = kept
        self._since_detect += 1
        idle = not self._tracks and not self._only_others
        if self._detect_next or idle or self._since_detect >= self.config.redetect_every:
            self._redetect(frame, gray)
        for track in self._tracks:
            track.smoothed = self._smooth(track.smoothed, track.face.landmarks)
        return [t.smoothed.copy() for t in self._tracks]

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

        Only the boxes are needed to confirm a tracked face, so landmarks (about 3 ms a face) are
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
        for track in self._tracks:
            box = landmarks_bbox(track.face.landmarks)
            best = max(free, key=lambda i: _iou(box, boxes[i].bbox), default=None)
            if best is not None and _iou(box, boxes[best].bbox) >= self.config.min_iou:
                free.remove(best)
                track.misses = 0
                survivors.append(track)
            elif track.misses < self.config.max_misses:
                track.misses += 1
                self._detect_next = True  # look again next frame rather than in N frames
                survivors.append(track)
        self._tracks = self._admit(frame, gray, survivors, boxes, free)

    def _face(self, gray: np.ndarray, detection: Detection) -> Face:
        lm = self.analyzer.predictor.predict(gray, detection.bbox)
        return Face(detection.bbox, lm, detection.score, pose=head_pose(lm, gray.shape[:2]))

    def _admit(self, frame: np.ndarray, gray: np.ndarray, tracks: list[_Track], boxes: list[Detection],
               free: list[int]) -> list[_Track]:
        """Start tracks for new faces (``boxes[i]`` for ``i`` in ``free``), as the selector allows."""
        mode = self.selector.mode
        if mode == "all":
            return tracks + [_Track(f, f.landmarks) for f in (self._face(gray, boxes[i]) for i in free)]
        if mode == "largest":
            if 0 in free:  # the largest face is not the one followed so far: switch to it
                face = self._face(gray, boxes[0])
                return [_Track(face, face.landmarks)]
            return tracks[:1]
        if tracks or not free:  # reference: one person, already followed or absent
            return tracks[:1]
        new = [self._face(gray, boxes[i]) for i in free]
        chosen = self.selector.select(frame, new, self.analyzer)
        self._only_others = not chosen
        return [_Track(f, f.landmarks) for f in chosen]
