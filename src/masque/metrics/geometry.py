"""Geometric agreement between a swapped face and the original: pose, expression, jitter.

All functions take ``(68, 2)`` iBUG landmarks in pixels. Distances are normalised by the
inter-ocular distance (between the two eye centres), so they do not depend on face size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from masque.face.align import alignment_matrix, transform_points, umeyama
from masque.face.landmarks import LEFT_EYE, MOUTH, RIGHT_EYE, inter_ocular
from masque.face.pose import head_pose

#: landmarks an expression shows in: both eyes (36-47) and the mouth (48-67)
EXPRESSION_POINTS = np.r_[LEFT_EYE.start:RIGHT_EYE.stop, MOUTH.start:MOUTH.stop]


@dataclass(frozen=True)
class PoseError:
    """Signed pose difference swapped minus original, degrees (conventions of :mod:`masque.face.pose`)."""

    yaw: float
    pitch: float
    roll: float


def roll_angle(landmarks: np.ndarray) -> float:
    """In-plane rotation of the face in degrees, > 0 when rotated counter-clockwise in the image.

    The rotation of the least-squares similarity of landmarks 17-67 onto dlib's mean face. It is
    used instead of the roll of :func:`masque.face.pose.head_pose` because a perspective fit on a
    few points couples roll with yaw: rotating real fixture frames by 12 and 25 degrees moved that
    roll by up to 1.7 and 3 degrees too little, where this 51-point fit stays within 0.8.
    """
    m = alignment_matrix(np.asarray(landmarks, np.float64))
    return float(np.degrees(np.arctan2(m[1, 0], m[0, 0])))


def face_pose(landmarks: np.ndarray, image_size: tuple[int, int]) -> tuple[float, float, float]:
    """``(yaw, pitch, roll)`` degrees: yaw and pitch of ``head_pose``, roll of :func:`roll_angle`.

    Conventions as :mod:`masque.face.pose`: yaw > 0 turning to the image's right, pitch > 0
    tilting up, roll > 0 counter-clockwise in the image.
    """
    yaw, pitch, _ = head_pose(landmarks, image_size)
    return yaw, pitch, roll_angle(landmarks)


def pose_error(swapped: tuple[float, float, float], original: tuple[float, float, float]) -> PoseError:
    """Signed ``swapped - original`` for each angle, wrapped into [-180, 180)."""
    d = [(s - o + 180.0) % 360.0 - 180.0 for s, o in zip(swapped, original)]
    return PoseError(*d)


def expression_error(swapped: np.ndarray, original: np.ndarray) -> float:
    """How differently the eyes and mouth are shaped, with pose, scale and translation removed.

    The swapped landmarks are mapped onto the original ones by the least-squares similarity of all
    68 points (Procrustes); the result is the mean distance of the eye and mouth points (36-67),
    divided by the original's inter-ocular distance. 0 for identical shapes. Out-of-plane pose
    differences cannot be removed in 2D and remain; pose error reports them separately. An
    identity swap keeps some error even with a perfect expression (eye and mouth shapes differ
    from person to person): compare methods, not against 0.
    """
    src = np.asarray(swapped, np.float64)
    dst = np.asarray(original, np.float64)
    fitted = transform_points(src, umeyama(src, dst)).astype(np.float64)
    dist = np.linalg.norm(fitted[EXPRESSION_POINTS] - dst[EXPRESSION_POINTS], axis=1)
    return float(dist.mean() / max(inter_ocular(dst), 1e-6))


def landmark_motion(previous: np.ndarray, current: np.ndarray) -> float:
    """Mean frame-to-frame displacement of the 68 points, in inter-ocular distances."""
    prev = np.asarray(previous, np.float64)
    cur = np.asarray(current, np.float64)
    return float(np.linalg.norm(cur - prev, axis=1).mean() / max(inter_ocular(cur), 1e-6))
