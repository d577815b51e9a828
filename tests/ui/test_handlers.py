"""The pages' handlers without a browser: the same library calls as the CLI, outputs in the working folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("gradio", reason="the UI extra is not installed (pip install 'masque[ui]')")

from masque.errors import ConfigError, InvalidMediaError
from masque.provenance import verify_file
from masque.ui.app import PageContext
from masque.ui.pages.evaluate import run_evaluate
from masque.ui.pages.swap import PICKED, run_swap, target_faces
from masque.ui.pages.verify import verify_rows
from masque.ui.work import WorkFolder

LABELS = (False, False, None, None)  # labelled, no visible tag, masque's own key


def _progress(*args: Any, **kwargs: Any) -> None:
    pass


@pytest.fixture
def ctx(tmp_path: Path) -> PageContext:
    return PageContext(WorkFolder(tmp_path / "work"))


def test_swap_evaluate_and_verify_in_the_working_folder(ctx: PageContext, fixture_path: type) -> None:
    source, target = fixture_path("biden.jpg"), fixture_path("multi_face.jpg")
    crops, embeddings = target_faces(ctx, target, "hog", "none")
    assert len(crops) == len(embeddings) >= 2 and all(e.shape == (128,) for e in embeddings)
    out, stats = run_swap(ctx, str(source), str(target), PICKED, embeddings[1], 0, 0.0, "rct-ratio", "poisson",
                          "extended", 10, "hog", "none", LABELS, _progress)
    assert out.is_relative_to(ctx.work.root / "jobs") and out.name == "multi_face_swapped.jpg"
    assert (stats.frames, stats.swapped) == (1, 1) and verify_file(out).labelled
    summary, report = run_evaluate(ctx, str(out), str(target), str(source), None, None, 10, LABELS, _progress)
    assert summary["frames"] == 1 and (report / "report.json").is_file() and (report / "summary.txt").is_file()
    rows = verify_rows([str(out), str(target)])
    assert [r[1] for r in rows] == ["LABELLED", "NOT LABELLED"]


def test_clicked_mode_without_a_click_is_a_clear_error(ctx: PageContext, fixture_path: type) -> None:
    with pytest.raises(ConfigError, match="click a face"):
        run_swap(ctx, str(fixture_path("biden.jpg")), str(fixture_path("single_face.jpg")), PICKED, None, 0, 0.0,
                 "rct-ratio", "poisson", "extended", 10, "hog", "none", LABELS, _progress)


@pytest.mark.parametrize("name", ["../x", "a/b", "", ".hidden", "x" * 65])
def test_names_cannot_leave_the_working_folder(tmp_path: Path, name: str) -> None:
    with pytest.raises(InvalidMediaError):
        WorkFolder(tmp_path).named("models", name)
