"""``masque evaluate`` on the command line: JSON summary, text summary, report folder, errors."""

from __future__ import annotations

import json

import pytest

from masque import assets
from masque.cli import main
from masque.media import write_image

from .conftest import rotate_about_face


@pytest.fixture(scope="module")
def pair(tmp_path_factory, analyzer, short_frames):
    root = tmp_path_factory.mktemp("cli")
    frame = short_frames[20]
    write_image(root / "original.png", frame)
    write_image(root / "swapped.png", rotate_about_face(frame, analyzer.detect(frame)[0].landmarks, -8.0))
    return root


def _args(root, *extra: str) -> list[str]:
    return ["evaluate", "--swapped", str(root / "swapped.png"), "--original", str(root / "original.png"),
            "--source", str(root / "original.png"), *extra]


def test_json_prints_one_summary_object(pair, capsys):
    assert main(_args(pair, "--json", "--gallery", str(assets.fetch("obama.jpg")))) == 0
    out = capsys.readouterr().out.strip()
    summary = json.loads(out)  # exactly one JSON document on stdout
    assert summary["frames"] == 1 and summary["gallery"] == ["target", "obama"]
    assert summary["pose_error_deg"]["roll"] == pytest.approx(8.0, abs=1.0)
    # rotating resamples the face (bilinear) and moves other parts of it into the box: softer, not equal
    assert summary["detail"]["frames"] == 1 and 0.2 < summary["detail"]["half_scale"] < 1.0
    assert summary["detail"]["full_scale"] < summary["detail"]["half_scale"]


def test_text_summary_and_report(pair, capsys):
    assert main(_args(pair, "--report", str(pair / "report"))) == 0
    out = capsys.readouterr().out
    assert "pose error" in out and "detail" in out and "report: " in out
    assert (pair / "report" / "index.html").is_file() and (pair / "report" / "metrics.png").is_file()
    assert len(list((pair / "report" / "samples").glob("*.jpg"))) == 1


def test_bad_inputs_exit_with_a_message(pair, capsys):
    code = main(["evaluate", "--swapped", str(pair / "swapped.png"), "--original", str(assets.fetch("clip_short.mp4")),
                 "--source", str(pair / "original.png")])
    assert code == 2
    assert "masque: error:" in capsys.readouterr().err
    assert main(_args(pair, "--every", "0")) == 2  # a usage error: one line, exit 2, no SystemExit
    assert "--every" in capsys.readouterr().err


def test_a_video_is_accepted_as_source(pair, capsys):
    """The source person given as a clip of them (here the clip the frames come from)."""
    code = main(["evaluate", "--swapped", str(pair / "original.png"), "--original", str(pair / "original.png"),
                 "--source", str(assets.fetch("clip_short.mp4")), "--json"])
    assert code == 0, capsys.readouterr().err
    summary = json.loads(capsys.readouterr().out.strip())
    assert summary["identity"]["same_person_as_source"] == 1.0
