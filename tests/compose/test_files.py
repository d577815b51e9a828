"""The one path driver: which files of a folder, output names, errors, and what a job sees."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from masque.compose.files import check_paths, media_files, plan_outputs, run_path
from masque.errors import InputNotFoundError, InvalidMediaError
from masque.media.pipeline import Progress


@pytest.fixture
def folder(tmp_path: Path, fixture_path) -> Path:
    """Two photos, a video, a BMP, a note, a hidden temp file and a subfolder with a photo."""
    d = tmp_path / "in"
    (d / "sub").mkdir(parents=True)
    shutil.copy(fixture_path("biden.jpg"), d / "b.jpg")
    shutil.copy(fixture_path("obama.jpg"), d / "a.png")
    shutil.copy(fixture_path("obama.jpg"), d / "c.bmp")
    shutil.copy(fixture_path("clip_short.mp4"), d / "clip.mkv")
    shutil.copy(fixture_path("obama.jpg"), d / "sub" / "deep.jpg")
    shutil.copy(fixture_path("obama.jpg"), d / ".b.jpg.1a2b.part")
    (d / "notes.txt").write_text("not media")
    return d


def _record(seen: list[tuple[str, str, bool]]):  # a job that writes a marker file
    def job(src: Path, dst: Path, progress: Progress | None) -> int:
        seen.append((src.name, dst.name, progress is not None))
        dst.write_bytes(b"x")
        return 1

    return job


def test_folder_rule_media_only_sorted_not_recursive_no_hidden(folder: Path) -> None:
    assert [p.name for p in media_files(folder)] == ["a.png", "b.jpg", "c.bmp", "clip.mkv"]


def test_outputs_keep_names_where_a_label_fits(folder: Path, tmp_path: Path) -> None:
    seen: list[tuple[str, str, bool]] = []
    calls: list[tuple[int, int | None]] = []
    run = run_path(folder, tmp_path / "out", _record(seen), lambda done, total: calls.append((done, total)))
    assert seen == [("a.png", "a.png", False), ("b.jpg", "b.jpg", False), ("c.bmp", "c.png", False),
                    ("clip.mkv", "clip.mp4", False)]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png", "b.jpg", "c.png", "clip.mp4"]
    assert run.results == (1, 1, 1, 1) and run.skipped == () and calls == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_a_lone_file_gets_the_progress_and_its_own_output(folder: Path, tmp_path: Path) -> None:
    seen: list[tuple[str, str, bool]] = []
    run = run_path(folder / "clip.mkv", tmp_path / "x.mp4", _record(seen), lambda done, total: None)
    assert seen == [("clip.mkv", "x.mp4", True)] and run.outputs == (tmp_path / "x.mp4",)


def test_a_damaged_file_is_skipped_and_named(folder: Path, tmp_path: Path) -> None:
    def job(src: Path, dst: Path, progress: Progress | None) -> str:
        if src.name == "b.jpg":
            raise InvalidMediaError(f"cannot decode image {src}")
        return src.name

    run = run_path(folder, tmp_path / "out", job)
    assert run.results == ("a.png", "c.bmp", "clip.mkv")
    assert [(p.name, "cannot decode" in why) for p, why in run.skipped] == [("b.jpg", True)]


def test_other_errors_stop_the_run(folder: Path, tmp_path: Path) -> None:
    def job(src: Path, dst: Path, progress: Progress | None) -> int:
        raise OSError("disk on fire")

    with pytest.raises(OSError, match="disk on fire"):
        run_path(folder, tmp_path / "out", job)


def test_clashing_output_names_are_refused_before_any_work(folder: Path, tmp_path: Path) -> None:
    shutil.copy(folder / "c.bmp", folder / "c.png")  # c.bmp would be written as c.png too
    seen: list[tuple[str, str, bool]] = []
    with pytest.raises(InvalidMediaError, match=r"c\.bmp and c\.png would both be written"):
        run_path(folder, tmp_path / "out", _record(seen))
    assert seen == [] and not (tmp_path / "out").exists()
    with pytest.raises(InvalidMediaError):
        plan_outputs(media_files(folder), tmp_path / "out")


@pytest.mark.parametrize(("source", "output", "error", "message"), [
    ("missing", "out", InputNotFoundError, "input not found"),
    ("notes.txt", "out.png", InvalidMediaError, "not an image, a video or a folder"),
    ("sub/..", "out.mp4", InvalidMediaError, "OUTPUT must be a folder"),
    (".", ".", InvalidMediaError, "is the input folder"),
    ("clip.mkv", "x.png", InvalidMediaError, "must be a video"),
    ("b.jpg", "x.mp4", InvalidMediaError, "must be an image"),
])
def test_bad_paths_are_refused(folder: Path, source: str, output: str, error: type[Exception],
                               message: str) -> None:
    with pytest.raises(error, match=message):
        check_paths(folder / source, folder / output)


def test_a_folder_without_media_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("hi")
    with pytest.raises(InvalidMediaError, match="holds no image or video"):
        media_files(tmp_path / "empty")
