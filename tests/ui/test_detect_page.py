"""The Detect page's handlers: ``masque detect`` and ``masque liveness`` on uploads, reports in the working folder."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("gradio", reason="the UI extra is not installed (pip install 'masque[ui]')")
pytest.importorskip("masque.forensics", reason="the detect feature is not in this tree")

from masque.errors import ConfigError
from masque.face import FaceAnalyzer
from masque.ui.app import PageContext
from masque.ui.pages.detect import DETECT_HEADERS, run_detect, run_liveness
from masque.ui.work import WorkFolder


@pytest.fixture
def ctx(tmp_path: Path, analyzer: FaceAnalyzer) -> PageContext:
    c = PageContext(WorkFolder(tmp_path / "work"))
    c.analyzers[("hog", "none")] = analyzer
    return c


def test_detect_gives_a_row_per_file_heat_maps_and_a_report(ctx: PageContext, fixture_path: type,
                                                            tmp_path: Path) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image")
    files = [str(fixture_path("biden.jpg")), str(fixture_path("no_face.jpg")), str(broken)]
    verdicts, rows, heat, report = run_detect(ctx, files, None, 5, "0.5", False)
    assert len(rows) == 3 and all(len(r) == len(DETECT_HEADERS) for r in rows)
    face, empty, bad = rows
    assert face[1] in ("LOOKS FAKE", "looks real") and 0 <= float(face[2]) <= 1 and face[3] == "0.50"
    assert face[6] == "none"  # a camera photo carries no masque label
    assert (face[1] == "LOOKS FAKE") == (float(face[2]) >= 0.5)
    assert empty[1] == "NO FACE FOUND" and bad[1] == "unreadable" and bad[6]
    assert heat and heat[0][0].ndim == 3 and "biden.jpg" in heat[0][1]
    assert (report / "index.html").is_file() and (report / "detect.json").is_file()
    assert report.is_relative_to(ctx.work.root / "jobs") and len(verdicts) == 2


@pytest.mark.parametrize("threshold", ["1.5", "high"])
def test_a_bad_threshold_is_a_clear_error(ctx: PageContext, fixture_path: type, threshold: str) -> None:
    with pytest.raises(ConfigError, match="--threshold"):
        run_detect(ctx, [str(fixture_path("biden.jpg"))], None, 5, threshold, False)


def test_liveness_of_a_video(ctx: PageContext, fixture_path: type) -> None:
    reports, rows, report = run_liveness(ctx, [str(fixture_path("clip_short.mp4"))], 72)
    assert len(rows) == 1 and rows[0][1] in ("LIVE", "SPOOF (photo or screen?)"), rows
    assert rows[0][1] == ("LIVE" if reports[0].live else "SPOOF (photo or screen?)")
    assert reports[0].signals and all(name in rows[0][4] for name in reports[0].signals)
    assert (report / "index.html").is_file() and sorted((report / "plots").glob("*.png"))
