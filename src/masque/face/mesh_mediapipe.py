"""mediapipe's 468-point face mesh: a second landmark model, independent of dlib's 68 points.

``masque evaluate --driving`` measures an animation with it, so the measure is not circular: the
animation is driven by dlib's landmarks, and a warp that only moves dlib's points where they
were asked to go would look perfect to dlib. The model (``face_landmark.tflite``) is the one
bundled in the mediapipe 0.10.14 wheel; nothing is downloaded. mediapipe is imported when a
:class:`FaceMesh` is built, never when this module is.

The measures below (:func:`mesh_mouth_opening`, :func:`mesh_eye_opening`, :func:`mesh_pose`)
are ratios or angles, independent of the face's size.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from masque.errors import MissingDependencyError
from masque.face.detect_mediapipe import INSTALL_HINT, MEDIAPIPE_VERSION, _quiet_stderr
from masque.face.pose import head_pose

#: mesh points standing in for dlib's 14 pose points (nose tip 30, chin 8, outer eye corners 36
#: and 45, mouth corners 48 and 54, nose bridge 27, inner eye corners 39 and 42, nose base 33,
#: jaw at the ears 0 and 16, jaw below the mouth 4 and 12), in image-left / image-right order
_POSE_POINTS = {30: 1, 8: 152, 36: 33, 45: 263, 48: 61, 54: 291, 27: 168, 39: 133, 42: 362, 33: 2,
                0: 234, 16: 454, 4: 172, 12: 397}


class FaceMesh:
    """mediapipe FaceMesh on the CPU, one face, consecutive video frames (it tracks between them).

    Not thread-safe. Raises :class:`~masque.errors.MissingDependencyError` without mediapipe.
    """

    def __init__(self, video: bool = True) -> None:
        try:
            from mediapipe.python.solutions import face_mesh
        except ImportError as exc:
            raise MissingDependencyError(
                f"the face mesh measures need mediapipe {MEDIAPIPE_VERSION} ({exc}); install it with: "
                f"{INSTALL_HINT}") from exc
        with _quiet_stderr():
            self._mesh: Any = face_mesh.FaceMesh(static_image_mode=not video, max_num_faces=1,
                                                 refine_landmarks=False, min_detection_confidence=0.5,
                                                 min_tracking_confidence=0.5)
            self.landmarks(np.zeros((64, 64, 3), np.uint8))

    def landmarks(self, image: np.ndarray) -> np.ndarray | None:
        """``(468, 3)`` ``float64`` mesh points of the face in an RGB ``uint8`` image: x, y in pixels,
        z in pixels toward the camera's depth; None when no face is found."""
        h, w = image.shape[:2]
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"SymbolDatabase\.GetPrototype", category=UserWarning)
            result = self._mesh.process(np.ascontiguousarray(image, dtype=np.uint8))
        if not result.multi_face_landmarks:
            return None
        pts = result.multi_face_landmarks[0].landmark
        return np.array([(p.x * w, p.y * h, p.z * w) for p in pts], np.float64)

    def close(self) -> None:
        self._mesh.close()


def _dist(p: np.ndarray, a: int, b: int) -> float:
    return float(np.linalg.norm(p[a, :2] - p[b, :2]))


def mesh_inter_ocular(points: np.ndarray) -> float:
    """Distance between the eyes' centres (corner midpoints) of ``(468, 2+)`` mesh points, pixels."""
    left = (points[33, :2] + points[133, :2]) / 2
    right = (points[362, :2] + points[263, :2]) / 2
    return float(np.linalg.norm(right - left))


def mesh_mouth_opening(points: np.ndarray) -> float:
    """Inner-lip gap (points 13-14) in inter-ocular distances."""
    return _dist(points, 13, 14) / max(mesh_inter_ocular(points), 1e-6)


def mesh_eye_opening(points: np.ndarray) -> float:
    """Mean lid gap of both eyes (159-145, 386-374) in inter-ocular distances (shut: near 0)."""
    return (_dist(points, 159, 145) + _dist(points, 386, 374)) / 2 / max(mesh_inter_ocular(points), 1e-6)


def mesh_pose(points: np.ndarray, image_size: tuple[int, int]) -> tuple[float, float, float]:
    """``(yaw, pitch, roll)`` degrees from mesh points, by :func:`masque.face.pose.head_pose`'s
    solvePnP on the mesh points at dlib's 14 pose landmarks (``image_size`` is ``(H, W)``)."""
    stand_in = np.zeros((68, 2), np.float64)
    for dlib_index, mesh_index in _POSE_POINTS.items():
        stand_in[dlib_index] = points[mesh_index, :2]
    return head_pose(stand_in, image_size)
