"""``masque detect --ray``: images and a clip scored on a local 2-worker Ray cluster, as a local run scores them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from masque.cli import main
from masque.cluster import jobs, runner
from masque.forensics.detect import DetectConfig, FakeDetector, detect_file
from masque.media import VideoReader
from masque.provenance import LabelConfig, Labeler

from .test_runner import _write

CONFIG = DetectConfig(every=4)


@pytest.fixture(scope="module")
def folder(tmp_path_factory, fixture_path) -> Path:
    """Two photos, a 12-frame clip of the man, a masque-labelled photo, and a corrupt PNG (sorted last)."""
    root = tmp_path_factory.mktemp("detect") / "in"
    root.mkdir()
    shutil.copy(fixture_path("single_face.jpg"), root / "a_face.jpg")
    shutil.copy(fixture_path("obama.jpg"), root / "b_obama.jpg")
    _write(root / "c_clip.mp4", [f for _, f in zip(range(12), VideoReader(fixture_path("clip_short.mp4")))], 250)
    labelled = root / "d_labelled.png"
    from masque.media import read_image, write_image

    labeler = Labeler(LabelConfig(), run_id=7)
    write_image(labelled, labeler.mark(read_image(fixture_path("biden.jpg"))))
    labeler.finalize(labelled)
    (root / "e_bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))  # a header, then nothing
    return root


def test_verdicts_from_the_cluster_are_those_of_a_local_run(cluster, folder, analyzer) -> None:
    files = sorted(folder.iterdir())
    summary, results = runner.run_detect(cluster[0].address, jobs.DetectRecipe(None, CONFIG), files)
    assert summary.tasks == 5 and [p.name for p, _ in summary.failed] == ["e_bad.png"]
    local = FakeDetector(analyzer=analyzer)
    for path, got in zip(files[:4], results):
        want = detect_file(local, path, CONFIG)
        assert got.path == want.path and got.frames == want.frames and got.labels == want.labels
        assert [(f.frame, f.index) for f in got.faces] == [(f.frame, f.index) for f in want.faces]
        assert np.allclose([f.score for f in got.faces], [f.score for f in want.faces], atol=1e-6, rtol=0)
        assert np.allclose([h.heat for h in got.faces], [h.heat for h in want.faces], atol=1e-6, rtol=0)
        assert [f for f, _ in got.frame_scores] == [f for f, _ in want.frame_scores]
        assert abs(got.score - want.score) < 1e-6 and got.fake == want.fake
        assert sorted(got.driver_frames) == sorted(want.driver_frames)  # the frames the report draws
    assert results[2].frames == 3 and len(results[2].frame_scores) == 3  # frames 0, 4, 8 of the clip
    assert results[3].labelled and not results[0].labelled
    assert summary.frames == 1 + 1 + 3 + 1
    assert "e_bad.png" in results[4] and "died" not in results[4]


def test_the_command_prints_and_reports_what_a_local_run_does(cluster, folder, tmp_path, monkeypatch,
                                                              capsys) -> None:
    monkeypatch.chdir(folder.parent)  # relative inputs: the output names them as given, not as workers see them
    outputs = {}
    for name, extra in (("local", []), ("ray", ["--ray", cluster[0].address])):
        code = main(["detect", "in", "--every", "4", "--json", "--report", str(tmp_path / name), *extra])
        outputs[name] = (code, json.loads(capsys.readouterr().out))
    (code, ray), (local_code, local) = outputs["ray"], outputs["local"]
    assert code == local_code == 2  # the corrupt file: unreadable, as locally
    assert [e["path"] for e in ray] == [e["path"] for e in local] == [f"in/{p.name}" for p in sorted(folder.iterdir())]
    assert ray[-1] == local[-1] and "in/e_bad.png" in ray[-1]["error"]  # the same reason, word for word
    for r, w in zip(ray[:-1], local[:-1]):
        assert abs(r["score"] - w["score"]) <= 1e-6 and r["frame_scores"] == w["frame_scores"]
        assert {k: v for k, v in r.items() if k != "score"} == {k: v for k, v in w.items() if k != "score"}
    assert ray[3]["labelled_by_masque"] is True
    assert json.loads((tmp_path / "ray" / "detect.json").read_text()) == \
        json.loads((tmp_path / "local" / "detect.json").read_text())
    assert sorted(p.name for p in (tmp_path / "ray" / "heat").iterdir()) == \
        sorted(p.name for p in (tmp_path / "local" / "heat").iterdir())
    assert (tmp_path / "ray" / "plots").is_dir()  # the clip's score plot, drawn by the driver
