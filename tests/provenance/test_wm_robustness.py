"""The watermark on real faces: each attack of the issue still reads, unmarked pictures never do."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from masque.provenance import attacks
from masque.provenance.payload import Payload
from masque.provenance.watermark import WatermarkCodec

PAYLOAD = Payload((0, 1, 0), 0x5EED1234)


def mark(codec: WatermarkCodec, image: np.ndarray) -> np.ndarray:
    pattern = codec.pattern(PAYLOAD, *image.shape[:2])
    return np.clip(image + np.rint(pattern)[..., None], 0, 255).astype(np.uint8)


def test_mark_is_invisible_by_psnr(codec: WatermarkCodec, face_frames: list[np.ndarray]) -> None:
    for frame in face_frames:
        assert cv2.PSNR(frame, mark(codec, frame)) > 40.0


def test_mark_changes_luma_only(codec: WatermarkCodec, face_frames: list[np.ndarray]) -> None:
    frame = face_frames[0]
    diff = mark(codec, frame).astype(int) - frame.astype(int)
    unclipped = (frame > 10).all(axis=2) & (frame < 245).all(axis=2)
    assert np.array_equal(diff[unclipped, 0], diff[unclipped, 1])
    assert np.array_equal(diff[unclipped, 0], diff[unclipped, 2])


@pytest.mark.parametrize("attack", sorted(attacks.IMAGE_ATTACKS))
def test_each_attack_still_detected_on_faces(codec: WatermarkCodec, face_frames: list[np.ndarray],
                                             attack: str) -> None:
    fn = attacks.IMAGE_ATTACKS[attack]
    for i, frame in enumerate(face_frames):
        attacked = attacks.crop(mark(codec, frame), seed=i) if attack == "crop_10" else fn(mark(codec, frame))
        d = codec.detect(attacked)
        assert d.found and d.payload == PAYLOAD, f"{attack}: frame {i} not read (sync z {d.sync_score:.1f})"
        assert d.confidence > 0.5


def test_crop_moves_grid_and_scale(codec: WatermarkCodec, face_frames: list[np.ndarray]) -> None:
    cropped = attacks.crop(mark(codec, face_frames[1]), 0.10, seed=7)
    d = codec.detect(cropped)
    assert d.found
    assert d.scale == pytest.approx(1 / 0.9, rel=0.01)  # both sides cut by 10 %: tile 11 % larger


def test_h264_crf28_on_a_real_clip(codec: WatermarkCodec, short_clip: list[np.ndarray]) -> None:
    decoded = attacks.h264([mark(codec, f) for f in short_clip], crf=28)
    for i in range(0, len(decoded), 7):
        d = codec.detect(decoded[i])
        assert d.found and d.payload == PAYLOAD, f"h264 frame {i} not read"


def test_photos_survive_jpeg_and_resize(codec: WatermarkCodec, photos: list[np.ndarray]) -> None:
    for photo in photos:
        d = codec.detect(attacks.jpeg(attacks.resize(mark(codec, photo), 0.5), 75))
        assert d.found and d.payload == PAYLOAD


def test_unmarked_fixtures_not_flagged(codec: WatermarkCodec, face_frames: list[np.ndarray],
                                       photos: list[np.ndarray]) -> None:
    for image in [*face_frames, *photos]:
        for attack in ("none", "jpeg_q75", "crop_10"):
            d = codec.detect(attacks.IMAGE_ATTACKS[attack](image))
            assert not d.found and d.payload is None
            assert d.confidence < 0.5


def test_other_key_does_not_read(face_frames: list[np.ndarray]) -> None:
    marked = mark(WatermarkCodec(), face_frames[0])
    assert not WatermarkCodec(key="someone-else").detect(marked).found
