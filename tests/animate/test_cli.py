"""``masque animate`` and ``masque reenact`` end to end, and ``masque evaluate --driving`` on the result."""

from __future__ import annotations

import json

import pytest

from masque import cli
from masque.media import probe_video
from masque.provenance import verify_file


@pytest.fixture(scope="module")
def animation(tmp_path_factory, fixture_path) -> tuple[object, object, object]:
    out = tmp_path_factory.mktemp("animate") / "biden.mp4"
    photo, driving = fixture_path("biden.jpg"), fixture_path("clip_short.mp4")
    assert cli.main(["animate", "-s", str(photo), "-d", str(driving), "-o", str(out), "--size", "256"]) == 0
    return out, photo, driving


def test_animation_keeps_the_driving_rate_count_and_audio_and_is_labelled(animation) -> None:
    out, _, driving = animation
    src, dst = probe_video(driving), probe_video(out)
    assert (dst.frames, dst.fps, dst.width, dst.height) == (src.frames, src.fps, 256, 256)
    assert dst.has_audio
    report = verify_file(out)
    assert report.labelled and report.manifest.status == "valid" and report.watermark.found
    # composite: the photo's own pixels moved (and the driving mouth lent), no generated pixel
    assert report.manifest.digital_source_type.endswith("/compositeWithTrainedAlgorithmicMedia")
    assert "photo animated" in json.dumps(report.manifest.assertions)  # not "face swap"


def test_evaluate_driving_measures_identity_expression_pose_and_jitter(animation, capsys) -> None:
    out, photo, driving = animation
    assert cli.main(["evaluate", "--swapped", str(out), "--driving", str(driving), "--source", str(photo),
                     "--every", "24", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["frames"] == 72 and summary["faces_found"] == {"output": 72, "driving": 72}
    assert summary["identity"]["within_goal"] >= 0.95  # distance to the photo <= 0.45
    # the man opens his mouth at frame 18 and blinks at 28: the photo must do the same
    assert summary["expression"]["mouth_corr"] >= 0.8
    assert summary["expression"]["eyes_corr"] >= 0.5
    assert summary["pose"]["yaw_err"] <= 4.0
    assert summary["jitter"]["ratio"] is not None


def test_reenact_keeps_the_target_frames_and_carries_the_source_audio(tmp_path, fixture_path) -> None:
    from masque.media import VideoReader, VideoWriter

    target = tmp_path / "target.mp4"  # 12 frames of the woman, no audio
    with VideoWriter(target, 24) as writer:
        for _, frame in zip(range(12), VideoReader(fixture_path("clip_long.mp4"))):
            writer.write(frame)
    out = tmp_path / "reenacted.mp4"
    assert cli.main(["reenact", "-s", str(fixture_path("clip_short.mp4")), "-t", str(target), "-o", str(out)]) == 0
    info = probe_video(out)
    assert (info.frames, info.width, info.height) == (12, 640, 360)
    assert info.has_audio  # the source actor's voice: the mouth follows the source
    report = verify_file(out)
    assert report.labelled and report.manifest.digital_source_type.endswith("/compositeWithTrainedAlgorithmicMedia")
