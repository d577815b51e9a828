"""One-shot swap through videos: frame count, rate and audio kept, faceless frames passed through,
faces tracked rather than detected on every frame, labels on the output. The tracker itself is
tested in tests/face/test_track.py."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from masque.media import VideoReader, VideoWriter, probe_video
from masque.oneshot import OneShotSwapper
from masque.oneshot.files import swap_video
from masque.provenance import LabelConfig, Labeler, verify_file


@pytest.fixture(scope="module")
def swapper(analyzer, photo) -> OneShotSwapper:
    return OneShotSwapper.from_image(photo("obama.jpg"), analyzer)


@pytest.fixture(scope="module")
def short_frames(fixture_path) -> list[np.ndarray]:
    return list(VideoReader(fixture_path("clip_short.mp4")))


def test_clip_keeps_rate_count_audio_and_is_labelled(tmp_path, analyzer, swapper, fixture_path,
                                                     short_frames) -> None:
    clip = fixture_path("clip_short.mp4")
    out = tmp_path / "swapped.mp4"
    stats = swap_video(swapper, clip, out, analyzer, Labeler(LabelConfig(kind="composite")))
    src, dst = probe_video(clip), probe_video(out)
    assert (dst.frames, dst.fps, dst.width, dst.height) == (src.frames, src.fps, src.width, src.height)
    assert dst.has_audio
    assert stats.frames == src.frames == 72 and stats.swapped == 72
    assert stats.detections <= 72 // 5  # tracked in between, not detected on every frame
    report = verify_file(out)
    assert report.labelled and report.manifest.status == "valid" and report.watermark.found
    frames = list(VideoReader(out))
    face = analyzer.detect(short_frames[36])[0]
    x0, y0, x1, y1 = (int(v) for v in face.bbox)
    assert np.abs(frames[36][y0:y1, x0:x1].astype(int) - short_frames[36][y0:y1, x0:x1]).mean() > 8


def _mixed_clip(path: Path, faces: list[np.ndarray], empty: list[np.ndarray]) -> list[np.ndarray]:
    """Write empty, face and empty frames in a row (no audio); return what the file decodes to."""
    with VideoWriter(path, 30, crf=10) as writer:
        for frame in empty[:6] + faces[:24] + empty[6:12]:
            writer.write(frame)
    return list(VideoReader(path))


def test_faceless_frames_pass_through(tmp_path, analyzer, swapper, fixture_path, short_frames) -> None:
    empty = [cv2.resize(f, (640, 360), interpolation=cv2.INTER_AREA)
             for _, f in zip(range(12), VideoReader(fixture_path("no_face.mp4")))]
    source = _mixed_clip(tmp_path / "mixed.mp4", short_frames, empty)
    out = tmp_path / "out.mp4"
    labeler = Labeler(LabelConfig(kind="composite"), run_id=1234)
    stats = swap_video(swapper, tmp_path / "mixed.mp4", out, analyzer, labeler)
    frames = list(VideoReader(out))
    assert len(frames) == len(source) == 36 and stats.swapped == 24
    # faceless frames are the input plus the watermark, through one more H.264 generation of
    # grainy footage (which alone costs about 1.5 levels)
    marked = [labeler.mark(f) for f in source]
    diff = [np.abs(a.astype(int) - b).mean() for a, b in zip(frames, marked)]
    assert max(diff[:6] + diff[30:]) < 2.5, diff
    for out_frame, src_frame in zip(frames[6:30:6], source[6:30:6]):
        x0, y0, x1, y1 = (int(v) for v in analyzer.detect(src_frame)[0].bbox)
        assert np.abs(out_frame[y0:y1, x0:x1].astype(int) - src_frame[y0:y1, x0:x1]).mean() > 8


def test_damaged_video_leaves_no_output(tmp_path, analyzer, swapper, fixture_path) -> None:
    from masque.errors import InvalidMediaError

    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
    out = tmp_path / "out.mp4"
    with pytest.raises(InvalidMediaError, match=r"damaged\.mp4"):
        swap_video(swapper, damaged, out, analyzer, Labeler(LabelConfig(kind="composite")))
    assert list(tmp_path.iterdir()) == [damaged]  # no output, no temporary file left behind
