"""Altered bytes: in the manifest, or in the pixels the manifest hashes, read as tampered."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from masque.media.image import read_image, write_image
from masque.provenance import LabelConfig, Labeler, verify_file

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def signed_png(tmp_path: Path, photos: list[np.ndarray]) -> Path:
    labeler = Labeler(LabelConfig())
    out = tmp_path / "signed.png"
    write_image(out, labeler.mark(photos[4]))
    labeler.finalize(out)
    return out


def flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("marker", [b"softwareAgent", b"masque local signer", b"c2pa.actions"])
def test_altered_manifest_bytes_are_tampered(signed_png: Path, marker: bytes) -> None:
    offset = signed_png.read_bytes().find(marker)
    assert offset > 0
    flip_byte(signed_png, offset + len(marker) // 2)
    report = verify_file(signed_png)
    assert report.manifest.status == "tampered", report.manifest
    assert report.watermark.found  # the pixels still say what the file is
    assert report.labelled


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, whole chunk bytes) of a PNG, in order."""
    out, pos = [], 8
    while pos < len(data):
        length = struct.unpack(">I", data[pos: pos + 4])[0]
        out.append((data[pos + 4: pos + 8], data[pos: pos + 12 + length]))
        pos += 12 + length
    return out


def test_manifest_moved_to_other_pixels_is_tampered(signed_png: Path, tmp_path: Path) -> None:
    """The manifest chunk transplanted onto an edited copy: its hash of the pixels no longer holds."""
    edited = read_image(signed_png).copy()
    edited[:40, :40] = 0
    other = tmp_path / "edited.png"
    write_image(other, edited)
    manifest = [c for t, c in png_chunks(signed_png.read_bytes()) if t == b"caBX"]
    assert manifest
    chunks = png_chunks(other.read_bytes())
    first_idat = next(i for i, (t, _) in enumerate(chunks) if t == b"IDAT")
    rebuilt = [c for _, c in chunks[:first_idat]] + manifest + [c for _, c in chunks[first_idat:]]
    other.write_bytes(PNG_SIGNATURE + b"".join(rebuilt))
    report = verify_file(other)
    assert report.manifest.status == "tampered"
    assert any("mismatch" in code for code in report.manifest.failures)


def test_altered_jpeg_scan_is_tampered(tmp_path: Path, photos: list[np.ndarray]) -> None:
    labeler = Labeler(LabelConfig())
    out = tmp_path / "signed.jpg"
    write_image(out, labeler.mark(photos[4]))
    labeler.finalize(out)
    flip_byte(out, len(out.read_bytes()) - 300)  # inside the entropy-coded scan, still decodable
    report = verify_file(out)
    assert report.manifest.status == "tampered"


def test_reencoded_copy_loses_manifest_keeps_watermark(signed_png: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.jpg"
    write_image(copy, read_image(signed_png), quality=75)
    report = verify_file(copy)
    assert report.manifest.status == "absent"
    assert report.watermark.found and report.labelled
