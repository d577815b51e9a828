"""Slow robustness checks on whole clips (``pytest -m slow``); the full table is benchmarks/watermark.py."""

from __future__ import annotations

import numpy as np
import pytest

from masque import assets
from masque.media.video import VideoReader
from masque.provenance import LabelConfig, Labeler, attacks
from masque.provenance.watermark import WatermarkCodec


@pytest.mark.slow
def test_long_clip_h264_every_frame_sampled(codec: WatermarkCodec) -> None:
    labeler = Labeler(LabelConfig())
    frames = list(VideoReader(assets.fetch("clip_long.mp4")))
    decoded = attacks.h264([labeler.mark(f) for f in frames], crf=28)
    reads = [codec.detect(decoded[i]) for i in range(0, len(decoded), 8)]
    assert np.mean([d.found and d.payload == labeler.payload for d in reads]) >= 0.99


@pytest.mark.slow
@pytest.mark.parametrize("attack", sorted(attacks.IMAGE_ATTACKS))
def test_attacks_on_sixty_frames(codec: WatermarkCodec, attack: str) -> None:
    labeler = Labeler(LabelConfig())
    frames = list(VideoReader(assets.fetch("clip_long.mp4")))[::8]
    fn = attacks.IMAGE_ATTACKS[attack]
    marked = [codec.detect(fn(labeler.mark(f))) for f in frames]
    clean = [codec.detect(fn(f)) for f in frames]
    assert np.mean([d.found and d.payload == labeler.payload for d in marked]) >= 0.99
    assert not any(d.found for d in clean)
