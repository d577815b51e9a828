"""masque style and masque translate end to end: labelled outputs of the right kind and size."""

from __future__ import annotations

import numpy as np

from masque import cli
from masque.media import VideoReader, VideoWriter, read_image, write_image
from masque.provenance.manifest import SOURCE_TYPES
from masque.provenance.verify import verify_file
from masque.stylize import patterns


def test_style_image_and_video_are_labelled_generated(photo, tmp_path):
    face = photo("obama.jpg")[30:330, 60:300]
    write_image(tmp_path / "face.png", face)
    write_image(tmp_path / "style.png", patterns.mosaic(64, seed=1))
    assert cli.main(["style", str(tmp_path / "face.png"), str(tmp_path / "style.png"), "-o",
                     str(tmp_path / "out.png"), "--size", "40", "--steps", "2", "--scales", "1"]) == 0
    out = read_image(tmp_path / "out.png")
    assert out.shape == (40, 32, 3)
    report = verify_file(tmp_path / "out.png")
    assert report.manifest.digital_source_type == SOURCE_TYPES["generated"]
    with VideoWriter(tmp_path / "clip.mp4", 10) as w:
        for dx in range(3):
            w.write(np.ascontiguousarray(np.roll(face[:240, :240], 2 * dx, axis=1)))
    assert cli.main(["style", str(tmp_path / "clip.mp4"), str(tmp_path / "style.png"), "-o",
                     str(tmp_path / "out.mp4"), "--size", "32", "--steps", "2", "--scales", "1"]) == 0
    frames = list(VideoReader(tmp_path / "out.mp4"))
    assert len(frames) == 3 and frames[0].shape == (32, 32, 3)


def test_translate_a_face_set_model_pastes_faces_back_as_a_composite(fixture_path, tmp_path):
    from masque.faceset.extract import ExtractConfig, extract_faceset

    fs = tmp_path / "fs"
    assert extract_faceset([fixture_path("single_face.jpg")], fs, ExtractConfig(workers=0)).faces == 1
    assert cli.main(["translate", "train", "-A", str(fs), "-B", str(fs), "-m", str(tmp_path / "m"), "--size", "32",
                     "--steps", "2", "--ngf", "4", "--ndf", "4", "--blocks", "1"]) == 0
    out = tmp_path / "out.jpg"
    assert cli.main(["translate", "apply", str(fixture_path("single_face.jpg")), "-m", str(tmp_path / "m"),
                     "-o", str(out)]) == 0
    src, res = read_image(fixture_path("single_face.jpg")), read_image(out)
    changed = np.abs(src.astype(int) - res.astype(int)).sum(-1) > 30
    assert 0.005 < changed.mean() < 0.5  # the face region changed, not the whole frame
    assert verify_file(out).manifest.digital_source_type == SOURCE_TYPES["composite"]
