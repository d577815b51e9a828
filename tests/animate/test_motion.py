"""Relative motion: the reference reproduces the driving face, only the change is transferred,
lids and lips never cross, a lost face is held then eased back."""

from __future__ import annotations

import numpy as np
import pytest

from masque.animate.animator import _Follower
from masque.animate.motion import (
    Motion,
    MotionSource,
    Rigid,
    apply,
    drive,
    fit_similarity,
    no_overlap,
    reenact_points,
)
from masque.face.expression import eye_aspect_ratio, mouth_openness
from masque.face.pose import head_pose

SIZE = (720, 1280)


@pytest.fixture(scope="module")
def faces(analyzer, photo) -> tuple[np.ndarray, np.ndarray]:
    """Two real, different faces' landmarks: Obama's and Biden's."""
    return analyzer.detect(photo("obama.jpg"))[0].landmarks, analyzer.detect(photo("biden.jpg"))[0].landmarks


def _moved(lm: np.ndarray, angle: float = 0.0, scale: float = 1.0, shift=(0.0, 0.0)) -> np.ndarray:
    c = lm.mean(0)
    m = Rigid(angle, scale, shift).matrix()
    return (apply(m, lm - c) + c).astype(np.float32)


def _open_mouth(lm: np.ndarray, px: float) -> np.ndarray:
    out = lm.copy()
    out[[56, 57, 58, 65, 66, 67, 7, 8, 9], 1] += px
    return out


def test_similarity_fit_recovers_a_known_one() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(20, 2)) * 50
    m = Rigid(0.3, 1.7, (12.0, -4.0)).matrix()
    assert np.allclose(fit_similarity(a, apply(m, a)), m, atol=1e-9)


def test_the_reference_itself_as_photo_reproduces_the_driving_face(faces) -> None:
    ref, _ = faces
    driving = _moved(_open_mouth(ref, 12.0), angle=0.2, scale=1.1, shift=(30.0, -10.0))
    out = drive(ref, MotionSource(ref, SIZE).motion(driving))
    # exact but for the perspective of the pose fit: within 1 % of the face's width
    assert np.abs(out - driving).max() < 0.01 * np.ptp(ref[:, 0])


def test_no_change_leaves_another_face_its_own_shape(faces) -> None:
    ref, photo = faces
    out = drive(photo, MotionSource(ref, SIZE).motion(ref))
    assert np.abs(out - photo).max() < 1e-3


def test_an_opening_mouth_opens_the_photo_s_and_nothing_else_changes_shape(faces) -> None:
    ref, photo = faces
    out = drive(photo, MotionSource(ref, SIZE).motion(_open_mouth(ref, 15.0)))
    assert mouth_openness(out) > mouth_openness(photo) + 0.1
    assert abs(eye_aspect_ratio(out) - eye_aspect_ratio(photo)) < 0.02
    assert np.abs(out[27:36] - photo[27:36]).max() < 1.5  # the nose holds still


def test_rotation_scale_and_shift_are_relative(faces) -> None:
    ref, photo = faces
    out = drive(photo, MotionSource(ref, SIZE).motion(_moved(ref, angle=0.25)))
    before = photo[45] - photo[36]
    after = out[45] - out[36]
    turned = np.arctan2(after[1], after[0]) - np.arctan2(before[1], before[0])
    assert turned == pytest.approx(0.25, abs=0.02)


def test_a_turn_in_depth_turns_the_photo_s_head(faces) -> None:
    _, photo = faces
    base = np.array(head_pose(photo, SIZE))
    for yaw, pitch in ((0.26, 0.0), (0.0, 0.17)):
        out = drive(photo, Motion(Rigid(), np.zeros((68, 2)), yaw, pitch))
        change = np.array(head_pose(out, SIZE)) - base
        # head_pose reports angles with the opposite sign of the camera-axis rotation
        assert change[0] == pytest.approx(-np.degrees(yaw), abs=2.5)
        assert change[1] == pytest.approx(-np.degrees(pitch), abs=2.5)


def test_closing_past_closed_stops_at_closed() -> None:
    pts = np.zeros((68, 2))
    own = pts.copy()
    pts[[37, 38, 43, 44, 61, 62, 63], 1] = 1.0  # upper lids and lip below their partners
    fixed = no_overlap(pts, own)
    assert np.all(fixed[[37, 38, 43, 44, 61, 62, 63], 1] == fixed[[41, 40, 47, 46, 67, 66, 65], 1])
    assert np.array_equal(no_overlap(own, own), own)  # the face's own pose is left alone


def test_reenactment_swaps_expression_and_keeps_pose(faces) -> None:
    ref, target = faces
    source = MotionSource(ref, SIZE).motion(_open_mouth(ref, 15.0))
    own = MotionSource(target, SIZE)
    tilted = _moved(target, angle=0.2)
    out = reenact_points(tilted, own.motion(tilted), source)
    assert mouth_openness(out) > mouth_openness(tilted) + 0.1
    assert np.abs(out[27:36] - tilted[27:36]).max() < 1e-3  # nose (the pose) untouched


def test_a_lost_face_is_held_then_eased_back(faces) -> None:
    ref, _ = faces
    follow = _Follower(hold=3, ease=4)
    follow.motion(ref, SIZE)
    moving = follow.motion(_moved(ref, angle=0.3), SIZE)
    held = [follow.motion(None) for _ in range(3)]
    assert all(m.rigid.angle == pytest.approx(moving.rigid.angle) for m in held)
    easing = [follow.motion(None).rigid.angle for _ in range(4)]
    assert all(a > b for a, b in zip([moving.rigid.angle, *easing], easing))  # strictly back toward 0
    assert easing[-1] == pytest.approx(0.0, abs=1e-9)
    back = [follow.motion(_moved(ref, angle=0.3), SIZE).rigid.angle for _ in range(4)]
    assert back[0] < 0.3 * 0.5 and back[-1] == pytest.approx(0.3, abs=1e-6)  # eased in, no jump
