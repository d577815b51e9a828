"""Coverage of a face set (pose, eyes, mouth) and the gaps of one set against another, on real faces.

A: the woman of ``clip_long.mp4`` (every 4th frame: 118 faces), turned up to 20 degrees to the
image's left, crying with her eyes shut early on, laughing with her lips apart later. B: the man
of ``clip_short.mp4`` (every 2nd frame: 36 faces), facing the camera, eyes open, mouth closed
in the first 20 frames and smiling with his lips apart after.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest

from masque.cli import main
from masque.commands.train import warn_coverage_gaps
from masque.faceset import FaceSet
from masque.faceset.coverage import (
    EYES,
    EYES_CLOSED,
    EYES_HALF,
    MOUTH,
    MOUTH_CLOSED,
    Coverage,
    FaceMeasure,
    coverage,
    coverage_against,
    measure,
)
from masque.faceset.extract import ExtractConfig, extract_faceset


@pytest.fixture(scope="module")
def sets(tmp_path_factory, fixture_path) -> tuple[Path, Path, Path]:
    """``(A, B, B with closed mouths only)``; the last a copy of B whose open-mouthed faces were set aside."""
    root = tmp_path_factory.mktemp("coverage")
    a, b = root / "a", root / "b"
    for clip, out, every in (("clip_long.mp4", a, 4), ("clip_short.mp4", b, 2)):
        summary = extract_faceset([fixture_path(clip)], out, ExtractConfig(every=every, workers=1))
        assert summary.faces >= 30 and not summary.errors
    closed = Path(shutil.copytree(b, root / "b-closed"))
    with FaceSet(closed) as fs:
        fs.set_aside([r.id for r in fs.faces() if measure(r).mouth >= MOUTH_CLOSED], "open-mouths")
        assert 5 <= len(fs) <= 15
    return a, b, closed


def _by_frame(root: Path) -> dict[int, FaceMeasure]:
    with FaceSet(root) as fs:
        return {r.frame: measure(r) for r in fs.faces()}


def test_eye_openness_of_known_frames(sets) -> None:
    faces = _by_frame(sets[0])
    for shut in (40, 64):  # crying, eyes squeezed shut
        assert faces[shut].eyes < EYES_CLOSED
    for wide in (192, 196):  # looking up, eyes wide open
        assert faces[wide].eyes > EYES_HALF
    assert faces[192].eyes > 3 * faces[40].eyes


def test_an_open_mouth_measures_wider_than_a_closed_one(sets) -> None:
    faces = _by_frame(sets[1])
    closed, smiling = faces[10], faces[42]  # lips together; lips apart over the teeth
    assert closed.mouth < MOUTH_CLOSED < smiling.mouth
    assert smiling.mouth > 4 * closed.mouth
    assert abs(closed.yaw) < 15 and abs(smiling.yaw) < 15


def test_histograms_count_every_face_once(sets) -> None:
    for root in sets:
        cov = coverage(root)
        for hist in cov.to_json()["histograms"].values():
            assert sum(hist.values()) == len(cov.faces)


def test_the_woman_shows_what_the_man_lacks(sets) -> None:
    a, b = coverage(sets[0]), coverage(sets[1])
    gaps = {(g.axis, g.bin): g for g in coverage_against(a, b)}
    turned, shut = gaps[("yaw", "-30..-15")], gaps[("eyes", "closed")]
    assert turned.b_faces == 0 and 0.15 < turned.a_share < 0.5  # she turns to the image's left, he never does
    assert shut.b_faces < shut.b_needed and 0.1 < shut.a_share < 0.5
    assert shut.a_faces == a.histogram(EYES)["closed"]
    for g in gaps.values():
        assert len(g.examples) == len(g.example_ids) >= 1
        assert all(Path(p).is_file() and Path(p).is_relative_to(sets[0]) for p in g.examples)
    assert "B has no faces turned 15-30 degrees to the image's left" in turned.text
    # the man's poses and expressions all occur in her set
    assert coverage_against(b, a) == []


def test_a_set_of_closed_mouths_reports_the_mouth_gap(sets) -> None:
    b, closed = coverage(sets[1]), coverage(sets[2])
    assert closed.histogram(MOUTH)["open"] == 0
    gaps = [g for g in coverage_against(b, closed) if g.axis == "mouth"]
    assert [g.bin for g in gaps] == ["open"]
    opened = b.histogram(MOUTH)["open"]
    assert gaps[0].a_faces == opened and gaps[0].a_share == pytest.approx(opened / len(b.faces))
    assert gaps[0].text.startswith("B has no faces with the mouth open; ")


def test_info_against_prints_side_by_side_and_the_gaps(sets, capsys) -> None:
    a, _, closed = sets
    assert main(["faceset", "info", str(a), "--against", str(closed)]) == 0
    out = capsys.readouterr().out
    assert "B has no faces with the mouth open; " in out
    assert "B has no faces turned 15-30 degrees to the image's left" in out
    row = next(line for line in out.splitlines() if line.split()[:2] == ["mouth", "open"])
    assert row.endswith("  0 (0 %)")  # B's column


def test_info_json_and_report(sets, tmp_path, capsys) -> None:
    a, _, closed = sets
    report = tmp_path / "new" / "report"
    assert main(["faceset", "info", str(a), "--against", str(closed), "--json", "--report", str(report)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["stats"]["faces"] == data["a"]["faces"] == len(coverage(a).faces)
    assert data["b"]["histograms"]["mouth"]["open"] == 0
    mouth = [g for g in data["gaps"] if g["axis"] == "mouth"]
    assert mouth and mouth[0]["bin"] == "open" and mouth[0]["b_faces"] == 0 and mouth[0]["a_share"] > 0.5
    assert json.loads((report / "coverage.json").read_text())["gaps"] == data["gaps"]
    png = (report / "coverage.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000


def test_info_alone_shows_the_sets_coverage(sets, capsys) -> None:
    assert main(["faceset", "info", str(sets[1])]) == 0
    out = capsys.readouterr().out
    lines = {line.split(":")[0].strip(): line for line in out.splitlines()}
    assert "faces" in lines and "coverage (pose in degrees" in out
    assert "closed" in lines["mouth"] and "open" in lines["mouth"] and "wide" not in lines["mouth"]
    assert "-15..15 36 (100 %)" in lines["yaw"]


def test_train_warns_of_the_gaps_both_ways(sets, caplog) -> None:
    a, _, closed = sets
    with caplog.at_level(logging.WARNING, logger="masque.train"):
        warn_coverage_gaps(str(a), str(closed))
    (record,) = caplog.records
    text = record.getMessage()
    assert f"masque faceset info {a} --against {closed}" in text
    assert "B has no faces with the mouth open" in text or "B has no faces turned" in text
    assert len(text.splitlines()) <= 1 + 2 * 5  # a few lines, not a report
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="masque.train"):
        warn_coverage_gaps(str(a), str(a))
    assert caplog.records == []


def test_unwritable_report_folder_is_one_error_line(sets, tmp_path, monkeypatch, capsys) -> None:
    from masque.commands import _paths

    monkeypatch.setattr(_paths.os, "access", lambda path, mode: False)
    assert main(["faceset", "info", str(sets[0]), "--report", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.count("masque: error:") == 1 and "permission denied" in err
    assert list(tmp_path.iterdir()) == []


def test_empty_coverage_has_no_gaps() -> None:
    empty = Coverage("none", ())
    assert coverage_against(empty, empty) == []


def test_a_joint_cell_is_reported_only_when_its_single_bins_are_not() -> None:
    """B shuts its eyes facing the camera and turns its head with open eyes, never both at once."""
    def faces(*specs: tuple[float, float, int]) -> tuple[FaceMeasure, ...]:
        return tuple(FaceMeasure(i, f"faces/{i}.png", yaw, 0.0, eyes, 0.0)
                     for i, (yaw, eyes, n) in enumerate(s for s in specs for _ in range(s[2])))

    b = Coverage("b", faces((0.0, 0.05, 10), (-20.0, 0.3, 10), (0.0, 0.3, 10)))
    a = Coverage("a", faces((-20.0, 0.05, 10), (0.0, 0.3, 10)))
    gaps = coverage_against(a, b)
    assert [(g.axis, g.bin, g.a_faces, g.b_faces) for g in gaps] == [("turn x eyes", "left x closed", 10, 0)]
    assert gaps[0].text.startswith("B has no faces turned to the image's left with the eyes closed; 50 %")
    # without B's turned faces the pose bin is the gap, and the cell adds nothing
    b_facing = Coverage("b", faces((0.0, 0.05, 10), (0.0, 0.3, 10)))
    assert [(g.axis, g.bin) for g in coverage_against(a, b_facing)] == [("yaw", "-30..-15")]
