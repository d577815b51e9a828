"""The one face tracker on the fixture clip: follows the face like the detector, smooths jitter,
finds a face after a faceless shot, ignores other people cheaply, and picks a covered face up
again soon after it returns without a full detection on every frame it was gone."""

from __future__ import annotations

import copy

import cv2
import numpy as np
import pytest

from masque.face import FaceAnalyzer, FaceTracker, TargetSelector, TrackerConfig
from masque.face.detect import Detection
from masque.face.track import CHEAP_LOOKS
from masque.media import VideoReader

COVER = range(20, 31)  # frames of the clip on which the face is hidden (it returns between full detections)


@pytest.fixture(scope="module")
def short_frames(fixture_path) -> list[np.ndarray]:
    return list(VideoReader(fixture_path("clip_short.mp4")))


@pytest.fixture(scope="module")
def covered_frames(analyzer, short_frames) -> list[np.ndarray]:
    """The clip's first 48 frames, the face under a grey box on the ``COVER`` frames (small
    enough that covering and uncovering it is no scene cut)."""
    x0, y0, x1, y1 = (int(v) for v in analyzer.detect(short_frames[COVER[0]])[0].bbox)
    pad = (x1 - x0) // 8
    frames = [f.copy() for f in short_frames[:48]]
    for i in COVER:
        frames[i][max(y0 - pad, 0):y1 + pad, max(x0 - pad, 0):x1 + pad] = 128
    return frames


class _CountingDetector:
    """The analyzer's detector, recording the width of every image it is asked to search."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.widths: list[int] = []

    def detect(self, image: np.ndarray) -> list[Detection]:
        self.widths.append(image.shape[1])
        return self.inner.detect(image)  # type: ignore[attr-defined]


def _counting(analyzer: FaceAnalyzer) -> tuple[FaceAnalyzer, _CountingDetector]:
    counted = copy.copy(analyzer)  # shares the models; only the detector is wrapped
    counted.detector = _CountingDetector(analyzer.detector)  # type: ignore[assignment]
    return counted, counted.detector  # type: ignore[return-value]


def _jitter(tracks: list[np.ndarray]) -> float:
    """Mean second difference of the landmarks (px): frame-to-frame shake, not motion."""
    lm = np.stack(tracks)
    return float(np.linalg.norm(lm[2:] - 2 * lm[1:-1] + lm[:-2], axis=2).mean())


def test_smoothing_reduces_landmark_jitter(analyzer, short_frames) -> None:
    runs = {}
    for smooth in (0.0, 0.8):
        tracker = FaceTracker(analyzer, TargetSelector("largest"), TrackerConfig(smooth=smooth))
        tracks = [tracker.update(f) for f in short_frames]
        assert all(len(t) == 1 for t in tracks)
        runs[smooth] = _jitter([t[0] for t in tracks])
    assert runs[0.8] < 0.7 * runs[0.0], runs


def test_tracker_follows_the_face_like_the_detector(analyzer, short_frames) -> None:
    tracker = FaceTracker(analyzer, TargetSelector("largest"), TrackerConfig(redetect_every=12))
    errors = []
    for i, frame in enumerate(short_frames[:36]):
        tracked = tracker.update(frame)[0]
        if i % 5 == 4:
            detected = analyzer.detect(frame)[0].landmarks
            errors.append(np.linalg.norm(tracked - detected, axis=1).mean())
    assert tracker.detections <= 4
    assert max(errors) < 4.0, errors  # px, on a face about 200 px wide


def test_a_track_keeps_its_number_and_says_when_it_was_detected(analyzer, short_frames) -> None:
    tracker = FaceTracker(analyzer, TargetSelector("all"), TrackerConfig(redetect_every=8))
    runs = [tracker.track(f) for f in short_frames[:17]]
    assert all(len(r) == 1 for r in runs)
    assert len({r[0].track for r in runs}) == 1
    assert [i for i, r in enumerate(runs) if r[0].detected] == [0, 8, 16]


def test_scene_without_faces_then_with(analyzer, short_frames, fixture_path) -> None:
    empty = next(iter(VideoReader(fixture_path("no_face.mp4"))))
    tracker = FaceTracker(analyzer, TargetSelector("all"))
    assert tracker.update(cv2.resize(empty, (640, 360))) == []
    assert len(tracker.update(short_frames[0])) == 1


def test_reference_mode_ignores_other_people_cheaply(analyzer, photo, short_frames) -> None:
    other = TargetSelector.from_reference(photo("obama.jpg"), analyzer)
    tracker = FaceTracker(analyzer, other, TrackerConfig(redetect_every=10))
    assert all(tracker.update(f) == [] for f in short_frames[:30])
    assert tracker.detections == 3  # not every frame: the face there is known to be someone else
    same = TargetSelector.from_reference(short_frames[40], analyzer)
    assert len(FaceTracker(analyzer, same).update(short_frames[0])) == 1


def test_a_covered_face_is_picked_up_soon_after_it_returns(analyzer, covered_frames) -> None:
    counted, detector = _counting(analyzer)
    config = TrackerConfig(redetect_every=8, **CHEAP_LOOKS)
    tracker = FaceTracker(counted, TargetSelector("all"), config)
    full_res = []  # per frame: full-resolution detector runs on it
    found = []
    for frame in covered_frames:
        before = len(detector.widths)
        found.append(bool(tracker.update(frame)))
        full_res.append(sum(w == frame.shape[1] for w in detector.widths[before:]))
    back = COVER[-1] + 1
    assert all(found[:COVER[0]])
    assert not any(found[COVER[0]:back])  # the flat grey box is no face: dropped at once
    returned = found.index(True, back)
    assert returned - back < config.lost_every, found  # picked up within lost_every frames
    assert all(found[returned:])
    # while it was gone, the full detector ran on a few frames, not on each one
    gone = range(COVER[0] + 1, back)
    assert sum(full_res[i] for i in gone) <= len(gone) // 3, full_res
    assert tracker.glances >= 3  # the cheap passes did the looking


def test_a_face_too_small_for_the_cheap_pass_is_found_by_the_full_detection(analyzer, covered_frames) -> None:
    # scaled by 0.2, the 640x360 frame is 128 px wide: HOG can find no face in it
    config = TrackerConfig(redetect_every=8, lost_every=4, lost_scale=0.2)
    tracker = FaceTracker(analyzer, TargetSelector("all"), config)
    found = [bool(tracker.update(f)) for f in covered_frames]
    back = COVER[-1] + 1
    assert found.index(True, back) - back < config.redetect_every


def test_by_default_a_lost_face_is_looked_for_on_every_frame(analyzer, covered_frames) -> None:
    """Convert and swap's setting: a returning face is swapped from its first frame back."""
    tracker = FaceTracker(analyzer, TargetSelector("all"), TrackerConfig(redetect_every=8))
    found = [bool(tracker.update(f)) for f in covered_frames]
    back = COVER[-1] + 1
    assert found.index(True, back) == back and tracker.glances == 0


def test_config_is_checked() -> None:
    for bad in ({"redetect_every": 0}, {"smooth": 1.0}, {"lost_every": 0}, {"lost_scale": 0.0}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            TrackerConfig(**bad)  # type: ignore[arg-type]
