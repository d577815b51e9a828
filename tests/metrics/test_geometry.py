"""Pose, expression and motion measures on real landmarks."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from masque.metrics.geometry import (
    expression_error,
    face_pose,
    inter_ocular,
    landmark_motion,
    pose_error,
    roll_angle,
)

from .conftest import rotate_about_face


@pytest.fixture(scope="module")
def face(analyzer, short_frames):
    return analyzer.detect(short_frames[10])[0]


def _similarity(points: np.ndarray, degrees: float, scale: float, shift: tuple[float, float]) -> np.ndarray:
    c = points.mean(0)
    m = cv2.getRotationMatrix2D((float(c[0]), float(c[1])), degrees, scale)
    m[:, 2] += shift
    return points @ m[:, :2].T + m[:, 2]


def test_roll_follows_an_exact_rotation_of_the_landmarks(face):
    for deg in (-30.0, -12.0, 5.0, 12.0, 40.0):
        assert roll_angle(_similarity(face.landmarks, deg, 1.0, (0, 0))) - roll_angle(face.landmarks) == \
            pytest.approx(deg, abs=1e-6)


def test_roll_of_a_rotated_frame_within_one_degree(analyzer, short_frames, face):
    rotated = rotate_about_face(short_frames[10], face.landmarks, 12.0)
    again = analyzer.detect(rotated)[0]
    err = pose_error(face_pose(again.landmarks, rotated.shape[:2]), face_pose(face.landmarks, rotated.shape[:2]))
    assert err.roll == pytest.approx(12.0, abs=1.0)


def test_pose_is_stable_under_landmark_noise(analyzer, short_frames):
    # a perspective fit on a few points used to flip yaw by 20 degrees here (near-frontal faces)
    rng = np.random.default_rng(0)
    for frame in short_frames[::12]:
        lm = analyzer.detect(frame)[0].landmarks.astype(np.float64)
        base = np.array(face_pose(lm, frame.shape[:2]))
        for _ in range(5):
            noisy = np.array(face_pose(lm + rng.normal(0, 0.5, lm.shape), frame.shape[:2]))
            assert np.abs(noisy - base).max() < 2.0


def test_expression_error_ignores_pose_scale_and_translation(face):
    moved = _similarity(face.landmarks, 17.0, 1.6, (40.0, -25.0))
    assert expression_error(moved, face.landmarks) < 1e-6


def test_expression_error_sees_an_opened_mouth(face):
    lm = face.landmarks.astype(np.float64).copy()
    iod = inter_ocular(lm)
    lm[57:60, 1] += 0.2 * iod  # lower outer lip down by a fifth of the eye distance
    lm[65:68, 1] += 0.2 * iod
    err = expression_error(lm, face.landmarks)
    # 6 of the 32 eye and mouth points moved by 0.2 IOD; Procrustes spreads a little of it
    assert 0.02 < err < 0.06
    assert expression_error(face.landmarks, face.landmarks) == 0.0


def test_motion_is_in_inter_ocular_distances(face):
    shifted = face.landmarks + np.array([inter_ocular(face.landmarks) * 0.5, 0.0], np.float32)
    assert landmark_motion(face.landmarks, shifted) == pytest.approx(0.5, rel=1e-4)


def test_pose_error_wraps_angles():
    err = pose_error((179.0, 0.0, -170.0), (-179.0, 10.0, 170.0))
    assert err.yaw == pytest.approx(-2.0)
    assert err.pitch == pytest.approx(-10.0)
    assert err.roll == pytest.approx(20.0)
