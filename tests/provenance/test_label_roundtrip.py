"""Labeler -> file -> verify_file, for PNG, JPEG and MP4, and the switches around it."""

from __future__ import annotations

import stat
from pathlib import Path

import numpy as np
import pytest

from masque.errors import InputNotFoundError, ProvenanceError
from masque.media.image import read_image, write_image
from masque.media.video import VideoWriter, probe_video
from masque.provenance import LabelConfig, Labeler, verify_file
from masque.provenance.keys import CA_FILE, CERT_FILE, KEY_FILE
from masque.provenance.manifest import SOURCE_TYPES

COMPOSITE = "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"
GENERATED = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"


def assert_fully_labelled(path: Path, labeler: Labeler, source_type: str = COMPOSITE) -> None:
    report = verify_file(path)
    assert report.labelled
    m, w = report.manifest, report.watermark
    assert m.status == "valid", (m.status, m.failures, m.detail)
    assert m.digital_source_type == source_type
    assert m.software_agent is not None and m.software_agent.startswith("masque ")
    assert any(a["label"].startswith("c2pa.actions") for a in m.assertions)
    assert w.found and w.run_id == labeler.payload.run_id_hex and w.version == labeler.payload.version_str
    assert report.run_ids_agree is True


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_image_round_trip(tmp_path: Path, photos: list[np.ndarray], suffix: str) -> None:
    labeler = Labeler(LabelConfig())
    out = tmp_path / f"swap{suffix}"
    write_image(out, labeler.mark(photos[2]))
    labeler.finalize(out)
    assert_fully_labelled(out, labeler)
    assert read_image(out).shape == photos[2].shape  # the manifest leaves the pixels decodable


def test_mp4_round_trip(tmp_path: Path, short_clip: list[np.ndarray]) -> None:
    labeler = Labeler(LabelConfig(kind="generated"))
    out = tmp_path / "swap.mp4"
    with VideoWriter(out, 30) as writer:
        for frame in short_clip[:24]:
            writer.write(labeler.mark(frame))
    labeler.finalize(out)
    assert probe_video(out).frames == 24
    assert_fully_labelled(out, labeler, GENERATED)
    report = verify_file(out)
    assert report.media == "video" and report.watermark.frames_found == report.watermark.frames_checked


def test_each_run_has_its_own_id() -> None:
    assert Labeler(LabelConfig()).run_id != Labeler(LabelConfig()).run_id


def test_disabled_is_identity_and_unsigned(tmp_path: Path, photos: list[np.ndarray]) -> None:
    labeler = Labeler(LabelConfig(enabled=False))
    frame = photos[0]
    assert labeler.mark(frame) is frame
    out = tmp_path / "plain.png"
    write_image(out, frame)
    before = out.read_bytes()
    labeler.finalize(out)
    assert out.read_bytes() == before
    report = verify_file(out)
    assert not report.labelled and report.manifest.status == "absent" and not report.watermark.found


def test_visible_label_touches_only_a_small_corner(face_frames: list[np.ndarray]) -> None:
    frame = face_frames[0]
    tagged = Labeler(LabelConfig(enabled=False, visible_label=True)).mark(frame)
    changed = np.argwhere((tagged != frame).any(axis=2))
    h, w = frame.shape[:2]
    assert len(changed) > 0
    assert changed[:, 0].min() > h * 0.85 and changed[:, 1].min() > w * 0.6  # bottom-right
    assert len(changed) < 0.05 * h * w


def test_keys_created_on_first_use_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASQUE_CONFIG", str(tmp_path / "cfg"))
    Labeler(LabelConfig())
    folder = tmp_path / "cfg" / "signing"
    assert {p.name for p in folder.iterdir()} == {CERT_FILE, KEY_FILE, CA_FILE}
    assert stat.S_IMODE((folder / KEY_FILE).stat().st_mode) == 0o600
    first = (folder / CERT_FILE).read_bytes()
    Labeler(LabelConfig())
    assert (folder / CERT_FILE).read_bytes() == first  # reused, not replaced


def test_own_certificate(tmp_path: Path, photos: list[np.ndarray], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASQUE_CONFIG", str(tmp_path / "elsewhere"))
    Labeler(LabelConfig())  # makes a second, independent key pair to use as "the user's own"
    own = tmp_path / "elsewhere" / "signing"
    monkeypatch.setenv("MASQUE_CONFIG", str(tmp_path / "default"))
    labeler = Labeler(LabelConfig(sign_cert=own / CERT_FILE, sign_key=own / KEY_FILE))
    out = tmp_path / "own.jpg"
    write_image(out, labeler.mark(photos[1]))
    labeler.finalize(out)
    assert_fully_labelled(out, labeler)
    assert not (tmp_path / "default" / "signing").exists()  # the local key was not needed


def test_bad_signing_files(tmp_path: Path) -> None:
    with pytest.raises(InputNotFoundError, match=r"nope\.pem"):
        Labeler(LabelConfig(sign_cert=tmp_path / "nope.pem", sign_key=tmp_path / "nope.key"))
    with pytest.raises(ProvenanceError, match="both"):
        Labeler(LabelConfig(sign_cert=tmp_path / "nope.pem"))
    junk = tmp_path / "junk.pem"
    junk.write_text("not a key")
    with pytest.raises(ProvenanceError, match=r"junk\.pem"):
        Labeler(LabelConfig(sign_cert=junk, sign_key=junk))


def test_unsupported_format_fails_and_keeps_file(tmp_path: Path, photos: list[np.ndarray]) -> None:
    labeler = Labeler(LabelConfig())
    out = tmp_path / "swap.bmp"
    write_image(out, labeler.mark(photos[4]))
    before = out.read_bytes()
    with pytest.raises(ProvenanceError, match=r"swap\.bmp"):
        labeler.finalize(out)
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["swap.bmp"]  # no temporary left behind


def test_bad_kind_and_frame() -> None:
    with pytest.raises(ValueError, match="kind"):
        LabelConfig(kind="fake")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="RGB uint8"):
        Labeler(LabelConfig()).mark(np.zeros((10, 10), dtype=np.uint8))
    assert set(SOURCE_TYPES) == {"composite", "generated"}


def test_mp4_with_audio_gets_a_manifest(tmp_path: Path) -> None:
    """An MP4 with an AAC track (the fixture clip itself): the manifest hashes every box."""
    import shutil

    from masque import assets
    out = tmp_path / "with_audio.mp4"
    shutil.copyfile(assets.fetch("clip_short.mp4"), out)
    assert probe_video(out).has_audio
    Labeler(LabelConfig()).finalize(out)
    report = verify_file(out)
    assert report.manifest.status == "valid" and report.labelled
    assert probe_video(out).has_audio and probe_video(out).frames == 72
    assert not report.watermark.found  # these pixels were never marked
