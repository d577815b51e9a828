"""evaluate() end to end on real fixtures: a clip against itself, a rotated frame, a one-shot swap."""

from __future__ import annotations

import numpy as np
import pytest

from masque import assets
from masque.errors import InvalidMediaError
from masque.media import read_image, write_image
from masque.metrics import evaluate
from masque.metrics.evaluate import pose_split

from .conftest import rotate_about_face


@pytest.fixture(scope="module")
def self_report(tmp_path_factory, analyzer, short_frames):
    """clip_short evaluated against itself, the source being three of its frames as photos."""
    src = tmp_path_factory.mktemp("short_person")
    for i in (5, 35, 65):
        write_image(src / f"frame{i}.png", short_frames[i])
    clip = assets.fetch("clip_short.mp4")
    calls: list[tuple[int, int | None]] = []
    report = evaluate(clip, clip, src, gallery=[assets.fetch("obama.jpg")], progress=lambda d, t: calls.append((d, t)),
                      every=12, analyzer=analyzer)
    return report, calls


def test_a_video_against_itself_has_no_error(self_report):
    report, calls = self_report
    s = report.summary()
    assert s["frames"] == 72 and s["faces_found"] == {"original": 72, "swapped": 72}
    assert s["identity"]["frames"] == 6
    assert s["pose_error_deg"] == {"yaw": 0.0, "pitch": 0.0, "roll": 0.0}
    assert s["pose_offset_deg"] == s["pose_tracking_deg"] == {"yaw": 0.0, "pitch": 0.0, "roll": 0.0}
    assert s["expression_error"] == 0.0 and s["jitter"]["excess"] == 0.0 and s["seam"] == 0.0
    assert s["identity"]["to_target"] == 0.0
    assert s["detail"] == {"half_scale": 1.0, "full_scale": 1.0, "frames": 72}
    assert s["identity"]["to_source"] < 0.3  # other frames of the same person
    assert s["identity"]["same_person_as_source"] == 1.0
    assert "every 12th frame (6 of 72)" in s["notes"][0]
    assert calls[-1] == (72, 72)


def test_pose_error_splits_into_a_steady_offset_and_tracking() -> None:
    """A face that follows the head but reads 4 degrees tilted (its proportions) has an offset, no tracking error."""
    steady = np.full(50, 4.0)
    assert pose_split(steady) == (4.0, 0.0)
    wandering = np.r_[steady, 4.0 + np.array([6.0, -6.0] * 5), np.nan]  # 10 frames off by 6 either way
    offset, tracking = pose_split(wandering)
    assert offset == 4.0 and tracking == pytest.approx(60 / 60)
    assert all(np.isnan(pose_split(np.array([np.nan]))))


def test_rows_are_json_ready(self_report):
    rows = self_report[0].rows()
    assert len(rows) == 72 and rows[0]["motion_swapped"] is None  # no previous frame
    assert rows[12]["embedded"] and rows[12]["nearest"] in ("source", "target")
    assert not rows[13]["embedded"] and rows[13]["id_source"] is None


def test_a_frame_rotated_by_12_degrees_gives_12_degrees_of_roll(tmp_path, analyzer, short_frames):
    frame = short_frames[10]
    face = analyzer.detect(frame)[0]
    write_image(tmp_path / "original.png", frame)
    write_image(tmp_path / "rotated.png", rotate_about_face(frame, face.landmarks, 12.0))
    s = evaluate(tmp_path / "rotated.png", tmp_path / "original.png", tmp_path / "original.png",
                 analyzer=analyzer).summary()
    assert s["pose_error_deg"]["roll"] == pytest.approx(12.0, abs=1.0)
    assert s["identity"]["to_source"] < 0.3  # rotation does not change who it is


def test_inputs_that_are_not_frame_aligned_are_refused(tmp_path, analyzer):
    short, long_ = assets.fetch("clip_short.mp4"), assets.fetch("clip_long.mp4")
    with pytest.raises(InvalidMediaError, match="72 frames.*472"):
        evaluate(short, long_, assets.fetch("obama.jpg"), analyzer=analyzer)
    with pytest.raises(InvalidMediaError, match="two images or two videos"):
        evaluate(assets.fetch("obama.jpg"), short, assets.fetch("obama.jpg"), analyzer=analyzer)
    write_image(tmp_path / "small.png", read_image(assets.fetch("obama.jpg"))[:500, :500])
    with pytest.raises(InvalidMediaError, match="same size"):
        evaluate(tmp_path / "small.png", assets.fetch("obama.jpg"), assets.fetch("obama.jpg"), analyzer=analyzer)


def test_obama_swapped_onto_biden_is_nearer_obama(tmp_path, analyzer, photo):
    oneshot = pytest.importorskip("masque.oneshot")
    swapper = oneshot.OneShotSwapper.from_image(photo("obama.jpg"), analyzer)
    swapped, faces = oneshot.swap_image(swapper, photo("biden.jpg"), analyzer)
    assert faces
    write_image(tmp_path / "obama_on_biden.png", swapped)
    s = evaluate(tmp_path / "obama_on_biden.png", assets.fetch("biden.jpg"), assets.fetch("obama.jpg"),
                 gallery=[assets.fetch("obama2.jpg")], analyzer=analyzer).summary()
    assert s["identity"]["to_source"] < s["identity"]["to_target"]
    assert s["identity"]["retrieval"] in (0.0, 1.0)
    # the one-shot swap keeps the target's geometry and blends by Poisson cloning
    assert s["pose_error_deg"]["roll"] < 3 and s["expression_error"] < 0.1 and s["seam"] < 0.1
