"""Closed source eyes on an open-eyed target: the result keeps the target's eye openness."""

from __future__ import annotations

import numpy as np
import pytest

from masque.face.expression import eye_aspect_ratio
from masque.media import VideoReader
from masque.oneshot import OneShotSwapper, SwapConfig
from masque.oneshot.eyes import eye_strength

#: a frame of clip_long with the presenter's eyes shut (eye aspect ratio 0.04; open: 0.26)
CLOSED_FRAME = 68


@pytest.fixture(scope="module")
def closed(analyzer, fixture_path) -> tuple[np.ndarray, np.ndarray]:
    """(frame, landmarks) of a face with closed eyes."""
    for i, frame in enumerate(VideoReader(fixture_path("clip_long.mp4"))):
        if i == CLOSED_FRAME:
            landmarks = analyzer.detect(frame)[0].landmarks
            assert eye_aspect_ratio(landmarks) < 0.08
            return frame, landmarks
    raise AssertionError("clip_long is shorter than expected")


@pytest.mark.parametrize("name", ["obama2.jpg", "expression_su.jpg", "expression_di.jpg"])
def test_closed_source_eyes_keep_the_targets_openness(analyzer, photo, closed, name) -> None:
    image = photo(name)
    landmarks = analyzer.detect(image)[0].landmarks
    target_ear = eye_aspect_ratio(landmarks)
    assert target_ear > 0.3
    ears = {}
    for diff in (0.0, SwapConfig().eye_ratio):
        out = OneShotSwapper(*closed, SwapConfig(eye_ratio=diff)).swap(image, [landmarks])
        ears[diff] = eye_aspect_ratio(analyzer.detect(out)[0].landmarks)
    kept = ears[SwapConfig().eye_ratio]
    # measured: 0.31 / 0.29 / 0.25 without, 0.37 / 0.33 / 0.31 with (targets 0.36 / 0.36 / 0.32)
    assert abs(kept - target_ear) < 0.04, (kept, target_ear)
    assert abs(kept - target_ear) < abs(ears[0.0] - target_ear), ears


def test_similar_eyes_stay_the_sources(analyzer, photo) -> None:
    a = analyzer.detect(photo("obama.jpg"))[0].landmarks
    b = analyzer.detect(photo("biden.jpg"))[0].landmarks
    assert eye_strength(a, b) == 0.0


def test_the_targets_eyes_fade_in_around_the_threshold(analyzer, photo, closed) -> None:
    open_eyes = analyzer.detect(photo("obama2.jpg"))[0].landmarks
    assert eye_strength(closed[1], open_eyes) == 1.0
    # the same ratio, against thresholds just over, at and just under it
    ratio = eye_aspect_ratio(closed[1]) / eye_aspect_ratio(open_eyes)
    strengths = [eye_strength(closed[1], open_eyes, ratio + t) for t in (0.05, 0.0, -0.05)]
    assert strengths[1] == pytest.approx(0.5)
    assert strengths[0] > strengths[1] > strengths[2] > 0


def test_open_eyes_on_a_video_stay_the_sources(analyzer, photo, fixture_path) -> None:
    """Wherever the clip's presenter has open eyes (0.2 to 0.38: as wide as 1.7x Obama's 0.23), the
    source's eyes stay; where they are shut, the presenter's own are kept."""
    source = analyzer.detect(photo("obama.jpg"))[0].landmarks
    opened, shut = [], []
    for i, frame in enumerate(VideoReader(fixture_path("clip_long.mp4"))):
        if i % 4 == 0:
            target = analyzer.detect(frame)[0].landmarks
            ear = eye_aspect_ratio(target)
            if ear >= 0.2:
                opened.append(eye_strength(source, target))
            elif ear < 0.08:
                shut.append(eye_strength(source, target))
    assert len(opened) > 50 and max(opened) < 0.05 and np.mean(np.array(opened) == 0) > 0.9
    assert len(shut) > 5 and min(shut) == 1.0
