"""The Live page's engine: a stream of 640x480 frames through the one-shot swap, labelled, rate measured."""

from __future__ import annotations

import numpy as np
import pytest

from masque.face import FaceAnalyzer, TrackerConfig
from masque.media import VideoReader
from masque.oneshot import OneShotSwapper
from masque.provenance import LabelConfig, Labeler
from masque.provenance.watermark import WatermarkCodec
from masque.ui.live import LiveSwap


@pytest.fixture(scope="module")
def camera(fixture_path: type) -> list[np.ndarray]:
    """12 frames of the long clip letterboxed to 640x480, as a webcam would send them."""
    frames = []
    for i, frame in enumerate(VideoReader(fixture_path("clip_long.mp4"))):
        if i >= 12:
            break
        canvas = np.zeros((480, 640, 3), np.uint8)
        canvas[60:420] = frame
        frames.append(canvas)
    return frames


def test_frames_come_back_swapped_labelled_and_counted(camera: list[np.ndarray], photo: type,
                                                       analyzer: FaceAnalyzer) -> None:
    swapper = OneShotSwapper.from_image(photo("biden.jpg"), analyzer)
    live = LiveSwap(swapper, analyzer, Labeler(LabelConfig()), TrackerConfig(redetect_every=5))
    outs = [live.step(f) for f in camera]
    assert all(o.shape == (480, 640, 3) and o.dtype == np.uint8 for o in outs)
    face = analyzer.detect(camera[-1])[0]
    x0, y0, x1, y1 = (int(v) for v in face.bbox)
    change = np.abs(outs[-1].astype(np.int16) - camera[-1])
    assert change[y0:y1, x0:x1].mean() > 5 * change[:50].mean()  # the face changed, the border only by the mark
    assert WatermarkCodec().detect(outs[-1]).found
    assert live.swapped == live.frames == 12 and live.fps > 0 and live.ms_per_frame > 0
    assert "12/12 frames" in live.status() and "640x480" in live.status()


def test_a_frame_without_a_face_comes_back_unchanged_but_labelled(photo: type, analyzer: FaceAnalyzer) -> None:
    swapper = OneShotSwapper.from_image(photo("biden.jpg"), analyzer)
    live = LiveSwap(swapper, analyzer, Labeler(LabelConfig()))
    empty = photo("no_face.jpg")
    out = live.step(empty)
    assert out.shape == empty.shape and np.abs(out.astype(np.int16) - empty).mean() < 3
    assert live.swapped == 0 and live.frames == 1


def test_sessions_are_dropped_when_idle_or_past_the_limit() -> None:
    from masque.ui.live import Sessions

    now = [0.0]
    s: Sessions[str] = Sessions(idle_s=60, limit=3, clock=lambda: now[0])
    s.put("a", "A")
    now[0] = 30
    s.put("b", "B")
    now[0] = 70  # a idle 70 s, b 40 s: the next start drops a
    s.put("c", "C")
    assert s.keys() == {"b", "c"} and s.get("a") is None
    now[0] = 75
    assert s.get("b") == "B"  # a frame for b: b is now the most recent
    s.put("d", "D")
    now[0] = 77
    s.put("e", "E")  # limit 3: the least recently used (c, at 70) goes
    assert s.keys() == {"b", "d", "e"} and len(s) == 3
