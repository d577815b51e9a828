"""Head pose (yaw, pitch, roll in degrees) from 68 landmarks, by solvePnP on a generic 3D face.

Conventions (camera looking at the subject, image y down): yaw > 0 when the face turns toward
the image's right, pitch > 0 when the face tilts up, roll > 0 when the face rotates
counter-clockwise in the image.
"""

from __future__ import annotations

import cv2
import numpy as np

# A generic face in millimetres, x right, y down, z away from the camera, nose tip at the
# origin (after the widely used 6-point model of head-pose tutorials, extended with the nose
# bridge, inner eye corners and four jaw points). The jaw points sit far behind the nose: without
# that depth the points are nearly coplanar and the fit flips between mirror solutions on
# near-frontal faces (yaw jumping by 40 degrees between consecutive video frames).
_MODEL_INDEX = [30, 8, 36, 45, 48, 54, 27, 39, 42, 33, 0, 16, 4, 12]
_MODEL_POINTS = np.array([
    (0.0, 0.0, 0.0),          # 30 nose tip
    (0.0, 63.6, 12.5),        # 8 chin
    (-43.3, -32.7, 26.0),     # 36 image-left eye, outer corner
    (43.3, -32.7, 26.0),      # 45 image-right eye, outer corner
    (-28.9, 28.9, 24.1),      # 48 mouth, image-left corner
    (28.9, 28.9, 24.1),       # 54 mouth, image-right corner
    (0.0, -33.0, 17.0),       # 27 nose bridge top
    (-15.0, -32.0, 22.0),     # 39 image-left eye, inner corner
    (15.0, -32.0, 22.0),      # 42 image-right eye, inner corner
    (0.0, 8.0, 10.0),         # 33 nose base
    (-70.0, -20.0, 95.0),     # 0 jaw at the image-left ear
    (70.0, -20.0, 95.0),      # 16 jaw at the image-right ear
    (-58.0, 40.0, 60.0),      # 4 jaw, image-left, below the mouth line
    (58.0, 40.0, 60.0),       # 12 jaw, image-right
], dtype=np.float64)


def head_pose(landmarks: np.ndarray, image_size: tuple[int, int]) -> tuple[float, float, float]:
    """Estimate ``(yaw, pitch, roll)`` in degrees.

    Args:
        landmarks: ``(68, 2)`` landmarks in pixels of an image of ``image_size`` = ``(H, W)``.
    """
    h, w = image_size
    focal = float(max(h, w))  # a typical field of view; pose is insensitive to it
    cam = np.array([[focal, 0, w / 2], [0, focal, h / 2], [0, 0, 1]], np.float64)
    pts = np.asarray(landmarks, np.float64)[_MODEL_INDEX]
    ok, rvec, _ = cv2.solvePnP(_MODEL_POINTS, pts, cam, None, flags=cv2.SOLVEPNP_SQPNP)
    if not ok:
        return (float("nan"),) * 3
    rot, _ = cv2.Rodrigues(rvec)
    return rotation_to_euler(rot)


def head_rotation(landmarks: np.ndarray, image_size: tuple[int, int]) -> np.ndarray | None:
    """The head's ``(3, 3)`` model-to-camera rotation (x right, y down, z away from the camera),
    by the same fit as :func:`head_pose`; None when the fit fails."""
    h, w = image_size
    focal = float(max(h, w))
    cam = np.array([[focal, 0, w / 2], [0, focal, h / 2], [0, 0, 1]], np.float64)
    pts = np.asarray(landmarks, np.float64)[_MODEL_INDEX]
    ok, rvec, _ = cv2.solvePnP(_MODEL_POINTS, pts, cam, None, flags=cv2.SOLVEPNP_SQPNP)
    return cv2.Rodrigues(rvec)[0] if ok else None


def rotation_to_euler(rot: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees of a model-to-camera rotation, decomposed as R = Rz Ry Rx."""
    sy = float(np.hypot(rot[0, 0], rot[1, 0]))
    pitch = np.degrees(np.arctan2(rot[2, 1], rot[2, 2]))
    yaw = np.degrees(np.arctan2(-rot[2, 0], sy))
    roll = np.degrees(np.arctan2(rot[1, 0], rot[0, 0]))
    # camera y points down, so a counter-clockwise image rotation is a negative z rotation;
    # a face turning to the image right is a negative rotation about y seen from the camera.
    return float(-yaw), float(-pitch), float(-roll)
