"""Detail ratio on a real fixture frame: 1.0 against itself, falling with blur, noise counted mostly at full scale."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from masque.metrics.detail import detail_ratio, inner_box


@pytest.fixture(scope="module")
def frame_and_box(analyzer, short_frames):
    frame = short_frames[30]
    return frame, tuple(float(v) for v in analyzer.detect(frame)[0].bbox)


def test_the_original_against_itself_is_exactly_one(frame_and_box):
    frame, box = frame_and_box
    assert detail_ratio(frame, frame, box) == (1.0, 1.0)


def test_blur_lowers_both_ratios_more_the_stronger_it_is(frame_and_box):
    frame, box = frame_and_box
    ratios = np.array([detail_ratio(cv2.GaussianBlur(frame, (0, 0), sigma), frame, box) for sigma in (0.5, 1, 2, 4)])
    assert np.all(np.diff(ratios, axis=0) < 0)  # each column (half, full) falls with every stronger blur
    assert ratios[1, 0] < 0.7 and ratios[1, 1] < 0.3  # 1 px of blur already costs most of the fine detail
    assert ratios[3].max() < 0.1


def test_a_4x_down_and_up_sampled_face_keeps_little_detail(frame_and_box):
    frame, box = frame_and_box
    h, w = frame.shape[:2]
    small = cv2.resize(frame, (w // 4, h // 4), interpolation=cv2.INTER_AREA)
    half, full = detail_ratio(cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR), frame, box)
    assert half < 0.3 and full < 0.1


def test_noise_raises_the_full_scale_ratio_much_more_than_the_half_scale_one(frame_and_box):
    frame, box = frame_and_box
    noisy = np.clip(frame + np.random.default_rng(0).normal(0, 8, frame.shape), 0, 255).astype(np.uint8)
    half, full = detail_ratio(noisy, frame, box)
    assert full > 2.0
    assert 1.0 <= half < 1.2
    assert full - 1 > 10 * (half - 1)


def test_only_the_inner_60_percent_of_the_box_is_read(frame_and_box):
    frame, box = frame_and_box
    x0, y0, x1, y1 = inner_box(box, frame.shape)
    assert (x1 - x0) == pytest.approx(0.6 * (box[2] - box[0]), abs=1)
    outside = frame.copy()
    outside[:y0] = 0  # a change above the inner box (forehead, hair, background) does not count
    outside[y1:] = 255
    assert detail_ratio(outside, frame, box) == (1.0, 1.0)
    assert all(np.isnan(detail_ratio(frame, frame, (10.0, 10.0, 20.0, 20.0))))  # too small a box
