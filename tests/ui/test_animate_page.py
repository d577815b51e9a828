"""The Animate page's handlers and the Live page's animate engine, without a browser."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("gradio", reason="the UI extra is not installed (pip install 'masque[ui]')")

from masque.animate import AnimateConfig, Animator
from masque.errors import ConfigError, InvalidMediaError, NoFaceFoundError
from masque.face import FaceAnalyzer
from masque.media import VideoReader, probe_video
from masque.provenance import LabelConfig, Labeler, verify_file
from masque.provenance.watermark import WatermarkCodec
from masque.ui.app import PageContext
from masque.ui.live import LiveAnimate
from masque.ui.pages.animate import run_animate, run_reenact
from masque.ui.pages.evaluate import run_driving
from masque.ui.work import WorkFolder

LABELS = (False, False, None, None)


def _progress(*args: Any, **kwargs: Any) -> None:
    pass


@pytest.fixture
def ctx(tmp_path: Path, analyzer: FaceAnalyzer) -> PageContext:
    c = PageContext(WorkFolder(tmp_path / "work"))
    c.analyzers[("hog", "none")] = analyzer  # the session's, already loaded
    return c


def test_animate_and_reenact_write_labelled_videos_in_the_working_folder(ctx: PageContext, fixture_path: type,
                                                                        short_run: Path) -> None:
    out, stats = run_animate(ctx, str(fixture_path("biden.jpg")), str(short_run), 128, "face", 0.5, "", 0, 0, 50,
                             10, False, LABELS, _progress)
    assert out.is_relative_to(ctx.work.root / "jobs") and out.suffix == ".mp4"
    info = probe_video(out)
    assert (info.frames, info.width, info.height) == (20, 128, 128) and stats.driven == 20
    frames = list(VideoReader(out))
    assert np.abs(frames[-1].astype(np.int16) - frames[0]).mean() > 0.5  # the photo moved
    report = verify_file(out)
    assert report.labelled and report.watermark.found, report.to_dict()
    # the Evaluate page's --driving measures it against its driving video
    summary, text, _ = run_driving(ctx, str(out), str(short_run), str(fixture_path("biden.jpg")), 10, _progress)
    assert summary and text
    print(text)
    out, stats = run_reenact(ctx, str(short_run), str(short_run), "none", 0.5, 0, 0, 50, 10, True, LABELS,
                             _progress)
    info = probe_video(out)
    assert (info.frames, info.width, info.height, info.has_audio) == (20, 640, 360, False)
    assert verify_file(out).labelled


def test_bad_inputs_are_clear_errors(ctx: PageContext, fixture_path: type, short_run: Path) -> None:
    with pytest.raises(InvalidMediaError, match="driving video must be a video"):
        run_animate(ctx, str(fixture_path("biden.jpg")), str(fixture_path("obama.jpg")), 128, "face", 0.5, None,
                    0, 0, 50, 10, False, LABELS, _progress)
    with pytest.raises(ConfigError, match="--reference must be a whole number"):
        run_animate(ctx, str(fixture_path("biden.jpg")), str(short_run), 128, "face", 0.5, "first", 0, 0, 50, 10,
                    False, LABELS, _progress)
    with pytest.raises(NoFaceFoundError, match="no face"):
        run_animate(ctx, str(fixture_path("no_face.jpg")), str(short_run), 128, "face", 0.5, None, 0, 0, 50, 10,
                    False, LABELS, _progress)


def test_live_animate_moves_the_photo_and_calibrates(photo: type, analyzer: FaceAnalyzer, short_run: Path) -> None:
    frames = [f for _, f in zip(range(8), VideoReader(short_run))]
    animator = Animator.from_photo(photo("biden.jpg"), AnimateConfig(size=256), 0, analyzer)
    live = LiveAnimate(animator, Labeler(LabelConfig()))
    outs = [live.step(f) for f in frames]
    assert all(o.shape == (256, 256, 3) and o.dtype == np.uint8 for o in outs)
    assert live.swapped == live.frames == 8 and "8/8 frames with a face driving the photo" in live.status()
    assert WatermarkCodec().detect(outs[-1]).found
    still = animator.rig.image.astype(np.int16)
    before = np.abs(live.step(frames[-1]) - still).mean()
    live.calibrate()
    # the frame taken as the reference gives the photo its own pose back (up to the watermark)
    after = np.abs(live.step(frames[-1]) - still).mean()
    print(before, after)
    assert live.calibrated == 1 and after < before
