"""``masque swap`` end to end: labelled outputs, folders, and one-line errors that name the file."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from masque.cli import main
from masque.media import read_image
from masque.provenance import verify_file


def test_image_swap_is_written_and_labelled(tmp_path, fixture_path, capsys) -> None:
    out = tmp_path / "swapped.png"
    rc = main(["swap", "-s", str(fixture_path("obama.jpg")), "-t", str(fixture_path("biden.jpg")), "-o", str(out)])
    assert rc == 0, capsys.readouterr().err
    assert read_image(out).shape == read_image(fixture_path("biden.jpg")).shape
    report = verify_file(out)
    assert report.labelled and report.manifest.status == "valid"
    assert "1 with a face swapped" in capsys.readouterr().out


def test_folder_target_writes_every_file(tmp_path, fixture_path, capsys) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(fixture_path("biden.jpg"), folder / "biden.jpg")
    shutil.copy(fixture_path("no_face.jpg"), folder / "landscape.jpg")
    rc = main(["swap", "-s", str(fixture_path("obama.jpg")), "-t", str(folder), "-o", str(tmp_path / "out"),
               "--target-face", "all"])
    assert rc == 0, capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["biden.jpg", "landscape.jpg"]
    assert "2 frame(s) in 2 file(s), 1 with a face swapped" in capsys.readouterr().out
    # the faceless photo only carries the label: a watermark of a few levels, JPEG-rounded
    diff = np.abs(read_image(tmp_path / "out" / "landscape.jpg").astype(int) - read_image(folder / "landscape.jpg"))
    assert diff.mean() < 4


def _error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_source_without_a_face_is_one_line_naming_the_file(tmp_path, fixture_path, capsys) -> None:
    source = fixture_path("no_face.jpg")
    rc = main(["swap", "-s", str(source), "-t", str(fixture_path("biden.jpg")), "-o", str(tmp_path / "o.png")])
    assert rc == 1
    line = _error_line(capsys)
    assert line.startswith("masque: error: no face found in the source image") and str(source) in line
    assert not (tmp_path / "o.png").exists()


def test_reference_without_a_face_names_the_file(tmp_path, fixture_path, capsys) -> None:
    ref = fixture_path("no_face.jpg")
    rc = main(["swap", "-s", str(fixture_path("obama.jpg")), "-t", str(fixture_path("biden.jpg")),
               "-o", str(tmp_path / "o.png"), "--target-face", str(ref)])
    assert rc == 1 and str(ref) in _error_line(capsys)


@pytest.mark.parametrize("output, message", [("o.mp4", "must be one too"), ("o.webp", "manifest")])
def test_unusable_outputs_are_refused_before_any_work(tmp_path, fixture_path, capsys, output, message) -> None:
    rc = main(["swap", "-s", str(fixture_path("obama.jpg")), "-t", str(fixture_path("biden.jpg")),
               "-o", str(tmp_path / output)])
    assert rc == 2 and message in _error_line(capsys)


def test_missing_target_names_it(tmp_path, fixture_path, capsys) -> None:
    missing = tmp_path / "nope.jpg"
    rc = main(["swap", "-s", str(fixture_path("obama.jpg")), "-t", str(missing), "-o", str(tmp_path / "o.png")])
    assert rc == 2 and str(missing) in _error_line(capsys)


def test_bad_smooth_is_a_usage_error(fixture_path, capsys) -> None:
    assert main(["swap", "-s", str(fixture_path("obama.jpg")), "-t", "x.jpg", "-o", "y.png", "--smooth", "1.5"]) == 2
    assert "--smooth" in _error_line(capsys)


def test_help_lists_the_options(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["swap", "--help"])
    text = capsys.readouterr().out
    for flag in ("--target-face", "--source-face", "--smooth", "--no-label"):
        assert flag in text
