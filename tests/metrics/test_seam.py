"""Seam score: a hard paste shows, a feathered one much less, an untouched frame scores 0."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from masque.face.mask import landmark_mask
from masque.metrics.seam import changed_region, seam_score


@pytest.fixture(scope="module")
def frame_and_face(analyzer, short_frames):
    frame = short_frames[30]
    return frame, analyzer.detect(frame)[0]


def _paste(frame: np.ndarray, mask: np.ndarray, feather: float, delta: float) -> np.ndarray:
    """The face region shifted by ``delta`` grey levels, blended with a mask blurred by ``feather`` px."""
    alpha = mask.astype(np.float32) / 255.0
    if feather:
        alpha = cv2.GaussianBlur(alpha, (0, 0), feather)
    shifted = np.clip(frame.astype(np.float32) + delta, 0, 255)
    out = alpha[..., None] * shifted + (1 - alpha[..., None]) * frame.astype(np.float32)
    return np.round(out).astype(np.uint8)


@pytest.mark.parametrize("delta", [40.0, -30.0])
def test_hard_paste_scores_far_above_feathered(frame_and_face, delta):
    frame, face = frame_and_face
    mask = landmark_mask(face.landmarks, frame.shape[:2])
    hard = seam_score(_paste(frame, mask, 0, delta), frame, face.landmarks)
    soft = seam_score(_paste(frame, mask, 8, delta), frame, face.landmarks)
    assert hard > 0.1
    assert soft < hard / 4


def test_untouched_and_recompressed_frames_score_near_zero(frame_and_face):
    frame, face = frame_and_face
    assert seam_score(frame, frame, face.landmarks) == 0.0
    _ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 85])
    recompressed = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    assert seam_score(recompressed, frame, face.landmarks) < 0.005


def test_changed_region_finds_the_pasted_mask(frame_and_face):
    frame, face = frame_and_face
    mask = landmark_mask(face.landmarks, frame.shape[:2])
    change = _paste(frame, mask, 0, 40.0).astype(np.float32) - frame.astype(np.float32)
    region, _ = changed_region(change, face.landmarks)
    overlap = np.count_nonzero((region > 0) & (mask > 0)) / np.count_nonzero((region > 0) | (mask > 0))
    assert overlap > 0.9
