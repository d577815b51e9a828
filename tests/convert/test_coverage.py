"""Convert marks the frames whose pose or expression the target's face set cannot supply."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest
import torch

from masque.convert.files import convert_path
from masque.convert.pipeline import ConvertConfig, Converter
from masque.faceset.extract import extract_faceset
from masque.models import MODELS, CropSpec, ModelCard
from masque.provenance import LabelConfig

UNLABELLED = LabelConfig(enabled=False)


@pytest.fixture(scope="module")
def faceset_b(tmp_path_factory, short_run) -> Path:
    """The man of clip_short, 20 frames: eyes open, mouth closed or talking, never wide open."""
    path = tmp_path_factory.mktemp("cov") / "faces_b"
    extract_faceset([short_run], path)
    return path


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    torch.manual_seed(0)
    return MODELS.create("lightweight")


def card(faceset_b: Path) -> ModelCard:
    return ModelCard("lightweight", 0, 64, CropSpec("face", 0.875, 64), facesets=("/nowhere/a", str(faceset_b)))


def test_a_wide_open_mouth_b_never_shows_is_marked_on_its_frame(model, faceset_b, fixture_path, tmp_path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(fixture_path("expression_anc.jpg"), folder / "a_closed_mouth.jpg")  # lips shut, facing
    shutil.copy(fixture_path("expression_su.jpg"), folder / "b_surprise.jpg")  # mouth wide open
    s = convert_path(Converter(model, card(faceset_b), ConvertConfig(to="b")), folder, tmp_path / "out",
                     UNLABELLED)
    assert s.coverage_note is None
    marked = {Path(name).name: {u.phrase for u in items} for name, items in s.uncovered.items()}
    assert "with the mouth wide open" in marked["b_surprise.jpg"]
    assert "with the mouth wide open" not in marked.get("a_closed_mouth.jpg", set())
    (u,) = [u for u in s.uncovered[str(tmp_path / "out" / "b_surprise.jpg")] if "mouth" in u.phrase]
    assert u.frames == (0,) and "frames 0 (1 frame)" in u.words()


def test_b_s_own_frames_are_covered(model, faceset_b, short_run, tmp_path) -> None:
    s = convert_path(Converter(model, card(faceset_b), ConvertConfig(to="b")), short_run, tmp_path / "o.mp4",
                     UNLABELLED)
    # every face of the clip is in B's set; only bins with fewer than 5 of its 20 faces can show
    assert sum(len(u.frames) for items in s.uncovered.values() for u in items) <= 8


def test_a_missing_face_set_says_why_and_marks_nothing(model, faceset_b, fixture_path, tmp_path) -> None:
    gone = dataclasses.replace(card(faceset_b), facesets=("/nowhere/a", str(tmp_path / "moved")))
    s = convert_path(Converter(model, gone, ConvertConfig(to="b")), fixture_path("expression_su.jpg"),
                     tmp_path / "o.jpg", UNLABELLED)
    assert s.uncovered == {} and s.coverage_note is not None and "not found" in s.coverage_note


def test_the_command_prints_one_line_per_uncovered_expression(capsys) -> None:
    from masque.commands.convert import _print_uncovered
    from masque.convert.coverage import Uncovered

    _print_uncovered({"out.mp4": (Uncovered("with the mouth wide open", (3, 4, 5, 9, 40)),)}, None, "B")
    assert capsys.readouterr().out == (
        "coverage: out.mp4: B's face set has (almost) no faces with the mouth wide open: "
        "frames 3-5, 9, 40 (5 frames)\n")
