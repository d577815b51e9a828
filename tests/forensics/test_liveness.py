"""`masque liveness`: the real fixture clips pass; a still photo moved, zoomed and re-filmed fails."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tests.forensics.spoof import photo_attack, write_clip

from masque.cli import main
from masque.forensics.liveness import check_liveness, motion_signal


def test_planar_motion_of_fixed_landmarks_is_not_live_and_a_talking_mouth_is() -> None:
    from masque.face.align import template_points

    rng = np.random.default_rng(0)
    base = np.concatenate([np.zeros((17, 2)), template_points(200)]) + 100
    base[:17] = np.stack([np.linspace(110, 290, 17), 200 + 80 * np.sin(np.linspace(0, np.pi, 17))], 1)
    plane, talk = [], []
    for t in range(50):
        a = 0.2 * np.sin(t / 8)
        h = np.array([[1 + 0.1 * a, 0.05 * a, 10 * a], [0.02 * a, 1, 5 * a], [1e-4 * a, 0, 1]])
        p = np.c_[base, np.ones(68)] @ h.T
        plane.append(p[:, :2] / p[:, 2:] + rng.normal(0, 0.4, (68, 2)))
        moving = base.copy()
        moving[[57, 58, 56, 66, 65, 67], 1] += 12 * abs(np.sin(t / 3))  # lower lip and jaw open and close
        moving[5:12, 1] += 6 * abs(np.sin(t / 3))
        talk.append(moving + rng.normal(0, 0.4, (68, 2)))
    assert motion_signal(plane, 25, 0.5).score < 0.25
    assert motion_signal(talk, 25, 0.5).score > 0.75


@pytest.mark.parametrize(("screen", "glare"), [(True, True), (False, False)], ids=["screen-glare", "print"])
def test_a_photo_held_up_and_moved_is_a_spoof(photo, tmp_path: Path, screen: bool, glare: bool) -> None:
    clip = write_clip(tmp_path / "attack.mp4", photo_attack(photo("single_face.jpg"), 40, screen=screen, glare=glare))
    r = check_liveness(clip)
    assert not r.live, r.summary()
    assert r.signals["motion"].score < 0.25  # rigid planar motion, whatever the texture
    if screen:
        assert r.signals["texture"].score < 0.25


def test_the_command_reports_json_plots_and_exit_codes(photo, fixture_path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture) -> None:
    clip = write_clip(tmp_path / "attack.mp4", photo_attack(photo("obama.jpg"), 40))
    assert main(["liveness", str(fixture_path("clip_short.mp4")), "--json"]) == 0  # the real clip passes
    real = json.loads(capsys.readouterr().out)[0]
    assert real["live"] is True and real["signals"]["motion"]["score"] > 0.75
    assert main(["liveness", str(clip), "--report", str(tmp_path / "rep")]) == 1
    assert "SPOOF" in capsys.readouterr().out
    assert (tmp_path / "rep" / "index.html").is_file() and len(list((tmp_path / "rep" / "plots").glob("*.png"))) == 1
