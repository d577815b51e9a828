"""masque's PNG writer: lossless for every channel layout it takes, read back by other decoders."""

from __future__ import annotations

import struct
import zlib

import cv2
import numpy as np
import pytest

from masque.media.png import encode_png


def _decode(data: bytes) -> np.ndarray:
    out = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert out is not None, "OpenCV could not read the PNG"
    return out


@pytest.mark.parametrize("shape", [(1, 1), (37, 53), (37, 53, 1), (20, 31, 3), (20, 31, 4)])
def test_random_pixels_round_trip_exactly(shape) -> None:
    img = np.random.default_rng(7).integers(0, 256, shape, dtype=np.uint8)
    back = _decode(encode_png(img))
    if img.ndim == 3 and img.shape[2] == 3:
        back = cv2.cvtColor(back, cv2.COLOR_BGR2RGB)  # PNG holds RGB; OpenCV hands out BGR
    elif img.ndim == 3 and img.shape[2] == 4:
        back = cv2.cvtColor(back, cv2.COLOR_BGRA2RGBA)
    assert np.array_equal(back.reshape(img.shape), img)


def test_a_real_face_is_smaller_than_opencvs_png(photo) -> None:
    face = np.ascontiguousarray(photo("obama.jpg")[100:356, 300:556])
    ours = encode_png(face)
    ok, theirs = cv2.imencode(".png", cv2.cvtColor(face, cv2.COLOR_RGB2BGR))
    assert ok and np.array_equal(cv2.cvtColor(_decode(ours), cv2.COLOR_BGR2RGB), face)
    assert len(ours) < 1.1 * len(theirs)  # the speed does not cost size


def test_chunks_and_filter_follow_the_png_spec() -> None:
    """Read the file with zlib and struct alone, as a second reader independent of libpng."""
    img = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3) * 13  # wraps mod 256: Up filter overflow
    data = encode_png(img)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, kinds, idat = 8, [], b""
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        assert struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])[0] == zlib.crc32(kind + body)
        kinds.append(kind)
        idat += body if kind == b"IDAT" else b""
        pos += 12 + n
    assert kinds == [b"IHDR", b"IDAT", b"IEND"]
    assert struct.unpack(">IIBBBBB", data[16:29]) == (5, 4, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    raw = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(4, 16)
    assert (raw[:, 0] == 2).all()  # every row Up-filtered
    assert np.array_equal(np.cumsum(raw[:, 1:], axis=0, dtype=np.uint8), img.reshape(4, 15))


@pytest.mark.parametrize("bad", [np.zeros((4, 4), np.uint16), np.zeros((4, 4, 5), np.uint8),
                                 np.zeros((0, 4, 3), np.uint8)])
def test_unsupported_images_are_refused(bad) -> None:
    with pytest.raises(ValueError, match="uint8"):
        encode_png(bad)
