"""``masque verify``: exit codes, messages and ``--json``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from masque import assets
from masque.cli import main
from masque.media.image import write_image
from masque.provenance import LabelConfig, Labeler


@pytest.fixture(scope="module")
def labelled(tmp_path_factory: pytest.TempPathFactory, photos: list[np.ndarray]) -> Path:
    out = tmp_path_factory.mktemp("cli") / "labelled.jpg"
    labeler = Labeler(LabelConfig())
    write_image(out, labeler.mark(photos[4]))
    labeler.finalize(out)
    return out


def test_labelled_file_exits_0(labelled: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", str(labelled)]) == 0
    out = capsys.readouterr().out
    assert "LABELLED" in out and "manifest: valid" in out and "watermark: found" in out


def test_unlabelled_file_exits_1(labelled: Path, capsys: pytest.CaptureFixture[str]) -> None:
    photo = assets.fetch("expression_su.jpg")
    assert main(["verify", str(labelled), str(photo)]) == 1
    assert "NOT LABELLED" in capsys.readouterr().out


def test_non_media_exits_2_with_clear_message(tmp_path: Path, labelled: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("just text\n")
    assert main(["verify", str(notes)]) == 2
    err = capsys.readouterr().err
    assert f"masque: error: {notes} is neither an image nor a video" in err
    assert main(["verify", str(labelled), str(tmp_path / "missing.png")]) == 2
    assert "not found" in capsys.readouterr().err


def test_json_output(labelled: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"\x89PNG not really")
    assert main(["verify", "--json", str(labelled), str(junk)]) == 2
    reports = json.loads(capsys.readouterr().out)
    assert reports[0]["labelled"] is True
    assert reports[0]["manifest"]["status"] == "valid"
    assert reports[0]["watermark"]["found"] is True and len(reports[0]["watermark"]["run_id"]) == 8
    assert reports[1]["path"] == str(junk) and "neither an image nor a video" in reports[1]["error"]


def test_label_options(capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    import argparse

    from masque.commands._labels import add_label_arguments, label_config_from_args
    parser = argparse.ArgumentParser()
    add_label_arguments(parser)
    cfg = label_config_from_args(parser.parse_args([]), kind="composite")
    assert cfg.enabled and not cfg.visible_label and cfg.sign_cert is None
    with caplog.at_level("WARNING", logger="masque"):
        cfg = label_config_from_args(parser.parse_args(["--no-label", "--visible-label"]), kind="generated")
    assert not cfg.enabled and cfg.visible_label and cfg.kind == "generated"
    assert "unlabelled" in caplog.text.lower() or "no watermark" in caplog.text.lower()
