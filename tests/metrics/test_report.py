"""The report: text summary, metrics PNG, HTML page with labelled sample frames."""

from __future__ import annotations

import json

import numpy as np
import pytest

from masque.media import read_image, write_image
from masque.metrics import evaluate, format_summary, write_report
from masque.provenance import verify_file


@pytest.fixture(scope="module")
def clip_report(tmp_path_factory, analyzer, short_frames):
    """The first 24 frames of clip_short with frames 12-23 brightened inside a box (a crude 'swap')."""
    from masque.media import VideoWriter

    root = tmp_path_factory.mktemp("report")
    with VideoWriter(root / "original.mp4", 30) as orig, VideoWriter(root / "swapped.mp4", 30) as swapped:
        for i, frame in enumerate(short_frames[:24]):
            orig.write(frame)
            out = frame.copy()
            if i >= 12:
                out[120:220, 280:360] = np.clip(out[120:220, 280:360].astype(int) + 40, 0, 255).astype(np.uint8)
            swapped.write(out)
    write_image(root / "source.png", short_frames[40])
    report = evaluate(root / "swapped.mp4", root / "original.mp4", root / "source.png", every=6, analyzer=analyzer)
    return report, root


def test_report_files(clip_report):
    report, root = clip_report
    page = write_report(report, root / "out", samples=3)
    assert page == root / "out" / "index.html"
    png = read_image(root / "out" / "metrics.png")
    assert png.shape[0] > 800 and png.std() > 10
    data = json.loads((root / "out" / "report.json").read_text())
    assert data["summary"]["frames"] == 24 and len(data["frames"]) == 24
    html = page.read_text()
    samples = sorted((root / "out" / "samples").glob("*.jpg"))
    assert len(samples) == 3
    for s in samples:
        assert f"samples/{s.name}" in html
    assert "synthetic" in html
    # sample frames show a swapped face: they carry masque's labels like any output
    assert verify_file(samples[-1]).labelled
    side = read_image(samples[-1])
    assert side.shape == (256, 512, 3)


def test_the_pasted_box_shows_as_a_seam_in_later_frames(clip_report):
    report, _ = clip_report
    seam = np.array([f.seam for f in report.frames])
    assert np.all(seam[:12] < 0.005)  # two H.264 encodes of the same frames differ slightly
    assert np.nanmean(seam[12:]) > 0.05


def test_format_summary_names_every_metric(clip_report):
    text = format_summary(clip_report[0].summary())
    for word in ("identity", "pose error", "expression", "jitter", "seam", "detail", "every 6th frame"):
        assert word in text
    assert "reconstruct" not in text  # no --model
