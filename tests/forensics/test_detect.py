"""`masque detect` with the shipped detector: scores, verdicts, labels reported as facts, reports."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from masque.cli import main
from masque.forensics.detect import DetectConfig, FakeDetector, detect_file
from masque.forensics.faces import collect_crops
from masque.forensics.net import default_detector_path
from masque.forensics.sbi import self_blend
from masque.forensics.scores import roc_auc


@pytest.fixture(scope="module")
def detector(analyzer) -> FakeDetector:
    return FakeDetector(analyzer=analyzer)


def test_the_shipped_detector_is_small_and_says_how_it_was_made() -> None:
    path = default_detector_path()
    assert path.stat().st_size <= 20 * 2**20
    card = json.loads(path.with_suffix(".json").read_text())
    assert {"WolfgangLanger_Pexels.mp4", "45-m7-di-ph.jpg"} <= set(card["sources"])
    # clip_short calibrated it (not trained on); clip_take2 is the benchmark's held-out footage
    assert not {"single_face.mp4", "face_noface.mov"} & set(card["sources"])
    assert card["step"] > 0 and 0.5 <= card["threshold"] < 1
    a, b = card["calibration"]
    assert a > 0 and (a, b) != (1.0, 0.0)  # fitted on self-blended validation faces
    assert card["metrics"]["val_real_below"] >= 0.9


def test_held_out_real_faces_score_below_the_threshold_and_under_their_self_blends(detector: FakeDetector,
                                                                                  fixture_path, analyzer) -> None:
    # clip_take2: footage never trained on nor calibrated on; calibrated scores keep its real faces
    # under the default threshold. Its self-blends rank above them but mostly stay under it too
    # (the threshold favours real faces: see the README), so only the ranking is asserted for them.
    crops = collect_crops([fixture_path("clip_take2.mov")], detector.card.size, every=8, analyzer=analyzer)
    assert len(crops) >= 8
    rng = np.random.default_rng(0)
    real, _ = detector.score([c.image for c in crops])
    fake, heat = detector.score([self_blend(c.image, c.landmarks, rng)[0] for c in crops])
    raw_real, _ = detector.score([c.image for c in crops], raw=True)
    t = detector.card.threshold
    assert np.mean(real < t) >= REAL_BELOW, real
    assert np.median(fake) > np.median(real) and roc_auc(real, fake) > AUC_FLOOR, (real, fake)
    assert not np.allclose(raw_real, real)  # the calibration is applied
    assert heat.shape == (len(crops), 16, 16) and heat.min() >= 0 and heat.max() <= 1


def test_a_masque_label_is_reported_as_a_fact_beside_the_score(detector: FakeDetector, photo,
                                                               tmp_path: Path) -> None:
    from masque.media import write_image
    from masque.provenance import LabelConfig, Labeler

    labeler = Labeler(LabelConfig())
    out = write_image(tmp_path / "labelled.png", labeler.mark(photo("biden.jpg")))
    labeler.finalize(out)
    v = detect_file(detector, out, DetectConfig())
    assert v.labelled and v.labels is not None and v.labels["watermark"]
    assert v.score is not None and 0 <= v.score <= 1 and len(v.faces) == 1
    assert "LABELLED AS SYNTHETIC BY MASQUE" in v.summary()
    plain = detect_file(detector, write_image(tmp_path / "plain.png", photo("biden.jpg")), DetectConfig())
    assert plain.labels is not None and not plain.labelled


def test_the_command_prints_json_writes_heat_maps_and_exits_by_verdict(fixture_path, tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(fixture_path("obama.jpg").read_bytes())
    (folder / "none.jpg").write_bytes(fixture_path("no_face.jpg").read_bytes())
    code = main(["detect", str(folder), "--json", "--report", str(tmp_path / "rep"), "--no-labels"])
    out = json.loads(capsys.readouterr().out)
    assert [Path(e["path"]).name for e in out] == ["a.jpg", "none.jpg"]
    assert out[1]["score"] is None and out[1]["looks_fake"] is False
    assert code == (1 if out[0]["looks_fake"] else 0)
    assert out[0]["drivers"][0]["frame"] == 0 and out[0]["labelled_by_masque"] is None
    assert (tmp_path / "rep" / "index.html").is_file()
    assert len(list((tmp_path / "rep" / "heat").glob("*.png"))) == 1
    assert main(["detect", str(fixture_path("obama.jpg")), "--threshold", "0", "--no-labels"]) == 1
    assert "LOOKS FAKE" in capsys.readouterr().out


#: measured with the shipped detector on clip_take2 (held out): see the README; floors below them
AUC_FLOOR = 0.8
REAL_BELOW = 0.8
