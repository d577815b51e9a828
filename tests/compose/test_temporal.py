"""The colour correction smoothed per track: measurement noise damped, real light changes followed."""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest

from masque.compose.color import match_color
from masque.compose.temporal import SmoothedColor
from masque.errors import ConfigError
from masque.face.mask import landmark_mask
from masque.media import VideoReader


@pytest.fixture(scope="module")
def scene(analyzer, fixture_path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A real frame; a new face: the frame's face made warmer and darker (another person's skin), on
    a background of its own, as a decoder draws it; and the face mask."""
    frame = next(itertools.islice(VideoReader(fixture_path("clip_short.mp4")), 30, None))
    mask = landmark_mask(analyzer.detect(frame)[0].landmarks, frame.shape[:2], "extended")
    face = np.clip(frame.astype(np.float32) * (0.8, 0.7, 0.6) + (20, 5, 0), 0, 255).astype(np.uint8)
    face[cv2.dilate(mask, np.ones((9, 9), np.uint8)) == 0] = (60, 50, 45)
    return frame, face, mask


def _jittered(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The mask grown or shrunk by up to 14 px and moved by up to 4 px, as a learned mask wobbles."""
    k = int(rng.integers(1, 15))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1))
    m = cv2.dilate(mask, kernel) if rng.random() < 0.5 else cv2.erode(mask, kernel)
    dx, dy = rng.integers(-4, 5, size=2)
    return cv2.warpAffine(m, np.float32([[1, 0, dx], [0, 1, dy]]), m.shape[::-1])


def _mean_inside(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return image[cv2.erode(mask, np.ones((15, 15), np.uint8)) > 0].astype(np.float64).mean(0)


@pytest.mark.parametrize("matcher", ["rct", "avg"])
def test_wobbling_statistics_flicker_less(scene, matcher) -> None:
    """Same frame, same face, only the mask the statistics are measured under wobbles: the plain
    matcher's output colour jumps from frame to frame, the smoothed one's several times less."""
    frame, face, mask = scene
    rng = np.random.default_rng(0)
    masks = [_jittered(mask, rng) for _ in range(30)]
    smoother = SmoothedColor(matcher, keep=0.8)
    plain = np.array([_mean_inside(match_color(matcher, face, frame, m), mask) for m in masks])
    smooth = np.array([_mean_inside(smoother(7, face, frame, m), mask) for m in masks])
    flicker_plain = np.linalg.norm(np.diff(plain, axis=0), axis=1).mean()
    flicker_smooth = np.linalg.norm(np.diff(smooth, axis=0), axis=1).mean()
    print(f"{matcher}: {flicker_plain:.2f} -> {flicker_smooth:.2f} levels/frame")
    assert flicker_plain > 0.5  # grey levels per frame: there is something to damp
    assert flicker_smooth < flicker_plain / 2.5
    # and the smoothed colour is still the matched one, on average
    assert np.abs(smooth.mean(0) - plain.mean(0)).max() < 1.5


def test_a_change_of_light_is_followed(scene) -> None:
    """The scene darkens by 30 levels: within half a second (15 frames) the face is matched to the new light."""
    frame, face, mask = scene
    darker = np.clip(frame.astype(np.int16) - 30, 0, 255).astype(np.uint8)
    smoother = SmoothedColor("rct", keep=0.8)
    for _ in range(5):
        smoother(1, face, frame, mask)
    after = [_mean_inside(smoother(1, face, darker, mask), mask) for _ in range(15)]
    want = _mean_inside(match_color("rct", face, darker, mask), mask)
    assert np.abs(after[-1] - want).max() < 1.5


def test_first_frame_of_a_track_is_the_plain_match(scene) -> None:
    frame, face, mask = scene
    smoother = SmoothedColor("rct", keep=0.9)
    plain = match_color("rct", face, frame, mask)
    brighter = np.clip(frame.astype(np.int16) + 40, 0, 255).astype(np.uint8)
    assert np.array_equal(smoother(1, face, brighter, mask), match_color("rct", face, brighter, mask))
    # another face, or the same after the tracker lost it (a scene cut), starts afresh
    assert np.array_equal(smoother(2, face, frame, mask), plain)
    smoother.retain([2])
    assert np.array_equal(smoother(1, face, frame, mask), plain)
    smoother.reset()
    assert np.array_equal(smoother(2, face, brighter, mask), match_color("rct", face, brighter, mask))


def test_no_smoothing_is_the_plain_matcher(scene) -> None:
    frame, face, mask = scene
    smoother = SmoothedColor("rct-ratio", keep=0.0)
    for delta in (0, 40):
        target = np.clip(frame.astype(np.int16) + delta, 0, 255).astype(np.uint8)
        assert np.array_equal(smoother(1, face, target, mask), match_color("rct-ratio", face, target, mask))


@pytest.mark.unit
def test_keep_must_be_below_one() -> None:
    with pytest.raises(ConfigError, match=r"\[0, 1\)"):
        SmoothedColor("rct", keep=1.0)
